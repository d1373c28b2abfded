//! The registry of tenant types: which plugin serves which type, loaded from the manifest
//! that ships with a deployment, and the domain's [`Plugins`] port on top of the host.
//!
//! Two files, two owners:
//! - `plugins/tenant-types.json`, written by the platform team and reviewed like code: each
//!   type's plugin, version, the hooks it implements, the capabilities it declares and those
//!   an admin enabled.
//! - `manifest.json`, written by `package` at build time beside copies of the binaries:
//!   the same declarations plus each binary's SHA-256, and each plugin precompiled for
//!   each target packaged for (`<plugin>-<version>.<target>.cwasm`, cross-compiled for
//!   arm64 on an x86_64 machine) with its SHA-256, target and the compatibility key of the
//!   engine a deployment on that target runs. A deployment loads only that.
//!
//! At start-up a deployment only [opens](PluginRegistry::open) the manifest (cheap checks;
//! a broken one stops start-up). Each type's plugin is loaded when a request first needs
//! it, once, and kept; loading writes nothing. A compiled artifact is native code that
//! wasmtime trusts, so only the package's own artifacts are ever deserialized: the one made
//! for this machine's target, only after its SHA-256 matches the manifest, and wasmtime
//! refuses it unless this engine could have made it (wasmtime version, configuration,
//! CPU features). When there is no usable artifact, a build with the `compiler` feature
//! (tools, tests) compiles the `.wasm` in memory after its own digest check, with a
//! warning: it is slow. The functions are built without a compiler: for them the type is
//! unavailable, with the reason, until the package is made for their target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tenancy_domain::access::{GrantDecision, GrantRequest};
use tenancy_domain::plan::{self, Allowances};
use tenancy_domain::ports::Plugins;
use tenancy_domain::tenant::{DEFAULT_TYPE, PluginRecord, Tenant};
use tenancy_domain::tenant_type::{Capability, PluginFailure, Proposal, TenantTypeInfo};
use thiserror::Error;

#[cfg(feature = "compiler")]
use crate::digest::sha256_hex;
use crate::error::PluginError;
use crate::host::{CallReport, Hook, LoadedPlugin, PluginHost};
use crate::limits::Limits;

/// The capability that lets a plan open the tenant's group to the internet.
pub const PUBLIC_INGRESS: &str = Capability::PublicIngress.as_str();
/// Every capability a plugin may declare.
pub const CAPABILITIES: [&str; 1] = [PUBLIC_INGRESS];
/// The manifest's file name in a packaged plugin directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// One tenant type, as the platform team declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Declaration {
    /// The tenant type.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The plugin (its crate name; the build's `.wasm` has `-` as `_`).
    pub plugin: String,
    /// The plugin's version.
    pub version: String,
    /// Hooks it implements.
    pub hooks: Vec<String>,
    /// Capabilities it declares.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Capabilities an admin enabled; a subset of `capabilities`.
    #[serde(default)]
    pub enabled_capabilities: Vec<String>,
    /// The setting that holds a tenant's end (a date `YYYY-MM-DD`): Tenancy reads and
    /// checks it into the tenant's `expiresAt`, and requires it of every tenant of the
    /// type. Declared here, by the platform team, rather than proposed by the plugin, so
    /// that a plugin can never set an end Tenancy did not check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_setting: Option<String>,
}

impl Declaration {
    /// What the domain knows of the type once its binary's digest is known.
    pub fn info(&self, sha256: &str) -> TenantTypeInfo {
        TenantTypeInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            plugin: self.plugin.clone(),
            version: self.version.clone(),
            sha256: sha256.to_string(),
            // Checked when the manifest is read: every name parses.
            hooks: self.hooks.iter().filter_map(|h| Hook::parse(h)).collect(),
            capabilities: self.capabilities.iter().filter_map(|c| Capability::parse(c)).collect(),
            enabled_capabilities: self.enabled_capabilities.iter().filter_map(|c| Capability::parse(c)).collect(),
            expiry_setting: self.expiry_setting.clone(),
        }
    }
}

/// `tenant-types.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Declarations {
    /// The types.
    pub types: Vec<Declaration>,
}

/// One entry of a packaged manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestEntry {
    /// As declared.
    #[serde(flatten)]
    pub declaration: Declaration,
    /// The binary, relative to the manifest.
    pub file: String,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// The binary precompiled at packaging time, once per target packaged for; empty in
    /// manifests made before packaging precompiled, which only a host that compiles loads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub precompiled: Vec<PrecompiledArtifact>,
}

