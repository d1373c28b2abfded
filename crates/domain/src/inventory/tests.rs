//! Drift, judged from what the cloud holds against the record.

use std::collections::BTreeMap;

use super::*;
use crate::contract::{T0, infrastructure, tenant};
use crate::tenant::ResourceRef;

const DEPLOYMENT: &str = "prod-stack";

/// An active tenant whose record names one resource of each built-in kind.
fn active() -> Tenant {
    let mut tenant = tenant("dev", "nonprod", T0);
    for (kind, id, arn) in recorded() {
        tenant.mark_ready(&ResourceRef { kind, id: id.into(), arn: arn.into() }, T0);
    }
    tenant.finish(Vec::new(), T0).unwrap();
    assert_eq!(tenant.state(), TenantState::Active);
    tenant
}

fn recorded() -> [(ResourceKind, &'static str, &'static str); 4] {
    [
        (ResourceKind::SecurityGroup, "sg-0abc", "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0abc"),
        (ResourceKind::Role, "tenancy-dev", "arn:aws:iam::123456789012:role/tenancy/dev/tenancy-dev"),
        (
            ResourceKind::InstanceProfile,
            "tenancy-dev",
            "arn:aws:iam::123456789012:instance-profile/tenancy/dev/tenancy-dev",
        ),
        (ResourceKind::Key, "1234abcd", "arn:aws:kms:us-east-1:123456789012:key/1234abcd"),
    ]
}

/// The cloud as Tenancy left it: every recorded resource, with every expected tag.
fn as_made(tenant: &Tenant) -> Holdings {
    let tags = expected_tags(tenant, DEPLOYMENT);
    let resources = recorded()
        .into_iter()
        .map(|(kind, id, arn)| Holding {
            kind: Some(kind),
            id: id.into(),
            arn: arn.into(),
            tags: tags.clone(),
            pending_deletion: false,
        })
        .collect();
    Holdings { resources, truncated: false }
}

fn scope(tenant: &Tenant) -> InventoryScope {
    InventoryScope::of(tenant, &infrastructure("nonprod"), DEPLOYMENT)
}

fn kinds(report: &InventoryReport) -> Vec<(DriftKind, String)> {
    report.drift.iter().map(|d| (d.kind, d.resource.clone())).collect()
}

#[test]
fn the_scope_names_every_recorded_resource_and_the_tenants_iam_path() {
    let tenant = active();
    let scope = scope(&tenant);
    assert_eq!(scope.recorded.len(), 4);
    assert_eq!(scope.iam_path, "/tenancy/dev/");
    assert_eq!(scope.region, "us-east-1");
    assert_eq!(scope.deployment, DEPLOYMENT);
}

#[test]
fn a_tenant_as_tenancy_made_it_has_no_drift() {
    let tenant = active();
    let report = compare(&tenant, &scope(&tenant), as_made(&tenant), T0);
    assert!(report.drift_judged);
    assert_eq!(report.drift, vec![]);
    assert_eq!(report.resources.len(), 4);
    assert!(report.resources.iter().all(|r| r.recorded));
    let kinds: Vec<&str> = report.resources.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["securityGroup", "role", "instanceProfile", "key"]);
}

#[test]
fn a_recorded_resource_without_the_tenants_tags_is_drift_naming_each_key() {
    let tenant = active();
    let mut holdings = as_made(&tenant);
    holdings.resources[0].tags.remove(tag_keys::TENANT);
    holdings.resources[0].tags.insert("team".into(), "red".into());
    let report = compare(&tenant, &scope(&tenant), holdings, T0);
    assert_eq!(kinds(&report), [(DriftKind::MissingTags, "securityGroup".to_string())]);
    let item = &report.drift[0];
    let differences: BTreeMap<&str, (Option<&str>, &str)> =
        item.tags.iter().map(|t| (t.key.as_str(), (t.actual.as_deref(), t.expected.as_str()))).collect();
    assert_eq!(differences[tag_keys::TENANT], (None, "dev"));
    assert_eq!(differences["team"], (Some("red"), "contract"));
    assert!(item.remedy.contains("PATCH /v1/tenants/dev"), "{}", item.remedy);
    assert!(item.remedy.contains("tenancy:tenant=dev"), "{}", item.remedy);
}

#[test]
fn extra_tags_on_a_resource_are_not_drift() {
    let tenant = active();
    let mut holdings = as_made(&tenant);
    holdings.resources[1].tags.insert("cost-centre".into(), "42".into());
    assert_eq!(compare(&tenant, &scope(&tenant), holdings, T0).drift, vec![]);
}

#[test]
fn a_recorded_resource_that_no_longer_exists_is_drift() {
    let tenant = active();
    let mut holdings = as_made(&tenant);
    holdings.resources.retain(|h| h.kind != Some(ResourceKind::Role));
    let report = compare(&tenant, &scope(&tenant), holdings, T0);
    assert_eq!(kinds(&report), [(DriftKind::Missing, "role".to_string())]);
    assert_eq!(report.drift[0].arn, "arn:aws:iam::123456789012:role/tenancy/dev/tenancy-dev");
    assert!(report.drift[0].remedy.contains("Update the tenant"), "{}", report.drift[0].remedy);
}

#[test]
fn a_recorded_key_scheduled_for_deletion_is_missing_with_how_to_cancel() {
    let tenant = active();
    let mut holdings = as_made(&tenant);
    holdings.resources[3].pending_deletion = true;
    let report = compare(&tenant, &scope(&tenant), holdings, T0);
    assert_eq!(kinds(&report), [(DriftKind::Missing, "key".to_string())]);
    assert!(report.drift[0].remedy.contains("cancel-key-deletion"));
}

