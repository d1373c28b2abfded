//! Plans: what a tenant-type plugin asks for, and the rules every plan must pass before
//! anything of it is applied. A plugin never acts; it proposes, and this module decides.
//!
//! The rules are the security boundary between a plugin and the control plane: a plan may
//! only ever reach the tenant it was made for. Resources are the tenant's by ARN (the
//! catalogue names `tenancy-<tenant>--<suffix>`: `--` never occurs in a tenant name, so no
//! tenant's pattern can match another's) or by the tenant tag condition, which Tenancy adds.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{Name, RESOURCE_PREFIX};
use crate::tenant;

/// Most tags a plan may add: 4 of Tenancy's, 40 of the user's and these fit AWS's 50.
pub const MAX_PLAN_TAGS: usize = 6;
/// Most policy statements in a plan.
pub const MAX_STATEMENTS: usize = 10;
/// Most actions, and most resources, in one statement.
pub const MAX_STATEMENT_ITEMS: usize = 25;
/// Most ingress rules in a plan.
pub const MAX_INGRESS_RULES: usize = 10;
/// Most default settings in a plan.
pub const MAX_DEFAULT_SETTINGS: usize = 20;
/// Most catalogue resources in a plan.
pub const MAX_RESOURCES: usize = 5;
/// Longest string anywhere in a plan (setting values have their own limit).
pub const MAX_STRING_LEN: usize = 256;
/// Longest catalogue suffix: `tenancy-` + 32 + `--` + 16 = 58, within S3's 63.
pub const MAX_SUFFIX_LEN: usize = 16;

/// AWS services a plan may never grant anything in: identity, credentials, the organization.
pub const FORBIDDEN_SERVICES: [&str; 4] = ["iam", "sts", "organizations", "account"];

/// One extra statement for the tenant role's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatement {
    /// Statement id (letters and digits).
    pub sid: String,
    /// `service:Action` names.
    pub actions: Vec<String>,
    /// ARNs of the tenant's resources, or `*` with `tenant_tag_condition`.
    pub resources: Vec<String>,
    /// Binds the statement to resources tagged with the tenant.
    pub tenant_tag_condition: bool,
}

/// One extra ingress rule on the tenant's security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressRule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// First port.
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// Source CIDR.
    pub cidr: String,
    /// Why the rule exists.
    pub description: String,
}

/// A resource from the fixed catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "suffix")]
pub enum CatalogueResource {
    /// An S3 bucket `tenancy-<tenant>--<suffix>`, encrypted with the tenant key, public access blocked.
    Bucket(String),
}

/// What a hook asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Extra tags for every resource.
    pub tags: BTreeMap<String, String>,
    /// Extra statements for the tenant role.
    pub policy_statements: Vec<PolicyStatement>,
    /// Extra ingress rules.
    pub ingress_rules: Vec<IngressRule>,
    /// Settings to set where the tenant has none.
    pub default_settings: BTreeMap<String, String>,
    /// Extra resources.
    pub resources: Vec<CatalogueResource>,
}

/// A request to give a user access to a tenant, as plugins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantRequest {
    /// The user's subject.
    pub user_id: String,
    /// The user's e-mail, when known.
    pub user_email: Option<String>,
    /// `read-only` or `admin`.
    pub level: String,
}

/// A plugin's answer to a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GrantDecision {
    /// The grant may go ahead.
    Allow,
    /// The grant is refused, with the reason.
    Deny(String),
}

/// What a plugin declared and an admin allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allowances {
    /// The plugin's manifest declares `public-ingress`, and an admin enabled it.
    pub public_ingress: bool,
}

/// A plan that broke a rule. Names the plugin and the rule, so the tenant's failure says
/// who asked for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The plugin.
    pub plugin: String,
    /// The rule, as a stable slug.
    pub rule: &'static str,
    /// What in the plan broke it.
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin '{}' broke the rule '{}': {}", self.plugin, self.rule, self.detail)
    }
}

impl std::error::Error for Refusal {}

/// The name of a catalogue bucket.
pub fn bucket_name(tenant: &Name, suffix: &str) -> String {
    format!("{RESOURCE_PREFIX}-{tenant}--{suffix}")
}

