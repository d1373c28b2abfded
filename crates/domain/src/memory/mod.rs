//! In-memory adapters of every port, for fast unit tests of the domain. Integration tests
//! use the real adapters against the AWS emulator instead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::access::{GrantDecision, GrantRequest};
use crate::boundary::{Boundary, Remaining};
use crate::credentials::{Session, SessionRequest};
use crate::events::{EventKind, LifecycleEvent};
use crate::idempotency::IdempotencyRecord;
use crate::infrastructure::Infrastructure;
use crate::names::Name;
use crate::paging::{Page, PageRequest};
use crate::plan::{Allowances, CatalogueResource, Plan, bucket_name};
use crate::ports::errors::{CloudError, EventsError, StoreError};
use crate::ports::{
    Clock, Cloud, Events, ExpiringTenants, IdempotencyGet, InfrastructureGet, InfrastructureList, InfrastructureWrite,
    Plugins, SessionIssuer, StalledTenants, TenantCreate, TenantGet, TenantList, TenantSave, Vpcs,
};
use crate::tenant::{ExpiryStage, PluginRecord, ResourceKind, ResourceRef, Tenant, TenantState};
use crate::tenant_type::{Hook, PluginFailure, Proposal, TenantTypeInfo};

mod access;
mod inventory;

pub use access::DefaultPolicies;
pub use inventory::MemoryInventory;

#[derive(Default)]
struct Tables {
    infrastructures: BTreeMap<Name, Infrastructure>,
    tenants: BTreeMap<Name, Tenant>,
    idempotency: BTreeMap<String, IdempotencyRecord>,
    /// By tenant name, then user.
    access: BTreeMap<Name, BTreeMap<String, crate::access::AccessEntry>>,
    /// By trail, oldest first.
    audit: BTreeMap<String, Vec<crate::audit::AuditEntry>>,
    /// By granting tenant, then id.
    grants: BTreeMap<(Name, uuid::Uuid), crate::grant::Grant>,
}

/// A [`Store`] in a mutex.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

/// Cursors this store issues: the last key of a page, marked as its own.
const CURSOR_PREFIX: &str = "memory:";

fn page_of<T: Clone>(items: Vec<(String, T)>, page: &PageRequest) -> Result<Page<T>, StoreError> {
    let start = match &page.cursor {
        Some(cursor) => {
            let after = cursor.strip_prefix(CURSOR_PREFIX).ok_or(StoreError::BadCursor)?;
            items.iter().position(|(key, _)| key.as_str() > after).unwrap_or(items.len())
        }
        None => 0,
    };
    let rest = &items[start..];
    let taken: Vec<_> = rest.iter().take(page.limit as usize).collect();
    let next_cursor =
        (rest.len() > taken.len()).then(|| taken.last().map(|(k, _)| format!("{CURSOR_PREFIX}{k}"))).flatten();
    Ok(Page { items: taken.into_iter().map(|(_, v)| v.clone()).collect(), next_cursor })
}

#[async_trait]
impl InfrastructureGet for MemoryStore {
    async fn get_infrastructure(&self, name: &Name) -> Result<Option<Infrastructure>, StoreError> {
        Ok(self.tables.lock().unwrap().infrastructures.get(name).cloned())
    }
}

#[async_trait]
impl InfrastructureList for MemoryStore {
    async fn list_infrastructures(&self, page: &PageRequest) -> Result<Page<Infrastructure>, StoreError> {
        let tables = self.tables.lock().unwrap();
        page_of(tables.infrastructures.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), page)
    }
}

#[async_trait]
impl InfrastructureWrite for MemoryStore {
    async fn create_infrastructure(&self, infrastructure: &Infrastructure) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().unwrap();
        if tables.infrastructures.contains_key(&infrastructure.name) {
            return Err(StoreError::NameTaken);
        }
        // A new infrastructure holds no tenants, whatever the caller's copy says.
        let mut stored = infrastructure.clone();
        stored.tenant_count = 0;
        tables.infrastructures.insert(infrastructure.name.clone(), stored);
        Ok(())
    }

    async fn delete_infrastructure(&self, name: &Name) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().unwrap();
        match tables.infrastructures.get(name) {
            None => Err(StoreError::NotFound),
            Some(infrastructure) if infrastructure.tenant_count > 0 => Err(StoreError::InfrastructureInUse),
            Some(_) => {
                tables.infrastructures.remove(name);
                Ok(())
            }
        }
    }
}

