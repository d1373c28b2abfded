//! Tenants' ends: set, checked, warned of, swept.

use time::OffsetDateTime;

use serde_json::json;

use super::*;
use crate::audit::tenant_trail;
use crate::paging::PageRequest;
use crate::ports::AuditLog;

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

fn ending(tenant: &str, end: OffsetDateTime) -> NewTenant {
    NewTenant { expires_at: Some(end), ..new_tenant(tenant, "nonprod") }
}

fn patch(json: serde_json::Value) -> TenantPatch {
    serde_json::from_value(json).unwrap()
}

/// A world whose `per-client` type keeps the end in its `expires` setting.
fn typed_world() -> World {
    let per_client = StaticType {
        plan: Plan::default(),
        required_setting: None,
        refuse_delete: false,
        expiry_setting: Some("expires".into()),
    };
    world_with(StaticPlugins::default().with_type("per-client", per_client))
}

fn per_client(tenant: &str, expires: Option<&str>) -> NewTenant {
    let settings = expires.map(|date| BTreeMap::from([("expires".to_string(), date.to_string())])).unwrap_or_default();
    NewTenant { tenant_type: Some("per-client".into()), settings, ..new_tenant(tenant, "nonprod") }
}

async fn sweep(w: &World) -> crate::service::ExpirySweep {
    w.plane.sweep_expiring_tenants(100).await.unwrap()
}

async fn active_ending(w: &World, tenant: &str, end: OffsetDateTime) {
    w.plane.create_tenant(&admin(), ending(tenant, end), None).await.unwrap();
    assert_eq!(w.worker.drive(&name(tenant), None).await.unwrap(), Outcome::Done(TenantState::Active));
}

fn count(w: &World, detail_type: &str) -> usize {
    w.events.detail_types().iter().filter(|d| **d == detail_type).count()
}

#[tokio::test]
async fn an_end_given_at_creation_is_kept_and_shown() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    let end = at("2026-03-01T12:00:00Z");
    let created = w.plane.create_tenant(&admin(), ending("dev", end), None).await.unwrap();
    assert_eq!(created.tenant.expires_at(), Some(end));
    assert_eq!(serde_json::to_value(&created.tenant).unwrap()["expiresAt"], "2026-03-01T12:00:00Z");
    let stored = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(stored.expires_at(), Some(end));
}

#[tokio::test]
async fn an_end_in_the_past_or_more_than_five_years_ahead_is_refused() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    let now = w.clock.now();
    for end in [now, now - Duration::days(1), now + Duration::days(5 * 365 + 2)] {
        let err = w.plane.create_tenant(&admin(), ending("dev", end), None).await.unwrap_err();
        assert!(matches!(&err, Error::Invalid { field, .. } if field == "expiresAt"), "{err}");
    }
    assert!(w.store.get_tenant(&name("dev")).await.unwrap().is_none());
}

#[tokio::test]
async fn patch_sets_extends_and_clears_the_end_and_checks_only_a_new_one() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let set = patch(json!({ "expiresAt": "2026-02-01T00:00:00Z" }));
    let set = w.plane.update_tenant(&admin(), "dev", set, None).await.unwrap();
    assert_eq!(set.expires_at(), Some(at("2026-02-01T00:00:00Z")));
    let past = patch(json!({ "expiresAt": "2025-12-31T00:00:00Z" }));
    let past = w.plane.update_tenant(&admin(), "dev", past, None).await.unwrap_err();
    assert!(matches!(past, Error::Invalid { field, .. } if field == "expiresAt"));
    // Other changes do not check the end again: it was checked when it was set.
    w.clock.advance(Duration::days(40));
    let tags = patch(json!({ "tags": { "team": "red" } }));
    let changed = w.plane.update_tenant(&admin(), "dev", tags, None).await.unwrap();
    assert_eq!(changed.expires_at(), Some(at("2026-02-01T00:00:00Z")));
    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Active));
    let cleared = w.plane.update_tenant(&admin(), "dev", patch(json!({ "expiresAt": null })), None).await.unwrap();
    assert_eq!(cleared.expires_at(), None);
    assert!(serde_json::from_value::<TenantPatch>(json!({ "expiresAt": "tomorrow" })).is_err());
    assert_eq!(patch(json!({})).expires_at, None, "absent is no change");
}

#[tokio::test]
async fn the_sweep_warns_once_ahead_then_deletes_the_ended_tenant_as_tenancy() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    let end = w.clock.now() + Duration::days(10);
    active_ending(&w, "dev", end).await;
    assert_eq!(sweep(&w).await, Default::default(), "ten days ahead: not yet within the week");
    w.clock.advance(Duration::days(4));
    assert_eq!(sweep(&w).await.warned, 1);
    assert_eq!(sweep(&w).await.warned, 0, "once");
    w.clock.advance(Duration::days(1));
    sweep(&w).await;
    assert_eq!(count(&w, "Tenant Expiring"), 1);

    w.clock.advance(Duration::days(5) + Duration::seconds(1));
    assert_eq!(sweep(&w).await.expired, 1);
    let tenant = w.store.get_tenant(&name("dev")).await.unwrap().unwrap();
    assert_eq!(tenant.state(), TenantState::Deleting);
    assert_eq!(tenant.requested_by().id, "tenancy");
    assert_eq!(w.events.detail_types().last(), Some(&"Tenant Delete Requested"));
    assert!(w.events.audit_detail_types().contains(&"Tenant Expired"));
    let page = PageRequest { limit: 10, cursor: None };
    let newest = w.store.history(&tenant_trail(&name("dev")), None, &page).await.unwrap().items.remove(0);
    assert_eq!((newest.action, newest.actor.id.as_str()), (crate::audit::AuditAction::TenantExpired, "tenancy"));

    assert_eq!(w.worker.drive(&name("dev"), None).await.unwrap(), Outcome::Done(TenantState::Deleted));
    assert!(w.cloud.kinds_of("dev").is_empty());
    assert_eq!(sweep(&w).await, Default::default(), "a deleted tenant is out of the index");
}

