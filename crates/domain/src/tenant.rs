//! Tenants: the unit of isolation, their state machine and their status.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::access::Caller;
use crate::error::Error;
use crate::infrastructure::Environment;
use crate::names::Name;
use crate::plan::{CatalogueResource, Plan, bucket_name};

/// Tag keys Tenancy writes on every resource; users may not set or override them.
pub mod tag_keys {
    /// The tenant's name: the billing unit.
    pub const TENANT: &str = "tenancy:tenant";
    /// The tenant's unique id, which tells a re-created tenant from an earlier one of the same name.
    pub const TENANT_ID: &str = "tenancy:tenant-id";
    /// The infrastructure the tenant lives in.
    pub const INFRASTRUCTURE: &str = "tenancy:infrastructure";
    /// The tenant type.
    pub const TYPE: &str = "tenancy:type";
    /// The deployment (stack) that made the resource: it adopts and deletes only its own.
    pub const DEPLOYMENT: &str = "tenancy:deployment";
    /// Prefix reserved for the keys above.
    pub const RESERVED_PREFIX: &str = "tenancy:";
}

/// Most user tags on a tenant. AWS allows 50 tags on a resource; Tenancy writes 5 and a
/// tenant type's plan at most 5.
pub const MAX_USER_TAGS: usize = 40;
/// Most settings on a tenant.
pub const MAX_SETTINGS: usize = 50;
/// Longest setting value.
pub const MAX_SETTING_VALUE_LEN: usize = 1024;
/// The tenant type used when a request names none.
pub const DEFAULT_TYPE: &str = "default";

/// Where a tenant is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantState {
    /// Recorded; its resources are being created.
    Provisioning,
    /// Every resource exists and is ready.
    Active,
    /// A change (new tags) is being applied to its resources.
    Updating,
    /// Its resources are being removed.
    Deleting,
    /// Every resource is gone; the record stays for audit and the name is free again.
    Deleted,
    /// A step failed; [`Tenant::failure`] says which and why. May be retried or deleted.
    Failed,
}

impl TenantState {
    /// True while a worker has cloud work to do for the tenant.
    pub fn is_transitional(self) -> bool {
        matches!(self, Self::Provisioning | Self::Updating | Self::Deleting)
    }

    /// The transitions the state machine allows.
    pub fn can_become(self, next: Self) -> bool {
        use TenantState::*;
        matches!(
            (self, next),
            (Provisioning, Active | Failed)
                | (Active, Updating | Deleting)
                | (Updating, Active | Failed)
                | (Deleting, Deleted | Failed)
                | (Failed, Provisioning | Updating | Deleting)
        )
    }
}

impl fmt::Display for TenantState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        f.write_str(&s)
    }
}

/// The cloud work a transitional state stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Create the tenant's resources.
    Create,
    /// Apply changed tags to them.
    Update,
    /// Remove them.
    Delete,
}

impl Operation {
    /// The state a tenant is in while this operation runs.
    pub fn state(self) -> TenantState {
        match self {
            Self::Create => TenantState::Provisioning,
            Self::Update => TenantState::Updating,
            Self::Delete => TenantState::Deleting,
        }
    }
}

/// The kinds of resource that make up a tenant's security boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ResourceKind {
    /// Admits only its own members.
    SecurityGroup,
    /// The identity of the tenant's workloads.
    Role,
    /// Carries the role onto EC2 instances.
    InstanceProfile,
    /// Encrypts the tenant's data.
    Key,
    /// A bucket from the catalogue, asked for by the tenant type's plan.
    Bucket,
}

impl ResourceKind {
    /// The kinds every tenant has, in the order status lists them.
    pub const ALL: [ResourceKind; 4] = [Self::SecurityGroup, Self::Role, Self::InstanceProfile, Self::Key];

    /// The step name used in status and failures.
    pub fn step(self) -> &'static str {
        match self {
            Self::SecurityGroup => "securityGroup",
            Self::Role => "role",
            Self::InstanceProfile => "instanceProfile",
            Self::Key => "key",
            Self::Bucket => "bucket",
        }
    }

    /// The kind a step name stands for.
    pub fn from_step(step: &str) -> Option<Self> {
        Self::ALL.into_iter().chain([Self::Bucket]).find(|kind| kind.step() == step)
    }
}

/// A resource as the cloud reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// What it is.
    pub kind: ResourceKind,
    /// Its identifier (group id, role name, profile name, key id).
    pub id: String,
    /// Its ARN.
    pub arn: String,
}

/// One resource's place in the tenant's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// What it is.
    pub kind: ResourceKind,
    /// Its identifier, once it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its ARN, once it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// True when it exists as the tenant needs it.
    pub ready: bool,
    /// A one-word reason for `ready` (`Created`, `Pending`, `Failed`, `Deleted`...).
    pub reason: String,
    /// Detail for a person, when there is any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When `ready` or `reason` last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub last_transition_time: OffsetDateTime,
}

