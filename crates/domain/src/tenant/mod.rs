//! Tenants: the unit of isolation. The aggregate is here; its state machine is in
//! [`state`], its status entries in [`status`].

pub mod expiry;
mod reads;
pub mod state;
pub mod status;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::access::{Caller, Via};
use crate::error::{ConflictReason, Error};
use crate::infrastructure::Environment;
use crate::metadata::tag_keys;
use crate::names::Name;
use crate::plan::{CatalogueResource, Plan, bucket_name};

pub use expiry::{ExpiryStage, ExpiryWatch};
pub use state::{Operation, TenantState};
pub use status::{Failure, ResourceKind, ResourceRef, ResourceStatus, Retrying, Step};

/// The tenant type used when a request names none.
pub const DEFAULT_TYPE: &str = "default";

/// Who asked for a tenant, a change or a deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Requester {
    /// The caller's subject (`sub` claim), or the event source for bus producers.
    pub id: String,
    /// The caller's e-mail, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// How the request arrived: `api` or `event`.
    pub via: Via,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Requester {
    /// Records `caller` as asking now.
    pub fn from_caller(caller: &Caller, now: OffsetDateTime) -> Self {
        Self { id: caller.id.clone(), email: caller.email.clone(), via: caller.via, at: now }
    }
}

/// What the tenant type's plugin asked for, as validated and recorded on the tenant:
/// the lifecycle applies it, and deletion removes whatever it added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PluginRecord {
    /// The plugin.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// SHA-256 of its `.wasm`.
    pub sha256: String,
    /// The plan, as validated.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub plan: Plan,
    /// What the plugin logged while planning (capped by the host).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// When the plan was made.
    #[serde(with = "time::serde::rfc3339")]
    pub planned_at: OffsetDateTime,
}

/// A worker's claim on a tenant: while it holds, no other worker acts on the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// The worker that holds it.
    pub owner: String,
    /// When it lapses if the worker dies.
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

/// A tenant: a container of resources, a security boundary, an access unit and a billing unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// Unique per incarnation: a tenant deleted and created again under the same name gets a new id.
    id: Uuid,
    /// Unique name across the control plane.
    name: Name,
    /// The infrastructure it lives in.
    infrastructure: Name,
    /// The infrastructure's environment class, copied at creation.
    environment: Environment,
    /// The tenant type (`default` unless a plugin type was asked for).
    #[serde(rename = "type")]
    tenant_type: String,
    /// Lifecycle state.
    state: TenantState,
    /// Free-form settings.
    settings: BTreeMap<String, String>,
    /// User tags, written on every resource beside Tenancy's own.
    tags: BTreeMap<String, String>,
    /// While on, the tenant cannot be deleted.
    deletion_protection: bool,
    /// When the tenant ends: the sweep then deletes it (or, under deletion protection,
    /// reports it). See [`expiry`].
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    expires_at: Option<OffsetDateTime>,
    /// When the sweep warned that this end is near (forgotten when the end changes).
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    expiry_warned_at: Option<OffsetDateTime>,
    /// When the sweep last reported that deletion protection keeps the tenant past its end
    /// (forgotten when the end changes or the protection is turned off).
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    expiry_blocked_at: Option<OffsetDateTime>,
    /// One entry per resource of the boundary.
    resources: Vec<ResourceStatus>,
    /// Set while the tenant is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<Failure>,
    /// Who asked for the current state.
    requested_by: Requester,
    /// Who asked for the tenant in the first place: a producer on the bus may delete only
    /// the tenants it created. Absent on records older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_by: Option<Requester>,
    /// How many runs of the current operation a worker has started. Bounded: a tenant that
    /// keeps failing to finish is failed, never re-driven for ever.
    #[serde(default)]
    attempts: u32,
    /// Set while the current operation waits to retry a step after a passing fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retrying: Option<Retrying>,
    /// ARNs of resources tagged with the tenant that this deployment did not make for it,
    /// found when the tenant was deleted: reported here, never touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    leftovers: Vec<String>,
    /// The tenant type's plan, once a plugin made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plugin: Option<PluginRecord>,
    /// The user and plan tags last applied to the resources, so that removed keys can be untagged.
    #[serde(default)]
    applied_tags: BTreeMap<String, String>,
    /// The worker acting on the tenant, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<Lease>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    /// Incremented by every write; writes are conditional on it.
    version: u64,
}

