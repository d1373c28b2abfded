//! Who has access to a tenant: giving, changing and taking away roles, the caller's own
//! view (`/v1/me` and their tenants), and the sweep of expired entries.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{ControlPlane, page_error, parse_page, unavailable};
use crate::access::{
    AccessChange, AccessEntry, AccessView, Caller, GrantDecision, GrantRequest, MAX_ACCESS_ENTRIES, Role, UserAccess,
};
use crate::audit::{Actor, AuditAction, AuditEntry, Subject};
use crate::authorization::Action;
use crate::error::{ConflictReason, Error};
use crate::names::Name;
use crate::paging::{Page, PageRequest};
use crate::ports::errors::StoreError;
use crate::tenant::{self, Tenant, TenantState};
use crate::tenant_type::PluginFailure;

/// Longest user id, in bytes of UTF-8 (Cognito's `sub` and user names fit; every key an
/// entry is kept under stays within DynamoDB's 1024 bytes).
pub const MAX_USER_ID: usize = 255;

/// Longest e-mail, in bytes.
pub const MAX_EMAIL: usize = 320;

/// True for a user id an entry can be kept for: 1 to 255 bytes, no control characters,
/// no leading or trailing whitespace.
pub fn valid_user_id(user: &str) -> bool {
    (1..=MAX_USER_ID).contains(&user.len())
        && !user.chars().any(char::is_control)
        && !user.starts_with(char::is_whitespace)
        && !user.ends_with(char::is_whitespace)
}

/// One `@` between a non-empty local part and a non-empty domain, at most 320 bytes, no
/// whitespace or control characters.
fn plausible_email(email: &str) -> bool {
    email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !domain.starts_with('.')
        })
}

/// The audit and event detail of an entry.
pub(super) fn entry_detail(entry: &AccessEntry) -> Value {
    json!({
        "user": entry.user, "role": entry.role, "email": entry.email, "expiresAt": entry.expires_at.map(rfc3339),
    })
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The body of `PUT /v1/tenants/{name}/access/{user}`: the change and, for tenant types
/// that decide by it, the user's e-mail as the granter states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessRequest {
    /// The role.
    pub role: Role,
    /// When the access ends (RFC 3339); never when absent.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
    /// The user's e-mail, passed to the tenant type's `on-grant-access` hook and kept on
    /// the entry: the role then goes only to a caller whose verified token carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl From<AccessChange> for AccessRequest {
    fn from(change: AccessChange) -> Self {
        Self { role: change.role, expires_at: change.expires_at, email: None }
    }
}

/// One of the caller's tenants, as `/v1/me` and their listing show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyTenant {
    /// The tenant's name.
    pub name: Name,
    /// Its infrastructure.
    pub infrastructure: Name,
    /// Its state.
    pub state: TenantState,
    /// The caller's role.
    pub role: Role,
    /// When the caller's access ends.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
}

/// The caller as Tenancy sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// Their subject.
    pub id: String,
    /// Their e-mail, if the token carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Their groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// True for platform admins, who hold every role on every tenant.
    #[serde(default)]
    pub platform_admin: bool,
    /// The tenants they have a role on (one page).
    #[serde(default)]
    pub tenants: Vec<MyTenant>,
    /// Present when more of their tenants follow (`GET /v1/me?cursor=...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The entries of a page that still give a role, with their live tenant.
fn live(page: Page<UserAccess>, caller: &Caller, now: OffsetDateTime) -> Page<(AccessEntry, Tenant)> {
    let items = page
        .items
        .into_iter()
        .filter_map(|UserAccess { entry, tenant }| {
            let tenant = tenant?;
            (tenant.state() != TenantState::Deleted && entry.role_for(caller, tenant.id(), now).is_some())
                .then_some((entry, tenant))
        })
        .collect();
    Page { items, next_cursor: page.next_cursor }
}

