//! The host against real components built from `plugins/` (by `scripts/build-plugins.sh`,
//! which `make test` runs first): the data-science plugin, and a hostile one whose
//! `attack` setting picks how it misbehaves (or, with `attack` = `plan`, returns the plan
//! the test chose); and components written in WAT, instantiated under the sandbox's limits.

use std::collections::BTreeMap;
use std::time::Duration;

use tenancy_domain::access::{ADMIN_GROUP, AccessLevel, Caller, GrantDecision, GrantRequest, Via};
use tenancy_domain::infrastructure::Environment;
use tenancy_domain::names::Name;
use tenancy_domain::plan::{
    self, Allowances, CatalogueResource, IngressRule, Plan, PlanContext, PolicyStatement, Refusal,
};
use tenancy_domain::tenant::{Requester, Tenant};

use crate::{Limits, LoadedPlugin, PluginError, PluginHost, WitVersion, sha256_hex};

fn artifact(name: &str) -> Vec<u8> {
    let path = format!("{}/../../plugins/target/wasm32-wasip2/release/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; build the plugins first: scripts/build-plugins.sh"))
}

fn load(host: &PluginHost, name: &str) -> LoadedPlugin {
    let wasm = artifact(name);
    host.load(name, "1.0.0", &wasm, &sha256_hex(&wasm)).expect("loads")
}

fn tenant(attack: &str) -> Tenant {
    typed("hostile", BTreeMap::from([("attack".to_string(), attack.to_string())]))
}

/// A tenant `lab` of `tenant_type` with `settings`.
fn typed(tenant_type: &str, settings: BTreeMap<String, String>) -> Tenant {
    let caller = Caller { id: "t".into(), email: None, groups: vec![ADMIN_GROUP.into()], via: Via::Api };
    let now = time::OffsetDateTime::UNIX_EPOCH;
    Tenant::new(
        Name::parse("n", "lab").unwrap(),
        Name::parse("n", "nonprod").unwrap(),
        Environment::Nonprod,
        tenant_type.into(),
        settings,
        BTreeMap::new(),
        false,
        Requester::from_caller(&caller, now),
        now,
    )
}

/// The lifecycle's check of a plan, in a VPC of 10.0.0.0/16 with no capability enabled.
fn check(plugin: &str, tenant: &Tenant, plan: &Plan) -> Result<(), Refusal> {
    let vpc_cidrs = ["10.0.0.0/16".to_string()];
    let context = PlanContext {
        tenant: tenant.name(),
        allowances: Allowances::default(),
        vpc_cidrs: &vpc_cidrs,
        settings: tenant.settings(),
    };
    plan::validate(plugin, plan, &context)
}

