//! What the ports answer when an operation did not happen.

use thiserror::Error;

/// Why a store operation did not happen.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StoreError {
    /// The key is taken (a live tenant or an infrastructure of that name).
    #[error("name taken")]
    NameTaken,
    /// Creating a tenant in an infrastructure that does not exist.
    #[error("infrastructure missing")]
    InfrastructureMissing,
    /// Deleting an infrastructure that still holds tenants.
    #[error("infrastructure in use")]
    InfrastructureInUse,
    /// The idempotency key was written by a concurrent request.
    #[error("idempotency key taken")]
    IdempotencyKeyTaken,
    /// The item changed since it was read (or is final): the write did not land.
    #[error("stale version: the stored one is {current}")]
    Stale {
        /// The version stored now.
        current: u64,
    },
    /// The item does not exist.
    #[error("not found")]
    NotFound,
    /// The cursor was not one this store issued.
    #[error("invalid cursor")]
    BadCursor,
    /// The store failed; retrying may help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A cloud call that failed, with the cloud's own words, and whether the fault passes.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct CloudError {
    /// What the cloud said, prefixed with the operation.
    pub message: String,
    /// True for a fault that passes by itself: throttling, a 5xx, a timeout, or an
    /// eventual-consistency answer (an entity not visible yet right after its creation).
    /// The lifecycle retries those; only the others fail a tenant.
    pub transient: bool,
}

impl CloudError {
    /// A fault that retrying will not cure: the tenant fails at the step, naming it.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), transient: false }
    }

    /// A fault that passes: the step is tried again later.
    pub fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), transient: true }
    }
}

/// A publish that failed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("could not publish event: {0}")]
pub struct EventsError(pub String);
