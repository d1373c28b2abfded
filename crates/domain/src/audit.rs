//! The audit trail: who changed what, when, from which request. Entries are kept in the
//! store under the tenant's (or infrastructure's) name, across incarnations, and published
//! on the bus.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::access::{Caller, Via};
use crate::names::Name;

/// What an audit entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Subject {
    /// A tenant: its name and incarnation.
    Tenant {
        /// Its name.
        name: Name,
        /// The incarnation.
        id: uuid::Uuid,
    },
    /// An infrastructure.
    Infrastructure {
        /// Its name.
        name: Name,
    },
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuditAction {
    /// An infrastructure was recorded.
    #[serde(rename = "infrastructure.created")]
    InfrastructureCreated,
    /// An infrastructure was deleted.
    #[serde(rename = "infrastructure.deleted")]
    InfrastructureDeleted,
    /// A tenant was asked for.
    #[serde(rename = "tenant.created")]
    TenantCreated,
    /// A tenant's settings, tags or deletion protection changed.
    #[serde(rename = "tenant.updated")]
    TenantUpdated,
    /// A tenant's deletion was asked for.
    #[serde(rename = "tenant.deletion-requested")]
    TenantDeletionRequested,
    /// A tenant reached its end and the sweep asked for its deletion.
    #[serde(rename = "tenant.expired")]
    TenantExpired,
    /// A failed operation was run again.
    #[serde(rename = "tenant.retried")]
    TenantRetried,
    /// The lifecycle finished an operation: the tenant is active (after a creation or a
    /// change) or deleted.
    #[serde(rename = "tenant.operation-succeeded")]
    TenantOperationSucceeded,
    /// The lifecycle stopped an operation at a step.
    #[serde(rename = "tenant.operation-failed")]
    TenantOperationFailed,
    /// Access was given or changed.
    #[serde(rename = "access.granted")]
    AccessGranted,
    /// Access was taken away.
    #[serde(rename = "access.revoked")]
    AccessRevoked,
    /// Access reached its end and was removed by the sweep.
    #[serde(rename = "access.expired")]
    AccessExpired,
    /// Short-lived credentials were issued.
    #[serde(rename = "credentials.issued")]
    CredentialsIssued,
    /// A grant to another tenant was made.
    #[serde(rename = "grant.created")]
    GrantCreated,
    /// A grant to another tenant was revoked.
    #[serde(rename = "grant.revoked")]
    GrantRevoked,
    /// A grant reached its end.
    #[serde(rename = "grant.expired")]
    GrantExpired,
}

impl AuditAction {
    /// The `detail-type` it is published under.
    pub fn detail_type(self) -> &'static str {
        match self {
            Self::InfrastructureCreated => "Infrastructure Created",
            Self::InfrastructureDeleted => "Infrastructure Deleted",
            Self::TenantCreated => "Tenant Created",
            Self::TenantUpdated => "Tenant Changed",
            Self::TenantDeletionRequested => "Tenant Deletion Requested",
            Self::TenantExpired => "Tenant Expired",
            Self::TenantRetried => "Tenant Retried",
            Self::TenantOperationSucceeded => "Tenant Operation Succeeded",
            Self::TenantOperationFailed => "Tenant Operation Failed",
            Self::AccessGranted => "Tenant Access Granted",
            Self::AccessRevoked => "Tenant Access Revoked",
            Self::AccessExpired => "Tenant Access Expired",
            Self::CredentialsIssued => "Tenant Credentials Issued",
            Self::GrantCreated => "Tenant Grant Created",
            Self::GrantRevoked => "Tenant Grant Revoked",
            Self::GrantExpired => "Tenant Grant Expired",
        }
    }
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    /// The caller's subject, the producer (`source@account`), or `tenancy` for the sweep.
    pub id: String,
    /// How: `api` or `event`.
    pub via: Via,
    /// The request's id, when there was a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Actor {
    /// The caller as an actor.
    pub fn of(caller: &Caller) -> Self {
        Self { id: caller.id.clone(), via: caller.via, request_id: caller.request_id.clone() }
    }

    /// Tenancy itself (a scheduled sweep).
    pub fn tenancy() -> Self {
        // The events' source (`crate::events::SOURCE`), spelled here so that the trail does
        // not import the bus's module, which imports the trail.
        Self { id: "tenancy".to_string(), via: Via::Event, request_id: None }
    }
}

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// A unique id (also what orders entries recorded in the same instant).
    pub id: uuid::Uuid,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: Actor,
    /// What happened.
    pub action: AuditAction,
    /// To what.
    pub subject: Subject,
    /// The particulars (the role given, the user, the grant...), never a secret.
    pub detail: Value,
}

impl AuditEntry {
    /// A new entry.
    pub fn new(at: OffsetDateTime, actor: Actor, action: AuditAction, subject: Subject, detail: Value) -> Self {
        Self { id: uuid::Uuid::new_v4(), at, actor, action, subject, detail }
    }

    /// The name the entry is kept under: `tenant/<name>` or `infrastructure/<name>`.
    pub fn trail(&self) -> String {
        match &self.subject {
            Subject::Tenant { name, .. } => tenant_trail(name),
            Subject::Infrastructure { name } => format!("infrastructure/{name}"),
        }
    }
}

/// The trail a tenant's entries are kept under, across its incarnations.
pub fn tenant_trail(name: &Name) -> String {
    format!("tenant/{name}")
}
