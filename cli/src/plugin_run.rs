//! `tenancy plugin run`: runs one hook of a plugin exactly as the lifecycle would (same
//! host, same limits, same plan validation) and reports what it returned and what it cost.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use tenancy_domain::access::{ADMIN_GROUP, Caller, GrantRequest, Via};
use tenancy_domain::infrastructure::Environment;
use tenancy_domain::names::Name;
use tenancy_domain::plan::{self, Allowances, PlanContext};
use tenancy_domain::tenant::{Requester, Tenant};
use tenancy_plugin_host::{CallReport, Limits, PluginHost, WitVersion, sha256_hex};

/// The tenant a hook is run for, as a plugin author writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantInput {
    /// Tenant name.
    pub name: String,
    /// Infrastructure name.
    #[serde(default = "default_infrastructure")]
    pub infrastructure: String,
    /// `prod` or `nonprod`.
    #[serde(default = "default_environment")]
    pub environment: Environment,
    /// Tenant type.
    #[serde(default, rename = "type")]
    pub tenant_type: Option<String>,
    /// Settings.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_infrastructure() -> String {
    "nonprod".into()
}

fn default_environment() -> Environment {
    Environment::Nonprod
}

/// What to run.
pub struct RunRequest<'a> {
    /// The plugin's `.wasm`.
    pub wasm: &'a [u8],
    /// The plugin's name, as the registry would know it.
    pub plugin: &'a str,
    /// `validate`, `on-create`, `on-delete` or `on-grant-access`.
    pub hook: &'a str,
    /// The tenant, as JSON.
    pub tenant: &'a str,
    /// The grant, as JSON, for `on-grant-access`.
    pub grant: Option<&'a str>,
    /// Whether the plugin may open its group to the internet.
    pub allowances: Allowances,
    /// The CIDR blocks of the infrastructure's VPC the plan is checked against.
    pub vpc_cidrs: &'a [String],
}

/// The VPC `tenancy plugin run` checks plans against when `--vpc-cidr` is not given.
pub const DEFAULT_VPC_CIDR: &str = "10.0.0.0/16";

/// What identifies the plugin run: its name, digest and the version of the interface it
/// was built against (and called through: a 1.0.0 plugin is passed `admin` for `user`).
struct Ran<'a> {
    plugin: &'a str,
    digest: &'a str,
    interface_version: WitVersion,
}

fn report<T>(hook: &str, ran: &Ran<'_>, report: &CallReport<T>, result: Value) -> Value {
    json!({
        "plugin": ran.plugin,
        "sha256": ran.digest,
        "interfaceVersion": ran.interface_version.to_string(),
        "hook": hook,
        "result": result,
        "fuelUsed": report.fuel_used,
        "peakMemoryBytes": report.peak_memory_bytes,
        "elapsedMicros": report.elapsed.as_micros() as u64,
        "log": report.log,
    })
}

