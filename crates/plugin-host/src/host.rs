//! The host: loads plugins (digest and size checks, compiling or deserializing, linking
//! against the bindings of their version) and calls their hooks under the limits, each
//! in a fresh store. What a call runs in is in [`crate::sandbox`]; the limits are in
//! [`crate::limits`]; the interface versions are in [`crate::wit`].

use std::time::{Duration, Instant};

use serde::Serialize;
use tenancy_domain::access::{GrantDecision, GrantRequest};
use tenancy_domain::plan::Plan;
use tenancy_domain::tenant::Tenant;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Precompiled, Store};

use crate::digest::sha256_hex;
#[cfg(feature = "compiler")]
use crate::digest::{hex, sha256_of_hash};
use crate::error::{PluginError, first_line};
use crate::limits::Limits;
use crate::sandbox::{self, Allocation, State};
use crate::wit::{self, PluginInstance, PluginPre, WitVersion};

/// The hooks of the `tenant-type` world: the domain's, so that a manifest, the registry
/// and the host name them one way.
pub use tenancy_domain::tenant_type::Hook;

/// A plugin compiled and linked, ready to instantiate.
pub struct LoadedPlugin {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// SHA-256 of its `.wasm`, hex.
    pub digest: String,
    pre: PluginPre,
}

impl LoadedPlugin {
    /// The version of the plugin interface it was built against, and is called through.
    pub fn interface_version(&self) -> WitVersion {
        self.pre.version()
    }
}

/// What a call returned, and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReport<T> {
    /// The hook's answer.
    pub value: T,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Most linear memory the call held, across all its memories, in bytes.
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

/// The size of a value as JSON: what the input cap counts.
fn json_size(value: &impl Serialize) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// The host: one engine and linker for every plugin of the process.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<State>,
    limits: Limits,
    target: String,
    /// Whether a plugin with no usable artifact is compiled: only in a build with the
    /// `compiler` feature, and not in a host made [`PluginHost::precompiled_only`].
    compiles: bool,
}

impl PluginHost {
    /// An engine with fuel, epoch interruption and the stack limit on, and a linker that
    /// offers plugins WASI (granting nothing) and the `host` interface of every supported
    /// version. Memory is allocated on demand. The pooling allocator saves about 10 µs of
    /// a 42 µs call (`benches/host.rs`), but a hook runs once per lifecycle step beside
    /// ~170 ms of AWS calls, and a pool caps concurrent calls (a full pool fails a call)
    /// and reserves its address space up front: not worth it here.
    pub fn new(limits: Limits) -> wasmtime::Result<Self> {
        Self::with_allocation(limits, Allocation::OnDemand)
    }

    /// [`PluginHost::new`] with a choice of allocator.
    pub fn with_allocation(limits: Limits, allocation: Allocation) -> wasmtime::Result<Self> {
        Self::build(limits, allocation, None)
    }

    /// A host that compiles for `target` (a triple, e.g. `aarch64-unknown-linux-gnu`) with
    /// the engine configuration a deployment on that target runs, for packaging: its
    /// [`PluginHost::precompile`] makes the artifacts, and its
    /// [`PluginHost::compatibility_key`] is the one that deployment's engine computes. It
    /// can run plugins only when `target` is this machine's. Compiling for another
    /// architecture needs that architecture's Cranelift backend in the build (the
    /// `cross-compile` feature: arm64 and x86_64); without it this fails, naming the target.
    #[cfg(feature = "compiler")]
    pub fn for_target(limits: Limits, target: &str) -> wasmtime::Result<Self> {
        Self::build(limits, Allocation::OnDemand, Some(target))
    }

