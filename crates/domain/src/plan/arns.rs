//! Which resources a plan may name: ARNs of the tenant's own resources, checked against the
//! ARN templates of AWS's IAM reference (the generated catalogue).
//!
//! An ARN `arn:<partition>:<service>:<region>:<account>:<resource>` is the tenant's when it
//! matches one of its service's resource-type templates, where the partition is `aws`,
//! `aws-cn` or `aws-us-gov`; `${Region}` is a region code or `*`; `${Account}` is empty or
//! the `{account}` placeholder the host fills in (a plugin cannot know the account, and any
//! id it wrote could be another's); literal parts match exactly; and the first variable of
//! the resource part (the resource's name: `${BucketName}`, `${TableName}`, `${QueueName}`,
//! `${LogGroupName}`...) begins with `tenancy-<tenant>--` and at least one more character.
//! Wildcards may follow that prefix, never precede it. `--` never occurs in a tenant name,
//! so no tenant's prefix is a prefix of another's.

use super::catalogue::{FORBIDDEN_SERVICES, catalogue};
use crate::names::{Name, RESOURCE_PREFIX};

/// The placeholder a plan writes for the deployment's account id.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// Partitions an ARN may name.
pub const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// The prefix of every name the tenant owns: `tenancy-<tenant>--`.
pub fn tenant_prefix(tenant: &Name) -> String {
    format!("{RESOURCE_PREFIX}-{tenant}--")
}

/// A region code such as `eu-west-1` or `us-gov-west-1`.
pub fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit()))
}

/// One piece of an ARN template's resource part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    Variable,
}

/// Splits `table/${DatabaseName}/${TableName}` into literals and variables; `None` if a
/// `${` is not closed.
fn pieces(template: &str) -> Option<Vec<Piece<'_>>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            out.push(Piece::Literal(&rest[..start]));
        }
        let end = rest[start..].find('}')? + start;
        out.push(Piece::Variable);
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Literal(rest));
    }
    Some(out)
}

/// Matches a resource part against a template's pieces. Variables match any non-empty run;
/// all but the last exclude `/` and `:`; the first must begin with `own` and go on past it.
/// Backtracking, with failed (piece, position) pairs remembered, so at most
/// pieces × length² steps.
fn matches_pieces(pieces: &[Piece<'_>], text: &str, own: &str) -> bool {
    let Some(first) = pieces.iter().position(|p| *p == Piece::Variable) else {
        return false; // nothing in it is a name: not the tenant's
    };
    let last = pieces.iter().rposition(|p| *p == Piece::Variable).unwrap_or(first);
    let mut failed = vec![false; (pieces.len() + 1) * (text.len() + 1)];
    let mut matcher = Matcher { pieces, text: text.as_bytes(), own: own.as_bytes(), first, last, failed: &mut failed };
    matcher.at(0, 0)
}

struct Matcher<'p, 'a, 'f> {
    pieces: &'p [Piece<'a>],
    text: &'p [u8],
    own: &'p [u8],
    first: usize,
    last: usize,
    failed: &'f mut [bool],
}

impl Matcher<'_, '_, '_> {
    fn at(&mut self, piece: usize, pos: usize) -> bool {
        let Some(&current) = self.pieces.get(piece) else {
            return pos == self.text.len();
        };
        let key = piece * (self.text.len() + 1) + pos;
        if self.failed.get(key).copied().unwrap_or(true) {
            return false;
        }
        let matched = match current {
            Piece::Literal(literal) => {
                self.text[pos..].starts_with(literal.as_bytes()) && self.at(piece + 1, pos + literal.len())
            }
            Piece::Variable => {
                let mut found = false;
                for end in pos + 1..=self.text.len() {
                    let value = &self.text[pos..end];
                    if piece != self.last && matches!(value.last(), Some(b'/' | b':')) {
                        break; // longer values contain it too
                    }
                    if piece == self.first && !(value.len() > self.own.len() && value.starts_with(self.own)) {
                        continue;
                    }
                    if self.at(piece + 1, end) {
                        found = true;
                        break;
                    }
                }
                found
            }
        };
        if !matched {
            self.failed[key] = true;
        }
        matched
    }
}

/// Characters an ARN of a plan may hold: printable ASCII but space, `$`, `{` and `}`.
fn is_arn_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '$' | '{' | '}')
}