/// A plugin compiled ahead of time for one target, by an engine configured as a
/// deployment on that target configures its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrecompiledArtifact {
    /// The artifact, relative to the manifest.
    pub file: String,
    /// Its SHA-256, hex: checked before it is deserialized.
    pub sha256: String,
    /// The target triple it was compiled for (`aarch64-unknown-linux-gnu`...): for people;
    /// the compatibility key decides.
    pub target: String,
    /// `PluginHost::compatibility_key` of the engine that compiled it: for people and
    /// tools comparing packages. A deployment picks the artifact by `target`; wasmtime
    /// then refuses it unless the engine loading it could have made it.
    pub compatibility_key: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// The types.
    pub types: Vec<ManifestEntry>,
}

/// Why a manifest could not be packaged or loaded. A deployment with a broken registry
/// does not start: serving tenants of a type whose plugin is missing would be worse.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not the JSON it should be.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A declaration breaks a rule.
    #[error("tenant type '{name}': {problem}")]
    Declaration {
        /// The type.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The engine could not start, or loading did not complete.
    #[error("the plugin engine: {0}")]
    Engine(String),
    /// A plugin failed to load (digest, size, not a component of the world).
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io { path: path.to_path_buf(), source }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, RegistryError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|source| RegistryError::Json { path: path.to_path_buf(), source })
}

fn check(declaration: &Declaration) -> Result<(), RegistryError> {
    let problem = |problem: String| RegistryError::Declaration { name: declaration.name.clone(), problem };
    if declaration.name == DEFAULT_TYPE {
        return Err(problem(format!("'{DEFAULT_TYPE}' is the built-in type and has no plugin")));
    }
    tenancy_domain::names::Name::parse("type", &declaration.name).map_err(|e| problem(e.to_string()))?;
    let plugin_ok = !declaration.plugin.is_empty()
        && declaration.plugin.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !plugin_ok {
        return Err(problem(format!("plugin '{}' must be lowercase letters, digits, - and _", declaration.plugin)));
    }
    let hooks = Hook::ALL.map(Hook::as_str);
    if let Some(unknown) = declaration.hooks.iter().find(|h| !hooks.contains(&h.as_str())) {
        return Err(problem(format!("unknown hook '{unknown}'; hooks are {}", hooks.join(", "))));
    }
    if let Some(unknown) = declaration.capabilities.iter().find(|c| !CAPABILITIES.contains(&c.as_str())) {
        return Err(problem(format!("unknown capability '{unknown}'; capabilities are {}", CAPABILITIES.join(", "))));
    }
    if let Some(undeclared) = declaration.enabled_capabilities.iter().find(|c| !declaration.capabilities.contains(c)) {
        return Err(problem(format!("capability '{undeclared}' is enabled but the plugin does not declare it")));
    }
    if let Some(key) = &declaration.expiry_setting {
        let settings = std::collections::BTreeMap::from([(key.clone(), "2000-01-01".to_string())]);
        tenancy_domain::metadata::validate_settings(&settings)
            .map_err(|e| problem(format!("expirySetting '{key}' is not a setting key: {e}")))?;
    }
    Ok(())
}

/// A file the manifest names must be a plain file name in the package directory.
fn plain_file(plugin: &str, file: &str) -> Result<(), RegistryError> {
    let mut parts = Path::new(file).components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(_)), None) => Ok(()),
        _ => Err(RegistryError::Declaration {
            name: plugin.to_string(),
            problem: format!("'{file}' is not a file name in the package directory"),
        }),
    }
}

/// Packages the declared plugins for a deployment precompiled for this machine's engine:
/// see [`package_with`].
#[cfg(feature = "compiler")]
pub fn package(declarations: &Path, wasm_dir: &Path, out_dir: &Path) -> Result<Manifest, RegistryError> {
    let host = PluginHost::new(Limits::default()).map_err(|e| RegistryError::Engine(e.to_string()))?;
    package_with(&[host], declarations, wasm_dir, out_dir)
}

