//! The properties listed in the parent module's documentation.

use proptest::prelude::*;

use super::super::catalogue::catalogue;
use super::*;

const VALID_ACTIONS: [&str; 10] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:Get*",
    "sagemaker:Describe*",
    "glue:GetTable",
    "sqs:SendMessage",
    "dynamodb:Query",
    "s3:?etObject",
    "logs:PutLogEvents",
];
const VALID_CIDRS: [&str; 6] =
    ["10.0.0.0/16", "10.0.1.0/24", "2600:1f18:abcd:1200::/56", "{vpc}", "203.0.113.7/32", "0.0.0.0/0"];
const TENANTS: [&str; 5] = ["dev", "dev2", "dev-data", "victim", "de"];

/// A near-miss of `base`: one character inserted, removed or replaced, or a piece doubled.
fn mutate(base: &'static str) -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("*".to_string()),
        Just("?".to_string()),
        Just(":".to_string()),
        Just("/".to_string()),
        Just("-".to_string()),
        Just("--".to_string()),
        Just(" ".to_string()),
        Just("{account}".to_string()),
        Just("tenancy-dev--".to_string()),
        Just("é".to_string()),
        Just("😀".to_string()),
        Just("\u{0}".to_string()),
        "[a-zA-Z0-9]",
        "\\PC",
    ];
    (0..=base.len(), 0usize..4, pieces, 0usize..3).prop_map(move |(at, len, piece, op)| {
        let mut at = at;
        while !base.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + len).min(base.len());
        while !base.is_char_boundary(end) {
            end += 1;
        }
        match op {
            0 => format!("{}{piece}{}", &base[..at], &base[at..]),
            1 => format!("{}{}", &base[..at], &base[end..]),
            _ => format!("{}{piece}{}", &base[..at], &base[end..]),
        }
    })
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "\\PC{0,40}",
        ".{0,40}",
        "[é😀中a:*?/-]{0,300}",
        (1usize..2000).prop_map(|n| "é".repeat(n)),
        (250usize..270).prop_map(|n| format!("s3:{}", "a".repeat(n))),
    ]
}

fn action() -> impl Strategy<Value = String> {
    let hostile: Vec<&'static str> = HOSTILE_ACTIONS.iter().map(|(a, _)| *a).chain(MALFORMED_ACTIONS).collect();
    prop_oneof![
        3 => proptest::sample::select(VALID_ACTIONS.to_vec()).prop_map(String::from),
        2 => proptest::sample::select(hostile).prop_map(String::from),
        3 => proptest::sample::select(VALID_ACTIONS.to_vec()).prop_flat_map(mutate),
        1 => "[a-z0-9-]{1,12}:[A-Za-z0-9*?]{1,12}",
        1 => any_text(),
    ]
}

/// A valid ARN shape filled in for the tenant under test or a neighbour.
fn filled_arn() -> impl Strategy<Value = String> {
    let templates = prop_oneof![
        Just("arn:aws:s3:::tenancy-{t}--data"),
        Just("arn:aws:s3:::tenancy-{t}--data/*"),
        Just("arn:aws:glue:*:{account}:table/tenancy-{t}--lake/*"),
        Just("arn:aws:sqs:eu-west-1:{account}:tenancy-{t}--q"),
        Just("arn:aws:logs:*:{account}:log-group:tenancy-{t}--x:*"),
        Just("arn:aws:dynamodb:*::table/tenancy-{t}--t/index/*"),
    ];
    let tenants = prop_oneof![3 => Just("dev"), 2 => proptest::sample::select(TENANTS.to_vec())];
    (templates, tenants).prop_map(|(template, tenant)| template.replace("{t}", tenant))
}

fn resource() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just("*".to_string()),
        3 => filled_arn(),
        3 => proptest::sample::select(OWN_ARNS.to_vec()).prop_flat_map(mutate),
        2 => proptest::sample::select(HOSTILE_ARNS.to_vec()).prop_map(String::from),
        1 => any_text(),
    ]
}

fn cidr() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => proptest::sample::select(VALID_CIDRS.to_vec()).prop_map(String::from),
        3 => proptest::sample::select(VALID_CIDRS.to_vec()).prop_flat_map(mutate),
        1 => proptest::sample::select(PUBLIC_CIDRS.to_vec()).prop_map(String::from),
        1 => proptest::sample::select(MALFORMED_CIDRS.to_vec()).prop_map(String::from),
        1 => (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, l)| format!("{}.{}.{}.{}/{l}", a[0], a[1], a[2], a[3])),
        1 => (any::<u128>(), 0u8..=128).prop_map(|(a, l)| format!("{}/{l}", std::net::Ipv6Addr::from(a))),
        1 => any_text(),
    ]
}

