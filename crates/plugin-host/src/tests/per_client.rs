//! The shipped per-client plugin.

use super::*;

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
fn the_per_client_plugin_tags_the_client_and_keeps_user_and_admin_to_its_domain() {
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

    let grant = |email: &str, level: Role| GrantRequest { user_id: "u".into(), user_email: Some(email.into()), level };
    let decide = |g: GrantRequest| host.on_grant_access(&plugin, &tenant, &g).unwrap().value;
    for role in [Role::ReadOnly, Role::User, Role::Admin] {
        assert_eq!(decide(grant("joe@acme.com", role)), GrantDecision::Allow, "{role:?}");
    }
    assert!(matches!(decide(grant("eve@acme.com.evil.com", Role::Admin)), GrantDecision::Deny(_)));
}

/// Built against 1.1.0, it is passed each role as it is: outside the client's domain it
/// allows exactly `read-only` (any other text goes on to the domain check, and is refused)
/// and names the role it refuses.
#[test]
fn a_plugin_built_against_1_1_is_passed_each_of_the_three_roles_as_it_is() {
    let host = &shared().host;
    let plugin = load(host, "per_client");
    assert_eq!(plugin.interface_version(), WitVersion::new(1, 1, 0));
    let tenant = client_tenant(&[("client", "acme"), ("client-domain", "acme.com"), ("expires", "2027-06-30")]);
    let refused = |role: &str| {
        GrantDecision::Deny(format!("the role '{role}' on this client's tenant is only for acme.com addresses"))
    };
    for (role, decision) in
        [(Role::ReadOnly, GrantDecision::Allow), (Role::User, refused("user")), (Role::Admin, refused("admin"))]
    {
        let grant = GrantRequest { user_id: "eve".into(), user_email: Some("eve@evil.com".into()), level: role };
        assert_eq!(host.on_grant_access(&plugin, &tenant, &grant).unwrap().value, decision, "{role:?}");
    }
}
