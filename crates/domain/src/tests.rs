//! Behaviour of the service and the worker over the in-memory adapters.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::{Duration, macros::datetime};

use crate::access::{ADMIN_GROUP, Caller, Via};
use crate::error::{ConflictReason, Error};
use crate::infrastructure::Environment;
use crate::memory::{ManualClock, MemoryCloud, MemoryStore, RecordingEvents, StaticPlugins, StaticType};
use crate::names::Name;
use crate::plan::{CatalogueResource, Plan, PolicyStatement};
use crate::ports::{Clock, TenantGet, TenantSave};
use crate::service::{ControlPlane, NewInfrastructure, NewTenant, TenantPatch};
use crate::tenant::{ResourceKind, TenantState};
use crate::worker::{Outcome, Worker, WorkerConfig};

struct World {
    store: Arc<MemoryStore>,
    cloud: Arc<MemoryCloud>,
    events: Arc<RecordingEvents>,
    clock: Arc<ManualClock>,
    plane: ControlPlane,
    worker: Worker,
}

fn admin() -> Caller {
    Caller {
        id: "anna".into(),
        email: Some("anna@example.com".into()),
        groups: vec![ADMIN_GROUP.into()],
        via: Via::Api,
    }
}

fn world() -> World {
    world_with(StaticPlugins::default())
}

fn world_with(plugins: StaticPlugins) -> World {
    let store = Arc::new(MemoryStore::default());
    let cloud = Arc::new(MemoryCloud::default());
    let events = Arc::new(RecordingEvents::default());
    let plugins = Arc::new(plugins);
    let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 00:00 UTC)));
    let plane = ControlPlane::new(
        store.clone(),
        events.clone(),
        plugins.clone(),
        Arc::new(crate::memory::MemoryVpcs::default()),
        clock.clone(),
    );
    let worker =
        Worker::new(store.clone(), cloud.clone(), events.clone(), plugins, clock.clone(), WorkerConfig::default());
    World { store, cloud, events, clock, plane, worker }
}

fn name(raw: &str) -> Name {
    Name::parse("name", raw).unwrap()
}

fn new_tenant(tenant: &str, infrastructure: &str) -> NewTenant {
    NewTenant {
        name: tenant.into(),
        infrastructure: infrastructure.into(),
        tenant_type: None,
        settings: BTreeMap::new(),
        tags: BTreeMap::from([("team".into(), "blue".into())]),
        deletion_protection: None,
    }
}

async fn with_infrastructure(w: &World, infrastructure: &str, environment: Environment) {
    let request = NewInfrastructure {
        name: infrastructure.into(),
        region: "us-east-1".into(),
        vpc_id: "vpc-0a1b2c3d".into(),
        environment,
    };
    w.plane.create_infrastructure(&admin(), request).await.unwrap();
}

async fn active_tenant(w: &World, tenant: &str) {
    w.plane.create_tenant(&admin(), new_tenant(tenant, "nonprod"), None).await.unwrap();
    assert_eq!(w.worker.drive(&name(tenant), None).await.unwrap(), Outcome::Done(TenantState::Active));
}

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
async fn callers_outside_the_admin_group_are_refused() {
    let w = world();
    let developer = Caller { id: "john".into(), email: None, groups: vec!["developers".into()], via: Via::Api };
    let err = w.plane.list_tenants(&developer, None, None, None).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)));
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

/// Faults a step meets, in order, before it reaches the in-memory cloud.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Transient,
    Panic,
}

/// A cloud over [`MemoryCloud`] that plays a script of faults per kind of resource.
#[derive(Default)]
struct ScriptedCloud {
    inner: MemoryCloud,
    script: std::sync::Mutex<BTreeMap<ResourceKind, std::collections::VecDeque<Fault>>>,
    forever: std::sync::Mutex<Option<ResourceKind>>,
}

impl ScriptedCloud {
    fn then(&self, kind: ResourceKind, faults: &[Fault]) {
        self.script.lock().unwrap().entry(kind).or_default().extend(faults.iter().copied());
    }

