//! Whole-plan tests: the rules together, hostile plans by class, and properties.
//!
//! Properties (proptest, in `props`), with their case counts per run:
//! - `validate_never_panics`: 768 plans, half arbitrary (multi-byte, huge, empty and
//!   near-miss strings, too many items), half near-valid.
//! - `accepted_plans_reach_only_the_tenant`: 768 near-valid plans (well-formed but for
//!   actions, ARNs and CIDRs that are valid, hostile or one-edit mutations of valid ones);
//!   every accepted one is checked against an independent reading of the rules. About a
//!   quarter are accepted (`the_near_valid_generator_reaches_accepted_plans` pins that).
//! - `check_action_is_total_and_sound`: 512 action strings.
//! - `arns_accepted_start_with_the_tenant_prefix`: 512 ARN strings, for five tenants.
//! - `cidrs_accepted_are_canonical_networks`: 512 CIDR strings.
//!
//! 3 072 cases in all, about 2 s in a debug build.

use super::actions::tests::{HOSTILE_ACTIONS, MALFORMED_ACTIONS};
use super::arns::tests::{HOSTILE_ARNS, OWN_ARNS};
use super::ingress::tests::{MALFORMED_CIDRS, PUBLIC_CIDRS, rule};
use super::*;

fn dev() -> Name {
    Name::parse("tenant", "dev").unwrap()
}

fn statement(actions: &[&str], resources: &[&str], tagged: bool) -> PolicyStatement {
    PolicyStatement {
        sid: "Extra".into(),
        actions: actions.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
        tenant_tag_condition: tagged,
    }
}

fn with_statement(s: PolicyStatement) -> Plan {
    Plan { policy_statements: vec![s], ..Plan::default() }
}

fn with_rule(r: IngressRule) -> Plan {
    Plan { ingress_rules: vec![r], ..Plan::default() }
}

const VPC: [&str; 2] = ["10.0.0.0/16", "2600:1f18:abcd:1200::/56"];

fn check(plugin: &str, plan: &Plan, allowances: Allowances) -> Result<(), Refusal> {
    let settings = BTreeMap::new();
    let cidrs = VPC.map(String::from);
    validate(plugin, plan, &PlanContext { tenant: &dev(), allowances, vpc_cidrs: &cidrs, settings: &settings })
}

fn rule_broken(plan: &Plan) -> &'static str {
    check("p", plan, Allowances::default()).unwrap_err().rule
}

fn the_test_plan() -> Plan {
    Plan {
        tags: BTreeMap::from([("workload".into(), "data-science".into())]),
        policy_statements: vec![
            PolicyStatement {
                sid: "Data".into(),
                ..statement(&["s3:GetObject", "s3:PutObject"], &["arn:aws:s3:::tenancy-dev--data/*"], false)
            },
            PolicyStatement { sid: "Train".into(), ..statement(&["sagemaker:CreateTrainingJob"], &["*"], true) },
            PolicyStatement {
                sid: "Lake".into(),
                ..statement(&["glue:GetTable"], &["arn:aws:glue:*:{account}:table/tenancy-dev--lake/*"], false)
            },
        ],
        ingress_rules: vec![
            IngressRule { description: "from the VPC".into(), ..rule("tcp", 443, 443, "10.0.0.0/16") },
            IngressRule { description: "from a subnet".into(), ..rule("tcp", 22, 22, "10.0.8.0/24") },
        ],
        default_settings: BTreeMap::from([("instance-size".into(), "large".into())]),
        resources: vec![CatalogueResource::Bucket("data".into())],
    }
}

