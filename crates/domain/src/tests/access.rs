//! Roles on tenants: who sees and does what, expiry at the instant, hiding, the sweep and
//! the trail.

use time::Duration;

use super::*;
use crate::access::Role;
use crate::service::AccessRequest;

fn user(id: &str) -> Caller {
    Caller {
        id: id.into(),
        email: None,
        groups: vec!["developers".into()],
        via: Via::Api,
        request_id: Some(format!("req-{id}")),
    }
}

fn role(role: Role) -> AccessRequest {
    AccessRequest { role, expires_at: None, email: None }
}

#[tokio::test]
async fn someone_without_a_role_cannot_tell_a_tenant_from_no_tenant() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let eve = user("eve");
    let existing = w.plane.get_tenant(&eve, "dev").await.unwrap_err();
    let missing = w.plane.get_tenant(&eve, "nope").await.unwrap_err();
    assert_eq!(existing, Error::NotFound { kind: "tenant", name: "dev".into() });
    assert_eq!(missing, Error::NotFound { kind: "tenant", name: "nope".into() });
    for err in [
        w.plane.delete_tenant(&eve, "dev").await.unwrap_err(),
        w.plane.retry_tenant(&eve, "dev").await.unwrap_err(),
        w.plane.update_tenant(&eve, "dev", TenantPatch::default(), None).await.unwrap_err(),
        w.plane.list_access(&eve, "dev").await.map(|_| ()).unwrap_err(),
        w.plane.put_access(&eve, "dev", "eve", role(Role::Admin)).await.map(|_| ()).unwrap_err(),
        w.plane.delete_access(&eve, "dev", "eve").await.unwrap_err(),
        w.plane.tenant_history(&eve, "dev", None, None).await.map(|_| ()).unwrap_err(),
    ] {
        assert!(matches!(err, Error::NotFound { kind: "tenant", .. }), "{err}");
    }
    assert!(w.plane.list_tenants(&eve, None, None, None).await.unwrap().items.is_empty());
    assert!(matches!(w.plane.list_infrastructures(&eve, None, None).await.unwrap_err(), Error::Forbidden(_)));
    let dev = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(dev.state(), TenantState::Active, "nothing changed");
}

#[tokio::test]
async fn each_role_does_what_it_names_and_no_more() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    active_tenant(&w, "other").await;
    for (id, given) in [("ro", Role::ReadOnly), ("us", Role::User), ("ad", Role::Admin)] {
        w.plane.put_access(&admin(), "dev", id, role(given)).await.unwrap();
    }
    let (ro, us, ad) = (user("ro"), user("us"), user("ad"));
    for caller in [&ro, &us, &ad] {
        assert_eq!(w.plane.get_tenant(caller, "dev").await.unwrap().name().as_str(), "dev");
        assert_eq!(w.plane.list_access(caller, "dev").await.unwrap().len(), 3);
        let listed = w.plane.list_tenants(caller, None, None, None).await.unwrap();
        assert_eq!(listed.items.iter().map(|t| t.name().as_str()).collect::<Vec<_>>(), ["dev"], "only their tenant");
        assert!(matches!(w.plane.get_tenant(caller, "other").await.unwrap_err(), Error::NotFound { .. }));
    }
    for caller in [&ro, &us] {
        let err = w.plane.update_tenant(caller, "dev", TenantPatch::default(), None).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "a role that may read is told 403: {err}");
        let err = w.plane.put_access(caller, "dev", "mallory", role(Role::Admin)).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err}");
    }
    let patch = TenantPatch { deletion_protection: Some(true), ..TenantPatch::default() };
    assert!(w.plane.update_tenant(&ad, "dev", patch, None).await.unwrap().deletion_protection());
    w.plane.put_access(&ad, "dev", "carol", role(Role::ReadOnly)).await.unwrap();
    w.plane.delete_access(&ad, "dev", "carol").await.unwrap();
    assert!(matches!(w.plane.delete_access(&ad, "dev", "carol").await.unwrap_err(), Error::NotFound { .. }));
    let me = w.plane.me(&us, None, None).await.unwrap();
    assert_eq!(me.tenants.len(), 1);
    assert_eq!((me.tenants[0].name.as_str(), me.tenants[0].role), ("dev", Role::User));
    assert!(!me.platform_admin);
}