    fn play(&self, kind: ResourceKind) -> Result<(), crate::ports::errors::CloudError> {
        if *self.forever.lock().unwrap() == Some(kind) {
            return Err(crate::ports::errors::CloudError::transient("CreateRole: Throttling: Rate exceeded"));
        }
        let next = self.script.lock().unwrap().get_mut(&kind).and_then(|faults| faults.pop_front());
        match next {
            Some(Fault::Transient) => Err(crate::ports::errors::CloudError::transient(format!(
                "{}: RequestLimitExceeded: Request limit exceeded.",
                kind.as_str()
            ))),
            Some(Fault::Panic) => panic!("a bug in the {} step", kind.as_str()),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl crate::ports::Cloud for ScriptedCloud {
    async fn ensure(
        &self,
        kind: ResourceKind,
        boundary: &crate::boundary::Boundary,
    ) -> Result<Vec<crate::tenant::ResourceRef>, crate::ports::errors::CloudError> {
        self.play(kind)?;
        self.inner.ensure(kind, boundary).await
    }

    async fn remove(
        &self,
        kind: ResourceKind,
        boundary: &crate::boundary::Boundary,
    ) -> Result<(), crate::ports::errors::CloudError> {
        self.play(kind)?;
        self.inner.remove(kind, boundary).await
    }

    async fn remaining(
        &self,
        boundary: &crate::boundary::Boundary,
    ) -> Result<crate::boundary::Remaining, crate::ports::errors::CloudError> {
        self.inner.remaining(boundary).await
    }
}

fn fast_config() -> WorkerConfig {
    WorkerConfig { backoff: std::time::Duration::from_millis(1), ..WorkerConfig::default() }
}

struct FaultWorld {
    store: Arc<MemoryStore>,
    cloud: Arc<ScriptedCloud>,
    clock: Arc<ManualClock>,
    plane: ControlPlane,
    worker: Worker,
}

async fn fault_world(plugins: Arc<dyn crate::ports::Plugins>) -> FaultWorld {
    let store = Arc::new(MemoryStore::default());
    let cloud = Arc::new(ScriptedCloud::default());
    let events = Arc::new(RecordingEvents::default());
    let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 00:00 UTC)));
    let plane = ControlPlane::new(
        store.clone(),
        events.clone(),
        plugins.clone(),
        Arc::new(crate::memory::MemoryVpcs::default()),
        clock.clone(),
    );
    let worker = Worker::new(store.clone(), cloud.clone(), events, plugins, clock.clone(), fast_config());
    let w = FaultWorld { store, cloud, clock, plane, worker };
    let request = NewInfrastructure {
        name: "nonprod".into(),
        region: "us-east-1".into(),
        vpc_id: "vpc-0a1b2c3d".into(),
        environment: Environment::Nonprod,
    };
    w.plane.create_infrastructure(&admin(), request).await.unwrap();
    w
}

#[tokio::test]
async fn a_passing_fault_is_retried_within_the_run_and_never_fails_the_tenant() {
    let w = fault_world(Arc::new(StaticPlugins::default())).await;
    w.cloud.then(ResourceKind::Role, &[Fault::Transient, Fault::Transient]);
    w.cloud.then(ResourceKind::InstanceProfile, &[Fault::Transient]);
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Active));
    let tenant = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert!(tenant.failure().is_none() && tenant.retrying().is_none() && tenant.attempts() == 0, "{tenant:?}");
}

#[tokio::test]
async fn a_fault_that_outlasts_the_run_saves_progress_frees_the_lease_and_is_retried_later() {
    let w = fault_world(Arc::new(StaticPlugins::default())).await;
    let tries = fast_config().step_attempts as usize;
    w.cloud.then(ResourceKind::Key, &vec![Fault::Transient; tries]);
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();

    let outcome = w.worker.drive(&name("dev"), None).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::RetryLater { step, error } if step == "key" && error.contains("RequestLimitExceeded")),
        "{outcome:?}"
    );
    let waiting = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(waiting.state(), TenantState::Provisioning);
    assert!(waiting.lease().is_none(), "the lease is freed for the next run");
    assert_eq!(waiting.retrying().as_ref().unwrap().step, "key");
    let key = waiting.resources().iter().find(|r| r.kind == ResourceKind::Key).unwrap();
    assert_eq!(key.reason, "Retrying");
    // The first round's progress is kept.
    assert!(waiting.resources().iter().find(|r| r.kind == ResourceKind::Role).unwrap().ready);

    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Active));
    let done = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert!(done.retrying().is_none() && done.failure().is_none());
}

