//! The inventory route's rules and the daily drift sweep, over the in-memory cloud.

use super::*;
use crate::events::EventKind;
use crate::inventory::DriftKind;
use crate::memory::MemoryInventory;
use crate::metadata::tag_keys;

const DEPLOYMENT: &str = "tenancy";

fn with_inventory(w: World) -> (World, Arc<MemoryInventory>) {
    let inventory = Arc::new(MemoryInventory::default());
    let plane = w.plane.clone().with_inventory(inventory.clone(), DEPLOYMENT);
    (World { plane, ..w }, inventory)
}

fn stranger() -> Caller {
    Caller { id: "mallory".into(), email: None, groups: vec![], via: Via::Api, request_id: None }
}

async fn mirrored(w: &World, inventory: &MemoryInventory, tenant: &str) -> crate::tenant::Tenant {
    active_tenant(w, tenant).await;
    let tenant = w.store.get_tenant(&name(tenant)).await.unwrap().unwrap();
    inventory.mirror(&tenant, DEPLOYMENT);
    tenant
}

fn arn_of(tenant: &crate::tenant::Tenant, kind: ResourceKind) -> String {
    tenant.resources().iter().find(|r| r.kind == kind).unwrap().arn.clone().unwrap()
}

#[tokio::test]
async fn a_reader_sees_every_resource_and_no_drift_on_a_tenant_as_made() {
    let (w, inventory) = with_inventory(world());
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    mirrored(&w, &inventory, "dev").await;
    let report = w.plane.tenant_inventory(&admin(), "dev").await.unwrap();
    assert_eq!(report.resources.len(), 4);
    assert!(report.drift_judged);
    assert_eq!(report.drift, vec![]);
    assert_eq!(report.checked_at, w.clock.now());
}

#[tokio::test]
async fn a_caller_who_may_not_read_the_tenant_is_told_it_does_not_exist_and_the_cloud_is_not_asked() {
    let (w, inventory) = with_inventory(world());
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    mirrored(&w, &inventory, "dev").await;
    let hidden = w.plane.tenant_inventory(&stranger(), "dev").await.unwrap_err();
    let missing = w.plane.tenant_inventory(&stranger(), "nope").await.unwrap_err();
    assert_eq!(hidden.to_string(), missing.to_string().replace("nope", "dev"));
    assert!(matches!(hidden, Error::NotFound { .. }));
    assert_eq!(inventory.calls(), 0);
}

#[tokio::test]
async fn a_cloud_that_does_not_answer_is_unavailable_never_drift() {
    let (w, inventory) = with_inventory(world());
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    mirrored(&w, &inventory, "dev").await;
    inventory.fail(true);
    assert!(matches!(w.plane.tenant_inventory(&admin(), "dev").await, Err(Error::Unavailable(_))));
}

#[tokio::test]
async fn without_an_inventory_the_route_says_the_deployment_has_none() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let error = w.plane.tenant_inventory(&admin(), "dev").await.unwrap_err();
    assert!(error.to_string().contains("no inventory"), "{error}");
}

#[tokio::test]
async fn the_sweep_announces_each_drifted_tenant_with_its_items_and_only_those() {
    let (w, inventory) = with_inventory(world());
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    let drifted = mirrored(&w, &inventory, "dev").await;
    mirrored(&w, &inventory, "ok").await;
    inventory.untag(&arn_of(&drifted, ResourceKind::SecurityGroup), tag_keys::TENANT);
    inventory.delete(&arn_of(&drifted, ResourceKind::Key));

    let sweep = w.plane.sweep_drift(1000).await.unwrap();
    assert_eq!((sweep.checked, sweep.drifted.clone(), sweep.unchecked, sweep.more), (2, vec!["dev".into()], 0, false));
    let events: Vec<_> = w.events.published().into_iter().filter(|e| e.kind == EventKind::DriftDetected).collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind.detail_type(), "Tenant Drift Detected");
    assert_eq!(events[0].tenant.as_deref(), Some("dev"));
    let kinds: Vec<&str> =
        events[0].detail["drift"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, [DriftKind::MissingTags.as_str(), DriftKind::Missing.as_str()]);
    assert_eq!(events[0].detail["driftCount"], 2);
    assert!(events[0].detail["drift"][0]["remedy"].as_str().unwrap().contains("PATCH"));
}

#[tokio::test]
async fn the_sweep_stops_at_its_bound_and_says_more_tenants_wait() {
    let (w, inventory) = with_inventory(world());
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    for tenant in ["a1", "a2", "a3"] {
        mirrored(&w, &inventory, tenant).await;
    }
    let sweep = w.plane.sweep_drift(2).await.unwrap();
    assert_eq!((sweep.checked, sweep.more), (2, true));
    let sweep = w.plane.sweep_drift(3).await.unwrap();
    assert_eq!((sweep.checked, sweep.more), (3, false));
}

#[tokio::test]
async fn a_tenant_the_cloud_cannot_be_read_for_is_left_for_the_next_sweep() {
    let (w, inventory) = with_inventory(world());
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    mirrored(&w, &inventory, "dev").await;
    inventory.fail(true);
    let sweep = w.plane.sweep_drift(100).await.unwrap();
    assert_eq!((sweep.checked, sweep.unchecked, sweep.drifted.len()), (0, 1, 0));
    assert!(w.events.published().iter().all(|e| e.kind != EventKind::DriftDetected));
}

#[tokio::test]
async fn tenants_in_an_operation_are_not_judged_by_the_sweep() {
    let (w, inventory) = with_inventory(world());
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    let sweep = w.plane.sweep_drift(100).await.unwrap();
    assert_eq!((sweep.checked, sweep.unchecked), (0, 0));
    assert_eq!(inventory.calls(), 0);
}
