//! Tenant-to-tenant grants over the in-memory adapters: giving, listing from both sides,
//! revoking, expiry with the manual clock, deletion of either side, validation and hiding.

use time::Duration;

use super::*;
use crate::access::Role;
use crate::grant::{GrantRequest, GrantStatus, Ports};
use crate::ports::GrantStore;
use crate::service::AccessRequest;
use crate::worker::GrantOutcome;

fn user(id: &str) -> Caller {
    Caller { id: id.into(), email: None, groups: vec!["developers".into()], via: Via::Api, request_id: None }
}

fn network(to: &str, ports: serde_json::Value) -> GrantRequest {
    serde_json::from_value(serde_json::json!({ "toTenant": to, "protocol": "tcp", "ports": ports })).unwrap()
}

/// Two active tenants `alpha` and `beta` in `nonprod`, `gamma` in `prod`; `alice` admin of `alpha` only,
/// `bob` read-only on `beta` only.
async fn two_tenants() -> World {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    with_infrastructure(&w, "prod", Environment::Prod).await;
    active_tenant(&w, "alpha").await;
    active_tenant(&w, "beta").await;
    w.plane.create_tenant(&admin(), new_tenant("gamma", "prod"), None).await.unwrap();
    w.worker.drive(&name("gamma"), None).await.unwrap();
    let role = |role| AccessRequest { role, expires_at: None, email: None };
    w.plane.put_access(&admin(), "alpha", "alice", role(Role::Admin)).await.unwrap();
    w.plane.put_access(&admin(), "beta", "bob", role(Role::ReadOnly)).await.unwrap();
    w
}

#[tokio::test]
async fn a_grant_is_applied_listed_from_both_sides_and_revoked() {
    let w = two_tenants().await;
    let alice = user("alice");
    let grant = w.plane.create_grant(&alice, "alpha", network("beta", serde_json::json!("5432"))).await.unwrap();
    assert_eq!(grant.status, GrantStatus::Pending);
    assert_eq!(
        grant.kind,
        crate::grant::GrantKind::Network { protocol: "tcp".into(), ports: Ports { from: 5432, to: 5432 } }
    );
    assert!(w.events.detail_types().contains(&"Grant Apply Requested"));
    assert!(w.events.audit_detail_types().contains(&"Tenant Grant Created"));
    assert!(w.cloud.applied_grants().is_empty(), "nothing in the cloud before the lifecycle runs");

    assert_eq!(w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap(), GrantOutcome::Applied);
    assert_eq!(w.cloud.applied_grants(), vec![(grant.id, "alpha".to_string(), "beta".to_string())]);
    assert_eq!(w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap(), GrantOutcome::NothingToDo, "idempotent");

    // Alice sees it on a; Bob, a reader of b with no role on a, sees it on b.
    let on_a = w.plane.list_grants(&alice, "alpha").await.unwrap();
    let on_b = w.plane.list_grants(&user("bob"), "beta").await.unwrap();
    assert_eq!(on_a.len(), 1);
    assert_eq!(on_b, on_a);
    assert_eq!(on_b[0].status, GrantStatus::Applied);
    // Bob may not revoke it from b (it is a's), nor see a.
    assert!(matches!(
        w.plane.revoke_grant(&user("bob"), "beta", &grant.id.to_string()).await.unwrap_err(),
        Error::Forbidden(_)
    ));
    assert!(matches!(w.plane.list_grants(&user("bob"), "alpha").await.unwrap_err(), Error::NotFound { .. }));

    let revoked = w.plane.revoke_grant(&alice, "alpha", &grant.id.to_string()).await.unwrap();
    assert_eq!(revoked.status, GrantStatus::Removing);
    assert!(w.events.detail_types().contains(&"Grant Revoke Requested"));
    assert_eq!(w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap(), GrantOutcome::Removed);
    assert!(w.cloud.applied_grants().is_empty());
    assert!(w.plane.list_grants(&alice, "alpha").await.unwrap().is_empty());
    assert!(matches!(
        w.plane.revoke_grant(&alice, "alpha", &grant.id.to_string()).await.unwrap_err(),
        Error::NotFound { kind: "grant", .. }
    ));
    assert!(matches!(w.plane.revoke_grant(&alice, "alpha", "not-an-id").await.unwrap_err(), Error::NotFound { .. }));
}