#[test]
fn a_resource_tagged_with_the_tenant_that_the_record_does_not_name_is_drift() {
    let tenant = active();
    let mut holdings = as_made(&tenant);
    let mut tags = expected_tags(&tenant, DEPLOYMENT);
    tags.insert(tag_keys::TENANT_ID.into(), "an-earlier-one".into());
    holdings.resources.push(Holding {
        kind: None,
        id: "i-0abc".into(),
        arn: "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc".into(),
        tags,
        pending_deletion: false,
    });
    let report = compare(&tenant, &scope(&tenant), holdings, T0);
    assert_eq!(kinds(&report), [(DriftKind::Unrecorded, "ec2:instance".to_string())]);
    assert!(report.drift[0].detail.contains("earlier tenant"), "{}", report.drift[0].detail);
    let listed = report.resources.iter().find(|r| r.id == "i-0abc").unwrap();
    assert!(!listed.recorded);
}

#[test]
fn another_deployments_resources_and_unrecorded_keys_on_their_way_out_do_not_count() {
    let tenant = active();
    let mut holdings = as_made(&tenant);
    let mut theirs = expected_tags(&tenant, "staging-stack");
    theirs.insert(tag_keys::DEPLOYMENT.into(), "staging-stack".into());
    holdings.resources.push(Holding {
        kind: Some(ResourceKind::SecurityGroup),
        id: "sg-0other".into(),
        arn: "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0other".into(),
        tags: theirs,
        pending_deletion: false,
    });
    holdings.resources.push(Holding {
        kind: Some(ResourceKind::Key),
        id: "old".into(),
        arn: "arn:aws:kms:us-east-1:123456789012:key/old".into(),
        tags: expected_tags(&tenant, DEPLOYMENT),
        pending_deletion: true,
    });
    let report = compare(&tenant, &scope(&tenant), holdings, T0);
    assert_eq!(report.drift, vec![]);
    assert_eq!(report.resources.len(), 4);
}

#[test]
fn a_recorded_resource_retagged_to_another_deployment_is_tag_drift_not_absence() {
    let tenant = active();
    let mut holdings = as_made(&tenant);
    holdings.resources[0].tags.insert(tag_keys::DEPLOYMENT.into(), "staging-stack".into());
    let report = compare(&tenant, &scope(&tenant), holdings, T0);
    assert_eq!(kinds(&report), [(DriftKind::MissingTags, "securityGroup".to_string())]);
}

#[test]
fn drift_is_not_judged_while_an_operation_runs() {
    let mut tenant = tenant("dev", "nonprod", T0);
    tenant.mark_ready(
        &ResourceRef {
            kind: ResourceKind::SecurityGroup,
            id: "sg-0abc".into(),
            arn: "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0abc".into(),
        },
        T0,
    );
    let report = compare(&tenant, &scope(&tenant), Holdings::default(), T0);
    assert_eq!(tenant.state(), TenantState::Provisioning);
    assert!(!report.drift_judged);
    assert_eq!(report.drift, vec![]);
}

#[test]
fn a_truncated_listing_never_calls_a_recorded_resource_missing() {
    let tenant = active();
    let holdings = Holdings { resources: Vec::new(), truncated: true };
    let report = compare(&tenant, &scope(&tenant), holdings, T0);
    assert!(report.truncated);
    assert!(report.drift.iter().all(|d| d.kind != DriftKind::Missing));
}

#[test]
fn whatever_the_cloud_says_is_bounded_and_never_panics() {
    let tenant = active();
    let mut holdings = as_made(&tenant);
    let huge = "é".repeat(10_000);
    let tags: BTreeMap<String, String> = (0..500)
        .map(|i| (format!("{i}{huge}"), huge.clone()))
        .chain([(tag_keys::TENANT.into(), "dev".into())])
        .collect();
    for arn in ["", ":", "arn", "arn:aws", "arn:::::", &format!("arn:aws:{huge}:r:a:{huge}/x"), &huge] {
        holdings.resources.push(Holding {
            kind: None,
            id: huge.clone(),
            arn: arn.to_string(),
            tags: tags.clone(),
            pending_deletion: false,
        });
    }
    let report = compare(&tenant, &scope(&tenant), holdings, T0);
    for item in &report.resources {
        assert!(item.arn.chars().count() <= MAX_ARN_LEN && item.id.chars().count() <= MAX_ARN_LEN);
        assert!(item.tags.len() <= MAX_TAGS);
        assert!(item.kind.chars().count() <= 200, "{}", item.kind);
        assert!(
            item.tags
                .iter()
                .all(|(k, v)| k.chars().count() <= MAX_TAG_KEY_LEN && v.chars().count() <= MAX_TAG_VALUE_LEN)
        );
    }
    // The empty ARN is dropped; the others are unrecorded drift.
    assert_eq!(report.resources.len(), 4 + 6);
}

#[test]
fn resource_types_come_from_the_arn() {
    let cases = [
        ("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", "ec2:instance"),
        ("arn:aws:sqs:us-east-1:123456789012:queue", "sqs"),
        ("arn:aws:logs:us-east-1:123456789012:log-group:/x", "logs:log-group"),
        ("arn:aws:s3:::bucket", "s3"),
        ("nonsense", "unknown"),
    ];
    for (arn, kind) in cases {
        assert_eq!(resource_type(arn), kind, "{arn}");
    }
}
