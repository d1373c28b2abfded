//! The ports: what the domain needs from the outside world. Adapters implement them
//! (DynamoDB, IAM/EC2/KMS, EventBridge in `tenancy-aws`; in-memory ones in [`crate::memory`]).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use thiserror::Error;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::events::LifecycleEvent;
use crate::infrastructure::Infrastructure;
use crate::names::{DerivedNames, Name};
use crate::plan::{Allowances, GrantDecision, GrantRequest, Plan, Refusal};
use crate::tenant::{PluginRecord, ResourceKind, ResourceRef, Tenant, tag_keys};

/// A page request: at most `limit` items, after the position an earlier page's cursor names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Most items to return.
    pub limit: u32,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in name order.
    pub items: Vec<T>,
    /// Present when more items follow.
    pub next_cursor: Option<String>,
}

/// The first answer to a create request, kept so that a retry with the same
/// `Idempotency-Key` gets it again instead of creating anything.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    /// The caller-scoped key.
    pub key: String,
    /// The request as first received, canonicalised, to detect reuse for another request.
    pub request: String,
    /// The tenant as first returned.
    pub tenant: Tenant,
    /// When the key may be forgotten.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Why a store operation did not happen.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StoreError {
    /// The key is taken (a live tenant or an infrastructure of that name).
    #[error("name taken")]
    NameTaken,
    /// Creating a tenant in an infrastructure that does not exist.
    #[error("infrastructure missing")]
    InfrastructureMissing,
    /// Deleting an infrastructure that still holds tenants.
    #[error("infrastructure in use")]
    InfrastructureInUse,
    /// The idempotency key was written by a concurrent request.
    #[error("idempotency key taken")]
    IdempotencyKeyTaken,
    /// The item changed since it was read (version condition failed).
    #[error("stale version")]
    Stale,
    /// The item does not exist.
    #[error("not found")]
    NotFound,
    /// The cursor was not one this store issued.
    #[error("invalid cursor")]
    BadCursor,
    /// The store failed; retrying may help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// Durable state: infrastructures, tenants and idempotency records.
#[async_trait]
pub trait Store: Send + Sync {
    /// Records a new infrastructure; [`StoreError::NameTaken`] if the name exists.
    async fn create_infrastructure(&self, infrastructure: &Infrastructure) -> Result<(), StoreError>;
    /// Reads one infrastructure.
    async fn get_infrastructure(&self, name: &Name) -> Result<Option<Infrastructure>, StoreError>;
    /// Lists infrastructures in name order.
    async fn list_infrastructures(&self, page: &PageRequest) -> Result<Page<Infrastructure>, StoreError>;
    /// Deletes an infrastructure that holds no tenants.
    async fn delete_infrastructure(&self, name: &Name) -> Result<(), StoreError>;

    /// Records a new tenant (version 1) and counts it in its infrastructure, atomically with
    /// the idempotency record if there is one. The name may reuse a `deleted` tenant's.
    async fn create_tenant(&self, tenant: &Tenant, idempotency: Option<&IdempotencyRecord>) -> Result<(), StoreError>;
    /// Reads one tenant, deleted ones included.
    async fn get_tenant(&self, name: &Name) -> Result<Option<Tenant>, StoreError>;
    /// Lists tenants that are not deleted, in name order, optionally of one infrastructure.
    async fn list_tenants(&self, infrastructure: Option<&Name>, page: &PageRequest)
    -> Result<Page<Tenant>, StoreError>;
    /// Writes `tenant` if the stored version is still `expected_version`. A tenant written
    /// as `deleted` stops counting against its infrastructure, in the same write.
    async fn save_tenant(&self, tenant: &Tenant, expected_version: u64) -> Result<(), StoreError>;
    /// Tenants in a transitional state not written since `before`, oldest first.
    async fn stalled_tenants(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<Name>, StoreError>;

    /// Reads an idempotency record, expired or not.
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;
}

/// What the cloud needs to know to build or tear down one tenant's boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    /// The tenant's name.
    pub tenant: Name,
    /// The tenant incarnation's id.
    pub tenant_id: Uuid,
    /// The deployment (stack) acting: every resource it makes carries it, and it adopts
    /// or deletes nothing that does not.
    pub deployment: String,
    /// Ids and ARNs of the resources the tenant's record names: made by this deployment.
    pub recorded: BTreeSet<String>,
    /// Its infrastructure.
    pub infrastructure: Name,
    /// The infrastructure's region.
    pub region: String,
    /// The infrastructure's VPC.
    pub vpc_id: String,
    /// Every AWS name of the tenant.
    pub names: DerivedNames,
    /// Every tag to write on every resource.
    pub tags: BTreeMap<String, String>,
    /// Tag keys to remove because the user (or the tenant type's plan) dropped them.
    pub removed_tag_keys: Vec<String>,
    /// What the tenant type's plugin added, validated; empty for the `default` type.
    pub plan: Plan,
}