#[tokio::test]
async fn a_passing_fault_leaves_the_grant_pending_for_the_next_try() {
    let w = two_tenants().await;
    let grant = w.plane.create_grant(&admin(), "alpha", network("beta", serde_json::json!(22))).await.unwrap();
    w.cloud.fail_grants(true);
    assert!(matches!(w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap(), GrantOutcome::RetryLater(_)));
    let stored = w.store.get_grant(&name("alpha"), grant.id).await.unwrap().unwrap();
    assert_eq!(stored.status, GrantStatus::Pending);
    assert!(stored.error.is_some());
    w.cloud.fail_grants(false);
    // The request's retries ran out: the sweep settles it.
    let swept = w.worker.sweep_grants().await.unwrap();
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].1, Ok(GrantOutcome::Applied));
    assert!(w.worker.sweep_grants().await.unwrap().is_empty(), "nothing left to settle");
    assert_eq!(w.store.get_grant(&name("alpha"), grant.id).await.unwrap().unwrap().error, None);
}

#[tokio::test]
async fn an_expired_grant_is_revoked_by_the_sweep_with_an_event() {
    let w = two_tenants().await;
    let mut request = network("beta", serde_json::json!({"from": 8000, "to": 8080}));
    request.expires_at = Some(w.clock.now() + Duration::hours(1));
    let grant = w.plane.create_grant(&admin(), "alpha", request).await.unwrap();
    w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap();
    assert_eq!(w.plane.sweep_expired_grants(10).await.unwrap(), 0, "not yet");
    assert_eq!(w.cloud.applied_grants().len(), 1);

    w.clock.advance(Duration::hours(1) + Duration::seconds(1));
    assert_eq!(w.plane.sweep_expired_grants(10).await.unwrap(), 1);
    assert!(w.events.audit_detail_types().contains(&"Tenant Grant Expired"));
    assert_eq!(w.plane.sweep_expired_grants(10).await.unwrap(), 0, "once");
    assert_eq!(w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap(), GrantOutcome::Removed);
    assert!(w.cloud.applied_grants().is_empty());
}

#[tokio::test]
async fn deleting_either_tenant_removes_its_grants_first() {
    for deleted in ["alpha", "beta"] {
        let w = two_tenants().await;
        let grant = w.plane.create_grant(&admin(), "alpha", network("beta", serde_json::json!(5432))).await.unwrap();
        w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap();
        // A second grant still pending: removed too.
        let pending = w.plane.create_grant(&admin(), "alpha", network("beta", serde_json::json!(6379))).await.unwrap();
        w.plane.delete_tenant(&admin(), deleted).await.unwrap();
        assert_eq!(
            w.worker.drive(&name(deleted), None).await.unwrap(),
            Outcome::Done(TenantState::Deleted),
            "{deleted}"
        );
        assert!(w.cloud.applied_grants().is_empty(), "{deleted}");
        assert!(w.store.list_grants(&name("alpha")).await.unwrap().is_empty(), "{deleted}");
        assert!(w.store.list_grants(&name("beta")).await.unwrap().is_empty(), "{deleted}");
        // The pending grant's late request finds nothing to do.
        assert_eq!(w.worker.settle_grant(&name("alpha"), pending.id).await.unwrap(), GrantOutcome::NothingToDo);
    }
}

#[tokio::test]
async fn without_revoking_first_the_other_group_would_hold_the_deletion() {
    // The memory cloud refuses, like EC2, to delete a group another group's rule names:
    // this is what the grants step avoids.
    let w = two_tenants().await;
    let grant = w.plane.create_grant(&admin(), "alpha", network("beta", serde_json::json!(5432))).await.unwrap();
    w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap();
    let infrastructure = crate::contract::infrastructure("nonprod");
    let b = w.store.get_tenant(&name("beta")).await.unwrap().unwrap();
    let boundary = crate::boundary::Boundary::of(&b, &infrastructure, "tenancy");
    use crate::ports::Cloud;
    assert!(w.cloud.remove(ResourceKind::SecurityGroup, &boundary).await.is_err());
}

