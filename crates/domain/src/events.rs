//! The events Tenancy puts on the bus, and the ones it accepts from other producers.

use serde_json::{Value, json};

use crate::audit::{AuditAction, AuditEntry};
use crate::error::Error;
use crate::tenant::{Operation, Tenant};

/// Event source of everything Tenancy publishes.
pub const SOURCE: &str = "tenancy";

/// What happened, as an EventBridge `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A tenant was asked for (by the API, or by another producer on the bus).
    CreateRequested,
    /// A tenant's tags changed and must reach its resources.
    UpdateRequested,
    /// A tenant's deletion was asked for.
    DeleteRequested,
    /// Every resource of a new tenant is ready.
    Provisioned,
    /// Provisioning stopped at a step.
    ProvisioningFailed,
    /// A change reached every resource.
    Updated,
    /// A change stopped at a step.
    UpdateFailed,
    /// Every resource of a tenant is gone.
    Deleted,
    /// Deletion stopped at a step.
    DeletionFailed,
    /// A create request from the bus was refused.
    CreateRejected,
    /// A delete request from the bus was refused.
    DeleteRejected,
    /// A request from a producer that is not trusted for it was refused.
    RequestRejected,
    /// A grant was recorded and must reach the cloud (Tenancy's own request only).
    GrantApplyRequested,
    /// A grant was revoked or expired and must leave the cloud (Tenancy's own request only).
    GrantRevokeRequested,
    /// A tenant's end is within the warning window (once per end).
    Expiring,
    /// A tenant passed its end, but deletion protection keeps it (at most daily).
    ExpiryBlocked,
    /// The daily sweep found an active tenant's resources differ from its record.
    DriftDetected,
    /// An entry of the audit trail (access, grants, credentials, tenants, infrastructures).
    Audit(AuditAction),
}

impl EventKind {
    /// The request that asks the worker to run `operation`.
    pub fn requested(operation: Operation) -> Self {
        match operation {
            Operation::Create => Self::CreateRequested,
            Operation::Update => Self::UpdateRequested,
            Operation::Delete => Self::DeleteRequested,
        }
    }

    /// The outcome of `operation` when it reached its end.
    pub fn done(operation: Operation) -> Self {
        match operation {
            Operation::Create => Self::Provisioned,
            Operation::Update => Self::Updated,
            Operation::Delete => Self::Deleted,
        }
    }

    /// The outcome of `operation` when a step failed it.
    pub fn failed(operation: Operation) -> Self {
        match operation {
            Operation::Create => Self::ProvisioningFailed,
            Operation::Update => Self::UpdateFailed,
            Operation::Delete => Self::DeletionFailed,
        }
    }

    /// The `detail-type` string.
    pub fn detail_type(self) -> &'static str {
        match self {
            Self::CreateRequested => "Tenant Create Requested",
            Self::UpdateRequested => "Tenant Update Requested",
            Self::DeleteRequested => "Tenant Delete Requested",
            Self::Provisioned => "Tenant Provisioned",
            Self::ProvisioningFailed => "Tenant Provisioning Failed",
            Self::Updated => "Tenant Updated",
            Self::UpdateFailed => "Tenant Update Failed",
            Self::Deleted => "Tenant Deleted",
            Self::DeletionFailed => "Tenant Deletion Failed",
            Self::CreateRejected => "Tenant Create Rejected",
            Self::DeleteRejected => "Tenant Delete Rejected",
            Self::RequestRejected => "Tenant Request Rejected",
            Self::GrantApplyRequested => "Grant Apply Requested",
            Self::GrantRevokeRequested => "Grant Revoke Requested",
            Self::Expiring => "Tenant Expiring",
            Self::ExpiryBlocked => "Tenant Expiry Blocked",
            Self::DriftDetected => "Tenant Drift Detected",
            Self::Audit(action) => action.detail_type(),
        }
    }

    /// The request kinds the lifecycle worker consumes.
    pub const REQUESTS: [EventKind; 3] = [Self::CreateRequested, Self::UpdateRequested, Self::DeleteRequested];

    /// The grant requests the lifecycle worker consumes: only from Tenancy itself.
    pub const GRANT_REQUESTS: [EventKind; 2] = [Self::GrantApplyRequested, Self::GrantRevokeRequested];

    /// Every kind of the lifecycle (audit kinds are [`AuditAction`]'s).
    pub const ALL: [EventKind; 17] = [
        Self::CreateRequested,
        Self::UpdateRequested,
        Self::DeleteRequested,
        Self::Provisioned,
        Self::ProvisioningFailed,
        Self::Updated,
        Self::UpdateFailed,
        Self::Deleted,
        Self::DeletionFailed,
        Self::CreateRejected,
        Self::DeleteRejected,
        Self::RequestRejected,
        Self::GrantApplyRequested,
        Self::GrantRevokeRequested,
        Self::Expiring,
        Self::ExpiryBlocked,
        Self::DriftDetected,
    ];

    /// The kind with this `detail-type`, if any.
    pub fn from_detail_type(detail_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.detail_type() == detail_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_detail_type() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_detail_type(kind.detail_type()), Some(kind));
        }
        assert_eq!(EventKind::from_detail_type("Scheduled Event"), None);
    }
}

