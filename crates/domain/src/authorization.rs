//! What a caller asks to do, and on what: the questions the [`crate::ports::Authorizer`]
//! answers. The answers are not here: they are policies (Cedar, in `policies/`), so that
//! a platform team changes who may do what by editing policies, not code.

use crate::access::{Caller, Role};
use crate::infrastructure::Environment;
use crate::names::Name;

/// Everything a caller may ask to do. The names are the policies' action ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create, read and delete infrastructures (on the platform).
    ManageInfrastructures,
    /// List the tenant types (on the platform).
    ListTenantTypes,
    /// List every tenant, not only one's own (on the platform).
    ListAllTenants,
    /// Create a tenant (on its infrastructure).
    CreateTenant,
    /// Read a tenant.
    ReadTenant,
    /// Change a tenant's settings, tags or deletion protection.
    UpdateTenant,
    /// Delete a tenant.
    DeleteTenant,
    /// Run a failed tenant's operation again.
    RetryTenant,
    /// Read who has access to a tenant.
    ReadAccess,
    /// Give, change and take away access to a tenant.
    ManageAccess,
    /// Get short-lived AWS credentials for the tenant's role.
    IssueCredentials,
    /// Read a tenant's grants to other tenants.
    ReadGrants,
    /// Open a tenant to another one, or close it again.
    ManageGrants,
    /// Read a tenant's history.
    ReadHistory,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 14] = [
        Self::ManageInfrastructures,
        Self::ListTenantTypes,
        Self::ListAllTenants,
        Self::CreateTenant,
        Self::ReadTenant,
        Self::UpdateTenant,
        Self::DeleteTenant,
        Self::RetryTenant,
        Self::ReadAccess,
        Self::ManageAccess,
        Self::IssueCredentials,
        Self::ReadGrants,
        Self::ManageGrants,
        Self::ReadHistory,
    ];

    /// The action's id in the policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ManageInfrastructures => "ManageInfrastructures",
            Self::ListTenantTypes => "ListTenantTypes",
            Self::ListAllTenants => "ListAllTenants",
            Self::CreateTenant => "CreateTenant",
            Self::ReadTenant => "ReadTenant",
            Self::UpdateTenant => "UpdateTenant",
            Self::DeleteTenant => "DeleteTenant",
            Self::RetryTenant => "RetryTenant",
            Self::ReadAccess => "ReadAccess",
            Self::ManageAccess => "ManageAccess",
            Self::IssueCredentials => "IssueCredentials",
            Self::ReadGrants => "ReadGrants",
            Self::ManageGrants => "ManageGrants",
            Self::ReadHistory => "ReadHistory",
        }
    }

    /// True when the action can be asked about `resource` (the schema's `appliesTo`):
    /// anything else is refused whatever the policies say.
    pub fn applies_to(self, resource: &Resource) -> bool {
        match self {
            Self::ManageInfrastructures | Self::ListTenantTypes | Self::ListAllTenants => {
                matches!(resource, Resource::Platform)
            }
            Self::CreateTenant => matches!(resource, Resource::Infrastructure { .. }),
            _ => matches!(resource, Resource::Tenant { .. }),
        }
    }

    /// What a refusal says the caller could not do.
    pub fn describe(self) -> &'static str {
        match self {
            Self::ManageInfrastructures => "manage infrastructures",
            Self::ListTenantTypes => "list tenant types",
            Self::ListAllTenants => "list every tenant",
            Self::CreateTenant => "create tenants in this infrastructure",
            Self::ReadTenant => "read this tenant",
            Self::UpdateTenant => "change this tenant",
            Self::DeleteTenant => "delete this tenant",
            Self::RetryTenant => "retry this tenant's operation",
            Self::ReadAccess => "read who has access to this tenant",
            Self::ManageAccess => "manage who has access to this tenant",
            Self::IssueCredentials => "get credentials for this tenant",
            Self::ReadGrants => "read this tenant's grants",
            Self::ManageGrants => "manage this tenant's grants",
            Self::ReadHistory => "read this tenant's history",
        }
    }
}

/// The tenant an action is on, as policies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantFacts {
    /// Its name.
    pub name: Name,
    /// Its infrastructure.
    pub infrastructure: Name,
    /// `prod` or `nonprod`.
    pub environment: Environment,
    /// Its type.
    pub tenant_type: String,
}

/// What an action is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The platform as a whole (infrastructures, tenant types, the list of every tenant).
    Platform,
    /// An infrastructure (creating a tenant in it).
    Infrastructure {
        /// Its name.
        name: Name,
        /// `prod` or `nonprod`.
        environment: Environment,
    },
    /// A tenant, with the caller's active role on it (none when the caller has none).
    Tenant {
        /// The tenant.
        tenant: TenantFacts,
        /// The caller's role on it, already checked for expiry and incarnation.
        role: Option<Role>,
    },
}

/// One question for the authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question<'a> {
    /// Who asks.
    pub caller: &'a Caller,
    /// To do what.
    pub action: Action,
    /// On what.
    pub resource: Resource,
}
