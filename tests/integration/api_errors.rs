//! Every kind of bad request: a 4xx `application/problem+json` that says what to fix,
//! and nothing written.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_tests::{Harness, Options, token, unique};

struct Case {
    what: &'static str,
    method: Method,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    status: StatusCode,
    problem: &'static str,
}

fn case(what: &'static str, method: Method, path: &str, body: Value, status: u16, problem: &'static str) -> Case {
    Case {
        what,
        method,
        path: path.into(),
        content_type: "application/json",
        body: body.to_string().into_bytes(),
        status: StatusCode::from_u16(status).unwrap(),
        problem,
    }
}

#[tokio::test]
async fn bad_input_of_every_kind_gets_a_problem_and_writes_nothing() {
    let h = Harness::with(Options { run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let items_before = h.aws.item_count(&h.app.settings.table).await;
    let tenant = |name: &str| json!({ "name": name, "infrastructure": infra });
    let with = |mut body: Value, key: &str, value: Value| {
        body[key] = value;
        body
    };
    let mut cases = vec![
        case(
            "unknown field",
            Method::POST,
            "/v1/tenants",
            with(tenant("okay"), "colour", json!("red")),
            422,
            "invalid-body",
        ),
        case(
            "wrong type",
            Method::POST,
            "/v1/tenants",
            with(tenant("okay"), "tags", json!(["a"])),
            422,
            "invalid-body",
        ),
        case("missing field", Method::POST, "/v1/tenants", json!({ "name": "okay" }), 422, "invalid-body"),
        case("uppercase name", Method::POST, "/v1/tenants", tenant("Dev"), 422, "invalid-field"),
        case("reserved name", Method::POST, "/v1/tenants", tenant("default"), 422, "invalid-field"),
        case("aws prefix", Method::POST, "/v1/tenants", tenant("aws-things"), 422, "invalid-field"),
        case("name too long", Method::POST, "/v1/tenants", tenant(&"a".repeat(33)), 422, "invalid-field"),
        case("double hyphen", Method::POST, "/v1/tenants", tenant("a--b"), 422, "invalid-field"),
        case(
            "reserved tag key",
            Method::POST,
            "/v1/tenants",
            with(tenant("okay"), "tags", json!({ "tenancy:tenant": "x" })),
            422,
            "invalid-field",
        ),
        case(
            "aws tag key",
            Method::POST,
            "/v1/tenants",
            with(tenant("okay"), "tags", json!({ "aws:x": "y" })),
            422,
            "invalid-field",
        ),
        case(
            "unknown type",
            Method::POST,
            "/v1/tenants",
            with(tenant("okay"), "type", json!("gpu")),
            422,
            "invalid-field",
        ),
        case(
            "unknown infrastructure",
            Method::POST,
            "/v1/tenants",
            json!({ "name": "okay", "infrastructure": "nowhere" }),
            404,
            "not-found",
        ),
        case(
            "bad setting key",
            Method::POST,
            "/v1/tenants",
            with(tenant("okay"), "settings", json!({ "a b": "c" })),
            422,
            "invalid-field",
        ),
        case(
            "bad environment",
            Method::POST,
            "/v1/infrastructures",
            json!({ "name": "x1", "region": "us-east-1", "vpcId": "vpc-0a1b2c3d", "environment": "staging" }),
            422,
            "invalid-body",
        ),
        case(
            "bad region",
            Method::POST,
            "/v1/infrastructures",
            json!({ "name": "x1", "region": "mars", "vpcId": "vpc-0a1b2c3d", "environment": "prod" }),
            422,
            "invalid-field",
        ),
        case(
            "bad vpc id",
            Method::POST,
            "/v1/infrastructures",
            json!({ "name": "x1", "region": "us-east-1", "vpcId": "sg-1", "environment": "prod" }),
            422,
            "invalid-field",
        ),
        case(
            "taken infrastructure",
            Method::POST,
            "/v1/infrastructures",
            json!({ "name": infra, "region": "us-east-1", "vpcId": h.vpc_id, "environment": "prod" }),
            409,
            "name-taken",
        ),
        case("unknown tenant", Method::GET, "/v1/tenants/nobody", Value::Null, 404, "not-found"),
        case("unknown tenant patch", Method::PATCH, "/v1/tenants/nobody", json!({}), 404, "not-found"),
        case("unknown tenant delete", Method::DELETE, "/v1/tenants/nobody", Value::Null, 404, "not-found"),
        case("limit too large", Method::GET, "/v1/tenants?limit=1000", Value::Null, 422, "invalid-field"),
        case("limit not a number", Method::GET, "/v1/tenants?limit=ten", Value::Null, 422, "invalid-field"),
        case("forged cursor", Method::GET, "/v1/tenants?cursor=bm9wZQ", Value::Null, 422, "invalid-field"),
        case("unknown query parameter", Method::GET, "/v1/tenants?sort=name", Value::Null, 400, "bad-request"),
        case("unknown route", Method::GET, "/v1/clusters", Value::Null, 404, "not-found"),
        case("wrong method", Method::PUT, "/v1/tenants", json!({}), 405, "method-not-allowed"),
    ];
    let mut malformed = case("malformed JSON", Method::POST, "/v1/tenants", Value::Null, 400, "bad-request");
    malformed.body = b"{\"name\": ".to_vec();
    cases.push(malformed);
    let mut wrong_media =
        case("wrong media type", Method::POST, "/v1/tenants", tenant("okay"), 415, "unsupported-media-type");
    wrong_media.content_type = "text/plain";
    cases.push(wrong_media);
    let mut too_large = case("body over 64 KiB", Method::POST, "/v1/tenants", Value::Null, 413, "payload-too-large");
    too_large.body = json!({ "name": "okay", "infrastructure": infra, "settings": { "big": "x".repeat(70 * 1024) } })
        .to_string()
        .into_bytes();
    cases.push(too_large);

    for case in cases {
        let request = h
            .request(case.method.clone(), &case.path)
            .bearer_auth(&h.token)
            .header("content-type", case.content_type)
            .body(case.body.clone());
        let reply = h.send(request).await;
        assert_eq!(reply.status, case.status, "{}: {:#}", case.what, reply.body);
        assert_eq!(reply.content_type(), "application/problem+json", "{}", case.what);
        assert_eq!(
            reply.body["type"],
            format!("urn:tenancy:problem:{}", case.problem),
            "{}: {:#}",
            case.what,
            reply.body
        );
        assert_eq!(reply.body["status"], case.status.as_u16(), "{}", case.what);
        assert!(reply.body["title"].is_string(), "{}", case.what);
        assert!(reply.body["detail"].as_str().is_some_and(|d| d.len() > 10), "{}: {:#}", case.what, reply.body);
    }
    assert_eq!(h.aws.item_count(&h.app.settings.table).await, items_before, "a bad request wrote something");
    h.stop().await;
}

#[tokio::test]
async fn callers_without_a_valid_token_get_401_and_non_admins_get_403() {
    let h = Harness::with(Options { run_worker: false, ..Default::default() }).await;
    let expired = {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        tenancy_cli::jwt::mint(
            tenancy_tests::SECRET.as_bytes(),
            &json!({ "sub": "a", "cognito:groups": ["tenancy-admins"], "exp": now - 10 }),
        )
    };
    let wrong_secret =
        tenancy_cli::jwt::mint(b"not-the-secret-at-all", &json!({ "sub": "a", "cognito:groups": ["tenancy-admins"] }));
    let no_token = h.send(h.request(Method::GET, "/v1/tenants")).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.content_type(), "application/problem+json");
    for bad in [expired, wrong_secret, "not-a-jwt".to_string()] {
        let reply = h.send(h.request(Method::GET, "/v1/tenants").bearer_auth(bad)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:#}", reply.body);
        assert_eq!(reply.body["type"], "urn:tenancy:problem:unauthenticated");
    }

    let developer = token("john", &["developers"]);
    let body = json!({ "name": unique("x"), "region": "us-east-1", "vpcId": h.vpc_id, "environment": "nonprod" });
    // Someone with no role anywhere lists no tenant (the matrix in access.rs has the rest).
    let none = h.send(h.request(Method::GET, "/v1/tenants").bearer_auth(&developer)).await;
    assert_eq!((none.status, none.body["items"].clone()), (StatusCode::OK, json!([])));
    for (method, path, body) in
        [(Method::GET, "/v1/infrastructures", None), (Method::POST, "/v1/infrastructures", Some(body))]
    {
        let mut request = h.request(method.clone(), path).bearer_auth(&developer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = h.send(request).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {:#}", reply.body);
        assert_eq!(reply.body["type"], "urn:tenancy:problem:forbidden");
    }
    // API Gateway's bracketed string form of the groups claim counts as membership.
    let gateway_style = tenancy_cli::jwt::mint(
        tenancy_tests::SECRET.as_bytes(),
        &json!({
            "sub": "anna",
            "cognito:groups": "[tenancy-admins other]",
            "iss": tenancy_cli::jwt::DEFAULT_ISSUER,
            "aud": tenancy_cli::jwt::DEFAULT_AUDIENCE,
            "exp": time::OffsetDateTime::now_utc().unix_timestamp() + 3600,
        }),
    );
    assert_eq!(h.send(h.request(Method::GET, "/v1/tenants").bearer_auth(gateway_style)).await.status, StatusCode::OK);

    let health = h.send(h.request(Method::GET, "/healthz")).await;
    assert_eq!((health.status, health.body["status"].as_str()), (StatusCode::OK, Some("ok")));
    h.stop().await;
}

#[tokio::test]
async fn protection_and_stale_versions_are_refused_with_what_to_do() {
    let h = Harness::start().await;
    let prod = h.infrastructure("prod").await;
    let tenant = unique("shop");
    let created = h.create_tenant(&prod, &tenant, json!({})).await;
    assert_eq!(created.body["deletionProtection"], true, "prod tenants are protected by default");
    let active = h.wait_for_state(&tenant, "active").await;

    let refused = h.call(Method::DELETE, &format!("/v1/tenants/{tenant}"), None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body["detail"].as_str().unwrap().contains("deletionProtection"), "{:#}", refused.body);

    let version = active["version"].as_u64().unwrap();
    let stale = h
        .send(
            h.request(Method::PATCH, &format!("/v1/tenants/{tenant}"))
                .bearer_auth(&h.token)
                .header("if-match", format!("\"{}\"", version - 1))
                .json(&json!({ "deletionProtection": false })),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{:#}", stale.body);
    assert_eq!(h.call(Method::GET, &format!("/v1/tenants/{tenant}"), None).await.body["deletionProtection"], true);

    let fresh = h
        .send(
            h.request(Method::PATCH, &format!("/v1/tenants/{tenant}"))
                .bearer_auth(&h.token)
                .header("if-match", format!("\"{version}\""))
                .json(&json!({ "deletionProtection": false })),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{:#}", fresh.body);
    assert_eq!(fresh.headers["etag"], format!("\"{}\"", version + 1).as_str());
    assert_eq!(h.call(Method::DELETE, &format!("/v1/tenants/{tenant}"), None).await.status, StatusCode::ACCEPTED);
    h.wait_for_state(&tenant, "deleted").await;
    h.stop().await;
}
