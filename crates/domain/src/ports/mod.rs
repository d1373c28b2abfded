//! The ports: what the domain needs from the outside world, as narrow traits named for
//! what their consumers need. Adapters implement them (DynamoDB, IAM/EC2/KMS/S3,
//! EventBridge in `tenancy-aws`; wasmtime in `tenancy-plugin-host`; in-memory fakes in
//! `crate::memory` behind the `test-support` feature). The types they speak live with
//! their concern: [`crate::paging`], [`crate::boundary`], [`crate::tenant_type`],
//! [`errors`].

pub mod errors;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::access::{AccessEntry, GrantDecision, GrantRequest, UserAccess};
use crate::audit::AuditEntry;
use crate::authorization::Question;
use crate::boundary::{Boundary, Remaining};
use crate::credentials::{Session, SessionRequest};
use crate::events::LifecycleEvent;
use crate::grant::{Grant, GrantStatus};
use crate::idempotency::IdempotencyRecord;
use crate::infrastructure::Infrastructure;
use crate::inventory::{Holdings, InventoryScope};
use crate::metrics::{OperationReport, StepReport};
use crate::names::Name;
use crate::paging::{Page, PageRequest};
use crate::tenant::{ExpiryStage, ResourceKind, ResourceRef, Tenant};
use crate::tenant_type::{PluginFailure, Proposal, TenantTypeInfo};
use errors::{CloudError, EventsError, StoreError};

/// Reads one infrastructure.
#[async_trait]
pub trait InfrastructureGet: Send + Sync {
    /// The infrastructure of that name, if it exists.
    async fn get_infrastructure(&self, name: &Name) -> Result<Option<Infrastructure>, StoreError>;
}

/// Lists infrastructures.
#[async_trait]
pub trait InfrastructureList: Send + Sync {
    /// Infrastructures in name order.
    async fn list_infrastructures(&self, page: &PageRequest) -> Result<Page<Infrastructure>, StoreError>;
}

/// Records and forgets infrastructures.
#[async_trait]
pub trait InfrastructureWrite: Send + Sync {
    /// Records a new infrastructure (no tenants); [`StoreError::NameTaken`] if the name exists.
    async fn create_infrastructure(&self, infrastructure: &Infrastructure) -> Result<(), StoreError>;
    /// Deletes an infrastructure: [`StoreError::InfrastructureInUse`] while it holds tenants,
    /// [`StoreError::NotFound`] if there is none.
    async fn delete_infrastructure(&self, name: &Name) -> Result<(), StoreError>;
}

/// Reads one tenant.
#[async_trait]
pub trait TenantGet: Send + Sync {
    /// The tenant of that name, deleted ones included.
    async fn get_tenant(&self, name: &Name) -> Result<Option<Tenant>, StoreError>;
}

/// Lists tenants.
#[async_trait]
pub trait TenantList: Send + Sync {
    /// Tenants that are not deleted, in name order, optionally of one infrastructure.
    async fn list_tenants(&self, infrastructure: Option<&Name>, page: &PageRequest)
    -> Result<Page<Tenant>, StoreError>;
}

/// Records new tenants.
#[async_trait]
pub trait TenantCreate: Send + Sync {
    /// Records a new tenant as it is (version 1) and counts it in its infrastructure,
    /// atomically with the idempotency record if there is one. The name may reuse a
    /// `deleted` tenant's; any other tenant of that name is [`StoreError::NameTaken`].
    async fn create_tenant(&self, tenant: &Tenant, idempotency: Option<&IdempotencyRecord>) -> Result<(), StoreError>;
}

/// Writes changes to tenants. The store owns versioning: a write lands only if the stored
/// version is still the one the tenant was read at, and stores the next one.
#[async_trait]
pub trait TenantSave: Send + Sync {
    /// Writes `tenant` if the stored version is still `tenant.version()`, and returns it as
    /// stored, at the next version. [`StoreError::Stale`] (with the stored version) if it
    /// changed or is `deleted` (a deleted record is final); [`StoreError::NotFound`] if
    /// there is none. A tenant written as `deleted` stops counting against its
    /// infrastructure in the same write.
    async fn save_tenant(&self, tenant: &Tenant) -> Result<Tenant, StoreError>;
}

