//! From verified token claims to a [`Caller`]. The token itself is verified before this:
//! by API Gateway's JWT authorizer in AWS, by the local runner's HS256 check locally.
//!
//! API Gateway's HTTP API hands every claim to the function as a string, an array claim
//! flattened to `[a b c]`. [`caller_from_claims`] reads claims in exactly that form, and
//! strictly: a claim that is not exactly what the identity provider would issue gives the
//! caller nothing (no groups; no caller at all for a bad `sub`). Locally,
//! [`claims_as_gateway_passes_them`] first turns the token's JSON claims into that form,
//! never more loosely than API Gateway would, so both paths run the same parser.

use std::collections::HashMap;

use serde_json::{Map, Value};
use tenancy_domain::access::{Caller, Via};

/// The claim that lists the caller's groups (Amazon Cognito's name for it).
pub const GROUPS_CLAIM: &str = "cognito:groups";

/// Most groups a caller may list; a claim with more lists none.
pub const MAX_GROUPS: usize = 100;

/// Longest group name, in bytes (all of them ASCII).
pub const MAX_GROUP_NAME: usize = 128;

/// Longest `sub`, in characters.
pub const MAX_SUBJECT: usize = 255;

/// Longest `email`, in bytes.
pub const MAX_EMAIL: usize = 320;

/// What the local conversion puts in place of a JSON array that API Gateway's form cannot
/// carry faithfully (a non-string element, or one outside the group-name alphabet): a
/// value that neither the groups parser nor the `sub` check accepts.
const REFUSED: &str = "\u{0}refused";

/// Claims as API Gateway's JWT authorizer passes them to the function: every value a string.
pub type GatewayClaims = HashMap<String, String>;

/// Reads `sub`, `email` and the groups claim from claims in API Gateway's form.
///
/// `None` (no caller: 401) unless `sub` is 1 to 255 characters with no control characters
/// and no leading or trailing whitespace. `email` is kept only when it looks like an address.
/// The groups claim must be exactly `[name name ...]` (see [`groups_of`]); anything else
/// gives no groups at all.
pub fn caller_from_claims(claims: &GatewayClaims) -> Option<Caller> {
    let sub = claims.get("sub").filter(|sub| valid_subject(sub))?;
    // An address the identity provider says it has not verified (a user may change their
    // own e-mail in Cognito, which marks it unverified) counts as none: access given for an
    // e-mail goes only to its verified owner.
    let unverified = claims.get("email_verified").is_some_and(|flag| flag != "true");
    let email = claims.get("email").filter(|email| !unverified && plausible_email(email)).cloned();
    let groups = claims.get(GROUPS_CLAIM).map(|text| groups_of(text)).unwrap_or_default();
    Some(Caller { id: sub.clone(), email, groups, via: Via::Api, request_id: None })
}

/// The groups in API Gateway's flattened form of an array claim: one pair of brackets
/// around names separated by single spaces, each name 1 to [`MAX_GROUP_NAME`] characters
/// of `A-Z a-z 0-9 - _ . @ + =`, at most [`MAX_GROUPS`] names; `[]` is no groups. Anything
/// else is no groups: never a partial list.
pub fn groups_of(text: &str) -> Vec<String> {
    parse_groups(text).unwrap_or_default()
}

fn parse_groups(text: &str) -> Option<Vec<String>> {
    if text.len() > 2 + MAX_GROUPS * (MAX_GROUP_NAME + 1) {
        return None;
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    if inner.is_empty() {
        return Some(Vec::new());
    }
    let mut groups = Vec::new();
    for name in inner.split(' ') {
        if groups.len() == MAX_GROUPS || !valid_group_name(name) {
            return None;
        }
        groups.push(name.to_string());
    }
    Some(groups)
}

/// 1 to [`MAX_GROUP_NAME`] characters of `A-Z a-z 0-9 - _ . @ + =`.
pub fn valid_group_name(name: &str) -> bool {
    (1..=MAX_GROUP_NAME).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'+' | b'='))
}

fn valid_subject(sub: &str) -> bool {
    let count = sub.chars().count();
    (1..=MAX_SUBJECT).contains(&count)
        && !sub.chars().any(char::is_control)
        && !sub.starts_with(char::is_whitespace)
        && !sub.ends_with(char::is_whitespace)
}

/// One `@` between a non-empty local part and a non-empty domain, at most [`MAX_EMAIL`]
/// bytes, no whitespace or control characters.
fn plausible_email(email: &str) -> bool {
    email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !domain.starts_with('.')
        })
}

