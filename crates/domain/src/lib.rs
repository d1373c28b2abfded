//! Tenancy's domain: tenants, infrastructures, names, access, the lifecycle state
//! machine, and the ports it drives. It knows nothing of AWS; adapters live in
//! `tenancy-aws`, entry points in `functions/`.

pub mod access;
pub mod error;
pub mod events;
pub mod infrastructure;
pub mod lifecycle;
pub mod memory;
pub mod names;
pub mod permissions_boundary;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod service;
pub mod tenant;

pub use error::{Error, Result};

#[cfg(test)]
mod tests;
