//! The time of one Cedar decision with the shipped policies: `cargo bench -p tenancy-policy`. Prints the median of 2,000 decisions of each kind (no assertion: these
//! machines are shared).

use std::time::Instant;

use tenancy_domain::access::{ADMIN_GROUP, Caller, Role, Via};
use tenancy_domain::authorization::{Action, Question, Resource, TenantFacts};
use tenancy_domain::infrastructure::Environment;
use tenancy_domain::names::Name;
use tenancy_domain::ports::Authorizer;
use tenancy_policy::CedarAuthorizer;

fn median_micros(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let started = Instant::now();
    let cedar = CedarAuthorizer::shipped().expect("the shipped policies");
    println!("load and validate the policies: {:.2} ms", started.elapsed().as_secs_f64() * 1e3);
    let name = |raw: &str| Name::parse("name", raw).unwrap();
    let tenant = |role| Resource::Tenant {
        tenant: TenantFacts {
            name: name("dev"),
            infrastructure: name("main"),
            environment: Environment::Prod,
            tenant_type: "default".into(),
        },
        role,
    };
    let user =
        Caller { id: "dana".into(), email: None, groups: vec!["developers".into()], via: Via::Api, request_id: None };
    let admin =
        Caller { id: "anna".into(), email: None, groups: vec![ADMIN_GROUP.into()], via: Via::Api, request_id: None };
    let cases = [
        ("tenant user reads the tenant (allow)", &user, Action::ReadTenant, tenant(Some(Role::User))),
        ("read-only asks for credentials (deny)", &user, Action::IssueCredentials, tenant(Some(Role::ReadOnly))),
        ("outsider reads the tenant (deny)", &user, Action::ReadTenant, tenant(None)),
        ("platform admin deletes the tenant (allow)", &admin, Action::DeleteTenant, tenant(None)),
    ];
    for (label, caller, action, resource) in cases {
        let question = Question { caller, action, resource };
        let samples: Vec<f64> = (0..2_000)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(cedar.is_allowed(std::hint::black_box(&question)));
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        println!("Cedar decision, {label}: median {:.1} µs", median_micros(samples));
    }
}
