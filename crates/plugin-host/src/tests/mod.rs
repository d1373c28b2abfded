//! The host against real components built from `plugins/` (by `scripts/build-plugins.sh`,
//! which `make test` runs first): the data-science plugin, and a hostile one whose
//! `attack` setting picks how it misbehaves (or, with `attack` = `plan`, returns the plan
//! the test chose); and components written in WAT, instantiated under the sandbox's limits.

use std::collections::BTreeMap;
use std::time::Duration;

use tenancy_domain::access::{ADMIN_GROUP, Caller, GrantDecision, GrantRequest, Role, Via};
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
    let caller =
        Caller { id: "t".into(), email: None, groups: vec![ADMIN_GROUP.into()], via: Via::Api, request_id: None };
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

fn client_tenant(settings: &[(&str, &str)]) -> Tenant {
    typed("per-client", settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

mod loading;
mod per_client;
mod plans;
mod registry;
mod sandbox;