fn statement() -> impl Strategy<Value = PolicyStatement> {
    (
        prop_oneof!["[A-Za-z0-9]{1,8}", any_text()],
        proptest::collection::vec(action(), 0..4),
        proptest::collection::vec(resource(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(sid, actions, resources, tenant_tag_condition)| PolicyStatement {
            sid,
            actions,
            resources,
            tenant_tag_condition,
        })
}

fn ingress_rule() -> impl Strategy<Value = IngressRule> {
    (
        prop_oneof![Just("tcp".to_string()), Just("udp".to_string()), Just("icmp".to_string()), any_text()],
        any::<u16>(),
        any::<u16>(),
        cidr(),
        prop_oneof![Just("ok".to_string()), any_text()],
    )
        .prop_map(|(protocol, a, b, cidr, description)| IngressRule {
            protocol,
            from_port: a.min(b),
            to_port: if a % 7 == 0 { a } else { a.max(b) },
            cidr,
            description,
        })
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        proptest::collection::btree_map(prop_oneof!["[a-z]{1,8}", any_text()], any_text(), 0..7),
        proptest::collection::vec(statement(), 0..4),
        proptest::collection::vec(ingress_rule(), 0..4),
        proptest::collection::btree_map(prop_oneof!["[a-z-]{1,12}", any_text()], any_text(), 0..3),
        proptest::collection::vec(prop_oneof!["[a-z][a-z0-9-]{0,20}", any_text()], 0..3),
    )
        .prop_map(|(tags, policy_statements, ingress_rules, default_settings, buckets)| Plan {
            tags,
            policy_statements,
            ingress_rules,
            default_settings,
            resources: buckets.into_iter().map(CatalogueResource::Bucket).collect(),
        })
}

/// A plan close to valid: well-formed tags, ids, protocols, descriptions and buckets,
/// so that validation gets as far as the actions, resources and sources, which are
/// valid, hostile or near-miss mutations of valid ones.
fn near_valid_plan() -> impl Strategy<Value = Plan> {
    let hostile: Vec<&'static str> = HOSTILE_ACTIONS.iter().map(|(a, _)| *a).chain(MALFORMED_ACTIONS).collect();
    let action = prop_oneof![
        8 => proptest::sample::select(VALID_ACTIONS.to_vec()).prop_map(String::from),
        2 => proptest::sample::select(VALID_ACTIONS.to_vec()).prop_flat_map(mutate),
        1 => proptest::sample::select(hostile).prop_map(String::from),
    ];
    let resource = prop_oneof![
        2 => Just("*".to_string()),
        4 => filled_arn(),
        3 => proptest::sample::select(OWN_ARNS.to_vec()).prop_map(String::from),
        3 => proptest::sample::select(OWN_ARNS.to_vec()).prop_flat_map(mutate),
        1 => proptest::sample::select(HOSTILE_ARNS.to_vec()).prop_map(String::from),
    ];
    let cidr = prop_oneof![
        3 => proptest::sample::select(VALID_CIDRS.to_vec()).prop_map(String::from),
        2 => proptest::sample::select(VALID_CIDRS.to_vec()).prop_flat_map(mutate),
        3 => (any::<[u8; 3]>(), 8u8..=32).prop_map(|(a, l)| {
            let address = std::net::Ipv4Addr::new(10, a[0] % 2, a[1], a[2]);
            ipnet::Ipv4Net::new(address, l).map(|n| n.trunc().to_string()).unwrap_or_default()
        }),
        1 => proptest::sample::select(PUBLIC_CIDRS.to_vec()).prop_map(String::from),
    ];
    let statement = (
        proptest::collection::vec(action, 1..3),
        proptest::collection::vec(resource, 1..3),
        proptest::bool::weighted(0.7),
    );
    let rule = (proptest::sample::select(vec!["tcp", "udp", "icmp"]), 0u16..100, 0u16..100, cidr);
    (
        proptest::collection::btree_map("[a-z]{1,8}", "[a-z0-9 ]{0,8}", 0..=MAX_PLAN_TAGS),
        proptest::collection::vec(statement, 0..3),
        proptest::collection::vec(rule, 0..3),
        proptest::collection::btree_map("[a-z-]{1,12}", "[a-z0-9.]{0,12}", 0..3),
        proptest::collection::vec("[a-z][a-z0-9]{0,8}", 0..3),
    )
        .prop_map(|(tags, statements, rules, default_settings, buckets)| Plan {
            tags,
            policy_statements: statements
                .into_iter()
                .enumerate()
                .map(|(i, (actions, resources, tenant_tag_condition))| PolicyStatement {
                    sid: format!("S{i}"),
                    actions,
                    resources,
                    tenant_tag_condition,
                })
                .collect(),
            ingress_rules: rules
                .into_iter()
                .enumerate()
                .map(|(i, (protocol, a, b, cidr))| IngressRule {
                    protocol: protocol.into(),
                    from_port: a.min(b),
                    to_port: a.max(b) + i as u16 * 100,
                    cidr,
                    description: format!("rule {i}"),
                })
                .collect(),
            default_settings,
            resources: buckets.into_iter().map(CatalogueResource::Bucket).collect(),
        })
}

pub(super) fn near_valid_plan_for_test() -> impl Strategy<Value = Plan> {
    near_valid_plan()
}

/// An independent reading of "the tenant's own resource": some resource type of the
/// service has a literal resource prefix (before its first variable) after which the
/// ARN's resource part begins with the tenant prefix, the account is no literal id, and
/// nothing before the prefix's end is a wildcard.
fn names_only_the_tenant(tenant: &Name, arn: &str) -> bool {
    let own = format!("tenancy-{tenant}--");
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, region, account, resource] = parts[..] else { return false };
    if !(account.is_empty() || account == "{account}") || resource.contains(['$', '{', '}', ' ']) {
        return false;
    }
    catalogue().resource_types_of(service).any(|kind| {
        let t_resource = kind.template.splitn(6, ':').nth(5).unwrap_or("");
        let literal = t_resource.split("${").next().unwrap_or("");
        resource.strip_prefix(literal).is_some_and(|name| name.starts_with(&own) && name.len() > own.len())
    }) && (region == "*" || !region.contains(['*', '?']))
}