impl Tenant {
    /// A new tenant in `provisioning`, at version 1.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: Name,
        infrastructure: Name,
        environment: Environment,
        tenant_type: String,
        settings: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
        deletion_protection: bool,
        requested_by: Requester,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            name,
            infrastructure,
            environment,
            tenant_type,
            state: TenantState::Provisioning,
            settings,
            tags,
            deletion_protection,
            expires_at: None,
            expiry_warned_at: None,
            expiry_blocked_at: None,
            resources: ResourceKind::ALL.iter().map(|k| ResourceStatus::pending(*k, now)).collect(),
            failure: None,
            created_by: Some(requested_by.clone()),
            requested_by,
            attempts: 0,
            retrying: None,
            leftovers: Vec::new(),
            plugin: None,
            applied_tags: BTreeMap::new(),
            lease: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// Moves the tenant to `next`, or says why the state machine forbids it.
    fn transition(&mut self, next: TenantState, now: OffsetDateTime) -> Result<(), Error> {
        if !self.state.can_become(next) {
            return Err(Error::conflict(
                ConflictReason::State,
                format!("tenant '{}' is {}; it cannot become {next}", self.name, self.state),
            ));
        }
        self.state = next;
        if next != TenantState::Failed {
            self.failure = None;
            // A new operation (or the end of one) starts its count of runs afresh.
            self.attempts = 0;
        }
        self.retrying = None;
        self.changed(now);
        Ok(())
    }

    /// Records that the tenant changed now. Versions are the store's: it writes the next
    /// one when it saves the change.
    fn changed(&mut self, now: OffsetDateTime) {
        self.updated_at = now;
    }

    /// Starts `operation` (or runs it again after a failure) for `requester`.
    pub fn request(&mut self, operation: Operation, requester: Requester) -> Result<(), Error> {
        self.transition(operation.state(), requester.at)?;
        self.requested_by = requester;
        Ok(())
    }

    /// Replaces settings, tags and deletion protection, checked by the caller. Returns
    /// whether the resources need work: changed tags, or changed settings of a plugin
    /// type (its plan follows them), on an active tenant; the tenant is then `updating`
    /// for `requester`.
    pub fn change(
        &mut self,
        settings: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
        deletion_protection: bool,
        requester: Requester,
    ) -> Result<bool, Error> {
        let settings_changed = settings != self.settings;
        let tags_changed = tags != self.tags;
        self.settings = settings;
        self.tags = tags;
        if self.deletion_protection && !deletion_protection {
            // Nothing keeps an ended tenant any more: the next sweep deletes it, rather
            // than waiting for the day's next report.
            self.expiry_blocked_at = None;
        }
        self.deletion_protection = deletion_protection;
        let typed = self.tenant_type != DEFAULT_TYPE;
        let needs_work = (tags_changed || (typed && settings_changed)) && self.state == TenantState::Active;
        if needs_work {
            self.request(Operation::Update, requester)?;
        } else {
            self.changed(requester.at);
        }
        Ok(needs_work)
    }

    /// Sets (or clears) the tenant's end, checked by the caller. A new end starts afresh:
    /// it will be warned of, and reported, in its own time. Returns whether it changed.
    pub fn set_expiry(&mut self, expires_at: Option<OffsetDateTime>) -> bool {
        if self.expires_at == expires_at {
            return false;
        }
        self.expires_at = expires_at;
        self.expiry_warned_at = None;
        self.expiry_blocked_at = None;
        true
    }

    /// Where the tenant stands with the expiry sweep; `None` when the sweep has nothing to
    /// do with it: no end, or not `active` or `failed` (a tenant in an operation is
    /// watched again when it ends; a failed deletion waits for a person, not for a
    /// deletion requested every five minutes).
    pub fn expiry_watch(&self) -> Option<ExpiryWatch> {
        let ends = self.expires_at?;
        let watched = match self.state {
            TenantState::Active => true,
            TenantState::Failed => self.failure.as_ref().is_none_or(|f| f.operation != Operation::Delete),
            _ => false,
        };
        if !watched {
            return None;
        }
        if self.expiry_warned_at.is_none() && self.expiry_blocked_at.is_none() {
            return Some(ExpiryWatch { stage: ExpiryStage::Ahead, at: ends });
        }
        let next_report = self.expiry_blocked_at.map(|at| at + expiry::BLOCKED_REPORT_EVERY);
        Some(ExpiryWatch { stage: ExpiryStage::Due, at: next_report.map_or(ends, |next| next.max(ends)) })
    }