/// The plan `plugins/data-science` proposes for tenant `dev`.
fn the_data_science_plan() -> Plan {
    Plan {
        tags: BTreeMap::from([("workload".into(), "data-science".into())]),
        policy_statements: vec![
            PolicyStatement {
                sid: "DataBucket".into(),
                ..statement(
                    &["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                    &["arn:aws:s3:::tenancy-dev--data", "arn:aws:s3:::tenancy-dev--data/*"],
                    false,
                )
            },
            PolicyStatement {
                sid: "SageMakerAndGlue".into(),
                ..statement(
                    &[
                        "sagemaker:CreateTrainingJob",
                        "sagemaker:DescribeTrainingJob",
                        "glue:GetDatabase",
                        "glue:GetTable",
                    ],
                    &["*"],
                    true,
                )
            },
        ],
        ingress_rules: vec![IngressRule {
            description: "Jupyter from the VPC".into(),
            ..rule("tcp", 8888, 8888, VPC_PLACEHOLDER)
        }],
        default_settings: BTreeMap::from([("notebook-instance-type".into(), "ml.m5.xlarge".into())]),
        resources: vec![CatalogueResource::Bucket("data".into())],
    }
}

#[test]
fn a_plan_within_the_tenant_passes() {
    check("data-science", &the_test_plan(), Allowances::default()).unwrap();
}

#[test]
fn the_shipped_data_science_plan_passes() {
    check("data-science", &the_data_science_plan(), Allowances::default()).unwrap();
    let expanded = expand_vpc(&the_data_science_plan().ingress_rules, &VPC.map(String::from));
    assert_eq!(expanded.iter().map(|r| r.cidr.as_str()).collect::<Vec<_>>(), VPC);
}

#[test]
fn a_private_range_outside_the_vpc_needs_public_ingress() {
    let plan = with_rule(rule("tcp", 443, 443, "10.0.0.0/8"));
    assert_eq!(rule_broken(&plan), "no-public-ingress");
    check("p", &plan, Allowances { public_ingress: true }).unwrap();
}

#[test]
fn hostile_actions_are_refused_in_plans() {
    for (action, expected) in HOSTILE_ACTIONS {
        for resources in [&["*"][..], &["arn:aws:s3:::tenancy-dev--data/*"][..]] {
            let refusal = check("p", &with_statement(statement(&[action], resources, true)), Allowances::default());
            assert_eq!(refusal.unwrap_err().rule, expected, "{action}");
        }
    }
    for action in MALFORMED_ACTIONS {
        let refusal = check("p", &with_statement(statement(&[action], &["*"], true)), Allowances::default());
        assert_eq!(refusal.unwrap_err().rule, "action-not-allowed", "{action:?}");
    }
    // One bad action among good ones refuses the statement.
    let mixed = statement(&["s3:GetObject", "ec2:CreateTags", "s3:PutObject"], &["*"], true);
    assert_eq!(rule_broken(&with_statement(mixed)), "action-not-allowed");
}

#[test]
fn hostile_resources_are_refused_in_plans() {
    for resource in HOSTILE_ARNS {
        let plan = with_statement(statement(&["s3:GetObject"], &[resource], false));
        assert_eq!(rule_broken(&plan), "tenant-resources-only", "{resource:?}");
    }
    for resource in OWN_ARNS {
        check("p", &with_statement(statement(&["s3:GetObject"], &[resource], false)), Allowances::default())
            .unwrap_or_else(|e| panic!("{resource}: {e}"));
    }
}

#[test]
fn the_brief_s_must_refuse_list() {
    let multi_byte = format!("s3:{}é{}", "G".repeat(28), "x".repeat(300));
    assert!(!multi_byte.is_char_boundary(32));
    let cases: Vec<(Plan, &str)> = vec![
        (with_statement(statement(&[&multi_byte], &["*"], true)), "size-limits"),
        (
            with_statement(statement(
                &["s3:GetObject"],
                &["arn:aws:s3:::tenancy-victim--data/tenancy-dev--x/*"],
                false,
            )),
            "tenant-resources-only",
        ),
        (with_statement(statement(&["s3:*"], &["arn:aws:s3:::tenancy-dev--data/*"], false)), "action-not-allowed"),
        (with_statement(statement(&["kms:CreateGrant"], &["*"], true)), "action-not-allowed"),
        (with_statement(statement(&["kms:PutKeyPolicy"], &["*"], true)), "action-not-allowed"),
        (with_statement(statement(&["ec2:AuthorizeSecurityGroupIngress"], &["*"], true)), "action-not-allowed"),
        (with_statement(statement(&["ec2:CreateTags"], &["*"], true)), "action-not-allowed"),
        (
            with_statement(statement(&["s3:PutBucketPolicy"], &["arn:aws:s3:::tenancy-dev--data"], false)),
            "action-not-allowed",
        ),
        (with_rule(rule("tcp", 22, 22, "203.0.113.7/32")), "no-public-ingress"),
        (with_rule(rule("tcp", 0, 65535, "8.0.0.0/8")), "no-public-ingress"),
        (with_rule(rule("tcp", 443, 443, "52.95.0.0/16")), "no-public-ingress"),
        (with_rule(rule("tcp", 443, 443, "::ffff:0.0.0.0/96")), "ingress-shape"),
        (with_statement(statement(&[" s3:GetObject"], &["*"], true)), "action-not-allowed"),
        (
            Plan {
                policy_statements: vec![
                    statement(&["s3:GetObject"], &["*"], true),
                    PolicyStatement { sid: "EXTRA".into(), ..statement(&["s3:PutObject"], &["*"], true) },
                ],
                ..Plan::default()
            },
            "duplicate-sid",
        ),
    ];
    for (plan, expected) in cases {
        assert_eq!(rule_broken(&plan), expected, "{plan:?}");
    }
}

#[test]
fn public_and_malformed_sources_in_plans() {
    for cidr in PUBLIC_CIDRS {
        let plan = with_rule(rule("tcp", 22, 22, cidr));
        assert_eq!(rule_broken(&plan), "no-public-ingress", "{cidr}");
        check("p", &plan, Allowances { public_ingress: true }).unwrap();
    }
    for cidr in MALFORMED_CIDRS {
        let plan = with_rule(rule("tcp", 22, 22, cidr));
        assert_eq!(
            check("p", &plan, Allowances { public_ingress: true }).unwrap_err().rule,
            "ingress-shape",
            "{cidr:?}"
        );
    }
}

#[test]
fn duplicate_ingress_rules_are_refused() {
    let twice = [
        vec![rule("tcp", 22, 22, "10.0.0.0/24"), rule("tcp", 22, 22, "10.0.0.0/24")],
        vec![rule("tcp", 22, 22, VPC_PLACEHOLDER), rule("tcp", 22, 22, VPC_PLACEHOLDER)],
        vec![rule("tcp", 22, 22, VPC_PLACEHOLDER), rule("tcp", 22, 22, "10.0.0.0/16")],
        vec![
            IngressRule { description: "a".into(), ..rule("udp", 1, 9, "10.0.1.0/24") },
            IngressRule { description: "b".into(), ..rule("udp", 1, 9, "10.0.1.0/24") },
        ],
    ];
    for rules in twice {
        let plan = Plan { ingress_rules: rules, ..Plan::default() };
        assert_eq!(rule_broken(&plan), "duplicate-ingress", "{plan:?}");
    }
    let distinct = vec![
        rule("tcp", 22, 22, "10.0.0.0/24"),
        rule("udp", 22, 22, "10.0.0.0/24"),
        rule("tcp", 22, 23, "10.0.0.0/24"),
    ];
    check("p", &Plan { ingress_rules: distinct, ..Plan::default() }, Allowances::default()).unwrap();
}

#[test]
fn statement_ids_are_short_letters_and_digits_and_unique() {
    for sid in ["", "a b", "a-b", "é", "Sid_1", " Sid", &"S".repeat(MAX_SID_LEN + 1), "Sid\n", "Ｓid"] {
        let plan = with_statement(PolicyStatement { sid: sid.into(), ..statement(&["s3:GetObject"], &["*"], true) });
        assert_eq!(rule_broken(&plan), "statement-shape", "{sid:?}");
    }
    let longest =
        with_statement(PolicyStatement { sid: "S".repeat(MAX_SID_LEN), ..statement(&["s3:GetObject"], &["*"], true) });
    check("p", &longest, Allowances::default()).unwrap();
    for (a, b) in [("Data", "Data"), ("Data", "data"), ("DATA", "dAtA"), ("S1", "s1")] {
        let plan = Plan {
            policy_statements: vec![
                PolicyStatement { sid: a.into(), ..statement(&["s3:GetObject"], &["*"], true) },
                PolicyStatement { sid: b.into(), ..statement(&["s3:PutObject"], &["*"], true) },
            ],
            ..Plan::default()
        };
        assert_eq!(rule_broken(&plan), "duplicate-sid", "{a} {b}");
    }
    for (actions, resources) in [(&[][..], &["*"][..]), (&["s3:GetObject"][..], &[][..])] {
        assert_eq!(rule_broken(&with_statement(statement(actions, resources, true))), "statement-shape");
    }
}

#[test]
fn star_needs_the_tag_condition() {
    for action in ["s3:GetObject", "sagemaker:CreateTrainingJob", "glue:GetTable"] {
        assert_eq!(rule_broken(&with_statement(statement(&[action], &["*"], false))), "tenant-resources-only");
    }
}

#[test]
fn tenancy_tags_cannot_be_overridden() {
    let plan = Plan { tags: BTreeMap::from([("tenancy:tenant".into(), "other".into())]), ..Plan::default() };
    assert_eq!(rule_broken(&plan), "tag-namespace");
    let refusal = check("per-client", &plan, Allowances::default()).unwrap_err().to_string();
    assert!(refusal.starts_with("plugin 'per-client' broke the rule 'tag-namespace'"), "{refusal}");
    for key in ["aws:x", "TENANCY:type", "a\nb", ""] {
        let plan = Plan { tags: BTreeMap::from([(key.into(), "v".into())]), ..Plan::default() };
        assert_eq!(rule_broken(&plan), "tag-namespace", "{key:?}");
    }
}

#[test]
fn oversized_plans_are_refused_without_panicking() {
    let many = Plan {
        policy_statements: vec![statement(&["s3:GetObject"], &["*"], true); MAX_STATEMENTS + 1],
        ..Plan::default()
    };
    assert_eq!(rule_broken(&many), "size-limits");
    let tags = Plan { tags: (0..=MAX_PLAN_TAGS).map(|i| (format!("k{i}"), "v".into())).collect(), ..Plan::default() };
    assert_eq!(rule_broken(&tags), "size-limits");
    let five = Plan { tags: (0..MAX_PLAN_TAGS).map(|i| (format!("k{i}"), "v".into())).collect(), ..Plan::default() };
    check("p", &five, Allowances::default()).unwrap();
    let long = with_statement(statement(&[&format!("s3:{}", "A".repeat(MAX_STRING_LEN))], &["*"], true));
    assert_eq!(rule_broken(&long), "size-limits");
    // Multi-byte characters around every cut point, in every string a refusal may quote.
    for pad in 0..8 {
        let text = format!("{}{}", "a".repeat(24 + pad), "é😀中".repeat(200));
        let plans = [
            with_statement(statement(&[&text], &["*"], true)),
            with_statement(statement(&["s3:GetObject"], &[&text], false)),
            with_statement(PolicyStatement { sid: text.clone(), ..statement(&["s3:GetObject"], &["*"], true) }),
            with_rule(IngressRule { description: text.clone(), ..rule("tcp", 1, 1, "10.0.0.0/16") }),
            with_rule(rule("tcp", 1, 1, &text)),
            with_rule(rule(&text, 1, 1, "10.0.0.0/16")),
            Plan { tags: BTreeMap::from([(text.clone(), "v".into())]), ..Plan::default() },
            Plan { tags: BTreeMap::from([("k".into(), text.repeat(3))]), ..Plan::default() },
            Plan { default_settings: BTreeMap::from([(text.clone(), "v".into())]), ..Plan::default() },
            Plan { resources: vec![CatalogueResource::Bucket(text.clone())], ..Plan::default() },
        ];
        for plan in plans {
            assert!(check("p", &plan, Allowances::default()).is_err());
        }
    }
    let items = with_statement(statement(&["s3:GetObject"; MAX_STATEMENT_ITEMS + 1], &["*"], true));
    assert_eq!(rule_broken(&items), "size-limits");
    let rules =
        Plan { ingress_rules: vec![rule("tcp", 1, 1, "10.0.0.0/16"); MAX_INGRESS_RULES + 1], ..Plan::default() };
    assert_eq!(rule_broken(&rules), "size-limits");
    let buckets = Plan { resources: vec![CatalogueResource::Bucket("a".into()); MAX_RESOURCES + 1], ..Plan::default() };
    assert_eq!(rule_broken(&buckets), "size-limits");
}

#[test]
fn the_role_policy_must_fit_iam_s_limit() {
    // 10 statements of 25 resources of ~200 characters: far over 10 240.
    let resources: Vec<String> =
        (0..MAX_STATEMENT_ITEMS).map(|i| format!("arn:aws:s3:::tenancy-dev--data/{i}/{}", "k".repeat(180))).collect();
    let refs: Vec<&str> = resources.iter().map(String::as_str).collect();
    let plan = Plan {
        policy_statements: (0..MAX_STATEMENTS)
            .map(|i| PolicyStatement { sid: format!("S{i}"), ..statement(&["s3:GetObject"], &refs, false) })
            .collect(),
        ..Plan::default()
    };
    assert_eq!(rule_broken(&plan), "policy-size");
    let one = Plan { policy_statements: plan.policy_statements[..1].to_vec(), ..Plan::default() };
    check("p", &one, Allowances::default()).unwrap();
}

#[test]
fn default_settings_merged_with_the_tenant_s_must_fit() {
    let own: BTreeMap<String, String> =
        (0..metadata::MAX_SETTINGS - 1).map(|i| (format!("own-{i}"), "v".into())).collect();
    let cidrs = VPC.map(String::from);
    let context = PlanContext { tenant: &dev(), allowances: Allowances::default(), vpc_cidrs: &cidrs, settings: &own };
    let one = Plan { default_settings: BTreeMap::from([("new-0".into(), "v".into())]), ..Plan::default() };
    validate("p", &one, &context).unwrap();
    let two = Plan {
        default_settings: BTreeMap::from([("new-0".into(), "v".into()), ("new-1".into(), "v".into())]),
        ..Plan::default()
    };
    assert_eq!(validate("p", &two, &context).unwrap_err().rule, "settings");
    // A default the tenant already has does not count twice.
    let overlap = Plan {
        default_settings: BTreeMap::from([("own-0".into(), "v".into()), ("new-0".into(), "v".into())]),
        ..Plan::default()
    };
    validate("p", &overlap, &context).unwrap();
}

#[test]
fn catalogue_bucket_names_fit_s3_and_never_collide_across_tenants() {
    let longest = Name::parse("t", &format!("a{}", "b".repeat(crate::names::MAX_NAME_LEN - 1))).unwrap();
    assert!(bucket_name(&longest, &"c".repeat(MAX_SUFFIX_LEN)).len() <= 63);
    let dev_x = Name::parse("t", "dev-x").unwrap();
    assert_ne!(bucket_name(&dev(), "x-data"), bucket_name(&dev_x, "data"));
    for bad in ["", "Data", "1data", "da--ta", "data-", "dätä", "da ta", &"a".repeat(MAX_SUFFIX_LEN + 1)] {
        let plan = Plan { resources: vec![CatalogueResource::Bucket(bad.into())], ..Plan::default() };
        assert_eq!(rule_broken(&plan), "catalogue", "{bad:?}");
    }
}

mod props;

/// The property over accepted plans is only as good as the plans it sees accepted: this
/// pins that the near-valid generator gets a fair share of them, with ARNs and rules.
#[test]
fn the_near_valid_generator_reaches_accepted_plans() {
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut accepted, mut with_arn, mut with_rule) = (0, 0, 0);
    for _ in 0..1000 {
        let plan = props::near_valid_plan_for_test().new_tree(&mut runner).unwrap().current();
        if check("p", &plan, Allowances::default()).is_ok() {
            accepted += 1;
            with_arn += usize::from(plan.policy_statements.iter().any(|s| s.resources.iter().any(|r| r != "*")));
            with_rule += usize::from(!plan.ingress_rules.is_empty());
        }
    }
    assert!(accepted >= 100 && with_arn >= 20 && with_rule >= 20, "{accepted} {with_arn} {with_rule}");
}

#[test]
fn hostile_wildcards_are_checked_quickly() {
    // Every action a pathological wildcard that matches nothing, so every name of the
    // service is tried against it: 250 of them still finish fast.
    let actions: Vec<String> = (0..MAX_STATEMENT_ITEMS).map(|i| format!("ec2:{}Q{i}", "*e".repeat(60))).collect();
    let refs: Vec<&str> = actions.iter().map(String::as_str).collect();
    let plan = Plan {
        policy_statements: (0..MAX_STATEMENTS)
            .map(|i| PolicyStatement { sid: format!("S{i}"), ..statement(&refs, &["*"], true) })
            .collect(),
        ..Plan::default()
    };
    let started = std::time::Instant::now();
    for statement in &plan.policy_statements {
        for action in &statement.actions {
            assert_eq!(actions::check_action(action).unwrap_err().0, "action-not-allowed");
        }
    }
    assert_eq!(rule_broken(&plan), "action-not-allowed");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}
