//! tenantctl against the local runner: the operators' command line driven in-process
//! through a tenant's life, its tables and JSON, and its exit codes on each kind of failure.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_tests::{Harness, Options, token, unique};

/// What one run of tenantctl did.
struct Run {
    code: u8,
    out: String,
    err: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.out, self.err)
    }
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.out).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Runs tenantctl on `api_url` with `token` (none when `None`).
async fn tenantctl_at(api_url: &str, token: Option<&str>, args: &[&str]) -> Run {
    let mut argv = vec!["tenantctl".to_string(), "--api-url".into(), api_url.into()];
    if let Some(token) = token {
        argv.extend(["--token".into(), token.into()]);
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = ::tenantctl::run(argv, &mut out, &mut err).await;
    Run { code, out: String::from_utf8(out).expect("UTF-8 out"), err: String::from_utf8(err).expect("UTF-8 err") }
}

/// Runs tenantctl on the harness's API as its admin.
async fn tenantctl(h: &Harness, args: &[&str]) -> Run {
    tenantctl_at(&h.base, Some(&h.token), args).await
}

/// The row of a table whose first column is `first`, split on whitespace.
fn row<'a>(table: &'a str, first: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row for {first} in\n{table}"))
}

#[tokio::test]
async fn an_operator_runs_a_tenants_life_with_tenantctl() {
    let h = Harness::start().await;
    let infra = unique("infra");
    let tenant = unique("ctl");

    let created = tenantctl(
        &h,
        &["infra", "create", &infra, "--region", "us-east-1", "--vpc-id", &h.vpc_id, "--environment", "nonprod"],
    )
    .await;
    assert_eq!(created.code, 0, "{created:?}");
    assert_eq!(row(&created.out, "Name:"), ["Name:", infra.as_str()]);
    let listed = tenantctl(&h, &["infra", "list", "-o", "json"]).await;
    assert!(listed.json()["items"].as_array().unwrap().iter().any(|i| i["name"] == infra.as_str()), "{listed:?}");

    // Created and waited for: each step is reported as it becomes ready.
    let key = unique("key");
    let create = ["tenant", "create", &tenant, "-i", &infra, "--tag", "team=payments", "--idempotency-key", &key];
    let mut waited = create.to_vec();
    waited.extend(["--wait", "--timeout", "60"]);
    let run = tenantctl(&h, &waited).await;
    assert_eq!(run.code, 0, "{run:?}");
    for step in ["securityGroup", "role", "instanceProfile", "key"] {
        assert!(run.err.contains(&format!("✓ {step}")), "{step} reported: {run:?}");
    }
    assert!(run.err.contains(&format!("tenant {tenant} is active")), "{run:?}");
    assert_eq!(row(&run.out, "State:"), ["State:", "active"]);
    assert_eq!(row(&run.out, "role")[1], "yes", "{run:?}");

    // The same create sent again with its key is the first one's answer, not a conflict.
    let again = tenantctl(&h, &create).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.err.contains("earlier request"), "{again:?}");

    let list = tenantctl(&h, &["tenant", "list", "-i", &infra]).await;
    assert_eq!(list.code, 0, "{list:?}");
    assert_eq!(row(&list.out, "NAME")[..4], ["NAME", "INFRASTRUCTURE", "TYPE", "STATE"]);
    assert_eq!(row(&list.out, &tenant)[..4], [tenant.as_str(), infra.as_str(), "default", "active"]);
    let json = tenantctl(&h, &["tenant", "list", "-i", &infra, "-o", "json", "--all"]).await.json();
    assert_eq!(json["items"].as_array().unwrap().len(), 1, "{json:#}");
    assert_eq!(json["items"][0]["name"], tenant.as_str());
    assert_eq!(json["nextCursor"], Value::Null);

    // `-o json` is the API's JSON as is.
    let got = tenantctl(&h, &["tenant", "get", &tenant, "-o", "json"]).await.json();
    let api = h.call(Method::GET, &format!("/v1/tenants/{tenant}"), None).await.body;
    assert_eq!(got, api);
    assert_eq!(got["tags"]["team"], "payments");

    let types = tenantctl(&h, &["tenant", "types"]).await;
    assert_eq!(row(&types.out, "default")[1], "(built", "{types:?}");

    // Access, credentials, history, grants.
    let dana = unique("dana");
    let grant = tenantctl(&h, &["access", "grant", &tenant, &dana, "--role", "user"]).await;
    assert_eq!(grant.code, 0, "{grant:?}");
    assert_eq!(row(&grant.out, &dana)[1], "user");
    let access = tenantctl(&h, &["access", "list", &tenant, "-o", "json"]).await.json();
    assert!(access["items"].as_array().unwrap().iter().any(|e| e["user"] == dana.as_str() && e["active"] == true));
    let credentials = tenantctl_at(&h.base, Some(&token(&dana, &[])), &["credentials", &tenant]).await;
    assert_eq!(credentials.code, 0, "{credentials:?}");
    let process = credentials.json();
    assert_eq!(process["Version"], 1);
    assert!(process["AccessKeyId"].as_str().is_some_and(|k| !k.is_empty()), "{process:#}");
    let me = tenantctl_at(&h.base, Some(&token(&dana, &[])), &["me"]).await;
    assert_eq!(row(&me.out, &tenant)[..4], [tenant.as_str(), infra.as_str(), "active", "user"], "{me:?}");

    let history = tenantctl(&h, &["history", &tenant]).await;
    assert_eq!(history.code, 0, "{history:?}");
    let actions: Vec<&str> = history.out.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1)).collect();
    for action in ["tenant.created", "access.granted", "credentials.issued"] {
        assert!(actions.contains(&action), "{action} in {history:?}");
    }
    let one = tenantctl(&h, &["history", &tenant, "--limit", "1", "-o", "json"]).await;
    assert_eq!(one.json()["items"].as_array().unwrap().len(), 1, "{one:?}");
    assert!(one.json()["nextCursor"].is_string(), "{one:?}");
    assert!(one.err.contains("--all"), "{one:?}");

    let grants = tenantctl(&h, &["grant", "list", &tenant]).await;
    assert_eq!(grants.code, 0, "{grants:?}");
    assert_eq!(grants.out.lines().count(), 1, "only the header: {grants:?}");

    let revoke = tenantctl(&h, &["access", "revoke", &tenant, &dana]).await;
    assert_eq!(revoke.code, 0, "{revoke:?}");

    // Deleted and waited for: nothing is left in AWS when it returns.
    let deleted = tenantctl(&h, &["tenant", "delete", &tenant, "--wait", "--timeout", "60"]).await;
    assert_eq!(deleted.code, 0, "{deleted:?}");
    assert!(deleted.out.contains(&format!("tenant {tenant} deleted")), "{deleted:?}");
    assert!(h.aws.inventory(&tenant).await.is_empty());
    let gone = tenantctl(&h, &["infra", "delete", &infra]).await;
    assert_eq!(gone.code, 0, "{gone:?}");
    h.stop().await;
}

