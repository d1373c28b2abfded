//! The lifecycle function's IAM policy in `template.yaml` against the AWS calls its code
//! really makes: every call is allowed, and every allowed action is called (or named
//! below with the reason it is kept). A permission the code does not use is one an
//! attacker who takes the function over could.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;
use tenancy_app::bus::bus_event;
use tenancy_tests::{ACCOUNT, Harness, Options, unique};

const TEMPLATE: &str = include_str!("../../template.yaml");

/// Allowed actions that the run below does not exercise, and why each is kept.
const KEPT_UNEXERCISED: [(&str, &str); 6] = [
    ("iam:PassRole", "AddRoleToInstanceProfile asks for it on the role it adds; the emulator does not check"),
    ("iam:DetachRolePolicy", "a policy attached to a tenant role by hand must go before the role can"),
    ("kms:UpdateAlias", "an earlier incarnation's alias still names its key, pending deletion"),
    ("ec2:RevokeSecurityGroupIngress", "a later plan drops an ingress rule"),
    ("s3:DeleteObject", "the tenant's buckets hold objects when it is deleted"),
    ("s3:DeleteObjectVersion", "the tenant's buckets hold object versions when it is deleted"),
];

/// The IAM actions one SDK operation needs.
fn actions_of(service: &str, operation: &str) -> Vec<String> {
    let prefix = match service {
        "IAM" => "iam",
        "EC2" => "ec2",
        "KMS" => "kms",
        "S3" => "s3",
        "Resource Groups Tagging API" => "tag",
        "DynamoDB" => "dynamodb",
        "EventBridge" => "events",
        // GetCallerIdentity needs no permission; AssumeRole with session tags needs both.
        "STS" if operation == "GetCallerIdentity" => return vec![],
        "STS" if operation == "AssumeRole" => return vec!["sts:AssumeRole".into(), "sts:TagSession".into()],
        other => panic!("a call to an unexpected service: {other}.{operation}"),
    };
    let renamed: &[&str] = match (prefix, operation) {
        ("s3", "HeadBucket") => &["ListBucket"],
        ("s3", "ListObjectVersions") => &["ListBucketVersions"],
        ("s3", "PutBucketEncryption") => &["PutEncryptionConfiguration"],
        ("s3", "PutPublicAccessBlock") => &["PutBucketPublicAccessBlock"],
        ("s3", "ListBuckets") => &["ListAllMyBuckets"],
        ("s3", "DeleteObjects") => &["DeleteObject", "DeleteObjectVersion"],
        ("dynamodb", "TransactWriteItems") => &["PutItem", "UpdateItem"],
        _ => &[],
    };
    if renamed.is_empty() {
        vec![format!("{prefix}:{operation}")]
    } else {
        renamed.iter().map(|name| format!("{prefix}:{name}")).collect()
    }
}

/// The actions the `Allow` statements of `function` (a resource of the template) name.
fn allowed_by_template(function: &str) -> BTreeSet<String> {
    let start = TEMPLATE.find(&format!("\n  {function}:")).expect("the function") + 1;
    // Up to the next resource (two spaces of indent), or the end of the resources.
    let end = TEMPLATE[start..]
        .match_indices('\n')
        .map(|(at, _)| start + at + 1)
        .find(|&line| {
            let rest = &TEMPLATE[line..];
            rest.starts_with("Outputs:") || (rest.starts_with("  ") && !rest[2..].starts_with([' ', '#', '\n']))
        })
        .unwrap_or(TEMPLATE.len());
    let mut allowed = BTreeSet::new();
    let (mut effect, mut in_list, mut list_indent) = ("Allow".to_string(), false, 0);
    let mut pending: Vec<String> = Vec::new();
    let mut flush = |effect: &str, pending: &mut Vec<String>| {
        if effect == "Allow" {
            allowed.extend(pending.drain(..));
        }
        pending.clear();
    };
    for line in TEMPLATE[start..end].lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if text.starts_with("- Sid:") {
            flush(&effect, &mut pending);
            in_list = false;
            continue;
        }
        if let Some(value) = text.strip_prefix("Effect:") {
            effect = value.trim().to_string();
            continue;
        }
        if in_list {
            if let Some(action) = text.strip_prefix("- ").filter(|_| indent >= list_indent) {
                pending.push(action.trim().to_string());
                continue;
            }
            in_list = false;
        }
        if let Some(value) = text.strip_prefix("Action:") {
            let value = value.trim();
            if value.is_empty() {
                in_list = true;
                list_indent = indent;
            } else {
                pending.extend(value.trim_matches(['[', ']']).split(',').map(|a| a.trim().to_string()));
            }
        }
    }
    flush(&effect, &mut pending);
    allowed
}

