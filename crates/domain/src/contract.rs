//! Contract suites: what every adapter of a port must do, written once and run against
//! each adapter — the in-memory ones in this crate's unit tests, the DynamoDB and AWS ones
//! on the emulator in the integration tests — so that a fake and the real thing cannot
//! disagree without a test failing.
//!
//! Each case starts from an empty store it is given; a failing case panics naming itself.

use std::collections::BTreeMap;
use std::future::Future;

use time::{Duration, OffsetDateTime, macros::datetime};

use crate::access::{Caller, Via};
use crate::boundary::Boundary;
use crate::idempotency::IdempotencyRecord;
use crate::infrastructure::{Environment, Infrastructure};
use crate::names::Name;
use crate::paging::PageRequest;
use crate::ports::errors::StoreError;
use crate::ports::{Cloud, Store};
use crate::tenant::{ExpiryStage, Operation, Requester, ResourceKind, Tenant, TenantState};
use crate::worker::{DELETE_ROUNDS, PROVISION_ROUNDS};

/// The time every case starts at.
pub const T0: OffsetDateTime = datetime!(2026-11-01 12:00 UTC);

fn name(text: &str) -> Name {
    Name::parse("name", text).expect("a valid name")
}

/// An infrastructure record as the API makes one.
pub fn infrastructure(text: &str) -> Infrastructure {
    Infrastructure {
        name: name(text),
        region: "us-east-1".into(),
        vpc_id: "vpc-0123456789abcdef0".into(),
        environment: Environment::Nonprod,
        cidr_blocks: vec!["10.0.0.0/16".into()],
        tenant_count: 0,
        created_at: T0,
        created_by: "contract".into(),
    }
}

fn requester(at: OffsetDateTime) -> Requester {
    let caller = Caller { id: "contract".into(), email: None, groups: vec![], via: Via::Api, request_id: None };
    Requester::from_caller(&caller, at)
}

/// A new tenant of `infrastructure`, as the API records one at `at`.
pub fn tenant(text: &str, infrastructure: &str, at: OffsetDateTime) -> Tenant {
    Tenant::new(
        name(text),
        name(infrastructure),
        Environment::Nonprod,
        "default".into(),
        BTreeMap::new(),
        BTreeMap::from([("team".to_string(), "contract".to_string())]),
        false,
        requester(at),
        at,
    )
}

/// Runs every store case, each against a fresh store from `fresh`.
pub async fn store_contract<S, F, Fut>(fresh: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    infrastructures_are_created_once_listed_in_order_and_deleted_when_empty(&fresh().await).await;
    tenants_count_in_their_infrastructure_and_names_are_unique(&fresh().await).await;
    saves_are_conditional_on_the_version_read_and_the_store_bumps_it(&fresh().await).await;
    a_deleted_tenant_is_final_frees_its_name_and_leaves_listings(&fresh().await).await;
    idempotency_records_are_written_with_the_tenant(&fresh().await).await;
    stalled_tenants_are_the_transitional_ones_not_written_since(&fresh().await).await;
    tenants_with_an_end_are_found_by_stage_and_instant(&fresh().await).await;
    pages_follow_cursors_and_foreign_cursors_are_refused(&fresh().await).await;
    grants_are_found_from_both_sides_and_when_ended(&fresh().await).await;
}

