//! Typed tenants: plans from a tenant type's plugin applied and removed.

use super::*;

/// A type like data-science: a tag, a statement, a default setting, a bucket; it needs `team`.
fn lab_type() -> StaticType {
    StaticType {
        plan: Plan {
            tags: BTreeMap::from([("workload".into(), "lab".into()), ("team".into(), "lab-team".into())]),
            policy_statements: vec![PolicyStatement {
                sid: "Train".into(),
                actions: vec!["sagemaker:CreateTrainingJob".into()],
                resources: vec!["*".into()],
                tenant_tag_condition: true,
            }],
            ingress_rules: vec![],
            default_settings: BTreeMap::from([("size".into(), "large".into()), ("owner".into(), "lab".into())]),
            resources: vec![CatalogueResource::Bucket("data".into())],
        },
        required_setting: Some("owner".into()),
        refuse_delete: false,
        expiry_setting: None,
    }
}

fn typed(tenant: &str, tenant_type: &str, settings: &[(&str, &str)]) -> NewTenant {
    NewTenant {
        tenant_type: Some(tenant_type.into()),
        settings: settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..new_tenant(tenant, "nonprod")
    }
}

#[tokio::test]
async fn a_typed_tenant_gets_its_plan_applied_and_removed_with_it() {
    let w = world_with(StaticPlugins::default().with_type("lab", lab_type()));
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    w.plane.create_tenant(&admin(), typed("ml", "lab", &[("owner", "kim")]), None).await.unwrap();
    assert_eq!(w.worker.drive(&name("ml"), None).await.unwrap(), Outcome::Done(TenantState::Active));

    let tenant = w.store.get_tenant(&name("ml")).await.unwrap().unwrap();
    // Defaults fill only what the tenant did not set.
    assert_eq!(tenant.settings()["size"], "large");
    assert_eq!(tenant.settings()["owner"], "kim");
    // The plan's tags win over the user's on a shared key, and never over Tenancy's.
    let tags = tenant.resource_tags();
    assert_eq!((tags["workload"].as_str(), tags["team"].as_str()), ("lab", "lab-team"));
    assert_eq!(tags["tenancy:type"], "lab");
    let bucket = tenant.resources().iter().find(|r| r.kind == ResourceKind::Bucket).unwrap();
    assert_eq!((bucket.id.as_deref(), bucket.ready), (Some("tenancy-ml--data"), true));
    assert_eq!(tenant.plugin().as_ref().unwrap().plan.policy_statements[0].sid, "Train");
    assert!(w.cloud.kinds_of("ml").contains(&ResourceKind::Bucket));

    w.plane.delete_tenant(&admin(), "ml").await.unwrap();
    assert_eq!(w.worker.drive(&name("ml"), None).await.unwrap(), Outcome::Done(TenantState::Deleted));
    assert!(w.cloud.kinds_of("ml").is_empty());
}

#[tokio::test]
async fn unknown_types_and_tenants_the_type_refuses_are_unprocessable_and_nothing_is_written() {
    let w = world_with(StaticPlugins::default().with_type("lab", lab_type()));
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    let err = w.plane.create_tenant(&admin(), typed("ml", "gpu", &[]), None).await.unwrap_err();
    assert!(matches!(&err, Error::Invalid { field, message } if field == "type" && message.contains("lab")), "{err}");
    let err = w.plane.create_tenant(&admin(), typed("ml", "lab", &[]), None).await.unwrap_err();
    assert!(matches!(&err, Error::RefusedByType { message, .. } if message.contains("'owner'")), "{err}");
    assert!(w.store.get_tenant(&name("ml")).await.unwrap().is_none());
    assert!(w.events.detail_types().is_empty());

    // A change the type refuses is refused too; one it accepts is planned again.
    w.plane.create_tenant(&admin(), typed("ml", "lab", &[("owner", "kim")]), None).await.unwrap();
    w.worker.drive(&name("ml"), None).await.unwrap();
    let drop_owner = TenantPatch { settings: Some(BTreeMap::from([("owner".into(), None)])), ..Default::default() };
    let err = w.plane.update_tenant(&admin(), "ml", drop_owner, None).await.unwrap_err();
    assert!(matches!(err, Error::RefusedByType { .. }), "{err}");
    let resize =
        TenantPatch { settings: Some(BTreeMap::from([("size".into(), Some("xl".into()))])), ..Default::default() };
    let updated = w.plane.update_tenant(&admin(), "ml", resize, None).await.unwrap();
    assert_eq!(updated.state(), TenantState::Updating);
}