impl Boundary {
    /// The boundary of `tenant` in `infrastructure`, as `deployment` builds it. The plan's
    /// `{vpc}` ingress rules become one rule per CIDR block of the VPC.
    pub fn of(tenant: &Tenant, infrastructure: &Infrastructure, deployment: &str) -> Self {
        let mut tags = tenant.resource_tags();
        tags.insert(tag_keys::DEPLOYMENT.into(), deployment.to_string());
        let mut plan = tenant.plugin.as_ref().map(|record| record.plan.clone()).unwrap_or_default();
        plan.ingress_rules = plan
            .ingress_rules
            .iter()
            .flat_map(|rule| match rule.cidr.as_str() {
                "{vpc}" => infrastructure
                    .cidr_blocks
                    .iter()
                    .map(|cidr| crate::plan::IngressRule { cidr: cidr.clone(), ..rule.clone() })
                    .collect(),
                _ => vec![rule.clone()],
            })
            .collect();
        let recorded = tenant
            .resources
            .iter()
            .flat_map(|r| [r.id.clone(), r.arn.clone()])
            .flatten()
            .filter(|id| !id.is_empty())
            .collect();
        Self {
            tenant: tenant.name.clone(),
            tenant_id: tenant.id,
            deployment: deployment.to_string(),
            recorded,
            infrastructure: infrastructure.name.clone(),
            region: infrastructure.region.clone(),
            vpc_id: infrastructure.vpc_id.clone(),
            names: DerivedNames::for_tenant(&tenant.name),
            tags,
            removed_tag_keys: tenant.removed_tag_keys(),
            plan,
        }
    }

    /// True when `tags` say this deployment made the resource for this tenant incarnation.
    pub fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(tag_keys::DEPLOYMENT) == Some(&self.deployment)
            && tags.get(tag_keys::TENANT_ID).map(String::as_str) == Some(self.tenant_id.to_string().as_str())
    }

    /// True when the resource is this tenant's to remove: its record names it, or it
    /// carries this deployment's tag and this tenant's id.
    pub fn may_remove(&self, id: &str, arn: Option<&str>, tags: &BTreeMap<String, String>) -> bool {
        self.recorded.contains(id) || arn.is_some_and(|arn| self.recorded.contains(arn)) || self.owns(tags)
    }

    /// True when `tags` say another deployment made the resource: it is not this one's
    /// to adopt, delete or even report.
    pub fn belongs_to_another_deployment(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(tag_keys::DEPLOYMENT).is_some_and(|d| *d != self.deployment)
    }
}

/// A cloud call that failed, with the cloud's own words, and whether the fault passes.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct CloudError {
    /// What the cloud said, prefixed with the operation.
    pub message: String,
    /// True for a fault that passes by itself: throttling, a 5xx, a timeout, or an
    /// eventual-consistency answer (an entity not visible yet right after its creation).
    /// The lifecycle retries those; only the others fail a tenant.
    pub transient: bool,
}

impl CloudError {
    /// A fault that retrying will not cure: the tenant fails at the step, naming it.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), transient: false }
    }

    /// A fault that passes: the step is tried again later.
    pub fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), transient: true }
    }
}

/// What is left of a tenant after its deletion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remaining {
    /// Resources this deployment made for the tenant that still exist: the deletion is
    /// not done.
    pub owned: Vec<ResourceRef>,
    /// ARNs of resources tagged with the tenant's name that this deployment did not make
    /// for it (no deployment tag, or another incarnation's): reported, never touched.
    /// Resources another deployment tagged as its own are not listed at all.
    pub foreign: Vec<String>,
}

/// The cloud a tenant's boundary lives in. Every method is idempotent: it looks at what
/// exists and makes only the missing difference, so a repeated or resumed call is harmless.
#[async_trait]
pub trait Cloud: Send + Sync {
    /// Makes the resources of that kind exist as the boundary needs them (tags included)
    /// and reports them: one of each built-in kind, one per bucket of the plan. A resource
    /// that exists under the tenant's name but does not carry this deployment's tag and
    /// this tenant's id is never adopted: the call fails, naming it.
    async fn ensure(&self, kind: ResourceKind, boundary: &Boundary) -> Result<Vec<ResourceRef>, CloudError>;
    /// Removes every resource of that kind that belongs to the tenant: found by name, by
    /// tag and by IAM path, and removed only when the tenant's record names it or it
    /// carries this deployment's tag and this tenant's id. Anything else is left alone.
    async fn remove(&self, kind: ResourceKind, boundary: &Boundary) -> Result<(), CloudError>;
    /// What is left of the tenant (by tag and IAM path), ignoring keys pending deletion.
    async fn remaining(&self, boundary: &Boundary) -> Result<Remaining, CloudError>;
}