#[async_trait]
impl TenantCreate for MemoryStore {
    async fn create_tenant(&self, tenant: &Tenant, idempotency: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().unwrap();
        if tables.tenants.get(tenant.name()).is_some_and(|t| t.state() != TenantState::Deleted) {
            return Err(StoreError::NameTaken);
        }
        if let Some(record) = idempotency
            && tables.idempotency.get(&record.key).is_some_and(|r| r.expires_at > tenant.created_at())
        {
            return Err(StoreError::IdempotencyKeyTaken);
        }
        let Some(infrastructure) = tables.infrastructures.get_mut(tenant.infrastructure()) else {
            return Err(StoreError::InfrastructureMissing);
        };
        infrastructure.tenant_count += 1;
        tables.tenants.insert(tenant.name().clone(), tenant.clone());
        if let Some(record) = idempotency {
            tables.idempotency.insert(record.key.clone(), record.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl TenantGet for MemoryStore {
    async fn get_tenant(&self, name: &Name) -> Result<Option<Tenant>, StoreError> {
        Ok(self.tables.lock().unwrap().tenants.get(name).cloned())
    }
}

#[async_trait]
impl TenantList for MemoryStore {
    async fn list_tenants(
        &self,
        infrastructure: Option<&Name>,
        page: &PageRequest,
    ) -> Result<Page<Tenant>, StoreError> {
        let tables = self.tables.lock().unwrap();
        let items = tables
            .tenants
            .values()
            .filter(|t| t.state() != TenantState::Deleted)
            .filter(|t| infrastructure.is_none_or(|i| t.infrastructure() == i))
            .map(|t| (t.name().to_string(), t.clone()))
            .collect();
        page_of(items, page)
    }
}

#[async_trait]
impl TenantSave for MemoryStore {
    async fn save_tenant(&self, tenant: &Tenant) -> Result<Tenant, StoreError> {
        let mut tables = self.tables.lock().unwrap();
        let current = tables.tenants.get(tenant.name()).ok_or(StoreError::NotFound)?;
        // As in DynamoDB: a deleted record is final, and a write lands only on the version
        // and incarnation read.
        if current.version() != tenant.version()
            || current.id() != tenant.id()
            || current.state() == TenantState::Deleted
        {
            return Err(StoreError::Stale { current: current.version() });
        }
        let releases = tenant.state() == TenantState::Deleted;
        let stored = tenant.clone().stored_at(current.version() + 1);
        tables.tenants.insert(tenant.name().clone(), stored.clone());
        if releases && let Some(infrastructure) = tables.infrastructures.get_mut(tenant.infrastructure()) {
            infrastructure.tenant_count = infrastructure.tenant_count.saturating_sub(1);
        }
        Ok(stored)
    }
}

#[async_trait]
impl StalledTenants for MemoryStore {
    async fn stalled_tenants(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<Name>, StoreError> {
        let tables = self.tables.lock().unwrap();
        let mut stalled: Vec<_> =
            tables.tenants.values().filter(|t| t.state().is_transitional() && t.updated_at() < before).collect();
        stalled.sort_by_key(|t| t.updated_at());
        Ok(stalled.into_iter().take(limit as usize).map(|t| t.name().clone()).collect())
    }
}

#[async_trait]
impl ExpiringTenants for MemoryStore {
    async fn expiring_tenants(
        &self,
        stage: ExpiryStage,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Tenant>, StoreError> {
        let tables = self.tables.lock().unwrap();
        // Whole seconds, as DynamoDB's index keys them.
        let before = before.unix_timestamp();
        let mut watched: Vec<_> = tables
            .tenants
            .values()
            .filter_map(|t| t.expiry_watch().map(|watch| (watch, t)))
            .filter(|(watch, _)| watch.stage == stage && watch.at.unix_timestamp() < before)
            .map(|(watch, t)| ((watch.at.unix_timestamp(), t.name().clone()), t.clone()))
            .collect();
        watched.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(watched.into_iter().take(limit as usize).map(|(_, t)| t).collect())
    }
}

#[async_trait]
impl IdempotencyGet for MemoryStore {
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.tables.lock().unwrap().idempotency.get(key).cloned())
    }
}

/// An [`Events`] port that keeps what was published.
#[derive(Default)]
pub struct RecordingEvents {
    published: Mutex<Vec<LifecycleEvent>>,
}

impl RecordingEvents {
    /// The `detail-type`s of the lifecycle published so far, in order (audit entries left out).
    pub fn detail_types(&self) -> Vec<&'static str> {
        let published = self.published.lock().unwrap();
        published.iter().filter(|e| !matches!(e.kind, EventKind::Audit(_))).map(|e| e.kind.detail_type()).collect()
    }

    /// Every event published so far, in order.
    pub fn published(&self) -> Vec<LifecycleEvent> {
        self.published.lock().unwrap().clone()
    }

    /// The `detail-type`s of audit entries published so far, in order.
    pub fn audit_detail_types(&self) -> Vec<&'static str> {
        let published = self.published.lock().unwrap();
        published.iter().filter(|e| matches!(e.kind, EventKind::Audit(_))).map(|e| e.kind.detail_type()).collect()
    }
}

#[async_trait]
impl Events for RecordingEvents {
    async fn publish(&self, event: &LifecycleEvent) -> Result<(), EventsError> {
        self.published.lock().unwrap().push(event.clone());
        Ok(())
    }
}

/// A [`Cloud`] that keeps resources in a set, and can be told to fail a step.
#[derive(Default)]
pub struct MemoryCloud {
    resources: Mutex<BTreeSet<(String, ResourceKind)>>,
    failing: Mutex<Option<ResourceKind>>,
    calls: Mutex<usize>,
    /// Grants in the cloud: id, granting tenant, other tenant.
    grants: Mutex<BTreeMap<uuid::Uuid, (String, String)>>,
    failing_grants: Mutex<bool>,
}

impl MemoryCloud {
    /// Makes every later call for `kind` fail.
    pub fn fail_on(&self, kind: Option<ResourceKind>) {
        *self.failing.lock().unwrap() = kind;
    }

    /// The kinds that exist for `tenant`.
    pub fn kinds_of(&self, tenant: &str) -> Vec<ResourceKind> {
        self.resources.lock().unwrap().iter().filter(|(t, _)| t == tenant).map(|(_, k)| *k).collect()
    }

    /// The grants in the cloud: (id, granting tenant, other tenant).
    pub fn applied_grants(&self) -> Vec<(uuid::Uuid, String, String)> {
        self.grants.lock().unwrap().iter().map(|(id, (from, to))| (*id, from.clone(), to.clone())).collect()
    }

    /// Makes every later grant call fail with a passing fault (or stop failing).
    pub fn fail_grants(&self, failing: bool) {
        *self.failing_grants.lock().unwrap() = failing;
    }

    fn check_grants(&self) -> Result<(), CloudError> {
        if *self.failing_grants.lock().unwrap() {
            return Err(CloudError::transient("injected passing fault on grants"));
        }
        Ok(())
    }

    fn check(&self, kind: ResourceKind) -> Result<(), CloudError> {
        *self.calls.lock().unwrap() += 1;
        if *self.failing.lock().unwrap() == Some(kind) {
            return Err(CloudError::permanent(format!("injected failure on {}", kind.as_str())));
        }
        Ok(())
    }
}

#[async_trait]
impl Cloud for MemoryCloud {
    async fn ensure(&self, kind: ResourceKind, boundary: &Boundary) -> Result<Vec<ResourceRef>, CloudError> {
        self.check(kind)?;
        let ids: Vec<String> = match kind {
            ResourceKind::Bucket => boundary
                .plan
                .resources
                .iter()
                .map(|CatalogueResource::Bucket(suffix)| bucket_name(&boundary.tenant, suffix))
                .collect(),
            _ => vec![format!("{}-{}", kind.as_str(), boundary.tenant)],
        };
        if !ids.is_empty() {
            self.resources.lock().unwrap().insert((boundary.tenant.to_string(), kind));
        }
        Ok(ids
            .into_iter()
            .map(|id| ResourceRef { kind, arn: format!("arn:memory:{}:{id}", kind.as_str()), id })
            .collect())
    }

    async fn remove(&self, kind: ResourceKind, boundary: &Boundary) -> Result<(), CloudError> {
        self.check(kind)?;
        // As EC2 does: a group that another group's rule names cannot be deleted.
        let tenant = boundary.tenant.to_string();
        if kind == ResourceKind::SecurityGroup && self.grants.lock().unwrap().values().any(|(_, to)| *to == tenant) {
            return Err(CloudError::permanent(format!(
                "DeleteSecurityGroup: DependencyViolation: the group of '{tenant}' is referenced by another group"
            )));
        }
        self.resources.lock().unwrap().remove(&(tenant, kind));
        Ok(())
    }

    async fn apply_grant(
        &self,
        grant: &crate::grant::Grant,
        granter: &Boundary,
        grantee: &Boundary,
    ) -> Result<(), CloudError> {
        self.check_grants()?;
        self.grants.lock().unwrap().insert(grant.id, (granter.tenant.to_string(), grantee.tenant.to_string()));
        Ok(())
    }

    async fn revoke_grant(
        &self,
        grant: &crate::grant::Grant,
        _granter: &Boundary,
        _grantee: Option<&Boundary>,
    ) -> Result<(), CloudError> {
        self.check_grants()?;
        self.grants.lock().unwrap().remove(&grant.id);
        Ok(())
    }

    async fn remaining(&self, boundary: &Boundary) -> Result<Remaining, CloudError> {
        let owned = self
            .kinds_of(boundary.tenant.as_str())
            .into_iter()
            .map(|kind| ResourceRef { kind, id: kind.as_str().into(), arn: format!("arn:memory:{}", kind.as_str()) })
            .collect();
        Ok(Remaining { owned, foreign: Vec::new() })
    }
}

/// A [`Cloud`] in front of another that answers a share of calls with the faults real
/// services send under load: throttling before the call reaches the cloud, and a lost
/// answer (a time-out) after it did. Deterministic for a given seed.
pub struct FaultyCloud {
    inner: std::sync::Arc<dyn Cloud>,
    /// Per mille of calls refused as throttled before reaching the cloud.
    throttled_per_mille: u64,
    /// Per mille of calls that reach the cloud but whose answer is lost.
    lost_per_mille: u64,
    state: Mutex<u64>,
    injected: Mutex<usize>,
}

impl FaultyCloud {
    /// Wraps `inner`; `throttled` and `lost` are fractions of calls (0.2 is 20%).
    pub fn new(inner: std::sync::Arc<dyn Cloud>, throttled: f64, lost: f64, seed: u64) -> Self {
        let per_mille = |f: f64| (f.clamp(0.0, 1.0) * 1000.0) as u64;
        Self {
            inner,
            throttled_per_mille: per_mille(throttled),
            lost_per_mille: per_mille(lost),
            state: Mutex::new(seed | 1),
            injected: Mutex::new(0),
        }
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> usize {
        *self.injected.lock().unwrap()
    }

    /// A number in 0..1000 (xorshift).
    fn roll(&self) -> u64 {
        let mut state = self.state.lock().unwrap();
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state % 1000
    }

    fn before(&self, what: &str) -> Result<(), CloudError> {
        if self.roll() < self.throttled_per_mille {
            *self.injected.lock().unwrap() += 1;
            return Err(CloudError::transient(format!("{what}: Throttling: Rate exceeded")));
        }
        Ok(())
    }

    fn after<T>(&self, what: &str, result: Result<T, CloudError>) -> Result<T, CloudError> {
        if result.is_ok() && self.roll() < self.lost_per_mille {
            *self.injected.lock().unwrap() += 1;
            return Err(CloudError::transient(format!("{what}: the answer timed out")));
        }
        result
    }
}

#[async_trait]
impl Cloud for FaultyCloud {
    async fn ensure(&self, kind: ResourceKind, boundary: &Boundary) -> Result<Vec<ResourceRef>, CloudError> {
        self.before(kind.as_str())?;
        let result = self.inner.ensure(kind, boundary).await;
        self.after(kind.as_str(), result)
    }

    async fn remove(&self, kind: ResourceKind, boundary: &Boundary) -> Result<(), CloudError> {
        self.before(kind.as_str())?;
        let result = self.inner.remove(kind, boundary).await;
        self.after(kind.as_str(), result)
    }

    async fn remaining(&self, boundary: &Boundary) -> Result<Remaining, CloudError> {
        self.before("remaining")?;
        let result = self.inner.remaining(boundary).await;
        self.after("remaining", result)
    }

    async fn apply_grant(
        &self,
        grant: &crate::grant::Grant,
        granter: &Boundary,
        grantee: &Boundary,
    ) -> Result<(), CloudError> {
        self.before("apply grant")?;
        let result = self.inner.apply_grant(grant, granter, grantee).await;
        self.after("apply grant", result)
    }

    async fn revoke_grant(
        &self,
        grant: &crate::grant::Grant,
        granter: &Boundary,
        grantee: Option<&Boundary>,
    ) -> Result<(), CloudError> {
        self.before("revoke grant")?;
        let result = self.inner.revoke_grant(grant, granter, grantee).await;
        self.after("revoke grant", result)
    }
}

/// One tenant type of [`StaticPlugins`]: a fixed plan, and a setting it requires.
#[derive(Debug, Clone)]
pub struct StaticType {
    /// The plan every tenant of the type gets.
    pub plan: Plan,
    /// `validate` refuses a tenant without this setting.
    pub required_setting: Option<String>,
    /// `on-delete` refuses every tenant.
    pub refuse_delete: bool,
    /// The setting the type's declaration names as the tenant's end.
    pub expiry_setting: Option<String>,
}

/// [`Plugins`] answering from fixed plans, validated by the real rules.
#[derive(Default)]
pub struct StaticPlugins {
    types: BTreeMap<String, StaticType>,
}

impl StaticPlugins {
    /// Adds a type.
    pub fn with_type(mut self, name: &str, tenant_type: StaticType) -> Self {
        self.types.insert(name.to_string(), tenant_type);
        self
    }

    fn get(&self, tenant: &Tenant) -> Result<&StaticType, PluginFailure> {
        self.types.get(tenant.tenant_type()).ok_or_else(|| PluginFailure::UnknownType(tenant.tenant_type().clone()))
    }
}

#[async_trait]
impl Plugins for StaticPlugins {
    fn types(&self) -> Vec<TenantTypeInfo> {
        self.types
            .keys()
            .map(|name| TenantTypeInfo {
                name: name.clone(),
                description: String::new(),
                plugin: name.clone(),
                version: "0.0.0".into(),
                sha256: String::new(),
                hooks: vec![Hook::Validate, Hook::OnCreate, Hook::OnDelete],
                capabilities: vec![],
                enabled_capabilities: vec![],
                expiry_setting: self.types[name].expiry_setting.clone(),
            })
            .collect()
    }

    async fn validate(&self, tenant: &Tenant) -> Result<(), PluginFailure> {
        let tenant_type = self.get(tenant)?;
        match &tenant_type.required_setting {
            Some(key) if !tenant.settings().contains_key(key) => Err(PluginFailure::Refused {
                plugin: tenant.tenant_type().clone(),
                message: format!("the setting '{key}' is required"),
            }),
            _ => Ok(()),
        }
    }

    async fn plan(&self, tenant: &Tenant) -> Result<Proposal, PluginFailure> {
        let plan = self.get(tenant)?.plan.clone();
        let record = PluginRecord {
            plugin: tenant.tenant_type().clone(),
            version: "0.0.0".into(),
            sha256: String::new(),
            plan,
            log: String::new(),
            planned_at: tenant.updated_at(),
        };
        Ok(Proposal { record, allowances: Allowances::default() })
    }

    async fn on_delete(&self, tenant: &Tenant) -> Result<(), PluginFailure> {
        if self.get(tenant)?.refuse_delete {
            return Err(PluginFailure::Refused { plugin: tenant.tenant_type().clone(), message: "not yet".into() });
        }
        Ok(())
    }

    async fn on_grant_access(&self, tenant: &Tenant, _: &GrantRequest) -> Result<GrantDecision, PluginFailure> {
        self.get(tenant).map(|_| GrantDecision::Allow)
    }
}

/// A clock that moves only when told.
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// Starts at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self { now: Mutex::new(start) }
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap()
    }
}

/// [`Vpcs`] that knows every VPC as `10.0.0.0/16`, except those told to be missing.
#[derive(Default)]
pub struct MemoryVpcs {
    missing: Mutex<BTreeSet<String>>,
}

impl MemoryVpcs {
    /// The CIDR block every known VPC has.
    pub const CIDR: &'static str = "10.0.0.0/16";