    fn build(limits: Limits, allocation: Allocation, target: Option<&str>) -> wasmtime::Result<Self> {
        let target = target.map(str::to_string).or_else(sandbox::native_target);
        let engine = sandbox::engine(&limits, allocation, target.as_deref())?;
        // Without a named target (outside Linux), the host's own: its architecture names it.
        let target = target.unwrap_or_else(|| format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS));
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        wit::add_to_linker(&mut linker)?;
        Ok(Self { engine, linker, limits, target, compiles: cfg!(feature = "compiler") })
    }

    /// The same host, loading precompiled artifacts only, as the functions (built without
    /// the compiler) do: to check a package as a deployment would load it.
    pub fn precompiled_only(mut self) -> Self {
        self.compiles = false;
        self
    }

    /// Whether this host compiles a plugin that has no usable precompiled artifact.
    pub fn compiles(&self) -> bool {
        self.compiles
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The target triple this host compiles for.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A key that changes whenever this engine could not load an artifact another one
    /// precompiled (wasmtime version, configuration, target): recorded beside each
    /// precompiled artifact in a package, for people and tools comparing packages (a
    /// deployment relies on wasmtime's own check when it deserializes).
    /// The SHA-256 of wasmtime's compatibility hash input, so that it does not depend on
    /// the standard library's hasher. Only an engine with a compiler computes it; an engine
    /// without one relies on wasmtime's own check when it deserializes.
    #[cfg(feature = "compiler")]
    pub fn compatibility_key(&self) -> String {
        hex(&sha256_of_hash(&self.engine.precompile_compatibility_hash())[..16])
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
    #[cfg(feature = "compiler")]
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
    #[cfg(feature = "compiler")]
    pub fn precompile(&self, name: &str, wasm: &[u8], expected_sha256: &str) -> Result<Vec<u8>, PluginError> {
        self.check_binary(name, wasm, expected_sha256)?;
        self.engine
            .precompile_component(wasm)
            .map_err(|e| PluginError::Incompatible { plugin: name.into(), reason: first_line(&e) })
    }

    /// Loads what `PluginHost::precompile` produced. The artifact is native code that
    /// wasmtime trusts, so its SHA-256 is checked against `expected_sha256` (what the
    /// package's manifest recorded when it was built) before anything of it is read; then
    /// that it is a precompiled component, and wasmtime checks that this engine can run it
    /// (same wasmtime, configuration and target). `digest` is the SHA-256 of the `.wasm` it
    /// was compiled from.
    pub fn load_precompiled(
        &self,
        name: &str,
        version: &str,
        digest: &str,
        compiled: &[u8],
        expected_sha256: &str,
    ) -> Result<LoadedPlugin, PluginError> {
        let actual = sha256_hex(compiled);
        if !actual.eq_ignore_ascii_case(expected_sha256) {
            return Err(PluginError::ArtifactDigestMismatch {
                plugin: name.into(),
                expected: expected_sha256.into(),
                actual,
            });
        }
        let rejected = |reason: String| PluginError::ArtifactRejected { plugin: name.into(), reason };
        if Engine::detect_precompiled(compiled) != Some(Precompiled::Component) {
            return Err(rejected("not a precompiled component".into()));
        }
        // SAFETY: the bytes are those the package's manifest recorded, by SHA-256, when
        // Tenancy's packaging step produced them with `precompile`; the package directory
        // is read-only where it is deployed, and nothing writes artifacts at load time.
        // wasmtime checks the engine version, configuration and target recorded in them.
        let component =
            unsafe { Component::deserialize(&self.engine, compiled) }.map_err(|e| rejected(first_line(&e)))?;
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
        let pre = PluginPre::new(&self.linker, component).map_err(incompatible)?;
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
        self.call(
            plugin,
            hook,
            json_size(&tenant),
            |instance, store| match hook {
                Hook::OnDelete => instance.call_on_delete(store, tenant),
                _ => instance.call_validate(store, tenant),
            },
            |answer| answer.as_ref().err().map_or(0, String::len),
        )
    }

    /// `on-create`: the plan for a new tenant. The plan is not validated here; see
    /// [`tenancy_domain::plan::validate`].
    pub fn on_create(&self, plugin: &LoadedPlugin, tenant: &Tenant) -> Result<CallReport<Plan>, PluginError> {
        let CallReport { value, fuel_used, peak_memory_bytes, elapsed, log } = self.call(
            plugin,
            Hook::OnCreate,
            json_size(&tenant),
            |instance, store| instance.call_on_create(store, tenant),
            wit::PlanReply::size,
        )?;
        match value.into_domain() {
            Ok(plan) => Ok(CallReport { value: plan, fuel_used, peak_memory_bytes, elapsed, log }),
            Err(message) => {
                Err(PluginError::Refused { plugin: plugin.name.clone(), hook: Hook::OnCreate.as_str(), message })
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
        let report = self.call(
            plugin,
            Hook::OnGrantAccess,
            json_size(&tenant) + json_size(grant),
            |instance, store| instance.call_on_grant_access(store, tenant, grant),
            wit::DecisionReply::size,
        )?;
        Ok(report.map(wit::DecisionReply::into_domain))
    }

    /// One call in a fresh store: input cap, fuel, deadline, memory limit; then the output cap.
    fn call<R>(
        &self,
        plugin: &LoadedPlugin,
        hook: Hook,
        input_size: usize,
        run: impl FnOnce(&PluginInstance, &mut Store<State>) -> wasmtime::Result<R>,
        output_size: impl FnOnce(&R) -> usize,
    ) -> Result<CallReport<R>, PluginError> {
        let limits = self.limits;
        let name = || plugin.name.clone();
        if input_size > limits.max_input_bytes {
            return Err(PluginError::InputTooLarge {
                plugin: name(),
                hook: hook.as_str(),
                size: input_size,
                limit: limits.max_input_bytes,
            });
        }
        let mut store = sandbox::store(&self.engine, self.limits);
        let start = Instant::now();
        let result = plugin.pre.instantiate(&mut store).and_then(|instance| run(&instance, &mut store));
        let elapsed = start.elapsed();
        let value = result.map_err(|error| self.failure(&plugin.name, hook, &error, store.data()))?;
        let size = output_size(&value);
        if size > limits.max_output_bytes {
            return Err(PluginError::OutputTooLarge {
                plugin: name(),
                hook: hook.as_str(),
                size,
                limit: limits.max_output_bytes,
            });
        }
        let fuel_used = limits.fuel - store.get_fuel().unwrap_or(0);
        let state = store.into_data();
        Ok(CallReport { value, fuel_used, peak_memory_bytes: state.peak_memory, elapsed, log: state.log })
    }

    /// Why a call failed, from wasmtime's error and the limit the sandbox refused, if any.
    fn failure(&self, plugin: &str, hook: Hook, error: &wasmtime::Error, state: &State) -> PluginError {
        PluginError::from_failed_call(plugin, hook.as_str(), error, state.breach, &self.limits)
    }

    /// Test seam: compiles any component (binary or WAT) and instantiates it, with nothing
    /// linked, in a store with exactly the sandbox's limits of a hook call; errors are
    /// classified as a call's would be (reported as `on-create`).
    #[cfg(test)]
    pub(crate) fn instantiate_in_sandbox(&self, component: &[u8]) -> Result<usize, PluginError> {
        let component = Component::new(&self.engine, component)
            .map_err(|e| PluginError::Incompatible { plugin: "sandboxed".into(), reason: first_line(&e) })?;
        let linker = Linker::<State>::new(&self.engine);
        let mut store = sandbox::store(&self.engine, self.limits);
        match linker.instantiate(&mut store, &component) {
            Ok(_) => Ok(store.data().peak_memory),
            Err(error) => Err(self.failure("sandboxed", Hook::OnCreate, &error, store.data())),
        }
    }
}
