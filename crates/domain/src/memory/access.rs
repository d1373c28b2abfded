//! The access and audit ports in memory, and the default policies as plain code for the
//! domain's unit tests (production decides with the Cedar policies in `policies/`; the
//! integration tests run those).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{MemoryStore, page_of};
use crate::access::{ADMIN_GROUP, AccessEntry, Role, UserAccess};
use crate::audit::AuditEntry;
use crate::authorization::{Action, Question, Resource};
use crate::grant::{Grant, GrantStatus};
use crate::names::Name;
use crate::paging::{Page, PageRequest};
use crate::ports::errors::StoreError;
use crate::ports::{AccessList, AccessWrite, AuditLog, Authorizer, GrantStore, TenantWithAccess};
use crate::tenant::TenantState;

#[async_trait]
impl TenantWithAccess for MemoryStore {
    async fn get_tenant_with_access(
        &self,
        name: &Name,
        user: &str,
    ) -> Result<(Option<crate::tenant::Tenant>, Option<AccessEntry>), StoreError> {
        let tables = self.tables.lock().unwrap();
        let entry = tables.access.get(name).and_then(|entries| entries.get(user)).cloned();
        Ok((tables.tenants.get(name).cloned(), entry))
    }
}

#[async_trait]
impl AccessWrite for MemoryStore {
    async fn put_access(&self, entry: &AccessEntry) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().unwrap();
        let live = tables
            .tenants
            .get(&entry.tenant)
            .is_some_and(|t| t.id() == entry.tenant_id && t.state() != TenantState::Deleted);
        if !live {
            return Err(StoreError::NotFound);
        }
        tables.access.entry(entry.tenant.clone()).or_default().insert(entry.user.clone(), entry.clone());
        Ok(())
    }

    async fn delete_access(
        &self,
        tenant: &Name,
        user: &str,
        expected: Option<&AccessEntry>,
    ) -> Result<Option<AccessEntry>, StoreError> {
        let mut tables = self.tables.lock().unwrap();
        let Some(entries) = tables.access.get_mut(tenant) else { return Ok(None) };
        if let Some(expected) = expected
            && entries.get(user).is_some_and(|stored| stored != expected)
        {
            return Err(StoreError::Stale { current: 0 });
        }
        Ok(entries.remove(user))
    }
}

#[async_trait]
impl AccessList for MemoryStore {
    async fn list_tenant_access(&self, tenant: &Name) -> Result<Vec<AccessEntry>, StoreError> {
        let tables = self.tables.lock().unwrap();
        Ok(tables.access.get(tenant).map(|entries| entries.values().cloned().collect()).unwrap_or_default())
    }

    async fn list_user_access(&self, user: &str, page: &PageRequest) -> Result<Page<UserAccess>, StoreError> {
        let tables = self.tables.lock().unwrap();
        let items = tables
            .access
            .iter()
            .filter_map(|(name, entries)| entries.get(user).map(|entry| (name, entry)))
            .map(|(name, entry)| {
                (name.to_string(), UserAccess { entry: entry.clone(), tenant: tables.tenants.get(name).cloned() })
            })
            .collect();
        page_of(items, page)
    }

    async fn expired_access(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<AccessEntry>, StoreError> {
        let tables = self.tables.lock().unwrap();
        let mut expired: Vec<AccessEntry> = tables
            .access
            .values()
            .flat_map(|entries| entries.values())
            .filter(|entry| entry.expires_at.is_some_and(|end| end < before))
            .cloned()
            .collect();
        expired.sort_by_key(|entry| entry.expires_at);
        expired.truncate(limit as usize);
        Ok(expired)
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.tables.lock().unwrap().audit.entry(entry.trail()).or_default().push(entry.clone());
        Ok(())
    }

    async fn history(
        &self,
        trail: &str,
        since: Option<OffsetDateTime>,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let tables = self.tables.lock().unwrap();
        let mut entries = tables.audit.get(trail).cloned().unwrap_or_default();
        entries.retain(|entry| since.is_none_or(|since| entry.at >= since));
        // Newest first; keys that sort the same way, so that cursors follow.
        let count = entries.len();
        let items = entries
            .into_iter()
            .rev()
            .enumerate()
            .map(|(position, entry)| (format!("{:020}", position.min(count)), entry))
            .collect();
        page_of(items, page)
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn put_grant(&self, grant: &Grant, expected: Option<GrantStatus>) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().unwrap();
        let stored = tables.grants.get(&(grant.from_tenant.clone(), grant.id)).map(|g| g.status);
        if stored != expected {
            return Err(StoreError::Stale { current: 0 });
        }
        tables.grants.insert((grant.from_tenant.clone(), grant.id), grant.clone());
        Ok(())
    }

    async fn get_grant(&self, from: &Name, id: uuid::Uuid) -> Result<Option<Grant>, StoreError> {
        Ok(self.tables.lock().unwrap().grants.get(&(from.clone(), id)).cloned())
    }

    async fn delete_grant(&self, from: &Name, id: uuid::Uuid) -> Result<(), StoreError> {
        self.tables.lock().unwrap().grants.remove(&(from.clone(), id));
        Ok(())
    }

    async fn list_grants(&self, tenant: &Name) -> Result<Vec<Grant>, StoreError> {
        let tables = self.tables.lock().unwrap();
        let given = tables.grants.values().filter(|g| g.from_tenant == *tenant);
        let taken = tables.grants.values().filter(|g| g.to_tenant == *tenant && g.from_tenant != *tenant);
        Ok(given.chain(taken).cloned().collect())
    }

    async fn unsettled_grants(&self, limit: u32) -> Result<Vec<Grant>, StoreError> {
        let tables = self.tables.lock().unwrap();
        Ok(tables
            .grants
            .values()
            .filter(|g| matches!(g.status, GrantStatus::Pending | GrantStatus::Removing))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn expired_grants(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<Grant>, StoreError> {
        let tables = self.tables.lock().unwrap();
        let mut expired: Vec<Grant> = tables
            .grants
            .values()
            .filter(|g| g.status != GrantStatus::Removing && g.expires_at.is_some_and(|end| end < before))
            .cloned()
            .collect();
        expired.sort_by_key(|g| g.expires_at);
        expired.truncate(limit as usize);
        Ok(expired)
    }
}

/// The default policies (`policies/tenancy.cedar`) as code, for the domain's unit tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultPolicies;

impl Authorizer for DefaultPolicies {
    fn is_allowed(&self, question: &Question<'_>) -> bool {
        if !question.action.applies_to(&question.resource) {
            return false;
        }
        if question.caller.groups.iter().any(|g| g == ADMIN_GROUP) {
            return true;
        }
        let role = match &question.resource {
            Resource::Tenant { role, .. } => *role,
            Resource::Platform => return question.action == Action::ListTenantTypes,
            Resource::Infrastructure { .. } => return false,
        };
        let Some(role) = role else { return false };
        match question.action {
            Action::ReadTenant | Action::ReadAccess | Action::ReadGrants | Action::ReadHistory => true,
            Action::IssueCredentials => role >= Role::User,
            Action::UpdateTenant
            | Action::DeleteTenant
            | Action::RetryTenant
            | Action::ManageAccess
            | Action::ManageGrants => role == Role::Admin,
            Action::ManageInfrastructures | Action::ListTenantTypes | Action::ListAllTenants | Action::CreateTenant => {
                false
            }
        }
    }
}
