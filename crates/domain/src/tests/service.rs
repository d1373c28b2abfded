//! The control plane and the worker taking tenants through their life.

use super::*;

#[tokio::test]
async fn a_created_tenant_is_provisioned_to_active_with_every_resource_ready() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    let created = w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    assert_eq!(created.tenant.state(), TenantState::Provisioning);
    assert_eq!(w.events.detail_types(), ["Tenant Create Requested"]);

    assert_eq!(
        w.worker.drive(&name("dev"), Some(created.tenant.id())).await.unwrap(),
        Outcome::Done(TenantState::Active)
    );
    let tenant = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(tenant.state(), TenantState::Active);
    assert!(tenant.resources().iter().all(|r| r.ready && r.id.is_some()), "{:?}", tenant.resources());
    assert!(tenant.lease().is_none());
    assert_eq!(w.cloud.kinds_of("dev").len(), 4);
    assert_eq!(w.events.detail_types(), ["Tenant Create Requested", "Tenant Provisioned"]);
}

#[tokio::test]
async fn a_tenant_name_is_unique_until_its_tenant_is_deleted() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let err = w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap_err();
    assert!(matches!(err, Error::NameTaken { .. }), "{err}");

    let first_id = w.store.get_tenant(&name("dev")).await.unwrap().unwrap().id();
    w.plane.delete_tenant(&admin(), "dev").await.unwrap();
    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Deleted));
    assert!(w.cloud.kinds_of("dev").is_empty());

    let again = w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    assert_ne!(again.tenant.id(), first_id);
}

#[tokio::test]
async fn tenants_in_prod_are_deletion_protected_by_default() {
    let w = world();
    with_infrastructure(&w, "prod", Environment::Prod).await;
    w.plane.create_tenant(&admin(), new_tenant("shop", "prod"), None).await.unwrap();
    w.worker.drive(&name("shop"), None).await.unwrap();
    let err = w.plane.delete_tenant(&admin(), "shop").await.unwrap_err();
    assert!(matches!(&err, Error::Conflict { reason: ConflictReason::DeletionProtection, .. }), "{err}");

    let patch = TenantPatch { deletion_protection: Some(false), ..Default::default() };
    w.plane.update_tenant(&admin(), "shop", patch, None).await.unwrap();
    w.plane.delete_tenant(&admin(), "shop").await.unwrap();
}

#[tokio::test]
async fn an_infrastructure_holding_tenants_cannot_be_deleted() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let err = w.plane.delete_infrastructure(&admin(), "nonprod").await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");

    w.plane.delete_tenant(&admin(), "dev").await.unwrap();
    w.worker.drive(&name("dev"), None).await.unwrap();
    w.plane.delete_infrastructure(&admin(), "nonprod").await.unwrap();
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_answer_and_creates_nothing() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    let first = w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), Some("k1")).await.unwrap();
    let second = w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), Some("k1")).await.unwrap();
    assert!(second.replayed && !first.replayed);
    assert_eq!(first.tenant, second.tenant);
    assert_eq!(w.events.detail_types().len(), 1);

    let err = w.plane.create_tenant(&admin(), new_tenant("other", "nonprod"), Some("k1")).await.unwrap_err();
    assert_eq!(err, Error::IdempotencyKeyReused);
}

#[tokio::test]
async fn a_failed_step_is_recorded_with_its_cause_and_can_be_retried() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    w.cloud.fail_on(Some(ResourceKind::Key));
    let outcome = w.worker.drive(&name("dev"), None).await.unwrap();
    assert!(matches!(&outcome, Outcome::Failed { step, .. } if step == "key"), "{outcome:?}");

    let tenant = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(tenant.state(), TenantState::Failed);
    let failure = tenant.failure().as_ref().unwrap();
    assert_eq!(failure.step, "key");
    assert!(failure.error.contains("injected failure"));
    let key = tenant.resources().iter().find(|r| r.kind == ResourceKind::Key).unwrap();
    assert_eq!((key.ready, key.reason.as_str()), (false, "Failed"));
    assert!(w.events.detail_types().contains(&"Tenant Provisioning Failed"));

    w.cloud.fail_on(None);
    w.plane.retry_tenant(&admin(), "dev").await.unwrap();
    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Active));
}

#[tokio::test]
async fn a_held_lease_keeps_other_workers_off_until_it_lapses_and_the_sweep_takes_over() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    // A worker that claimed the tenant and died: the lease is stored, nothing else happened.
    let mut tenant = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert!(tenant.claim("dead", Duration::minutes(5), w.clock_now()));
    w.store.save_tenant(&tenant).await.unwrap();

    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Busy);
    assert!(w.worker.sweep().await.unwrap().is_empty(), "not stalled yet");

    w.clock.advance(Duration::minutes(6));
    let swept = w.worker.sweep().await.unwrap();
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].1, Ok(Outcome::Done(TenantState::Active)));
}

impl World {
    fn clock_now(&self) -> time::OffsetDateTime {
        use crate::ports::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn changed_tags_are_applied_by_the_worker_and_removed_keys_remembered() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let patch = TenantPatch {
        tags: Some(BTreeMap::from([("team".into(), None), ("cost-centre".into(), Some("42".into()))])),
        ..Default::default()
    };
    let updated = w.plane.update_tenant(&admin(), "dev", patch, None).await.unwrap();
    assert_eq!(updated.state(), TenantState::Updating);
    assert_eq!(updated.removed_tag_keys(), ["team"]);
    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Active));
    let tenant = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(*tenant.applied_tags(), BTreeMap::from([("cost-centre".into(), "42".into())]));
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_the_current_version() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let current = w.store.get_tenant(&name("dev")).await.unwrap().unwrap().version();
    let err = w.plane.update_tenant(&admin(), "dev", TenantPatch::default(), Some(current - 1)).await.unwrap_err();
    assert_eq!(err, Error::PreconditionFailed { expected: current - 1, current });
    w.plane.update_tenant(&admin(), "dev", TenantPatch::default(), Some(current)).await.unwrap();
}

#[tokio::test]
async fn a_tenant_in_an_unknown_infrastructure_is_refused_and_nothing_is_written() {
    let w = world();
    let err = w.plane.create_tenant(&admin(), new_tenant("dev", "nowhere"), None).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { kind: "infrastructure", .. }), "{err}");
    assert!(w.store.get_tenant(&name("dev")).await.unwrap().is_none());
    assert!(w.events.detail_types().is_empty());
}

#[tokio::test]
async fn listings_page_through_every_tenant_with_a_cursor() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    for i in 0..5 {
        w.plane.create_tenant(&admin(), new_tenant(&format!("t{i}"), "nonprod"), None).await.unwrap();
    }
    let mut seen = vec![];
    let mut cursor = None;
    loop {
        let page = w.plane.list_tenants(&admin(), Some("nonprod"), Some(2), cursor).await.unwrap();
        seen.extend(page.items.into_iter().map(|t| t.name().to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["t0", "t1", "t2", "t3", "t4"]);
}