#[tokio::test]
async fn access_ends_at_its_instant_and_the_sweep_removes_it_with_an_event() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let end = w.clock.now() + Duration::hours(1);
    let request = AccessRequest { role: Role::ReadOnly, expires_at: Some(end), email: None };
    w.plane.put_access(&admin(), "dev", "contractor", request).await.unwrap();
    let contractor = user("contractor");
    w.clock.advance(Duration::minutes(59));
    w.plane.get_tenant(&contractor, "dev").await.unwrap();
    w.clock.advance(Duration::minutes(1));
    assert!(matches!(w.plane.get_tenant(&contractor, "dev").await.unwrap_err(), Error::NotFound { .. }));
    assert!(w.plane.list_tenants(&contractor, None, None, None).await.unwrap().items.is_empty());
    assert!(w.plane.me(&contractor, None, None).await.unwrap().tenants.is_empty());
    assert_eq!(w.plane.list_access(&admin(), "dev").await.unwrap().len(), 1, "listed until swept");
    w.clock.advance(Duration::seconds(1));
    assert_eq!(w.plane.sweep_expired_access(100).await.unwrap(), 1);
    assert!(w.plane.list_access(&admin(), "dev").await.unwrap().is_empty());
    assert!(w.events.audit_detail_types().contains(&"Tenant Access Expired"));
    assert_eq!(w.plane.sweep_expired_access(100).await.unwrap(), 0);
    let past = AccessRequest { role: Role::ReadOnly, expires_at: Some(w.clock.now()), email: None };
    let err = w.plane.put_access(&admin(), "dev", "late", past).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "expiresAt"), "{err}");
}

#[tokio::test]
async fn access_to_a_deleted_tenant_gives_nothing_on_a_new_one_of_the_same_name() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    w.plane.put_access(&admin(), "dev", "old", role(Role::Admin)).await.unwrap();
    w.plane.delete_tenant(&admin(), "dev").await.unwrap();
    w.worker.drive(&name("dev"), None).await.unwrap();
    let left = crate::ports::AccessList::list_tenant_access(w.store.as_ref(), &name("dev")).await.unwrap();
    assert!(left.is_empty(), "the deleted tenant's entries are removed: {left:?}");
    active_tenant(&w, "dev").await;
    let old = user("old");
    assert!(matches!(w.plane.get_tenant(&old, "dev").await.unwrap_err(), Error::NotFound { .. }));
    assert!(w.plane.list_tenants(&old, None, None, None).await.unwrap().items.is_empty());
    assert!(w.plane.list_access(&admin(), "dev").await.unwrap().is_empty());
}

#[tokio::test]
async fn every_change_is_in_the_tenant_history_newest_first_with_its_request() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    w.plane.put_access(&admin(), "dev", "bob", role(Role::User)).await.unwrap();
    let bob = user("bob");
    let history = w.plane.tenant_history(&bob, "dev", None, None).await.unwrap();
    let actions: Vec<_> = history.items.iter().map(|e| e.action.detail_type()).collect();
    assert_eq!(actions, ["Tenant Access Granted", "Tenant Operation Succeeded", "Tenant Created"]);
    assert_eq!(history.items[0].detail["user"], "bob");
    let first = w.plane.tenant_history(&bob, "dev", Some(1), None).await.unwrap();
    assert_eq!(first.items.len(), 1);
    let second = w.plane.tenant_history(&bob, "dev", Some(1), first.next_cursor).await.unwrap();
    assert_eq!(second.items[0].action.detail_type(), "Tenant Operation Succeeded");
    assert_eq!(second.items[0].detail["state"], "active");
    w.plane.put_access(&admin(), "dev", "bob", role(Role::Admin)).await.unwrap();
    w.plane.update_tenant(&bob, "dev", TenantPatch::default(), None).await.unwrap();
    let latest = w.plane.tenant_history(&admin(), "dev", Some(1), None).await.unwrap();
    assert_eq!(latest.items[0].actor.request_id.as_deref(), Some("req-bob"));
}