    /// Makes `vpc_id` unknown.
    pub fn forget(&self, vpc_id: &str) {
        self.missing.lock().unwrap().insert(vpc_id.to_string());
    }
}

#[async_trait]
impl Vpcs for MemoryVpcs {
    async fn cidr_blocks(&self, _region: &str, vpc_id: &str) -> Result<Option<Vec<String>>, CloudError> {
        if self.missing.lock().unwrap().contains(vpc_id) {
            return Ok(None);
        }
        Ok(Some(vec![Self::CIDR.to_string()]))
    }
}

/// [`SessionIssuer`] that makes up credentials (`ASIA` and a counter) lasting from the
/// epoch of its clock, and remembers every request. A role ARN told to refuse is refused
/// as a role whose trust does not admit Tenancy.
pub struct MemorySessions {
    clock: std::sync::Arc<dyn Clock>,
    requests: Mutex<Vec<SessionRequest>>,
    refused: Mutex<BTreeSet<String>>,
}

impl MemorySessions {
    /// Sessions that start at `clock`'s now.
    pub fn new(clock: std::sync::Arc<dyn Clock>) -> Self {
        Self { clock, requests: Mutex::default(), refused: Mutex::default() }
    }

    /// Every request it was sent, oldest first.
    pub fn requests(&self) -> Vec<SessionRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Makes the role of that ARN refuse to be assumed.
    pub fn refuse(&self, role_arn: &str) {
        self.refused.lock().unwrap().insert(role_arn.to_string());
    }
}

#[async_trait]
impl SessionIssuer for MemorySessions {
    async fn assume_tenant_role(&self, request: &SessionRequest) -> Result<Session, CloudError> {
        if self.refused.lock().unwrap().contains(&request.role_arn) {
            return Err(CloudError::permanent(format!(
                "AssumeRole: AccessDenied: not authorized to perform sts:AssumeRole on {}",
                request.role_arn
            )));
        }
        let mut requests = self.requests.lock().unwrap();
        requests.push(request.clone());
        Ok(Session {
            access_key_id: format!("ASIAMEMORY{:010}", requests.len()),
            secret_access_key: format!("secret-{}", requests.len()),
            session_token: format!("token-{}", requests.len()),
            expiration: self.clock.now() + Duration::seconds(i64::from(request.duration_seconds)),
        })
    }
}

/// What the worker reported, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricReport {
    /// [`crate::ports::LifecycleMetrics::step_ran`].
    Step(crate::metrics::StepReport),
    /// [`crate::ports::LifecycleMetrics::operation_ended`].
    Operation(crate::metrics::OperationReport),
}

/// Records every metrics report.
#[derive(Debug, Default)]
pub struct RecordingMetrics {
    reports: Mutex<Vec<MetricReport>>,
}

impl RecordingMetrics {
    /// Every report so far.
    pub fn reports(&self) -> Vec<MetricReport> {
        self.reports.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl crate::ports::LifecycleMetrics for RecordingMetrics {
    fn step_ran(&self, report: &crate::metrics::StepReport) {
        if let Ok(mut reports) = self.reports.lock() {
            reports.push(MetricReport::Step(report.clone()));
        }
    }
    fn operation_ended(&self, report: &crate::metrics::OperationReport) {
        if let Ok(mut reports) = self.reports.lock() {
            reports.push(MetricReport::Operation(report.clone()));
        }
    }
}
