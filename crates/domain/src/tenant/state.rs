//! The tenant's state machine: where a tenant is in its lifecycle, and the cloud work each
//! transitional state stands for.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a tenant is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Operation {
    /// Create the tenant's resources.
    Create,
    /// Apply changed tags to them.
    Update,
    /// Remove them.
    Delete,
}

impl Operation {
    /// Its name, as serialised (`create`, `update`, `delete`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }

    /// The state a tenant is in while this operation runs.
    pub fn state(self) -> TenantState {
        match self {
            Self::Create => TenantState::Provisioning,
            Self::Update => TenantState::Updating,
            Self::Delete => TenantState::Deleting,
        }
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
}
