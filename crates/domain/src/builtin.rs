//! Adapters that need nothing outside the domain: the system clock, a deployment
//! without tenant types, and no metrics. The ports they implement are in [`crate::ports`].

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::access::{GrantDecision, GrantRequest};
use crate::metrics::{OperationReport, StepReport};
use crate::ports::{Clock, LifecycleMetrics, Plugins};
use crate::tenant::Tenant;
use crate::tenant_type::{PluginFailure, Proposal, TenantTypeInfo};

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        // Whole seconds: every time Tenancy stores or compares is RFC 3339 at second precision.
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(0).unwrap_or(now)
    }
}

/// No plugins: every tenant is of the `default` type.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPlugins;

#[async_trait]
impl Plugins for NoPlugins {
    fn types(&self) -> Vec<TenantTypeInfo> {
        Vec::new()
    }
    async fn validate(&self, tenant: &Tenant) -> Result<(), PluginFailure> {
        Err(PluginFailure::UnknownType(tenant.tenant_type().clone()))
    }
    async fn plan(&self, tenant: &Tenant) -> Result<Proposal, PluginFailure> {
        Err(PluginFailure::UnknownType(tenant.tenant_type().clone()))
    }
    async fn on_delete(&self, tenant: &Tenant) -> Result<(), PluginFailure> {
        Err(PluginFailure::UnknownType(tenant.tenant_type().clone()))
    }
    async fn on_grant_access(&self, tenant: &Tenant, _: &GrantRequest) -> Result<GrantDecision, PluginFailure> {
        Err(PluginFailure::UnknownType(tenant.tenant_type().clone()))
    }
}

/// No metrics: the local runner's, and the worker's unless it is given others.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetrics;

impl LifecycleMetrics for NoMetrics {
    fn step_ran(&self, _: &StepReport) {}
    fn operation_ended(&self, _: &OperationReport) {}
}
