//! Host figures: per hook call with a warm `InstancePre`, the median and p99 of
//! instantiate + call + plan validation for the data-science plugin, beside the floor
//! measured in the same run (instantiate + call of a plugin that does nothing); and cold,
//! the time to load a precompiled plugin (its SHA-256 check included) and to compile one
//! from its `.wasm`.
//!
//! Run with `make bench` (after `scripts/build-plugins.sh`). Prints figures only.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tenancy_domain::access::{ADMIN_GROUP, Caller, Via};
use tenancy_domain::infrastructure::Environment;
use tenancy_domain::names::Name;
use tenancy_domain::plan::{self, Allowances, PlanContext};
use tenancy_domain::tenant::{Requester, Tenant};
use tenancy_plugin_host::{Allocation, Limits, PluginHost, sha256_hex};

const WARM_CALLS: usize = 2_000;
const COLD_LOADS: usize = 20;

fn artifact(name: &str) -> Vec<u8> {
    let path = format!("{}/../../plugins/target/wasm32-wasip2/release/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; run scripts/build-plugins.sh first"))
}

fn summary(label: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let median = samples[samples.len() / 2];
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    println!("{label:<58} median {:>9.1} µs   p99 {:>9.1} µs   (n = {})", us(median), us(p99), samples.len());
    median
}

fn main() {
    let host = PluginHost::new(Limits::default()).expect("host");
    let caller =
        Caller { id: "bench".into(), email: None, groups: vec![ADMIN_GROUP.into()], via: Via::Api, request_id: None };
    let now = time::OffsetDateTime::now_utc();
    let name = Name::parse("n", "lab").unwrap();
    let tenant = Tenant::new(
        name.clone(),
        Name::parse("n", "nonprod").unwrap(),
        Environment::Nonprod,
        "data-science".into(),
        BTreeMap::from([("team".to_string(), "ml".to_string())]),
        BTreeMap::new(),
        false,
        Requester::from_caller(&caller, now),
        now,
    );

    let vpc_cidrs = ["10.0.0.0/16".to_string()];
    let context = PlanContext {
        tenant: &name,
        allowances: Allowances::default(),
        vpc_cidrs: &vpc_cidrs,
        settings: tenant.settings(),
    };
    let (science, empty) = (artifact("data_science"), artifact("empty"));
    let science_plugin = host.load("data-science", "1.0.0", &science, &sha256_hex(&science)).unwrap();
    let empty_plugin = host.load("empty", "1.0.0", &empty, &sha256_hex(&empty)).unwrap();

    // Warm-up, then the two series interleaved so that both see the same machine.
    for _ in 0..100 {
        host.on_create(&science_plugin, &tenant).unwrap();
        host.on_create(&empty_plugin, &tenant).unwrap();
    }
    let (mut floor, mut warm) = (Vec::with_capacity(WARM_CALLS), Vec::with_capacity(WARM_CALLS));
    for _ in 0..WARM_CALLS {
        let start = Instant::now();
        host.on_create(&empty_plugin, &tenant).unwrap();
        floor.push(start.elapsed());

        let start = Instant::now();
        let report = host.on_create(&science_plugin, &tenant).unwrap();
        // Timed whatever the rules make of the plan: the figure is the cost of checking it.
        std::hint::black_box(plan::validate("data-science", &report.value, &context).is_ok());
        warm.push(start.elapsed());
    }
    println!("== warm calls (fresh store per call, InstancePre reused)");
    let floor_median = summary("floor: empty plugin, instantiate + on-create", floor);
    let warm_median = summary("data-science: instantiate + on-create + plan validation", warm);
    println!("ratio to floor (medians): {:.2}x", warm_median.as_secs_f64() / floor_median.as_secs_f64());

    // The same warm call with the pooling allocator, beside the default in the same run.
    let pooled =
        PluginHost::with_allocation(Limits::default(), Allocation::Pooling { instances: 16 }).expect("pooled host");
    let pooled_plugin = pooled.load("data-science", "1.0.0", &science, &sha256_hex(&science)).unwrap();
    for _ in 0..100 {
        pooled.on_create(&pooled_plugin, &tenant).unwrap();
    }
    let (mut on_demand, mut pooling) = (Vec::with_capacity(WARM_CALLS), Vec::with_capacity(WARM_CALLS));
    for _ in 0..WARM_CALLS {
        let start = Instant::now();
        host.on_create(&science_plugin, &tenant).unwrap();
        on_demand.push(start.elapsed());
        let start = Instant::now();
        pooled.on_create(&pooled_plugin, &tenant).unwrap();
        pooling.push(start.elapsed());
    }
    println!("== allocators (data-science, instantiate + on-create)");
    let on_demand_median = summary("on-demand allocator (the default)", on_demand);
    let pooling_median = summary("pooling allocator (16 slots)", pooling);
    println!("pooling / on-demand (medians): {:.2}x", pooling_median.as_secs_f64() / on_demand_median.as_secs_f64());

    println!("== cold loads");
    let digest = sha256_hex(&science);
    let compiled = host.precompile("data-science", &science, &digest).unwrap();
    let compiled_digest = sha256_hex(&compiled);
    let precompiled: Vec<Duration> = (0..COLD_LOADS)
        .map(|_| {
            // As a deployment loads it: the artifact's digest is checked, then it is deserialized.
            let start = Instant::now();
            host.load_precompiled("data-science", "1.0.0", &digest, &compiled, &compiled_digest).unwrap();
            start.elapsed()
        })
        .collect();
    summary(&format!("load precompiled ({} KiB artifact)", compiled.len() / 1024), precompiled);
    let compile: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            host.load("data-science", "1.0.0", &science, &digest).unwrap();
            start.elapsed()
        })
        .collect();
    summary(&format!("compile from .wasm ({} KiB)", science.len() / 1024), compile);
}