    /// Records that the sweep warned of the end now (`false`: forgets it, so that a
    /// warning that could not be published is tried again).
    pub fn mark_expiry_warned(&mut self, warned: bool, now: OffsetDateTime) {
        self.expiry_warned_at = warned.then_some(now);
        self.changed(now);
    }

    /// Records that the sweep reported now that deletion protection keeps the tenant past
    /// its end (`false`: forgets it, so that a report that could not be published is
    /// tried again).
    pub fn mark_expiry_blocked(&mut self, reported: bool, now: OffsetDateTime) {
        self.expiry_blocked_at = reported.then_some(now);
        self.changed(now);
    }

    /// A worker's claim for a run of the pending operation: `false` while another worker's
    /// lease holds. Each claim counts a run.
    pub fn claim(&mut self, owner: &str, lease: time::Duration, now: OffsetDateTime) -> bool {
        if self.lease.as_ref().is_some_and(|held| held.until > now) {
            return false;
        }
        self.lease = Some(Lease { owner: owner.to_string(), until: now + lease });
        self.attempts = self.attempts.saturating_add(1);
        self.changed(now);
        true
    }

    /// True while `owner`'s claim is the one recorded.
    pub fn is_claimed_by(&self, owner: &str) -> bool {
        self.lease.as_ref().is_some_and(|lease| lease.owner == owner)
    }

    /// Frees the worker's lease: the next trigger may run the operation at once.
    pub fn release(&mut self, now: OffsetDateTime) {
        self.lease = None;
        self.changed(now);
    }

    /// Records progress made now (resource statuses changed by [`Self::mark_ready`] and
    /// the like).
    pub fn progressed(&mut self, now: OffsetDateTime) {
        self.changed(now);
    }

    /// A passing fault outlasted a run's tries: recorded on the step, the lease freed, the
    /// step runs again later.
    pub fn wait_to_retry(&mut self, step: Step, error: &str, now: OffsetDateTime) {
        self.mark_retrying(step, error, now);
        self.release(now);
    }

    /// Fails the pending operation at `step`: the tenant is `failed`, says why, and may be
    /// retried or deleted.
    pub fn fail(&mut self, operation: Operation, step: Step, error: &str, now: OffsetDateTime) -> Result<(), Error> {
        self.transition(TenantState::Failed, now)?;
        self.mark_failed(operation, step, error, now);
        self.lease = None;
        Ok(())
    }

    /// Ends the pending operation successfully: `active` after a create or update (the
    /// applied tags remembered), `deleted` after a delete with what was found left behind.
    pub fn finish(&mut self, leftovers: Vec<String>, now: OffsetDateTime) -> Result<TenantState, Error> {
        let next = match self.pending_operation() {
            Some(Operation::Create | Operation::Update) => TenantState::Active,
            Some(Operation::Delete) => TenantState::Deleted,
            None => {
                return Err(Error::conflict(
                    ConflictReason::State,
                    format!("tenant '{}' has no pending operation", self.name),
                ));
            }
        };
        self.transition(next, now)?;
        self.lease = None;
        self.leftovers = leftovers;
        self.applied_tags = if next == TenantState::Deleted { BTreeMap::new() } else { self.extra_tags() };
        Ok(next)
    }

    /// The operation a transitional state stands for.
    pub fn pending_operation(&self) -> Option<Operation> {
        match self.state {
            TenantState::Provisioning => Some(Operation::Create),
            TenantState::Updating => Some(Operation::Update),
            TenantState::Deleting => Some(Operation::Delete),
            _ => None,
        }
    }

    /// The tags beside Tenancy's own: the user's, then the tenant type's plan, which wins
    /// on a shared key (a per-client tenant's `client` tag is the type's to set).
    pub fn extra_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        if let Some(record) = &self.plugin {
            tags.extend(record.plan.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        tags
    }

    /// Every tag written on the tenant's resources: Tenancy's own, the user's and the plan's.
    pub fn resource_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.extra_tags();
        tags.insert(tag_keys::TENANT.into(), self.name.to_string());
        tags.insert(tag_keys::TENANT_ID.into(), self.id.to_string());
        tags.insert(tag_keys::INFRASTRUCTURE.into(), self.infrastructure.to_string());
        tags.insert(tag_keys::TYPE.into(), self.tenant_type.clone());
        tags
    }

