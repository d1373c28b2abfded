//! Calls that misbehave inside the sandbox, and what the sandbox shows them.

use super::*;

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
