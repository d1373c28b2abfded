//! The wasmtime host: engine, linker, loading, and limited calls.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tenancy_domain::plan::{GrantDecision, GrantRequest, Plan};
use tenancy_domain::tenant::Tenant;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Precompiled, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::{TenantType, TenantTypePre};
use crate::convert;
use crate::error::PluginError;

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Limits on every plugin call and load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel per call: a deterministic instruction budget.
    pub fuel: u64,
    /// Wall-clock backstop per call.
    pub deadline: Duration,
    /// Most linear memory a call may grow to.
    pub memory_bytes: usize,
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
            stack_bytes: 512 << 10,
            max_input_bytes: 64 << 10,
            max_output_bytes: 64 << 10,
            max_binary_bytes: 8 << 20,
            max_log_bytes: 4 << 10,
        }
    }
}

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

/// The hooks of the `tenant-type` world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `validate`.
    Validate,
    /// `on-create`.
    OnCreate,
    /// `on-delete`.
    OnDelete,
    /// `on-grant-access`.
    OnGrantAccess,
}

impl Hook {
    /// The hook's WIT name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::OnCreate => "on-create",
            Self::OnDelete => "on-delete",
            Self::OnGrantAccess => "on-grant-access",
        }
    }
}

/// A plugin compiled and linked, ready to instantiate.
pub struct LoadedPlugin {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// SHA-256 of its `.wasm`, hex.
    pub digest: String,
    pre: TenantTypePre<State>,
}

/// What a call returned, and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReport<T> {
    /// The hook's answer.
    pub value: T,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Largest linear memory the call grew to, in bytes.
    pub peak_memory_bytes: usize,
    /// Wall-clock time of instantiate + call.
    pub elapsed: Duration,
    /// What the plugin logged (capped).
    pub log: String,
}

impl<T> CallReport<T> {
    /// The same report with its value changed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> CallReport<U> {
        CallReport {
            value: f(self.value),
            fuel_used: self.fuel_used,
            peak_memory_bytes: self.peak_memory_bytes,
            elapsed: self.elapsed,
            log: self.log,
        }
    }
}

/// Per-call state: a WASI context that grants nothing, the memory limit, the capped log.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    memory_limit: usize,
    memory_denied: bool,
    peak_memory: usize,
    log: String,
    log_limit: usize,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl ResourceLimiter for State {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_denied = true;
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl crate::bindings::tenancy::plugin::types::Host for State {}

impl crate::bindings::tenancy::plugin::host::Host for State {
    fn log(&mut self, message: String) {
        let room = self.log_limit.saturating_sub(self.log.len());
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
}

/// A clock stuck at 2026-01-01T00:00:00Z: plugins get no real time.
struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::from_secs(1_767_225_600)
    }
}

/// A monotonic clock that never moves.
struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The host: one engine and linker for every plugin of the process.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<State>,
    limits: Limits,
}

impl PluginHost {
    /// An engine with fuel, epoch interruption and the stack limit on, and a linker that
    /// offers plugins WASI (granting nothing) and the `host` interface. Memory is
    /// allocated on demand. The pooling allocator saves about 10 µs of a 42 µs call
    /// (`benches/host.rs`), but a hook runs once per lifecycle step beside ~170 ms of AWS
    /// calls, and a pool caps concurrent calls (a full pool fails a call) and reserves its
    /// address space up front: not worth it here.
    pub fn new(limits: Limits) -> wasmtime::Result<Self> {
        Self::with_allocation(limits, Allocation::OnDemand)
    }