#[tokio::test]
async fn an_entry_given_for_an_email_goes_only_to_a_caller_whose_token_carries_it() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let stated = AccessRequest { role: Role::Admin, expires_at: None, email: Some("joe@acme.com".into()) };
    w.plane.put_access(&admin(), "dev", "joe", stated).await.unwrap();
    let mut joe = user("joe");
    assert!(matches!(w.plane.get_tenant(&joe, "dev").await.unwrap_err(), Error::NotFound { .. }), "no e-mail");
    joe.email = Some("joe@evil.com".into());
    assert!(matches!(w.plane.get_tenant(&joe, "dev").await.unwrap_err(), Error::NotFound { .. }), "another one");
    assert!(w.plane.list_tenants(&joe, None, None, None).await.unwrap().items.is_empty());
    joe.email = Some("Joe@ACME.com".into());
    w.plane.get_tenant(&joe, "dev").await.unwrap();
    let bad = AccessRequest { role: Role::User, expires_at: None, email: Some("not an address".into()) };
    let err = w.plane.put_access(&admin(), "dev", "kim", bad).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "email"), "{err}");
}

#[tokio::test]
async fn an_admin_through_an_entry_passes_on_no_more_than_it_gives_them() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let end = w.clock.now() + Duration::days(7);
    let contractor = AccessRequest { role: Role::Admin, expires_at: Some(end), email: None };
    w.plane.put_access(&admin(), "dev", "cora", contractor).await.unwrap();
    let cora = user("cora");
    let forever = w.plane.put_access(&cora, "dev", "cora", role(Role::Admin)).await.unwrap_err();
    assert!(matches!(forever, Error::Forbidden(_)), "not their own entry: {forever}");
    let err = w.plane.put_access(&cora, "dev", "friend", role(Role::Admin)).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "expiresAt"), "no end: {err}");
    let later = AccessRequest { role: Role::User, expires_at: Some(end + Duration::days(1)), email: None };
    assert!(w.plane.put_access(&cora, "dev", "friend", later).await.is_err(), "beyond their own end");
    let within = AccessRequest { role: Role::User, expires_at: Some(end), email: None };
    w.plane.put_access(&cora, "dev", "friend", within).await.unwrap();
    // A platform admin is bound by no entry.
    w.plane.put_access(&admin(), "dev", "friend", role(Role::User)).await.unwrap();
}

#[tokio::test]
async fn a_later_tenant_of_a_name_shows_its_users_nothing_of_the_earlier_ones_history() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    w.plane.put_access(&admin(), "dev", "old", role(Role::Admin)).await.unwrap();
    w.plane.delete_tenant(&admin(), "dev").await.unwrap();
    w.worker.drive(&name("dev"), None).await.unwrap();
    w.clock.advance(Duration::seconds(1));
    active_tenant(&w, "dev").await;
    let dev = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    w.plane.put_access(&admin(), "dev", "new", role(Role::ReadOnly)).await.unwrap();
    let seen = w.plane.tenant_history(&user("new"), "dev", Some(100), None).await.unwrap();
    assert!(!seen.items.is_empty());
    assert!(
        seen.items.iter().all(|e| matches!(e.subject, crate::audit::Subject::Tenant { id, .. } if id == dev.id())),
        "{:?}",
        seen.items
    );
    let everything = w.plane.tenant_history(&admin(), "dev", Some(100), None).await.unwrap();
    assert!(everything.items.len() > seen.items.len(), "platform admins see every tenant of the name");
}
