//! The registry of tenant types: which plugin serves which type, loaded from the manifest
//! that ships with a deployment, and the domain's [`Plugins`] port on top of the host.
//!
//! Two files, two owners:
//! - `plugins/tenant-types.json`, written by the platform team and reviewed like code: each
//!   type's plugin, version, the hooks it implements, the capabilities it declares and those
//!   an admin enabled.
//! - `manifest.json`, written by [`package`] at build time beside copies of the binaries:
//!   the same declarations plus each binary's SHA-256, and each plugin precompiled by the
//!   packaging host's engine (`<plugin>-<version>.cwasm`) with its SHA-256 and the engine's
//!   compatibility key. A deployment loads only that.
//!
//! Loading happens once, at start-up, never on a request, and writes nothing. A compiled
//! artifact is native code that wasmtime trusts, so only the package's own artifacts are
//! ever deserialized, and only after their SHA-256 matches the manifest; when an artifact
//! was made for another engine (another target, wasmtime or configuration) or there is
//! none, the `.wasm` is compiled in memory after its own digest check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tenancy_domain::access::{GrantDecision, GrantRequest};
use tenancy_domain::plan::{self, Allowances};
use tenancy_domain::ports::Plugins;
use tenancy_domain::tenant::{DEFAULT_TYPE, PluginRecord, Tenant};
use tenancy_domain::tenant_type::{Capability, PluginFailure, Proposal, TenantTypeInfo};
use thiserror::Error;

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
    /// The binary precompiled at packaging time; absent from manifests made before
    /// packaging precompiled (they still load, compiling the `.wasm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precompiled: Option<PrecompiledArtifact>,
}

/// A plugin compiled ahead of time, for the engine named by its compatibility key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrecompiledArtifact {
    /// The artifact, relative to the manifest.
    pub file: String,
    /// Its SHA-256, hex: checked before it is deserialized.
    pub sha256: String,
    /// [`PluginHost::compatibility_key`] of the engine that compiled it: only an engine
    /// with the same key uses it.
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

/// Packages the declared plugins for a deployment with a host of default limits (the
/// engine a deployment runs): see [`package_with`].
pub fn package(declarations: &Path, wasm_dir: &Path, out_dir: &Path) -> Result<Manifest, RegistryError> {
    let host = PluginHost::new(Limits::default()).map_err(|e| RegistryError::Engine(e.to_string()))?;
    package_with(&host, declarations, wasm_dir, out_dir)
}

/// Packages the declared plugins for a deployment: copies each built `.wasm` from
/// `wasm_dir` into `out_dir` as `<plugin>-<version>.wasm`, precompiles it with `host`'s
/// engine into `<plugin>-<version>.cwasm` beside it, and writes `manifest.json` with each
/// file's SHA-256 and the engine's compatibility key.
pub fn package_with(
    host: &PluginHost,
    declarations: &Path,
    wasm_dir: &Path,
    out_dir: &Path,
) -> Result<Manifest, RegistryError> {
    let declarations: Declarations = read_json(declarations)?;
    let compatibility_key = host.compatibility_key();
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
        // `precompile` checks the binary's size, and that it is a component.
        let compiled = host.precompile(&declaration.plugin, &wasm, &sha256)?;
        let target = out_dir.join(&file);
        std::fs::write(&target, &wasm).map_err(io(&target))?;
        let artifact = PrecompiledArtifact {
            file: format!("{stem}.cwasm"),
            sha256: sha256_hex(&compiled),
            compatibility_key: compatibility_key.clone(),
        };
        let target = out_dir.join(&artifact.file);
        std::fs::write(&target, &compiled).map_err(io(&target))?;
        types.push(ManifestEntry { sha256, file, declaration, precompiled: Some(artifact) });
    }
    let manifest = Manifest { types };
    let path = out_dir.join(MANIFEST_FILE);
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");
    std::fs::write(&path, text + "\n").map_err(io(&path))?;
    Ok(manifest)
}

struct Registered {
    info: TenantTypeInfo,
    plugin: Arc<LoadedPlugin>,
    allowances: Allowances,
}

/// The tenant types of a deployment, each with its plugin loaded and ready.
pub struct PluginRegistry {
    host: Arc<PluginHost>,
    types: BTreeMap<String, Registered>,
}

impl PluginRegistry {
    /// A registry with no types: every tenant is `default`.
    pub fn empty(host: PluginHost) -> Self {
        Self { host: Arc::new(host), types: BTreeMap::new() }
    }

