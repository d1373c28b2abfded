//! The host against real components built from `plugins/` (by `scripts/build-plugins.sh`,
//! which `make test` runs first): the data-science plugin, and a hostile one whose
//! `attack` setting picks how it misbehaves.

use std::collections::BTreeMap;
use std::time::Duration;

use tenancy_domain::access::{ADMIN_GROUP, Caller, Via};
use tenancy_domain::infrastructure::Environment;
use tenancy_domain::names::Name;
use tenancy_domain::plan::{self, Allowances, CatalogueResource, GrantDecision, GrantRequest};
use tenancy_domain::tenant::{Requester, Tenant};

use crate::{Limits, LoadedPlugin, PluginError, PluginHost, sha256_hex};

fn artifact(name: &str) -> Vec<u8> {
    let path = format!("{}/../../plugins/target/wasm32-wasip2/release/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; build the plugins first: scripts/build-plugins.sh"))
}

fn load(host: &PluginHost, name: &str) -> LoadedPlugin {
    let wasm = artifact(name);
    host.load(name, "1.0.0", &wasm, &sha256_hex(&wasm)).expect("loads")
}

fn tenant(attack: &str) -> Tenant {
    let caller = Caller { id: "t".into(), email: None, groups: vec![ADMIN_GROUP.into()], via: Via::Api };
    let now = time::OffsetDateTime::UNIX_EPOCH;
    Tenant::new(
        Name::parse("n", "lab").unwrap(),
        Name::parse("n", "nonprod").unwrap(),
        Environment::Nonprod,
        "hostile".into(),
        BTreeMap::from([("attack".to_string(), attack.to_string())]),
        BTreeMap::new(),
        false,
        Requester::from_caller(&caller, now),
        now,
    )
}

/// One host with default limits and the two plugins loaded, shared by the tests that need
/// nothing special: compiling a component is the slow part, and a warm `InstancePre` is
/// exactly what production reuses across calls.
struct Shared {
    host: PluginHost,
    hostile: LoadedPlugin,
    data_science: LoadedPlugin,
}

fn shared() -> &'static Shared {
    static SHARED: std::sync::OnceLock<Shared> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let host = PluginHost::new(Limits::default()).expect("host");
        let hostile = load(&host, "hostile");
        let data_science = load(&host, "data_science");
        Shared { host, hostile, data_science }
    })
}

/// Every hostile call must leave the host able to serve the next one.
fn still_serves(host: &PluginHost, plugin: &LoadedPlugin) {
    let report = host.on_create(plugin, &tenant("none")).expect("the next call still works");
    assert_eq!(report.value, tenancy_domain::plan::Plan::default());
}

#[test]
fn the_data_science_plugin_plans_a_valid_data_bucket_and_scoped_permissions() {
    let Shared { host, data_science: plugin, .. } = shared();
    let report = host.on_create(plugin, &tenant("")).expect("plan");
    assert_eq!(report.value.resources, [CatalogueResource::Bucket("data".into())]);
    assert_eq!(report.value.tags.get("workload").map(String::as_str), Some("data-science"));
    assert!(report.log.contains("data-science plan for lab"), "{}", report.log);
    assert!(report.fuel_used > 0 && report.peak_memory_bytes > 0);
    plan::validate("data_science", &Name::parse("n", "lab").unwrap(), &report.value, Allowances::default()).unwrap();
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let Shared { host, hostile: plugin, .. } = shared();
    let error = host.on_create(plugin, &tenant("loop")).unwrap_err();
    assert!(
        matches!(error, PluginError::OutOfFuel { ref plugin, hook: "on-create", .. } if plugin == "hostile"),
        "{error}"
    );
    still_serves(host, plugin);
}

#[test]
fn an_endless_loop_with_fuel_to_spare_hits_the_deadline() {
    let host = PluginHost::new(Limits { fuel: u64::MAX / 2, deadline: Duration::from_millis(50), ..Limits::default() })
        .unwrap();
    let plugin = load(&host, "hostile");
    let error = host.on_create(&plugin, &tenant("loop")).unwrap_err();
    assert!(matches!(error, PluginError::Deadline { millis: 50, .. }), "{error}");
    assert!(error.to_string().contains("plugin 'hostile', hook on-create"), "{error}");
    still_serves(&host, &plugin);
}