async fn grants_are_found_from_both_sides_and_when_ended(store: &dyn Store) {
    use crate::grant::{Grant, GrantKind, GrantStatus, Ports};
    let grant = |from: &str, to: &str, expires_at: Option<OffsetDateTime>| Grant {
        id: uuid::Uuid::new_v4(),
        from_tenant: name(from),
        from_tenant_id: uuid::Uuid::new_v4(),
        to_tenant: name(to),
        to_tenant_id: uuid::Uuid::new_v4(),
        kind: GrantKind::Network { protocol: "tcp".into(), ports: Ports { from: 5432, to: 5432 } },
        status: GrantStatus::Pending,
        error: None,
        expires_at,
        created_by: "anna".into(),
        created_at: T0,
    };
    let given = grant("web", "db", Some(T0 + Duration::hours(1)));
    let taken = grant("api", "web", None);
    let unrelated = grant("api", "db", Some(T0 + Duration::hours(2)));
    for g in [&given, &taken, &unrelated] {
        store.put_grant(g, None).await.unwrap();
    }
    assert_eq!(store.put_grant(&given, None).await, Err(StoreError::Stale { current: 0 }), "an id is given once");
    assert_eq!(
        store.put_grant(&given, Some(GrantStatus::Applied)).await,
        Err(StoreError::Stale { current: 0 }),
        "only over the status read"
    );
    assert_eq!(store.get_grant(&name("web"), given.id).await.unwrap(), Some(given.clone()), "reads back as written");
    assert_eq!(store.get_grant(&name("db"), given.id).await.unwrap(), None, "found under its granting tenant only");
    assert_eq!(store.list_grants(&name("web")).await.unwrap(), [given.clone(), taken.clone()], "given, then taken");
    assert_eq!(store.list_grants(&name("db")).await.unwrap().len(), 2);

    assert!(store.expired_grants(T0 + Duration::minutes(59), 10).await.unwrap().is_empty());
    let ended = store.expired_grants(T0 + Duration::hours(3), 10).await.unwrap();
    assert_eq!(ended, [given.clone(), unrelated.clone()], "soonest first");
    let mut removing = given.clone();
    removing.status = GrantStatus::Removing;
    store.put_grant(&removing, Some(GrantStatus::Pending)).await.unwrap();
    assert_eq!(
        store.expired_grants(T0 + Duration::hours(3), 10).await.unwrap(),
        std::slice::from_ref(&unrelated),
        "not twice"
    );
    assert_eq!(store.get_grant(&name("web"), given.id).await.unwrap().map(|g| g.status), Some(GrantStatus::Removing));

    let mut applied = taken.clone();
    applied.status = GrantStatus::Applied;
    store.put_grant(&applied, Some(GrantStatus::Pending)).await.unwrap();
    let mut unsettled: Vec<uuid::Uuid> = store.unsettled_grants(10).await.unwrap().iter().map(|g| g.id).collect();
    unsettled.sort();
    let mut expected = vec![given.id, unrelated.id];
    expected.sort();
    assert_eq!(unsettled, expected, "pending and removing ones, not applied ones");
    store.delete_grant(&name("web"), given.id).await.unwrap();
    store.delete_grant(&name("web"), given.id).await.unwrap();
    assert_eq!(store.list_grants(&name("web")).await.unwrap(), [applied]);
}

async fn infrastructures_are_created_once_listed_in_order_and_deleted_when_empty(store: &dyn Store) {
    for text in ["prod", "dev", "nonprod"] {
        store.create_infrastructure(&infrastructure(text)).await.expect("created");
    }
    assert_eq!(store.create_infrastructure(&infrastructure("dev")).await, Err(StoreError::NameTaken));
    let stored = store.get_infrastructure(&name("dev")).await.unwrap().expect("stored");
    assert_eq!(stored, infrastructure("dev"), "an infrastructure reads back as written");
    assert_eq!(store.get_infrastructure(&name("missing")).await, Ok(None));

    let page = store.list_infrastructures(&PageRequest { limit: 10, cursor: None }).await.unwrap();
    let names: Vec<_> = page.items.iter().map(|i| i.name.to_string()).collect();
    assert_eq!(names, ["dev", "nonprod", "prod"], "listed in name order");
    assert_eq!(page.next_cursor, None, "no cursor after the last page");

    store.create_tenant(&tenant("web", "dev", T0), None).await.unwrap();
    assert_eq!(store.delete_infrastructure(&name("dev")).await, Err(StoreError::InfrastructureInUse));
    assert_eq!(store.delete_infrastructure(&name("missing")).await, Err(StoreError::NotFound));
    store.delete_infrastructure(&name("prod")).await.expect("an empty infrastructure is deleted");
    assert_eq!(store.get_infrastructure(&name("prod")).await, Ok(None));
}

async fn tenants_count_in_their_infrastructure_and_names_are_unique(store: &dyn Store) {
    store.create_infrastructure(&infrastructure("dev")).await.unwrap();
    let web = tenant("web", "dev", T0);
    store.create_tenant(&web, None).await.expect("created");
    assert_eq!(store.get_tenant(&name("web")).await.unwrap().as_ref(), Some(&web), "reads back as written");
    assert_eq!(store.get_tenant(&name("web")).await.unwrap().map(|t| t.version()), Some(1));
    assert_eq!(store.get_infrastructure(&name("dev")).await.unwrap().map(|i| i.tenant_count), Some(1));

    let again = tenant("web", "dev", T0);
    assert_eq!(store.create_tenant(&again, None).await, Err(StoreError::NameTaken), "a live name is taken");
    let elsewhere = tenant("api", "missing", T0);
    assert_eq!(store.create_tenant(&elsewhere, None).await, Err(StoreError::InfrastructureMissing));
    assert_eq!(store.get_tenant(&name("api")).await, Ok(None), "a refused create writes nothing");
    assert_eq!(store.get_infrastructure(&name("dev")).await.unwrap().map(|i| i.tenant_count), Some(1));
}