#[tokio::test]
async fn grants_are_checked_and_hide_the_other_tenant() {
    let w = two_tenants().await;
    let alice = user("alice");
    let hidden = |to: &str| Error::NotFound { kind: "tenant", name: to.into() };
    // No such tenant, a tenant of another infrastructure: alike.
    assert_eq!(
        w.plane.create_grant(&alice, "alpha", network("nope", serde_json::json!(1))).await.unwrap_err(),
        hidden("nope")
    );
    assert_eq!(
        w.plane.create_grant(&alice, "alpha", network("gamma", serde_json::json!(1))).await.unwrap_err(),
        hidden("gamma")
    );
    assert_eq!(
        w.plane.create_grant(&alice, "alpha", network("NOT A NAME", serde_json::json!(1))).await.unwrap_err(),
        hidden("NOT A NAME")
    );
    for (request, field) in [
        (network("alpha", serde_json::json!(1)), "toTenant"),
        (network("beta", serde_json::json!(0)), "ports"),
        (network("beta", serde_json::json!({"from": 10, "to": 9})), "ports"),
        (
            serde_json::from_value(serde_json::json!({"toTenant": "beta", "protocol": "icmp", "ports": 1})).unwrap(),
            "protocol",
        ),
        (serde_json::from_value(serde_json::json!({"toTenant": "beta"})).unwrap(), "grant"),
    ] {
        match w.plane.create_grant(&alice, "alpha", request).await.unwrap_err() {
            Error::Invalid { field: got, .. } => assert_eq!(got, field),
            other => panic!("{field}: {other}"),
        }
    }
    // The same opening twice is refused.
    w.plane.create_grant(&alice, "alpha", network("beta", serde_json::json!(7))).await.unwrap();
    assert!(matches!(
        w.plane.create_grant(&alice, "alpha", network("beta", serde_json::json!("7"))).await.unwrap_err(),
        Error::Conflict { .. }
    ));
    let mut past = network("beta", serde_json::json!(1));
    past.expires_at = Some(w.clock.now());
    assert!(matches!(w.plane.create_grant(&alice, "alpha", past).await.unwrap_err(), Error::Invalid { .. }));
    // Bob reads b only: he cannot grant from b (read-only) nor tell a exists.
    assert!(matches!(
        w.plane.create_grant(&user("bob"), "beta", network("alpha", serde_json::json!(1))).await.unwrap_err(),
        Error::Forbidden(_)
    ));
    assert_eq!(
        w.plane.create_grant(&user("bob"), "alpha", network("beta", serde_json::json!(1))).await.unwrap_err(),
        Error::NotFound { kind: "tenant", name: "alpha".into() }
    );
    // The limit.
    for port in 100..99 + crate::grant::MAX_GRANTS_PER_TENANT {
        w.plane.create_grant(&alice, "alpha", network("beta", serde_json::json!(port))).await.unwrap();
    }
    assert!(matches!(
        w.plane.create_grant(&alice, "alpha", network("beta", serde_json::json!(9999))).await.unwrap_err(),
        Error::Conflict { .. }
    ));
    assert!(w.events.detail_types().iter().all(|t| *t != "Grant Revoke Requested"));
}

#[tokio::test]
async fn an_iam_grant_is_applied_and_revoked_like_a_network_one() {
    let w = two_tenants().await;
    let request: GrantRequest =
        serde_json::from_value(serde_json::json!({ "toTenant": "beta", "area": "kms", "access": "read" })).unwrap();
    let grant = w.plane.create_grant(&user("alice"), "alpha", request).await.unwrap();
    assert_eq!(w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap(), GrantOutcome::Applied);
    assert_eq!(w.plane.list_grants(&user("bob"), "beta").await.unwrap()[0].status, GrantStatus::Applied);
    w.plane.revoke_grant(&user("alice"), "alpha", &grant.id.to_string()).await.unwrap();
    assert_eq!(w.worker.settle_grant(&name("alpha"), grant.id).await.unwrap(), GrantOutcome::Removed);
    assert!(w.cloud.applied_grants().is_empty());
}
