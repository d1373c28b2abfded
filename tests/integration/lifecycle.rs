//! A tenant's life through the API: its boundary in AWS, its tags, its deletion.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_tests::{Harness, policy_document, unique};

fn tags_of_group(group: &aws_sdk_ec2::types::SecurityGroup) -> Vec<(String, String)> {
    group.tags().iter().map(|t| (t.key().unwrap_or("").into(), t.value().unwrap_or("").into())).collect()
}

#[tokio::test]
async fn two_tenants_become_active_each_with_its_own_tagged_and_isolated_boundary() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let (a, b) = (unique("dev"), unique("qa"));
    let created = h.create_tenant(&infra, &a, json!({ "team": "blue" })).await;
    assert_eq!(created.body["state"], "provisioning");
    assert_eq!(created.headers["location"], format!("/v1/tenants/{a}").as_str());
    h.create_tenant(&infra, &b, json!({ "team": "green" })).await;

    for (tenant, other, team) in [(&a, &b, "blue"), (&b, &a, "green")] {
        let status = h.wait_for_state(tenant, "active").await;
        let resources = status["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 4);
        assert!(resources.iter().all(|r| r["ready"] == true && r["arn"].is_string()), "{resources:?}");

        let inventory = h.aws.inventory(tenant).await;
        assert!(inventory.is_one_complete_set(), "{inventory:?}");

        // The security group admits itself and nothing else.
        let group = &h.aws.security_groups(tenant).await[0];
        let group_id = group.group_id().unwrap();
        assert_eq!(group.vpc_id(), Some(h.vpc_id.as_str()));
        let rules = group.ip_permissions();
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert!(rules[0].ip_ranges().is_empty() && rules[0].ipv6_ranges().is_empty());
        let sources: Vec<_> = rules[0].user_id_group_pairs().iter().map(|p| p.group_id().unwrap()).collect();
        assert_eq!(sources, [group_id]);
        let tags = tags_of_group(group);
        for expected in
            [("tenancy:tenant", tenant.as_str()), ("tenancy:infrastructure", infra.as_str()), ("team", team)]
        {
            assert!(tags.contains(&(expected.0.into(), expected.1.into())), "{expected:?} not in {tags:?}");
        }

        // The role: tagged, trusted by the workload services, its policy bound to this tenant only.
        let role_name = format!("tenancy-{tenant}");
        let role = h.aws.iam.get_role().role_name(&role_name).send().await.unwrap().role.unwrap();
        assert_eq!(role.path(), format!("/tenancy/{tenant}/"));
        let role_tags: Vec<_> = role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        assert!(
            role_tags.contains(&("tenancy:tenant".into(), tenant.to_string()))
                && role_tags.contains(&("team".into(), team.into()))
        );
        let trust = policy_document(role.assume_role_policy_document().unwrap());
        assert_eq!(
            trust["Statement"][0]["Principal"]["Service"],
            json!(["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"])
        );
        let policy = h
            .aws
            .iam
            .get_role_policy()
            .role_name(&role_name)
            .policy_name("tenancy-tenant-access")
            .send()
            .await
            .unwrap();
        let policy = policy_document(policy.policy_document());
        let text = policy.to_string();
        assert!(!text.contains(other.as_str()), "{tenant}'s policy mentions {other}: {text}");
        assert_eq!(
            policy["Statement"][0]["Condition"]["StringEquals"]["aws:ResourceTag/tenancy:tenant"],
            tenant.as_str()
        );
        assert_ne!(policy["Statement"][0]["Action"], "*");

        // The instance profile carries the role.
        let profile = h.aws.iam.get_instance_profile().instance_profile_name(&role_name).send().await.unwrap();
        let profile = profile.instance_profile.unwrap();
        assert_eq!(profile.roles().iter().map(|r| r.role_name()).collect::<Vec<_>>(), [role_name.as_str()]);

        // The key: enabled, aliased, usable by this tenant's role only.
        let key_id = &inventory.live_keys[0];
        let key_policy = h.aws.kms.get_key_policy().key_id(key_id).policy_name("default").send().await.unwrap();
        let key_policy: Value = serde_json::from_str(key_policy.policy().unwrap()).unwrap();
        assert_eq!(key_policy["Statement"][1]["Principal"]["AWS"], role.arn());
        assert!(!key_policy.to_string().contains(other.as_str()));
        let alias = h.aws.kms.describe_key().key_id(format!("alias/tenancy/{tenant}")).send().await.unwrap();
        assert_eq!(alias.key_metadata().unwrap().key_id(), key_id);
        let key_tags = h.aws.kms.list_resource_tags().key_id(key_id).send().await.unwrap();
        assert!(key_tags.tags().iter().any(|t| t.tag_key() == "tenancy:tenant" && t.tag_value() == tenant.as_str()));
    }
    h.stop().await;
}