/// Finds tenants whose worker went quiet.
#[async_trait]
pub trait StalledTenants: Send + Sync {
    /// Tenants in a transitional state not written since `before`, oldest first.
    async fn stalled_tenants(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<Name>, StoreError>;
}

/// Finds tenants the expiry sweep has to deal with ([`Tenant::expiry_watch`]).
#[async_trait]
pub trait ExpiringTenants: Send + Sync {
    /// Tenants watched at `stage` whose watch instant is before `before` (compared in whole
    /// seconds), soonest first, at most `limit`: a Query of an index, never a scan. What
    /// an index answers may lag the table: the caller reads each tenant again before
    /// acting on it.
    async fn expiring_tenants(
        &self,
        stage: ExpiryStage,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Tenant>, StoreError>;
}

/// Reads idempotency records.
#[async_trait]
pub trait IdempotencyGet: Send + Sync {
    /// The record of a key, expired or not.
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;
}

/// Reads a tenant and one user's access to it together: what authorising a request on a
/// tenant needs, in one read of the store.
#[async_trait]
pub trait TenantWithAccess: Send + Sync {
    /// The tenant of that name (deleted ones included) and `user`'s entry on it, if any.
    /// The entry may belong to an earlier incarnation or have expired: the caller checks.
    async fn get_tenant_with_access(
        &self,
        name: &Name,
        user: &str,
    ) -> Result<(Option<Tenant>, Option<AccessEntry>), StoreError>;
}

/// Records and removes users' access to tenants.
#[async_trait]
pub trait AccessWrite: Send + Sync {
    /// Records `entry`, replacing the user's entry on that tenant, on the condition that
    /// the tenant incarnation `entry.tenant_id` is stored and not `deleted`
    /// ([`StoreError::NotFound`] otherwise).
    async fn put_access(&self, entry: &AccessEntry) -> Result<(), StoreError>;
    /// Removes `user`'s entry on `tenant` and returns it (`None`: there was none). With
    /// `expected`, only if the stored entry is still exactly that one
    /// ([`StoreError::Stale`] otherwise), so that a sweep never removes a renewed entry.
    async fn delete_access(
        &self,
        tenant: &Name,
        user: &str,
        expected: Option<&AccessEntry>,
    ) -> Result<Option<AccessEntry>, StoreError>;
}

/// Lists access entries.
#[async_trait]
pub trait AccessList: Send + Sync {
    /// Every entry on the tenant of that name (at most
    /// [`crate::access::MAX_ACCESS_ENTRIES`] plus stale ones), in user order.
    async fn list_tenant_access(&self, tenant: &Name) -> Result<Vec<AccessEntry>, StoreError>;
    /// The user's entries, in tenant name order, each with its tenant: a Query on the
    /// index keyed by user, never a scan.
    async fn list_user_access(&self, user: &str, page: &PageRequest) -> Result<Page<UserAccess>, StoreError>;
    /// Entries whose `expires_at` is before `before`, soonest first.
    async fn expired_access(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<AccessEntry>, StoreError>;
}

/// The audit trail.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Records one entry under its trail ([`AuditEntry::trail`]).
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// A trail's entries, newest first; with `since`, only those recorded at or after it
    /// (a later tenant of a name sees nothing, not even a cursor, of an earlier one).
    async fn history(
        &self,
        trail: &str,
        since: Option<OffsetDateTime>,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
}

/// Records, finds and forgets tenant-to-tenant grants. A grant is stored with the granting
/// tenant and found from either side.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Records `grant`: a new one when `expected` is `None` (the id must be free), else
    /// over the stored one only while its status is still `expected`
    /// ([`StoreError::Stale`] otherwise, also when there is none), so that of an
    /// application and a revocation racing, the later never undoes the earlier unseen.
    async fn put_grant(&self, grant: &Grant, expected: Option<GrantStatus>) -> Result<(), StoreError>;
    /// The grant `id` given by the tenant `from`.
    async fn get_grant(&self, from: &Name, id: uuid::Uuid) -> Result<Option<Grant>, StoreError>;
    /// Forgets the grant `id` given by `from` (nothing if there is none).
    async fn delete_grant(&self, from: &Name, id: uuid::Uuid) -> Result<(), StoreError>;
    /// The grants given by the tenant of that name and those given to it (any
    /// incarnation: the caller checks ids), given ones first.
    async fn list_grants(&self, tenant: &Name) -> Result<Vec<Grant>, StoreError>;
    /// Grants whose `expires_at` is before `before` and that are not being removed,
    /// soonest first.
    async fn expired_grants(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<Grant>, StoreError>;
    /// Grants the lifecycle has yet to settle (`pending` or `removing`), for the sweep.
    async fn unsettled_grants(&self, limit: u32) -> Result<Vec<Grant>, StoreError>;
}

/// What the API's operations need of durable state: every store port.
pub trait Store:
    InfrastructureGet
    + InfrastructureList
    + InfrastructureWrite
    + TenantGet
    + TenantList
    + TenantCreate
    + TenantSave
    + StalledTenants
    + ExpiringTenants
    + IdempotencyGet
    + TenantWithAccess
    + AccessWrite
    + AccessList
    + AuditLog
    + GrantStore
{
}

impl<T> Store for T where
    T: InfrastructureGet
        + InfrastructureList
        + InfrastructureWrite
        + TenantGet
        + TenantList
        + TenantCreate
        + TenantSave
        + StalledTenants
        + ExpiringTenants
        + IdempotencyGet
        + TenantWithAccess
        + AccessWrite
        + AccessList
        + AuditLog
        + GrantStore
{
}

/// Decides whether a caller may do something: the policies (Cedar), in one place.
pub trait Authorizer: Send + Sync {
    /// True when the policies allow it; anything they do not allow is refused.
    fn is_allowed(&self, question: &Question<'_>) -> bool;
}

/// What the lifecycle worker needs of durable state: read and save the tenant it acts on,
/// read its infrastructure, find stalled tenants to re-drive, and remove a deleted
/// tenant's access entries, and write the outcome of an operation in the tenant's history.
pub trait WorkerStore:
    TenantGet + TenantSave + StalledTenants + InfrastructureGet + AccessList + AccessWrite + AuditLog + GrantStore
{
}

impl<T> WorkerStore for T where
    T: TenantGet + TenantSave + StalledTenants + InfrastructureGet + AccessList + AccessWrite + AuditLog + GrantStore
{
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
    /// Puts a grant in the cloud: `granter` is the granting tenant's boundary, `grantee`
    /// the other tenant's. Idempotent: what is already there is success.
    async fn apply_grant(&self, grant: &Grant, granter: &Boundary, grantee: &Boundary) -> Result<(), CloudError> {
        let _ = (granter, grantee);
        Err(CloudError::permanent(format!("grant {}: this cloud adapter does not apply grants", grant.id)))
    }
    /// Takes a grant out of the cloud, from whichever side is still there (`grantee` is
    /// `None` when that tenant is gone). Idempotent: what is already gone is success.
    async fn revoke_grant(
        &self,
        grant: &Grant,
        granter: &Boundary,
        grantee: Option<&Boundary>,
    ) -> Result<(), CloudError> {
        let _ = (granter, grantee);
        Err(CloudError::permanent(format!("grant {}: this cloud adapter does not revoke grants", grant.id)))
    }
}

/// What the cloud holds for a tenant: what the inventory and the drift check need.
#[async_trait]
pub trait Inventory: Send + Sync {
    /// Every resource in the scope's region tagged `tenancy:tenant=<tenant>` (any type,
    /// any deployment: the domain decides what counts), every role and instance profile
    /// under its IAM path, and every resource its record names, looked up directly so
    /// that one without its tags is still found. Each once, with its tags; a KMS key
    /// scheduled for deletion says so. Reads at most [`crate::inventory::MAX_HOLDINGS`]
    /// resources and says when there were more. A resource that does not exist is simply
    /// absent; only a failed call is an error.
    async fn holdings(&self, scope: &InventoryScope) -> Result<Holdings, CloudError>;
}

/// The networks infrastructures live in.
#[async_trait]
pub trait Vpcs: Send + Sync {
    /// The CIDR blocks (IPv4 and IPv6) associated with `vpc_id` in `region`, or `None`
    /// when no such VPC exists.
    async fn cidr_blocks(&self, region: &str, vpc_id: &str) -> Result<Option<Vec<String>>, CloudError>;
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

/// The event bus.
#[async_trait]
pub trait Events: Send + Sync {
    /// Publishes one event.
    async fn publish(&self, event: &LifecycleEvent) -> Result<(), EventsError>;
}

/// The cloud's token service: sessions of a tenant's role, for people.
#[async_trait]
pub trait SessionIssuer: Send + Sync {
    /// Assumes the role `request.role_arn` names, with its session name, tags and
    /// duration, and answers the session's credentials. A role whose trust does not admit
    /// Tenancy is a permanent error.
    async fn assume_tenant_role(&self, request: &SessionRequest) -> Result<Session, CloudError>;
}

/// The time. A port so that tests can move it (lease expiry, stalled tenants) without sleeping.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// Where the worker reports what provisioning did. Reporting never fails the work: an
/// adapter that cannot report drops the report.
pub trait LifecycleMetrics: Send + Sync {
    /// A step ran, to success, failure or a passing fault.
    fn step_ran(&self, report: &StepReport);
    /// An operation ended: the tenant is active, deleted or failed.
    fn operation_ended(&self, report: &OperationReport);
}
