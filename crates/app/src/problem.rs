//! Errors as `application/problem+json` (RFC 9457). The one place where a domain error
//! becomes an HTTP status and a stable problem `type`.

use http::StatusCode;
use serde_json::{Value, json};
use tenancy_domain::Error;

/// Media type of problem documents.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem: a stable type, a status, a title and a detail a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable slug; the `type` is `urn:tenancy:problem:<slug>`.
    pub slug: &'static str,
    /// Short summary of the problem type.
    pub title: &'static str,
    /// What went wrong here and what to do.
    pub detail: String,
    /// Extra members (e.g. `field`); boxed, as most problems have none.
    pub extra: Option<Box<(&'static str, Value)>>,
}

impl Problem {
    /// A problem with no extra members.
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, slug, title, detail: detail.into(), extra: None }
    }

    /// The JSON document.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": format!("urn:tenancy:problem:{}", self.slug),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let (Some((key, value)), Some(map)) = (self.extra.as_deref(), body.as_object_mut()) {
            map.insert((*key).to_string(), value.clone());
        }
        body
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        let detail = error.to_string();
        match error {
            Error::Invalid { field, .. } => Problem {
                extra: Some(Box::new(("field", Value::String(field)))),
                ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-field", "A field is not valid", detail)
            },
            Error::NotFound { .. } => Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail),
            Error::NameTaken { .. } => Problem::new(StatusCode::CONFLICT, "name-taken", "The name is taken", detail),
            Error::Conflict { .. } => {
                Problem::new(StatusCode::CONFLICT, "conflict", "The request conflicts with the current state", detail)
            }
            Error::PreconditionFailed { .. } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "The resource changed since it was read",
                detail,
            ),
            Error::IdempotencyKeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused for another request",
                detail,
            ),
            Error::Unauthenticated(_) => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required", detail)
            }
            Error::Forbidden(_) => Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail),
            Error::RefusedByType { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refused-by-tenant-type",
                "The tenant type refused the tenant",
                detail,
            ),
            Error::TypeFailed(_) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "tenant-type-failed",
                "The tenant type's plugin failed; tell the platform team",
                detail,
            ),
            Error::Unavailable(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "A dependency is unavailable; retry later",
                detail,
            ),
        }
    }
}
