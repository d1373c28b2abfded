use tenancy_domain::access::{ADMIN_GROUP, Caller, Role, Via};
use tenancy_domain::authorization::TenantFacts;
use tenancy_domain::infrastructure::Environment;
use tenancy_domain::memory::DefaultPolicies;
use tenancy_domain::names::Name;

use super::*;

fn caller(id: &str, groups: &[&str], via: Via) -> Caller {
    Caller { id: id.into(), email: None, groups: groups.iter().map(|g| g.to_string()).collect(), via, request_id: None }
}

fn name(raw: &str) -> Name {
    Name::parse("name", raw).unwrap()
}

fn tenant(environment: Environment, role: Option<Role>) -> Resource {
    Resource::Tenant {
        tenant: TenantFacts {
            name: name("dev"),
            infrastructure: name("main"),
            environment,
            tenant_type: "default".into(),
        },
        role,
    }
}

fn resources() -> Vec<Resource> {
    let mut all = vec![
        Resource::Platform,
        Resource::Infrastructure { name: name("main"), environment: Environment::Prod },
        Resource::Infrastructure { name: name("main"), environment: Environment::Nonprod },
    ];
    for environment in [Environment::Prod, Environment::Nonprod] {
        all.push(tenant(environment, None));
        all.extend(Role::ALL.into_iter().map(|role| tenant(environment, Some(role))));
    }
    all
}

fn callers() -> Vec<Caller> {
    vec![
        caller("anna", &[ADMIN_GROUP], Via::Api),
        caller("dev", &["developers"], Via::Api),
        caller("nobody", &[], Via::Api),
        caller("orders@123456789012", &[ADMIN_GROUP], Via::Event),
        // Names that look like something else must stay what they are.
        caller("tenancy-admins", &[], Via::Api),
        caller("Tenancy::Group::\"tenancy-admins\"", &["\" || true || \""], Via::Api),
        caller("é漢字 \u{200b}", &["tenancy-admins-not"], Via::Api),
    ]
}

#[test]
fn the_shipped_policies_and_examples_validate_strictly_against_the_schema() {
    CedarAuthorizer::shipped().expect("the shipped policies");
    CedarAuthorizer::load(&format!("{POLICIES}\n{EXAMPLES}"), SCHEMA).expect("the examples");
}

#[test]
fn policies_that_do_not_validate_are_refused_at_load() {
    for bad in [
        "permit (principal, action == Tenancy::Action::\"Fly\", resource);",
        "permit (principal, action == Tenancy::Action::\"ReadTenant\", resource) when { resource.owner == \"x\" };",
        "permit (principal, action == Tenancy::Action::\"ReadTenant\", resource) when { context.role == 1 };",
        "permit (principal, action, resource) when { principal.via.foo };",
        "permit (principal, action, resource",
    ] {
        let error = CedarAuthorizer::load(bad, SCHEMA).unwrap_err();
        assert!(error.contains("Cedar"), "{bad}: {error}");
    }
}

/// The domain's unit tests decide with a plain-code copy of the default policies; it must
/// answer every question exactly as Cedar does with the shipped ones.
#[test]
fn the_domains_test_double_decides_as_the_shipped_policies_do() {
    let cedar = CedarAuthorizer::shipped().unwrap();
    let mut cells = 0;
    for caller in callers() {
        for action in Action::ALL {
            for resource in resources() {
                let question = Question { caller: &caller, action, resource: resource.clone() };
                assert_eq!(
                    cedar.is_allowed(&question),
                    DefaultPolicies.is_allowed(&question),
                    "{} {action:?} {resource:?}",
                    caller.id
                );
                cells += 1;
            }
        }
    }
    assert!(cells > 1000, "{cells}");
}

#[test]
fn roles_give_what_they_name() {
    let cedar = CedarAuthorizer::shipped().unwrap();
    let dev = caller("dev", &["developers"], Via::Api);
    let allowed = |action, role| {
        cedar.is_allowed(&Question { caller: &dev, action, resource: tenant(Environment::Nonprod, role) })
    };
    for role in Role::ALL {
        assert!(allowed(Action::ReadTenant, Some(role)));
        assert!(allowed(Action::ReadHistory, Some(role)));
    }
    assert!(!allowed(Action::IssueCredentials, Some(Role::ReadOnly)));
    assert!(allowed(Action::IssueCredentials, Some(Role::User)));
    assert!(!allowed(Action::ManageAccess, Some(Role::User)));
    assert!(allowed(Action::ManageAccess, Some(Role::Admin)));
    for action in Action::ALL {
        assert!(!allowed(action, None), "{action:?} without a role");
    }
    let platform = |action| cedar.is_allowed(&Question { caller: &dev, action, resource: Resource::Platform });
    assert!(!platform(Action::ManageInfrastructures));
    assert!(!platform(Action::ListAllTenants));
    assert!(platform(Action::ListTenantTypes));
}

#[test]
fn the_examples_change_decisions_as_they_say() {
    let cedar = CedarAuthorizer::load(&format!("{POLICIES}\n{EXAMPLES}"), SCHEMA).unwrap();
    let dev = caller("dev", &["developers"], Via::Api);
    let ask = |caller: &Caller, action, resource| cedar.is_allowed(&Question { caller, action, resource });
    assert!(!ask(&dev, Action::IssueCredentials, tenant(Environment::Prod, Some(Role::User))));
    assert!(ask(&dev, Action::IssueCredentials, tenant(Environment::Prod, Some(Role::Admin))));
    assert!(ask(&dev, Action::IssueCredentials, tenant(Environment::Nonprod, Some(Role::User))));
    let anna = caller("anna", &[ADMIN_GROUP], Via::Api);
    assert!(ask(&anna, Action::IssueCredentials, tenant(Environment::Prod, None)), "platform admins still may");
    let nonprod = Resource::Infrastructure { name: name("main"), environment: Environment::Nonprod };
    let prod = Resource::Infrastructure { name: name("main"), environment: Environment::Prod };
    assert!(ask(&dev, Action::CreateTenant, nonprod.clone()));
    assert!(!ask(&dev, Action::CreateTenant, prod));
    assert!(!ask(&caller("x", &[], Via::Api), Action::CreateTenant, nonprod));
    let producer = caller("orders@123456789012", &[ADMIN_GROUP], Via::Event);
    assert!(!ask(&producer, Action::ManageAccess, tenant(Environment::Nonprod, None)));
    assert!(ask(&producer, Action::ReadTenant, tenant(Environment::Nonprod, None)));
}
