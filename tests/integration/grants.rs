//! Tenant-to-tenant grants on the emulator: the granting tenant's group admits the other
//! tenant's group only while a grant stands — before, after applying, after revoking,
//! after expiry (with the manual clock) and after deleting the other tenant. The test
//! plays EventBridge: it hands the lifecycle's bus handler the requests the API put on the
//! bus, so nothing waits on time.
//!
//! What the emulator (moto) cannot show: it evaluates no IAM policy, so the IAM test checks
//! the document on the role (actions, the granting tenant's tag condition), not that a call
//! is allowed; and its DynamoDB indexes are read-after-write, where AWS's `by-user` index
//! (grants given *to* a tenant) lags a write by a moment. Its EC2 revokes a group rule only
//! when the pair is sent as described (see `grant_rules` in `crates/aws/src/cloud/ec2.rs`).

use std::sync::Arc;

use aws_sdk_ec2::types::SecurityGroup;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_app::bus::{Handled, bus_event};
use tenancy_domain::memory::ManualClock;
use tenancy_domain::names::Name;
use tenancy_domain::ports::Clock;
use tenancy_domain::tenant::TenantState;
use tenancy_domain::worker::{GrantOutcome, Outcome};
use tenancy_tests::{ACCOUNT, Harness, Options, unique};
use time::Duration;

async fn group(h: &Harness, tenant: &str) -> SecurityGroup {
    let groups = h.aws.security_groups(tenant).await;
    assert_eq!(groups.len(), 1, "{tenant}: {groups:?}");
    groups[0].clone()
}

/// The (protocol, from, to) of `group`'s rules whose source is the group `source`.
fn rules_from(group: &SecurityGroup, source: &str) -> Vec<(String, i32, i32)> {
    group
        .ip_permissions()
        .iter()
        .filter(|p| p.user_id_group_pairs().iter().any(|pair| pair.group_id() == Some(source)))
        .map(|p| {
            (p.ip_protocol().unwrap_or_default().to_string(), p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1))
        })
        .collect()
}

/// Hands the bus handler Tenancy's own grant request, as the rule would deliver it.
async fn deliver(h: &Harness, detail_type: &str, tenant: &str, grant: &Value) -> Handled {
    let detail = json!({ "tenant": tenant, "tenantId": grant["fromTenantId"], "grantId": grant["id"] });
    let event = bus_event(unique("event"), detail_type, "tenancy", Some(ACCOUNT.into()), detail);
    h.app.bus_handler().handle(event).await.expect("grant request handled")
}

async fn drive(h: &Harness, tenant: &str) -> Outcome {
    h.app.worker.drive(&Name::parse("tenant", tenant).unwrap(), None).await.expect("worker ran")
}

async fn grant(h: &Harness, from: &str, body: Value) -> Value {
    let reply = h.call(Method::POST, &format!("/v1/tenants/{from}/grants"), Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "pending");
    reply.body
}

fn applied(handled: Handled) {
    assert!(matches!(handled, Handled::Grant(_, GrantOutcome::Applied)), "{handled:?}");
}

fn removed(handled: Handled) {
    assert!(matches!(handled, Handled::Grant(_, GrantOutcome::Removed)), "{handled:?}");
}