/// Packages the declared plugins precompiled for each of `targets` (triples, e.g.
/// `aarch64-unknown-linux-gnu` for an arm64 Lambda), each by a host configured as a
/// deployment on that target configures its own: see [`package_with`].
#[cfg(feature = "compiler")]
pub fn package_for(
    targets: &[String],
    declarations: &Path,
    wasm_dir: &Path,
    out_dir: &Path,
) -> Result<Manifest, RegistryError> {
    let mut hosts = Vec::new();
    for target in targets {
        let named = !target.is_empty() && target.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !named {
            return Err(RegistryError::Engine(format!("'{target}' is not a target triple")));
        }
        let host = PluginHost::for_target(Limits::default(), target)
            .map_err(|e| RegistryError::Engine(format!("compiling for {target}: {e:#}")))?;
        if !hosts.iter().any(|h: &PluginHost| h.target() == host.target()) {
            hosts.push(host);
        }
    }
    package_with(&hosts, declarations, wasm_dir, out_dir)
}

/// Packages the declared plugins for a deployment: copies each built `.wasm` from
/// `wasm_dir` into `out_dir` as `<plugin>-<version>.wasm`, precompiles it with each of
/// `hosts`' engines into `<plugin>-<version>.<target>.cwasm` beside it, and writes
/// `manifest.json` with each file's SHA-256 and each engine's target and compatibility key.
#[cfg(feature = "compiler")]
pub fn package_with(
    hosts: &[PluginHost],
    declarations: &Path,
    wasm_dir: &Path,
    out_dir: &Path,
) -> Result<Manifest, RegistryError> {
    let declarations: Declarations = read_json(declarations)?;
    let keys: Vec<String> = hosts.iter().map(PluginHost::compatibility_key).collect();
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let mut seen = BTreeMap::new();
    let mut types = Vec::new();
    for declaration in declarations.types {
        check(&declaration)?;
        if seen.insert(declaration.name.clone(), ()).is_some() {
            return Err(RegistryError::Declaration { name: declaration.name, problem: "declared twice".into() });
        }
        let built = wasm_dir.join(format!("{}.wasm", declaration.plugin.replace('-', "_")));
        let wasm = std::fs::read(&built).map_err(io(&built))?;
        let stem = format!("{}-{}", declaration.plugin, declaration.version);
        let (file, sha256) = (format!("{stem}.wasm"), sha256_hex(&wasm));
        plain_file(&declaration.name, &file)?;
        let mut precompiled = Vec::new();
        for (host, compatibility_key) in hosts.iter().zip(&keys) {
            // `precompile` checks the binary's size, and that it is a component.
            let compiled = host.precompile(&declaration.plugin, &wasm, &sha256)?;
            let artifact = PrecompiledArtifact {
                file: format!("{stem}.{}.cwasm", host.target()),
                sha256: sha256_hex(&compiled),
                target: host.target().to_string(),
                compatibility_key: compatibility_key.clone(),
            };
            plain_file(&declaration.name, &artifact.file)?;
            let target = out_dir.join(&artifact.file);
            std::fs::write(&target, &compiled).map_err(io(&target))?;
            precompiled.push(artifact);
        }
        let target = out_dir.join(&file);
        std::fs::write(&target, &wasm).map_err(io(&target))?;
        types.push(ManifestEntry { sha256, file, declaration, precompiled });
    }
    let manifest = Manifest { types };
    let path = out_dir.join(MANIFEST_FILE);
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");
    std::fs::write(&path, text + "\n").map_err(io(&path))?;
    Ok(manifest)
}

/// One tenant type: what the manifest says of it, and its plugin once a request needed it.
struct Registered {
    info: TenantTypeInfo,
    entry: ManifestEntry,
    allowances: Allowances,
    /// Set once, by the first call that needs the plugin; a failure is kept too (the
    /// package is read-only: trying again would fail again, slowly).
    plugin: OnceLock<Result<Arc<LoadedPlugin>, String>>,
}

/// What loading needs, shared with the blocking threads that load and call.
struct Loader {
    /// The package directory.
    dir: PathBuf,
    limits: Limits,
    /// The engine, made by the first load: a process that serves no plugin never makes one.
    host: OnceLock<Result<Arc<PluginHost>, String>>,
    /// Plugins loaded (deserialized or compiled), successfully or not.
    loads: AtomicUsize,
}

/// The tenant types of a deployment. Opening it reads and checks the manifest (JSON,
/// declarations, file names, presence and sizes) and nothing else; each type's plugin is
/// loaded (digests checked, then deserialized or compiled) when a request first needs it,
/// and kept for the life of the process.
pub struct PluginRegistry {
    loader: Arc<Loader>,
    types: BTreeMap<String, Arc<Registered>>,
}

