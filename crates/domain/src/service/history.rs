//! A tenant's history: its audit trail, newest first.

use super::{ControlPlane, page_error, parse_page};
use crate::access::Caller;
use crate::audit::{AuditEntry, Subject, tenant_trail};
use crate::authorization::Action;
use crate::error::Error;
use crate::paging::Page;

impl ControlPlane {
    /// One page of the tenant's history, newest first. Platform admins see every
    /// incarnation of the name; anyone else, the current one only: entries from its
    /// creation on (not even a cursor of an earlier tenant of the name reaches them).
    pub async fn tenant_history(
        &self,
        caller: &Caller,
        name: &str,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<Page<AuditEntry>, Error> {
        let page = parse_page(limit, cursor)?;
        let tenant = self.tenant_for(caller, name, Action::ReadHistory).await?.tenant;
        let every_incarnation = caller.is_platform_admin();
        let since = (!every_incarnation).then(|| tenant.created_at());
        let mut history = self.store.history(&tenant_trail(tenant.name()), since, &page).await.map_err(page_error)?;
        if !every_incarnation {
            history.items.retain(|entry| matches!(entry.subject, Subject::Tenant { id, .. } if id == tenant.id()));
        }
        Ok(history)
    }
}
