//! Reads of the tenant aggregate: a child of its module, so that it sees the private
//! fields, and nothing outside can write them.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Failure, Lease, PluginRecord, Requester, ResourceStatus, Retrying, Tenant, TenantState};
use crate::infrastructure::Environment;
use crate::names::Name;

/// Reads of the aggregate. Changes go through its transitions (below), never through
/// its fields: a caller cannot set a state, a lease or a version by hand.
impl Tenant {
    /// Unique per incarnation: a tenant deleted and created again under the same name gets a new id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Unique name across the control plane.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The infrastructure it lives in.
    pub fn infrastructure(&self) -> &Name {
        &self.infrastructure
    }

    /// The infrastructure's environment class, copied at creation.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The tenant type (`default` unless a plugin type was asked for).
    pub fn tenant_type(&self) -> &String {
        &self.tenant_type
    }

    /// Lifecycle state.
    pub fn state(&self) -> TenantState {
        self.state
    }

    /// Free-form settings.
    pub fn settings(&self) -> &BTreeMap<String, String> {
        &self.settings
    }

    /// User tags, written on every resource beside Tenancy's own.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// While on, the tenant cannot be deleted.
    pub fn deletion_protection(&self) -> bool {
        self.deletion_protection
    }

    /// One entry per resource of the boundary.
    pub fn resources(&self) -> &Vec<ResourceStatus> {
        &self.resources
    }

    /// Set while the tenant is `failed`.
    pub fn failure(&self) -> &Option<Failure> {
        &self.failure
    }

    /// Who asked for the current state.
    pub fn requested_by(&self) -> &Requester {
        &self.requested_by
    }

    /// Who asked for the tenant in the first place: a producer on the bus may delete only
    /// the tenants it created. Absent on records older than this field.
    pub fn created_by(&self) -> &Option<Requester> {
        &self.created_by
    }

    /// How many runs of the current operation a worker has started. Bounded: a tenant that
    /// keeps failing to finish is failed, never re-driven for ever.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Set while the current operation waits to retry a step after a passing fault.
    pub fn retrying(&self) -> &Option<Retrying> {
        &self.retrying
    }

    /// ARNs of resources tagged with the tenant that this deployment did not make for it,
    /// found when the tenant was deleted: reported here, never touched.
    pub fn leftovers(&self) -> &Vec<String> {
        &self.leftovers
    }

    /// The tenant type's plan, once a plugin made one.
    pub fn plugin(&self) -> &Option<PluginRecord> {
        &self.plugin
    }

    /// The user and plan tags last applied to the resources, so that removed keys can be untagged.
    pub fn applied_tags(&self) -> &BTreeMap<String, String> {
        &self.applied_tags
    }

    /// The worker acting on the tenant, if any.
    pub fn lease(&self) -> &Option<Lease> {
        &self.lease
    }

    /// Creation time.
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// Last change.
    pub fn updated_at(&self) -> OffsetDateTime {
        self.updated_at
    }

    /// Incremented by every write; writes are conditional on it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the tenant ends, if it does.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    /// When the sweep warned of the current end, if it did.
    pub fn expiry_warned_at(&self) -> Option<OffsetDateTime> {
        self.expiry_warned_at
    }

    /// When the sweep last reported that deletion protection keeps the tenant past its end.
    pub fn expiry_blocked_at(&self) -> Option<OffsetDateTime> {
        self.expiry_blocked_at
    }

    /// The tenant as stored at `version`: versions are the store's to write.
    #[cfg(any(test, feature = "test-support"))]
    pub(crate) fn stored_at(mut self, version: u64) -> Self {
        self.version = version;
        self
    }
}
