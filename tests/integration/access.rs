//! Access on the emulator: the authorisation matrix (every route × every kind of caller),
//! hiding, reads per authorised request, the user index, expiry and the sweep, the kept
//! record of a deleted tenant.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_app::bus::{Handled, bus_event};
use tenancy_cli::jwt;
use tenancy_domain::memory::ManualClock;
use tenancy_domain::ports::Clock;
use tenancy_tests::{Harness, Options, Reply, SECRET, token, unique};
use time::Duration;

/// The kinds of caller of the matrix, in its column order.
const CALLERS: [&str; 9] = [
    "platform-admin",
    "tenant-admin",
    "tenant-user",
    "read-only",
    "expired",
    "other-tenant",
    "no-token",
    "expired-token",
    "bad-signature",
];

fn minted(sub: &str, exp_offset: i64, secret: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    jwt::mint(
        secret.as_bytes(),
        &json!({
            "sub": sub, "cognito:groups": [], "iss": jwt::DEFAULT_ISSUER, "aud": jwt::DEFAULT_AUDIENCE,
            "iat": now - 7200, "exp": now + exp_offset,
        }),
    )
}

struct World {
    h: Harness,
    clock: Arc<ManualClock>,
    infra: String,
    tenant: String,
    tenant_id: String,
    secret_tag: String,
    other: String,
    users: Vec<(String, Option<String>)>,
}

async fn call_as(h: &Harness, token: Option<&str>, method: Method, path: &str, body: Option<Value>) -> Reply {
    let mut request = h.request(method, path);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    h.send(request).await
}