impl ResourceStatus {
    fn pending(kind: ResourceKind, now: OffsetDateTime) -> Self {
        Self {
            kind,
            id: None,
            arn: None,
            ready: false,
            reason: "Pending".into(),
            message: None,
            last_transition_time: now,
        }
    }
}

/// What went wrong, recorded on a failed tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The operation that failed; a retry runs it again.
    pub operation: Operation,
    /// The step that failed (`role`, `key`, `leftovers`...).
    pub step: String,
    /// The cloud's error, as it said it.
    pub error: String,
    /// When it failed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Who asked for a tenant, a change or a deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requester {
    /// The caller's subject (`sub` claim), or the event source for bus producers.
    pub id: String,
    /// The caller's e-mail, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `api` or `event`.
    pub via: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Requester {
    /// Records `caller` as asking now.
    pub fn from_caller(caller: &Caller, now: OffsetDateTime) -> Self {
        Self { id: caller.id.clone(), email: caller.email.clone(), via: caller.via.as_str().into(), at: now }
    }
}

/// What the tenant type's plugin asked for, as validated and recorded on the tenant:
/// the lifecycle applies it, and deletion removes whatever it added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginRecord {
    /// The plugin.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// SHA-256 of its `.wasm`.
    pub sha256: String,
    /// The plan, as validated.
    pub plan: Plan,
    /// What the plugin logged while planning (capped by the host).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// When the plan was made.
    #[serde(with = "time::serde::rfc3339")]
    pub planned_at: OffsetDateTime,
}

/// A passing fault that stopped the last run of the tenant's operation: the step is tried
/// again later, until the operation runs out of attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retrying {
    /// The step that met the fault.
    pub step: String,
    /// The cloud's words.
    pub error: String,
    /// When the operation first met a passing fault.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When it last did.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
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
    pub id: Uuid,
    /// Unique name across the control plane.
    pub name: Name,
    /// The infrastructure it lives in.
    pub infrastructure: Name,
    /// The infrastructure's environment class, copied at creation.
    pub environment: Environment,
    /// The tenant type (`default` unless a plugin type was asked for).
    #[serde(rename = "type")]
    pub tenant_type: String,
    /// Lifecycle state.
    pub state: TenantState,
    /// Free-form settings.
    pub settings: BTreeMap<String, String>,
    /// User tags, written on every resource beside Tenancy's own.
    pub tags: BTreeMap<String, String>,
    /// While on, the tenant cannot be deleted.
    pub deletion_protection: bool,
    /// One entry per resource of the boundary.
    pub resources: Vec<ResourceStatus>,
    /// Set while the tenant is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Who asked for the current state.
    pub requested_by: Requester,
    /// Who asked for the tenant in the first place: a producer on the bus may delete only
    /// the tenants it created. Absent on records older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Requester>,
    /// How many runs of the current operation a worker has started. Bounded: a tenant that
    /// keeps failing to finish is failed, never re-driven for ever.
    #[serde(default)]
    pub attempts: u32,
    /// Set while the current operation waits to retry a step after a passing fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrying: Option<Retrying>,
    /// ARNs of resources tagged with the tenant that this deployment did not make for it,
    /// found when the tenant was deleted: reported here, never touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<String>,
    /// The tenant type's plan, once a plugin made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginRecord>,
    /// The user and plan tags last applied to the resources, so that removed keys can be untagged.
    #[serde(default)]
    pub applied_tags: BTreeMap<String, String>,
    /// The worker acting on the tenant, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Incremented by every write; writes are conditional on it.
    pub version: u64,
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
    pub fn transition(&mut self, next: TenantState, now: OffsetDateTime) -> Result<(), Error> {
        if !self.state.can_become(next) {
            return Err(Error::Conflict(format!("tenant '{}' is {}; it cannot become {next}", self.name, self.state)));
        }
        self.state = next;
        if next != TenantState::Failed {
            self.failure = None;
        }
        // A new operation (or the end of one) starts its count of runs afresh.
        if next != TenantState::Failed {
            self.attempts = 0;
        }
        self.retrying = None;
        self.touch(now);
        Ok(())
    }

    /// Records a change: bumps the version and the update time.
    pub fn touch(&mut self, now: OffsetDateTime) {
        self.version += 1;
        self.updated_at = now;
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
    pub fn resource_mut(&mut self, kind: ResourceKind, id: Option<&str>) -> &mut ResourceStatus {
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
    pub fn mark_retrying(&mut self, step: &str, error: &str, now: OffsetDateTime) {
        if let Some(kind) = ResourceKind::from_step(step) {
            let status = self.resource_mut(kind, None);
            status.ready = false;
            status.reason = "Retrying".into();
            status.message = Some(error.to_string());
            status.last_transition_time = now;
        }
        let since = self.retrying.as_ref().map_or(now, |r| r.since);
        self.retrying = Some(Retrying { step: step.to_string(), error: error.to_string(), since, at: now });
    }

    /// Records a failed step on its resource (if it is one) and on the tenant.
    pub fn mark_failed(&mut self, operation: Operation, step: &str, error: &str, now: OffsetDateTime) {
        if let Some(kind) = ResourceKind::from_step(step) {
            let status = self.resource_mut(kind, None);
            status.ready = false;
            status.reason = "Failed".into();
            status.message = Some(error.to_string());
            status.last_transition_time = now;
        }
        self.failure = Some(Failure { operation, step: step.to_string(), error: error.to_string(), at: now });
    }
}

/// Checks user tags: count, lengths, characters, and no key in Tenancy's or AWS's namespaces.
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), Error> {
    if tags.len() > MAX_USER_TAGS {
        return Err(Error::invalid("tags", format!("at most {MAX_USER_TAGS} tags are allowed, got {}", tags.len())));
    }
    let allowed = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
    for (key, value) in tags {
        let field = format!("tags.{key}");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(Error::invalid(&field, "tag keys must be 1 to 128 characters long"));
        }
        if value.chars().count() > 256 {
            return Err(Error::invalid(&field, "tag values must be at most 256 characters long"));
        }
        if let Some(c) = key.chars().chain(value.chars()).find(|c| !allowed(*c)) {
            return Err(Error::invalid(
                &field,
                format!("'{c}' is not allowed in tags; use letters, digits, spaces and _ . : / = + - @"),
            ));
        }
        let lower = key.to_ascii_lowercase();
        if lower.starts_with(tag_keys::RESERVED_PREFIX) {
            return Err(Error::invalid(&field, "keys starting with 'tenancy:' are written by Tenancy itself"));
        }
        if lower.starts_with("aws:") {
            return Err(Error::invalid(&field, "keys starting with 'aws:' are reserved by AWS"));
        }
    }
    Ok(())
}