/// Checks that `arn` names only resources of `tenant`; the error says why not.
pub fn check_resource_arn(tenant: &Name, arn: &str) -> Result<(), String> {
    const SHAPE: &str = "not an ARN (arn:partition:service:region:account:resource)";
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(SHAPE.into());
    };
    if prefix != "arn" || service.is_empty() || resource.is_empty() {
        return Err(SHAPE.into());
    }
    if FORBIDDEN_SERVICES.contains(&service.to_ascii_lowercase().as_str()) {
        return Err(format!("resources of {service} are never a plan's"));
    }
    if !account.is_empty() && account != ACCOUNT_PLACEHOLDER {
        return Err(format!("the account must be this one: leave it empty or write {ACCOUNT_PLACEHOLDER}"));
    }
    let others = [prefix, partition, service, region, resource];
    if !others.iter().all(|part| part.chars().all(is_arn_char)) {
        return Err("only printable ASCII, without spaces, '$', '{' or '}' (but the {account} placeholder)".into());
    }
    if !PARTITIONS.contains(&partition) {
        return Err(format!("the partition must be one of {}", PARTITIONS.join(", ")));
    }
    let catalogue = catalogue();
    if !catalogue.has_service(service) {
        return Err(format!("only resources of {} may be named", catalogue.services.join(", ")));
    }
    let own = tenant_prefix(tenant);
    for kind in catalogue.resource_types_of(service) {
        let template: Vec<&str> = kind.template.splitn(6, ':').collect();
        let [_, _, t_service, t_region, t_account, t_resource] = template[..] else {
            continue;
        };
        let region_ok = match t_region {
            "${Region}" => region == "*" || is_region_code(region),
            literal => region == literal,
        };
        let account_ok = match t_account {
            "${Account}" => true, // empty or the placeholder, checked above
            literal => account == literal,
        };
        if t_service != service || !region_ok || !account_ok {
            continue;
        }
        if pieces(t_resource).is_some_and(|p| matches_pieces(&p, resource, &own)) {
            return Ok(());
        }
    }
    Err(format!(
        "matches no {service} resource type whose name starts with '{own}<suffix>' \
         (region a code or *, account empty or {ACCOUNT_PLACEHOLDER}, no wildcard before the name's prefix ends)"
    ))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn dev() -> Name {
        Name::parse("tenant", "dev").unwrap()
    }

    /// ARNs a plan for tenant `dev` may name.
    pub(crate) const OWN_ARNS: [&str; 20] = [
        "arn:aws:s3:::tenancy-dev--data",
        "arn:aws:s3:::tenancy-dev--data/*",
        "arn:aws:s3:::tenancy-dev--data/a/b/c.txt",
        "arn:aws:s3:::tenancy-dev--d*",
        "arn:aws:s3:::tenancy-dev--*",
        "arn:aws-cn:s3:::tenancy-dev--data/*",
        "arn:aws-us-gov:s3:::tenancy-dev--data",
        "arn:aws:glue:*:{account}:table/tenancy-dev--lake/*",
        "arn:aws:glue:eu-west-1:{account}:database/tenancy-dev--lake",
        "arn:aws:glue:eu-west-1::database/tenancy-dev--lake",
        "arn:aws:dynamodb:eu-west-1:{account}:table/tenancy-dev--t",
        "arn:aws:dynamodb:*:{account}:table/tenancy-dev--t/index/*",
        "arn:aws:sqs:us-east-1:{account}:tenancy-dev--q",
        "arn:aws:sqs:*:{account}:tenancy-dev--q?",
        "arn:aws:sns:us-gov-west-1:{account}:tenancy-dev--topic",
        "arn:aws:logs:*:{account}:log-group:tenancy-dev--x",
        "arn:aws:logs:*:{account}:log-group:tenancy-dev--x:*",
        "arn:aws:logs:*:{account}:log-group:tenancy-dev--x:log-stream:*",
        "arn:aws:secretsmanager:*:{account}:secret:tenancy-dev--s-*",
        "arn:aws:sagemaker:*:{account}:training-job/tenancy-dev--job*",
    ];

    /// ARNs a plan for tenant `dev` may never name.
    pub(crate) const HOSTILE_ARNS: [&str; 63] = [
        "*",
        "",
        "arn",
        "arn:",
        "not-an-arn",
        "arn:aws:s3",
        "arn:aws:s3:::",
        "arn:aws:s3:::tenancy-dev2--data/*",
        "arn:aws:s3:::tenancy-dev*",
        "arn:aws:s3:::tenancy-dev-*",
        "arn:aws:s3:::tenancy-dev-data--x",
        "arn:aws:s3:::tenancy-dev-data--x/*",
        "arn:aws:s3:::other-tenancy-dev--data",
        "arn:aws:s3:::*/tenancy-dev--data",
        "arn:aws:s3:::*tenancy-dev--data",
        "arn:aws:s3:::?enancy-dev--data",
        "arn:aws:s3:::tenancy-dev?-data",
        "arn:aws:s3:::tenancy-victim--data/tenancy-dev--x/*",
        "arn:aws:s3:::tenancy-dev--",
        "arn:aws:s3:::TENANCY-DEV--data",
        "arn:aws:s3:::tenancy-dev--data ",
        " arn:aws:s3:::tenancy-dev--data",
        "arn:aws:s3:::tenancy-dev--da ta",
        "arn:aws:s3:::tenancy-dev--data\n",
        "arn:aws:s3:::tenancy-dev--dätä",
        "arn:aws:s3:::tenancy-dev--${aws:username}",
        "arn:aws:s3:::tenancy-dev--{x}",
        "arn:aws:s3:::tenancy-dev--$",
        "arn:aws:s3:*::tenancy-dev--data",
        "arn:aws:s3::{account}:tenancy-dev--data",
        "arn:aws:s3:eu-west-1::tenancy-dev--data",
        "arn:*:s3:::tenancy-dev--data",
        "arn:aws-xx:s3:::tenancy-dev--data",
        "arn:AWS:s3:::tenancy-dev--data",
        "ARN:aws:s3:::tenancy-dev--data",
        "arn:aws:S3:::tenancy-dev--data",
        "arn:aws:s3*:::tenancy-dev--data",
        "arn:aws:*:::tenancy-dev--data",
        "arn:aws:glue:*:*:table/tenancy-dev--lake/*",
        "arn:aws:glue:*:{account}*:table/tenancy-dev--lake/*",
        "arn:aws:glue:*:{Account}:table/tenancy-dev--lake/*",
        "arn:aws:glue:*:${Account}:table/tenancy-dev--lake/*",
        "arn:aws:glue:*:123456789012:table/tenancy-dev--lake/*",
        "arn:aws:glue:eu-west-?:{account}:table/tenancy-dev--lake/*",
        "arn:aws:glue:eu*:{account}:table/tenancy-dev--lake/*",
        "arn:aws:glue:EU-WEST-1:{account}:table/tenancy-dev--lake/*",
        "arn:aws:glue::{account}:table/tenancy-dev--lake/*",
        "arn:aws:glue:*:{account}:catalog",
        "arn:aws:glue:*:{account}:*/tenancy-dev--lake",
        "arn:aws:glue:*:{account}:table/*/tenancy-dev--lake",
        "arn:aws:glue:*:{account}:Table/tenancy-dev--lake/*",
        "arn:aws:glue:*:{account}:table/tenancy-dev--lake",
        "arn:aws:sqs:us-east-1:999999999999:tenancy-dev--q",
        "arn:aws:sqs:us-east-1:{account}:tenancy-other--q",
        "arn:aws:logs:*:{account}:log-group:*:tenancy-dev--x",
        "arn:aws:ec2:*:{account}:security-group/*",
        "arn:aws:ec2:*:{account}:instance/i-0123456789abcdef0",
        "arn:aws:iam::{account}:role/tenancy-dev--x",
        "arn:aws:sts::{account}:assumed-role/tenancy-dev--x",
        "arn:aws:kms:*:{account}:key/tenancy-dev--k",
        "arn:aws:ram:*:{account}:resource-share/tenancy-dev--x",
        "arn:aws:s3-object-lambda:*:{account}:accesspoint/tenancy-dev--x",
        "arn:aws:lambda:*:{account}:function:tenancy-dev--f",
    ];

    #[test]
    fn the_tenants_own_arns_pass() {
        for arn in OWN_ARNS {
            check_resource_arn(&dev(), arn).unwrap_or_else(|e| panic!("{arn}: {e}"));
        }
    }

    #[test]
    fn hostile_arns_are_refused() {
        for arn in HOSTILE_ARNS {
            assert!(check_resource_arn(&dev(), arn).is_err(), "{arn:?}");
        }
    }

    #[test]
    fn no_tenant_reaches_another_whose_name_extends_its_own() {
        for (tenant, other) in [("dev", "dev2"), ("dev", "dev-data"), ("dev", "de"), ("dev-data", "dev")] {
            let tenant = Name::parse("t", tenant).unwrap();
            for arn in [
                format!("arn:aws:s3:::tenancy-{other}--data"),
                format!("arn:aws:s3:::tenancy-{other}--data/*"),
                format!("arn:aws:sqs:*:{{account}}:tenancy-{other}--q"),
            ] {
                assert!(check_resource_arn(&tenant, &arn).is_err(), "{tenant} {arn}");
            }
        }
    }

    #[test]
    fn region_codes() {
        for ok in ["eu-west-1", "us-gov-west-1", "cn-northwest-1", "ap-southeast-4", "us-isob-east-1"] {
            assert!(is_region_code(ok), "{ok}");
        }
        for bad in
            ["", "*", "eu", "eu-west", "eu-west-x", "EU-WEST-1", "eu--1", "eu-west-1-", "e-west-1", "eu-west-123"]
        {
            assert!(!is_region_code(bad), "{bad}");
        }
    }

    #[test]
    fn hostile_long_arns_finish_quickly() {
        let long = format!("arn:aws:sagemaker:*:{{account}}:app/tenancy-dev--{}", "a/".repeat(110));
        let started = std::time::Instant::now();
        let _ = check_resource_arn(&dev(), &long);
        let _ = check_resource_arn(&dev(), &format!("arn:aws:s3:::tenancy-dev--{}", "/*".repeat(115)));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