impl ControlPlane {
    /// Gives `user` a role on the tenant, or changes it. The tenant type's `on-grant-access`
    /// hook decides first: a refusal is a `403` with its reason, and nothing is written.
    pub async fn put_access(
        &self,
        caller: &Caller,
        name: &str,
        user: &str,
        request: AccessRequest,
    ) -> Result<AccessView, Error> {
        let granter = self.tenant_for(caller, name, Action::ManageAccess).await?;
        let tenant = granter.tenant;
        if !valid_user_id(user) {
            return Err(Error::invalid(
                "user",
                format!(
                    "must be a user's subject: 1 to {MAX_USER_ID} bytes, no control characters, no surrounding spaces"
                ),
            ));
        }
        if request.email.as_deref().is_some_and(|email| !plausible_email(email)) {
            return Err(Error::invalid("email", "must be an e-mail address"));
        }
        let now = self.clock.now();
        if request.expires_at.is_some_and(|end| end <= now) {
            return Err(Error::invalid("expiresAt", "must be in the future"));
        }
        // Someone acting through an entry (not a platform admin) passes on no more than it
        // gives them: nothing to themselves, and nothing beyond its own end.
        if granter.role.is_some() {
            if user == caller.id {
                return Err(Error::Forbidden(format!(
                    "'{}' may not change their own access to tenant '{name}'; ask another admin",
                    caller.id
                )));
            }
            if let Some(own_end) = granter.role_ends
                && request.expires_at.is_none_or(|end| end > own_end)
            {
                return Err(Error::invalid(
                    "expiresAt",
                    format!("your own access ends at {}; access you give must end by then", rfc3339(own_end)),
                ));
            }
        }
        if matches!(tenant.state(), TenantState::Deleting | TenantState::Deleted) {
            return Err(Error::conflict(
                ConflictReason::State,
                format!("tenant '{name}' is {}; access can no longer be given", tenant.state()),
            ));
        }
        let existing = self.store.list_tenant_access(tenant.name()).await.map_err(unavailable)?;
        let current: Vec<&AccessEntry> = existing.iter().filter(|e| e.tenant_id == tenant.id()).collect();
        if current.len() >= MAX_ACCESS_ENTRIES && !current.iter().any(|e| e.user == user) {
            return Err(Error::conflict(
                ConflictReason::State,
                format!("tenant '{name}' already gives access to {MAX_ACCESS_ENTRIES} users; take some away first"),
            ));
        }
        self.ask_type(&tenant, user, &request).await?;
        let entry = AccessEntry {
            tenant: tenant.name().clone(),
            tenant_id: tenant.id(),
            user: user.to_string(),
            role: request.role,
            email: request.email.clone(),
            expires_at: request.expires_at,
            granted_by: caller.id.clone(),
            granted_at: now,
        };
        match self.store.put_access(&entry).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(Error::NotFound { kind: "tenant", name: name.to_string() }),
            Err(other) => return Err(unavailable(other)),
        }
        self.audit_tenant(caller, AuditAction::AccessGranted, &tenant, entry_detail(&entry)).await;
        Ok(AccessView { active: entry.is_active(now), entry })
    }

    /// The tenant type's answer to a grant; the default type allows every grant.
    async fn ask_type(&self, tenant: &Tenant, user: &str, request: &AccessRequest) -> Result<(), Error> {
        if tenant.tenant_type() == tenant::DEFAULT_TYPE {
            return Ok(());
        }
        let grant = GrantRequest { user_id: user.to_string(), user_email: request.email.clone(), level: request.role };
        match self.plugins.on_grant_access(tenant, &grant).await {
            Ok(GrantDecision::Allow) => Ok(()),
            Ok(GrantDecision::Deny(reason)) => Err(Error::Forbidden(format!(
                "tenant type '{}' refused to give '{user}' the role '{}': {reason}",
                tenant.tenant_type(),
                request.role
            ))),
            Err(PluginFailure::UnknownType(tenant_type)) => Err(Error::conflict(
                ConflictReason::State,
                format!("tenant type '{tenant_type}' is no longer registered; access to its tenants cannot change"),
            )),
            Err(PluginFailure::Refused { message, .. }) => Err(Error::Forbidden(format!(
                "tenant type '{}' refused to give '{user}' the role '{}': {message}",
                tenant.tenant_type(),
                request.role
            ))),
            Err(other) => Err(Error::TypeFailed(other.to_string())),
        }
    }

    /// Takes `user`'s role on the tenant away. Taking away access nobody has is a `404`.
    pub async fn delete_access(&self, caller: &Caller, name: &str, user: &str) -> Result<(), Error> {
        let tenant = self.tenant_for(caller, name, Action::ManageAccess).await?.tenant;
        let no_entry = || Error::NotFound { kind: "access entry", name: format!("{name}/{user}") };
        if !valid_user_id(user) {
            return Err(no_entry());
        }
        match self.store.delete_access(tenant.name(), user, None).await.map_err(unavailable)? {
            Some(entry) if entry.tenant_id == tenant.id() => {
                self.audit_tenant(caller, AuditAction::AccessRevoked, &tenant, entry_detail(&entry)).await;
                Ok(())
            }
            // An entry of an earlier tenant of this name gave nothing; removing it is tidying.
            Some(_) | None => Err(no_entry()),
        }
    }

    /// Who has access to the tenant: its current entries, expired ones included until the
    /// sweep removes them (each says when it ended).
    pub async fn list_access(&self, caller: &Caller, name: &str) -> Result<Vec<AccessView>, Error> {
        let tenant = self.tenant_for(caller, name, Action::ReadAccess).await?.tenant;
        let entries = self.store.list_tenant_access(tenant.name()).await.map_err(unavailable)?;
        let now = self.clock.now();
        Ok(entries
            .into_iter()
            .filter(|entry| entry.tenant_id == tenant.id())
            .map(|entry| AccessView { active: entry.is_active(now), entry })
            .collect())
    }

    /// The caller, their groups and one page of their tenants.
    pub async fn me(&self, caller: &Caller, limit: Option<u32>, cursor: Option<String>) -> Result<Me, Error> {
        let page = parse_page(limit, cursor)?;
        let mine = self.own_access(caller, &page).await?;
        Ok(Me {
            id: caller.id.clone(),
            email: caller.email.clone(),
            groups: caller.groups.clone(),
            platform_admin: caller.is_platform_admin(),
            tenants: mine
                .items
                .iter()
                .map(|(entry, tenant)| MyTenant {
                    name: tenant.name().clone(),
                    infrastructure: tenant.infrastructure().clone(),
                    state: tenant.state(),
                    role: entry.role,
                    expires_at: entry.expires_at,
                })
                .collect(),
            next_cursor: mine.next_cursor,
        })
    }

    async fn own_access(&self, caller: &Caller, page: &PageRequest) -> Result<Page<(AccessEntry, Tenant)>, Error> {
        let page = self.store.list_user_access(&caller.id, page).await.map_err(page_error)?;
        Ok(live(page, caller, self.clock.now()))
    }

    /// The tenants the caller has a role on: a Query on the index keyed by user, one page
    /// at a time (a page may hold fewer than `limit` when entries have expired).
    pub(super) async fn list_own_tenants(
        &self,
        caller: &Caller,
        infrastructure: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Tenant>, Error> {
        let mine = self.own_access(caller, &page).await?;
        let items = mine
            .items
            .into_iter()
            .map(|(_, tenant)| tenant)
            .filter(|tenant| infrastructure.is_none_or(|wanted| tenant.infrastructure().as_str() == wanted))
            .collect();
        Ok(Page { items, next_cursor: mine.next_cursor })
    }

    /// Removes entries that reached their end (access already stopped at that instant:
    /// every request checks) and publishes an event for each. Returns how many it removed.
    pub async fn sweep_expired_access(&self, limit: u32) -> Result<usize, Error> {
        let now = self.clock.now();
        let expired = self.store.expired_access(now, limit).await.map_err(unavailable)?;
        let mut removed = 0;
        for entry in expired {
            match self.store.delete_access(&entry.tenant, &entry.user, Some(&entry)).await {
                Ok(Some(_)) => {
                    removed += 1;
                    let subject = Subject::Tenant { name: entry.tenant.clone(), id: entry.tenant_id };
                    let audit = AuditEntry::new(
                        now,
                        Actor::tenancy(),
                        AuditAction::AccessExpired,
                        subject,
                        entry_detail(&entry),
                    );
                    self.record(&audit).await;
                }
                // Renewed or removed meanwhile: nothing to do.
                Ok(None) | Err(StoreError::Stale { .. }) => {}
                Err(other) => return Err(unavailable(other)),
            }
        }
        Ok(removed)
    }
}