/// A stand-in API whose `GET /v1/me` gives the caller's tenants a page at a time: for each
/// request target, the page's one tenant and its `nextCursor` (none when empty), as
/// `answer` says.
fn paged_me_api(answer: fn(&str) -> (&'static str, String)) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let mut request = [0_u8; 8192];
            let read = socket.read(&mut request).unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..read]);
            let target = request.split_whitespace().nth(1).unwrap_or_default().to_string();
            let (tenant, next) = answer(&target);
            let body = json!({
                "id": "dana", "groups": [], "platformAdmin": false,
                "tenants": [{ "name": tenant, "infrastructure": "nonprod", "state": "active", "role": "user" }],
                "nextCursor": (!next.is_empty()).then_some(next),
            })
            .to_string();
            let _ = write!(
                socket,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

#[tokio::test]
async fn me_shows_every_page_of_the_callers_tenants_and_stops_at_a_cursor_it_has_followed() {
    let base = paged_me_api(|target| match target {
        "/v1/me?cursor=page2" => ("beta", "page3".into()),
        "/v1/me?cursor=page3" => ("gamma", "page2".into()),
        _ => ("alpha", "page2".into()),
    });
    let table = tenantctl_at(&base, Some("token"), &["me"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    for tenant in ["alpha", "beta", "gamma"] {
        assert_eq!(row(&table.out, tenant)[..4], [tenant, "nonprod", "active", "user"], "{table:?}");
    }
    let json = tenantctl_at(&base, Some("token"), &["me", "-o", "json"]).await.json();
    let names: Vec<&str> = json["tenants"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"], "{json:#}");
    // The repeated cursor is where the listing stopped, not its end: it is shown.
    assert_eq!(json["nextCursor"], "page2", "{json:#}");
}

#[tokio::test]
async fn me_ends_at_the_page_without_a_cursor() {
    let base = paged_me_api(|target| match target {
        "/v1/me?cursor=page2" => ("beta", String::new()),
        _ => ("alpha", "page2".into()),
    });
    let run = tenantctl_at(&base, Some("token"), &["me", "-o", "json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    let names: Vec<&str> = json["tenants"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "beta"], "{json:#}");
    assert_eq!(json.get("nextCursor"), None, "the end: {json:#}");
    assert!(run.err.is_empty(), "{run:?}");
}

#[tokio::test]
async fn a_server_that_always_has_another_page_is_followed_no_further_than_1000_pages() {
    // Each page's cursor is new: the page it came from, plus one.
    let base = paged_me_api(|target| {
        let page = target.strip_prefix("/v1/me?cursor=").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        ("endless", (page + 1).to_string())
    });
    let run = tenantctl_at(&base, Some("token"), &["me", "-o", "json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.err.contains("stopped after 1000 pages"), "{run:?}");
    let json = run.json();
    assert_eq!(json["tenants"].as_array().unwrap().len(), 1001, "the first answer and 1000 pages");
    assert_eq!(json["nextCursor"], "1001", "where it stopped");
}

#[tokio::test]
async fn a_refusal_prints_the_problems_title_and_detail_and_exits_3() {
    let h = Harness::start().await;
    let name = unique("nobody");
    let run = tenantctl(&h, &["tenant", "get", &name]).await;
    assert_eq!(run.code, 3, "{run:?}");
    let problem = h.call(Method::GET, &format!("/v1/tenants/{name}"), None).await;
    assert_eq!(problem.status, StatusCode::NOT_FOUND);
    let (title, detail) = (problem.body["title"].as_str().unwrap(), problem.body["detail"].as_str().unwrap());
    assert_eq!(run.err, format!("error: {title} (404)\n  {detail}\n"));
    assert!(run.out.is_empty());

    // Without a token: refused, with what to do.
    let run = tenantctl_at(&h.base, None, &["tenant", "list"]).await;
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.err.contains("(401)") && run.err.contains("TENANCY_TOKEN"), "{run:?}");

    // A body the API refuses names the field.
    let infra = h.infrastructure("nonprod").await;
    let run = tenantctl(&h, &["tenant", "create", "Bad_Name", "-i", &infra]).await;
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.err.contains("Bad_Name"), "{run:?}");
    h.stop().await;
}

#[tokio::test]
async fn an_unreachable_api_exits_5_and_a_usage_error_2() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let run = tenantctl_at(&url, Some("token"), &["tenant", "list"]).await;
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.err.starts_with("error: the API could not be reached"), "{run:?}");
    assert!(!run.err.contains("reqwest::"), "no Debug output: {run:?}");

    let run = tenantctl_at(&url, None, &["tenant", "frobnicate"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    let run = tenantctl_at(&url, None, &["--version"]).await;
    assert_eq!((run.code, run.out.trim()), (0, concat!("tenantctl ", env!("CARGO_PKG_VERSION"))), "{run:?}");
}

#[tokio::test]
async fn a_tenant_that_fails_fails_the_wait_with_its_step_and_reason_and_exits_6() {
    let types = json!({ "types": [{
        "name": "hostile", "plugin": "hostile", "version": "0.0.1", "hooks": ["validate", "on-create", "on-delete"]
    }] });
    let h = Harness::with(Options { tenant_types: Some(types), ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("bad");
    let run = tenantctl(
        &h,
        &["tenant", "create", &tenant, "-i", &infra, "--type", "hostile", "--setting", "attack=loop", "--wait"],
    )
    .await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.err.contains(&format!("tenant '{tenant}' failed to create at step 'plugin'")), "{run:?}");
    assert!(run.err.contains("used its whole fuel budget"), "{run:?}");

    // `tenant wait` on the failed tenant says the same.
    let again = tenantctl(&h, &["tenant", "wait", &tenant]).await;
    assert_eq!(again.code, 6, "{again:?}");

    let deleted = tenantctl(&h, &["tenant", "delete", &tenant, "--wait"]).await;
    assert_eq!(deleted.code, 0, "{deleted:?}");
    h.stop().await;
}
