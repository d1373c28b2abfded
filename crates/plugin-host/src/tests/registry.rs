//! The plugin registry: packaging, loading and refusing plugins from disk.

use std::path::{Path, PathBuf};

use tenancy_domain::ports::Plugins;
use tenancy_domain::tenant_type::PluginFailure;

use super::*;
use crate::registry::{self, PluginRegistry, RegistryError};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn wasm_dir() -> PathBuf {
    repository().join("plugins/target/wasm32-wasip2/release")
}

/// A fresh directory under the target directory, removed first if a run left one.
fn scratch(name: &str) -> PathBuf {
    let dir = repository().join("target/test-scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn packaged(name: &str) -> PathBuf {
    let out = scratch(name);
    registry::package(&repository().join("plugins/tenant-types.json"), &wasm_dir(), &out).expect("packaged");
    out
}

fn host() -> PluginHost {
    PluginHost::new(Limits::default()).unwrap()
}

/// The artifact packaging made of version 1.0.0 of `plugin` for this machine.
fn cwasm(plugin: &str) -> String {
    format!("{plugin}-1.0.0.{}.cwasm", host().target())
}

/// Every file under `dir`, with its size and modification time.
fn listing(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                pending.push(entry.path());
            }
            files.push((entry.path(), metadata.len(), metadata.modified().unwrap()));
        }
    }
    files.sort();
    files
}

fn edit_manifest(out: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = out.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut manifest);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

async fn science_plan(registry: &PluginRegistry) -> Plan {
    let science = typed("data-science", BTreeMap::from([("attack".to_string(), "none".to_string())]));
    registry.plan(&science).await.expect("a plan").record.plan
}

#[tokio::test]
async fn the_shipped_types_load_from_their_manifest_and_answer_through_the_port() {
    let out = packaged("shipped");
    let manifest: registry::Manifest =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let key = host().compatibility_key();
    for entry in &manifest.types {
        let [artifact] = entry.precompiled.as_slice() else { panic!("packaging precompiles every plugin, once") };
        assert_eq!(
            artifact.file,
            format!("{}-{}.{}.cwasm", entry.declaration.plugin, entry.declaration.version, host().target())
        );
        assert_eq!((artifact.compatibility_key.as_str(), artifact.target.as_str()), (key.as_str(), host().target()));
        assert_eq!(sha256_hex(&std::fs::read(out.join(&artifact.file)).unwrap()), artifact.sha256);
    }
    let again = PluginRegistry::load(host(), &out.join("manifest.json")).expect("loads");
    let types: Vec<String> = again.types().into_iter().map(|t| t.name).collect();
    assert_eq!(types, ["data-science", "per-client"]);

    let science = typed("data-science", BTreeMap::from([("attack".to_string(), "none".to_string())]));
    let proposal = again.plan(&science).await.expect("a plan");
    assert_eq!(proposal.allowances, Allowances::default());
    let record = proposal.record;
    assert_eq!(record.plugin, "data-science");
    assert_eq!(record.plan.tags["workload"], "data-science");
    assert!(record.log.contains("data-science plan for lab"), "{}", record.log);
    // Hooks it does not implement are not called.
    again.validate(&science).await.unwrap();

    let client = client_tenant(&[("client", "acme")]);
    let refused = again.validate(&client).await.unwrap_err();
    assert!(matches!(&refused, PluginFailure::Refused { plugin, .. } if plugin == "per-client"), "{refused}");

    let unknown = typed("gpu", BTreeMap::from([("attack".to_string(), "none".to_string())]));
    assert_eq!(again.plan(&unknown).await.unwrap_err(), PluginFailure::UnknownType("gpu".into()));
}

#[tokio::test]
async fn a_plugin_breaking_a_limit_fails_off_the_runtime_and_the_next_call_is_served() {
    let out = scratch("hostile");
    let declarations = out.join("types.json");
    std::fs::write(
        &declarations,
        r#"{"types": [{"name": "hostile", "plugin": "hostile", "version": "0.1.0", "hooks": ["validate", "on-create"]}]}"#,
    )
    .unwrap();
    registry::package(&declarations, &wasm_dir(), &out.join("dist")).unwrap();
    let registry = PluginRegistry::load(host(), &out.join("dist/manifest.json")).unwrap();
    let failed = registry.plan(&tenant("loop")).await.unwrap_err();
    assert!(matches!(&failed, PluginFailure::Failed(m) if m.contains("fuel")), "{failed}");
    // The registry proposes; the lifecycle's check refuses.
    let iam = tenant("iam");
    let proposal = registry.plan(&iam).await.expect("proposed unvalidated");
    assert_eq!(proposal.record.plan.policy_statements[0].actions, ["iam:PassRole"]);
    let refusal = check(&proposal.record.plugin, &iam, &proposal.record.plan).unwrap_err();
    assert_eq!(refusal.plugin, "hostile", "{refusal}");
    assert!(registry.plan(&tenant("none")).await.is_ok());
}