#[tokio::test]
async fn a_tenant_that_keeps_failing_to_finish_is_failed_after_a_bounded_number_of_runs() {
    let w = fault_world(Arc::new(StaticPlugins::default())).await;
    *w.cloud.forever.lock().unwrap() = Some(ResourceKind::Role);
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    let max_runs = fast_config().max_runs;
    for _ in 0..max_runs {
        assert!(matches!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::RetryLater { .. }));
    }
    // The sweep picks it up once it has not moved for a lease, and gives up on it.
    w.clock.advance(Duration::minutes(10));
    let swept = w.worker.sweep().await.unwrap();
    assert_eq!(swept.len(), 1);
    let failed = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(failed.state(), TenantState::Failed);
    let failure = failed.failure().clone().unwrap();
    assert_eq!(failure.step, "role");
    assert!(
        failure.error.contains(&format!("gave up after {max_runs} runs")) && failure.error.contains("Throttling"),
        "{}",
        failure.error
    );
    assert!(failed.lease().is_none());

    // A failed tenant can always be deleted.
    *w.cloud.forever.lock().unwrap() = None;
    w.plane.delete_tenant(&admin(), "dev").await.unwrap();
    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Deleted));
}

#[tokio::test]
async fn a_worker_that_dies_mid_run_every_time_is_failed_by_the_sweep_not_looped_for_ever() {
    let w = fault_world(Arc::new(StaticPlugins::default())).await;
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    // Play a worker that claims the tenant and dies (a time-out, an out-of-memory kill).
    for _ in 0..=fast_config().max_runs {
        let mut tenant = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
        assert!(tenant.claim("dead", Duration::minutes(5), w.clock.now()));
        w.store.save_tenant(&tenant).await.unwrap();
        w.clock.advance(Duration::minutes(6));
    }
    w.worker.sweep().await.unwrap();
    let failed = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(failed.state(), TenantState::Failed);
    assert_eq!(failed.failure().as_ref().unwrap().step, "worker");
    assert!(failed.failure().clone().unwrap().error.contains("a crash or a time-out"));
}

#[tokio::test]
async fn a_panicking_step_fails_the_tenant_at_that_step_frees_the_lease_and_it_still_deletes() {
    let w = fault_world(Arc::new(StaticPlugins::default())).await;
    w.cloud.then(ResourceKind::Key, &[Fault::Panic]);
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    let outcome = w.worker.drive(&name("dev"), None).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Failed { step, error } if step == "key" && error.contains("panicked: a bug in the key step")),
        "{outcome:?}"
    );
    let failed = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(failed.state(), TenantState::Failed);
    assert!(failed.lease().is_none());

    w.plane.delete_tenant(&admin(), "dev").await.unwrap();
    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Deleted));
    assert!(w.cloud.inner.kinds_of("dev").is_empty());
}

/// A tenant type whose plugin call panics inside the host (a bug there, not a plugin trap).
struct PanickingPlugins(StaticPlugins);

#[async_trait::async_trait]
impl crate::ports::Plugins for PanickingPlugins {
    fn types(&self) -> Vec<crate::tenant_type::TenantTypeInfo> {
        self.0.types()
    }
    async fn validate(&self, tenant: &crate::tenant::Tenant) -> Result<(), crate::tenant_type::PluginFailure> {
        self.0.validate(tenant).await
    }
    async fn plan(
        &self,
        _: &crate::tenant::Tenant,
    ) -> Result<crate::tenant_type::Proposal, crate::tenant_type::PluginFailure> {
        panic!("the host tripped over the plan")
    }
    async fn on_delete(&self, tenant: &crate::tenant::Tenant) -> Result<(), crate::tenant_type::PluginFailure> {
        self.0.on_delete(tenant).await
    }
    async fn on_grant_access(
        &self,
        tenant: &crate::tenant::Tenant,
        grant: &crate::access::GrantRequest,
    ) -> Result<crate::access::GrantDecision, crate::tenant_type::PluginFailure> {
        self.0.on_grant_access(tenant, grant).await
    }
}

