//! Just-in-time credentials: a session of the tenant's role for a tenant `user` or
//! `admin`, recorded in the tenant's history (never the secret).

use serde_json::json;

use super::ControlPlane;
use crate::access::Caller;
use crate::audit::AuditAction;
use crate::authorization::Action;
use crate::credentials::{self, Session, SessionRequest};
use crate::error::{ConflictReason, Error};
use crate::tenant::{ResourceKind, TenantState};

impl ControlPlane {
    /// Short-lived credentials of the tenant's role for the caller: a session named after
    /// them and tagged with the tenant and them, lasting the deployment's setting. `404`
    /// for someone with no role on the tenant, `403` for a role that may not (read-only),
    /// `409` while the tenant has no role to assume (it is not `active` or `updating`).
    pub async fn issue_credentials(&self, caller: &Caller, name: &str) -> Result<Session, Error> {
        let tenant = self.tenant_for(caller, name, Action::IssueCredentials).await?.tenant;
        let no_role = |why: String| {
            Error::conflict(
                ConflictReason::State,
                format!("tenant '{name}' {why}; credentials can be issued once it is active"),
            )
        };
        if !matches!(tenant.state(), TenantState::Active | TenantState::Updating) {
            return Err(no_role(format!("is {}", tenant.state())));
        }
        let role_arn = tenant
            .resources()
            .iter()
            .find(|r| r.kind == ResourceKind::Role)
            .and_then(|r| r.arn.clone())
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| no_role("has no role yet".into()))?;
        let request = SessionRequest {
            role_arn,
            session_name: credentials::session_name(&caller.id),
            tags: vec![
                (credentials::TENANT_TAG.into(), credentials::tag_value(tenant.name().as_str())),
                (credentials::USER_TAG.into(), credentials::tag_value(&caller.id)),
            ],
            duration_seconds: self.session_seconds,
        };
        let session = self.sessions.assume_tenant_role(&request).await.map_err(|error| {
            tracing::error!(tenant = %name, role = %request.role_arn, %error, "the tenant role could not be assumed");
            Error::Unavailable(if error.transient {
                format!("the token service did not answer: {error}; retry the request")
            } else {
                format!(
                    "the tenant's role could not be assumed: {error}; if the tenant was made before credentials \
                     were enabled, an update of the tenant (or a retry) brings its role's trust in step"
                )
            })
        })?;
        let detail = json!({
            "user": caller.id,
            "roleArn": request.role_arn,
            "sessionName": request.session_name,
            "expiration": session.expiration.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        });
        self.audit_tenant(caller, AuditAction::CredentialsIssued, &tenant, detail).await;
        Ok(session)
    }
}