/// The networks infrastructures live in.
#[async_trait]
pub trait Vpcs: Send + Sync {
    /// The CIDR blocks (IPv4 and IPv6) associated with `vpc_id` in `region`, or `None`
    /// when no such VPC exists.
    async fn cidr_blocks(&self, region: &str, vpc_id: &str) -> Result<Option<Vec<String>>, CloudError>;
}

/// A tenant type and the plugin behind it, as the registry declares it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantTypeInfo {
    /// The type, as tenants name it.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The plugin's name.
    pub plugin: String,
    /// The plugin's version.
    pub version: String,
    /// SHA-256 of the plugin's `.wasm`, hex: checked before it is loaded.
    pub sha256: String,
    /// The hooks it implements (`validate`, `on-create`, `on-delete`, `on-grant-access`);
    /// the others are not called and answer as an empty plugin would.
    pub hooks: Vec<String>,
    /// What it declares it may ask for beyond the rules (`public-ingress`).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Of those, what an admin enabled for this deployment.
    #[serde(default)]
    pub enabled_capabilities: Vec<String>,
}

/// Why a tenant-type plugin gave no usable answer.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PluginFailure {
    /// No plugin is registered for the type.
    #[error("no plugin is registered for tenant type '{0}'")]
    UnknownType(String),
    /// The plugin refused the tenant, in its own words.
    #[error("plugin '{plugin}' refused: {message}")]
    Refused {
        /// The plugin.
        plugin: String,
        /// Its reason.
        message: String,
    },
    /// The plan broke a rule; nothing of it is applied.
    #[error("{0}")]
    Plan(Refusal),
    /// The plugin broke a limit, trapped, or could not be loaded.
    #[error("{0}")]
    Failed(String),
}

/// A plan as a tenant type's plugin proposed it, not yet checked, with what the plugin
/// declared and an admin enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The plan and who made it.
    pub record: PluginRecord,
    /// The capabilities the plan may use.
    pub allowances: Allowances,
}

/// The tenant types beyond `default`: sandboxed plugins that customise the lifecycle.
/// Hooks propose; the domain decides and applies.
#[async_trait]
pub trait Plugins: Send + Sync {
    /// The registered types, in name order.
    fn types(&self) -> Vec<TenantTypeInfo>;
    /// Before a tenant of a plugin type is created or changed: `Refused` becomes a 422.
    async fn validate(&self, tenant: &Tenant) -> Result<(), PluginFailure>;
    /// The plan for the tenant as it is now (`on-create`), as the plugin proposed it: the
    /// lifecycle checks it ([`crate::plan::validate`]) before anything of it is applied.
    async fn plan(&self, tenant: &Tenant) -> Result<Proposal, PluginFailure>;
    /// Before the tenant's resources are removed; a refusal fails the deletion.
    async fn on_delete(&self, tenant: &Tenant) -> Result<(), PluginFailure>;
    /// Whether a user may get access to the tenant.
    async fn on_grant_access(&self, tenant: &Tenant, grant: &GrantRequest) -> Result<GrantDecision, PluginFailure>;
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
        Err(PluginFailure::UnknownType(tenant.tenant_type.clone()))
    }
    async fn plan(&self, tenant: &Tenant) -> Result<Proposal, PluginFailure> {
        Err(PluginFailure::UnknownType(tenant.tenant_type.clone()))
    }
    async fn on_delete(&self, tenant: &Tenant) -> Result<(), PluginFailure> {
        Err(PluginFailure::UnknownType(tenant.tenant_type.clone()))
    }
    async fn on_grant_access(&self, tenant: &Tenant, _: &GrantRequest) -> Result<GrantDecision, PluginFailure> {
        Err(PluginFailure::UnknownType(tenant.tenant_type.clone()))
    }
}

/// A publish that failed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("could not publish event: {0}")]
pub struct EventsError(pub String);

/// The event bus.
#[async_trait]
pub trait Events: Send + Sync {
    /// Publishes one event.
    async fn publish(&self, event: &LifecycleEvent) -> Result<(), EventsError>;
}

/// The time. A port so that tests can move it (lease expiry, stalled tenants) without sleeping.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

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
