//! Just-in-time credentials on the emulator: a tenant `user` gets keys that STS answers as
//! the tenant role's session named after them; read-only is refused, outsiders see nothing;
//! the tenant role's trust names the API's role, and an existing role's trust is brought
//! in step.
//!
//! The emulator differs from AWS here: it does not evaluate the role's trust policy on
//! `AssumeRole` (AWS refuses a caller the trust does not name, and tags without
//! `sts:TagSession`), nor the one-hour ceiling of role chaining, nor whether a trust
//! policy's principal exists (IAM refuses a trust naming a role that does not). So the
//! trust is checked here by reading it from IAM, not by being refused.

use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_tests::{ACCOUNT, API_ROLE_ARN, Harness, Reply, policy_document, token, unique};

async fn post_credentials(h: &Harness, tenant: &str, bearer: &str) -> Reply {
    h.send(h.request(Method::POST, &format!("/v1/tenants/{tenant}/credentials")).bearer_auth(bearer)).await
}

async fn put_access(h: &Harness, tenant: &str, user: &str, role: &str) {
    let reply =
        h.call(Method::PUT, &format!("/v1/tenants/{tenant}/access/{user}"), Some(json!({ "role": role }))).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}

/// An STS client with exactly these keys, on the emulator.
fn sts_with(h: &Harness, body: &Value) -> aws_sdk_sts::Client {
    let credentials = Credentials::new(
        body["AccessKeyId"].as_str().unwrap(),
        body["SecretAccessKey"].as_str().unwrap(),
        Some(body["SessionToken"].as_str().unwrap().to_string()),
        None,
        "tenancy-credentials",
    );
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(h.app.settings.aws.region.clone()))
        .endpoint_url(h.app.settings.aws.endpoint.clone().expect("the emulator"))
        .credentials_provider(credentials)
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

/// The tenant role's trust policy, as IAM has it.
async fn trust_of(h: &Harness, tenant: &str) -> Value {
    let role = h.aws.iam.get_role().role_name(format!("tenancy-{tenant}")).send().await.unwrap();
    policy_document(role.role().unwrap().assume_role_policy_document().unwrap())
}

fn names_the_api_role(trust: &Value) -> bool {
    trust["Statement"].as_array().unwrap().iter().any(|statement| {
        statement["Effect"] == "Allow"
            && statement["Principal"]["AWS"] == API_ROLE_ARN
            && statement["Action"] == json!(["sts:AssumeRole", "sts:TagSession"])
    })
}

#[tokio::test]
async fn a_tenant_user_gets_keys_that_sts_answers_as_the_tenant_roles_session_and_others_do_not() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("creds");
    h.create_tenant(&infra, &tenant, json!({})).await;
    h.wait_for_state(&tenant, "active").await;
    let dana = unique("dana");
    put_access(&h, &tenant, &dana, "user").await;
    let before = time::OffsetDateTime::now_utc();

    let reply = post_credentials(&h, &tenant, &token(&dana, &["developers"])).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert!(reply.content_type().starts_with("application/json"));
    let body = &reply.body;
    assert_eq!(body["Version"], 1);
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let expiration = time::OffsetDateTime::parse(body["Expiration"].as_str().unwrap(), rfc3339).unwrap();
    // The harness's setting: 15 minutes (the emulator's clock and this one agree to the second).
    assert!(expiration > before && expiration <= time::OffsetDateTime::now_utc() + time::Duration::minutes(16));

    let me = sts_with(&h, body).get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/tenancy-{tenant}/{dana}").as_str()));
    assert_eq!(me.account(), Some(ACCOUNT));

    // Read-only: 403 naming the role. Someone with no role: 404, as for no tenant.
    let ro = unique("ro");
    put_access(&h, &tenant, &ro, "read-only").await;
    let reply = post_credentials(&h, &tenant, &token(&ro, &[])).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert!(reply.body["detail"].as_str().unwrap().contains("read-only"), "{:?}", reply.body);
    let reply = post_credentials(&h, &tenant, &token(&unique("eve"), &[])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{:?}", reply.body);
    assert!(reply.body.get("AccessKeyId").is_none());

    // One issuance, on the record, without the secret.
    let history = h.call(Method::GET, &format!("/v1/tenants/{tenant}/history"), None).await;
    let issued: Vec<&Value> =
        history.body["items"].as_array().unwrap().iter().filter(|e| e["action"] == "credentials.issued").collect();
    assert_eq!(issued.len(), 1, "{:?}", history.body);
    assert_eq!(issued[0]["actor"]["id"], dana.as_str());
    assert_eq!(issued[0]["detail"]["sessionName"], dana.as_str());
    assert_eq!(issued[0]["detail"]["user"], dana.as_str());
    assert!(
        issued[0]["detail"]["roleArn"].as_str().unwrap().ends_with(&format!("role/tenancy/{tenant}/tenancy-{tenant}"))
    );
    assert_eq!(issued[0]["detail"]["expiration"], body["Expiration"]);
    let text = history.body.to_string();
    assert!(!text.contains(body["SecretAccessKey"].as_str().unwrap()));
    assert!(!text.contains(body["SessionToken"].as_str().unwrap()));

    // The role's trust names the API's role, with sts:TagSession, beside the workload services.
    let trust = trust_of(&h, &tenant).await;
    assert!(names_the_api_role(&trust), "{trust:#}");
    assert_eq!(trust["Statement"].as_array().unwrap().len(), 2, "{trust:#}");
    h.stop().await;
}

#[tokio::test]
async fn an_existing_roles_trust_is_brought_in_step_once_and_then_left_alone() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("trust");
    h.create_tenant(&infra, &tenant, json!({ "team": "a" })).await;
    h.wait_for_state(&tenant, "active").await;
    // As a role made before the deployment issued credentials: the workload services only.
    let old = tenancy_domain::policy::role_trust_policy(None);
    h.aws
        .iam
        .update_assume_role_policy()
        .role_name(format!("tenancy-{tenant}"))
        .policy_document(old.to_string())
        .send()
        .await
        .unwrap();
    assert!(!names_the_api_role(&trust_of(&h, &tenant).await));

    let path = format!("/v1/tenants/{tenant}");
    let reply = h.call(Method::PATCH, &path, Some(json!({ "tags": { "team": "b" } }))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    h.wait_for_state(&tenant, "active").await;
    assert!(names_the_api_role(&trust_of(&h, &tenant).await));

    // In step already: the next update writes nothing to the trust.
    h.app.calls.reset();
    let reply = h.call(Method::PATCH, &path, Some(json!({ "tags": { "team": "c" } }))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    h.wait_for_state(&tenant, "active").await;
    let calls = h.app.calls.snapshot();
    assert!(calls.contains_key("IAM.PutRolePolicy"), "the update ran: {calls:?}");
    assert!(!calls.contains_key("IAM.UpdateAssumeRolePolicy"), "{calls:?}");
    h.stop().await;
}