#[test]
fn unbounded_memory_growth_stops_at_the_memory_limit() {
    let Shared { host, hostile: plugin, .. } = shared();
    let error = host.on_create(plugin, &tenant("memory")).unwrap_err();
    assert!(matches!(error, PluginError::Memory { limit, .. } if limit == Limits::default().memory_bytes), "{error}");
    still_serves(host, plugin);
}

#[test]
fn the_pooling_allocator_keeps_every_limit() {
    let host = PluginHost::with_allocation(Limits::default(), crate::Allocation::Pooling { instances: 4 }).unwrap();
    let plugin = load(&host, "hostile");
    let error = host.on_create(&plugin, &tenant("memory")).unwrap_err();
    assert!(matches!(error, PluginError::Memory { .. }), "{error}");
    let error = host.on_create(&plugin, &tenant("loop")).unwrap_err();
    assert!(matches!(error, PluginError::OutOfFuel { .. }), "{error}");
    still_serves(&host, &plugin);
}

#[test]
fn deep_recursion_overflows_the_stack_limit() {
    let Shared { host, hostile: plugin, .. } = shared();
    let error = host.on_create(plugin, &tenant("recursion")).unwrap_err();
    assert!(matches!(error, PluginError::Stack { .. }), "{error}");
    still_serves(host, plugin);
}

#[test]
fn a_huge_output_is_refused() {
    let Shared { host, hostile: plugin, .. } = shared();
    let error = host.on_create(plugin, &tenant("huge-output")).unwrap_err();
    assert!(matches!(error, PluginError::OutputTooLarge { size, .. } if size > 1 << 20), "{error}");
    still_serves(host, plugin);
}

#[test]
fn a_huge_input_is_refused_before_the_call() {
    let Shared { host, hostile: plugin, .. } = shared();
    let mut big = tenant("none");
    big.settings.insert("blob".into(), "x".repeat(100 << 10));
    let error = host.on_create(plugin, &big).unwrap_err();
    assert!(matches!(error, PluginError::InputTooLarge { .. }), "{error}");
}

#[test]
fn a_panic_and_a_trap_fail_cleanly() {
    let Shared { host, hostile: plugin, .. } = shared();
    for attack in ["panic", "trap"] {
        let error = host.on_create(plugin, &tenant(attack)).unwrap_err();
        assert!(matches!(error, PluginError::Trap { .. }), "{attack}: {error}");
        still_serves(host, plugin);
    }
}

#[test]
fn the_log_is_capped() {
    let Shared { host, hostile: plugin, .. } = shared();
    let report = host.on_create(plugin, &tenant("log-flood")).unwrap();
    assert!(report.log.len() <= Limits::default().max_log_bytes + 1, "{}", report.log.len());
}

#[test]
fn the_sandbox_shows_no_file_no_environment_no_network_and_a_fixed_clock() {
    let Shared { host, hostile: plugin, .. } = shared();
    let seen = host.on_create(plugin, &tenant("probe")).unwrap().value.default_settings;
    assert!(seen["file"].starts_with("denied"), "{seen:?}");
    assert_eq!(seen["env"], "", "{seen:?}");
    assert!(seen["net"].starts_with("denied"), "{seen:?}");
    assert_eq!(seen["clock"], "1767225600", "{seen:?}");
}

#[test]
fn plans_that_break_the_rules_are_refused_naming_the_plugin_and_the_rule() {
    let Shared { host, hostile: plugin, .. } = shared();
    let lab = Name::parse("n", "lab").unwrap();
    for (attack, rule) in [
        ("iam", "no-identity-actions"),
        ("other-tenant", "tenant-resources-only"),
        ("public", "no-public-ingress"),
        ("tenancy-tag", "tag-namespace"),
    ] {
        let plan = host.on_create(plugin, &tenant(attack)).unwrap().value;
        let refusal = plan::validate(&plugin.name, &lab, &plan, Allowances::default()).unwrap_err();
        assert_eq!(refusal.rule, rule, "{attack}");
        assert!(refusal.to_string().starts_with("plugin 'hostile' broke the rule"), "{refusal}");
    }
}

