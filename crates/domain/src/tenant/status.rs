//! A tenant's status: one entry per resource of its boundary, what failed, and what waits
//! to be retried.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::state::Operation;

/// The kinds of resource that make up a tenant's security boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

    /// The name status and failures use for the kind's step.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecurityGroup => "securityGroup",
            Self::Role => "role",
            Self::InstanceProfile => "instanceProfile",
            Self::Key => "key",
            Self::Bucket => "bucket",
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step of an operation: one kind of resource's cloud work, or the work around it.
/// Recorded on failures and retries by name (`role`, `plugin`...), as the API shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Making or removing the resources of one kind.
    Resource(ResourceKind),
    /// The tenant type's plugin: its plan (checked before anything is applied) or its
    /// `on-delete` hook.
    Plugin,
    /// The worker's run as a whole: a bug it caught, or an operation out of runs.
    Worker,
    /// The check, after a deletion, that nothing the deployment made is left.
    Leftovers,
    /// Before a deletion, taking every grant that involves the tenant out of the cloud.
    Grants,
}

impl Step {
    /// Every step that is not a resource kind's.
    const OTHERS: [Step; 4] = [Self::Plugin, Self::Worker, Self::Leftovers, Self::Grants];

    /// The step's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resource(kind) => kind.as_str(),
            Self::Plugin => "plugin",
            Self::Worker => "worker",
            Self::Leftovers => "leftovers",
            Self::Grants => "grants",
        }
    }

    /// The step a name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        ResourceKind::ALL
            .into_iter()
            .chain([ResourceKind::Bucket])
            .map(Self::Resource)
            .chain(Self::OTHERS)
            .find(|step| step.as_str() == name)
    }

    /// The resource kind whose status entry the step is about, if it is one.
    pub fn resource_kind(self) -> Option<ResourceKind> {
        match self {
            Self::Resource(kind) => Some(kind),
            _ => None,
        }
    }
}

impl From<ResourceKind> for Step {
    fn from(kind: ResourceKind) -> Self {
        Self::Resource(kind)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Step {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Step {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown step '{name}'")))
    }
}

/// A step is a string on the wire: one of its names.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Step {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let names = ResourceKind::ALL.into_iter().chain([ResourceKind::Bucket]).map(Step::Resource).chain(Self::OTHERS);
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(names.map(Step::as_str)))
            .description(Some(
                "A step of an operation: a resource kind's, or `plugin`, `worker`, `leftovers`, `grants`.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Step {}

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    pub(super) fn pending(kind: ResourceKind, now: OffsetDateTime) -> Self {
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Failure {
    /// The operation that failed; a retry runs it again.
    pub operation: Operation,
    /// The step that failed (`role`, `key`, `leftovers`...).
    pub step: Step,
    /// The cloud's error, as it said it.
    pub error: String,
    /// When it failed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A passing fault that stopped the last run of the tenant's operation: the step is tried
/// again later, until the operation runs out of attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Retrying {
    /// The step that met the fault.
    pub step: Step,
    /// The cloud's words.
    pub error: String,
    /// When the operation first met a passing fault.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When it last did.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}