async fn saves_are_conditional_on_the_version_read_and_the_store_bumps_it(store: &dyn Store) {
    store.create_infrastructure(&infrastructure("dev")).await.unwrap();
    store.create_tenant(&tenant("web", "dev", T0), None).await.unwrap();
    let read = store.get_tenant(&name("web")).await.unwrap().unwrap();

    let mut first = read.clone();
    assert!(first.claim("worker-1", Duration::minutes(5), T0 + Duration::seconds(1)));
    let saved = store.save_tenant(&first).await.expect("the version read is current");
    assert_eq!(saved.version(), read.version() + 1, "the store writes the next version");
    assert_eq!(store.get_tenant(&name("web")).await.unwrap().as_ref(), Some(&saved), "reads back as saved");

    let mut late = read.clone();
    assert!(late.claim("worker-2", Duration::minutes(5), T0 + Duration::seconds(2)));
    assert_eq!(
        store.save_tenant(&late).await,
        Err(StoreError::Stale { current: saved.version() }),
        "a write on an old version does not land, and says which is current"
    );
    assert!(store.get_tenant(&name("web")).await.unwrap().unwrap().is_claimed_by("worker-1"));

    let mut next = saved.clone();
    next.release(T0 + Duration::seconds(3));
    assert_eq!(store.save_tenant(&next).await.map(|t| t.version()), Ok(saved.version() + 1));

    let ghost = tenant("ghost", "dev", T0);
    assert_eq!(store.save_tenant(&ghost).await, Err(StoreError::NotFound), "saving is not creating");
}

/// Drives a stored tenant through `finish` of its pending operation and saves it.
async fn finish(store: &dyn Store, text: &str, at: OffsetDateTime) -> Tenant {
    let mut tenant = store.get_tenant(&name(text)).await.unwrap().expect("stored");
    tenant.finish(Vec::new(), at).expect("an operation was pending");
    store.save_tenant(&tenant).await.expect("saved")
}

async fn a_deleted_tenant_is_final_frees_its_name_and_leaves_listings(store: &dyn Store) {
    store.create_infrastructure(&infrastructure("dev")).await.unwrap();
    store.create_tenant(&tenant("web", "dev", T0), None).await.unwrap();
    let mut active = finish(store, "web", T0 + Duration::seconds(1)).await;
    assert_eq!(active.state(), TenantState::Active);
    active.request(Operation::Delete, requester(T0 + Duration::seconds(2))).unwrap();
    store.save_tenant(&active).await.unwrap();
    let deleted = finish(store, "web", T0 + Duration::seconds(3)).await;
    assert_eq!(deleted.state(), TenantState::Deleted);
    assert_eq!(
        store.get_infrastructure(&name("dev")).await.unwrap().map(|i| i.tenant_count),
        Some(0),
        "a deleted tenant stops counting in the same write"
    );

    let mut after = deleted.clone();
    after.progressed(T0 + Duration::seconds(4));
    assert_eq!(
        store.save_tenant(&after).await,
        Err(StoreError::Stale { current: deleted.version() }),
        "a deleted record is final"
    );
    let everything = PageRequest { limit: 10, cursor: None };
    assert!(store.list_tenants(None, &everything).await.unwrap().items.is_empty(), "deleted tenants are not listed");

    let again = tenant("web", "dev", T0 + Duration::seconds(5));
    store.create_tenant(&again, None).await.expect("a deleted tenant's name is free again");
    assert_eq!(store.get_tenant(&name("web")).await.unwrap().map(|t| t.id()), Some(again.id()));
    assert_eq!(store.get_infrastructure(&name("dev")).await.unwrap().map(|i| i.tenant_count), Some(1));

    // A worker still holding the earlier incarnation, once the new one reached its version.
    let mut new = again.clone();
    while new.version() < active.version() {
        new.progressed(T0 + Duration::seconds(6));
        new = store.save_tenant(&new).await.unwrap();
    }
    assert_eq!(new.version(), active.version());
    let mut stale = active.clone();
    stale.progressed(T0 + Duration::seconds(7));
    assert_eq!(
        store.save_tenant(&stale).await,
        Err(StoreError::Stale { current: new.version() }),
        "a write for an earlier tenant of the same name never lands on a later one"
    );
}