fn action_allowed(action: &str) -> bool {
    let Some((service, name)) = action.split_once(':') else { return false };
    let found = super::super::actions::expand(service, name);
    !found.is_empty() && found.iter().all(|a| super::super::actions::refused_because(a).is_none())
}

fn context_check(plan: &Plan, allowances: Allowances) -> Result<(), Refusal> {
    let settings = BTreeMap::new();
    let cidrs = VPC.map(String::from);
    validate("p", plan, &PlanContext { tenant: &dev(), allowances, vpc_cidrs: &cidrs, settings: &settings })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn validate_never_panics(plan in prop_oneof![plan(), near_valid_plan()], public in any::<bool>()) {
        let _ = context_check(&plan, Allowances { public_ingress: public });
    }

    #[test]
    fn accepted_plans_reach_only_the_tenant(plan in near_valid_plan(), public in any::<bool>()) {
        let allowances = Allowances { public_ingress: public };
        if context_check(&plan, allowances).is_ok() {
            for statement in &plan.policy_statements {
                for resource in &statement.resources {
                    if resource == "*" {
                        prop_assert!(statement.tenant_tag_condition);
                    } else {
                        prop_assert!(names_only_the_tenant(&dev(), resource), "{resource}");
                    }
                }
                for action in &statement.actions {
                    prop_assert!(action_allowed(action), "{action}");
                }
            }
            let vpc = ingress::vpc_networks(&VPC.map(String::from));
            for rule in &plan.ingress_rules {
                if rule.cidr != VPC_PLACEHOLDER && !public {
                    let net: ipnet::IpNet = rule.cidr.parse().unwrap();
                    prop_assert!(vpc.iter().any(|block| block.contains(&net)), "{}", rule.cidr);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn check_action_is_total_and_sound(action in action()) {
        if actions::check_action(&action).is_ok() {
            prop_assert!(action_allowed(&action), "{action}");
            prop_assert!(!action.contains(char::is_whitespace));
            prop_assert_eq!(action.matches(':').count(), 1);
        }
    }

    #[test]
    fn arns_accepted_start_with_the_tenant_prefix(arn in resource(), tenant in proptest::sample::select(TENANTS.to_vec())) {
        let tenant = Name::parse("t", tenant).unwrap();
        if arn != "*" && arns::check_resource_arn(&tenant, &arn).is_ok() {
            prop_assert!(names_only_the_tenant(&tenant, &arn), "{arn} for {tenant}");
        }
    }

    #[test]
    fn cidrs_accepted_are_canonical_networks(cidr in cidr()) {
        if let Ok(net) = ingress::parse_cidr(&cidr) {
            prop_assert_eq!(net.to_string(), cidr.clone());
            prop_assert_eq!(net.trunc(), net);
            if let ipnet::IpNet::V6(v6) = net {
                let mapped: ipnet::Ipv6Net = "::ffff:0:0/96".parse().unwrap();
                let compatible: ipnet::Ipv6Net = "::/96".parse().unwrap();
                prop_assert!(!mapped.contains(&v6) && !compatible.contains(&v6));
            }
        }
    }
}