impl PluginRegistry {
    /// A registry with no types: every tenant is `default`.
    pub fn empty() -> Self {
        Self::with_types(Limits::default(), PathBuf::new(), BTreeMap::new())
    }

    fn with_types(limits: Limits, dir: PathBuf, types: BTreeMap<String, Arc<Registered>>) -> Self {
        let loader = Loader { dir, limits, host: OnceLock::new(), loads: AtomicUsize::new(0) };
        Self { loader: Arc::new(loader), types }
    }

    /// Opens `manifest` (a `manifest.json` made by `package`) without loading any plugin:
    /// the cheap checks a deployment must pass to start. The manifest must be well-formed,
    /// every declaration valid and named once, and every file it names a plain file name
    /// present in its directory; a `.wasm` over the size limit is refused here too. Digests
    /// are checked when a plugin is loaded, before anything of it is used. Reads only
    /// metadata besides the manifest; writes nothing.
    pub fn open(limits: Limits, manifest: &Path) -> Result<Self, RegistryError> {
        let dir = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
        let entries: Manifest = read_json(manifest)?;
        let mut types = BTreeMap::new();
        for entry in entries.types {
            let declaration = &entry.declaration;
            check(declaration)?;
            plain_file(&declaration.name, &entry.file)?;
            let size = file_size(&dir.join(&entry.file))?;
            if size > limits.max_binary_bytes as u64 {
                return Err(PluginError::BinaryTooLarge {
                    plugin: declaration.plugin.clone(),
                    size: size as usize,
                    limit: limits.max_binary_bytes,
                }
                .into());
            }
            for artifact in &entry.precompiled {
                plain_file(&declaration.name, &artifact.file)?;
                file_size(&dir.join(&artifact.file))?;
            }
            let name = declaration.name.clone();
            let registered = Registered {
                info: declaration.info(&entry.sha256),
                allowances: Allowances {
                    public_ingress: declaration.enabled_capabilities.iter().any(|c| c == PUBLIC_INGRESS),
                },
                entry,
                plugin: OnceLock::new(),
            };
            if types.insert(name.clone(), Arc::new(registered)).is_some() {
                return Err(RegistryError::Declaration { name, problem: "declared twice".into() });
            }
        }
        Ok(Self::with_types(limits, dir, types))
    }

    /// Opens `manifest` and loads every plugin now, with `host`: the first that fails to
    /// load fails the whole load. For tools and tests that want every plugin checked at
    /// once; a deployment [opens](PluginRegistry::open) instead. Blocking.
    pub fn load(host: PluginHost, manifest: &Path) -> Result<Self, RegistryError> {
        let registry = Self::open(host.limits(), manifest)?;
        let host = Arc::new(host);
        let _ = registry.loader.host.set(Ok(host.clone()));
        for registered in registry.types.values() {
            let plugin = registry.loader.load(&host, &registered.entry)?;
            let _ = registered.plugin.set(Ok(Arc::new(plugin)));
        }
        Ok(registry)
    }

    /// How many plugins this registry has loaded (deserialized or compiled), whether or
    /// not they loaded: each type's is loaded at most once.
    pub fn loads(&self) -> usize {
        self.loader.loads.load(Ordering::SeqCst)
    }

    fn registered(&self, tenant: &Tenant) -> Result<&Arc<Registered>, PluginFailure> {
        self.types.get(tenant.tenant_type()).ok_or_else(|| PluginFailure::UnknownType(tenant.tenant_type().clone()))
    }

    /// Runs one hook off the async runtime's worker threads, so that a plugin using its
    /// whole budget delays only its own request; the type's plugin is loaded there first
    /// if no call has needed it yet.
    async fn run<T: Send + 'static>(
        &self,
        registered: &Arc<Registered>,
        call: impl FnOnce(&PluginHost, &LoadedPlugin) -> Result<T, PluginError> + Send + 'static,
    ) -> Result<T, PluginFailure> {
        let (loader, registered) = (self.loader.clone(), registered.clone());
        let name = registered.entry.declaration.plugin.clone();
        tokio::task::spawn_blocking(move || {
            let (host, plugin) = loader.plugin(&registered)?;
            call(&host, &plugin).map_err(failure)
        })
        .await
        .map_err(|e| PluginFailure::Failed(format!("plugin '{name}': the call did not complete: {e}")))?
    }
}