#[test]
fn validate_and_grant_hooks_answer_through_the_same_limits() {
    let Shared { host, hostile: plugin, .. } = shared();
    assert_eq!(host.validate(plugin, &tenant("refuse")).unwrap().value, Err("this tenant is refused".into()));
    assert_eq!(host.validate(plugin, &tenant("none")).unwrap().value, Ok(()));
    let grant = GrantRequest { user_id: "eve".into(), user_email: None, level: "admin".into() };
    assert_eq!(
        host.on_grant_access(plugin, &tenant("none"), &grant).unwrap().value,
        GrantDecision::Deny("eve may not".into())
    );
}

#[test]
fn bad_binaries_are_refused_at_load() {
    let host = &shared().host;
    let wasm = artifact("hostile");
    let wrong = host.load("hostile", "1.0.0", &wasm, &"0".repeat(64)).err().unwrap();
    assert!(matches!(wrong, PluginError::DigestMismatch { .. }), "{wrong}");

    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let not_component = host.load("core", "1.0.0", &core_module, &sha256_hex(&core_module)).err().unwrap();
    assert!(matches!(not_component, PluginError::Incompatible { .. }), "{not_component}");

    let other_world = b"(component)".to_vec();
    let wrong_world = host.load("empty", "1.0.0", &other_world, &sha256_hex(&other_world)).err().unwrap();
    assert!(matches!(wrong_world, PluginError::Incompatible { .. }), "{wrong_world}");

    let small = PluginHost::new(Limits { max_binary_bytes: 1024, ..Limits::default() }).unwrap();
    let too_big = small.load("hostile", "1.0.0", &wasm, &sha256_hex(&wasm)).err().unwrap();
    assert!(matches!(too_big, PluginError::BinaryTooLarge { .. }), "{too_big}");
}

#[test]
fn a_precompiled_plugin_loads_and_runs_like_the_original() {
    let host = &shared().host;
    let wasm = artifact("data_science");
    let digest = sha256_hex(&wasm);
    let compiled = host.precompile("data_science", &wasm, &digest).unwrap();
    let plugin = host.load_precompiled("data_science", "1.0.0", &digest, &compiled).unwrap();
    assert!(host.on_create(&plugin, &tenant("")).unwrap().value.resources.len() == 1);

    let error = host.load_precompiled("data_science", "1.0.0", &digest, &wasm).err().unwrap();
    assert!(matches!(error, PluginError::Incompatible { .. }), "raw wasm is not a precompiled artifact: {error}");
}

fn client_tenant(settings: &[(&str, &str)]) -> Tenant {
    let mut tenant = tenant("none");
    tenant.tenant_type = "per-client".into();
    tenant.settings = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tenant
}

#[test]
fn the_per_client_plugin_requires_a_client_its_domain_and_an_expiry() {
    let host = &shared().host;
    let plugin = load(host, "per_client");
    let refused = host.validate(&plugin, &client_tenant(&[])).unwrap().value.unwrap_err();
    assert!(refused.contains("'client'"), "{refused}");
    let no_expiry = client_tenant(&[("client", "acme"), ("client-domain", "acme.com")]);
    assert!(host.validate(&plugin, &no_expiry).unwrap().value.unwrap_err().contains("'expires'"));
    let bad_date = client_tenant(&[("client", "acme"), ("client-domain", "acme.com"), ("expires", "soon")]);
    assert!(host.validate(&plugin, &bad_date).unwrap().value.is_err());
    let complete = client_tenant(&[("client", "acme"), ("client-domain", "acme.com"), ("expires", "2027-06-30")]);
    assert_eq!(host.validate(&plugin, &complete).unwrap().value, Ok(()));
}

