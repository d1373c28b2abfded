//! `tenancy:plugin@1.0.0` (`plugins/wit/v1`): its bindings, what the host gives a plugin
//! of this version, and the conversions between its types and the domain's.

use tenancy_domain::access::{GrantDecision, GrantRequest, Role};
use tenancy_domain::infrastructure::Environment as DomainEnvironment;
use tenancy_domain::plan::{CatalogueResource as DomainResource, IngressRule, Plan, PolicyStatement};
use tenancy_domain::tenant::Tenant as DomainTenant;
use wasmtime::component::{HasSelf, Linker};

use super::WitVersion;
use crate::sandbox::State;

/// Generated in a module of their own: the world's `use` of `tenant` and `plan` would
/// clash with the domain's names here.
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../../plugins/wit/v1",
        world: "tenant-type",
    });
}

pub(crate) use bindings::tenancy::plugin::types as wit;
pub(crate) use bindings::{TenantType, TenantTypePre};

/// The version of the package these bindings were generated from: the `package` line of
/// `plugins/wit/v1/plugin.wit`.
pub(crate) const VERSION: WitVersion = WitVersion::new(1, 0, 0);

/// Offers plugins of this version the `host` interface.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    TenantType::add_to_linker::<State, HasSelf<State>>(linker, |state| state)
}

impl wit::Host for State {}

impl bindings::tenancy::plugin::host::Host for State {
    fn log(&mut self, message: String) {
        self.append_log(&message);
    }
}

fn pairs(map: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The tenant as plugins see it.
pub(crate) fn tenant(tenant: &DomainTenant) -> wit::Tenant {
    wit::Tenant {
        name: tenant.name().to_string(),
        infrastructure: tenant.infrastructure().to_string(),
        environment: match tenant.environment() {
            DomainEnvironment::Prod => wit::Environment::Prod,
            DomainEnvironment::Nonprod => wit::Environment::Nonprod,
        },
        tenant_type: tenant.tenant_type().clone(),
        settings: pairs(tenant.settings()),
        tags: pairs(tenant.tags()),
    }
}

/// A grant as a plugin built against 1.0.0 sees it: `read-only` or `admin`, the only
/// levels 1.0.0 documents. A `user` grant is passed as `admin`, the strictest level that
/// covers it, so that a plugin refusing `admin` to someone refuses `user` too.
pub(crate) fn grant(grant: &GrantRequest) -> wit::Grant {
    let level = match grant.level {
        Role::ReadOnly => Role::ReadOnly,
        Role::User | Role::Admin => Role::Admin,
    };
    wit::Grant { user_id: grant.user_id.clone(), user_email: grant.user_email.clone(), level: level.as_str().into() }
}

/// A grant as a plugin built against 1.1.0 sees it: `read-only`, `user` or `admin`.
pub(crate) fn grant_since_v1_1(grant: &GrantRequest) -> wit::Grant {
    wit::Grant {
        user_id: grant.user_id.clone(),
        user_email: grant.user_email.clone(),
        level: grant.level.as_str().to_string(),
    }
}

/// A plan as the domain validates it. Repeated keys keep the last value.
pub(crate) fn plan(plan: wit::Plan) -> Plan {
    Plan {
        tags: plan.tags.into_iter().collect(),
        policy_statements: plan
            .policy_statements
            .into_iter()
            .map(|s| PolicyStatement {
                sid: s.sid,
                actions: s.actions,
                resources: s.resources,
                tenant_tag_condition: s.tenant_tag_condition,
            })
            .collect(),
        ingress_rules: plan
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
        default_settings: plan.default_settings.into_iter().collect(),
        resources: plan
            .resources
            .into_iter()
            .map(|r| match r {
                wit::CatalogueResource::Bucket(suffix) => DomainResource::Bucket(suffix),
            })
            .collect(),
    }
}

/// The bytes a plan carries, counted before conversion so that a huge plan is refused
/// without building its domain copy.
pub(crate) fn plan_size(plan: &wit::Plan) -> usize {
    let pairs = |list: &[(String, String)]| list.iter().map(|(k, v)| k.len() + v.len() + 8).sum::<usize>();
    let strings = |list: &[String]| list.iter().map(|s| s.len() + 4).sum::<usize>();
    pairs(&plan.tags)
        + pairs(&plan.default_settings)
        + plan
            .policy_statements
            .iter()
            .map(|s| s.sid.len() + strings(&s.actions) + strings(&s.resources) + 64)
            .sum::<usize>()
        + plan.ingress_rules.iter().map(|r| r.protocol.len() + r.cidr.len() + r.description.len() + 64).sum::<usize>()
        + plan
            .resources
            .iter()
            .map(|r| match r {
                wit::CatalogueResource::Bucket(suffix) => suffix.len() + 16,
            })
            .sum::<usize>()
}

/// The bytes a decision carries.
pub(crate) fn decision_size(decision: &wit::Decision) -> usize {
    match decision {
        wit::Decision::Allow => 5,
        wit::Decision::Deny(reason) => reason.len() + 4,
    }
}

/// A decision as the domain reads it.
pub(crate) fn decision(decision: wit::Decision) -> GrantDecision {
    match decision {
        wit::Decision::Allow => GrantDecision::Allow,
        wit::Decision::Deny(reason) => GrantDecision::Deny(reason),
    }
}