#[tokio::test]
async fn a_panic_while_planning_fails_the_tenant_at_the_plugin_step_and_it_still_deletes() {
    let typed = StaticType { plan: Plan::default(), required_setting: None, refuse_delete: false };
    let plugins = Arc::new(PanickingPlugins(StaticPlugins::default().with_type("lab", typed)));
    let w = fault_world(plugins).await;
    let mut request = new_tenant("dev", "nonprod");
    request.tenant_type = Some("lab".into());
    w.plane.create_tenant(&admin(), request, None).await.unwrap();
    let outcome = w.worker.drive(&name("dev"), None).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Failed { step, error } if step == "plugin" && error.contains("panicked")),
        "{outcome:?}"
    );
    assert!(w.cloud.inner.kinds_of("dev").is_empty(), "nothing reached the cloud");
    w.plane.delete_tenant(&admin(), "dev").await.unwrap();
    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Deleted));
}

/// Drives `tenants` until none is left waiting for a retry, as the queue or EventBridge would.
async fn drive_until_settled(worker: &Worker, tenants: &[String]) -> BTreeMap<String, Outcome> {
    let mut outcomes = BTreeMap::new();
    let mut pending: Vec<String> = tenants.to_vec();
    for _ in 0..20 {
        let runs = futures::future::join_all(
            pending.iter().map(|t| async move { (t.clone(), worker.drive(&name(t), None).await.unwrap()) }),
        )
        .await;
        pending.clear();
        for (tenant, outcome) in runs {
            if matches!(outcome, Outcome::RetryLater { .. }) {
                pending.push(tenant.clone());
            }
            outcomes.insert(tenant, outcome);
        }
        if pending.is_empty() {
            break;
        }
    }
    outcomes
}

#[tokio::test]
async fn a_hundred_tenants_at_once_under_twenty_percent_throttling_all_become_active_then_all_delete() {
    let store = Arc::new(MemoryStore::default());
    let memory = Arc::new(MemoryCloud::default());
    let faulty = Arc::new(crate::memory::FaultyCloud::new(memory.clone(), 0.20, 0.05, 42));
    let events = Arc::new(RecordingEvents::default());
    let plugins = Arc::new(StaticPlugins::default());
    let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 00:00 UTC)));
    let vpcs = Arc::new(crate::memory::MemoryVpcs::default());
    let plane = ControlPlane::new(store.clone(), events.clone(), plugins.clone(), vpcs, clock.clone());
    let worker = Worker::new(store.clone(), faulty.clone(), events, plugins, clock, fast_config());
    let request = NewInfrastructure {
        name: "nonprod".into(),
        region: "us-east-1".into(),
        vpc_id: "vpc-0a1b2c3d".into(),
        environment: Environment::Nonprod,
    };
    plane.create_infrastructure(&admin(), request).await.unwrap();
    let tenants: Vec<String> = (0..100).map(|i| format!("t{i:03}")).collect();
    for tenant in &tenants {
        plane.create_tenant(&admin(), new_tenant(tenant, "nonprod"), None).await.unwrap();
    }
    let created = drive_until_settled(&worker, &tenants).await;
    assert!(created.values().all(|o| *o == Outcome::Done(TenantState::Active)), "{created:?}");
    for tenant in &tenants {
        plane.delete_tenant(&admin(), tenant).await.unwrap();
    }
    let deleted = drive_until_settled(&worker, &tenants).await;
    assert!(deleted.values().all(|o| *o == Outcome::Done(TenantState::Deleted)), "{deleted:?}");
    assert!(tenants.iter().all(|t| memory.kinds_of(t).is_empty()), "nothing is left");
    assert!(faulty.injected() > 200, "the faults really happened: {}", faulty.injected());
}

#[tokio::test]
async fn the_in_memory_store_keeps_the_store_contract() {
    crate::contract::store_contract(|| async { MemoryStore::default() }).await;
}

#[tokio::test]
async fn the_in_memory_cloud_keeps_the_cloud_contract() {
    let infrastructure = crate::contract::infrastructure("nonprod");
    let tenant = crate::contract::tenant("dev", "nonprod", crate::contract::T0);
    let boundary = crate::boundary::Boundary::of(&tenant, &infrastructure, "contract");
    crate::contract::cloud_contract(&MemoryCloud::default(), &boundary).await;
}
