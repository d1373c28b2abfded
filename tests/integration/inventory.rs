//! A tenant's inventory read from the emulator's cloud, each kind of drift made with the SDK
//! behind Tenancy's back, and the daily drift check that announces it.
//!
//! The emulator (moto) differs from AWS here in ways the adapter codes around: its tagging
//! API returns security groups, KMS keys (also while pending deletion, as AWS does) and
//! buckets, and never IAM entities (as AWS: they are listed by path); its instance-profile
//! listing ignores the path prefix (the adapter checks the path itself); and it forgets a
//! deleted group at once, where AWS's tagging API may list it for a while (the adapter
//! confirms every group with EC2).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_app::bus::{DRIFT_RULE_SUFFIX, Handled, drift_check_event, scheduled_event};
use tenancy_tests::{Harness, unique};

use crate::bus::{listen, next_event};

fn drift_of(body: &Value) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = body["drift"]
        .as_array()
        .expect("drift")
        .iter()
        .map(|d| (d["kind"].as_str().unwrap().to_string(), d["resource"].as_str().unwrap().to_string()))
        .collect();
    items.sort();
    items
}

fn resource<'a>(body: &'a Value, kind: &str) -> &'a Value {
    body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind)
        .unwrap_or_else(|| panic!("{kind}: {body:#}"))
}

