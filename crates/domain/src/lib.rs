//! Tenancy's domain: tenants, infrastructures, names, access, the lifecycle state
//! machine, and the ports it drives. It knows nothing of AWS or wasmtime; adapters live
//! in `tenancy-aws` and `tenancy-plugin-host`, entry points in `functions/` and `cli/`.

pub mod access;
pub mod audit;
pub mod authorization;
pub mod boundary;
pub mod builtin;
#[cfg(any(test, feature = "test-support"))]
pub mod contract;
pub mod credentials;
pub mod error;
pub mod events;
pub mod grant;
pub mod idempotency;
pub mod infrastructure;
pub mod inventory;
#[cfg(any(test, feature = "test-support"))]
pub mod memory;
pub mod metadata;
pub mod metrics;
pub mod names;
pub mod paging;
pub mod permissions_boundary;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod service;
pub mod tenant;
pub mod tenant_type;
pub mod views;
pub mod worker;

pub use error::{Error, Result};

#[cfg(test)]
mod module_graph;

#[cfg(test)]
mod tests;
