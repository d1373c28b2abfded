//! Loading components: bad binaries, WIT versions, precompiled artifacts and resource limits.

use super::*;

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
    let supported = "not a tenancy:plugin@1.1.0 or tenancy:plugin@1.0.0 tenant-type component";
    assert!(wrong_world.to_string().contains(supported), "names every supported version: {wrong_world}");

    let small = PluginHost::new(Limits { max_binary_bytes: 1024, ..Limits::default() }).unwrap();
    let too_big = small.load("hostile", "1.0.0", &wasm, &sha256_hex(&wasm)).err().unwrap();
    assert!(matches!(too_big, PluginError::BinaryTooLarge { .. }), "{too_big}");
}

#[test]
fn the_shipped_plugins_are_called_through_the_bindings_of_the_version_they_import() {
    let Shared { host, data_science, .. } = shared();
    assert_eq!(data_science.interface_version(), crate::wit::since_v1_1::VERSION);
    assert_eq!(data_science.interface_version(), WitVersion::new(1, 1, 0));
    assert_eq!(crate::supported_versions().collect::<Vec<_>>(), [WitVersion::new(1, 1, 0), WitVersion::new(1, 0, 0)]);

    let per_client = load(host, "per_client");
    assert_eq!(per_client.interface_version(), WitVersion::new(1, 1, 0));
    let refused = host.validate(&per_client, &client_tenant(&[])).unwrap().value;
    assert!(refused.is_err(), "the call went through the v1.1 bindings and back: {refused:?}");
    // The test plugins are still built against 1.0.0, and still load through its bindings.
    assert_eq!(load(host, "hostile").interface_version(), WitVersion::new(1, 0, 0));
    assert_eq!(load(host, "empty").interface_version(), WitVersion::new(1, 0, 0));
}

#[test]
fn the_version_constants_are_the_ones_their_wit_declares() {
    for (folder, version) in [("v1", crate::wit::since_v1_0::VERSION), ("v1.1", crate::wit::since_v1_1::VERSION)] {
        let path = format!("{}/../../plugins/wit/{folder}/plugin.wit", env!("CARGO_MANIFEST_DIR"));
        let wit = std::fs::read_to_string(&path).unwrap();
        let package = format!("package {}@{version};", crate::wit::PACKAGE);
        assert!(wit.lines().any(|line| line == package), "{path} does not declare {package}");
    }
}

#[test]
fn a_plugin_built_against_a_version_the_host_does_not_serve_is_refused_naming_both() {
    let host = &shared().host;
    // A newer major version, and a newer minor one: the host cannot know what either added.
    for version in ["2.0.0", "1.2.0"] {
        let future = format!(r#"(component (import "tenancy:plugin/types@{version}" (instance)))"#).into_bytes();
        let error = host.load("future", "1.0.0", &future, &sha256_hex(&future)).err().unwrap();
        assert!(matches!(error, PluginError::Incompatible { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            format!(
                "plugin 'future': not a tenancy:plugin@1.1.0 or tenancy:plugin@1.0.0 tenant-type component: \
                 built against tenancy:plugin@{version}"
            )
        );
    }
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
    assert!(matches!(error, PluginError::ArtifactRejected { .. }), "raw wasm is not a precompiled artifact: {error}");

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