async fn put_access(h: &Harness, tenant: &str, user: &str, body: Value) {
    let reply = h.call(Method::PUT, &format!("/v1/tenants/{tenant}/access/{user}"), Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()));
    let h = Harness::with(Options { clock: clock.clone(), ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("matrix");
    let other = unique("other");
    let secret_tag = unique("secret");
    h.create_tenant(&infra, &tenant, json!({ "team": secret_tag })).await;
    h.create_tenant(&infra, &other, json!({})).await;
    let shown = h.wait_for_state(&tenant, "active").await;
    h.wait_for_state(&other, "active").await;
    // Deletion protection on: DELETE by those allowed is a 409 and the tenant stays.
    let reply =
        h.call(Method::PATCH, &format!("/v1/tenants/{tenant}"), Some(json!({ "deletionProtection": true }))).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let suffix = unique("");
    let id = |role: &str| format!("{role}-{suffix}");
    put_access(&h, &tenant, &id("admin"), json!({ "role": "admin" })).await;
    put_access(&h, &tenant, &id("user"), json!({ "role": "user" })).await;
    put_access(&h, &tenant, &id("ro"), json!({ "role": "read-only" })).await;
    let end = clock.now() + Duration::hours(1);
    let end = end.format(&time::format_description::well_known::Rfc3339).unwrap();
    put_access(&h, &tenant, &id("expired"), json!({ "role": "admin", "expiresAt": end })).await;
    put_access(&h, &other, &id("other"), json!({ "role": "admin" })).await;
    // The contractor's access ends: from now on it gives nothing.
    clock.advance(Duration::hours(2));
    let users = vec![
        (String::from("admin"), Some(token("admin", &["tenancy-admins"]))),
        (id("admin"), Some(token(&id("admin"), &[]))),
        (id("user"), Some(token(&id("user"), &["developers"]))),
        (id("ro"), Some(token(&id("ro"), &[]))),
        (id("expired"), Some(token(&id("expired"), &[]))),
        (id("other"), Some(token(&id("other"), &[]))),
        (String::from("none"), None),
        (id("admin"), Some(minted(&id("admin"), -60, SECRET))),
        (String::from("admin"), Some(minted("admin", 3600, "not-the-secret-0123456789abcdef"))),
    ];
    World { tenant_id: shown["id"].as_str().unwrap().to_string(), h, clock, infra, tenant, secret_tag, other, users }
}

struct Row {
    method: Method,
    path: String,
    body: Option<Value>,
    /// Expected status per caller kind, in [`CALLERS`] order.
    expected: [u16; 9],
    /// Whether the cell's call needs a fresh access entry to remove first.
    victim: bool,
}

fn row(method: Method, path: String, body: Option<Value>, expected: [u16; 9]) -> Row {
    Row { method, path, body, expected, victim: false }
}

#[tokio::test]
async fn the_authorisation_matrix_holds_for_every_route_and_caller() {
    let w = world().await;
    let (t, i) = (&w.tenant, &w.infra);
    let new_tenant = || json!({ "name": unique("made"), "infrastructure": i });
    let new_infra =
        || json!({ "name": unique("infra"), "region": "us-east-1", "vpcId": w.h.vpc_id, "environment": "nonprod" });
    // Each grant opens another port: the same opening twice is refused.
    let next_port = std::sync::atomic::AtomicU16::new(2000);
    let new_grant = || {
        let port = next_port.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        json!({ "toTenant": w.other, "protocol": "tcp", "ports": port.to_string() })
    };
    // Columns: platform admin, tenant admin, tenant user, read-only, expired access,
    // another tenant's admin, no token, an expired token, a bad signature.
    let mut rows = vec![
        row(Method::GET, format!("/v1/tenants/{t}"), None, [200, 200, 200, 200, 404, 404, 401, 401, 401]),
        row(
            Method::PATCH,
            format!("/v1/tenants/{t}"),
            Some(json!({ "deletionProtection": true })),
            [200, 200, 403, 403, 404, 404, 401, 401, 401],
        ),
        row(Method::DELETE, format!("/v1/tenants/{t}"), None, [409, 409, 403, 403, 404, 404, 401, 401, 401]),
        row(Method::POST, format!("/v1/tenants/{t}/retry"), None, [409, 409, 403, 403, 404, 404, 401, 401, 401]),
        row(Method::GET, format!("/v1/tenants/{t}/access"), None, [200, 200, 200, 200, 404, 404, 401, 401, 401]),
        row(
            Method::PUT,
            format!("/v1/tenants/{t}/access/someone"),
            Some(json!({ "role": "read-only" })),
            [200, 200, 403, 403, 404, 404, 401, 401, 401],
        ),
        Row {
            method: Method::DELETE,
            path: format!("/v1/tenants/{t}/access/victim"),
            body: None,
            expected: [204, 204, 403, 403, 404, 404, 401, 401, 401],
            victim: true,
        },
        row(Method::GET, format!("/v1/tenants/{t}/history"), None, [200, 200, 200, 200, 404, 404, 401, 401, 401]),
        row(Method::GET, format!("/v1/tenants/{t}/resources"), None, [200, 200, 200, 200, 404, 404, 401, 401, 401]),
        row(Method::POST, format!("/v1/tenants/{t}/credentials"), None, [200, 200, 200, 403, 404, 404, 401, 401, 401]),
        row(Method::GET, format!("/v1/tenants/{t}/grants"), None, [200, 200, 200, 200, 404, 404, 401, 401, 401]),
        row(Method::POST, format!("/v1/tenants/{t}/grants"), None, [201, 201, 403, 403, 404, 404, 401, 401, 401]),
        Row {
            method: Method::DELETE,
            path: format!("/v1/tenants/{t}/grants/victim"),
            body: None,
            expected: [202, 202, 403, 403, 404, 404, 401, 401, 401],
            victim: true,
        },
        row(Method::GET, "/v1/tenants".into(), None, [200, 200, 200, 200, 200, 200, 401, 401, 401]),
        row(Method::POST, "/v1/tenants".into(), Some(new_tenant()), [202, 403, 403, 403, 403, 403, 401, 401, 401]),
        row(Method::GET, "/v1/me".into(), None, [200, 200, 200, 200, 200, 200, 401, 401, 401]),
        row(Method::GET, "/v1/tenant-types".into(), None, [200, 200, 200, 200, 200, 200, 401, 401, 401]),
        row(Method::GET, "/v1/infrastructures".into(), None, [200, 403, 403, 403, 403, 403, 401, 401, 401]),
        row(
            Method::POST,
            "/v1/infrastructures".into(),
            Some(new_infra()),
            [201, 403, 403, 403, 403, 403, 401, 401, 401],
        ),
        row(Method::GET, format!("/v1/infrastructures/{i}"), None, [200, 403, 403, 403, 403, 403, 401, 401, 401]),
        row(Method::DELETE, format!("/v1/infrastructures/{i}"), None, [409, 403, 403, 403, 403, 403, 401, 401, 401]),
    ];
    let mut cells = 0;
    let mut failures = Vec::new();
    let hidden = call_as(&w.h, w.users[5].1.as_deref(), Method::GET, "/v1/tenants/nosuchtenant", None).await;
    for row in &mut rows {
        for (column, (user, token)) in w.users.iter().enumerate() {
            let mut body = row.body.clone();
            if row.method == Method::POST && row.path == "/v1/tenants" {
                body = Some(new_tenant());
            } else if row.method == Method::POST && row.path == "/v1/infrastructures" {
                body = Some(new_infra());
            } else if row.method == Method::POST && row.path.ends_with("/grants") {
                body = Some(new_grant());
            }
            let mut path = row.path.clone();
            if row.victim && path.ends_with("/grants/victim") {
                let made = w.h.call(Method::POST, &format!("/v1/tenants/{t}/grants"), Some(new_grant())).await;
                assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
                path = path.replace("/victim", &format!("/{}", made.body["id"].as_str().unwrap()));
            } else if row.victim {
                let victim = unique("victim");
                put_access(&w.h, t, &victim, json!({ "role": "read-only" })).await;
                path = path.replace("/victim", &format!("/{victim}"));
            }
            let reply = call_as(&w.h, token.as_deref(), row.method.clone(), &path, body).await;
            cells += 1;
            let expected = row.expected[column];
            if reply.status.as_u16() != expected {
                failures.push(format!(
                    "{} {} as {} ({user}): {} expected {expected}: {}",
                    row.method, path, CALLERS[column], reply.status, reply.body
                ));
            }
            // Nothing of the tenant reaches someone without access to it.
            let text = reply.body.to_string();
            if column >= 4 {
                for secret in [&w.tenant_id, &w.secret_tag] {
                    if text.contains(secret.as_str()) {
                        failures.push(format!("{} {path} as {}: leaks {secret}: {text}", row.method, CALLERS[column]));
                    }
                }
                if row.method == Method::GET && (path == "/v1/tenants" || path == "/v1/me") && text.contains(t.as_str())
                {
                    failures.push(format!("{} {path} as {}: lists the tenant: {text}", row.method, CALLERS[column]));
                }
            }
            // A hidden tenant answers exactly as one that does not exist.
            if reply.status == StatusCode::NOT_FOUND && column >= 4 && path.starts_with(&format!("/v1/tenants/{t}")) {
                assert_eq!(reply.body["type"], hidden.body["type"]);
                assert_eq!(reply.body["title"], hidden.body["title"]);
                assert_eq!(
                    reply.body["detail"].as_str().unwrap().replace(t.as_str(), "X"),
                    hidden.body["detail"].as_str().unwrap().replace("nosuchtenant", "X"),
                    "{} {path}",
                    row.method
                );
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cells} cells differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(cells, rows.len() * CALLERS.len());
    println!("authorisation matrix: {} routes x {} callers = {cells} cells", rows.len(), CALLERS.len());
    assert!(w.clock.now() > time::OffsetDateTime::now_utc(), "the clock moved, not the test");
    w.h.stop().await;
}

#[tokio::test]
async fn an_authorised_request_on_a_tenant_reads_dynamodb_once() {
    let w = world().await;
    let path = format!("/v1/tenants/{}", w.tenant);
    for (label, token) in
        [("platform admin", &w.users[0].1), ("tenant user", &w.users[2].1), ("read-only", &w.users[3].1)]
    {
        w.h.app.calls.reset();
        let reply = call_as(&w.h, token.as_deref(), Method::GET, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK);
        let reads: u64 =
            w.h.app
                .calls
                .snapshot()
                .iter()
                .filter(|(op, _)| op.starts_with("DynamoDB.") && !op.ends_with("PutItem") && !op.contains("Write"))
                .map(|(_, n)| n)
                .sum();
        println!("DynamoDB reads for GET {path} as {label}: {reads}");
        assert_eq!(reads, 1, "{label}: {:?}", w.h.app.calls.snapshot());
    }
    w.h.stop().await;
}

#[tokio::test]
async fn a_user_lists_only_their_tenants_page_by_page_and_sees_them_in_me() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let user = unique("dana");
    let mut mine = Vec::new();
    for _ in 0..3 {
        let name = unique("own");
        h.create_tenant(&infra, &name, json!({})).await;
        put_access(&h, &name, &user, json!({ "role": "user" })).await;
        mine.push(name);
    }
    let stranger = unique("strange");
    h.create_tenant(&infra, &stranger, json!({})).await;
    mine.sort();
    let dana = token(&user, &["developers"]);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/tenants?limit=2&cursor={c}"),
            None => "/v1/tenants?limit=2".into(),
        };
        let reply = call_as(&h, Some(&dana), Method::GET, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        seen.extend(reply.body["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()));
        match reply.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, mine);
    let me = call_as(&h, Some(&dana), Method::GET, "/v1/me", None).await;
    assert_eq!(me.body["id"], user.as_str());
    assert_eq!(me.body["platformAdmin"], false);
    let listed: Vec<&str> =
        me.body["tenants"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(listed, mine.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(me.body["tenants"].as_array().unwrap().iter().all(|t| t["role"] == "user"));
    // Someone else's cursor is refused, not followed.
    let other = token(&unique("eve"), &[]);
    let first = call_as(&h, Some(&dana), Method::GET, "/v1/tenants?limit=1", None).await;
    let foreign = first.body["nextCursor"].as_str().unwrap();
    let reply = call_as(&h, Some(&other), Method::GET, &format!("/v1/tenants?cursor={foreign}"), None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    h.stop().await;
}

#[tokio::test]
async fn ended_access_stops_at_once_and_the_sweep_removes_it_with_an_event() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()));
    let h = Harness::with(Options { clock: clock.clone(), run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("temp");
    h.create_tenant(&infra, &tenant, json!({})).await;
    // Entries of the same instant have no order of their own; these are a second apart.
    clock.advance(Duration::seconds(1));
    let contractor = unique("contractor");
    let end = (clock.now() + Duration::minutes(30)).format(&time::format_description::well_known::Rfc3339).unwrap();
    put_access(&h, &tenant, &contractor, json!({ "role": "read-only", "expiresAt": end })).await;
    let as_contractor = token(&contractor, &[]);
    let path = format!("/v1/tenants/{tenant}");
    assert_eq!(call_as(&h, Some(&as_contractor), Method::GET, &path, None).await.status, StatusCode::OK);
    clock.advance(Duration::minutes(30));
    assert_eq!(call_as(&h, Some(&as_contractor), Method::GET, &path, None).await.status, StatusCode::NOT_FOUND);
    let listed = h.call(Method::GET, &format!("{path}/access"), None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "listed until swept: {:?}", listed.body);
    clock.advance(Duration::seconds(2));
    let handler = h.app.bus_handler();
    let schedule =
        bus_event("sweep-1", "Scheduled Event", "aws.events", Some(tenancy_tests::ACCOUNT.into()), json!({}));
    assert!(matches!(handler.handle(schedule).await.unwrap(), Handled::Swept(_)));
    let listed = h.call(Method::GET, &format!("{path}/access"), None).await;
    assert!(listed.body["items"].as_array().unwrap().is_empty(), "{:?}", listed.body);
    let history = h.call(Method::GET, &format!("{path}/history"), None).await;
    // (The same sweep re-drove the tenant, whose request nobody consumed: its outcome is there too.)
    let actions: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|action| !action.starts_with("tenant.operation-"))
        .collect();
    assert_eq!(actions, ["access.expired", "access.granted", "tenant.created"], "{:?}", history.body);
    h.stop().await;
}

#[tokio::test]
async fn a_new_tenant_of_a_deleted_ones_name_keeps_its_record_and_history_and_none_of_its_access() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("again");
    let first = h.create_tenant(&infra, &tenant, json!({})).await.body["id"].clone();
    h.wait_for_state(&tenant, "active").await;
    let old_admin = unique("old");
    put_access(&h, &tenant, &old_admin, json!({ "role": "admin" })).await;
    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{tenant}"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    h.wait_for_state(&tenant, "deleted").await;
    let second = h.create_tenant(&infra, &tenant, json!({})).await.body["id"].clone();
    assert_ne!(first, second);
    h.wait_for_state(&tenant, "active").await;
    // The old admin's entry named the old incarnation: it gives nothing now.
    let reply = call_as(&h, Some(&token(&old_admin, &[])), Method::GET, &format!("/v1/tenants/{tenant}"), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // The deleted record is kept in the table.
    let archived = h
        .aws
        .dynamodb
        .query()
        .table_name(&h.app.settings.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ARCHIVE#{tenant}")))
        .send()
        .await
        .unwrap();
    assert_eq!(archived.count, 1);
    let doc: Value = serde_json::from_str(archived.items()[0]["doc"].as_s().unwrap()).unwrap();
    assert_eq!((doc["id"].clone(), doc["state"].clone()), (first.clone(), json!("deleted")));
    // The history of the name covers both incarnations, newest first.
    let history = h.call(Method::GET, &format!("/v1/tenants/{tenant}/history"), None).await;
    let entries = history.body["items"].as_array().unwrap();
    let ids: Vec<&Value> = entries.iter().map(|e| &e["subject"]["id"]).collect();
    assert!(ids.contains(&&first) && ids.contains(&&second), "{ids:?}");
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let times: Vec<time::OffsetDateTime> =
        entries.iter().map(|e| time::OffsetDateTime::parse(e["at"].as_str().unwrap(), rfc3339).unwrap()).collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "newest first: {times:?}");
    assert!(entries.iter().any(|e| e["action"] == "tenant.deletion-requested" && e["actor"]["id"] == "admin"));
    // Every change made through the API names its request; the lifecycle's outcomes are Tenancy's own.
    for entry in entries {
        let request_id = entry["actor"]["requestId"].as_str();
        match entry["actor"]["via"].as_str() {
            Some("api") => assert!(request_id.is_some_and(|id| !id.is_empty()), "{entry}"),
            _ => assert_eq!(entry["actor"]["id"], "tenancy", "{entry}"),
        }
    }
    h.stop().await;
}
