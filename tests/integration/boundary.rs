//! The tenant boundary against hostile parties, on the emulator: plans chosen by a hostile
//! tenant type, resources made outside Tenancy under a tenant's names, a second deployment
//! in the same account, untrusted producers on the bus, and throttling under load.

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_tests::{ACCOUNT, Harness, Options, PRODUCER, unique};

use super::bus::{listen, next_event, put_from};

fn hostile_types() -> Value {
    json!({ "types": [{ "name": "hostile", "plugin": "hostile", "version": "0.0.1", "hooks": ["on-create"] }] })
}

/// The settings that make the hostile plugin return exactly `plan` (split in chunks that
/// fit a setting's value).
fn chosen(plan: &Value) -> Value {
    let text = plan.to_string();
    let mut settings = serde_json::Map::from_iter([("attack".to_string(), json!("plan"))]);
    let chars: Vec<char> = text.chars().collect();
    for (index, chunk) in chars.chunks(900).enumerate() {
        settings.insert(format!("plan-{index}"), json!(chunk.iter().collect::<String>()));
    }
    Value::Object(settings)
}

async fn state_of(h: &Harness, tenant: &str) -> Value {
    h.call(Method::GET, &format!("/v1/tenants/{tenant}"), None).await.body
}

async fn wait_for_failure(h: &Harness, tenant: &str) -> Value {
    for _ in 0..600 {
        let status = state_of(h, tenant).await;
        match status["state"].as_str() {
            Some("failed") => return status,
            Some("provisioning") => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            other => panic!("{tenant} became {other:?}: {status:#}"),
        }
    }
    panic!("{tenant} did not fail within 30 s");
}

async fn delete_and_wait(h: &Harness, tenant: &str) -> Value {
    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{tenant}"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    h.wait_for_state(tenant, "deleted").await
}