    /// [`PluginHost::new`] with a choice of allocator.
    pub fn with_allocation(limits: Limits, allocation: Allocation) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(limits.stack_bytes);
        if let Allocation::Pooling { instances } = allocation {
            let mut pool = wasmtime::PoolingAllocationConfig::new();
            pool.total_component_instances(instances)
                .total_core_instances(instances * 4)
                .total_memories(instances * 2)
                .total_tables(instances * 4)
                .max_core_instances_per_component(8)
                .max_memories_per_component(2)
                .max_tables_per_component(4)
                .max_memory_size(limits.memory_bytes);
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        TenantType::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;

        // The wall-clock backstop: a ticker that ends when the engine is dropped.
        let weak = engine.weak();
        std::thread::Builder::new().name("tenancy-plugin-epoch".into()).spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
        Ok(Self { engine, linker, limits })
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A key that changes whenever this engine could not load an artifact another one
    /// precompiled (wasmtime version, configuration, target): part of cache file names.
    pub fn compatibility_key(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// Checks a binary's size and SHA-256 against what was declared for it.
    pub fn check_binary(&self, name: &str, wasm: &[u8], expected_sha256: &str) -> Result<String, PluginError> {
        if wasm.len() > self.limits.max_binary_bytes {
            return Err(PluginError::BinaryTooLarge {
                plugin: name.into(),
                size: wasm.len(),
                limit: self.limits.max_binary_bytes,
            });
        }
        let actual = sha256_hex(wasm);
        if !actual.eq_ignore_ascii_case(expected_sha256) {
            return Err(PluginError::DigestMismatch { plugin: name.into(), expected: expected_sha256.into(), actual });
        }
        Ok(actual)
    }

    /// Checks the binary's size and digest, compiles it and links it.
    pub fn load(
        &self,
        name: &str,
        version: &str,
        wasm: &[u8],
        expected_sha256: &str,
    ) -> Result<LoadedPlugin, PluginError> {
        let digest = self.check_binary(name, wasm, expected_sha256)?;
        let component = Component::new(&self.engine, wasm)
            .map_err(|e| PluginError::Incompatible { plugin: name.into(), reason: first_line(&e) })?;
        self.link(name, version, digest, &component)
    }

    /// Compiles a checked binary ahead of time, for [`PluginHost::load_precompiled`].
    pub fn precompile(&self, name: &str, wasm: &[u8], expected_sha256: &str) -> Result<Vec<u8>, PluginError> {
        self.check_binary(name, wasm, expected_sha256)?;
        self.engine
            .precompile_component(wasm)
            .map_err(|e| PluginError::Incompatible { plugin: name.into(), reason: first_line(&e) })
    }

    /// Loads what [`PluginHost::precompile`] produced, after checking that it is a
    /// precompiled component this engine can run (same wasmtime and configuration).
    pub fn load_precompiled(
        &self,
        name: &str,
        version: &str,
        digest: &str,
        compiled: &[u8],
    ) -> Result<LoadedPlugin, PluginError> {
        let incompatible = |reason: String| PluginError::Incompatible { plugin: name.into(), reason };
        if Engine::detect_precompiled(compiled) != Some(Precompiled::Component) {
            return Err(incompatible("not a precompiled component".into()));
        }
        // SAFETY: only artifacts that Tenancy's own build produced with `precompile` are
        // passed here (they ship with the function, beside their source digest); wasmtime
        // checks the engine version and configuration recorded in them.
        let component =
            unsafe { Component::deserialize(&self.engine, compiled) }.map_err(|e| incompatible(first_line(&e)))?;
        self.link(name, version, digest.to_string(), &component)
    }

    fn link(
        &self,
        name: &str,
        version: &str,
        digest: String,
        component: &Component,
    ) -> Result<LoadedPlugin, PluginError> {
        let incompatible =
            |e: wasmtime::Error| PluginError::Incompatible { plugin: name.into(), reason: first_line(&e) };
        let pre = self.linker.instantiate_pre(component).map_err(incompatible)?;
        let pre = TenantTypePre::new(pre).map_err(incompatible)?;
        Ok(LoadedPlugin { name: name.into(), version: version.into(), digest, pre })
    }

    /// `validate`: `Ok(Err(message))` when the plugin refuses the tenant.
    pub fn validate(
        &self,
        plugin: &LoadedPlugin,
        tenant: &Tenant,
    ) -> Result<CallReport<Result<(), String>>, PluginError> {
        self.tenant_hook(plugin, tenant, Hook::Validate)
    }

    /// `on-delete`: `Ok(Err(message))` when the plugin objects.
    pub fn on_delete(
        &self,
        plugin: &LoadedPlugin,
        tenant: &Tenant,
    ) -> Result<CallReport<Result<(), String>>, PluginError> {
        self.tenant_hook(plugin, tenant, Hook::OnDelete)
    }

    /// The hooks that take a tenant and answer ok or a message.
    fn tenant_hook(
        &self,
        plugin: &LoadedPlugin,
        tenant: &Tenant,
        hook: Hook,
    ) -> Result<CallReport<Result<(), String>>, PluginError> {
        let input = convert::tenant(tenant);
        self.call(
            plugin,
            hook,
            convert::size_of(&tenant),
            |bindings, store| match hook {
                Hook::OnDelete => bindings.call_on_delete(store, &input),
                _ => bindings.call_validate(store, &input),
            },
            |answer| answer.as_ref().err().map_or(0, String::len),
        )
    }

    /// `on-create`: the plan for a new tenant. The plan is not validated here; see
    /// [`tenancy_domain::plan::validate`].
    pub fn on_create(&self, plugin: &LoadedPlugin, tenant: &Tenant) -> Result<CallReport<Plan>, PluginError> {
        let input = convert::tenant(tenant);
        let CallReport { value, fuel_used, peak_memory_bytes, elapsed, log } = self.call(
            plugin,
            Hook::OnCreate,
            convert::size_of(&tenant),
            |bindings, store| bindings.call_on_create(store, &input),
            |answer| match answer {
                Ok(plan) => convert::plan_size(plan),
                Err(message) => message.len(),
            },
        )?;
        match value {
            Ok(plan) => Ok(CallReport { value: convert::plan(plan), fuel_used, peak_memory_bytes, elapsed, log }),
            Err(message) => {
                Err(PluginError::Refused { plugin: plugin.name.clone(), hook: Hook::OnCreate.name(), message })
            }
        }
    }

    /// `on-grant-access`.
    pub fn on_grant_access(
        &self,
        plugin: &LoadedPlugin,
        tenant: &Tenant,
        grant: &GrantRequest,
    ) -> Result<CallReport<GrantDecision>, PluginError> {
        let input = convert::tenant(tenant);
        let grant_input = convert::grant(grant);
        let report = self.call(
            plugin,
            Hook::OnGrantAccess,
            convert::size_of(&tenant) + convert::size_of(grant),
            |bindings, store| bindings.call_on_grant_access(store, &input, &grant_input),
            convert::decision_size,
        )?;
        Ok(report.map(convert::decision))
    }

    /// One call in a fresh store: input cap, fuel, deadline, memory limit; then the output cap.
    fn call<R>(
        &self,
        plugin: &LoadedPlugin,
        hook: Hook,
        input_size: usize,
        run: impl FnOnce(&TenantType, &mut Store<State>) -> wasmtime::Result<R>,
        output_size: impl FnOnce(&R) -> usize,
    ) -> Result<CallReport<R>, PluginError> {
        let limits = self.limits;
        let name = || plugin.name.clone();
        if input_size > limits.max_input_bytes {
            return Err(PluginError::InputTooLarge {
                plugin: name(),
                hook: hook.name(),
                size: input_size,
                limit: limits.max_input_bytes,
            });
        }
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
        let state = State {
            wasi,
            table: ResourceTable::new(),
            memory_limit: limits.memory_bytes,
            memory_denied: false,
            peak_memory: 0,
            log: String::new(),
            log_limit: limits.max_log_bytes,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state);
        store.set_fuel(limits.fuel).expect("fuel is enabled in the engine");
        let ticks = (limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);

        let start = Instant::now();
        let result = plugin.pre.instantiate(&mut store).and_then(|bindings| run(&bindings, &mut store));
        let elapsed = start.elapsed();
        let value = result.map_err(|error| self.classify(plugin, hook, &error, store.data()))?;
        let size = output_size(&value);
        if size > limits.max_output_bytes {
            return Err(PluginError::OutputTooLarge {
                plugin: name(),
                hook: hook.name(),
                size,
                limit: limits.max_output_bytes,
            });
        }
        let fuel_used = limits.fuel - store.get_fuel().unwrap_or(0);
        let state = store.into_data();
        Ok(CallReport { value, fuel_used, peak_memory_bytes: state.peak_memory, elapsed, log: state.log })
    }

    fn classify(&self, plugin: &LoadedPlugin, hook: Hook, error: &wasmtime::Error, state: &State) -> PluginError {
        let (plugin, hook) = (plugin.name.clone(), hook.name());
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => PluginError::OutOfFuel { plugin, hook, fuel: self.limits.fuel },
            Some(Trap::Interrupt) => {
                PluginError::Deadline { plugin, hook, millis: self.limits.deadline.as_millis() as u64 }
            }
            Some(Trap::StackOverflow) => PluginError::Stack { plugin, hook, limit: self.limits.stack_bytes },
            // A refused memory.grow makes the guest's allocator give up, which traps.
            _ if state.memory_denied => PluginError::Memory { plugin, hook, limit: self.limits.memory_bytes },
            Some(trap) => PluginError::Trap { plugin, hook, reason: trap.to_string() },
            None => PluginError::Trap { plugin, hook, reason: root_cause(error) },
        }
    }
}

/// The innermost cause, which is where the guest's own words are (a panic message, a WASI error).
fn root_cause(error: &wasmtime::Error) -> String {
    error.root_cause().to_string().chars().take(300).collect()
}

fn first_line(error: &wasmtime::Error) -> String {
    let text = format!("{error:#}");
    text.lines().next().unwrap_or_default().chars().take(300).collect()
}
