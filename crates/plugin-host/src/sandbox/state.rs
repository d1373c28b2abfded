//! A call's store state: a WASI context that grants nothing, the resource limiter's
//! accounts, and the capped log.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{Deterministic, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::clocks::{FixedMonotonicClock, FixedWallClock};
use crate::limits::Limits;

/// Which limit the limiter refused a growth for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Breach {
    /// One memory past [`Limits::memory_bytes`].
    Memory,
    /// All memories together past [`Limits::total_memory_bytes`].
    TotalMemory,
    /// All tables together past [`Limits::max_table_elements`].
    TableElements,
}

/// Per-call state: a WASI context that grants nothing, the limiter's accounts, the capped log.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: Limits,
    /// The first limit a growth was refused for.
    pub(crate) breach: Option<Breach>,
    /// Bytes of linear memory held, across every memory of the store.
    memory_total: usize,
    /// The most `memory_total` reached.
    pub(crate) peak_memory: usize,
    /// Elements held, across every table of the store.
    table_elements: usize,
    pub(crate) log: String,
}

impl State {
    /// Fresh state for one call under `limits`.
    pub(crate) fn new(limits: Limits) -> Self {
        let wasi = WasiCtxBuilder::new()
            .wall_clock(FixedWallClock)
            .monotonic_clock(FixedMonotonicClock)
            .secure_random(Deterministic::new(vec![0x5a; 32]))
            .insecure_random(Deterministic::new(vec![0xa5; 32]))
            .insecure_random_seed(0)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limits,
            breach: None,
            memory_total: 0,
            peak_memory: 0,
            table_elements: 0,
            log: String::new(),
        }
    }

    /// Appends one line of the plugin's log, cut at [`Limits::max_log_bytes`] in all.
    pub(crate) fn append_log(&mut self, message: &str) {
        let room = self.limits.max_log_bytes.saturating_sub(self.log.len());
        if room == 0 {
            return;
        }
        let mut cut = message.len().min(room);
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        self.log.push_str(&message[..cut]);
        self.log.push('\n');
    }

    fn refuse(&mut self, breach: Breach) -> wasmtime::Result<bool> {
        self.breach.get_or_insert(breach);
        Ok(false)
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// wasmtime asks before it creates a memory or a table (`current` = 0, `desired` = its
/// minimum) and before each growth, so the running totals count every memory and table of
/// the store. Memories and tables are never freed during a call: a store lives for one.
impl ResourceLimiter for State {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            return self.refuse(Breach::Memory);
        }
        if maximum.is_some_and(|maximum| desired > maximum) {
            // wasmtime fails this growth itself; nothing is added.
            return Ok(true);
        }
        let total = self.memory_total.saturating_sub(current).saturating_add(desired);
        if total > self.limits.total_memory_bytes {
            return self.refuse(Breach::TotalMemory);
        }
        self.memory_total = total;
        self.peak_memory = self.peak_memory.max(total);
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|maximum| desired > maximum) {
            return Ok(true);
        }
        let total = self.table_elements.saturating_sub(current).saturating_add(desired);
        if total > self.limits.max_table_elements {
            return self.refuse(Breach::TableElements);
        }
        self.table_elements = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.limits.max_instances
    }

    fn memories(&self) -> usize {
        self.limits.max_memories
    }

    fn tables(&self) -> usize {
        self.limits.max_tables
    }
}