/// Checks every rule; the first broken one refuses the whole plan.
pub fn validate(plugin: &str, tenant: &Name, plan: &Plan, allowances: Allowances) -> Result<(), Refusal> {
    let refuse = |rule: &'static str, detail: String| Refusal { plugin: plugin.to_string(), rule, detail };
    check_sizes(plan).map_err(|detail| refuse("size-limits", detail))?;
    tenant::validate_tags(&plan.tags).map_err(|e| refuse("tag-namespace", e.to_string()))?;
    if plan.tags.len() > MAX_PLAN_TAGS {
        return Err(refuse("size-limits", format!("at most {MAX_PLAN_TAGS} tags, got {}", plan.tags.len())));
    }
    tenant::validate_settings(&plan.default_settings).map_err(|e| refuse("settings", e.to_string()))?;
    for statement in &plan.policy_statements {
        check_statement(tenant, statement).map_err(|(rule, detail)| refuse(rule, detail))?;
    }
    for rule in &plan.ingress_rules {
        check_ingress(rule, allowances).map_err(|(name, detail)| refuse(name, detail))?;
    }
    for resource in &plan.resources {
        let CatalogueResource::Bucket(suffix) = resource;
        check_suffix(suffix).map_err(|detail| refuse("catalogue", detail))?;
    }
    Ok(())
}

fn check_sizes(plan: &Plan) -> Result<(), String> {
    let counts = [
        ("policy statements", plan.policy_statements.len(), MAX_STATEMENTS),
        ("ingress rules", plan.ingress_rules.len(), MAX_INGRESS_RULES),
        ("default settings", plan.default_settings.len(), MAX_DEFAULT_SETTINGS),
        ("resources", plan.resources.len(), MAX_RESOURCES),
    ];
    for (what, count, max) in counts {
        if count > max {
            return Err(format!("at most {max} {what}, got {count}"));
        }
    }
    for statement in &plan.policy_statements {
        if statement.actions.len() > MAX_STATEMENT_ITEMS || statement.resources.len() > MAX_STATEMENT_ITEMS {
            return Err(format!("statement '{}': at most {MAX_STATEMENT_ITEMS} actions and resources", statement.sid));
        }
        let strings = statement.actions.iter().chain(&statement.resources).chain(std::iter::once(&statement.sid));
        if let Some(long) = strings.into_iter().find(|s| s.len() > MAX_STRING_LEN) {
            return Err(format!("'{}…' is longer than {MAX_STRING_LEN} characters", &long[..32]));
        }
    }
    for rule in &plan.ingress_rules {
        if rule.description.len() > MAX_STRING_LEN || rule.cidr.len() > 64 {
            return Err("an ingress rule's description or CIDR is too long".into());
        }
    }
    Ok(())
}

fn check_statement(tenant: &Name, statement: &PolicyStatement) -> Result<(), (&'static str, String)> {
    let sid = &statement.sid;
    if sid.is_empty() || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(("statement-shape", format!("statement id '{sid}' must be letters and digits")));
    }
    if statement.actions.is_empty() || statement.resources.is_empty() {
        return Err(("statement-shape", format!("statement '{sid}' needs actions and resources")));
    }
    for action in &statement.actions {
        let Some((service, name)) = action.split_once(':') else {
            return Err(("no-wildcard-actions", format!("'{action}' in '{sid}' is not a service:Action name")));
        };
        if service.is_empty() || name.is_empty() || service.contains(['*', '?']) {
            return Err(("no-wildcard-actions", format!("'{action}' in '{sid}' must name one service")));
        }
        if FORBIDDEN_SERVICES.contains(&service.to_ascii_lowercase().as_str()) {
            return Err((
                "no-identity-actions",
                format!("'{action}' in '{sid}': plans may grant nothing in {}", FORBIDDEN_SERVICES.join(", ")),
            ));
        }
    }
    for resource in &statement.resources {
        if resource == "*" {
            if !statement.tenant_tag_condition {
                return Err((
                    "tenant-resources-only",
                    format!("'{sid}' grants on '*' without the tenant tag condition"),
                ));
            }
            continue;
        }
        check_resource_arn(tenant, resource)
            .map_err(|why| ("tenant-resources-only", format!("'{resource}' in '{sid}': {why}")))?;
    }
    Ok(())
}

