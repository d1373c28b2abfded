//! Why a plugin call or load failed, naming the plugin, the hook and the limit.

use thiserror::Error;

/// A failed load or hook call. Every variant names the plugin; call failures name the hook.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PluginError {
    /// The binary is larger than [`crate::Limits::max_binary_bytes`].
    #[error("plugin '{plugin}': the binary has {size} bytes, over the limit of {limit}")]
    BinaryTooLarge { plugin: String, size: usize, limit: usize },
    /// The binary's SHA-256 is not the one declared for it.
    #[error("plugin '{plugin}': SHA-256 {actual} does not match the declared {expected}")]
    DigestMismatch { plugin: String, expected: String, actual: String },
    /// A precompiled artifact's SHA-256 is not the one the manifest records for it: it is
    /// refused before it is deserialized.
    #[error("plugin '{plugin}': the precompiled artifact's SHA-256 {actual} does not match the declared {expected}")]
    ArtifactDigestMismatch { plugin: String, expected: String, actual: String },
    /// The binary is not a component that exports the `tenant-type` world of a version
    /// the host serves.
    #[error(
        "plugin '{plugin}': not a {packages} {world} component: {reason}",
        packages = crate::wit::supported_packages(),
        world = crate::wit::WORLD
    )]
    Incompatible { plugin: String, reason: String },
    /// The call used its whole fuel budget (a deterministic instruction limit).
    #[error("plugin '{plugin}', hook {hook}: used its whole fuel budget of {fuel}")]
    OutOfFuel { plugin: String, hook: &'static str, fuel: u64 },
    /// The call ran past its wall-clock deadline.
    #[error("plugin '{plugin}', hook {hook}: ran past its deadline of {millis} ms")]
    Deadline { plugin: String, hook: &'static str, millis: u64 },
    /// The call tried to grow its memory past the limit.
    #[error("plugin '{plugin}', hook {hook}: tried to grow its memory past {limit} bytes")]
    Memory { plugin: String, hook: &'static str, limit: usize },
    /// The call went past a limit on what its store may hold: core instances, memories,
    /// tables, linear memory across all its memories, or table elements across all its tables.
    #[error("plugin '{plugin}', hook {hook}: went past its limit of {limit} {resource}")]
    Resource { plugin: String, hook: &'static str, resource: &'static str, limit: usize },
    /// The call overflowed its stack.
    #[error("plugin '{plugin}', hook {hook}: overflowed its stack of {limit} bytes")]
    Stack { plugin: String, hook: &'static str, limit: usize },
    /// The input is larger than [`crate::Limits::max_input_bytes`].
    #[error("plugin '{plugin}', hook {hook}: the input has {size} bytes, over the limit of {limit}")]
    InputTooLarge { plugin: String, hook: &'static str, size: usize, limit: usize },
    /// The output is larger than [`crate::Limits::max_output_bytes`].
    #[error("plugin '{plugin}', hook {hook}: the output has {size} bytes, over the limit of {limit}")]
    OutputTooLarge { plugin: String, hook: &'static str, size: usize, limit: usize },
    /// The guest trapped (a panic, `unreachable`, a bad memory access...).
    #[error("plugin '{plugin}', hook {hook}: trapped: {reason}")]
    Trap { plugin: String, hook: &'static str, reason: String },
    /// The hook itself answered with an error.
    #[error("plugin '{plugin}', hook {hook}: refused: {message}")]
    Refused { plugin: String, hook: &'static str, message: String },
}