/// Checks settings: count, key characters and lengths.
pub fn validate_settings(settings: &BTreeMap<String, String>) -> Result<(), Error> {
    if settings.len() > MAX_SETTINGS {
        return Err(Error::invalid(
            "settings",
            format!("at most {MAX_SETTINGS} settings are allowed, got {}", settings.len()),
        ));
    }
    for (key, value) in settings {
        let field = format!("settings.{key}");
        let key_ok = !key.is_empty()
            && key.len() <= 128
            && key.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c));
        if !key_ok {
            return Err(Error::invalid(&field, "setting keys are 1 to 128 of A-Z a-z 0-9 . _ - / :"));
        }
        if value.len() > MAX_SETTING_VALUE_LEN {
            return Err(Error::invalid(&field, format!("setting values are at most {MAX_SETTING_VALUE_LEN} bytes")));
        }
    }
    Ok(())
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
    use TenantState::*;

    #[test]
    fn the_state_machine_allows_only_the_documented_transitions() {
        let all = [Provisioning, Active, Updating, Deleting, Deleted, Failed];
        let allowed = [
            (Provisioning, Active),
            (Provisioning, Failed),
            (Active, Updating),
            (Active, Deleting),
            (Updating, Active),
            (Updating, Failed),
            (Deleting, Deleted),
            (Deleting, Failed),
            (Failed, Provisioning),
            (Failed, Updating),
            (Failed, Deleting),
        ];
        for from in all {
            for to in all {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn deleted_is_final() {
        assert!(TenantState::ALL_FOR_TESTS.iter().all(|s| !Deleted.can_become(*s)));
    }

    impl TenantState {
        const ALL_FOR_TESTS: [TenantState; 6] = [Provisioning, Active, Updating, Deleting, Deleted, Failed];
    }

    #[test]
    fn user_tags_may_not_use_reserved_namespaces() {
        for key in ["tenancy:tenant", "Tenancy:x", "aws:foo", "AWS:bar"] {
            let tags = BTreeMap::from([(key.to_string(), "v".to_string())]);
            assert!(validate_tags(&tags).is_err(), "{key}");
        }
        validate_tags(&BTreeMap::from([("cost-centre".to_string(), "cc 42/a".to_string())])).unwrap();
    }

    #[test]
    fn too_many_or_too_long_tags_are_refused() {
        let many: BTreeMap<_, _> = (0..=MAX_USER_TAGS).map(|i| (format!("k{i}"), "v".to_string())).collect();
        assert!(validate_tags(&many).is_err());
        let long = BTreeMap::from([("k".repeat(129), String::new())]);
        assert!(validate_tags(&long).is_err());
        let bad_char = BTreeMap::from([("k".to_string(), "v;drop".to_string())]);
        assert!(validate_tags(&bad_char).unwrap_err().to_string().contains("';'"));
    }

    #[test]
    fn unknown_types_are_refused_with_the_known_ones() {
        validate_type("default", &[]).unwrap();
        let err = validate_type("gpu", &[]).unwrap_err().to_string();
        assert!(err.contains("unknown tenant type 'gpu'") && err.contains("default"), "{err}");
    }
}
