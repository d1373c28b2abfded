//! Sessions of tenant roles for people: the [`SessionIssuer`] on STS `AssumeRole`.

use async_trait::async_trait;
use aws_sdk_sts::types::Tag;
use tenancy_domain::credentials::{Session, SessionRequest};
use tenancy_domain::ports::SessionIssuer;
use tenancy_domain::ports::errors::CloudError;
use time::OffsetDateTime;

use super::AwsCloud;
use crate::errors::cloud_error;

#[async_trait]
impl SessionIssuer for AwsCloud {
    /// `AssumeRole` with the session name, the session tags (which need `sts:TagSession`
    /// in the role's trust) and the duration. In AWS the tenant role's trust must name the
    /// API function's role, and the call is role chaining (at most one hour). The emulator
    /// checks neither the trust nor the duration's ceiling, nor whether the role exists.
    async fn assume_tenant_role(&self, request: &SessionRequest) -> Result<Session, CloudError> {
        let tags = request
            .tags
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CloudError::permanent(format!("AssumeRole: a session tag is malformed: {e}")))?;
        let output = self
            .sts
            .assume_role()
            .role_arn(&request.role_arn)
            .role_session_name(&request.session_name)
            .set_tags(Some(tags))
            .duration_seconds(request.duration_seconds)
            .send()
            .await
            .map_err(|e| cloud_error("AssumeRole", e))?;
        let credentials =
            output.credentials().ok_or_else(|| CloudError::permanent("AssumeRole: no credentials in the answer"))?;
        let expiration = OffsetDateTime::from_unix_timestamp(credentials.expiration().secs())
            .map_err(|e| CloudError::permanent(format!("AssumeRole: the expiration is out of range: {e}")))?;
        Ok(Session {
            access_key_id: credentials.access_key_id().to_string(),
            secret_access_key: credentials.secret_access_key().to_string(),
            session_token: credentials.session_token().to_string(),
            expiration,
        })
    }
}
