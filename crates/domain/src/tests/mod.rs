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
