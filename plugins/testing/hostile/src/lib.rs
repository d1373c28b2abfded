//! A plugin that attacks its host, one way per value of the tenant's `attack` setting.
//! Built only for the host's tests: every attack must fail cleanly, or find nothing.
//!
//! With `attack` = `plan`, `on-create` returns the plan the test chose, unchanged: the
//! settings `plan-0`, `plan-1`, ... (in numeric order, up to the first one missing) are
//! concatenated and read as JSON (see [`ChosenPlan`]), so that any plan can be put to the
//! real path despite the cap on a setting's length.
// The bindings wit-bindgen generates for WIT functions take many arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({ path: "../../wit/v1", world: "tenant-type" });

use std::hint::black_box;

use serde::Deserialize;
use tenancy::plugin::host::log;
use tenancy::plugin::types::{CatalogueResource, IngressRule, PolicyStatement};

struct Hostile;

fn setting<'a>(tenant: &'a Tenant, key: &str) -> Option<&'a str> {
    tenant.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn attack(tenant: &Tenant) -> String {
    setting(tenant, "attack").unwrap_or_default().to_string()
}

/// The plan a test chose, as JSON: every field optional, empty by default.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct ChosenPlan {
    tags: Vec<(String, String)>,
    policy_statements: Vec<ChosenStatement>,
    ingress_rules: Vec<ChosenRule>,
    default_settings: Vec<(String, String)>,
    resources: Vec<ChosenResource>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct ChosenStatement {
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    tenant_tag_condition: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct ChosenRule {
    protocol: String,
    from_port: u16,
    to_port: u16,
    cidr: String,
    description: String,
}

/// `{"bucket": "suffix"}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
enum ChosenResource {
    Bucket(String),
}

/// The settings `plan-0`, `plan-1`, ... concatenated, read as a [`ChosenPlan`].
fn chosen_plan(tenant: &Tenant) -> Result<Plan, String> {
    let mut json = String::new();
    for part in 0.. {
        match setting(tenant, &format!("plan-{part}")) {
            Some(text) => json.push_str(text),
            None => break,
        }
    }
    let chosen: ChosenPlan = serde_json::from_str(&json).map_err(|e| format!("the chosen plan is not valid: {e}"))?;
    Ok(Plan {
        tags: chosen.tags,
        policy_statements: chosen
            .policy_statements
            .into_iter()
            .map(|s| PolicyStatement {
                sid: s.sid,
                actions: s.actions,
                resources: s.resources,
                tenant_tag_condition: s.tenant_tag_condition,
            })
            .collect(),
        ingress_rules: chosen
            .ingress_rules
            .into_iter()
            .map(|r| IngressRule {
                protocol: r.protocol,
                from_port: r.from_port,
                to_port: r.to_port,
                cidr: r.cidr,
                description: r.description,
            })
            .collect(),
        default_settings: chosen.default_settings,
        resources: chosen
            .resources
            .into_iter()
            .map(|ChosenResource::Bucket(suffix)| CatalogueResource::Bucket(suffix))
            .collect(),
    })
}

// Unbounded on purpose: the host must stop it at its stack limit.
#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    // Small frames that live on the wasm stack (not Rust's shadow stack in linear memory),
    // and a result hidden from the optimiser, so that the recursion really recurses.
    black_box(recurse(black_box(depth + 1))) ^ depth
}

/// What the sandbox let the plugin see: every probe should come back empty or refused.
fn probes() -> Vec<(String, String)> {
    let file = match std::fs::read("/etc/passwd") {
        Ok(bytes) => format!("read {} bytes", bytes.len()),
        Err(error) => format!("denied: {error}"),
    };
    let env = std::env::vars().map(|(k, _)| k).collect::<Vec<_>>().join(",");
    let net = match std::net::TcpStream::connect("127.0.0.1:80") {
        Ok(_) => "connected".to_string(),
        Err(error) => format!("denied: {error}"),
    };
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    vec![("file".into(), file), ("env".into(), env), ("net".into(), net), ("clock".into(), clock.to_string())]
}

impl Guest for Hostile {
    fn validate(tenant: Tenant) -> Result<(), String> {
        match attack(&tenant).as_str() {
            "refuse" => Err("this tenant is refused".into()),
            _ => Ok(()),
        }
    }

    fn on_create(tenant: Tenant) -> Result<Plan, String> {
        let mut plan = Plan {
            tags: vec![],
            policy_statements: vec![],
            ingress_rules: vec![],
            default_settings: vec![],
            resources: vec![],
        };
        match attack(&tenant).as_str() {
            "loop" => loop {
                black_box(&plan);
            },
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    black_box(&hoard);
                }
            }
            "recursion" => {
                black_box(recurse(0));
            }
            "huge-output" => plan.tags.push(("big".into(), "x".repeat(1 << 20))),
            "panic" => panic!("the plugin panicked on purpose"),
            "trap" => core::arch::wasm32::unreachable(),
            "log-flood" => {
                for i in 0..10_000 {
                    log(&format!("line {i} of a flood"));
                }
            }
            "probe" => plan.default_settings = probes(),
            "iam" => plan.policy_statements.push(PolicyStatement {
                sid: "Escalate".into(),
                actions: vec!["iam:PassRole".into()],
                resources: vec!["*".into()],
                tenant_tag_condition: true,
            }),
            "other-tenant" => plan.policy_statements.push(PolicyStatement {
                sid: "Reach".into(),
                actions: vec!["s3:GetObject".into()],
                resources: vec!["arn:aws:s3:::tenancy-victim--data/*".into()],
                tenant_tag_condition: false,
            }),
            "plan" => return chosen_plan(&tenant),
            "public" => plan.ingress_rules.push(IngressRule {
                protocol: "tcp".into(),
                from_port: 22,
                to_port: 22,
                cidr: "0.0.0.0/0".into(),
                description: "ssh from anywhere".into(),
            }),
            "tenancy-tag" => plan.tags.push(("tenancy:tenant".into(), "victim".into())),
            _ => {}
        }
        Ok(plan)
    }

    fn on_delete(_tenant: Tenant) -> Result<(), String> {
        Ok(())
    }

    fn on_grant_access(_tenant: Tenant, grant: Grant) -> Decision {
        // Built against 1.0.0 on purpose: it says which level the host passed it.
        Decision::Deny(format!("{} may not be {}", grant.user_id, grant.level))
    }
}

export!(Hostile);