#[tokio::test]
async fn a_tenant_that_ends_before_it_was_warned_is_deleted_without_a_warning() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    // No warning configured: the window is empty.
    let plane = w.plane.clone().with_expiry_warning_days(0);
    active_ending(&w, "dev", w.clock.now() + Duration::days(2)).await;
    assert_eq!(plane.sweep_expiring_tenants(100).await.unwrap(), Default::default());
    w.clock.advance(Duration::days(3));
    assert_eq!(plane.sweep_expiring_tenants(100).await.unwrap().expired, 1);
    assert_eq!(count(&w, "Tenant Expiring"), 0);
}

#[tokio::test]
async fn deletion_protection_keeps_an_ended_tenant_and_is_reported_daily_until_turned_off() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_ending(&w, "shop", w.clock.now() + Duration::hours(2)).await;
    let protect = patch(json!({ "deletionProtection": true }));
    w.plane.update_tenant(&admin(), "shop", protect, None).await.unwrap();
    w.clock.advance(Duration::hours(3));
    assert_eq!(sweep(&w).await.blocked, 1);
    w.clock.advance(Duration::minutes(5));
    assert_eq!(sweep(&w).await.blocked, 0, "not every five minutes");
    assert_eq!(w.store.get_tenant(&name("shop")).await.unwrap().unwrap().state(), TenantState::Active);
    w.clock.advance(Duration::days(1));
    assert_eq!(sweep(&w).await.blocked, 1, "again the next day");
    assert_eq!(count(&w, "Tenant Expiry Blocked"), 2);
    assert_eq!(count(&w, "Tenant Expiring"), 0, "ended before any sweep could warn");

    let unprotect = patch(json!({ "deletionProtection": false }));
    w.plane.update_tenant(&admin(), "shop", unprotect, None).await.unwrap();
    w.clock.advance(Duration::minutes(5));
    assert_eq!(sweep(&w).await.expired, 1, "the next sweep, not the next day");
}

#[tokio::test]
async fn a_new_end_is_warned_of_again() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_ending(&w, "dev", w.clock.now() + Duration::days(3)).await;
    assert_eq!(sweep(&w).await.warned, 1);
    let later = (w.clock.now() + Duration::days(20)).format(&time::format_description::well_known::Rfc3339).unwrap();
    w.plane.update_tenant(&admin(), "dev", patch(json!({ "expiresAt": later })), None).await.unwrap();
    assert_eq!(sweep(&w).await.warned, 0);
    w.clock.advance(Duration::days(14));
    assert_eq!(sweep(&w).await.warned, 1);
    assert_eq!(count(&w, "Tenant Expiring"), 2);
}

#[tokio::test]
async fn a_type_with_an_expiry_setting_ends_its_tenants_at_the_end_of_that_day() {
    let w = typed_world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    let created = w.plane.create_tenant(&admin(), per_client("acme", Some("2026-06-30")), None).await.unwrap();
    assert_eq!(created.tenant.expires_at(), Some(at("2026-06-30T23:59:59Z")));
    // Both, saying the same, are accepted.
    let same = NewTenant { expires_at: Some(at("2026-06-30T23:59:59Z")), ..per_client("same", Some("2026-06-30")) };
    w.plane.create_tenant(&admin(), same, None).await.unwrap();
    assert_eq!(w.worker.drive(&name("acme"), None).await.unwrap(), Outcome::Done(TenantState::Active));
    // Moving the setting moves the end.
    let moved = patch(json!({ "settings": { "expires": "2026-09-30" } }));
    let moved = w.plane.update_tenant(&admin(), "acme", moved, None).await.unwrap();
    assert_eq!(moved.expires_at(), Some(at("2026-09-30T23:59:59Z")));
}

#[tokio::test]
async fn a_type_with_an_expiry_setting_refuses_no_end_a_bad_date_and_a_conflicting_end() {
    let w = typed_world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    let cases = [
        (per_client("aa", None), "settings.expires"),
        (per_client("bb", Some("2026-02-30")), "settings.expires"),
        (per_client("cc", Some("2025-12-31")), "expiresAt"),
        (
            NewTenant { expires_at: Some(at("2026-06-30T12:00:00Z")), ..per_client("dd", Some("2026-06-30")) },
            "expiresAt",
        ),
    ];
    for (request, expected) in cases {
        let err = w.plane.create_tenant(&admin(), request, None).await.unwrap_err();
        assert!(matches!(&err, Error::Invalid { field, .. } if field == expected), "{expected}: {err}");
    }
    w.plane.create_tenant(&admin(), per_client("acme", Some("2026-06-30")), None).await.unwrap();
    assert_eq!(w.worker.drive(&name("acme"), None).await.unwrap(), Outcome::Done(TenantState::Active));
    for (body, expected) in [
        (json!({ "expiresAt": null }), "expiresAt"),
        (json!({ "expiresAt": "2026-08-01T00:00:00Z" }), "expiresAt"),
        (json!({ "settings": { "expires": null } }), "settings.expires"),
    ] {
        let err = w.plane.update_tenant(&admin(), "acme", patch(body.clone()), None).await.unwrap_err();
        assert!(matches!(&err, Error::Invalid { field, .. } if field == expected), "{body}: {err}");
    }
}
