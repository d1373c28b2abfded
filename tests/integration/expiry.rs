//! Tenants' ends, against the emulator, with the harness's clock moved by hand: the sweep
//! warns once ahead, deletes an ended tenant (its resources gone), keeps and reports one
//! under deletion protection; and the ends a request may set.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_app::bus::{Handled, scheduled_event};
use tenancy_domain::memory::ManualClock;
use tenancy_domain::ports::Clock;
use tenancy_tests::{Harness, Options, unique};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::bus::{listen, next_event};

const NOTICES: [&str; 3] = ["Tenant Expiring", "Tenant Expired", "Tenant Expiry Blocked"];

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

async fn harness() -> (Harness, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()));
    let h = Harness::with(Options { clock: clock.clone(), ..Default::default() }).await;
    (h, clock)
}

async fn sweep(h: &Harness) {
    let handled = h.app.bus_handler().handle(scheduled_event(unique("sweep-"))).await.expect("the sweep ran");
    assert!(matches!(handled, Handled::Swept(_)), "{handled:?}");
}

async fn create(h: &Harness, body: Value) -> tenancy_tests::Reply {
    h.call(Method::POST, "/v1/tenants", Some(body)).await
}

/// Reads published notices until one of `detail_type` arrives; returns every one read.
async fn notices_until(h: &Harness, queue: &str, detail_type: &str) -> Vec<Value> {
    let mut read = Vec::new();
    loop {
        let event = next_event(h, queue).await;
        let done = event["detail-type"] == detail_type;
        read.push(event);
        if done {
            return read;
        }
    }
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["detail-type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_ended_tenant_is_warned_of_once_then_deleted_by_the_sweep_with_its_resources() {
    let (h, clock) = harness().await;
    let queue = listen(&h, &NOTICES).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("temp");
    let end = clock.now() + Duration::days(3);
    let body = json!({ "name": tenant, "infrastructure": infra, "expiresAt": rfc3339(end) });
    let reply = create(&h, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.body["expiresAt"], rfc3339(end));
    h.wait_for_state(&tenant, "active").await;
    assert!(h.aws.inventory(&tenant).await.is_one_complete_set());

    // Within the week's warning: warned at the first sweep, and only then.
    sweep(&h).await;
    sweep(&h).await;
    clock.advance(Duration::days(1));
    sweep(&h).await;
    let warned = h.call(Method::GET, &format!("/v1/tenants/{tenant}"), None).await;
    assert!(warned.body["expiryWarnedAt"].is_string(), "{:?}", warned.body);

    clock.advance(Duration::days(2) + Duration::minutes(5));
    sweep(&h).await;
    let deleted = h.wait_for_state(&tenant, "deleted").await;
    assert_eq!(deleted["requestedBy"]["id"], "tenancy");
    assert!(h.aws.inventory(&tenant).await.is_empty(), "{:?}", h.aws.inventory(&tenant).await);

    let read = notices_until(&h, &queue, "Tenant Expired").await;
    assert_eq!(kinds(&read), ["Tenant Expiring", "Tenant Expired"], "one warning, then the end");
    assert_eq!(read[0]["detail"]["tenant"], tenant.as_str());
    assert_eq!(read[0]["detail"]["expiresAt"], rfc3339(end));
    assert_eq!(read[1]["detail"]["actor"]["id"], "tenancy");
    assert_eq!(read[1]["detail"]["action"], "tenant.expired");

    let history = h.call(Method::GET, &format!("/v1/tenants/{tenant}/history"), None).await;
    let expired = history.body["items"].as_array().unwrap().iter().find(|e| e["action"] == "tenant.expired");
    assert_eq!(expired.expect("in the history")["actor"]["id"], "tenancy", "{:?}", history.body);
    h.stop().await;
}

#[tokio::test]
async fn deletion_protection_keeps_an_ended_tenant_reported_once_until_it_is_turned_off() {
    let (h, clock) = harness().await;
    let queue = listen(&h, &NOTICES).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("kept");
    let end = clock.now() + Duration::hours(1);
    let body =
        json!({ "name": tenant, "infrastructure": infra, "expiresAt": rfc3339(end), "deletionProtection": true });
    assert_eq!(create(&h, body).await.status, StatusCode::ACCEPTED);
    h.wait_for_state(&tenant, "active").await;

    clock.advance(Duration::hours(2));
    sweep(&h).await;
    clock.advance(Duration::minutes(5));
    sweep(&h).await;
    let path = format!("/v1/tenants/{tenant}");
    let kept = h.call(Method::GET, &path, None).await;
    assert_eq!(kept.body["state"], "active");
    assert!(h.aws.inventory(&tenant).await.is_one_complete_set());

    let off = h.call(Method::PATCH, &path, Some(json!({ "deletionProtection": false }))).await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    clock.advance(Duration::minutes(5));
    sweep(&h).await;
    h.wait_for_state(&tenant, "deleted").await;
    assert!(h.aws.inventory(&tenant).await.is_empty());

    let read = notices_until(&h, &queue, "Tenant Expired").await;
    // Ended before any sweep could warn: reported once (not every five minutes), then expired.
    assert_eq!(kinds(&read), ["Tenant Expiry Blocked", "Tenant Expired"]);
    assert_eq!(read[0]["detail"]["deletionProtection"], true);
    assert!(read[0]["detail"]["reason"].as_str().unwrap().contains("deletionProtection"), "{:?}", read[0]);
    h.stop().await;
}

#[tokio::test]
async fn ends_are_checked_when_set_and_a_per_client_tenant_ends_with_its_expires_date() {
    let (h, clock) = harness().await;
    let infra = h.infrastructure("nonprod").await;
    let now = clock.now();
    let refused = |reply: &tenancy_tests::Reply, field: &str| {
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
        assert_eq!(reply.content_type(), "application/problem+json");
        assert_eq!(reply.body["field"], field, "{:?}", reply.body);
    };
    let past =
        json!({ "name": unique("past"), "infrastructure": infra, "expiresAt": rfc3339(now - Duration::hours(1)) });
    refused(&create(&h, past).await, "expiresAt");
    let far =
        json!({ "name": unique("far"), "infrastructure": infra, "expiresAt": rfc3339(now + Duration::days(2000)) });
    refused(&create(&h, far).await, "expiresAt");
    let garbled = json!({ "name": unique("garbled"), "infrastructure": infra, "expiresAt": "next tuesday" });
    assert_eq!(create(&h, garbled).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // PATCH sets, refuses the past, and clears with null.
    let tenant = unique("plain");
    assert_eq!(create(&h, json!({ "name": tenant, "infrastructure": infra })).await.status, StatusCode::ACCEPTED);
    h.wait_for_state(&tenant, "active").await;
    let path = format!("/v1/tenants/{tenant}");
    let end = rfc3339(now + Duration::days(30));
    let set = h.call(Method::PATCH, &path, Some(json!({ "expiresAt": end }))).await;
    assert_eq!((set.status, &set.body["expiresAt"]), (StatusCode::OK, &json!(end)), "{:?}", set.body);
    let back = h.call(Method::PATCH, &path, Some(json!({ "expiresAt": rfc3339(now - Duration::days(1)) }))).await;
    refused(&back, "expiresAt");
    let cleared = h.call(Method::PATCH, &path, Some(json!({ "expiresAt": null }))).await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert!(cleared.body.get("expiresAt").is_none(), "{:?}", cleared.body);

    // per-client: the declaration names `expires`; Tenancy reads it into expiresAt.
    let types = h.call(Method::GET, "/v1/tenant-types", None).await;
    let per_client = types.body["items"].as_array().unwrap().iter().find(|t| t["name"] == "per-client").cloned();
    assert_eq!(per_client.unwrap()["expirySetting"], "expires");
    let date = (now + Duration::days(60)).date();
    let settings = json!({ "client": "acme", "client-domain": "acme.com", "expires": date.to_string() });
    let conflicting = json!({ "name": unique("acme"), "infrastructure": infra, "type": "per-client",
        "settings": settings, "expiresAt": rfc3339(now + Duration::days(10)) });
    refused(&create(&h, conflicting).await, "expiresAt");
    let client = unique("acme");
    let body = json!({ "name": client, "infrastructure": infra, "type": "per-client", "settings": settings });
    let reply = create(&h, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.body["expiresAt"], format!("{date}T23:59:59Z"));
    h.wait_for_state(&client, "active").await;
    let drop = h.call(Method::PATCH, &format!("/v1/tenants/{client}"), Some(json!({ "expiresAt": null }))).await;
    refused(&drop, "expiresAt");
    h.stop().await;
}
