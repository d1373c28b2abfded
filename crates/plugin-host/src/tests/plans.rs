//! Plans and hook answers coming back from plugins, checked by the rules.

use super::*;

/// The host returns plans unvalidated; the lifecycle's check refuses those that break the
/// rules, naming the plugin.
#[test]
fn plans_that_break_the_rules_come_back_as_sent_and_the_check_refuses_them() {
    let Shared { host, hostile: plugin, .. } = shared();
    for attack in ["iam", "other-tenant", "public", "tenancy-tag"] {
        let tenant = tenant(attack);
        let plan = host.on_create(plugin, &tenant).unwrap().value;
        assert_ne!(plan, Plan::default(), "{attack}");
        let refusal = check(&plugin.name, &tenant, &plan).unwrap_err();
        assert_eq!(refusal.plugin, "hostile", "{attack}: {refusal}");
    }
}

#[test]
fn a_plan_chosen_by_the_test_comes_back_exactly_as_the_plugin_sent_it() {
    let Shared { host, hostile: plugin, .. } = shared();
    let chosen_plan = serde_json::json!({
        "tags": [["team", "ml"], ["workload", "ünïcode ✓"]],
        "policyStatements": [
            {"sid": "Escalate", "actions": ["iam:PassRole"], "resources": ["*"], "tenantTagCondition": true},
            {"sid": "Read", "actions": ["s3:GetObject", "s3:ListBucket"],
             "resources": ["arn:aws:s3:::tenancy-lab--data", "arn:aws:s3:::tenancy-lab--data/*"]},
        ],
        "ingressRules": [
            {"protocol": "tcp", "fromPort": 8888, "toPort": 8889, "cidr": "{vpc}", "description": "jupyter"},
            {"protocol": "udp", "fromPort": 0, "toPort": 65535, "cidr": "0.0.0.0/0", "description": ""},
        ],
        "defaultSettings": [["notebook-size", "ml.t3.large"]],
        "resources": [{"bucket": "data"}, {"bucket": "scratch"}],
    });
    let expected = Plan {
        tags: [("team", "ml"), ("workload", "ünïcode ✓")].map(|(k, v)| (k.into(), v.into())).into(),
        policy_statements: vec![
            PolicyStatement {
                sid: "Escalate".into(),
                actions: vec!["iam:PassRole".into()],
                resources: vec!["*".into()],
                tenant_tag_condition: true,
            },
            PolicyStatement {
                sid: "Read".into(),
                actions: vec!["s3:GetObject".into(), "s3:ListBucket".into()],
                resources: vec!["arn:aws:s3:::tenancy-lab--data".into(), "arn:aws:s3:::tenancy-lab--data/*".into()],
                tenant_tag_condition: false,
            },
        ],
        ingress_rules: vec![
            IngressRule {
                protocol: "tcp".into(),
                from_port: 8888,
                to_port: 8889,
                cidr: "{vpc}".into(),
                description: "jupyter".into(),
            },
            IngressRule {
                protocol: "udp".into(),
                from_port: 0,
                to_port: 65535,
                cidr: "0.0.0.0/0".into(),
                description: String::new(),
            },
        ],
        default_settings: [("notebook-size".to_string(), "ml.t3.large".to_string())].into(),
        resources: vec![CatalogueResource::Bucket("data".into()), CatalogueResource::Bucket("scratch".into())],
    };
    // Cut small, so that the parts run past `plan-9` and must be read in numeric order.
    let tenant = chosen(&chosen_plan, 40);
    assert!(tenant.settings().contains_key("plan-11"), "{:?}", tenant.settings().keys());
    assert_eq!(host.on_create(plugin, &tenant).unwrap().value, expected);

    let nothing = chosen(&serde_json::json!({}), 1024);
    assert_eq!(host.on_create(plugin, &nothing).unwrap().value, Plan::default());
    let error = host.on_create(plugin, &chosen(&serde_json::json!({"tags": "oops"}), 1024)).unwrap_err();
    assert!(matches!(error, PluginError::Refused { ref message, .. } if message.contains("chosen plan")), "{error}");
}

#[test]
fn validate_and_grant_hooks_answer_through_the_same_limits() {
    let Shared { host, hostile: plugin, .. } = shared();
    assert_eq!(host.validate(plugin, &tenant("refuse")).unwrap().value, Err("this tenant is refused".into()));
    assert_eq!(host.validate(plugin, &tenant("none")).unwrap().value, Ok(()));
    // A plugin built against 1.0.0 knows `read-only` and `admin` only: `user` reaches it
    // as `admin`, the strictest level that covers it.
    for (role, seen) in [(Role::ReadOnly, "read-only"), (Role::User, "admin"), (Role::Admin, "admin")] {
        let grant = GrantRequest { user_id: "eve".into(), user_email: None, level: role };
        assert_eq!(
            host.on_grant_access(plugin, &tenant("none"), &grant).unwrap().value,
            GrantDecision::Deny(format!("eve may not be {seen}"))
        );
    }
}