#[tokio::test]
async fn deleting_a_tenant_removes_everything_it_owned_and_leaves_the_other_untouched() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let (gone, kept) = (unique("dev"), unique("qa"));
    h.create_tenant(&infra, &gone, json!({})).await;
    h.create_tenant(&infra, &kept, json!({})).await;
    h.wait_for_state(&gone, "active").await;
    let kept_before = h.wait_for_state(&kept, "active").await;
    let key_id = h.aws.inventory(&gone).await.live_keys[0].clone();

    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{gone}"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.body["state"], "deleting");
    h.wait_for_state(&gone, "deleted").await;

    let inventory = h.aws.inventory(&gone).await;
    assert!(inventory.is_empty(), "{inventory:?}");
    assert_eq!(inventory.keys_pending_deletion, std::slice::from_ref(&key_id));
    assert_eq!(h.aws.key_state(&key_id).await, aws_sdk_kms::types::KeyState::PendingDeletion);
    let tagged: Vec<_> = h.aws.tagged(&gone).await.into_iter().filter(|a| !a.contains(&key_id)).collect();
    assert!(tagged.is_empty(), "still tagged with {gone}: {tagged:?}");
    let alias = h.aws.kms.describe_key().key_id(format!("alias/tenancy/{gone}")).send().await;
    assert!(alias.is_err(), "the alias should be gone");

    assert!(h.aws.inventory(&kept).await.is_one_complete_set());
    let kept_after = h.call(Method::GET, &format!("/v1/tenants/{kept}"), None).await.body;
    assert_eq!(kept_after, kept_before);

    // The deleted tenant no longer lists, and its name is free again.
    let listed = h.call(Method::GET, &format!("/v1/tenants?infrastructure={infra}"), None).await;
    let names: Vec<_> = listed.body["items"].as_array().unwrap().iter().map(|t| t["name"].clone()).collect();
    assert_eq!(names, [json!(kept)]);
    h.create_tenant(&infra, &gone, json!({})).await;
    h.wait_for_state(&gone, "active").await;
    assert!(h.aws.inventory(&gone).await.is_one_complete_set());
    h.stop().await;
}

#[tokio::test]
async fn changed_tags_reach_every_resource_and_dropped_ones_are_removed() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("dev");
    h.create_tenant(&infra, &tenant, json!({ "team": "blue", "project": "x" })).await;
    h.wait_for_state(&tenant, "active").await;

    let patch = json!({ "tags": { "team": "red", "project": null }, "settings": { "tier": "gold" } });
    let reply = h.call(Method::PATCH, &format!("/v1/tenants/{tenant}"), Some(patch)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.body["state"], "updating");
    let status = h.wait_for_state(&tenant, "active").await;
    assert_eq!(status["tags"], json!({ "team": "red" }));
    assert_eq!(status["settings"], json!({ "tier": "gold" }));

    let group_tags = tags_of_group(&h.aws.security_groups(&tenant).await[0]);
    assert!(
        group_tags.contains(&("team".into(), "red".into())) && !group_tags.iter().any(|(k, _)| k == "project"),
        "{group_tags:?}"
    );
    let role = h.aws.iam.get_role().role_name(format!("tenancy-{tenant}")).send().await.unwrap().role.unwrap();
    assert!(role.tags().iter().any(|t| t.key() == "team" && t.value() == "red"));
    assert!(!role.tags().iter().any(|t| t.key() == "project"));
    let key_id = &h.aws.inventory(&tenant).await.live_keys[0];
    let key_tags = h.aws.kms.list_resource_tags().key_id(key_id).send().await.unwrap();
    assert!(key_tags.tags().iter().any(|t| t.tag_key() == "team" && t.tag_value() == "red"));
    assert!(!key_tags.tags().iter().any(|t| t.tag_key() == "project"));
    h.stop().await;
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_answer_and_creates_nothing() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("dev");
    let body = json!({ "name": tenant, "infrastructure": infra });
    let send = || {
        h.send(
            h.request(Method::POST, "/v1/tenants").bearer_auth(&h.token).header("idempotency-key", "req-1").json(&body),
        )
    };
    let first = send().await;
    let second = send().await;
    assert_eq!((first.status, second.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(first.body, second.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");

    let other = json!({ "name": unique("other"), "infrastructure": infra });
    let reused = h
        .send(
            h.request(Method::POST, "/v1/tenants")
                .bearer_auth(&h.token)
                .header("idempotency-key", "req-1")
                .json(&other),
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.body["type"], "urn:tenancy:problem:idempotency-key-reused");

    h.wait_for_state(&tenant, "active").await;
    assert!(h.aws.inventory(&tenant).await.is_one_complete_set());
    h.stop().await;
}

#[tokio::test]
async fn tenants_list_by_infrastructure_a_page_at_a_time() {
    let h = Harness::with(tenancy_tests::Options { run_worker: false, ..Default::default() }).await;
    let (infra, elsewhere) = (h.infrastructure("nonprod").await, h.infrastructure("nonprod").await);
    let mut expected: Vec<String> = (0..5).map(|_| unique("t")).collect();
    for name in &expected {
        h.create_tenant(&infra, name, json!({})).await;
    }
    h.create_tenant(&elsewhere, &unique("t"), json!({})).await;
    expected.sort();

    let mut seen = Vec::new();
    let mut path = format!("/v1/tenants?infrastructure={infra}&limit=2");
    loop {
        let page = h.call(Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()));
        match page.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/tenants?infrastructure={infra}&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    let all = h.call(Method::GET, "/v1/tenants?limit=100", None).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 6);
    h.stop().await;
}

#[tokio::test]
async fn an_infrastructure_can_be_deleted_only_once_its_tenants_are() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("dev");
    h.create_tenant(&infra, &tenant, json!({})).await;
    h.wait_for_state(&tenant, "active").await;

    let refused = h.call(Method::DELETE, &format!("/v1/infrastructures/{infra}"), None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body["detail"].as_str().unwrap().contains("still holds tenants"));

    h.call(Method::DELETE, &format!("/v1/tenants/{tenant}"), None).await;
    h.wait_for_state(&tenant, "deleted").await;
    let deleted = h.call(Method::DELETE, &format!("/v1/infrastructures/{infra}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = h.call(Method::GET, &format!("/v1/infrastructures/{infra}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    h.stop().await;
}
