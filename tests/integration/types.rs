//! Tenant types through the API, with the shipped plugins (`plugins/tenant-types.json`):
//! what each plan adds exists in AWS, tagged with the tenant, and goes with the tenant.

use aws_sdk_s3::primitives::ByteStream;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_tests::{Harness, policy_document, unique};

async fn create_typed(h: &Harness, body: Value) -> tenancy_tests::Reply {
    h.call(Method::POST, "/v1/tenants", Some(body)).await
}

fn tag(tags: &[(String, String)], key: &str) -> Option<String> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

async fn role_tags(h: &Harness, tenant: &str) -> Vec<(String, String)> {
    let role = h.aws.iam.get_role().role_name(format!("tenancy-{tenant}")).send().await.unwrap().role.unwrap();
    role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

async fn group_tags(h: &Harness, tenant: &str) -> Vec<(String, String)> {
    let group = &h.aws.security_groups(tenant).await[0];
    group.tags().iter().map(|t| (t.key().unwrap_or("").into(), t.value().unwrap_or("").into())).collect()
}

async fn delete_and_wait(h: &Harness, tenant: &str) {
    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{tenant}"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    h.wait_for_state(tenant, "deleted").await;
    let inventory = h.aws.inventory(tenant).await;
    assert!(inventory.is_empty(), "{inventory:?}");
    let tagged: Vec<String> = h.aws.tagged(tenant).await.into_iter().filter(|arn| !arn.contains(":kms:")).collect();
    assert!(tagged.is_empty(), "still tagged with the tenant: {tagged:?}");
}

#[tokio::test]
async fn admins_list_the_registered_types_with_their_plugins() {
    let h = Harness::start().await;
    let reply = h.call(Method::GET, "/v1/tenant-types", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let items = reply.body["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "data-science", "per-client"]);
    let per_client = &items[2];
    assert_eq!(per_client["plugin"], "per-client");
    assert_eq!(per_client["version"], "1.0.0");
    assert_eq!(per_client["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(per_client["hooks"], json!(["validate", "on-create", "on-grant-access"]));

    let developer = tenancy_tests::token("dev", &["developers"]);
    // Anyone signed in sees the types (a policy may let them create tenants of them).
    let seen = h.send(h.request(Method::GET, "/v1/tenant-types").bearer_auth(developer)).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.body["items"].as_array().unwrap().len(), 3);

    let infra = h.infrastructure("nonprod").await;
    let body = json!({ "name": unique("gpu"), "infrastructure": infra, "type": "gpu" });
    let unknown = create_typed(&h, body).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.body["detail"].as_str().unwrap().contains("data-science, per-client"), "{:?}", unknown.body);
}

#[tokio::test]
async fn a_data_science_tenant_gets_its_bucket_permissions_rule_and_tags_and_loses_them_on_deletion() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("lab");
    let body = json!({ "name": tenant, "infrastructure": infra, "type": "data-science", "tags": { "team": "ml" } });
    let reply = create_typed(&h, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let status = h.wait_for_state(&tenant, "active").await;

    // The status shows the plan, who made it, and the defaults it filled in.
    assert_eq!(status["plugin"]["plugin"], "data-science");
    assert!(status["plugin"]["log"].as_str().unwrap().contains("data-science plan"), "{status:#}");
    assert_eq!(status["settings"]["notebook-instance-type"], "ml.m5.xlarge");
    let bucket_name = format!("tenancy-{tenant}--data");
    let bucket_status = status["resources"].as_array().unwrap().iter().find(|r| r["kind"] == "bucket").unwrap();
    assert_eq!((bucket_status["id"].as_str(), &bucket_status["ready"]), (Some(bucket_name.as_str()), &json!(true)));

    // Tags: the plan's beside the user's and Tenancy's, on every resource.
    for tags in [role_tags(&h, &tenant).await, group_tags(&h, &tenant).await] {
        assert_eq!(tag(&tags, "workload").as_deref(), Some("data-science"));
        assert_eq!(tag(&tags, "team").as_deref(), Some("ml"));
        assert_eq!(tag(&tags, "tenancy:type").as_deref(), Some("data-science"));
    }

    // The bucket: encrypted with the tenant's key, public access blocked, tagged.
    let s3 = &h.aws.s3;
    let key_id = h.aws.inventory(&tenant).await.live_keys[0].clone();
    let encryption = s3.get_bucket_encryption().bucket(&bucket_name).send().await.unwrap();
    let rule = &encryption.server_side_encryption_configuration().unwrap().rules()[0];
    let by_default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(by_default.sse_algorithm().as_str(), "aws:kms");
    assert!(by_default.kms_master_key_id().unwrap().ends_with(&key_id), "{by_default:?} vs {key_id}");
    let block = s3.get_public_access_block().bucket(&bucket_name).send().await.unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let bucket_tags = s3.get_bucket_tagging().bucket(&bucket_name).send().await.unwrap();
    let bucket_tags: Vec<(String, String)> =
        bucket_tags.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
    assert_eq!(tag(&bucket_tags, "tenancy:tenant").as_deref(), Some(tenant.as_str()));
    assert_eq!(tag(&bucket_tags, "workload").as_deref(), Some("data-science"));

    // The role's policy: the built-in statement, then the plan's, scoped to the tenant.
    let document = h
        .aws
        .iam
        .get_role_policy()
        .role_name(format!("tenancy-{tenant}"))
        .policy_name("tenancy-tenant-access")
        .send()
        .await
        .unwrap();
    let document = policy_document(document.policy_document());
    let sids: Vec<&str> =
        document["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(sids, ["OwnTenantResourcesOnly", "TenantTypeDataBucket", "TenantTypeSageMakerAndGlue"]);
    assert_eq!(document["Statement"][1]["Resource"][0], format!("arn:aws:s3:::{bucket_name}"));
    assert_eq!(document["Statement"][2]["Condition"]["StringEquals"]["aws:ResourceTag/tenancy:tenant"], tenant);

    // The security group: the plan's rule beside the members' own.
    let group = &h.aws.security_groups(&tenant).await[0];
    let jupyter = group.ip_permissions().iter().find(|p| p.from_port() == Some(8888)).expect("the plan's rule");
    // `{vpc}` in the plan: the demo VPC's own block.
    assert_eq!(jupyter.ip_ranges()[0].cidr_ip(), Some("10.42.0.0/16"));

    // The bucket policy refuses plain HTTP, which is all the emulator speaks.
    let put = |key: &'static str| {
        s3.put_object().bucket(&bucket_name).key(key).body(ByteStream::from_static(b"a,b\n1,2\n")).send()
    };
    let refused = put("raw/day0.csv").await.expect_err("plain HTTP refused");
    assert_eq!(refused.raw_response().map(|r| r.status().as_u16()), Some(403));

    // Data in the bucket does not keep the tenant alive: deletion empties and removes it.
    // (The policy is lifted here only so that the test can write over HTTP.)
    s3.delete_bucket_policy().bucket(&bucket_name).send().await.unwrap();
    put("raw/day1.csv").await.unwrap();
    delete_and_wait(&h, &tenant).await;
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().iter().all(|b| b.name() != Some(bucket_name.as_str())), "bucket {bucket_name} left");
}

#[tokio::test]
async fn a_per_client_tenant_needs_its_client_carries_its_tags_and_follows_changed_settings() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("acme");
    let items_before = h.aws.item_count(&h.app.settings.table).await;

    // Without a client: refused by the type's own validate hook, nothing written.
    let body = json!({ "name": tenant, "infrastructure": infra, "type": "per-client", "settings": { "expires": "2027-06-30" } });
    let refused = create_typed(&h, body).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert_eq!(refused.body["type"], "urn:tenancy:problem:refused-by-tenant-type");
    assert!(refused.body["detail"].as_str().unwrap().contains("'client'"), "{:?}", refused.body);
    assert_eq!(h.aws.item_count(&h.app.settings.table).await, items_before);

    let settings =
        json!({ "client": "acme", "client-domain": "acme.com", "expires": "2027-06-30", "cost-centre": "cc-42" });
    let body = json!({ "name": tenant, "infrastructure": infra, "type": "per-client", "settings": settings });
    let reply = create_typed(&h, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    h.wait_for_state(&tenant, "active").await;
    for tags in [role_tags(&h, &tenant).await, group_tags(&h, &tenant).await] {
        assert_eq!(tag(&tags, "client").as_deref(), Some("acme"));
        assert_eq!(tag(&tags, "cost-centre").as_deref(), Some("cc-42"));
        assert_eq!(tag(&tags, "expires").as_deref(), Some("2027-06-30"));
    }
    let key_id = h.aws.inventory(&tenant).await.live_keys[0].clone();
    let key_tags = h.aws.kms.list_resource_tags().key_id(&key_id).send().await.unwrap();
    assert!(key_tags.tags().iter().any(|t| t.tag_key() == "client" && t.tag_value() == "acme"));

    // A change the type refuses is refused; an accepted one is planned again and applied.
    let path = format!("/v1/tenants/{tenant}");
    let drop_client = h.call(Method::PATCH, &path, Some(json!({ "settings": { "client": null } }))).await;
    assert_eq!(drop_client.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", drop_client.body);
    let extend = h.call(Method::PATCH, &path, Some(json!({ "settings": { "expires": "2028-01-31" } }))).await;
    assert_eq!(extend.status, StatusCode::ACCEPTED, "{:?}", extend.body);
    assert_eq!(extend.body["state"], "updating");
    h.wait_for_state(&tenant, "active").await;
    for tags in [role_tags(&h, &tenant).await, group_tags(&h, &tenant).await] {
        assert_eq!(tag(&tags, "expires").as_deref(), Some("2028-01-31"));
    }

    delete_and_wait(&h, &tenant).await;
}

#[tokio::test]
async fn a_hostile_type_fails_its_tenants_cleanly_naming_itself_and_nothing_reaches_aws() {
    let types = json!({ "types": [{
        "name": "hostile", "plugin": "hostile", "version": "0.0.1", "hooks": ["validate", "on-create", "on-delete"]
    }] });
    let h = Harness::with(tenancy_tests::Options { tenant_types: Some(types), ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;

    let refused = json!({ "name": unique("bad"), "infrastructure": infra, "type": "hostile", "settings": { "attack": "refuse" } });
    let reply = create_typed(&h, refused).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);

    for (attack, expected) in [
        ("loop", "plugin 'hostile', hook on-create: used its whole fuel budget"),
        ("memory", "plugin 'hostile', hook on-create: tried to grow its memory past"),
        ("iam", "plugin 'hostile' broke the rule 'no-identity-actions'"),
        ("other-tenant", "plugin 'hostile' broke the rule 'tenant-resources-only'"),
        ("public", "plugin 'hostile' broke the rule 'no-public-ingress'"),
        ("tenancy-tag", "plugin 'hostile' broke the rule 'tag-namespace'"),
    ] {
        let tenant = unique("bad");
        let body =
            json!({ "name": tenant, "infrastructure": infra, "type": "hostile", "settings": { "attack": attack } });
        let reply = create_typed(&h, body).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
        let status = wait_until_failed(&h, &tenant).await;
        assert_eq!(status["failure"]["step"], "plugin", "{attack}: {status:#}");
        let error = status["failure"]["error"].as_str().unwrap();
        assert!(error.contains(expected), "{attack}: {error}");
        // Nothing of the tenant exists: the plan is checked before any cloud step.
        assert!(h.aws.inventory(&tenant).await.is_empty(), "{attack}");
        assert!(h.aws.tagged(&tenant).await.is_empty(), "{attack}");
        delete_and_wait(&h, &tenant).await;
    }
}

async fn wait_until_failed(h: &Harness, tenant: &str) -> Value {
    for _ in 0..600 {
        let reply = h.call(Method::GET, &format!("/v1/tenants/{tenant}"), None).await;
        match reply.body["state"].as_str() {
            Some("failed") => return reply.body,
            Some("provisioning") => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            other => panic!("{tenant} became {other:?}: {:#}", reply.body),
        }
    }
    panic!("{tenant} did not fail within 30 s");
}

#[tokio::test]
async fn the_grant_access_hook_decides_and_a_refusal_writes_nothing() {
    let h = Harness::with(tenancy_tests::Options { run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("client");
    let settings = json!({ "client": "acme", "client-domain": "acme.com", "expires": "2027-06-30" });
    let body = json!({ "name": tenant, "infrastructure": infra, "type": "per-client", "settings": settings });
    assert_eq!(create_typed(&h, body).await.status, StatusCode::ACCEPTED);
    let access = |user: &str| format!("/v1/tenants/{tenant}/access/{user}");

    let refused = h.call(Method::PUT, &access("eve"), Some(json!({ "role": "admin", "email": "eve@evil.com" }))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("per-client") && detail.contains("acme.com"), "the plugin's reason: {detail}");
    let listed = h.call(Method::GET, &format!("/v1/tenants/{tenant}/access"), None).await;
    assert!(listed.body["items"].as_array().unwrap().is_empty(), "nothing written: {:?}", listed.body);
    let history = h.call(Method::GET, &format!("/v1/tenants/{tenant}/history"), None).await;
    assert!(history.body["items"].as_array().unwrap().iter().all(|e| e["action"] != "access.granted"));

    let allowed = h.call(Method::PUT, &access("joe"), Some(json!({ "role": "admin", "email": "joe@acme.com" }))).await;
    assert_eq!(allowed.status, StatusCode::OK, "{:?}", allowed.body);
    assert_eq!(allowed.body["role"], "admin");
    let read_only = h.call(Method::PUT, &access("eve"), Some(json!({ "role": "read-only" }))).await;
    assert_eq!(read_only.status, StatusCode::OK, "{:?}", read_only.body);
    let listed = h.call(Method::GET, &format!("/v1/tenants/{tenant}/access"), None).await;
    let users: Vec<&str> =
        listed.body["items"].as_array().unwrap().iter().map(|e| e["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["eve", "joe"]);
    h.stop().await;
}
