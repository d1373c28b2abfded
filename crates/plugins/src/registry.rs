//! The registry of tenant types: which plugin serves which type, loaded from the manifest
//! that ships with a deployment, and the domain's [`Plugins`] port on top of the host.
//!
//! Two files, two owners:
//! - `plugins/tenant-types.json`, written by the platform team and reviewed like code: each
//!   type's plugin, version, the hooks it implements, the capabilities it declares and those
//!   an admin enabled.
//! - `manifest.json`, written by [`package`] at build time beside copies of the binaries:
//!   the same declarations plus each binary's SHA-256. A deployment loads only that.
//!
//! Loading compiles every plugin once, at start-up, never on a request; with a cache
//! directory the compiled artifact is kept and later start-ups only deserialize it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tenancy_domain::plan::{self, Allowances, GrantDecision, GrantRequest};
use tenancy_domain::ports::{PluginFailure, Plugins, TenantTypeInfo};
use tenancy_domain::tenant::{DEFAULT_TYPE, PluginRecord, Tenant};
use thiserror::Error;

use crate::error::PluginError;
use crate::host::{CallReport, Hook, LoadedPlugin, PluginHost, sha256_hex};

/// The capability that lets a plan open the tenant's group to the internet.
pub const PUBLIC_INGRESS: &str = "public-ingress";
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
            hooks: self.hooks.clone(),
            capabilities: self.capabilities.clone(),
            enabled_capabilities: self.enabled_capabilities.clone(),
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
    let hooks = [Hook::Validate, Hook::OnCreate, Hook::OnDelete, Hook::OnGrantAccess].map(Hook::name);
    if let Some(unknown) = declaration.hooks.iter().find(|h| !hooks.contains(&h.as_str())) {
        return Err(problem(format!("unknown hook '{unknown}'; hooks are {}", hooks.join(", "))));
    }
    if let Some(unknown) = declaration.capabilities.iter().find(|c| !CAPABILITIES.contains(&c.as_str())) {
        return Err(problem(format!("unknown capability '{unknown}'; capabilities are {}", CAPABILITIES.join(", "))));
    }
    if let Some(undeclared) = declaration.enabled_capabilities.iter().find(|c| !declaration.capabilities.contains(c)) {
        return Err(problem(format!("capability '{undeclared}' is enabled but the plugin does not declare it")));
    }
    Ok(())
}

/// Packages the declared plugins for a deployment: copies each built `.wasm` from
/// `wasm_dir` into `out_dir` as `<plugin>-<version>.wasm` and writes `manifest.json` with
/// each binary's SHA-256.
pub fn package(declarations: &Path, wasm_dir: &Path, out_dir: &Path) -> Result<Manifest, RegistryError> {
    let declarations: Declarations = read_json(declarations)?;
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
        let file = format!("{}-{}.wasm", declaration.plugin, declaration.version);
        let target = out_dir.join(&file);
        std::fs::write(&target, &wasm).map_err(io(&target))?;
        types.push(ManifestEntry { sha256: sha256_hex(&wasm), file, declaration });
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
    /// binary's size and digest are checked before it is compiled or its cached artifact
    /// loaded. Blocking: call it at start-up, off the async runtime.
    pub fn load(host: PluginHost, manifest: &Path, cache: Option<&Path>) -> Result<Self, RegistryError> {
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let entries: Manifest = read_json(manifest)?;
        let mut types = BTreeMap::new();
        for entry in entries.types {
            let declaration = &entry.declaration;
            check(declaration)?;
            let path = dir.join(&entry.file);
            let wasm = std::fs::read(&path).map_err(io(&path))?;
            let plugin = match cache {
                Some(cache) => load_cached(&host, &entry, &wasm, cache)?,
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
        self.types.get(&tenant.tenant_type).ok_or_else(|| PluginFailure::UnknownType(tenant.tenant_type.clone()))
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
    registered.info.hooks.iter().any(|h| h == hook.name())
}

/// Refusals in the plugin's words stay refusals (a 422 at the API); everything else is
/// the plugin failing.
fn failure(error: PluginError) -> PluginFailure {
    match error {
        PluginError::Refused { plugin, message, .. } => PluginFailure::Refused { plugin, message },
        other => PluginFailure::Failed(other.to_string()),
    }
}

/// Loads a plugin through the cache of compiled artifacts, keyed by the binary's digest
/// and the engine's compatibility hash, so that a new wasmtime or configuration never
/// picks up an old artifact.
fn load_cached(
    host: &PluginHost,
    entry: &ManifestEntry,
    wasm: &[u8],
    cache: &Path,
) -> Result<LoadedPlugin, RegistryError> {
    let (name, version) = (&entry.declaration.plugin, &entry.declaration.version);
    let artifact = cache.join(format!("{}-{}.cwasm", entry.sha256, host.compatibility_key()));
    if let Ok(compiled) = std::fs::read(&artifact) {
        // Checked on a cache hit too: the digest in the manifest is what is trusted.
        host.check_binary(name, wasm, &entry.sha256)?;
        match host.load_precompiled(name, version, &entry.sha256, &compiled) {
            Ok(plugin) => return Ok(plugin),
            Err(error) => tracing::warn!(%error, artifact = %artifact.display(), "cached artifact unusable; compiling"),
        }
    }
    // `precompile` checks the binary's size and digest itself.
    let compiled = host.precompile(name, wasm, &entry.sha256)?;
    if let Err(error) = write_private(cache, &artifact, &compiled) {
        tracing::warn!(%error, artifact = %artifact.display(), "could not cache the compiled plugin");
    }
    Ok(host.load_precompiled(name, version, &entry.sha256, &compiled)?)
}

/// Writes `bytes` to `path` atomically, in a directory only this user can read or write:
/// compiled artifacts are native code, trusted when loaded.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let temporary = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// The record of a plan made for `tenant` (at its last write, the worker's claim).
fn record(plugin: &LoadedPlugin, plan: plan::Plan, log: String, tenant: &Tenant) -> PluginRecord {
    PluginRecord {
        plugin: plugin.name.clone(),
        version: plugin.version.clone(),
        sha256: plugin.digest.clone(),
        plan,
        log,
        planned_at: tenant.updated_at,
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

    async fn plan(&self, tenant: &Tenant) -> Result<PluginRecord, PluginFailure> {
        let registered = self.registered(tenant)?;
        let plugin = registered.plugin.clone();
        if !implements(registered, Hook::OnCreate) {
            return Ok(record(&plugin, plan::Plan::default(), String::new(), tenant));
        }
        let input = tenant.clone();
        let CallReport { value, log, .. } =
            self.run(registered, move |host, plugin| host.on_create(plugin, &input)).await?;
        plan::validate(&plugin.name, &tenant.name, &value, registered.allowances).map_err(PluginFailure::Plan)?;
        Ok(record(&plugin, value, log, tenant))
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
