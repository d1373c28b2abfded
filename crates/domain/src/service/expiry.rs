//! Tenants' ends: what a request asks for (`expiresAt`, or a type's expiry setting), and
//! the sweep that warns ahead of an end, deletes ended tenants and reports those that
//! deletion protection keeps.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{ControlPlane, unavailable};
use crate::access::Via;
use crate::audit::{Actor, AuditAction, AuditEntry, Subject};
use crate::error::Error;
use crate::events::{EventKind, LifecycleEvent};
use crate::ports::errors::StoreError;
use crate::tenant::{self, ExpiryStage, Operation, Requester, Tenant};

/// What one sweep did about tenants' ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpirySweep {
    /// `Tenant Expiring` warnings published.
    pub warned: usize,
    /// Ended tenants whose deletion was asked for (`Tenant Expired`).
    pub expired: usize,
    /// Ended tenants kept by deletion protection, reported (`Tenant Expiry Blocked`).
    pub blocked: usize,
}

/// An end as the audit trail and events show it.
pub(super) fn shown(at: Option<OffsetDateTime>) -> Option<String> {
    at.and_then(|at| at.format(&Rfc3339).ok())
}

/// What the sweep decided for one tenant.
enum Verdict {
    Warn,
    Expire,
    Block,
}

impl ControlPlane {
    /// The end a tenant of `tenant_type` with `settings` asks for, given `expiresAt` as the
    /// request has it (`None`: absent, `Some(None)`: cleared). A type that declares an
    /// expiry setting derives the end from it (Tenancy reads the date, never the plugin),
    /// requires it, and refuses an `expiresAt` that says otherwise.
    pub(super) fn asked_expiry(
        &self,
        tenant_type: &str,
        settings: &BTreeMap<String, String>,
        given: Option<Option<OffsetDateTime>>,
    ) -> Result<Option<OffsetDateTime>, Error> {
        let declared = self.plugins.types().into_iter().find(|t| t.name == tenant_type).and_then(|t| t.expiry_setting);
        let Some(key) = declared else {
            return Ok(given.flatten());
        };
        let field = format!("settings.{key}");
        let Some(date) = settings.get(&key) else {
            return Err(Error::invalid(
                &field,
                format!(
                    "a '{tenant_type}' tenant must end: set '{key}' to a date YYYY-MM-DD (it ends at the end of that day, UTC)"
                ),
            ));
        };
        let derived = tenant::expiry::end_of_day(&field, date)?;
        match given {
            Some(None) => Err(Error::invalid(
                "expiresAt",
                format!("a '{tenant_type}' tenant must end; change its end with the setting '{key}' instead"),
            )),
            Some(Some(at)) if at != derived => Err(Error::invalid(
                "expiresAt",
                format!(
                    "{} conflicts with the setting '{key}' ({date}), which ends the tenant at {}; give one of them, \
                     or both saying the same",
                    shown(Some(at)).unwrap_or_default(),
                    shown(Some(derived)).unwrap_or_default()
                ),
            )),
            _ => Ok(Some(derived)),
        }
    }

