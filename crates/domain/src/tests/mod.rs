//! Behaviour of the service and the worker over the in-memory adapters.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::{Duration, macros::datetime};

use crate::access::{ADMIN_GROUP, Caller, Via};
use crate::error::{ConflictReason, Error};
use crate::infrastructure::Environment;
use crate::memory::{
    ManualClock, MemoryCloud, MemorySessions, MemoryStore, RecordingEvents, StaticPlugins, StaticType,
};
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
    sessions: Arc<MemorySessions>,
    plane: ControlPlane,
    worker: Worker,
}

fn admin() -> Caller {
    Caller {
        id: "anna".into(),
        email: Some("anna@example.com".into()),
        groups: vec![ADMIN_GROUP.into()],
        via: Via::Api,
        request_id: None,
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
    let sessions = Arc::new(MemorySessions::new(clock.clone()));
    let plane = ControlPlane::new(
        store.clone(),
        events.clone(),
        plugins.clone(),
        Arc::new(crate::memory::MemoryVpcs::default()),
        clock.clone(),
        Arc::new(crate::memory::DefaultPolicies),
        sessions.clone(),
    );
    let worker =
        Worker::new(store.clone(), cloud.clone(), events.clone(), plugins, clock.clone(), WorkerConfig::default());
    World { store, cloud, events, clock, sessions, plane, worker }
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
        expires_at: None,
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

mod access;
mod credentials;
mod expiry;
mod faults;
mod grants;
mod inventory;
mod service;
mod types;

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

#[tokio::test]
async fn the_worker_reports_each_step_and_the_end_of_each_operation_to_the_metrics() {
    use crate::memory::{MetricReport, RecordingMetrics};
    use crate::metrics::{OperationReport, StepResult};
    use crate::tenant::{Operation, Step};

    let mut w = world();
    let metrics = Arc::new(RecordingMetrics::default());
    w.worker = w.worker.clone().with_metrics(metrics.clone());
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;

    let reports = metrics.reports();
    let steps: Vec<(Operation, Step, StepResult)> = reports
        .iter()
        .filter_map(|r| match r {
            MetricReport::Step(s) if s.tenant == "dev" && s.tenant_type == "default" => {
                Some((s.operation, s.step, s.result))
            }
            _ => None,
        })
        .collect();
    let mut kinds: Vec<&str> = steps.iter().map(|(_, step, _)| step.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["instanceProfile", "key", "role", "securityGroup"]);
    assert!(steps.iter().all(|(op, _, result)| *op == Operation::Create && *result == StepResult::Succeeded));
    assert_eq!(
        reports.last(),
        Some(&MetricReport::Operation(OperationReport {
            tenant: "dev".into(),
            tenant_type: "default".into(),
            operation: Operation::Create,
            failed_at: None,
        }))
    );

    w.plane.delete_tenant(&admin(), "dev").await.unwrap();
    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Deleted));
    let ended: Vec<OperationReport> = metrics
        .reports()
        .into_iter()
        .filter_map(|r| match r {
            MetricReport::Operation(o) => Some(o),
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), 2);
    assert_eq!((ended[1].operation, ended[1].failed_at), (Operation::Delete, None));
}

#[tokio::test]
async fn a_failed_step_is_reported_as_failed_and_so_is_the_operation() {
    use crate::memory::{MetricReport, RecordingMetrics};
    use crate::metrics::StepResult;
    use crate::tenant::{Operation, Step};

    let mut w = world();
    let metrics = Arc::new(RecordingMetrics::default());
    w.worker = w.worker.clone().with_metrics(metrics.clone());
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    w.cloud.fail_on(Some(ResourceKind::Key));
    assert!(matches!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Failed { .. }));

    let reports = metrics.reports();
    let key = Step::Resource(ResourceKind::Key);
    assert!(
        reports.iter().any(|r| matches!(r, MetricReport::Step(s) if s.step == key && s.result == StepResult::Failed))
    );
    let Some(MetricReport::Operation(ended)) = reports.last() else { panic!("no end reported: {reports:?}") };
    assert_eq!((ended.operation, ended.failed_at), (Operation::Create, Some(key)));
}
