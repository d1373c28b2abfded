//! Why a plugin call or load failed, naming the plugin, the hook and the limit; and how a
//! wasmtime error and the sandbox's account of a call become one of these.

use thiserror::Error;
use wasmtime::Trap;

use crate::limits::Limits;
use crate::sandbox::Breach;

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
    /// wasmtime turned down a precompiled artifact (intact, by its digest) for this engine:
    /// not a precompiled component, or made by another wasmtime, configuration or CPU.
    #[error("plugin '{plugin}': its precompiled artifact does not fit this engine: {reason}")]
    ArtifactRejected { plugin: String, reason: String },
    /// The package holds no artifact this engine can run, and this host does not compile
    /// (the functions run precompiled plugins only).
    #[error("plugin '{plugin}': {reason}")]
    NotPrecompiledForThisEngine { plugin: String, reason: String },
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

impl PluginError {
    /// A failed call of `hook`: the trap or error wasmtime reported, and `breach`, the
    /// first growth the sandbox's limiter refused during the call.
    pub(crate) fn from_failed_call(
        plugin: &str,
        hook: &'static str,
        error: &wasmtime::Error,
        breach: Option<Breach>,
        limits: &Limits,
    ) -> Self {
        let plugin = plugin.to_string();
        let resource = |resource: &'static str, limit: usize| PluginError::Resource {
            plugin: plugin.clone(),
            hook,
            resource,
            limit,
        };
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => PluginError::OutOfFuel { plugin, hook, fuel: limits.fuel },
            Some(Trap::Interrupt) => PluginError::Deadline { plugin, hook, millis: limits.deadline.as_millis() as u64 },
            Some(Trap::StackOverflow) => PluginError::Stack { plugin, hook, limit: limits.stack_bytes },
            // A refused memory.grow makes the guest's allocator give up, which traps; a
            // refused memory or table creation fails the instantiation.
            _ if breach.is_some() => match breach {
                Some(Breach::TotalMemory) => {
                    resource("bytes of linear memory across its memories", limits.total_memory_bytes)
                }
                Some(Breach::TableElements) => resource("table elements across its tables", limits.max_table_elements),
                _ => PluginError::Memory { plugin, hook, limit: limits.memory_bytes },
            },
            Some(trap) => PluginError::Trap { plugin, hook, reason: trap.to_string() },
            None => match count_breach(error) {
                Some(Count::Instances) => resource("core instances", limits.max_instances),
                Some(Count::Memories) => resource("memories", limits.max_memories),
                Some(Count::Tables) => resource("tables", limits.max_tables),
                None => PluginError::Trap { plugin, hook, reason: root_cause(error) },
            },
        }
    }
}

/// A count wasmtime enforces from the limiter's `instances`, `memories` and `tables`.
enum Count {
    Instances,
    Memories,
    Tables,
}

/// Which count an instantiation went past: wasmtime refuses it with an error of its own,
/// "resource limit exceeded: <what> count too high at <n>".
fn count_breach(error: &wasmtime::Error) -> Option<Count> {
    let text = format!("{error:#}");
    if !text.contains("count too high") {
        return None;
    }
    [("instance count", Count::Instances), ("memory count", Count::Memories), ("table count", Count::Tables)]
        .into_iter()
        .find_map(|(what, count)| text.contains(what).then_some(count))
}

/// The innermost cause, which is where the guest's own words are (a panic message, a WASI error).
fn root_cause(error: &wasmtime::Error) -> String {
    error.root_cause().to_string().chars().take(300).collect()
}

/// The first line of the error and its causes, for a load's refusal.
pub(crate) fn first_line(error: &wasmtime::Error) -> String {
    let text = format!("{error:#}");
    text.lines().next().unwrap_or_default().chars().take(300).collect()
}