async fn idempotency_records_are_written_with_the_tenant(store: &dyn Store) {
    store.create_infrastructure(&infrastructure("dev")).await.unwrap();
    let web = tenant("web", "dev", T0);
    let record = IdempotencyRecord {
        key: "k-1".into(),
        request: "{}".into(),
        tenant: web.clone(),
        expires_at: T0 + Duration::hours(24),
    };
    store.create_tenant(&web, Some(&record)).await.unwrap();
    assert_eq!(store.get_idempotency("k-1").await, Ok(Some(record.clone())));
    assert_eq!(store.get_idempotency("k-2").await, Ok(None));

    let api = tenant("api", "dev", T0 + Duration::seconds(1));
    let reused = IdempotencyRecord { tenant: api.clone(), ..record.clone() };
    assert_eq!(store.create_tenant(&api, Some(&reused)).await, Err(StoreError::IdempotencyKeyTaken));
    assert_eq!(store.get_tenant(&name("api")).await, Ok(None), "nothing of a refused create is written");

    let later = tenant("api", "dev", T0 + Duration::hours(25));
    let expired_key = IdempotencyRecord { tenant: later.clone(), expires_at: T0 + Duration::hours(49), ..record };
    store.create_tenant(&later, Some(&expired_key)).await.expect("an expired key may be used again");
}

async fn stalled_tenants_are_the_transitional_ones_not_written_since(store: &dyn Store) {
    store.create_infrastructure(&infrastructure("dev")).await.unwrap();
    for (text, minute) in [("old", 0), ("older", -5), ("fresh", 30)] {
        store.create_tenant(&tenant(text, "dev", T0 + Duration::minutes(minute)), None).await.unwrap();
    }
    store.create_tenant(&tenant("done", "dev", T0 - Duration::minutes(10)), None).await.unwrap();
    finish(store, "done", T0 - Duration::minutes(9)).await;

    let before = T0 + Duration::minutes(10);
    let stalled = store.stalled_tenants(before, 10).await.unwrap();
    assert_eq!(stalled, [name("older"), name("old")], "transitional, quiet since before, oldest first");
    assert_eq!(store.stalled_tenants(before, 1).await.unwrap(), [name("older")], "at most the limit");
}

async fn tenants_with_an_end_are_found_by_stage_and_instant(store: &dyn Store) {
    store.create_infrastructure(&infrastructure("dev")).await.unwrap();
    let names = |found: Vec<Tenant>| found.iter().map(|t| t.name().to_string()).collect::<Vec<_>>();
    // (name, end in days from T0)
    for (text, days) in [("late", 9), ("soon", 2), ("sooner", 1), ("warned", 3), ("endless", 0), ("busy", 1)] {
        store.create_tenant(&tenant(text, "dev", T0), None).await.unwrap();
        if text == "busy" {
            // Still provisioning: not watched until it is active.
            let mut busy = store.get_tenant(&name(text)).await.unwrap().unwrap();
            busy.set_expiry(Some(T0 + Duration::days(days)));
            store.save_tenant(&busy).await.unwrap();
            continue;
        }
        let mut active = finish(store, text, T0).await;
        if days > 0 {
            active.set_expiry(Some(T0 + Duration::days(days)));
            if text == "warned" {
                active.mark_expiry_warned(true, T0);
            }
            store.save_tenant(&active).await.unwrap();
        }
    }
    let ahead = store.expiring_tenants(ExpiryStage::Ahead, T0 + Duration::days(5), 10).await.unwrap();
    assert_eq!(names(ahead), ["sooner", "soon"], "not warned, ending before, soonest first");
    let ahead = store.expiring_tenants(ExpiryStage::Ahead, T0 + Duration::days(30), 1).await.unwrap();
    assert_eq!(names(ahead), ["sooner"], "at most the limit");
    let due = store.expiring_tenants(ExpiryStage::Due, T0 + Duration::days(5), 10).await.unwrap();
    assert_eq!(names(due), ["warned"], "warned ones are due at their end");
    assert!(store.expiring_tenants(ExpiryStage::Due, T0 + Duration::days(3), 10).await.unwrap().is_empty());

    // Reported as kept by deletion protection: due again a day later, then not at all once deleting.
    let mut kept = store.get_tenant(&name("warned")).await.unwrap().unwrap();
    kept.mark_expiry_blocked(true, T0 + Duration::days(4));
    let kept = store.save_tenant(&kept).await.unwrap();
    assert!(store.expiring_tenants(ExpiryStage::Due, T0 + Duration::days(5), 10).await.unwrap().is_empty());
    let due = store.expiring_tenants(ExpiryStage::Due, T0 + Duration::days(5) + Duration::seconds(1), 10);
    assert_eq!(names(due.await.unwrap()), ["warned"]);
    let mut deleting = kept;
    deleting.request(Operation::Delete, requester(T0 + Duration::days(6))).unwrap();
    store.save_tenant(&deleting).await.unwrap();
    assert!(store.expiring_tenants(ExpiryStage::Due, T0 + Duration::days(30), 10).await.unwrap().is_empty());
    // An end cleared leaves the index.
    let mut cleared = store.get_tenant(&name("late")).await.unwrap().unwrap();
    cleared.set_expiry(None);
    store.save_tenant(&cleared).await.unwrap();
    let ahead = store.expiring_tenants(ExpiryStage::Ahead, T0 + Duration::days(30), 10).await.unwrap();
    assert_eq!(names(ahead), ["sooner", "soon"]);
}