#[tokio::test]
async fn a_chosen_plan_comes_back_through_the_registry_unchanged() {
    let out = scratch("chosen");
    let declarations = out.join("types.json");
    std::fs::write(
        &declarations,
        r#"{"types": [{"name": "hostile", "plugin": "hostile", "version": "0.1.0", "hooks": ["on-create"]}]}"#,
    )
    .unwrap();
    registry::package(&declarations, &wasm_dir(), &out.join("dist")).unwrap();
    let registry = PluginRegistry::load(host(), &out.join("dist/manifest.json")).unwrap();
    let tenant = chosen(
        &serde_json::json!({
            "tags": [["team", "ml"]],
            "policyStatements": [{"sid": "Pass", "actions": ["iam:PassRole"], "resources": ["*"]}],
            "resources": [{"bucket": "data"}],
        }),
        16,
    );
    let proposal = registry.plan(&tenant).await.unwrap();
    let plan = &proposal.record.plan;
    assert_eq!(plan.tags["team"], "ml");
    assert_eq!(plan.policy_statements[0].actions, ["iam:PassRole"]);
    assert!(!plan.policy_statements[0].tenant_tag_condition);
    assert_eq!(plan.resources, [CatalogueResource::Bucket("data".into())]);
    assert!(check("hostile", &tenant, plan).is_err(), "iam:PassRole is refused");
}

#[tokio::test]
async fn loading_writes_nothing() {
    let out = packaged("writes-nothing");
    let before = listing(&out);
    let registry = PluginRegistry::load(host(), &out.join("manifest.json")).unwrap();
    assert!(!science_plan(&registry).await.tags.is_empty());
    // Without artifacts too: compiling happens in memory.
    edit_manifest(&out, |m| {
        for entry in m["types"].as_array_mut().unwrap() {
            entry.as_object_mut().unwrap().remove("precompiled");
        }
    });
    let before_compiling = listing(&out);
    PluginRegistry::load(host(), &out.join("manifest.json")).unwrap();
    assert_eq!(listing(&out), before_compiling);
    assert_eq!(before.len(), before_compiling.len());
}

#[test]
fn a_tampered_artifact_is_refused_before_it_is_deserialized() {
    let out = packaged("tampered-artifact");
    let artifact = out.join(cwasm("data-science"));
    let mut compiled = std::fs::read(&artifact).unwrap();
    let middle = compiled.len() / 2;
    compiled[middle] ^= 0xff;
    std::fs::write(&artifact, &compiled).unwrap();
    let error = PluginRegistry::load(host(), &out.join("manifest.json")).err().expect("refused");
    assert!(
        matches!(&error, RegistryError::Plugin(PluginError::ArtifactDigestMismatch { plugin, actual, .. })
            if plugin == "data-science" && *actual == sha256_hex(&compiled)),
        "{error}"
    );
    // Nor does a manifest that names another digest for an intact artifact load.
    let out = packaged("tampered-manifest");
    edit_manifest(&out, |m| m["types"][1]["precompiled"][0]["sha256"] = "0".repeat(64).into());
    let error = PluginRegistry::load(host(), &out.join("manifest.json")).err().expect("refused");
    assert!(matches!(&error, RegistryError::Plugin(PluginError::ArtifactDigestMismatch { .. })), "{error}");
}

#[tokio::test]
async fn an_artifact_for_another_target_is_never_read_and_the_wasm_is_compiled() {
    let out = packaged("foreign");
    // Garbage where the artifacts were, now said to be for another machine: reading either
    // would fail the load (its digest).
    for plugin in ["data-science", "per-client"] {
        std::fs::write(out.join(cwasm(plugin)), b"not an artifact").unwrap();
    }
    edit_manifest(&out, |m| {
        for entry in m["types"].as_array_mut().unwrap() {
            entry["precompiled"][0]["target"] = "riscv64gc-unknown-linux-gnu".into();
        }
    });
    let registry = PluginRegistry::load(host(), &out.join("manifest.json")).expect("compiled from .wasm");
    assert_eq!(science_plan(&registry).await.tags["workload"], "data-science");
}

