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
fn the_per_client_plugin_tags_the_client_and_keeps_writes_to_its_domain() {
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

    let grant = |email: &str, level: &str| GrantRequest {
        user_id: "u".into(),
        user_email: Some(email.into()),
        level: match level {
            "admin" => Role::Admin,
            "user" => Role::User,
            _ => Role::ReadOnly,
        },
    };
    let decide = |g: GrantRequest| host.on_grant_access(&plugin, &tenant, &g).unwrap().value;
    assert_eq!(decide(grant("joe@acme.com", "admin")), GrantDecision::Allow);
    assert_eq!(decide(grant("eve@evil.com", "read-only")), GrantDecision::Allow);
    assert!(
        matches!(decide(grant("eve@evil.com", "admin")), GrantDecision::Deny(reason) if reason.contains("acme.com"))
    );
    assert!(matches!(decide(grant("eve@acme.com.evil.com", "admin")), GrantDecision::Deny(_)));
    // Built against 1.1.0, it is passed `user` as such, and names it in its refusal.
    assert_eq!(decide(grant("joe@acme.com", "user")), GrantDecision::Allow);
    assert!(matches!(
        decide(grant("eve@evil.com", "user")),
        GrantDecision::Deny(reason) if reason.contains("'user'") && reason.contains("acme.com")
    ));
}