#[test]
fn the_per_client_plugin_tags_the_client_and_keeps_writes_to_its_domain() {
    let host = &shared().host;
    let plugin = load(host, "per_client");
    let tenant = client_tenant(&[
        ("client", "acme"),
        ("client-domain", "acme.com"),
        ("expires", "2027-06-30"),
        ("cost-centre", "cc-42"),
    ]);
    let plan = host.on_create(&plugin, &tenant).unwrap().value;
    let expected: BTreeMap<String, String> = [("client", "acme"), ("expires", "2027-06-30"), ("cost-centre", "cc-42")]
        .map(|(k, v)| (k.into(), v.into()))
        .into();
    assert_eq!(plan.tags, expected);
    plan::validate("per_client", &tenant.name, &plan, Allowances::default()).unwrap();
    let billed_to_client =
        client_tenant(&[("client", "acme"), ("client-domain", "acme.com"), ("expires", "2027-06-30")]);
    let plan_without = host.on_create(&plugin, &billed_to_client).unwrap().value;
    assert_eq!(plan_without.tags["cost-centre"], "acme");

    let grant = |email: &str, level: &str| GrantRequest {
        user_id: "u".into(),
        user_email: Some(email.into()),
        level: level.into(),
    };
    let decide = |g: GrantRequest| host.on_grant_access(&plugin, &tenant, &g).unwrap().value;
    assert_eq!(decide(grant("joe@acme.com", "admin")), GrantDecision::Allow);
    assert_eq!(decide(grant("eve@evil.com", "read-only")), GrantDecision::Allow);
    assert!(
        matches!(decide(grant("eve@evil.com", "admin")), GrantDecision::Deny(reason) if reason.contains("acme.com"))
    );
    assert!(matches!(decide(grant("eve@acme.com.evil.com", "admin")), GrantDecision::Deny(_)));
}

mod registry {
    use std::path::{Path, PathBuf};

    use tenancy_domain::ports::{PluginFailure, Plugins};

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

    #[tokio::test]
    async fn the_shipped_types_load_from_their_manifest_and_answer_through_the_port() {
        let out = packaged("shipped");
        let cache = out.join("cache");
        let registry = PluginRegistry::load(host(), &out.join("manifest.json"), Some(&cache)).expect("loads");
        let types: Vec<String> = registry.types().into_iter().map(|t| t.name).collect();
        assert_eq!(types, ["data-science", "per-client"]);
        let cached = std::fs::read_dir(&cache).unwrap().count();
        assert_eq!(cached, 2, "one compiled artifact per plugin");
        // A second start-up deserializes what the first compiled.
        let again = PluginRegistry::load(host(), &out.join("manifest.json"), Some(&cache)).expect("loads cached");

        let mut science = tenant("none");
        science.tenant_type = "data-science".into();
        let record = again.plan(&science).await.expect("a valid plan");
        assert_eq!(record.plugin, "data-science");
        assert_eq!(record.plan.tags["workload"], "data-science");
        assert!(record.log.contains("data-science plan for lab"), "{}", record.log);
        // Hooks it does not implement are not called.
        again.validate(&science).await.unwrap();

        let mut client = client_tenant(&[("client", "acme")]);
        client.tenant_type = "per-client".into();
        let refused = again.validate(&client).await.unwrap_err();
        assert!(matches!(&refused, PluginFailure::Refused { plugin, .. } if plugin == "per-client"), "{refused}");

        let mut unknown = tenant("none");
        unknown.tenant_type = "gpu".into();
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
        let registry = PluginRegistry::load(host(), &out.join("dist/manifest.json"), None).unwrap();
        let failed = registry.plan(&tenant("loop")).await.unwrap_err();
        assert!(matches!(&failed, PluginFailure::Failed(m) if m.contains("fuel")), "{failed}");
        let broke = registry.plan(&tenant("iam")).await.unwrap_err();
        assert!(matches!(&broke, PluginFailure::Plan(r) if r.rule == "no-identity-actions"), "{broke}");
        assert!(registry.plan(&tenant("none")).await.is_ok());
    }

    #[test]
    fn a_manifest_whose_digest_does_not_match_its_binary_is_refused() {
        let out = packaged("tampered");
        let manifest = out.join("manifest.json");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let digest = sha256_hex(&std::fs::read(out.join("per-client-1.0.0.wasm")).unwrap());
        std::fs::write(&manifest, text.replace(&digest, &"0".repeat(64))).unwrap();
        for cache in [None, Some(out.join("cache"))] {
            let error = PluginRegistry::load(host(), &manifest, cache.as_deref()).err().expect("refused");
            assert!(
                matches!(&error, RegistryError::Plugin(PluginError::DigestMismatch { plugin, .. }) if plugin == "per-client"),
                "{error}"
            );
        }
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
}