/// A hostile tenant whose `on-create` returns `plan`, sent as JSON cut into settings
/// `plan-0`, `plan-1`, ... of at most `chunk` bytes.
fn chosen(plan: &serde_json::Value, chunk: usize) -> Tenant {
    let json = plan.to_string();
    let mut settings = BTreeMap::from([("attack".to_string(), "plan".to_string())]);
    let (mut rest, mut part) = (json.as_str(), 0);
    while !rest.is_empty() {
        let mut cut = rest.len().min(chunk);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        settings.insert(format!("plan-{part}"), rest[..cut].to_string());
        (rest, part) = (&rest[cut..], part + 1);
    }
    typed("hostile", settings)
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
    let big = typed(
        "hostile",
        BTreeMap::from([("attack".to_string(), "none".to_string()), ("blob".to_string(), "x".repeat(100 << 10))]),
    );
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

/// The host returns plans unvalidated; the lifecycle's check refuses those that break the
/// rules, naming the plugin.
#[test]
fn plans_that_break_the_rules_come_back_as_sent_and_the_check_refuses_them() {
    let Shared { host, hostile: plugin, .. } = shared();
    for attack in ["iam", "other-tenant", "public", "tenancy-tag"] {
        let tenant = tenant(attack);
        let plan = host.on_create(plugin, &tenant).unwrap().value;
        assert_ne!(plan, Plan::default(), "{attack}");
        let refusal = check(&plugin.name, &tenant, &plan).unwrap_err();
        assert_eq!(refusal.plugin, "hostile", "{attack}: {refusal}");
    }
}

#[test]
fn a_plan_chosen_by_the_test_comes_back_exactly_as_the_plugin_sent_it() {
    let Shared { host, hostile: plugin, .. } = shared();
    let chosen_plan = serde_json::json!({
        "tags": [["team", "ml"], ["workload", "ünïcode ✓"]],
        "policyStatements": [
            {"sid": "Escalate", "actions": ["iam:PassRole"], "resources": ["*"], "tenantTagCondition": true},
            {"sid": "Read", "actions": ["s3:GetObject", "s3:ListBucket"],
             "resources": ["arn:aws:s3:::tenancy-lab--data", "arn:aws:s3:::tenancy-lab--data/*"]},
        ],
        "ingressRules": [
            {"protocol": "tcp", "fromPort": 8888, "toPort": 8889, "cidr": "{vpc}", "description": "jupyter"},
            {"protocol": "udp", "fromPort": 0, "toPort": 65535, "cidr": "0.0.0.0/0", "description": ""},
        ],
        "defaultSettings": [["notebook-size", "ml.t3.large"]],
        "resources": [{"bucket": "data"}, {"bucket": "scratch"}],
    });
    let expected = Plan {
        tags: [("team", "ml"), ("workload", "ünïcode ✓")].map(|(k, v)| (k.into(), v.into())).into(),
        policy_statements: vec![
            PolicyStatement {
                sid: "Escalate".into(),
                actions: vec!["iam:PassRole".into()],
                resources: vec!["*".into()],
                tenant_tag_condition: true,
            },
            PolicyStatement {
                sid: "Read".into(),
                actions: vec!["s3:GetObject".into(), "s3:ListBucket".into()],
                resources: vec!["arn:aws:s3:::tenancy-lab--data".into(), "arn:aws:s3:::tenancy-lab--data/*".into()],
                tenant_tag_condition: false,
            },
        ],
        ingress_rules: vec![
            IngressRule {
                protocol: "tcp".into(),
                from_port: 8888,
                to_port: 8889,
                cidr: "{vpc}".into(),
                description: "jupyter".into(),
            },
            IngressRule {
                protocol: "udp".into(),
                from_port: 0,
                to_port: 65535,
                cidr: "0.0.0.0/0".into(),
                description: String::new(),
            },
        ],
        default_settings: [("notebook-size".to_string(), "ml.t3.large".to_string())].into(),
        resources: vec![CatalogueResource::Bucket("data".into()), CatalogueResource::Bucket("scratch".into())],
    };
    // Cut small, so that the parts run past `plan-9` and must be read in numeric order.
    let tenant = chosen(&chosen_plan, 40);
    assert!(tenant.settings().contains_key("plan-11"), "{:?}", tenant.settings().keys());
    assert_eq!(host.on_create(plugin, &tenant).unwrap().value, expected);

    let nothing = chosen(&serde_json::json!({}), 1024);
    assert_eq!(host.on_create(plugin, &nothing).unwrap().value, Plan::default());
    let error = host.on_create(plugin, &chosen(&serde_json::json!({"tags": "oops"}), 1024)).unwrap_err();
    assert!(matches!(error, PluginError::Refused { ref message, .. } if message.contains("chosen plan")), "{error}");
}

#[test]
fn validate_and_grant_hooks_answer_through_the_same_limits() {
    let Shared { host, hostile: plugin, .. } = shared();
    assert_eq!(host.validate(plugin, &tenant("refuse")).unwrap().value, Err("this tenant is refused".into()));
    assert_eq!(host.validate(plugin, &tenant("none")).unwrap().value, Ok(()));
    let grant = GrantRequest { user_id: "eve".into(), user_email: None, level: AccessLevel::Admin };
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
fn the_shipped_plugins_are_called_through_the_bindings_of_the_version_they_import() {
    let Shared { host, data_science, .. } = shared();
    assert_eq!(data_science.interface_version(), crate::wit::since_v1_0::VERSION);
    assert_eq!(data_science.interface_version(), WitVersion::new(1, 0, 0));
    assert_eq!(crate::supported_versions().collect::<Vec<_>>(), [WitVersion::new(1, 0, 0)]);

    let per_client = load(host, "per_client");
    assert_eq!(per_client.interface_version(), WitVersion::new(1, 0, 0));
    let refused = host.validate(&per_client, &client_tenant(&[])).unwrap().value;
    assert!(refused.is_err(), "the call went through the v1.0 bindings and back: {refused:?}");
}

#[test]
fn the_version_constant_is_the_one_its_wit_declares() {
    let path = format!("{}/../../plugins/wit/v1/plugin.wit", env!("CARGO_MANIFEST_DIR"));
    let wit = std::fs::read_to_string(&path).unwrap();
    let package = format!("package {}@{};", crate::wit::PACKAGE, crate::wit::since_v1_0::VERSION);
    assert!(wit.lines().any(|line| line == package), "{path} does not declare {package}");
}

#[test]
fn a_plugin_built_against_a_version_the_host_does_not_serve_is_refused_naming_both() {
    let host = &shared().host;
    let future = br#"(component (import "tenancy:plugin/types@2.0.0" (instance)))"#.to_vec();
    let error = host.load("future", "1.0.0", &future, &sha256_hex(&future)).err().unwrap();
    assert!(matches!(error, PluginError::Incompatible { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "plugin 'future': not a tenancy:plugin@1.0.0 tenant-type component: built against tenancy:plugin@2.0.0"
    );
}

#[test]
fn a_precompiled_plugin_loads_and_runs_like_the_original() {
    let host = &shared().host;
    let wasm = artifact("data_science");
    let digest = sha256_hex(&wasm);
    let compiled = host.precompile("data_science", &wasm, &digest).unwrap();
    let plugin = host.load_precompiled("data_science", "1.0.0", &digest, &compiled, &sha256_hex(&compiled)).unwrap();
    assert!(host.on_create(&plugin, &tenant("")).unwrap().value.resources.len() == 1);

    let error = host.load_precompiled("data_science", "1.0.0", &digest, &wasm, &digest).err().unwrap();
    assert!(matches!(error, PluginError::Incompatible { .. }), "raw wasm is not a precompiled artifact: {error}");

    let mut tampered = compiled.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    let error =
        host.load_precompiled("data_science", "1.0.0", &digest, &tampered, &sha256_hex(&compiled)).err().unwrap();
    assert!(matches!(error, PluginError::ArtifactDigestMismatch { .. }), "{error}");
}

#[test]
fn the_compatibility_key_is_stable_and_names_the_engine_configuration() {
    let host = &shared().host;
    let key = host.compatibility_key();
    assert_eq!(key.len(), 32, "{key}");
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    assert_eq!(PluginHost::new(Limits::default()).unwrap().compatibility_key(), key, "same engine, same key");
}

/// A component of `instances` core instances of one module (`module` is its WAT body).
fn component(module: &str, instances: usize) -> Vec<u8> {
    let instances: String = (0..instances).map(|i| format!("(core instance $i{i} (instantiate $m))\n")).collect();
    format!("(component (core module $m {module})\n{instances})").into_bytes()
}

const MIB: usize = 1 << 20;
/// 20 MiB in wasm pages: under the 32 MiB limit on one memory.
const PAGES_20_MIB: usize = 20 * MIB / 65536;

#[test]
fn several_memories_each_under_the_limit_are_refused_past_the_total() {
    let host = &shared().host;
    let limits = Limits::default();
    assert!(20 * MIB < limits.memory_bytes && 2 * 20 * MIB <= limits.total_memory_bytes);
    assert!(3 * 20 * MIB > limits.total_memory_bytes);
    let memory = format!("(memory {PAGES_20_MIB})");
    let peak = host.instantiate_in_sandbox(&component(&memory, 2)).expect("two memories fit the total");
    assert_eq!(peak, 40 * MIB, "the peak counts every memory");
    let error = host.instantiate_in_sandbox(&component(&memory, 3)).unwrap_err();
    assert!(
        matches!(error, PluginError::Resource { resource, limit, .. }
            if resource.contains("linear memory") && limit == limits.total_memory_bytes),
        "{error}"
    );
    // Growth counts as creation does: a memory grown past what the others leave is refused.
    let grower = format!(
        "(component
           (core module $big (memory {PAGES_20_MIB}))
           (core module $grow (memory 1)
             (func $start
               (if (i32.eq (memory.grow (i32.const {PAGES_20_MIB})) (i32.const -1)) (then unreachable)))
             (start $start))
           (core instance (instantiate $big))
           (core instance (instantiate $big))
           (core instance (instantiate $grow)))"
    );
    // The grow is refused (memory.grow answers -1), the guest gives up as an allocator
    // would, and the failure names the total.
    let error = host.instantiate_in_sandbox(grower.as_bytes()).unwrap_err();
    assert!(matches!(error, PluginError::Resource { resource, .. } if resource.contains("linear memory")), "{error}");
}

#[test]
fn more_memories_tables_or_instances_than_allowed_are_refused() {
    let host = &shared().host;
    let limits = Limits::default();
    let cases = [
        ("(memory 1)", limits.max_memories + 1, "memories", limits.max_memories),
        ("(table 1 funcref) (table 1 funcref)", limits.max_tables / 2 + 1, "tables", limits.max_tables),
        ("", limits.max_instances + 1, "core instances", limits.max_instances),
        ("(table 60000 funcref)", 2, "table elements", limits.max_table_elements),
    ];
    for (module, instances, what, cap) in cases {
        assert!(instances <= limits.max_instances || what == "core instances");
        let error = host.instantiate_in_sandbox(&component(module, instances)).unwrap_err();
        assert!(
            matches!(error, PluginError::Resource { resource, limit, .. } if resource.starts_with(what) && limit == cap),
            "{what}: {error}"
        );
        // At the cap, the same component is fine.
        if what != "table elements" {
            host.instantiate_in_sandbox(&component(module, instances - 1)).expect(what);
        }
    }
}

/// A `wasm32-wasip2` component built by wit-component has three core instances (the
/// program, the WASI adapter and a shim), one memory and two tables: the defaults leave
/// room, and one instance fewer than that stops even the empty plugin.
#[test]
fn the_shipped_plugins_fit_the_default_limits() {
    let client = client_tenant(&[("client", "acme"), ("client-domain", "acme.com"), ("expires", "2027-06-30")]);
    let host = &shared().host;
    let snug =
        PluginHost::new(Limits { max_instances: 3, max_memories: 1, max_tables: 2, ..Limits::default() }).unwrap();
    for name in ["data_science", "per_client", "empty", "hostile"] {
        let report = host.on_create(&load(host, name), &client);
        assert!(report.is_ok(), "{name}: {report:?}");
        assert!(report.unwrap().peak_memory_bytes <= Limits::default().total_memory_bytes);
        assert!(snug.on_create(&load(&snug, name), &client).is_ok(), "{name} within 3 instances, 1 memory, 2 tables");
    }
    let tight = PluginHost::new(Limits { max_instances: 2, ..Limits::default() }).unwrap();
    let error = tight.on_create(&load(&tight, "empty"), &tenant("none")).unwrap_err();
    assert!(matches!(error, PluginError::Resource { resource: "core instances", limit: 2, .. }), "{error}");
}

fn client_tenant(settings: &[(&str, &str)]) -> Tenant {
    typed("per-client", settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
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
    let billed_to_client =
        client_tenant(&[("client", "acme"), ("client-domain", "acme.com"), ("expires", "2027-06-30")]);
    let plan_without = host.on_create(&plugin, &billed_to_client).unwrap().value;
    assert_eq!(plan_without.tags["cost-centre"], "acme");

    let grant = |email: &str, level: &str| GrantRequest {
        user_id: "u".into(),
        user_email: Some(email.into()),
        level: if level == "admin" { AccessLevel::Admin } else { AccessLevel::ReadOnly },
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
            let artifact = entry.precompiled.as_ref().expect("packaging precompiles every plugin");
            assert_eq!(artifact.file, format!("{}-{}.cwasm", entry.declaration.plugin, entry.declaration.version));
            assert_eq!(artifact.compatibility_key, key);
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
        let artifact = out.join("data-science-1.0.0.cwasm");
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
        edit_manifest(&out, |m| m["types"][1]["precompiled"]["sha256"] = "0".repeat(64).into());
        let error = PluginRegistry::load(host(), &out.join("manifest.json")).err().expect("refused");
        assert!(matches!(&error, RegistryError::Plugin(PluginError::ArtifactDigestMismatch { .. })), "{error}");
    }

    #[tokio::test]
    async fn an_artifact_for_another_engine_is_never_read_and_the_wasm_is_compiled() {
        let out = packaged("foreign");
        // Garbage where the artifacts were: reading either would fail the load.
        for file in ["data-science-1.0.0.cwasm", "per-client-1.0.0.cwasm"] {
            std::fs::write(out.join(file), b"not an artifact").unwrap();
        }
        edit_manifest(&out, |m| {
            for entry in m["types"].as_array_mut().unwrap() {
                entry["precompiled"]["compatibilityKey"] = "aarch64-linux-another-engine".into();
            }
        });
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
        for file in ["data-science-1.0.0.cwasm", "per-client-1.0.0.cwasm"] {
            std::fs::remove_file(out.join(file)).unwrap();
        }
        let registry = PluginRegistry::load(host(), &out.join("manifest.json")).expect("loads");
        assert_eq!(science_plan(&registry).await.tags["workload"], "data-science");
    }

    #[test]
    fn a_manifest_naming_a_file_outside_its_directory_is_refused() {
        let out = packaged("outside");
        edit_manifest(&out, |m| m["types"][0]["precompiled"]["file"] = "../elsewhere.cwasm".into());
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
}