/// The verified token's JSON claims as API Gateway would pass them: a string as is, a
/// number or boolean as its text, an array of strings as `[a b]`, anything else dropped.
/// Stricter than API Gateway in one way: an array with a non-string element, or an element
/// outside the group-name alphabet (a space, a comma, a bracket...), becomes a value the
/// parser refuses, so a local token can never pass where the real one would be ambiguous.
pub fn claims_as_gateway_passes_them(claims: &Map<String, Value>) -> GatewayClaims {
    claims
        .iter()
        .filter_map(|(name, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                Value::Array(items) => flattened(items),
                Value::Null | Value::Object(_) => return None,
            };
            Some((name.clone(), text))
        })
        .collect()
}

fn flattened(items: &[Value]) -> String {
    let names: Option<Vec<&str>> =
        items.iter().map(|item| item.as_str().filter(|name| valid_group_name(name))).collect();
    match names {
        Some(names) => format!("[{}]", names.join(" ")),
        None => REFUSED.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tenancy_domain::access::ADMIN_GROUP;

    use super::*;

    fn gateway(pairs: &[(&str, &str)]) -> GatewayClaims {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The caller for a token whose groups claim API Gateway passed as `text`.
    fn caller_with_groups(text: &str) -> Caller {
        caller_from_claims(&gateway(&[("sub", "u1"), (GROUPS_CLAIM, text)])).expect("a caller")
    }

    /// The caller for a local token whose JSON groups claim is `value`.
    fn local_caller_with_groups(value: Value) -> Option<Caller> {
        let claims = json!({ "sub": "u1", GROUPS_CLAIM: value });
        caller_from_claims(&claims_as_gateway_passes_them(claims.as_object().unwrap()))
    }

    #[test]
    fn api_gateway_flattened_groups_are_read() {
        assert_eq!(caller_with_groups("[tenancy-admins other]").groups, ["tenancy-admins", "other"]);
        assert_eq!(caller_with_groups("[tenancy-admins]").groups, ["tenancy-admins"]);
        assert!(caller_with_groups("[tenancy-admins]").is_platform_admin());
        assert!(caller_with_groups("[developers tenancy-admins]").is_platform_admin());
        assert_eq!(caller_with_groups("[A-z_0.9@x+y=]").groups, ["A-z_0.9@x+y="]);
        assert!(caller_with_groups("[]").groups.is_empty());
        let hundred: Vec<String> = (0..99).map(|i| format!("g{i}")).chain([ADMIN_GROUP.to_string()]).collect();
        assert!(caller_with_groups(&format!("[{}]", hundred.join(" "))).is_platform_admin());
        let longest = "a".repeat(MAX_GROUP_NAME);
        assert_eq!(caller_with_groups(&format!("[{longest} tenancy-admins]")).groups.len(), 2);
    }

    /// Every shape here must leave the caller with no groups at all.
    fn crafted_gateway_strings() -> Vec<String> {
        let mut shapes: Vec<String> = [
            "[ops,tenancy-admins]",
            "[ops tenancy-admins,x]",
            "[tenancy-admins,ops]",
            "[ops, tenancy-admins]",
            "tenancy-admins",
            "tenancy-admins other",
            "ops,tenancy-admins",
            "[tenancy-admins",
            "tenancy-admins]",
            "[[tenancy-admins]]",
            "[[tenancy-admins]",
            "[tenancy-admins]]",
            "[tenancy-admins][x]",
            "[tenancy-admins] [x]",
            "[x] [tenancy-admins]",
            "[ tenancy-admins]",
            "[tenancy-admins ]",
            "[ tenancy-admins ]",
            "[a  tenancy-admins]",
            "[a   tenancy-admins]",
            "[tenancy-admins\tx]",
            "[x\ttenancy-admins]",
            "[tenancy-admins\nx]",
            "[tenancy-admins\rx]",
            "[tenancy-admins]\n",
            "\n[tenancy-admins]",
            " [tenancy-admins]",
            "[tenancy-admins] ",
            "[\"tenancy-admins\"]",
            "[\"tenancy-admins\",\"x\"]",
            "[\"tenancy-admins\" \"x\"]",
            "['tenancy-admins']",
            "[tenancy‐admins]",
            "[tenancy–admins]",
            "[tenancy－admins]",
            "[tеnancy-admins]",
            "[tenancy-admins\u{200b}]",
            "[\u{feff}tenancy-admins]",
            "[tenancy-admins\u{0}]",
            "[\u{0}tenancy-admins]",
            "[x\u{0}tenancy-admins]",
            "[tenancy-admins]\u{0}",
            "\u{0}[tenancy-admins]",
            "[tenancy-admins\u{a0}x]",
            "[tenancy-admins/x]",
            "[tenancy-admins;x]",
            "[tenancy-admins|x]",
            "{tenancy-admins}",
            "(tenancy-admins)",
            "[{\"name\":\"tenancy-admins\"}]",
            "[",
            "]",
            "[ ]",
            "[  ]",
            "",
            " ",
            "[][tenancy-admins]",
            "[tenancy-admins][]",
            "null",
            "true",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Too long a name, too many names, a huge string.
        shapes.push(format!("[{} tenancy-admins]", "a".repeat(MAX_GROUP_NAME + 1)));
        let many: Vec<String> = (0..MAX_GROUPS).map(|i| format!("g{i}")).chain([ADMIN_GROUP.to_string()]).collect();
        shapes.push(format!("[{}]", many.join(" ")));
        shapes.push(format!("[{}tenancy-admins]", "x ".repeat(100_000)));
        shapes.push(format!("[tenancy-admins{}]", " ".repeat(1_000_000)));
        shapes
    }

    #[test]
    fn crafted_gateway_strings_give_no_groups() {
        let shapes = crafted_gateway_strings();
        assert!(shapes.len() >= 60, "{} shapes", shapes.len());
        for shape in &shapes {
            let caller = caller_with_groups(shape);
            assert!(caller.groups.is_empty(), "{shape:?} gave {:?}", caller.groups);
            assert!(!caller.is_platform_admin(), "{shape:?}");
        }
    }

    #[test]
    fn crafted_gateway_strings_give_no_groups_locally_either() {
        for shape in crafted_gateway_strings() {
            let caller = local_caller_with_groups(Value::String(shape.clone())).expect("a caller");
            assert!(caller.groups.is_empty(), "{shape:?} gave {:?}", caller.groups);
        }
    }

    /// JSON shapes of the groups claim in a local token that must not make an admin.
    fn crafted_json_claims() -> Vec<Value> {
        vec![
            json!(["ops,tenancy-admins"]),
            json!(["ops tenancy-admins"]),
            json!(["a b", "tenancy-admins"]),
            json!(["tenancy-admins", "a b"]),
            json!(["tenancy-admins", ""]),
            json!(["", "tenancy-admins"]),
            json!(["tenancy-admins", 1]),
            json!([1]),
            json!([1, "tenancy-admins"]),
            json!([true, "tenancy-admins"]),
            json!([null, "tenancy-admins"]),
            json!([["tenancy-admins"]]),
            json!([["tenancy-admins"], "x"]),
            json!(["tenancy-admins", ["x"]]),
            json!([{ "name": "tenancy-admins" }]),
            json!(["tenancy-admins", { "x": 1 }]),
            json!(["[tenancy-admins]"]),
            json!(["[tenancy-admins", "x]"]),
            json!(["tenancy-admins]", "[x"]),
            json!(["tenancy-admins\t"]),
            json!(["tenancy-admins\n"]),
            json!(["tenancy-admins\u{0}"]),
            json!(["tenancy‐admins"]),
            json!(["\"tenancy-admins\""]),
            json!(["a".repeat(MAX_GROUP_NAME + 1), "tenancy-admins"]),
            json!((0..=MAX_GROUPS).map(|i| format!("g{i}")).chain([ADMIN_GROUP.to_string()]).collect::<Vec<_>>()),
            json!({ "groups": ["tenancy-admins"] }),
            json!({ "tenancy-admins": true }),
            json!(null),
            json!(1),
            json!(true),
            json!("tenancy-admins"),
            json!("[\"tenancy-admins\"]"),
            json!("[ops,tenancy-admins]"),
        ]
    }

    #[test]
    fn crafted_local_json_groups_give_no_groups() {
        let shapes = crafted_json_claims();
        for shape in &shapes {
            let caller = local_caller_with_groups(shape.clone()).expect("a caller");
            assert!(caller.groups.is_empty(), "{shape} gave {:?}", caller.groups);
            assert!(!caller.is_platform_admin(), "{shape}");
        }
    }

    #[test]
    fn local_json_arrays_of_group_names_are_read_as_on_aws() {
        assert!(local_caller_with_groups(json!(["tenancy-admins"])).unwrap().is_platform_admin());
        assert_eq!(
            local_caller_with_groups(json!(["developers", "tenancy-admins"])).unwrap().groups,
            ["developers", "tenancy-admins"]
        );
        assert!(local_caller_with_groups(json!([])).unwrap().groups.is_empty());
        assert!(local_caller_with_groups(json!("[tenancy-admins]")).unwrap().is_platform_admin());
    }

    #[test]
    fn claims_are_converted_as_api_gateway_converts_them() {
        let claims = json!({
            "sub": "anna", "exp": 1_800_000_000, "ratio": 1.5, "email_verified": true,
            "aud": ["tenancy", "other"], "empty": [], "nothing": null, "object": { "a": 1 },
        });
        let converted = claims_as_gateway_passes_them(claims.as_object().unwrap());
        assert_eq!(converted["sub"], "anna");
        assert_eq!(converted["exp"], "1800000000");
        assert_eq!(converted["ratio"], "1.5");
        assert_eq!(converted["email_verified"], "true");
        assert_eq!(converted["aud"], "[tenancy other]");
        assert_eq!(converted["empty"], "[]");
        assert!(!converted.contains_key("nothing") && !converted.contains_key("object"));
        let refused = claims_as_gateway_passes_them(json!({ "x": ["a b"], "y": [1] }).as_object().unwrap());
        assert!(parse_groups(&refused["x"]).is_none() && parse_groups(&refused["y"]).is_none());
        assert!(!valid_subject(&refused["x"]));
    }

    #[test]
    fn a_subject_must_be_plain() {
        for bad in [
            "".to_string(),
            " ".to_string(),
            " anna".to_string(),
            "anna ".to_string(),
            "anna\n".to_string(),
            "\tanna".to_string(),
            "an\u{0}na".to_string(),
            "an\u{7f}na".to_string(),
            "an\u{85}na".to_string(),
            "anna\u{a0}".to_string(),
            "\u{3000}anna".to_string(),
            "a".repeat(MAX_SUBJECT + 1),
            "é".repeat(MAX_SUBJECT + 1),
        ] {
            assert!(
                caller_from_claims(&gateway(&[("sub", &bad), (GROUPS_CLAIM, "[tenancy-admins]")])).is_none(),
                "{bad:?}"
            );
        }
        assert!(caller_from_claims(&gateway(&[("email", "x@y"), (GROUPS_CLAIM, "[tenancy-admins]")])).is_none());
        assert!(local_caller_with_groups(json!(["tenancy-admins"])).is_some());
        let sub_array = json!({ "sub": ["a b"], GROUPS_CLAIM: ["tenancy-admins"] });
        assert!(caller_from_claims(&claims_as_gateway_passes_them(sub_array.as_object().unwrap())).is_none());
        let no_sub = json!({ "sub": null, GROUPS_CLAIM: ["tenancy-admins"] });
        assert!(caller_from_claims(&claims_as_gateway_passes_them(no_sub.as_object().unwrap())).is_none());
        for good in ["anna", "a", "8f1c-44e2@idp", "é漢字", &"a".repeat(MAX_SUBJECT), &"é".repeat(MAX_SUBJECT)] {
            assert_eq!(caller_from_claims(&gateway(&[("sub", good)])).unwrap().id, good);
        }
    }

    #[test]
    fn only_plausible_emails_are_kept() {
        let email = |e: &str| caller_from_claims(&gateway(&[("sub", "u1"), ("email", e)])).unwrap().email;
        for good in ["anna@example.com", "admin@localhost", "a+b.c@sub.example.org"] {
            assert_eq!(email(good).as_deref(), Some(good));
        }
        let verified = |flag: &str| {
            caller_from_claims(&gateway(&[("sub", "u1"), ("email", "x@acme.com"), ("email_verified", flag)]))
                .unwrap()
                .email
        };
        assert_eq!(verified("true").as_deref(), Some("x@acme.com"));
        assert_eq!(verified("false"), None, "an unverified address is no address");
        assert_eq!(verified("yes"), None);
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL));
        for bad in [
            "",
            "anna",
            "@example.com",
            "anna@",
            "a@b@c",
            "anna @example.com",
            "anna@example.com\n",
            "an\u{0}na@x",
            &long,
        ] {
            assert_eq!(email(bad), None, "{bad:?}");
        }
    }
}