#[tokio::test]
async fn an_artifact_for_this_target_that_another_engine_made_is_refused_by_wasmtime_and_the_wasm_is_compiled() {
    let out = packaged("other-engine");
    // The package's own artifact for this target, digest and all, but made by an engine
    // configured otherwise (no fuel, no epochs): as one of another wasmtime would be.
    let wasm = std::fs::read(wasm_dir().join("data_science.wasm")).unwrap();
    let other = wasmtime::Engine::default().precompile_component(&wasm).unwrap();
    std::fs::write(out.join(cwasm("data-science")), &other).unwrap();
    edit_manifest(&out, |m| m["types"][0]["precompiled"][0]["sha256"] = sha256_hex(&other).into());
    // wasmtime refuses it for this engine: it would run the plugin without its limits.
    let refused = host().load_precompiled("data-science", "1.0.0", &sha256_hex(&wasm), &other, &sha256_hex(&other));
    assert!(matches!(refused, Err(PluginError::ArtifactRejected { .. })), "{:?}", refused.err());
    let registry = PluginRegistry::load(host(), &out.join("manifest.json")).expect("compiled from .wasm");
    assert_eq!(science_plan(&registry).await.tags["workload"], "data-science");
}

#[tokio::test]
async fn a_package_without_artifacts_still_loads() {
    let out = packaged("no-artifacts");
    edit_manifest(&out, |m| {
        for entry in m["types"].as_array_mut().unwrap() {
            entry.as_object_mut().unwrap().remove("precompiled");
        }
    });
    for plugin in ["data-science", "per-client"] {
        std::fs::remove_file(out.join(cwasm(plugin))).unwrap();
    }
    let registry = PluginRegistry::load(host(), &out.join("manifest.json")).expect("loads");
    assert_eq!(science_plan(&registry).await.tags["workload"], "data-science");
}

#[test]
fn a_manifest_naming_a_file_outside_its_directory_is_refused() {
    let out = packaged("outside");
    edit_manifest(&out, |m| m["types"][0]["precompiled"][0]["file"] = "../elsewhere.cwasm".into());
    let error = PluginRegistry::load(host(), &out.join("manifest.json")).err().expect("refused");
    assert!(error.to_string().contains("not a file name in the package directory"), "{error}");
}

#[test]
fn a_manifest_whose_digest_does_not_match_its_binary_is_refused() {
    let out = packaged("tampered");
    let manifest = out.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let digest = sha256_hex(&std::fs::read(out.join("per-client-1.0.0.wasm")).unwrap());
    std::fs::write(&manifest, text.replace(&digest, &"0".repeat(64))).unwrap();
    let error = PluginRegistry::load(host(), &manifest).err().expect("refused");
    assert!(
        matches!(&error, RegistryError::Plugin(PluginError::DigestMismatch { plugin, .. }) if plugin == "per-client"),
        "{error}"
    );
}