    /// Tag keys applied earlier but no longer wanted.
    pub fn removed_tag_keys(&self) -> Vec<String> {
        let wanted = self.extra_tags();
        self.applied_tags.keys().filter(|k| !wanted.contains_key(*k)).cloned().collect()
    }

    /// Records the tenant type's plan: its default settings fill the settings the tenant
    /// has not set, and each bucket it asks for gets a pending status entry.
    pub fn record_plan(&mut self, record: PluginRecord) {
        for (key, value) in &record.plan.default_settings {
            self.settings.entry(key.clone()).or_insert_with(|| value.clone());
        }
        for resource in &record.plan.resources {
            let CatalogueResource::Bucket(suffix) = resource;
            let name = bucket_name(&self.name, suffix);
            if !self.resources.iter().any(|r| r.kind == ResourceKind::Bucket && r.id.as_deref() == Some(&name)) {
                let mut status = ResourceStatus::pending(ResourceKind::Bucket, record.planned_at);
                status.id = Some(name);
                self.resources.push(status);
            }
        }
        self.plugin = Some(record);
    }

    /// The status entry of one resource: by kind, and by id for kinds a tenant may have
    /// several of (buckets).
    fn resource_mut(&mut self, kind: ResourceKind, id: Option<&str>) -> &mut ResourceStatus {
        let matches = |r: &ResourceStatus| r.kind == kind && (id.is_none() || r.id.is_none() || r.id.as_deref() == id);
        let index = match self.resources.iter().position(matches) {
            Some(index) => index,
            None => {
                let mut status = ResourceStatus::pending(kind, self.updated_at);
                status.id = id.map(str::to_string);
                self.resources.push(status);
                self.resources.len() - 1
            }
        };
        &mut self.resources[index]
    }

    /// Records a resource as existing and ready.
    pub fn mark_ready(&mut self, resource: &ResourceRef, now: OffsetDateTime) {
        let id = (resource.kind == ResourceKind::Bucket).then_some(resource.id.as_str());
        let status = self.resource_mut(resource.kind, id);
        if !status.ready || status.reason != "Ready" {
            status.last_transition_time = now;
        }
        status.id = Some(resource.id.clone());
        status.arn = Some(resource.arn.clone());
        status.ready = true;
        status.reason = "Ready".into();
        status.message = None;
    }

    /// Records every resource of a kind as removed.
    pub fn mark_removed(&mut self, kind: ResourceKind, now: OffsetDateTime) {
        for status in self.resources.iter_mut().filter(|r| r.kind == kind) {
            status.ready = false;
            status.reason = "Deleted".into();
            status.message = None;
            status.last_transition_time = now;
        }
    }

    /// Records a passing fault on the step's resource (if it is one) and on the tenant: the
    /// step will be tried again.
    fn mark_retrying(&mut self, step: Step, error: &str, now: OffsetDateTime) {
        if let Some(kind) = step.resource_kind() {
            let status = self.resource_mut(kind, None);
            status.ready = false;
            status.reason = "Retrying".into();
            status.message = Some(error.to_string());
            status.last_transition_time = now;
        }
        let since = self.retrying.as_ref().map_or(now, |r| r.since);
        self.retrying = Some(Retrying { step, error: error.to_string(), since, at: now });
    }

    /// Records a failed step on its resource (if it is one) and on the tenant.
    pub fn mark_failed(&mut self, operation: Operation, step: Step, error: &str, now: OffsetDateTime) {
        if let Some(kind) = step.resource_kind() {
            let status = self.resource_mut(kind, None);
            status.ready = false;
            status.reason = "Failed".into();
            status.message = Some(error.to_string());
            status.last_transition_time = now;
        }
        self.failure = Some(Failure { operation, step, error: error.to_string(), at: now });
    }
}

/// Checks a tenant type name. Types other than `default` come with the plugin work.
pub fn validate_type(tenant_type: &str, known: &[String]) -> Result<(), Error> {
    if tenant_type == DEFAULT_TYPE || known.iter().any(|t| t == tenant_type) {
        Ok(())
    } else {
        let mut all = vec![DEFAULT_TYPE.to_string()];
        all.extend(known.iter().cloned());
        Err(Error::invalid("type", format!("unknown tenant type '{tenant_type}'; known types: {}", all.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_are_refused_with_the_known_ones() {
        validate_type("default", &[]).unwrap();
        let err = validate_type("gpu", &[]).unwrap_err().to_string();
        assert!(err.contains("unknown tenant type 'gpu'") && err.contains("default"), "{err}");
    }
}
