//! The limits on every plugin call and load.

use std::time::Duration;

/// Limits on every plugin call and load.
///
/// A call's linear memory is limited twice: each memory on its own
/// ([`Limits::memory_bytes`]) and all of them together ([`Limits::total_memory_bytes`]),
/// so that a component made of several core modules, each with its own memory, gets no
/// more than one budget. The counts of core instances, memories and tables a call may
/// create, and the elements of all its tables together, are capped too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel per call: a deterministic instruction budget.
    pub fuel: u64,
    /// Wall-clock backstop per call.
    pub deadline: Duration,
    /// Most a single linear memory may grow to.
    pub memory_bytes: usize,
    /// Most linear memory a call may hold across all its memories.
    pub total_memory_bytes: usize,
    /// Most core module instances a call may create (a `wasm32-wasip2` component has a
    /// few: the program, the WASI adapter and wit-component's shims).
    pub max_instances: usize,
    /// Most linear memories a call may create.
    pub max_memories: usize,
    /// Most tables a call may create.
    pub max_tables: usize,
    /// Most table elements a call may hold across all its tables.
    pub max_table_elements: usize,
    /// Most wasm stack a call may use.
    pub stack_bytes: usize,
    /// Largest input (the tenant and grant, as JSON).
    pub max_input_bytes: usize,
    /// Largest output (the plan or decision, as JSON).
    pub max_output_bytes: usize,
    /// Largest plugin binary accepted at registration.
    pub max_binary_bytes: usize,
    /// Most log text kept per call; the rest is cut.
    pub max_log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 200_000_000,
            deadline: Duration::from_secs(1),
            memory_bytes: 32 << 20,
            total_memory_bytes: 48 << 20,
            max_instances: 8,
            max_memories: 4,
            max_tables: 8,
            max_table_elements: 100_000,
            stack_bytes: 512 << 10,
            max_input_bytes: 64 << 10,
            max_output_bytes: 64 << 10,
            max_binary_bytes: 8 << 20,
            max_log_bytes: 4 << 10,
        }
    }
}
