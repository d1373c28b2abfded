//! Tenant-to-tenant grants: giving, listing and revoking them, and the sweep of expired
//! ones. The cloud work is the lifecycle function's, asked for on the bus.
//!
//! Hiding: the granter needs no role on the other tenant, so nothing of it is told but
//! whether a live tenant of that name exists in the granter's infrastructure: a tenant
//! that does not exist, is deleted or being deleted, or lives in another infrastructure is
//! answered alike, `404 tenant not found`.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{ControlPlane, unavailable};
use crate::access::Caller;
use crate::audit::{Actor, AuditAction, AuditEntry, Subject};
use crate::authorization::Action;
use crate::error::{ConflictReason, Error};
use crate::events::{EventKind, LifecycleEvent};
use crate::grant::{Grant, GrantRequest, GrantStatus, MAX_GRANTS_PER_TENANT};
use crate::names::Name;
use crate::ports::errors::StoreError;
use crate::tenant::TenantState;

/// The audit and event detail of a grant.
fn grant_detail(grant: &Grant) -> Value {
    json!({ "grant": grant })
}

/// States in which a tenant can take part in a new grant.
fn live(state: TenantState) -> bool {
    matches!(state, TenantState::Active | TenantState::Updating)
}

impl ControlPlane {
    /// Records a grant from the tenant `name` to `request.to_tenant` as `pending` and asks
    /// the lifecycle function to apply it.
    pub async fn create_grant(&self, caller: &Caller, name: &str, request: GrantRequest) -> Result<Grant, Error> {
        let tenant = self.tenant_for(caller, name, Action::ManageGrants).await?.tenant;
        let kind = request.kind()?;
        let now = self.clock.now();
        if request.expires_at.is_some_and(|end| end <= now) {
            return Err(Error::invalid("expiresAt", "must be in the future"));
        }
        if !live(tenant.state()) {
            return Err(Error::conflict(
                ConflictReason::State,
                format!("tenant '{name}' is {}; grants are given by active tenants", tenant.state()),
            ));
        }
        let hidden = || Error::NotFound { kind: "tenant", name: request.to_tenant.clone() };
        let to_name = Name::parse("toTenant", &request.to_tenant).map_err(|_| hidden())?;
        if to_name == *tenant.name() {
            return Err(Error::invalid("toTenant", "a tenant cannot grant to itself"));
        }
        let other = self.store.get_tenant(&to_name).await.map_err(unavailable)?;
        let other = other
            .filter(|other| live(other.state()) && other.infrastructure() == tenant.infrastructure())
            .ok_or_else(hidden)?;
        let existing = self.store.list_grants(tenant.name()).await.map_err(unavailable)?;
        // The same opening twice would share one rule in the cloud, and revoking either
        // would close both: refused.
        if let Some(twin) = existing.iter().find(|g| {
            g.from_tenant_id == tenant.id()
                && g.to_tenant_id == other.id()
                && g.kind == kind
                && g.status != GrantStatus::Removing
        }) {
            return Err(Error::conflict(
                ConflictReason::State,
                format!("grant {} already gives '{}' this; revoke it first or change it", twin.id, other.name()),
            ));
        }
        let given = existing.iter().filter(|g| g.from_tenant_id == tenant.id()).count();
        if given >= MAX_GRANTS_PER_TENANT {
            return Err(Error::conflict(
                ConflictReason::State,
                format!("tenant '{name}' already gives {MAX_GRANTS_PER_TENANT} grants; revoke some first"),
            ));
        }
        let grant = Grant {
            id: Uuid::new_v4(),
            from_tenant: tenant.name().clone(),
            from_tenant_id: tenant.id(),
            to_tenant: other.name().clone(),
            to_tenant_id: other.id(),
            kind,
            status: GrantStatus::Pending,
            error: None,
            expires_at: request.expires_at,
            created_by: caller.id.clone(),
            created_at: now,
        };
        self.store.put_grant(&grant, None).await.map_err(unavailable)?;
        self.audit_tenant(caller, AuditAction::GrantCreated, &tenant, grant_detail(&grant)).await;
        self.request_grant_work(EventKind::GrantApplyRequested, &grant).await?;
        Ok(grant)
    }