    /// Loads every plugin of `manifest` (a `manifest.json` made by [`package`]). Each
    /// binary's size and digest are checked first. A plugin whose precompiled artifact was
    /// made by an engine with this one's compatibility key is deserialized from it, after
    /// the artifact's SHA-256 matches the manifest (a mismatch refuses the whole load);
    /// any other is compiled from its `.wasm`, in memory. Nothing is written. Blocking:
    /// call it at start-up, off the async runtime.
    pub fn load(host: PluginHost, manifest: &Path) -> Result<Self, RegistryError> {
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let entries: Manifest = read_json(manifest)?;
        let compatibility_key = host.compatibility_key();
        let mut types = BTreeMap::new();
        for entry in entries.types {
            let declaration = &entry.declaration;
            check(declaration)?;
            plain_file(&declaration.name, &entry.file)?;
            let path = dir.join(&entry.file);
            let wasm = std::fs::read(&path).map_err(io(&path))?;
            let plugin = match entry.precompiled.as_ref().filter(|a| a.compatibility_key == compatibility_key) {
                Some(artifact) => load_artifact(&host, dir, &entry, &wasm, artifact)?,
                None => host.load(&declaration.plugin, &declaration.version, &wasm, &entry.sha256)?,
            };
            let info = declaration.info(&entry.sha256);
            let allowances =
                Allowances { public_ingress: declaration.enabled_capabilities.iter().any(|c| c == PUBLIC_INGRESS) };
            let registered = Registered { info, plugin: Arc::new(plugin), allowances };
            if types.insert(declaration.name.clone(), registered).is_some() {
                return Err(RegistryError::Declaration {
                    name: declaration.name.clone(),
                    problem: "declared twice".into(),
                });
            }
        }
        Ok(Self { host: Arc::new(host), types })
    }

    fn registered(&self, tenant: &Tenant) -> Result<&Registered, PluginFailure> {
        self.types.get(tenant.tenant_type()).ok_or_else(|| PluginFailure::UnknownType(tenant.tenant_type().clone()))
    }

    /// Runs one hook off the async runtime's worker threads, so that a plugin using its
    /// whole budget delays only its own request.
    async fn run<T: Send + 'static>(
        &self,
        registered: &Registered,
        call: impl FnOnce(&PluginHost, &LoadedPlugin) -> Result<T, PluginError> + Send + 'static,
    ) -> Result<T, PluginFailure> {
        let host = self.host.clone();
        let plugin = registered.plugin.clone();
        let name = plugin.name.clone();
        tokio::task::spawn_blocking(move || call(&host, &plugin))
            .await
            .map_err(|e| PluginFailure::Failed(format!("plugin '{name}': the call did not complete: {e}")))?
            .map_err(failure)
    }
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

/// Loads a plugin from the artifact its package precompiled for this engine. The `.wasm`
/// is checked too, since its digest is what the registry reports; the artifact's digest is
/// checked before it is deserialized.
fn load_artifact(
    host: &PluginHost,
    dir: &Path,
    entry: &ManifestEntry,
    wasm: &[u8],
    artifact: &PrecompiledArtifact,
) -> Result<LoadedPlugin, RegistryError> {
    let (name, version) = (&entry.declaration.plugin, &entry.declaration.version);
    host.check_binary(name, wasm, &entry.sha256)?;
    plain_file(&entry.declaration.name, &artifact.file)?;
    let path = dir.join(&artifact.file);
    let compiled = std::fs::read(&path).map_err(io(&path))?;
    match host.load_precompiled(name, version, &entry.sha256, &compiled, &artifact.sha256) {
        Ok(plugin) => Ok(plugin),
        // The package's own artifact, which this engine turned down all the same: compile.
        Err(error @ PluginError::Incompatible { .. }) => {
            tracing::warn!(%error, artifact = %path.display(), "precompiled artifact unusable; compiling the .wasm");
            Ok(host.load(name, version, wasm, &entry.sha256)?)
        }
        Err(error) => Err(error.into()),
    }
}

/// The record of a plan made for `tenant` (at its last write, the worker's claim).
fn record(plugin: &LoadedPlugin, plan: plan::Plan, log: String, tenant: &Tenant) -> PluginRecord {
    PluginRecord {
        plugin: plugin.name.clone(),
        version: plugin.version.clone(),
        sha256: plugin.digest.clone(),
        plan,
        log,
        planned_at: tenant.updated_at(),
    }
}

#[async_trait]
impl Plugins for PluginRegistry {
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
        let plugin = registered.plugin.clone();
        let allowances = registered.allowances;
        if !implements(registered, Hook::OnCreate) {
            return Ok(Proposal { record: record(&plugin, plan::Plan::default(), String::new(), tenant), allowances });
        }
        let input = tenant.clone();
        let CallReport { value, log, .. } =
            self.run(registered, move |host, plugin| host.on_create(plugin, &input)).await?;
        Ok(Proposal { record: record(&plugin, value, log, tenant), allowances })
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