/// One event for the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleEvent {
    /// Its kind.
    pub kind: EventKind,
    /// Its `detail` object.
    pub detail: Value,
    /// The tenant it is about, so adapters can name it in the event's resources.
    pub tenant: Option<String>,
}

impl LifecycleEvent {
    /// A request for the worker: names the tenant incarnation and the version that asked.
    pub fn request(kind: EventKind, tenant: &Tenant) -> Self {
        Self {
            kind,
            detail: json!({ "tenant": tenant.name(), "tenantId": tenant.id(), "version": tenant.version() }),
            tenant: Some(tenant.name().to_string()),
        }
    }

    /// A request for the worker about one grant: names the granting tenant and the grant.
    pub fn grant_request(kind: EventKind, grant: &crate::grant::Grant) -> Self {
        Self {
            kind,
            detail: json!({ "tenant": grant.from_tenant, "tenantId": grant.from_tenant_id, "grantId": grant.id }),
            tenant: Some(grant.from_tenant.to_string()),
        }
    }

    /// A notice about a tenant's end (`Tenant Expiring`, `Tenant Expiry Blocked`): the
    /// tenant, its end, and its deletion protection.
    pub fn expiry(kind: EventKind, tenant: &Tenant) -> Self {
        let expires_at =
            tenant.expires_at().and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok());
        let mut detail = json!({
            "tenant": tenant.name(), "tenantId": tenant.id(), "infrastructure": tenant.infrastructure(),
            "type": tenant.tenant_type(), "expiresAt": expires_at, "deletionProtection": tenant.deletion_protection(),
        });
        if kind == EventKind::ExpiryBlocked {
            detail["reason"] = json!(format!(
                "deletion protection keeps the tenant past its end; turn it off (PATCH /v1/tenants/{} \
                 {{\"deletionProtection\": false}}) to let the sweep delete it, or move expiresAt later",
                tenant.name()
            ));
        }
        Self { kind, detail, tenant: Some(tenant.name().to_string()) }
    }

    /// Drift found on a tenant: names it and carries the items, each with its remedy (at
    /// most [`crate::inventory::MAX_DRIFT_PER_EVENT`], so that the event stays under
    /// EventBridge's 256 KB; `driftCount` says how many there are).
    pub fn drift(report: &crate::inventory::InventoryReport) -> Self {
        let shown = &report.drift[..report.drift.len().min(crate::inventory::MAX_DRIFT_PER_EVENT)];
        Self {
            kind: EventKind::DriftDetected,
            detail: json!({
                "tenant": report.tenant,
                "tenantId": report.tenant_id,
                "driftCount": report.drift.len(),
                "drift": shown,
                "checkedAt": report.checked_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            }),
            tenant: Some(report.tenant.clone()),
        }
    }

    /// An entry of the audit trail, as recorded.
    pub fn audit(entry: &AuditEntry) -> Self {
        let tenant = match &entry.subject {
            crate::audit::Subject::Tenant { name, .. } => Some(name.to_string()),
            crate::audit::Subject::Infrastructure { .. } => None,
        };
        Self {
            kind: EventKind::Audit(entry.action),
            detail: serde_json::to_value(entry).unwrap_or(Value::Null),
            tenant,
        }
    }

    /// An outcome: carries the tenant as it now is (without worker internals).
    pub fn outcome(kind: EventKind, tenant: &Tenant) -> Self {
        let mut view = serde_json::to_value(tenant).unwrap_or(Value::Null);
        if let Some(map) = view.as_object_mut() {
            map.remove("lease");
            map.remove("appliedTags");
        }
        Self { kind, detail: json!({ "tenant": view }), tenant: Some(tenant.name().to_string()) }
    }

    /// A refusal of a request from a producer not trusted for it: names the request's
    /// kind, who sent it and why, and carries nothing of the request's detail but the
    /// tenant it named.
    pub fn refused(detail_type: &str, request: &Value, source: &str, reason: &str) -> Self {
        let tenant = request.get("name").or_else(|| request.get("tenant")).and_then(Value::as_str).map(str::to_string);
        let shown: String = detail_type.chars().take(128).collect();
        Self {
            kind: EventKind::RequestRejected,
            detail: json!({ "requestType": shown, "requestSource": source, "tenant": tenant, "reason": reason }),
            tenant: None,
        }
    }

    /// A refusal of a request another producer put on the bus.
    pub fn rejected(kind: EventKind, request: &Value, source: &str, error: &Error) -> Self {
        let tenant = request.get("name").and_then(Value::as_str).map(str::to_string);
        Self {
            kind,
            detail: json!({ "request": request, "requestSource": source, "reason": error.to_string() }),
            tenant,
        }
    }
}
