//! The one error type of the domain. The HTTP layer maps each variant to a status code
//! and a problem type in exactly one place (`tenancy_app::http::problem`).

use thiserror::Error;

/// Why a domain operation did not happen. Every message is written for the person who
/// made the request: it says what was wrong and, where possible, what to do instead.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The request is well-formed but breaks a rule (a bad name, a reserved tag key...).
    #[error("{field}: {message}")]
    Invalid {
        /// The request field at fault, as the caller spelled it.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The named thing does not exist (or the caller may not know that it does).
    #[error("{kind} '{name}' does not exist")]
    NotFound {
        /// `tenant` or `infrastructure`.
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
    /// The name is already taken.
    #[error("{kind} '{name}' already exists")]
    NameTaken {
        /// `tenant` or `infrastructure`.
        kind: &'static str,
        /// The taken name.
        name: String,
    },
    /// The request conflicts with the current state (deletion protection, a tenant
    /// still provisioning, an infrastructure that still holds tenants...).
    #[error("{message}")]
    Conflict {
        /// Why, for code to match on.
        reason: ConflictReason,
        /// Why, for the person who asked, with what to do instead.
        message: String,
    },
    /// `If-Match` named a version that is no longer current.
    #[error("the tenant is at version {current}, not {expected}; read it again and retry")]
    PreconditionFailed {
        /// The version the caller expected.
        expected: u64,
        /// The version stored now.
        current: u64,
    },
    /// An `Idempotency-Key` was reused for a different request.
    #[error("the Idempotency-Key was already used for a different request; use a new key")]
    IdempotencyKeyReused,
    /// No authenticated caller.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The tenant type's plugin refused the tenant, in its own words.
    #[error("tenant type '{tenant_type}' refused the tenant: {message}")]
    RefusedByType {
        /// The tenant type.
        tenant_type: String,
        /// The plugin's reason.
        message: String,
    },
    /// The tenant type's plugin failed (a limit, a trap, a broken binary): the type is broken,
    /// not the request. The message names the plugin and the limit.
    #[error("{0}")]
    TypeFailed(String),
    /// A dependency (the store, the event bus) failed; the request may be retried.
    #[error("{0}")]
    Unavailable(String),
}

/// Why a request conflicts with the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictReason {
    /// The tenant's state does not allow the request now (it is provisioning, not failed...).
    State,
    /// The tenant has deletion protection on.
    DeletionProtection,
    /// The infrastructure still holds tenants.
    InfrastructureInUse,
    /// The record changed while the request was handled.
    ConcurrentChange,
}

impl Error {
    /// Shorthand for [`Error::Conflict`].
    pub fn conflict(reason: ConflictReason, message: impl Into<String>) -> Self {
        Self::Conflict { reason, message: message.into() }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_string(), message: message.into() }
    }
}

/// Result of a domain operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
