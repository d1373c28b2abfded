//! Just-in-time credentials: who gets them, for which role, with which names and tags, and
//! the record each issuance leaves.

use time::Duration;

use super::*;
use crate::access::Role;
use crate::audit::AuditAction;
use crate::credentials::{TENANT_TAG, USER_TAG};
use crate::service::AccessRequest;

fn user(id: &str) -> Caller {
    Caller { id: id.into(), email: None, groups: vec![], via: Via::Api, request_id: Some(format!("req-{id}")) }
}

fn give(role: Role, expires_at: Option<time::OffsetDateTime>) -> AccessRequest {
    AccessRequest { role, expires_at, email: None }
}

async fn role_arn(w: &World, tenant: &str) -> String {
    let tenant = w.store.get_tenant(&name(tenant)).await.unwrap().unwrap();
    tenant.resources().iter().find(|r| r.kind == ResourceKind::Role).unwrap().arn.clone().unwrap()
}

#[tokio::test]
async fn a_user_and_an_admin_get_a_session_of_the_tenant_role_named_and_tagged_after_them() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    w.plane.put_access(&admin(), "dev", "us", give(Role::User, None)).await.unwrap();
    w.plane.put_access(&admin(), "dev", "anna smith|ad", give(Role::Admin, None)).await.unwrap();
    let arn = role_arn(&w, "dev").await;
    let now = w.clock.now();

    let session = w.plane.issue_credentials(&user("us"), "dev").await.unwrap();
    assert_eq!(session.expiration, now + Duration::hours(1), "the default lasts an hour");
    let session = w.plane.issue_credentials(&user("anna smith|ad"), "dev").await.unwrap();
    assert!(session.access_key_id.starts_with("ASIA"));
    let platform = w.plane.issue_credentials(&admin(), "dev").await.unwrap();
    assert!(platform.access_key_id.starts_with("ASIA"));

    let requests = w.sessions.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.role_arn == arn && r.duration_seconds == 3600));
    assert_eq!(requests[0].session_name, "us");
    assert_eq!(requests[0].tags, [(TENANT_TAG.into(), "dev".into()), (USER_TAG.into(), "us".into())]);
    // A user id STS would refuse is made to fit, and stays told apart by its hash.
    assert!(requests[1].session_name.starts_with("anna_smith_ad."), "{}", requests[1].session_name);
    assert!(crate::credentials::is_session_name(&requests[1].session_name));
    assert!(requests[1].tags[1].1.starts_with("anna smith_ad."), "{:?}", requests[1].tags);
    assert_eq!(requests[2].session_name, "anna");
}

#[tokio::test]
async fn every_issuance_is_in_the_history_and_on_the_bus_without_the_secret() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    w.plane.put_access(&admin(), "dev", "us", give(Role::User, None)).await.unwrap();
    let session = w.plane.issue_credentials(&user("us"), "dev").await.unwrap();
    let history = w.plane.tenant_history(&admin(), "dev", None, None).await.unwrap();
    let entry = &history.items[0];
    assert_eq!(entry.action, AuditAction::CredentialsIssued);
    assert_eq!(entry.actor.id, "us");
    assert_eq!(entry.detail["user"], "us");
    assert_eq!(entry.detail["roleArn"], role_arn(&w, "dev").await.as_str());
    assert_eq!(entry.detail["sessionName"], "us");
    let expiration = session.expiration.format(&time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(entry.detail["expiration"], expiration.as_str());
    let text = serde_json::to_string(entry).unwrap();
    assert!(!text.contains(&session.secret_access_key) && !text.contains(&session.session_token), "{text}");
    assert_eq!(w.events.audit_detail_types().last(), Some(&"Tenant Credentials Issued"));
}

#[tokio::test]
async fn read_only_is_told_403_and_outsiders_and_ended_access_404_and_nothing_is_issued() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    active_tenant(&w, "other").await;
    let soon = w.clock.now() + Duration::minutes(5);
    w.plane.put_access(&admin(), "dev", "ro", give(Role::ReadOnly, None)).await.unwrap();
    w.plane.put_access(&admin(), "dev", "gone", give(Role::Admin, Some(soon))).await.unwrap();
    w.plane.put_access(&admin(), "other", "eve", give(Role::Admin, None)).await.unwrap();
    w.clock.advance(Duration::minutes(5));
    let err = w.plane.issue_credentials(&user("ro"), "dev").await.unwrap_err();
    assert!(matches!(&err, Error::Forbidden(message) if message.contains("read-only")), "{err}");
    for caller in ["gone", "eve", "nobody"] {
        let err = w.plane.issue_credentials(&user(caller), "dev").await.unwrap_err();
        assert_eq!(err, Error::NotFound { kind: "tenant", name: "dev".into() }, "{caller}");
    }
    let err = w.plane.issue_credentials(&user("eve"), "nosuch").await.unwrap_err();
    assert_eq!(err, Error::NotFound { kind: "tenant", name: "nosuch".into() });
    assert!(w.sessions.requests().is_empty());
    let history = w.plane.tenant_history(&admin(), "dev", None, None).await.unwrap();
    assert!(history.items.iter().all(|e| e.action != AuditAction::CredentialsIssued));
}

#[tokio::test]
async fn a_tenant_without_its_role_answers_409() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    w.plane.create_tenant(&admin(), new_tenant("dev", "nonprod"), None).await.unwrap();
    let err = w.plane.issue_credentials(&admin(), "dev").await.unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { reason: ConflictReason::State, message } if message.contains("provisioning"))
    );
    assert!(w.sessions.requests().is_empty());
}

#[tokio::test]
async fn a_role_that_refuses_is_a_503_naming_the_fix_and_no_issuance_is_recorded() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    w.sessions.refuse(&role_arn(&w, "dev").await);
    let err = w.plane.issue_credentials(&admin(), "dev").await.unwrap_err();
    assert!(matches!(&err, Error::Unavailable(message) if message.contains("trust")), "{err}");
    let history = w.plane.tenant_history(&admin(), "dev", None, None).await.unwrap();
    assert!(history.items.iter().all(|e| e.action != AuditAction::CredentialsIssued));
}

#[tokio::test]
async fn the_session_lasts_the_configured_time() {
    let w = world();
    with_infrastructure(&w, "nonprod", Environment::Nonprod).await;
    active_tenant(&w, "dev").await;
    let plane = w.plane.clone().with_session_seconds(900);
    let session = plane.issue_credentials(&admin(), "dev").await.unwrap();
    assert_eq!(session.expiration, w.clock.now() + Duration::minutes(15));
    assert_eq!(w.sessions.requests()[0].duration_seconds, 900);
}