/// An ARN belongs to the tenant when a segment of its resource part starts with
/// `tenancy-<tenant>--` and every wildcard comes after that prefix, and its account is
/// this one: empty, or the `{account}` placeholder the host fills in. A literal account
/// id is refused, since a plugin cannot know which account a deployment runs in, and any
/// id it wrote could be another's.
fn check_resource_arn(tenant: &Name, arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, _partition, service, region, account, resource] = parts[..] else {
        return Err("not an ARN (arn:partition:service:region:account:resource)".into());
    };
    if prefix != "arn" || service.is_empty() {
        return Err("not an ARN (arn:partition:service:region:account:resource)".into());
    }
    if FORBIDDEN_SERVICES.contains(&service) {
        return Err(format!("resources of {service} are never a plan's"));
    }
    let account_ok = account.is_empty() || account == "{account}";
    if !account_ok || region.contains('?') {
        return Err("the account must be this one: leave it empty or write {account}".into());
    }
    let own = format!("{RESOURCE_PREFIX}-{tenant}--");
    let owned_at =
        resource.match_indices(&own).map(|(at, _)| at).find(|&at| at == 0 || resource[..at].ends_with(['/', ':']));
    match owned_at {
        Some(at) if !resource[..at].contains(['*', '?']) && resource.len() > at + own.len() => Ok(()),
        Some(_) => Err(format!("wildcards may only follow '{own}<suffix>'")),
        None => Err(format!("only the tenant's own resources, named '{own}<suffix>', may be granted")),
    }
}

fn check_ingress(rule: &IngressRule, allowances: Allowances) -> Result<(), (&'static str, String)> {
    if !["tcp", "udp", "icmp"].contains(&rule.protocol.as_str()) {
        return Err(("ingress-shape", format!("protocol '{}' is not tcp, udp or icmp", rule.protocol)));
    }
    if rule.from_port > rule.to_port {
        return Err(("ingress-shape", format!("ports {}-{} are reversed", rule.from_port, rule.to_port)));
    }
    let Some((address, length)) = rule.cidr.split_once('/') else {
        return Err(("ingress-shape", format!("'{}' is not a CIDR", rule.cidr)));
    };
    let length: u8 = length.parse().map_err(|_| ("ingress-shape", format!("'{}' is not a CIDR", rule.cidr)))?;
    let world_open = match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) if length <= 32 => length < 8,
        Ok(std::net::IpAddr::V6(_)) if length <= 128 => length < 16,
        _ => return Err(("ingress-shape", format!("'{}' is not a CIDR", rule.cidr))),
    };
    if world_open && !allowances.public_ingress {
        return Err((
            "no-public-ingress",
            format!(
                "'{}' opens the group to the internet; the plugin must declare 'public-ingress' and an admin enable it",
                rule.cidr
            ),
        ));
    }
    Ok(())
}

fn check_suffix(suffix: &str) -> Result<(), String> {
    let ok = !suffix.is_empty()
        && suffix.len() <= MAX_SUFFIX_LEN
        && suffix.starts_with(|c: char| c.is_ascii_lowercase())
        && suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !suffix.ends_with('-')
        && !suffix.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bucket suffix '{suffix}' must be 1 to {MAX_SUFFIX_LEN} lowercase letters, digits and single hyphens, starting with a letter"
        ))
    }
}

#[cfg(test)]
mod tests {
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