    /// The scheduled sweep of tenants' ends, at most `limit` of each stage per run:
    /// - a tenant within the warning window of its end gets one `Tenant Expiring` (per end);
    /// - an ended tenant's deletion is asked for as `DELETE /v1/tenants/{name}` would,
    ///   by Tenancy itself, recorded in its history and published as `Tenant Expired`;
    /// - an ended tenant under deletion protection is kept and reported (`Tenant Expiry
    ///   Blocked`) at most once a day, and at once again when its end changes or the
    ///   protection goes off (which lets the next sweep delete it).
    ///
    /// Tenants come from an index query of what is due (see [`tenant::expiry`]), and each is
    /// read again before anything is done to it. A tenant that changed meanwhile is left
    /// to the next sweep; one the store failed on does not stop the others, and the first
    /// such failure is answered once the rest are done.
    pub async fn sweep_expiring_tenants(&self, limit: u32) -> Result<ExpirySweep, Error> {
        let now = self.clock.now();
        let ahead = self.store.expiring_tenants(ExpiryStage::Ahead, now + self.expiry_warning, limit).await;
        let due = self.store.expiring_tenants(ExpiryStage::Due, now, limit).await;
        let mut failure = None;
        let mut done = ExpirySweep::default();
        let listed = [ahead, due].into_iter().filter_map(|found| found.map_err(|e| failure.get_or_insert(e)).ok());
        let listed: Vec<Tenant> = listed.flatten().collect();
        for listed in listed {
            match self.settle_expiry(listed.name(), now).await {
                Ok(Some(Verdict::Warn)) => done.warned += 1,
                Ok(Some(Verdict::Expire)) => done.expired += 1,
                Ok(Some(Verdict::Block)) => done.blocked += 1,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(tenant = %listed.name(), %error, "expiry not settled; the next sweep tries again");
                    failure.get_or_insert(error);
                }
            }
        }
        match failure {
            Some(error) => Err(unavailable(error)),
            None => Ok(done),
        }
    }

    /// Reads the tenant as stored and does what its end asks now, if anything.
    async fn settle_expiry(
        &self,
        name: &crate::names::Name,
        now: OffsetDateTime,
    ) -> Result<Option<Verdict>, StoreError> {
        let Some(mut tenant) = self.store.get_tenant(name).await? else { return Ok(None) };
        let (Some(watch), Some(ends)) = (tenant.expiry_watch(), tenant.expires_at()) else { return Ok(None) };
        let verdict = if watch.at <= now {
            if tenant.deletion_protection() { Verdict::Block } else { Verdict::Expire }
        } else if watch.stage == ExpiryStage::Ahead && ends <= now + self.expiry_warning {
            Verdict::Warn
        } else {
            return Ok(None);
        };
        match verdict {
            Verdict::Warn => tenant.mark_expiry_warned(true, now),
            Verdict::Block => tenant.mark_expiry_blocked(true, now),
            Verdict::Expire => {
                let requester = Requester { id: crate::events::SOURCE.into(), email: None, via: Via::Event, at: now };
                if tenant.request(Operation::Delete, requester).is_err() {
                    return Ok(None);
                }
            }
        }
        let tenant = match self.store.save_tenant(&tenant).await {
            Ok(saved) => saved,
            // Changed (or deleted) since it was read: the next sweep sees it as it is then.
            Err(StoreError::Stale { .. } | StoreError::NotFound) => return Ok(None),
            Err(other) => return Err(other),
        };
        match verdict {
            Verdict::Expire => {
                let subject = Subject::Tenant { name: tenant.name().clone(), id: tenant.id() };
                let detail = serde_json::json!({ "expiresAt": shown(Some(ends)), "deletion": "requested" });
                let entry = AuditEntry::new(now, Actor::tenancy(), AuditAction::TenantExpired, subject, detail);
                // Recorded and published as `Tenant Expired`; then the deletion is asked
                // for exactly as the API asks (a lost request is re-driven by the sweep).
                self.record(&entry).await;
                self.request_work(EventKind::DeleteRequested, &tenant).await;
            }
            Verdict::Warn | Verdict::Block => {
                let kind =
                    if matches!(verdict, Verdict::Warn) { EventKind::Expiring } else { EventKind::ExpiryBlocked };
                if let Err(error) = self.events.publish(&LifecycleEvent::expiry(kind, &tenant)).await {
                    // Forget the notice, so that the next sweep publishes it: a warning
                    // once, not a warning never.
                    tracing::warn!(tenant = %tenant.name(), %error, "expiry notice not published; the next sweep tries again");
                    let mut again = tenant;
                    match verdict {
                        Verdict::Warn => again.mark_expiry_warned(false, now),
                        _ => again.mark_expiry_blocked(false, now),
                    }
                    if let Err(error) = self.store.save_tenant(&again).await {
                        tracing::warn!(tenant = %again.name(), %error, "expiry notice not forgotten; it is lost");
                    }
                    return Ok(None);
                }
            }
        }
        Ok(Some(verdict))
    }
}