fn file_size(path: &Path) -> Result<u64, RegistryError> {
    let metadata = std::fs::metadata(path).map_err(io(path))?;
    if !metadata.is_file() {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file");
        return Err(RegistryError::Io { path: path.to_path_buf(), source });
    }
    Ok(metadata.len())
}

impl Loader {
    fn host(&self) -> Result<Arc<PluginHost>, String> {
        let made = self.host.get_or_init(|| {
            PluginHost::new(self.limits).map(Arc::new).map_err(|e| format!("the plugin engine did not start: {e}"))
        });
        made.clone()
    }

    /// The type's plugin, loaded by the first call that needs it; concurrent first calls
    /// wait for that one load. A type whose plugin does not load is unavailable, with the
    /// reason, for the life of the process; other types are not affected.
    fn plugin(&self, registered: &Registered) -> Result<(Arc<PluginHost>, Arc<LoadedPlugin>), PluginFailure> {
        let unavailable = |reason: &str| {
            PluginFailure::Failed(format!(
                "tenant type '{}' is unavailable: its plugin could not be loaded: {reason}",
                registered.entry.declaration.name
            ))
        };
        let host = self.host().map_err(|e| unavailable(&e))?;
        let plugin = registered.plugin.get_or_init(|| {
            let started = std::time::Instant::now();
            let loaded = self.load(&host, &registered.entry).map(Arc::new).map_err(|e| e.to_string());
            let declaration = &registered.entry.declaration;
            match &loaded {
                Ok(_) => tracing::info!(
                    tenant_type = %declaration.name, plugin = %declaration.plugin, version = %declaration.version,
                    millis = started.elapsed().as_millis() as u64, "plugin loaded"
                ),
                Err(error) => tracing::error!(tenant_type = %declaration.name, %error, "plugin did not load; the type is unavailable"),
            }
            loaded
        });
        match plugin {
            Ok(plugin) => Ok((host, plugin.clone())),
            Err(reason) => Err(unavailable(reason)),
        }
    }

    /// Loads one plugin. The `.wasm`'s size and digest are checked first. The package's
    /// artifact for this machine's target is deserialized, after its SHA-256 matches the
    /// manifest, if wasmtime accepts it for this engine; otherwise see `without_artifact`.
    /// Nothing is written. Blocking.
    fn load(&self, host: &PluginHost, entry: &ManifestEntry) -> Result<LoadedPlugin, RegistryError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let declaration = &entry.declaration;
        let path = self.dir.join(&entry.file);
        let wasm = std::fs::read(&path).map_err(io(&path))?;
        host.check_binary(&declaration.plugin, &wasm, &entry.sha256)?;
        // Only wasmtime turning down an intact artifact is worth another way: a digest,
        // I/O or link error is the package's fault, and refuses the plugin.
        let reason = match entry.precompiled.iter().find(|a| a.target == host.target()) {
            Some(artifact) => match load_artifact(host, &self.dir, entry, artifact) {
                Err(RegistryError::Plugin(PluginError::ArtifactRejected { reason, .. })) => {
                    format!("its artifact for {} does not fit this engine: {reason}", host.target())
                }
                loaded => return loaded,
            },
            None => {
                let targets: Vec<&str> = entry.precompiled.iter().map(|a| a.target.as_str()).collect();
                format!("the package has no artifact for {} (it has: {})", host.target(), targets.join(", "))
            }
        };
        without_artifact(host, entry, &wasm, reason)
    }
}

/// No usable artifact. A host that compiles (a build with the `compiler` feature: tools,
/// tests) compiles the checked `.wasm` in memory, slowly, with a warning. The functions
/// cannot: the plugin does not load, and the reason says how to package it.
fn without_artifact(
    host: &PluginHost,
    entry: &ManifestEntry,
    wasm: &[u8],
    reason: String,
) -> Result<LoadedPlugin, RegistryError> {
    let declaration = &entry.declaration;
    #[cfg(feature = "compiler")]
    if host.compiles() {
        tracing::warn!(
            plugin = %declaration.plugin, target = host.target(), %reason,
            "no usable precompiled artifact; compiling the .wasm, which is slow: package for this target"
        );
        return Ok(host.load(&declaration.plugin, &declaration.version, wasm, &entry.sha256)?);
    }
    let _ = wasm;
    let reason = format!(
        "{reason}; this host runs precompiled plugins only: package them for this target \
         (`tenancy plugin package --target {}`)",
        host.target()
    );
    Err(PluginError::NotPrecompiledForThisEngine { plugin: declaration.plugin.clone(), reason }.into())
}