#[tokio::test]
async fn hostile_plans_fail_at_the_plugin_step_reach_nothing_in_aws_and_delete_cleanly() {
    let h = Harness::with(Options { tenant_types: Some(hostile_types()), ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let statement = |actions: Value, resources: Value, tagged: bool| json!({ "policyStatements": [{ "sid": "S", "actions": actions, "resources": resources, "tenantTagCondition": tagged }] });
    let ingress = |cidr: &str, protocol: &str| json!({ "ingressRules": [{ "protocol": protocol, "fromPort": 22, "toPort": 22, "cidr": cidr, "description": "x" }] });
    let long_action = format!("s3:{}é{}", "A".repeat(30), "B".repeat(300));
    // (what the plan asks for, the rule it must break); `{t}` is the tenant.
    let cases: Vec<(Value, &str)> = vec![
        (statement(json!([long_action]), json!(["*"]), true), "size-limits"),
        (
            statement(json!(["s3:GetObject"]), json!(["arn:aws:s3:::tenancy-victim--data/tenancy-{t}--x/*"]), false),
            "tenant-resources-only",
        ),
        (statement(json!(["s3:*"]), json!(["arn:aws:s3:::tenancy-{t}--data"]), false), "action-not-allowed"),
        (statement(json!(["kms:CreateGrant"]), json!(["*"]), true), "action-not-allowed"),
        (statement(json!(["kms:PutKeyPolicy"]), json!(["*"]), true), "action-not-allowed"),
        (statement(json!(["ec2:AuthorizeSecurityGroupIngress"]), json!(["*"]), true), "action-not-allowed"),
        (statement(json!(["ec2:CreateTags"]), json!(["*"]), true), "action-not-allowed"),
        (
            statement(json!(["s3:PutBucketPolicy"]), json!(["arn:aws:s3:::tenancy-{t}--data"]), false),
            "action-not-allowed",
        ),
        (statement(json!([" s3:GetObject"]), json!(["*"]), true), "action-not-allowed"),
        (statement(json!(["iam:PassRole"]), json!(["*"]), true), "no-identity-actions"),
        (statement(json!(["s3:GetObject"]), json!(["arn:aws:s3:::tenancy-{t}*"]), false), "tenant-resources-only"),
        (
            statement(json!(["sqs:SendMessage"]), json!(["arn:aws:sqs:us-east-1:999999999999:tenancy-{t}--q"]), false),
            "tenant-resources-only",
        ),
        (ingress("203.0.113.7/32", "tcp"), "no-public-ingress"),
        (ingress("8.0.0.0/8", "tcp"), "no-public-ingress"),
        (ingress("52.95.0.0/16", "tcp"), "no-public-ingress"),
        (ingress("::ffff:0.0.0.0/96", "tcp"), "ingress-shape"),
        (ingress("10.42.0.1/16", "tcp"), "ingress-shape"),
        (ingress("10.42.0.0/16", "gre"), "ingress-shape"),
        (
            json!({ "policyStatements": [
            { "sid": "Same", "actions": ["s3:GetObject"], "resources": ["*"], "tenantTagCondition": true },
            { "sid": "Same", "actions": ["s3:PutObject"], "resources": ["*"], "tenantTagCondition": true }
        ] }),
            "duplicate-sid",
        ),
        (json!({ "tags": [["tenancy:tenant", "victim"]] }), "tag-namespace"),
        (json!({ "tags": [["tenancy:deployment", "other"]] }), "tag-namespace"),
    ];
    let mut tenants = Vec::new();
    for (plan, rule) in &cases {
        let tenant = unique("evil");
        let plan: Value = serde_json::from_str(&plan.to_string().replace("{t}", &tenant)).unwrap();
        let body = json!({ "name": tenant, "infrastructure": infra, "type": "hostile", "settings": chosen(&plan) });
        let reply = h.call(Method::POST, "/v1/tenants", Some(body)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
        tenants.push((tenant, *rule));
    }
    for (tenant, rule) in &tenants {
        let status = wait_for_failure(&h, tenant).await;
        assert_eq!(status["failure"]["step"], "plugin", "{status:#}");
        let error = status["failure"]["error"].as_str().unwrap();
        assert!(error.contains(&format!("plugin 'hostile' broke the rule '{rule}'")), "{rule}: {error}");
        assert!(h.aws.inventory(tenant).await.is_empty(), "{rule}: nothing reaches AWS");
        assert!(h.aws.tagged(tenant).await.is_empty(), "{rule}");
    }
    for (tenant, _) in &tenants {
        h.call(Method::DELETE, &format!("/v1/tenants/{tenant}"), None).await;
    }
    for (tenant, _) in &tenants {
        h.wait_for_state(tenant, "deleted").await;
    }
    h.stop().await;
}

#[tokio::test]
async fn a_key_made_outside_tenancy_behind_the_tenants_alias_is_never_adopted_used_or_deleted() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("keyed");
    let planted = h
        .aws
        .kms
        .create_key()
        .tags(aws_sdk_kms::types::Tag::builder().tag_key("tenancy:tenant").tag_value(&tenant).build().unwrap())
        .send()
        .await
        .unwrap();
    let key_id = planted.key_metadata().unwrap().key_id().to_string();
    h.aws.kms.create_alias().alias_name(format!("alias/tenancy/{tenant}")).target_key_id(&key_id).send().await.unwrap();

    h.create_tenant(&infra, &tenant, json!({})).await;
    let status = wait_for_failure(&h, &tenant).await;
    assert_eq!(status["failure"]["step"], "key", "{status:#}");
    let error = status["failure"]["error"].as_str().unwrap();
    assert!(error.contains(&key_id) && error.contains("not adopted"), "{error}");

    let deleted = delete_and_wait(&h, &tenant).await;
    assert_eq!(h.aws.key_state(&key_id).await, aws_sdk_kms::types::KeyState::Enabled, "the planted key is untouched");
    let leftovers = deleted["leftovers"].as_array().cloned().unwrap_or_default();
    assert!(leftovers.iter().any(|arn| arn.as_str().unwrap().ends_with(&key_id)), "reported: {deleted:#}");
    h.stop().await;
}

#[tokio::test]
async fn a_group_tagged_with_the_tenant_in_another_vpc_survives_the_tenants_deletion_and_is_reported() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("grouped");
    let vpc = h.aws.ec2.create_vpc().cidr_block("10.77.0.0/16").send().await.unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let planted = h
        .aws
        .ec2
        .create_security_group()
        .group_name(format!("someone-else-{tenant}"))
        .description("made outside Tenancy")
        .vpc_id(&vpc_id)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(Tag::builder().key("tenancy:tenant").value(&tenant).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let group_id = planted.group_id().unwrap().to_string();

    h.create_tenant(&infra, &tenant, json!({})).await;
    h.wait_for_state(&tenant, "active").await;
    let deleted = delete_and_wait(&h, &tenant).await;
    let still = h.aws.ec2.describe_security_groups().group_ids(&group_id).send().await.unwrap();
    assert_eq!(still.security_groups().len(), 1, "the planted group is not deleted");
    let leftovers = deleted["leftovers"].as_array().cloned().unwrap_or_default();
    assert!(leftovers.iter().any(|arn| arn.as_str().unwrap().ends_with(&group_id)), "reported: {deleted:#}");
    h.stop().await;
}

#[tokio::test]
async fn two_deployments_in_one_account_never_adopt_or_delete_each_others_resources() {
    let first = Harness::with(Options { deployment: Some(unique("stack-a")), ..Default::default() }).await;
    let second = Harness::with(Options { deployment: Some(unique("stack-b")), ..Default::default() }).await;
    let (infra_a, infra_b) = (first.infrastructure("nonprod").await, second.infrastructure("nonprod").await);
    let tenant = unique("shared");

    first.create_tenant(&infra_a, &tenant, json!({})).await;
    first.wait_for_state(&tenant, "active").await;
    let role = first.aws.iam.get_role().role_name(format!("tenancy-{tenant}")).send().await.unwrap().role.unwrap();
    let boundary = role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).unwrap_or_default();
    let expected =
        format!("arn:aws:iam::{ACCOUNT}:policy/tenancy/tenancy-{}-tenant-boundary", first.app.settings.deployment);
    assert_eq!(boundary, expected, "every tenant role carries the deployment's permissions boundary");

    // The second deployment's tenant of the same name finds the first's resources and
    // refuses them, naming what it found.
    second.create_tenant(&infra_b, &tenant, json!({})).await;
    let failed = wait_for_failure(&second, &tenant).await;
    let error = failed["failure"]["error"].as_str().unwrap();
    assert!(error.contains("not adopted") && error.contains(&second.app.settings.deployment), "{error}");

    // Deleting it removes only what it made itself.
    let deleted = delete_and_wait(&second, &tenant).await;
    assert!(
        deleted["leftovers"].as_array().is_none_or(Vec::is_empty),
        "another deployment's resources are not even reported: {deleted:#}"
    );
    assert!(first.aws.inventory(&tenant).await.is_one_complete_set(), "the first deployment's tenant is intact");
    assert_eq!(state_of(&first, &tenant).await["state"], "active");

    delete_and_wait(&first, &tenant).await;
    assert!(first.aws.inventory(&tenant).await.is_empty());
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn producers_the_deployment_does_not_trust_for_a_request_are_rejected_and_nothing_changes() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let rejections = listen(&h, &["Tenant Request Rejected"]).await;
    let kept = unique("kept");
    h.create_tenant(&infra, &kept, json!({})).await;
    h.wait_for_state(&kept, "active").await;

    // An unknown source may neither delete nor create.
    put_from(&h, "evil.source", "Tenant Delete Requested", json!({ "name": kept })).await;
    let rejected = next_event(&h, &rejections).await;
    assert_eq!(rejected["detail"]["requestSource"], "evil.source");
    assert!(rejected["detail"]["reason"].as_str().unwrap().contains("not trusted"), "{rejected:#}");
    let ghost = unique("ghost");
    put_from(&h, "evil.source", "Tenant Create Requested", json!({ "name": ghost, "infrastructure": infra })).await;
    next_event(&h, &rejections).await;

    // The trusted producer may not delete a tenant it did not create, nor change one.
    put_from(&h, PRODUCER, "Tenant Delete Requested", json!({ "name": kept })).await;
    let rejected = next_event(&h, &rejections).await;
    assert!(rejected["detail"]["reason"].as_str().unwrap().contains("only the tenants it created"), "{rejected:#}");
    put_from(&h, PRODUCER, "Tenant Update Requested", json!({ "name": kept })).await;
    next_event(&h, &rejections).await;

    assert_eq!(state_of(&h, &kept).await["state"], "active");
    assert!(h.aws.inventory(&kept).await.is_one_complete_set());
    let ghost_status = h.call(Method::GET, &format!("/v1/tenants/{ghost}"), None).await;
    assert_eq!(ghost_status.status, StatusCode::NOT_FOUND);
    h.stop().await;
}

#[tokio::test]
async fn a_hundred_tenants_at_once_under_twenty_percent_throttling_all_become_active_then_all_delete() {
    let h = Harness::with(Options { cloud_faults: Some((0.20, 0.05)), ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenants: Vec<String> = (0..100).map(|_| unique("bulk")).collect();
    let started = std::time::Instant::now();
    futures::future::join_all(tenants.iter().map(|t| h.create_tenant(&infra, t, json!({})))).await;
    futures::future::join_all(tenants.iter().map(|t| h.wait_for_state_within(t, "active", 300))).await;
    let created = started.elapsed();
    let paths: Vec<String> = tenants.iter().map(|t| format!("/v1/tenants/{t}")).collect();
    futures::future::join_all(paths.iter().map(|path| h.call(Method::DELETE, path, None))).await;
    futures::future::join_all(tenants.iter().map(|t| h.wait_for_state_within(t, "deleted", 300))).await;
    for tenant in &tenants {
        assert!(h.aws.inventory(tenant).await.is_empty(), "{tenant}: nothing left");
    }
    println!("100 tenants under 20% throttling: active in {created:?}, deleted in {:?}", started.elapsed() - created);
    h.stop().await;
}

#[tokio::test]
async fn twenty_tenants_at_once_behind_a_proxy_throttling_a_fifth_of_iam_ec2_and_kms_all_become_active_then_delete() {
    let h = Harness::with(Options { throttling_proxy: Some(0.20), ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenants: Vec<String> = (0..20).map(|_| unique("throttled")).collect();
    futures::future::join_all(tenants.iter().map(|t| h.create_tenant(&infra, t, json!({})))).await;
    futures::future::join_all(tenants.iter().map(|t| h.wait_for_state_within(t, "active", 180))).await;
    let paths: Vec<String> = tenants.iter().map(|t| format!("/v1/tenants/{t}")).collect();
    futures::future::join_all(paths.iter().map(|path| h.call(Method::DELETE, path, None))).await;
    futures::future::join_all(tenants.iter().map(|t| h.wait_for_state_within(t, "deleted", 180))).await;
    for tenant in &tenants {
        assert!(h.aws.inventory(tenant).await.is_empty(), "{tenant}: nothing left");
    }
    let throttled = h.proxy.as_ref().map_or(0, |p| p.throttled());
    assert!(throttled > 20, "the proxy really throttled: {throttled}");
    println!("20 tenants behind the throttling proxy: {throttled} calls throttled, none failed a tenant");
    h.stop().await;
}
