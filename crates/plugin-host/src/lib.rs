//! Runs tenant-type plugins: WebAssembly components exporting the `tenant-type` world of
//! a version of the plugin interface the host serves ([`supported_versions`]; today
//! `plugins/wit/v1.1`, `tenancy:plugin@1.1.0`, and `plugins/wit/v1`, `tenancy:plugin@1.0.0`),
//! in wasmtime, with no ambient authority and hard limits on every call.
//!
//! One [`Engine`] per process with an explicit configuration, one linker, an
//! `InstancePre` per plugin built once and reused, and a fresh store per hook call with its
//! own fuel, deadline and limits on memory, tables and instances. A plugin's WASI imports
//! are satisfied by a context that grants nothing: no files, no environment, no network,
//! closed stdio, a fixed clock and deterministic randomness.

mod digest;
mod error;
mod host;
mod limits;
pub mod registry;
mod sandbox;
mod wit;

pub use digest::sha256_hex;
pub use error::PluginError;
pub use host::{CallReport, Hook, LoadedPlugin, PluginHost};
pub use limits::Limits;
pub use registry::{PluginRegistry, RegistryError};
pub use sandbox::Allocation;
pub use wit::{WitVersion, supported_versions};

/// Whether this build has the plugin compiler (the `compiler` feature): the tools and tests
/// do; the functions do not, and run precompiled plugins only.
pub const COMPILER: bool = cfg!(feature = "compiler");

#[cfg(test)]
mod tests;