#[tokio::test]
async fn a_network_grant_opens_the_group_only_while_it_stands() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()));
    let h = Harness::with(Options { clock: clock.clone(), run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let (a, b) = (unique("grantor"), unique("grantee"));
    h.create_tenant(&infra, &a, json!({})).await;
    h.create_tenant(&infra, &b, json!({})).await;
    assert_eq!(drive(&h, &a).await, Outcome::Done(TenantState::Active));
    assert_eq!(drive(&h, &b).await, Outcome::Done(TenantState::Active));
    let b_group = group(&h, &b).await.group_id().unwrap().to_string();

    // Before any grant, b's group is no source on a's.
    assert!(rules_from(&group(&h, &a).await, &b_group).is_empty());
    // No such tenant: a 404 that says no more.
    let reply = h
        .call(
            Method::POST,
            &format!("/v1/tenants/{a}/grants"),
            Some(json!({ "toTenant": "no-such-tenant", "protocol": "tcp", "ports": "5432" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{:?}", reply.body);

    // Granted and applied: tcp 5432 from b's group, described with the grant.
    let given = grant(&h, &a, json!({ "toTenant": b, "protocol": "tcp", "ports": "5432" })).await;
    assert!(rules_from(&group(&h, &a).await, &b_group).is_empty(), "nothing before the lifecycle applies it");
    applied(deliver(&h, "Grant Apply Requested", &a, &given).await);
    let a_group = group(&h, &a).await;
    assert_eq!(rules_from(&a_group, &b_group), [("tcp".to_string(), 5432, 5432)]);
    let description = a_group
        .ip_permissions()
        .iter()
        .flat_map(|p| p.user_id_group_pairs())
        .find(|pair| pair.group_id() == Some(b_group.as_str()))
        .and_then(|pair| pair.description().map(str::to_string));
    assert_eq!(description, Some(format!("tenancy-grant-{}", given["id"].as_str().unwrap())));
    // A repeated request changes nothing.
    assert!(matches!(
        deliver(&h, "Grant Apply Requested", &a, &given).await,
        Handled::Grant(_, GrantOutcome::NothingToDo)
    ));
    // Both sides list it, applied.
    for tenant in [&a, &b] {
        let listed = h.call(Method::GET, &format!("/v1/tenants/{tenant}/grants"), None).await;
        assert_eq!(listed.status, StatusCode::OK);
        let items = listed.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{tenant}: {:?}", listed.body);
        assert_eq!(items[0]["status"], "applied");
    }

    // Revoked: the rule is gone, and so is the grant.
    let id = given["id"].as_str().unwrap();
    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{a}/grants/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "removing");
    removed(deliver(&h, "Grant Revoke Requested", &a, &given).await);
    assert!(rules_from(&group(&h, &a).await, &b_group).is_empty());
    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{a}/grants/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // Expired: the sweep revokes it at its end.
    let end = (clock.now() + Duration::hours(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let expiring = grant(
        &h,
        &a,
        json!({ "toTenant": b, "protocol": "udp", "ports": { "from": 8000, "to": 8010 }, "expiresAt": end }),
    )
    .await;
    applied(deliver(&h, "Grant Apply Requested", &a, &expiring).await);
    assert_eq!(rules_from(&group(&h, &a).await, &b_group), [("udp".to_string(), 8000, 8010)]);
    clock.advance(Duration::hours(2));
    let schedule = bus_event("sweep-grants", "Scheduled Event", "aws.events", Some(ACCOUNT.into()), json!({}));
    assert!(matches!(h.app.bus_handler().handle(schedule).await.unwrap(), Handled::Swept(_)));
    // The same sweep settled the revocation it asked for (the request on the bus then
    // finds nothing left to do).
    assert!(rules_from(&group(&h, &a).await, &b_group).is_empty());
    let listed = h.call(Method::GET, &format!("/v1/tenants/{a}/grants"), None).await;
    assert_eq!(listed.body["items"], json!([]), "{:?}", listed.body);
    let late = deliver(&h, "Grant Revoke Requested", &a, &expiring).await;
    assert!(matches!(late, Handled::Grant(_, GrantOutcome::NothingToDo)), "{late:?}");
    let history = h.call(Method::GET, &format!("/v1/tenants/{a}/history"), None).await;
    let actions: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"grant.expired"), "{actions:?}");

    // Deleting b with a grant standing: the grant goes first, the deletion succeeds, and
    // a's group keeps no rule naming b's gone group.
    let standing = grant(&h, &a, json!({ "toTenant": b, "protocol": "tcp", "ports": "443" })).await;
    applied(deliver(&h, "Grant Apply Requested", &a, &standing).await);
    assert_eq!(rules_from(&group(&h, &a).await, &b_group).len(), 1);
    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{b}"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(drive(&h, &b).await, Outcome::Done(TenantState::Deleted));
    assert!(rules_from(&group(&h, &a).await, &b_group).is_empty());
    assert!(h.aws.security_groups(&b).await.is_empty());
    let listed = h.call(Method::GET, &format!("/v1/tenants/{a}/grants"), None).await;
    assert_eq!(listed.body["items"], json!([]), "{:?}", listed.body);
    h.stop().await;
}

/// The inline policy names on the tenant's role.
async fn role_policies(h: &Harness, tenant: &str) -> (String, Vec<String>) {
    let roles = h.aws.inventory(tenant).await.roles;
    assert_eq!(roles.len(), 1, "{tenant}: {roles:?}");
    let listed = h.aws.iam.list_role_policies().role_name(&roles[0]).send().await.expect("ListRolePolicies");
    (roles[0].clone(), listed.policy_names().to_vec())
}

#[tokio::test]
async fn an_iam_grant_puts_a_tag_bound_policy_on_the_other_role_only_while_it_stands() {
    let h = Harness::with(Options { run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let (a, b) = (unique("owner"), unique("reader"));
    h.create_tenant(&infra, &a, json!({})).await;
    h.create_tenant(&infra, &b, json!({})).await;
    assert_eq!(drive(&h, &a).await, Outcome::Done(TenantState::Active));
    assert_eq!(drive(&h, &b).await, Outcome::Done(TenantState::Active));
    let (_, before) = role_policies(&h, &b).await;
    assert!(before.iter().all(|p| !p.starts_with("tenancy-grant-")), "{before:?}");

    // Unknown area, and an area with no write actions: refused, nothing recorded.
    for body in [
        json!({ "toTenant": b, "area": "s3", "access": "read" }),
        json!({ "toTenant": b, "area": "ssm", "access": "write" }),
    ] {
        let reply = h.call(Method::POST, &format!("/v1/tenants/{a}/grants"), Some(body)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    }

    let given = grant(&h, &a, json!({ "toTenant": b, "area": "sqs", "access": "write" })).await;
    applied(deliver(&h, "Grant Apply Requested", &a, &given).await);
    let policy_name = format!("tenancy-grant-{}", given["id"].as_str().unwrap());
    let (role, after) = role_policies(&h, &b).await;
    assert!(after.contains(&policy_name), "{after:?}");
    let document = h.aws.iam.get_role_policy().role_name(&role).policy_name(&policy_name).send().await.unwrap();
    let document = tenancy_tests::policy_document(document.policy_document());
    let statement = &document["Statement"][0];
    assert_eq!(statement["Condition"]["StringEquals"]["aws:ResourceTag/tenancy:tenant"], json!(a));
    assert_eq!(
        statement["Action"],
        json!(["sqs:ReceiveMessage", "sqs:GetQueueAttributes", "sqs:SendMessage", "sqs:DeleteMessage"])
    );
    // a's own role got nothing.
    let (_, own) = role_policies(&h, &a).await;
    assert!(own.iter().all(|p| !p.starts_with("tenancy-grant-")), "{own:?}");

    let id = given["id"].as_str().unwrap();
    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{a}/grants/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    removed(deliver(&h, "Grant Revoke Requested", &a, &given).await);
    assert!(!role_policies(&h, &b).await.1.contains(&policy_name));

    // Deleting the granting tenant takes its grant off the other's role first.
    let standing = grant(&h, &a, json!({ "toTenant": b, "area": "kms", "access": "read" })).await;
    applied(deliver(&h, "Grant Apply Requested", &a, &standing).await);
    let standing_name = format!("tenancy-grant-{}", standing["id"].as_str().unwrap());
    assert!(role_policies(&h, &b).await.1.contains(&standing_name));
    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{a}"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(drive(&h, &a).await, Outcome::Done(TenantState::Deleted));
    assert!(!role_policies(&h, &b).await.1.contains(&standing_name));
    let listed = h.call(Method::GET, &format!("/v1/tenants/{b}/grants"), None).await;
    assert_eq!(listed.body["items"], json!([]), "{:?}", listed.body);
    h.stop().await;
}
