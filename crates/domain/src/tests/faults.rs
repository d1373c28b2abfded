//! Faults in the cloud and panics in steps: retries, bounded runs and the sweep.

use super::*;

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
        Arc::new(crate::memory::DefaultPolicies),
        Arc::new(crate::memory::MemorySessions::new(clock.clone())),
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
    let typed =
        StaticType { plan: Plan::default(), required_setting: None, refuse_delete: false, expiry_setting: None };
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
    let plane = ControlPlane::new(
        store.clone(),
        events.clone(),
        plugins.clone(),
        vpcs,
        clock.clone(),
        Arc::new(crate::memory::DefaultPolicies),
        Arc::new(crate::memory::MemorySessions::new(clock.clone())),
    );
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