fn implements(registered: &Registered, hook: Hook) -> bool {
    registered.info.hooks.contains(&hook)
}

/// Refusals in the plugin's words stay refusals (a 422 at the API); everything else is
/// the plugin failing.
fn failure(error: PluginError) -> PluginFailure {
    match error {
        PluginError::Refused { plugin, message, .. } => PluginFailure::Refused { plugin, message },
        other => PluginFailure::Failed(other.to_string()),
    }
}

/// Loads a plugin from the artifact its package precompiled for this machine's target (the
/// `.wasm`, whose digest the registry reports, was checked by the caller). The artifact's
/// digest is checked before it is deserialized.
fn load_artifact(
    host: &PluginHost,
    dir: &Path,
    entry: &ManifestEntry,
    artifact: &PrecompiledArtifact,
) -> Result<LoadedPlugin, RegistryError> {
    let (name, version) = (&entry.declaration.plugin, &entry.declaration.version);
    plain_file(&entry.declaration.name, &artifact.file)?;
    let path = dir.join(&artifact.file);
    let compiled = std::fs::read(&path).map_err(io(&path))?;
    Ok(host.load_precompiled(name, version, &entry.sha256, &compiled, &artifact.sha256)?)
}

/// The record of a plan made for `tenant` (at its last write, the worker's claim) by the
/// type's plugin, as its manifest names it (the digest a load checks before any call).
fn record(entry: &ManifestEntry, plan: plan::Plan, log: String, tenant: &Tenant) -> PluginRecord {
    PluginRecord {
        plugin: entry.declaration.plugin.clone(),
        version: entry.declaration.version.clone(),
        sha256: entry.sha256.clone(),
        plan,
        log,
        planned_at: tenant.updated_at(),
    }
}

#[async_trait]
impl Plugins for PluginRegistry {
    /// From the manifest: listing types loads nothing.
    fn types(&self) -> Vec<TenantTypeInfo> {
        self.types.values().map(|r| r.info.clone()).collect()
    }

    async fn validate(&self, tenant: &Tenant) -> Result<(), PluginFailure> {
        let registered = self.registered(tenant)?;
        if !implements(registered, Hook::Validate) {
            return Ok(());
        }
        let input = tenant.clone();
        let report = self.run(registered, move |host, plugin| host.validate(plugin, &input)).await?;
        report.value.map_err(|message| PluginFailure::Refused { plugin: registered.info.plugin.clone(), message })
    }

    async fn plan(&self, tenant: &Tenant) -> Result<Proposal, PluginFailure> {
        let registered = self.registered(tenant)?;
        let allowances = registered.allowances;
        if !implements(registered, Hook::OnCreate) {
            let record = record(&registered.entry, plan::Plan::default(), String::new(), tenant);
            return Ok(Proposal { record, allowances });
        }
        let input = tenant.clone();
        let CallReport { value, log, .. } =
            self.run(registered, move |host, plugin| host.on_create(plugin, &input)).await?;
        Ok(Proposal { record: record(&registered.entry, value, log, tenant), allowances })
    }

    async fn on_delete(&self, tenant: &Tenant) -> Result<(), PluginFailure> {
        let registered = self.registered(tenant)?;
        if !implements(registered, Hook::OnDelete) {
            return Ok(());
        }
        let input = tenant.clone();
        let report = self.run(registered, move |host, plugin| host.on_delete(plugin, &input)).await?;
        report.value.map_err(|message| PluginFailure::Refused { plugin: registered.info.plugin.clone(), message })
    }

    async fn on_grant_access(&self, tenant: &Tenant, grant: &GrantRequest) -> Result<GrantDecision, PluginFailure> {
        let registered = self.registered(tenant)?;
        if !implements(registered, Hook::OnGrantAccess) {
            return Ok(GrantDecision::Allow);
        }
        let (input, grant) = (tenant.clone(), grant.clone());
        let report = self.run(registered, move |host, plugin| host.on_grant_access(plugin, &input, &grant)).await?;
        Ok(report.value)
    }
}