/// Runs the hook and returns the report as JSON.
pub fn run(request: RunRequest<'_>) -> Result<Value, String> {
    let input: TenantInput = serde_json::from_str(request.tenant).map_err(|e| format!("tenant JSON: {e}"))?;
    let name = Name::parse("name", &input.name).map_err(|e| e.to_string())?;
    let infrastructure = Name::parse("infrastructure", &input.infrastructure).map_err(|e| e.to_string())?;
    let author = Caller {
        id: "plugin-author".into(),
        email: None,
        groups: vec![ADMIN_GROUP.into()],
        via: Via::Api,
        request_id: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let tenant = Tenant::new(
        name.clone(),
        infrastructure,
        input.environment,
        input.tenant_type.unwrap_or_else(|| request.plugin.to_string()),
        input.settings,
        input.tags,
        false,
        Requester::from_caller(&author, now),
        now,
    );

    let host = PluginHost::new(Limits::default()).map_err(|e| format!("starting the host: {e}"))?;
    let digest = sha256_hex(request.wasm);
    let plugin = host.load(request.plugin, "local", request.wasm, &digest).map_err(|e| e.to_string())?;
    let ran = Ran { plugin: request.plugin, digest: &digest, interface_version: plugin.interface_version() };
    let hook = request.hook;
    match hook {
        "validate" => host.validate(&plugin, &tenant).map(|r| {
            let result = match &r.value {
                Ok(()) => json!({ "accepted": true }),
                Err(message) => json!({ "accepted": false, "message": message }),
            };
            report(hook, &ran, &r, result)
        }),
        "on-create" => host.on_create(&plugin, &tenant).map(|r| {
            let context = PlanContext {
                tenant: &name,
                allowances: request.allowances,
                vpc_cidrs: request.vpc_cidrs,
                settings: tenant.settings(),
            };
            let validation = match plan::validate(request.plugin, &r.value, &context) {
                Ok(()) => json!({ "passed": true }),
                Err(refusal) => json!({ "passed": false, "rule": refusal.rule, "detail": refusal.detail }),
            };
            report(hook, &ran, &r, json!({ "plan": r.value, "validation": validation }))
        }),
        "on-delete" => host.on_delete(&plugin, &tenant).map(|r| {
            let result = json!({ "ok": r.value.is_ok(), "message": r.value.as_ref().err() });
            report(hook, &ran, &r, result)
        }),
        "on-grant-access" => {
            let grant = request.grant.ok_or("on-grant-access needs --grant grant.json")?;
            let grant: GrantRequest = serde_json::from_str(grant).map_err(|e| format!("grant JSON: {e}"))?;
            host.on_grant_access(&plugin, &tenant, &grant)
                .map(|r| report(hook, &ran, &r, json!({ "decision": r.value })))
        }
        other => return Err(format!("unknown hook '{other}': use validate, on-create, on-delete or on-grant-access")),
    }
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_science() -> Vec<u8> {
        let path = format!("{}/../plugins/target/wasm32-wasip2/release/data_science.wasm", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}; build the plugins first: scripts/build-plugins.sh"))
    }

    #[test]
    fn the_runner_prints_the_plan_its_validation_and_its_cost() {
        let wasm = data_science();
        let out = run(RunRequest {
            wasm: &wasm,
            plugin: "data-science",
            hook: "on-create",
            tenant: r#"{"name": "lab"}"#,
            grant: None,
            allowances: Allowances::default(),
            vpc_cidrs: &[DEFAULT_VPC_CIDR.to_string()],
        })
        .unwrap();
        assert!(out["result"]["validation"]["passed"].is_boolean(), "{out:#}");
        assert_eq!(out["result"]["plan"]["resources"][0]["suffix"], "data");
        assert!(out["fuelUsed"].as_u64().unwrap() > 0 && out["peakMemoryBytes"].as_u64().unwrap() > 0);
        assert_eq!(out["sha256"], sha256_hex(&wasm));
    }

    #[test]
    fn the_runner_reports_a_plan_the_rules_refuse() {
        let path = format!("{}/../plugins/target/wasm32-wasip2/release/hostile.wasm", env!("CARGO_MANIFEST_DIR"));
        let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let out = run(RunRequest {
            wasm: &wasm,
            plugin: "hostile",
            hook: "on-create",
            tenant: r#"{"name": "lab", "settings": {"attack": "iam"}}"#,
            grant: None,
            allowances: Allowances::default(),
            vpc_cidrs: &[DEFAULT_VPC_CIDR.to_string()],
        })
        .unwrap();
        assert_eq!(out["result"]["validation"]["passed"], false, "{out:#}");
        assert!(out["result"]["validation"]["rule"].is_string(), "{out:#}");
        assert_eq!(out["result"]["plan"]["policyStatements"][0]["actions"][0], "iam:PassRole");
    }

    #[test]
    fn the_runner_names_the_interface_version_and_passes_the_grant_as_that_version_sees_it() {
        let vpc = [DEFAULT_VPC_CIDR.to_string()];
        let grant = r#"{"userId": "eve", "userEmail": null, "level": "user"}"#;
        let run_on = |name: &str| {
            let path = format!("{}/../plugins/target/wasm32-wasip2/release/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
            let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            run(RunRequest {
                wasm: &wasm,
                plugin: name,
                hook: "on-grant-access",
                tenant: r#"{"name": "lab", "settings": {"client-domain": "acme.com"}}"#,
                grant: Some(grant),
                allowances: Allowances::default(),
                vpc_cidrs: &vpc,
            })
            .unwrap()
        };
        // The hostile test plugin is built against 1.0.0: `user` reaches it as `admin`.
        let old = run_on("hostile");
        assert_eq!(old["interfaceVersion"], "1.0.0", "{old:#}");
        assert_eq!(old["result"]["decision"]["deny"], "eve may not be admin", "{old:#}");
        let new = run_on("per_client");
        assert_eq!(new["interfaceVersion"], "1.1.0", "{new:#}");
        let reason = new["result"]["decision"]["deny"].as_str().unwrap_or_default();
        assert!(reason.contains("'user'"), "{new:#}");
    }

    #[test]
    fn the_runner_names_a_bad_hook_and_bad_input() {
        let wasm = data_science();
        let vpc = [DEFAULT_VPC_CIDR.to_string()];
        let request = |hook, tenant| RunRequest {
            wasm: &wasm,
            plugin: "p",
            hook,
            tenant,
            grant: None,
            allowances: Allowances::default(),
            vpc_cidrs: &vpc,
        };
        assert!(run(request("on-lunch", r#"{"name": "lab"}"#)).unwrap_err().contains("unknown hook"));
        assert!(run(request("validate", r#"{"name": "Lab"}"#)).unwrap_err().contains("not a valid name"));
        assert!(run(request("on-grant-access", r#"{"name": "lab"}"#)).unwrap_err().contains("--grant"));
    }
}