#[tokio::test]
async fn the_lifecycle_function_may_make_exactly_the_calls_its_code_makes() {
    let h = Harness::with(Options { run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let handler = h.app.bus_handler();
    let tenant = unique("perm");
    let drive = |detail_type: &str, body: &serde_json::Value| {
        bus_event(
            unique("event"),
            detail_type,
            "tenancy",
            Some(ACCOUNT.into()),
            json!({ "tenant": body["name"], "tenantId": body["id"], "version": body["version"] }),
        )
    };
    let mut called = BTreeSet::new();

    let body = json!({ "name": tenant, "infrastructure": infra, "type": "data-science", "tags": { "team": "ml", "drop": "me" } });
    let created = h.call(Method::POST, "/v1/tenants", Some(body)).await.body;
    h.app.calls.reset();
    handler.handle(drive("Tenant Create Requested", &created)).await.unwrap();
    called.extend(h.app.calls.snapshot().into_keys());

    let path = format!("/v1/tenants/{tenant}");
    // As a role made before the deployment issued credentials: its update brings the trust in step.
    h.aws
        .iam
        .update_assume_role_policy()
        .role_name(format!("tenancy-{tenant}"))
        .policy_document(tenancy_domain::policy::role_trust_policy(None).to_string())
        .send()
        .await
        .unwrap();
    let patch = json!({ "tags": { "team": "ai", "drop": null } });
    let changed = h.call(Method::PATCH, &path, Some(patch)).await.body;
    h.app.calls.reset();
    handler.handle(drive("Tenant Update Requested", &changed)).await.unwrap();
    called.extend(h.app.calls.snapshot().into_keys());

    // Access given on the tenant: its deletion removes the entries.
    let reply = h.call(Method::PUT, &format!("{path}/access/dana"), Some(json!({ "role": "user" }))).await;
    assert_eq!(reply.status, reqwest::StatusCode::OK, "{:?}", reply.body);
    let deleting = h.call(Method::DELETE, &path, None).await.body;
    h.app.calls.reset();
    handler.handle(drive("Tenant Delete Requested", &deleting)).await.unwrap();
    called.extend(h.app.calls.snapshot().into_keys());
    assert_eq!(h.call(Method::GET, &path, None).await.body["state"], "deleted");

    h.app.calls.reset();
    let sweep =
        bus_event(unique("sweep"), tenancy_app::bus::SCHEDULED_EVENT, "aws.events", Some(ACCOUNT.into()), json!({}));
    handler.handle(sweep).await.unwrap();
    called.extend(h.app.calls.snapshot().into_keys());

    let needed: BTreeSet<String> = called
        .iter()
        .flat_map(|key| {
            let (service, operation) = key.split_once('.').expect("Service.Operation");
            actions_of(service, operation)
        })
        .collect();
    let allowed = allowed_by_template("LifecycleFunction");
    let missing: Vec<&String> = needed.iter().filter(|a| !allowed.contains(*a)).collect();
    assert!(missing.is_empty(), "the code calls what template.yaml does not allow: {missing:?}");
    let kept: BTreeSet<&str> = KEPT_UNEXERCISED.iter().map(|(action, _)| *action).collect();
    let unused: Vec<&String> = allowed.iter().filter(|a| !needed.contains(*a) && !kept.contains(a.as_str())).collect();
    assert!(unused.is_empty(), "template.yaml allows what the code never calls: {unused:?}");
    h.stop().await;
}

#[tokio::test]
async fn the_api_function_may_assume_tenant_roles_with_session_tags_and_no_other_sts_action() {
    let h = Harness::with(Options { run_worker: true, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("permc");
    h.create_tenant(&infra, &tenant, json!({})).await;
    h.wait_for_state(&tenant, "active").await;
    h.app.calls.reset();
    let reply = h.call(Method::POST, &format!("/v1/tenants/{tenant}/credentials"), None).await;
    assert_eq!(reply.status, reqwest::StatusCode::OK, "{:?}", reply.body);
    let needed: BTreeSet<String> = h
        .app
        .calls
        .snapshot()
        .into_keys()
        .flat_map(|key| {
            let (service, operation) = key.split_once('.').expect("Service.Operation");
            actions_of(service, operation)
        })
        .collect();
    let allowed = allowed_by_template("ApiFunction");
    let missing: Vec<&String> = needed.iter().filter(|a| !allowed.contains(*a)).collect();
    assert!(missing.is_empty(), "the code calls what template.yaml does not allow the API: {missing:?}");
    let sts = |set: &BTreeSet<String>| set.iter().filter(|a| a.starts_with("sts:")).cloned().collect::<Vec<_>>();
    assert_eq!(sts(&allowed), sts(&needed));
    assert_eq!(sts(&needed), ["sts:AssumeRole", "sts:TagSession"]);
    // Only on tenant roles.
    let api = &TEMPLATE[TEMPLATE.find("- Sid: IssueTenantCredentials").unwrap()..];
    let resource = api.lines().find(|l| l.trim_start().starts_with("Resource:")).unwrap();
    assert!(resource.contains(":role/tenancy/*"), "{resource}");
    h.stop().await;
}

#[tokio::test]
async fn the_api_function_may_read_exactly_what_the_inventory_reads() {
    let h = Harness::with(Options { run_worker: true, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("permi");
    let body = json!({ "name": tenant, "infrastructure": infra, "type": "data-science" });
    let created = h.call(Method::POST, "/v1/tenants", Some(body)).await;
    assert_eq!(created.status, reqwest::StatusCode::ACCEPTED, "{:?}", created.body);
    let record = h.wait_for_state(&tenant, "active").await;
    // Recorded resources that lost the tenant's tag are read one by one: every read the
    // inventory can make is made.
    let id_of = |kind: &str| {
        let entry = record["resources"].as_array().unwrap().iter().find(|r| r["kind"] == kind).unwrap();
        entry["id"].as_str().unwrap().to_string()
    };
    h.aws.kms.untag_resource().key_id(id_of("key")).tag_keys("tenancy:tenant").send().await.unwrap();
    h.aws.s3.delete_bucket_tagging().bucket(id_of("bucket")).send().await.unwrap();
    h.app.calls.reset();
    let reply = h.call(Method::GET, &format!("/v1/tenants/{tenant}/resources"), None).await;
    assert_eq!(reply.status, reqwest::StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["drift"].as_array().unwrap().len(), 2, "{:#}", reply.body);
    let needed: BTreeSet<String> = h
        .app
        .calls
        .snapshot()
        .into_keys()
        .flat_map(|key| {
            let (service, operation) = key.split_once('.').expect("Service.Operation");
            actions_of(service, operation)
        })
        .collect();
    let allowed = allowed_by_template("ApiFunction");
    let missing: Vec<&String> = needed.iter().filter(|a| !allowed.contains(*a)).collect();
    assert!(missing.is_empty(), "the inventory calls what template.yaml does not allow the API: {missing:?}");
    // Everything else the API may do belongs to its other routes.
    let others = |a: &str| {
        a.starts_with("dynamodb:") || a.starts_with("events:") || a.starts_with("sts:") || a == "ec2:DescribeVpcs"
    };
    let unused: Vec<&String> = allowed.iter().filter(|a| !needed.contains(*a) && !others(a)).collect();
    assert!(unused.is_empty(), "template.yaml allows the API what the inventory never calls: {unused:?}");
    h.stop().await;
}
