//! Asking the policies, and the audit trail every change leaves.
//!
//! Hiding: a caller with no active role on a tenant (and whom the policies do not let read
//! it) is answered `404`, exactly as for a tenant that does not exist, on every route. A
//! caller who may read the tenant but not do what they asked is answered `403`.

use serde_json::Value;

use super::access::valid_user_id;
use super::{ControlPlane, unavailable};
use crate::access::{AccessEntry, Caller, Role};
use crate::audit::{Actor, AuditAction, AuditEntry, Subject};
use crate::authorization::{Action, Question, Resource, TenantFacts};
use crate::error::Error;
use crate::events::LifecycleEvent;
use crate::names::Name;
use crate::ports::errors::StoreError;
use crate::tenant::{Tenant, TenantState};

/// A tenant the caller may act on, with their role on it (`None` for a platform admin,
/// who holds every role without an entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The tenant as read.
    pub tenant: Tenant,
    /// The caller's active role on it, from their entry.
    pub role: Option<Role>,
    /// When that role ends, if it does.
    pub role_ends: Option<time::OffsetDateTime>,
}

fn facts(tenant: &Tenant) -> TenantFacts {
    TenantFacts {
        name: tenant.name().clone(),
        infrastructure: tenant.infrastructure().clone(),
        environment: tenant.environment(),
        tenant_type: tenant.tenant_type().clone(),
    }
}

impl ControlPlane {
    /// True when the policies let `caller` do `action` on `resource`.
    pub(super) fn allowed(&self, caller: &Caller, action: Action, resource: Resource) -> bool {
        self.authorizer.is_allowed(&Question { caller, action, resource })
    }

    /// `403` unless the policies let `caller` do `action` on `resource`.
    pub(super) fn authorize(&self, caller: &Caller, action: Action, resource: Resource) -> Result<(), Error> {
        if self.allowed(caller, action, resource) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("'{}' may not {}", caller.id, action.describe())))
        }
    }

    /// `403` unless the policies let `caller` do `action` on the platform.
    pub(super) fn authorize_platform(&self, caller: &Caller, action: Action) -> Result<(), Error> {
        self.authorize(caller, action, Resource::Platform)
    }

    /// The tenant `name`, if `caller` may do `action` on it. One read of the store: the
    /// tenant with the caller's entry (or the tenant alone for a platform admin, who needs
    /// no entry). `404` when the caller may not even read it, as if it did not exist.
    pub(super) async fn tenant_for(&self, caller: &Caller, name: &str, action: Action) -> Result<Authorized, Error> {
        let not_found = || Error::NotFound { kind: "tenant", name: name.to_string() };
        let name = Name::parse("name", name).map_err(|_| not_found())?;
        let (tenant, entry) = if caller.is_platform_admin() || !valid_user_id(&caller.id) {
            // A platform admin needs no entry; a subject no entry can be kept under has none.
            (self.store.get_tenant(&name).await.map_err(unavailable)?, None)
        } else {
            self.store.get_tenant_with_access(&name, &caller.id).await.map_err(unavailable)?
        };
        let tenant = tenant.ok_or_else(not_found)?;
        let now = self.clock.now();
        // A deleted tenant is read by platform admins only: the roles on it ended with it.
        let entry = entry
            .filter(|_| tenant.state() != TenantState::Deleted)
            .filter(|entry| entry.role_for(caller, tenant.id(), now).is_some());
        let role = entry.as_ref().map(|entry| entry.role);
        let role_ends = entry.and_then(|entry| entry.expires_at);
        let resource = |role| Resource::Tenant { tenant: facts(&tenant), role };
        if self.allowed(caller, action, resource(role)) {
            return Ok(Authorized { tenant, role, role_ends });
        }
        if action != Action::ReadTenant && self.allowed(caller, Action::ReadTenant, resource(role)) {
            return Err(Error::Forbidden(format!(
                "'{}' may not {}{}",
                caller.id,
                action.describe(),
                role.map(|role| format!(" with the role '{role}'")).unwrap_or_default()
            )));
        }
        Err(not_found())
    }

    /// Records an entry in the audit trail and publishes it. The change it records is
    /// already stored, so a failure here is logged loudly rather than undoing it.
    pub(super) async fn audit(&self, caller: &Caller, action: AuditAction, subject: Subject, detail: Value) {
        let entry = AuditEntry::new(self.clock.now(), Actor::of(caller), action, subject, detail);
        self.record(&entry).await;
    }

    /// Records and publishes an entry made by whoever.
    pub(super) async fn record(&self, entry: &AuditEntry) {
        if let Err(error) = self.store.record(entry).await {
            tracing::error!(trail = %entry.trail(), action = ?entry.action, %error, "audit entry not recorded");
        }
        if let Err(error) = self.events.publish(&LifecycleEvent::audit(entry)).await {
            tracing::warn!(trail = %entry.trail(), action = ?entry.action, %error, "audit event not published");
        }
    }

    /// [`Self::audit`] for a tenant.
    pub(super) async fn audit_tenant(&self, caller: &Caller, action: AuditAction, tenant: &Tenant, detail: Value) {
        let subject = Subject::Tenant { name: tenant.name().clone(), id: tenant.id() };
        self.audit(caller, action, subject, detail).await;
    }

    /// Someone who is not a platform admin but may create tenants (by a policy the platform
    /// team wrote) becomes the new tenant's admin: otherwise they could not even see it.
    pub(super) async fn make_creator_admin(&self, caller: &Caller, tenant: &Tenant) {
        if caller.is_platform_admin() {
            return;
        }
        let entry = AccessEntry {
            tenant: tenant.name().clone(),
            tenant_id: tenant.id(),
            user: caller.id.clone(),
            role: Role::Admin,
            email: None,
            expires_at: None,
            granted_by: caller.id.clone(),
            granted_at: self.clock.now(),
        };
        match self.store.put_access(&entry).await {
            Ok(()) => {
                let detail = super::access::entry_detail(&entry);
                self.audit_tenant(caller, AuditAction::AccessGranted, tenant, detail).await
            }
            Err(StoreError::NotFound) => {}
            Err(error) => {
                tracing::error!(tenant = %tenant.name(), %error, "the creator's admin access was not recorded")
            }
        }
    }
}