    /// Asks the lifecycle function to settle the grant. The grant is stored: if the event
    /// is lost, the client sees it `pending` and the error says why.
    async fn request_grant_work(&self, kind: EventKind, grant: &Grant) -> Result<(), Error> {
        self.events.publish(&LifecycleEvent::grant_request(kind, grant)).await.map_err(|error| {
            Error::Unavailable(format!("grant {} recorded, but its request was not published: {error}", grant.id))
        })
    }

    /// The grants the tenant gives and those given to it, each with its status. A reader of
    /// either side sees the grant.
    pub async fn list_grants(&self, caller: &Caller, name: &str) -> Result<Vec<Grant>, Error> {
        let tenant = self.tenant_for(caller, name, Action::ReadGrants).await?.tenant;
        let grants = self.store.list_grants(tenant.name()).await.map_err(unavailable)?;
        Ok(grants.into_iter().filter(|grant| grant.involves(tenant.id())).collect())
    }

    /// Revokes a grant the tenant gives: it becomes `removing` and the lifecycle function
    /// takes it out of the cloud, then forgets it. `404` for an id the tenant does not give.
    pub async fn revoke_grant(&self, caller: &Caller, name: &str, id: &str) -> Result<Grant, Error> {
        let tenant = self.tenant_for(caller, name, Action::ManageGrants).await?.tenant;
        let not_found = || Error::NotFound { kind: "grant", name: id.to_string() };
        let id = Uuid::parse_str(id).map_err(|_| not_found())?;
        let grant = self.store.get_grant(tenant.name(), id).await.map_err(unavailable)?;
        let mut grant = grant.filter(|g| g.from_tenant_id == tenant.id()).ok_or_else(not_found)?;
        if grant.status != GrantStatus::Removing {
            let read = grant.status;
            grant.status = GrantStatus::Removing;
            grant.error = None;
            match self.store.put_grant(&grant, Some(read)).await {
                Ok(()) => {}
                Err(StoreError::Stale { .. }) => {
                    return Err(Error::conflict(
                        ConflictReason::State,
                        format!("grant {id} changed meanwhile (the lifecycle settled it); revoke it again"),
                    ));
                }
                Err(other) => return Err(unavailable(other)),
            }
            self.audit_tenant(caller, AuditAction::GrantRevoked, &tenant, grant_detail(&grant)).await;
        }
        self.request_grant_work(EventKind::GrantRevokeRequested, &grant).await?;
        Ok(grant)
    }

    /// Revokes grants that reached their end: each becomes `removing`, is recorded as
    /// expired in the granting tenant's history (and on the bus), and the lifecycle
    /// function is asked to take it out. Returns how many it revoked.
    pub async fn sweep_expired_grants(&self, limit: u32) -> Result<usize, Error> {
        let now = self.clock.now();
        let expired = self.store.expired_grants(now, limit).await.map_err(unavailable)?;
        let mut revoked = 0;
        for mut grant in expired {
            let read = grant.status;
            grant.status = GrantStatus::Removing;
            grant.error = None;
            match self.store.put_grant(&grant, Some(read)).await {
                Ok(()) => {}
                // Settled or revoked meanwhile: the next sweep sees it as it now is.
                Err(StoreError::Stale { .. }) => continue,
                Err(other) => return Err(unavailable(other)),
            }
            let subject = Subject::Tenant { name: grant.from_tenant.clone(), id: grant.from_tenant_id };
            let entry =
                AuditEntry::new(now, Actor::tenancy(), AuditAction::GrantExpired, subject, grant_detail(&grant));
            self.record(&entry).await;
            if let Err(error) = self.request_grant_work(EventKind::GrantRevokeRequested, &grant).await {
                tracing::warn!(grant = %grant.id, %error, "revocation of an expired grant not requested");
            }
            revoked += 1;
        }
        Ok(revoked)
    }
}