    fn rule_broken(plan: &Plan) -> &'static str {
        validate("p", &dev(), plan, Allowances::default()).unwrap_err().rule
    }

    #[test]
    fn a_plan_within_the_tenant_passes() {
        let plan = Plan {
            tags: BTreeMap::from([("workload".into(), "data-science".into())]),
            policy_statements: vec![
                statement(&["s3:GetObject", "s3:PutObject"], &["arn:aws:s3:::tenancy-dev--data/*"], false),
                statement(&["sagemaker:CreateTrainingJob"], &["*"], true),
                statement(&["glue:GetTable"], &["arn:aws:glue:*:{account}:table/tenancy-dev--lake/*"], false),
            ],
            ingress_rules: vec![IngressRule {
                protocol: "tcp".into(),
                from_port: 443,
                to_port: 443,
                cidr: "10.0.0.0/16".into(),
                description: "from the VPC".into(),
            }],
            default_settings: BTreeMap::from([("instance-size".into(), "large".into())]),
            resources: vec![CatalogueResource::Bucket("data".into())],
        };
        validate("data-science", &dev(), &plan, Allowances::default()).unwrap();
    }

    #[test]
    fn wildcard_and_identity_actions_are_refused() {
        assert_eq!(rule_broken(&with_statement(statement(&["*"], &["*"], true))), "no-wildcard-actions");
        assert_eq!(rule_broken(&with_statement(statement(&["*:GetObject"], &["*"], true))), "no-wildcard-actions");
        for action in ["iam:*", "iam:PassRole", "sts:AssumeRole", "organizations:ListAccounts", "IAM:CreateUser"] {
            assert_eq!(
                rule_broken(&with_statement(statement(&[action], &["*"], true))),
                "no-identity-actions",
                "{action}"
            );
        }
    }

    #[test]
    fn resources_outside_the_tenant_are_refused() {
        let cases = [
            "*",                                                 // without the tag condition
            "arn:aws:s3:::tenancy-dev2--data/*",                 // another tenant
            "arn:aws:s3:::tenancy-dev*",                         // wildcard reaching dev2, dev-x...
            "arn:aws:s3:::tenancy-dev-data--x",                  // tenant dev-data's bucket
            "arn:aws:s3:::other-tenancy-dev--data",              // not at a segment start
            "arn:aws:s3:::*/tenancy-dev--data",                  // wildcard before the prefix
            "arn:aws:glue:*:*:table/tenancy-dev--lake/*",        // any account
            "arn:aws:sqs:us-east-1:999999999999:tenancy-dev--q", // a named account, maybe another
            "arn:aws:iam::{account}:role/tenancy-dev--x",        // identity
            "arn:aws:s3:::tenancy-dev--",                        // the bare prefix
            "not-an-arn",
        ];
        for resource in cases {
            assert_eq!(
                rule_broken(&with_statement(statement(&["s3:GetObject"], &[resource], false))),
                "tenant-resources-only",
                "{resource}"
            );
        }
    }

    #[test]
    fn opening_the_group_to_the_internet_needs_the_allowance() {
        for cidr in ["0.0.0.0/0", "::/0", "0.0.0.0/1"] {
            let plan = Plan {
                ingress_rules: vec![IngressRule {
                    protocol: "tcp".into(),
                    from_port: 443,
                    to_port: 443,
                    cidr: cidr.into(),
                    description: "public".into(),
                }],
                ..Plan::default()
            };
            assert_eq!(rule_broken(&plan), "no-public-ingress", "{cidr}");
            validate("p", &dev(), &plan, Allowances { public_ingress: true }).unwrap();
        }
    }

    #[test]
    fn malformed_ingress_rules_are_refused() {
        for (protocol, from, to, cidr) in [
            ("gre", 1, 1, "10.0.0.0/8"),
            ("tcp", 9, 1, "10.0.0.0/8"),
            ("tcp", 1, 1, "10.0.0.0"),
            ("tcp", 1, 1, "10.0.0.0/33"),
        ] {
            let plan = Plan {
                ingress_rules: vec![IngressRule {
                    protocol: protocol.into(),
                    from_port: from,
                    to_port: to,
                    cidr: cidr.into(),
                    description: String::new(),
                }],
                ..Plan::default()
            };
            assert_eq!(rule_broken(&plan), "ingress-shape", "{protocol} {from}-{to} {cidr}");
        }
    }

    #[test]
    fn tenancy_tags_cannot_be_overridden() {
        let plan = Plan { tags: BTreeMap::from([("tenancy:tenant".into(), "other".into())]), ..Plan::default() };
        assert_eq!(rule_broken(&plan), "tag-namespace");
        let refusal = validate("per-client", &dev(), &plan, Allowances::default()).unwrap_err().to_string();
        assert!(refusal.starts_with("plugin 'per-client' broke the rule 'tag-namespace'"), "{refusal}");
    }

    #[test]
    fn oversized_plans_are_refused() {
        let many = Plan {
            policy_statements: vec![statement(&["s3:GetObject"], &["*"], true); MAX_STATEMENTS + 1],
            ..Plan::default()
        };
        assert_eq!(rule_broken(&many), "size-limits");
        let tags =
            Plan { tags: (0..=MAX_PLAN_TAGS).map(|i| (format!("k{i}"), "v".into())).collect(), ..Plan::default() };
        assert_eq!(rule_broken(&tags), "size-limits");
        let long = with_statement(statement(&[&format!("s3:{}", "A".repeat(MAX_STRING_LEN))], &["*"], true));
        assert_eq!(rule_broken(&long), "size-limits");
    }

    #[test]
    fn catalogue_bucket_names_fit_s3_and_never_collide_across_tenants() {
        let longest = Name::parse("t", &format!("a{}", "b".repeat(crate::names::MAX_NAME_LEN - 1))).unwrap();
        assert!(bucket_name(&longest, &"c".repeat(MAX_SUFFIX_LEN)).len() <= 63);
        // `dev` with suffix `x-data` and `dev-x` with suffix `data` stay distinct.
        let dev_x = Name::parse("t", "dev-x").unwrap();
        assert_ne!(bucket_name(&dev(), "x-data"), bucket_name(&dev_x, "data"));
        for bad in ["", "Data", "1data", "da--ta", "data-", &"a".repeat(MAX_SUFFIX_LEN + 1)] {
            let plan = Plan { resources: vec![CatalogueResource::Bucket(bad.into())], ..Plan::default() };
            assert_eq!(rule_broken(&plan), "catalogue", "{bad:?}");
        }
    }
}