#[tokio::test]
async fn a_plan_breaking_a_rule_fails_the_tenant_naming_the_plugin_and_applies_nothing() {
    let mut bad = lab_type();
    bad.plan.policy_statements[0].actions = vec!["iam:PassRole".into()];
    let w = world_with(StaticPlugins::default().with_type("lab", bad));
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    w.plane.create_tenant(&admin(), typed("ml", "lab", &[("owner", "kim")]), None).await.unwrap();
    let outcome = w.worker.drive(&name("ml"), None).await.unwrap();
    let Outcome::Failed { step, error } = outcome else { panic!("{outcome:?}") };
    assert_eq!(step, "plugin");
    assert!(error.contains("plugin 'lab' broke the rule 'no-identity-actions'"), "{error}");
    assert!(w.cloud.kinds_of("ml").is_empty(), "nothing applied");
}

#[tokio::test]
async fn on_delete_may_hold_a_deletion_but_a_retired_type_never_blocks_one() {
    let mut held = lab_type();
    held.refuse_delete = true;
    let w = world_with(StaticPlugins::default().with_type("lab", held));
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    w.plane.create_tenant(&admin(), typed("ml", "lab", &[("owner", "kim")]), None).await.unwrap();
    w.worker.drive(&name("ml"), None).await.unwrap();
    w.plane.delete_tenant(&admin(), "ml").await.unwrap();
    let outcome = w.worker.drive(&name("ml"), None).await.unwrap();
    assert!(matches!(&outcome, Outcome::Failed { step, error } if step == "plugin" && error.contains("not yet")));
    assert!(!w.cloud.kinds_of("ml").is_empty());

    // The same tenant, seen by a deployment where its type is no longer registered.
    let retired = Worker::new(
        w.store.clone(),
        w.cloud.clone(),
        w.events.clone(),
        Arc::new(StaticPlugins::default()),
        w.clock.clone(),
        WorkerConfig::default(),
    );
    w.plane.retry_tenant(&admin(), "ml").await.unwrap();
    assert_eq!(retired.drive(&name("ml"), None).await.unwrap(), Outcome::Done(TenantState::Deleted));
    assert!(w.cloud.kinds_of("ml").is_empty());
}

#[tokio::test]
async fn a_typed_tenants_own_admins_change_its_tags_but_not_the_settings_its_type_decides_by() {
    let w = world_with(StaticPlugins::default().with_type("lab", lab_type()));
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    w.plane.create_tenant(&admin(), typed("ml", "lab", &[("owner", "kim")]), None).await.unwrap();
    w.worker.drive(&name("ml"), None).await.unwrap();
    let request = crate::service::AccessRequest { role: crate::access::Role::Admin, expires_at: None, email: None };
    w.plane.put_access(&admin(), "ml", "kim", request).await.unwrap();
    let kim = Caller { id: "kim".into(), email: None, groups: vec![], via: Via::Api, request_id: None };
    let settings = BTreeMap::from([("owner".to_string(), Some("mallory".to_string()))]);
    let patch = TenantPatch { settings: Some(settings.clone()), ..TenantPatch::default() };
    let err = w.plane.update_tenant(&kim, "ml", patch, None).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err}");
    assert_eq!(w.store.get_tenant(&name("ml")).await.unwrap().unwrap().settings()["owner"], "kim");
    let protect = TenantPatch { deletion_protection: Some(true), ..TenantPatch::default() };
    assert!(w.plane.update_tenant(&kim, "ml", protect, None).await.unwrap().deletion_protection());
    let patch = TenantPatch { settings: Some(settings), ..TenantPatch::default() };
    w.plane.update_tenant(&admin(), "ml", patch, None).await.unwrap();
}
