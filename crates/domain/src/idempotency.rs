//! Idempotency records: the first answer to a create request, kept for its key.

use time::OffsetDateTime;

use crate::tenant::Tenant;

/// The first answer to a create request, kept so that a retry with the same
/// `Idempotency-Key` gets it again instead of creating anything.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    /// The caller-scoped key.
    pub key: String,
    /// The request as first received, canonicalised, to detect reuse for another request.
    pub request: String,
    /// The tenant as first returned.
    pub tenant: Tenant,
    /// When the key may be forgotten.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}