fn recorded_id(tenant: &Value, kind: &str) -> String {
    let entry = tenant["resources"].as_array().unwrap().iter().find(|r| r["kind"] == kind).unwrap();
    entry["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn each_kind_of_drift_made_behind_tenancys_back_is_reported_with_a_remedy_and_announced_daily() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("inv");
    h.create_tenant(&infra, &tenant, json!({ "team": "blue" })).await;
    let record = h.wait_for_state(&tenant, "active").await;
    let path = format!("/v1/tenants/{tenant}/resources");

    // As made: every recorded resource, found from the cloud, with no drift.
    let reply = h.call(Method::GET, &path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let body = reply.body;
    assert_eq!(body["driftJudged"], true);
    assert_eq!(drift_of(&body), vec![], "{body:#}");
    assert!(body["checkedAt"].is_string());
    for kind in ["securityGroup", "role", "instanceProfile", "key"] {
        let found = resource(&body, kind);
        assert_eq!(found["recorded"], true, "{found:#}");
        assert_eq!(found["tags"]["tenancy:tenant"], tenant.as_str());
        assert_eq!(found["tags"]["team"], "blue");
        assert!(found["arn"].as_str().unwrap().starts_with("arn:aws:"), "{found:#}");
    }
    assert_eq!(body["resources"].as_array().unwrap().len(), 4, "{body:#}");

    // (a) The group loses the tenant's tag.
    let group = recorded_id(&record, "securityGroup");
    h.aws
        .ec2
        .delete_tags()
        .resources(&group)
        .tags(aws_sdk_ec2::types::Tag::builder().key("tenancy:tenant").build())
        .send()
        .await
        .unwrap();
    // (b) The instance profile is deleted, and the key scheduled for deletion.
    let profile = recorded_id(&record, "instanceProfile");
    let role = recorded_id(&record, "role");
    h.aws
        .iam
        .remove_role_from_instance_profile()
        .instance_profile_name(&profile)
        .role_name(&role)
        .send()
        .await
        .unwrap();
    h.aws.iam.delete_instance_profile().instance_profile_name(&profile).send().await.unwrap();
    let key = recorded_id(&record, "key");
    h.aws.kms.schedule_key_deletion().key_id(&key).pending_window_in_days(7).send().await.unwrap();
    // (c) A group made by hand, tagged with the tenant and this deployment.
    let extra = h
        .aws
        .ec2
        .create_security_group()
        .group_name(unique("byhand"))
        .description("made by hand")
        .vpc_id(&h.vpc_id)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                .tags(aws_sdk_ec2::types::Tag::builder().key("tenancy:tenant").value(&tenant).build())
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("tenancy:deployment")
                        .value(&h.app.settings.deployment)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    // Another deployment's group tagged with the same tenant name is not this one's to report.
    let theirs = h
        .aws
        .ec2
        .create_security_group()
        .group_name(unique("theirs"))
        .description("another deployment's")
        .vpc_id(&h.vpc_id)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                .tags(aws_sdk_ec2::types::Tag::builder().key("tenancy:tenant").value(&tenant).build())
                .tags(aws_sdk_ec2::types::Tag::builder().key("tenancy:deployment").value("someone-else").build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();

    let body = h.call(Method::GET, &path, None).await.body;
    assert_eq!(
        drift_of(&body),
        [
            ("missing".to_string(), "instanceProfile".to_string()),
            ("missing".to_string(), "key".to_string()),
            ("missingTags".to_string(), "securityGroup".to_string()),
            ("unrecorded".to_string(), "securityGroup".to_string()),
        ],
        "{body:#}"
    );
    let items = body["drift"].as_array().unwrap();
    let untagged = items.iter().find(|d| d["kind"] == "missingTags").unwrap();
    assert_eq!(untagged["id"], group.as_str());
    assert_eq!(untagged["tags"], json!([{ "key": "tenancy:tenant", "expected": tenant, "actual": null }]));
    let unrecorded = items.iter().find(|d| d["kind"] == "unrecorded").unwrap();
    assert_eq!(unrecorded["id"], extra.as_str());
    assert!(items.iter().all(|d| d["remedy"].as_str().is_some_and(|r| r.len() > 40)), "{body:#}");
    assert!(items.iter().all(|d| d["id"] != theirs.as_str()), "another deployment's group is reported: {body:#}");
    let listed: Vec<&str> = body["resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(listed.contains(&group.as_str()) && listed.contains(&extra.as_str()) && listed.contains(&role.as_str()));
    assert!(!listed.contains(&theirs.as_str()) && !listed.contains(&profile.as_str()), "{listed:?}");

    // The five-minute sweep does not check drift; the daily schedule does, and announces it.
    let announced = listen(&h, &["Tenant Drift Detected"]).await;
    let handler = h.app.bus_handler();
    assert!(matches!(handler.handle(scheduled_event(unique("sweep"))).await.unwrap(), Handled::Swept(_)));
    let rule = format!("{}{DRIFT_RULE_SUFFIX}", h.app.settings.deployment);
    let checked = handler.handle(drift_check_event(unique("daily"), &rule)).await.unwrap();
    assert_eq!(checked, Handled::DriftChecked(1, vec![tenant.clone()]));
    let event = next_event(&h, &announced).await;
    assert_eq!(event["detail-type"], "Tenant Drift Detected");
    assert_eq!(event["detail"]["tenant"], tenant.as_str());
    assert_eq!(event["detail"]["driftCount"], 4);
    assert_eq!(event["detail"]["drift"].as_array().unwrap().len(), 4);

    // The remedy holds: an update makes what is missing and writes the tags again. The
    // group made by hand stays, reported, untouched.
    let reply =
        h.call(Method::PATCH, &format!("/v1/tenants/{tenant}"), Some(json!({ "tags": { "team": "red" } }))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:#}", reply.body);
    h.wait_for_state(&tenant, "active").await;
    let body = h.call(Method::GET, &path, None).await.body;
    assert_eq!(drift_of(&body), [("unrecorded".to_string(), "securityGroup".to_string())], "{body:#}");
    h.stop().await;
}

#[tokio::test]
async fn a_tenant_being_deleted_lists_what_is_left_without_judging_drift() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("invdel");
    h.create_tenant(&infra, &tenant, json!({})).await;
    h.wait_for_state(&tenant, "active").await;
    let reply = h.call(Method::DELETE, &format!("/v1/tenants/{tenant}"), None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    h.wait_for_state(&tenant, "deleted").await;
    let body = h.call(Method::GET, &format!("/v1/tenants/{tenant}/resources"), None).await.body;
    assert_eq!(body["state"], "deleted");
    assert_eq!(body["driftJudged"], false);
    assert_eq!(body["drift"], json!([]));
    // Deleted: nothing live is left; the key waits out its window and is not listed.
    assert_eq!(body["resources"], json!([]), "{body:#}");
    h.stop().await;
}
