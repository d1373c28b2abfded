//! Tenant types beyond `default`: what the registry declares of each, what a plugin
//! proposes, and why a plugin gave no usable answer.

use thiserror::Error;

use crate::plan::{Allowances, Refusal};
use crate::tenant::PluginRecord;

/// A hook of the tenant-type world: a moment of the lifecycle a plugin may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Hook {
    /// Before a tenant is created or changed: may refuse it.
    Validate,
    /// When a tenant is created (and planned again on a change): proposes its plan.
    OnCreate,
    /// Before a tenant's resources are removed: may refuse the deletion.
    OnDelete,
    /// Before a user is given access: may deny it.
    OnGrantAccess,
}

impl Hook {
    /// Every hook, in the order of the lifecycle.
    pub const ALL: [Hook; 4] = [Self::Validate, Self::OnCreate, Self::OnDelete, Self::OnGrantAccess];

    /// The hook's name in the WIT world and in manifests.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::OnCreate => "on-create",
            Self::OnDelete => "on-delete",
            Self::OnGrantAccess => "on-grant-access",
        }
    }

    /// The hook a name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|hook| hook.as_str() == name)
    }
}

/// What a tenant type may ask for beyond the rules, once an admin enables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Capability {
    /// Ingress from sources outside the infrastructure's VPC.
    PublicIngress,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 1] = [Self::PublicIngress];

    /// The capability's name in manifests.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PublicIngress => "public-ingress",
        }
    }

    /// The capability a name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|capability| capability.as_str() == name)
    }
}

/// A tenant type and the plugin behind it, as the registry declares it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The hooks it implements; the others are not called and answer as an empty plugin would.
    pub hooks: Vec<Hook>,
    /// What it declares it may ask for beyond the rules.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Of those, what an admin enabled for this deployment.
    #[serde(default)]
    pub enabled_capabilities: Vec<Capability>,
    /// The setting that holds a tenant's end, as a date `YYYY-MM-DD` (the end of that day,
    /// UTC): declared by the platform team, read and checked by Tenancy itself, so that no
    /// plugin sets an end. A type that names one requires it of every tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_setting: Option<String>,
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
