//! A tenant's inventory and drift, read from the cloud on request, and the daily sweep that
//! announces drift on the bus.

use std::collections::BTreeMap;

use super::{ControlPlane, unavailable};
use crate::access::Caller;
use crate::authorization::Action;
use crate::error::Error;
use crate::events::LifecycleEvent;
use crate::infrastructure::Infrastructure;
use crate::inventory::{InventoryReport, InventoryScope, compare};
use crate::names::Name;
use crate::paging::PageRequest;
use crate::tenant::{Tenant, TenantState};

/// Tenants the drift sweep checks at once: each check is a handful of cloud calls, and the
/// tagging and IAM APIs throttle well before the function's time runs out.
const DRIFT_CONCURRENCY: usize = 4;
/// Page size of the drift sweep's listing of tenants.
const DRIFT_PAGE: u32 = 100;

/// What one drift sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftSweep {
    /// Active tenants whose inventory was read and judged.
    pub checked: usize,
    /// Of those, the ones with drift: one `Tenant Drift Detected` event each.
    pub drifted: Vec<String>,
    /// Tenants that could not be checked (a passing cloud fault, a missing infrastructure):
    /// the next sweep tries them again.
    pub unchecked: usize,
    /// True when the sweep stopped at its bound with tenants left to list.
    pub more: bool,
}

impl ControlPlane {
    /// What the cloud holds for the tenant and how it differs from its record: for anyone
    /// who may read the tenant (`404` otherwise, as for every tenant route). A cloud that
    /// does not answer is a `503`: nothing is judged on half an answer.
    pub async fn tenant_inventory(&self, caller: &Caller, name: &str) -> Result<InventoryReport, Error> {
        let tenant = self.tenant_for(caller, name, Action::ReadTenant).await?.tenant;
        let infrastructure = self
            .store
            .get_infrastructure(tenant.infrastructure())
            .await
            .map_err(unavailable)?
            .ok_or_else(|| Error::NotFound { kind: "infrastructure", name: tenant.infrastructure().to_string() })?;
        self.inventory_of(&tenant, &infrastructure).await
    }

    async fn inventory_of(&self, tenant: &Tenant, infrastructure: &Infrastructure) -> Result<InventoryReport, Error> {
        let Some((inventory, deployment)) = &self.inventory else {
            return Err(Error::Unavailable("this deployment has no inventory of the cloud configured".into()));
        };
        let scope = InventoryScope::of(tenant, infrastructure, deployment);
        let holdings = inventory.holdings(&scope).await.map_err(|error| {
            tracing::warn!(tenant = %tenant.name(), %error, transient = error.transient, "the cloud could not be read");
            Error::Unavailable(format!("the cloud could not be read: {error}; retry the request"))
        })?;
        Ok(compare(tenant, &scope, holdings, self.clock.now()))
    }

    /// The daily drift check: reads the inventory of up to `max_tenants` tenants (active
    /// ones are judged), page by page, and publishes `Tenant Drift Detected` for each
    /// with drift. A tenant that cannot be checked now is counted and left for the next
    /// sweep; only a store that cannot list tenants fails the sweep.
    pub async fn sweep_drift(&self, max_tenants: usize) -> Result<DriftSweep, Error> {
        let mut sweep = DriftSweep::default();
        let mut cursor = None;
        let mut listed = 0;
        let mut infrastructures: BTreeMap<Name, Option<Infrastructure>> = BTreeMap::new();
        loop {
            let limit = DRIFT_PAGE.min(u32::try_from(max_tenants.saturating_sub(listed)).unwrap_or(DRIFT_PAGE));
            if limit == 0 {
                sweep.more = cursor.is_some();
                break;
            }
            let page = self.store.list_tenants(None, &PageRequest { limit, cursor }).await.map_err(unavailable)?;
            listed += page.items.len();
            let active: Vec<Tenant> = page.items.into_iter().filter(|t| t.state() == TenantState::Active).collect();
            for tenant in &active {
                if !infrastructures.contains_key(tenant.infrastructure()) {
                    let found = self.store.get_infrastructure(tenant.infrastructure()).await.map_err(unavailable)?;
                    infrastructures.insert(tenant.infrastructure().clone(), found);
                }
            }
            // A few at a time, in chunks: a stream of borrowing futures here would make the
            // handler's future not `Send` (the compiler cannot prove it for every lifetime).
            let mut results = Vec::with_capacity(active.len());
            for chunk in active.chunks(DRIFT_CONCURRENCY) {
                let checks = chunk.iter().map(|tenant| {
                    let infrastructure = infrastructures.get(tenant.infrastructure()).cloned().flatten();
                    async move {
                        match infrastructure {
                            Some(infrastructure) => (tenant, self.inventory_of(tenant, &infrastructure).await),
                            None => (
                                tenant,
                                Err(Error::NotFound {
                                    kind: "infrastructure",
                                    name: tenant.infrastructure().to_string(),
                                }),
                            ),
                        }
                    }
                });
                results.extend(futures::future::join_all(checks).await);
            }
            for (tenant, result) in results {
                match result {
                    Ok(report) => {
                        sweep.checked += 1;
                        if report.drift.is_empty() {
                            continue;
                        }
                        tracing::warn!(tenant = %tenant.name(), drift = report.drift.len(), "tenant drifted");
                        if let Err(error) = self.events.publish(&LifecycleEvent::drift(&report)).await {
                            tracing::error!(tenant = %tenant.name(), %error, "drift event not published");
                            sweep.unchecked += 1;
                            continue;
                        }
                        sweep.drifted.push(tenant.name().to_string());
                    }
                    Err(error) => {
                        tracing::warn!(tenant = %tenant.name(), %error, "drift not checked; the next sweep will");
                        sweep.unchecked += 1;
                    }
                }
            }
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        sweep.drifted.sort();
        Ok(sweep)
    }
}
