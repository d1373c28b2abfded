//! What a plugin call runs in: an engine configured for limited calls (fuel, epoch
//! deadlines, the stack limit, the allocator), and a fresh store per call whose state
//! ([`state`]) grants nothing and accounts for every growth, with fixed clocks
//! ([`clocks`]).

mod clocks;
mod state;

use std::time::Duration;

use wasmtime::{Config, Engine, Store};

pub(crate) use self::state::{Breach, State};
use crate::limits::Limits;

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How instances get their memory and tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Mapped for each instance and unmapped after it (wasmtime's default).
    OnDemand,
    /// Slots reserved up front and reused: up to `instances` calls at once.
    Pooling {
        /// Most concurrent instances.
        instances: u32,
    },
}

/// The target triple this process's engine compiles for, named explicitly: wasmtime
/// infers the host CPU's optional features (LSE, AVX...) only when no target is given,
/// and those enter the engine's compatibility key. Naming the baseline target makes the
/// key one that packaging can reproduce on another machine (cross-compiling for arm64
/// on x86_64), so that a package's artifact for this architecture is used here. What it
/// gives up, optional CPU features, is nothing to hooks that run for microseconds.
/// Outside Linux (a developer's Mac) the host is left to wasmtime.
pub(crate) fn native_target() -> Option<String> {
    cfg!(target_os = "linux").then(|| format!("{}-unknown-linux-gnu", std::env::consts::ARCH))
}

/// An engine with fuel, epoch interruption and the stack limit on, allocating with
/// `allocation`, compiling for `target` (a triple; the host, CPU features inferred, when
/// `None`), and, when it can run what it compiles, the thread that advances its epoch.
pub(crate) fn engine(limits: &Limits, allocation: Allocation, target: Option<&str>) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true).consume_fuel(true).epoch_interruption(true).max_wasm_stack(limits.stack_bytes);
    let native = native_target();
    if let Some(target) = target {
        config.target(target)?;
    }
    let runs_here = target.is_none_or(|t| Some(t) == native.as_deref());
    if let Allocation::Pooling { instances } = allocation {
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        // Shipped plugins use 3 core instances, 1 memory and 2 tables; the totals leave
        // room for one component at the per-call caps.
        pool.total_component_instances(instances)
            .total_core_instances((instances * 4).max(limits.max_instances as u32))
            .total_memories((instances * 2).max(limits.max_memories as u32))
            .total_tables((instances * 4).max(limits.max_tables as u32))
            .max_core_instances_per_component(limits.max_instances as u32)
            .max_memories_per_component(limits.max_memories as u32)
            .max_tables_per_component(limits.max_tables as u32)
            .max_memory_size(limits.memory_bytes);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = Engine::new(&config)?;
    if !runs_here {
        // Compiles for another machine; nothing runs here, nothing needs a deadline.
        return Ok(engine);
    }

    // The wall-clock backstop: a ticker that ends when the engine is dropped.
    let weak = engine.weak();
    std::thread::Builder::new().name("tenancy-plugin-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    })?;
    Ok(engine)
}

/// A fresh store for one call: the sandbox's state and limiter, fuel and deadline.
pub(crate) fn store(engine: &Engine, limits: Limits) -> Store<State> {
    let mut store = Store::new(engine, State::new(limits));
    store.limiter(|state| state);
    store.set_fuel(limits.fuel).expect("fuel is enabled in the engine");
    let ticks = (limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
    store.set_epoch_deadline(ticks);
    store
}