#[test]
fn declarations_breaking_a_rule_are_refused_at_packaging() {
    let cases = [
        (r#"{"name": "default", "plugin": "x", "version": "1", "hooks": []}"#, "built-in"),
        (r#"{"name": "lab", "plugin": "x", "version": "1", "hooks": ["on-update"]}"#, "unknown hook"),
        (r#"{"name": "lab", "plugin": "x", "version": "1", "hooks": [], "capabilities": ["root"]}"#, "capability"),
        (
            r#"{"name": "lab", "plugin": "x", "version": "1", "hooks": [], "enabledCapabilities": ["public-ingress"]}"#,
            "does not declare",
        ),
    ];
    let out = scratch("declarations");
    for (declaration, expected) in cases {
        let path = out.join("types.json");
        std::fs::write(&path, format!(r#"{{"types": [{declaration}]}}"#)).unwrap();
        let error = registry::package(&path, &wasm_dir(), &out.join("dist")).unwrap_err().to_string();
        assert!(error.contains(expected), "{declaration}: {error}");
    }
}

#[tokio::test]
async fn opening_loads_nothing_and_each_type_loads_once_when_a_request_first_needs_it() {
    let out = packaged("lazy");
    let registry = PluginRegistry::open(Limits::default(), &out.join("manifest.json")).expect("opens");
    let types: Vec<String> = registry.types().into_iter().map(|t| t.name).collect();
    assert_eq!(types, ["data-science", "per-client"]);
    assert_eq!(registry.loads(), 0, "listing types needs no plugin");

    let science = typed("data-science", BTreeMap::from([("attack".to_string(), "none".to_string())]));
    // data-science implements no validate: nothing to load for it.
    registry.validate(&science).await.unwrap();
    assert_eq!(registry.loads(), 0);

    assert_eq!(science_plan(&registry).await.tags["workload"], "data-science");
    assert_eq!(registry.loads(), 1);
    science_plan(&registry).await;
    assert_eq!(registry.loads(), 1, "kept for the life of the process");

    let refused = registry.validate(&client_tenant(&[("client", "acme")])).await.unwrap_err();
    assert!(matches!(&refused, PluginFailure::Refused { plugin, .. } if plugin == "per-client"), "{refused}");
    assert_eq!(registry.loads(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_uses_load_the_plugin_once() {
    let out = packaged("concurrent");
    let registry = std::sync::Arc::new(PluginRegistry::open(Limits::default(), &out.join("manifest.json")).unwrap());
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let registry = registry.clone();
            tokio::spawn(async move { science_plan(&registry).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().tags["workload"], "data-science");
    }
    assert_eq!(registry.loads(), 1);
}

#[tokio::test]
async fn a_plugin_that_does_not_load_makes_its_type_unavailable_and_no_other() {
    let out = packaged("unloadable");
    let artifact = out.join(cwasm("data-science"));
    let mut compiled = std::fs::read(&artifact).unwrap();
    let middle = compiled.len() / 2;
    compiled[middle] ^= 0xff;
    std::fs::write(&artifact, &compiled).unwrap();
    // The digest is checked when the plugin is first needed, not at opening.
    let registry = PluginRegistry::open(Limits::default(), &out.join("manifest.json")).expect("opens");
    let science = typed("data-science", BTreeMap::from([("attack".to_string(), "none".to_string())]));
    for _ in 0..2 {
        let failed = registry.plan(&science).await.unwrap_err();
        assert!(
            matches!(&failed, PluginFailure::Failed(m)
                if m.contains("tenant type 'data-science' is unavailable") && m.contains("precompiled artifact's SHA-256")),
            "{failed}"
        );
    }
    assert_eq!(registry.loads(), 1, "a failed load is not retried on every request");
    let refused = registry.validate(&client_tenant(&[("client", "acme")])).await.unwrap_err();
    assert!(matches!(refused, PluginFailure::Refused { .. }), "{refused}");
}

#[test]
fn a_malformed_manifest_or_a_missing_file_still_refuses_to_open() {
    let open = |out: &Path| PluginRegistry::open(Limits::default(), &out.join("manifest.json"));
    let out = packaged("malformed");
    std::fs::write(out.join("manifest.json"), b"{\"types\": [").unwrap();
    assert!(matches!(open(&out), Err(RegistryError::Json { .. })));

    let out = packaged("missing-wasm");
    std::fs::remove_file(out.join("per-client-1.0.0.wasm")).unwrap();
    let error = open(&out).err().expect("refused");
    assert!(matches!(&error, RegistryError::Io { path, .. } if path.ends_with("per-client-1.0.0.wasm")), "{error}");

    let out = packaged("missing-artifact");
    std::fs::remove_file(out.join(cwasm("data-science"))).unwrap();
    let error = open(&out).err().expect("refused");
    assert!(matches!(&error, RegistryError::Io { path, .. } if path.ends_with(cwasm("data-science"))), "{error}");

    let out = packaged("oversized");
    let limits = Limits { max_binary_bytes: 1024, ..Limits::default() };
    let error = PluginRegistry::open(limits, &out.join("manifest.json")).err().expect("refused");
    assert!(matches!(&error, RegistryError::Plugin(PluginError::BinaryTooLarge { .. })), "{error}");
}

#[test]
fn a_deployment_engine_has_the_key_packaging_computes_for_its_target() {
    let native = host();
    let packaging = PluginHost::for_target(Limits::default(), native.target()).unwrap();
    assert_eq!(packaging.compatibility_key(), native.compatibility_key());
    assert_eq!(packaging.target(), native.target());
}

/// The other architecture of the two a deployment runs on.
#[cfg(target_os = "linux")]
fn foreign_target() -> &'static str {
    if cfg!(target_arch = "aarch64") { "x86_64-unknown-linux-gnu" } else { "aarch64-unknown-linux-gnu" }
}

#[cfg(all(target_os = "linux", feature = "cross-compile"))]
#[tokio::test]
async fn packaging_cross_compiles_for_each_target_and_a_host_uses_its_own() {
    let out = scratch("cross");
    let targets = [foreign_target().to_string(), host().target().to_string()];
    let manifest = registry::package_for(&targets, &repository().join("plugins/tenant-types.json"), &wasm_dir(), &out)
        .expect("packaged for both");
    let foreign_key = PluginHost::for_target(Limits::default(), foreign_target()).unwrap().compatibility_key();
    for entry in &manifest.types {
        let found: Vec<(&str, &str)> =
            entry.precompiled.iter().map(|a| (a.target.as_str(), a.compatibility_key.as_str())).collect();
        assert_eq!(found, [(foreign_target(), foreign_key.as_str()), (host().target(), &*host().compatibility_key())]);
        for artifact in &entry.precompiled {
            assert_eq!(sha256_hex(&std::fs::read(out.join(&artifact.file)).unwrap()), artifact.sha256);
        }
    }
    // The foreign artifacts are never read here: garbage in their place changes nothing.
    for entry in &manifest.types {
        std::fs::write(out.join(&entry.precompiled[0].file), b"not for this machine").unwrap();
    }
    let registry = PluginRegistry::load(host(), &out.join("manifest.json")).expect("loads its own artifacts");
    assert_eq!(science_plan(&registry).await.tags["workload"], "data-science");
}

#[cfg(all(target_os = "linux", not(feature = "cross-compile")))]
#[test]
fn without_cross_compile_another_target_is_refused_by_name() {
    let error = registry::package_for(
        &[foreign_target().to_string()],
        &repository().join("plugins/tenant-types.json"),
        &wasm_dir(),
        &scratch("no-cross"),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains(foreign_target()), "{error}");
}

#[tokio::test]
async fn a_host_without_a_compiler_runs_the_packaged_artifacts_and_compiles_nothing() {
    // As the functions load a package: from the artifacts made for their target.
    let out = packaged("precompiled-only");
    let registry = PluginRegistry::load(host().precompiled_only(), &out.join("manifest.json")).expect("loads");
    assert_eq!(science_plan(&registry).await.tags["workload"], "data-science");

    // Packaged for another target only: refused, naming the target to package for.
    let out = packaged("precompiled-only-foreign");
    edit_manifest(&out, |m| {
        for entry in m["types"].as_array_mut().unwrap() {
            entry["precompiled"][0]["target"] = "riscv64gc-unknown-linux-gnu".into();
        }
    });
    let error = PluginRegistry::load(host().precompiled_only(), &out.join("manifest.json")).err().expect("refused");
    let package_for = format!("tenancy plugin package --target {}", host().target());
    assert!(
        matches!(&error, RegistryError::Plugin(PluginError::NotPrecompiledForThisEngine { reason, .. })
            if reason.contains("riscv64gc-unknown-linux-gnu") && reason.contains(&package_for)),
        "{error}"
    );

    // An intact artifact for this target that another engine made: wasmtime refuses it,
    // and nothing compiles the .wasm instead.
    let out = packaged("precompiled-only-other-engine");
    let wasm = std::fs::read(wasm_dir().join("data_science.wasm")).unwrap();
    let other = wasmtime::Engine::default().precompile_component(&wasm).unwrap();
    std::fs::write(out.join(cwasm("data-science")), &other).unwrap();
    edit_manifest(&out, |m| m["types"][0]["precompiled"][0]["sha256"] = sha256_hex(&other).into());
    let error = PluginRegistry::load(host().precompiled_only(), &out.join("manifest.json")).err().expect("refused");
    assert!(
        matches!(&error, RegistryError::Plugin(PluginError::NotPrecompiledForThisEngine { reason, .. })
            if reason.contains("does not fit this engine")),
        "{error}"
    );
}

#[test]
fn an_artifact_that_loads_but_is_not_a_tenant_type_is_refused_not_compiled_around() {
    // A precompiled component this engine accepts, digest and all, that does not export the
    // tenant-type world: the package is wrong, and compiling its .wasm would not fix it.
    let out = packaged("not-a-tenant-type");
    let other_world = b"(component)".to_vec();
    let compiled = host().precompile("other", &other_world, &sha256_hex(&other_world)).unwrap();
    std::fs::write(out.join(cwasm("data-science")), &compiled).unwrap();
    edit_manifest(&out, |m| m["types"][0]["precompiled"][0]["sha256"] = sha256_hex(&compiled).into());
    let error = PluginRegistry::load(host(), &out.join("manifest.json")).err().expect("refused");
    assert!(
        matches!(&error, RegistryError::Plugin(PluginError::Incompatible { plugin, .. }) if plugin == "data-science"),
        "{error}"
    );
}