async fn pages_follow_cursors_and_foreign_cursors_are_refused(store: &dyn Store) {
    for text in ["dev", "prod"] {
        store.create_infrastructure(&infrastructure(text)).await.unwrap();
    }
    for (text, infra) in [("alpha", "dev"), ("bravo", "prod"), ("charlie", "dev"), ("delta", "dev"), ("echo", "prod")] {
        store.create_tenant(&tenant(text, infra, T0), None).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_tenants(None, &PageRequest { limit: 2, cursor }).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|t| t.name().to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(seen.len() <= 5, "cursors end");
    }
    assert_eq!(seen, ["alpha", "bravo", "charlie", "delta", "echo"], "every tenant once, in name order");

    let dev = store.list_tenants(Some(&name("dev")), &PageRequest { limit: 10, cursor: None }).await.unwrap();
    let names: Vec<_> = dev.items.iter().map(|t| t.name().to_string()).collect();
    assert_eq!(names, ["alpha", "charlie", "delta"], "only the infrastructure's tenants");

    for forged in ["not a cursor", "eyJwayI6eyJTIjoiVEVOQU5UI3oifX0", ""] {
        let page = PageRequest { limit: 2, cursor: Some(forged.to_string()) };
        assert_eq!(store.list_tenants(None, &page).await, Err(StoreError::BadCursor), "cursor {forged:?}");
    }
}

/// Runs the cloud cases against `cloud` for `boundary`, a tenant with nothing in the cloud
/// yet: ensuring is idempotent, removing is idempotent, and `remaining` tells the two apart.
pub async fn cloud_contract(cloud: &dyn Cloud, boundary: &Boundary) {
    let left = cloud.remaining(boundary).await.expect("remaining");
    assert!(left.owned.is_empty(), "nothing before provisioning: {:?}", left.owned);

    let mut first = Vec::new();
    for round in PROVISION_ROUNDS {
        for kind in round {
            first.extend(cloud.ensure(*kind, boundary).await.unwrap_or_else(|e| panic!("ensure {kind}: {e}")));
        }
    }
    let kinds: Vec<_> = first.iter().map(|r| r.kind).collect();
    for kind in ResourceKind::ALL {
        assert!(kinds.contains(&kind), "ensure made a {kind}");
    }
    let mut second = Vec::new();
    for round in PROVISION_ROUNDS {
        for kind in round {
            second.extend(cloud.ensure(*kind, boundary).await.expect("ensure again"));
        }
    }
    assert_eq!(first, second, "ensuring again makes nothing new and reports the same resources");

    let left = cloud.remaining(boundary).await.expect("remaining");
    for kind in ResourceKind::ALL {
        assert!(left.owned.iter().any(|r| r.kind == kind), "remaining reports the {kind}: {:?}", left.owned);
    }

    for _ in 0..2 {
        for round in DELETE_ROUNDS {
            for kind in round {
                cloud
                    .remove(*kind, boundary)
                    .await
                    .unwrap_or_else(|e| panic!("remove {kind} (twice is harmless): {e}"));
            }
        }
    }
    let left = cloud.remaining(boundary).await.expect("remaining");
    assert!(left.owned.is_empty(), "nothing owned is left after removal: {:?}", left.owned);
}
