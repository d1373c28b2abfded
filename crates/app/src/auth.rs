//! From verified token claims to a [`Caller`]. The token itself is verified before this:
//! by API Gateway's JWT authorizer in AWS, by the local runner's HS256 check locally.

use serde_json::{Map, Value};
use tenancy_domain::access::{Caller, Via};

/// The claim that lists the caller's groups (Amazon Cognito's name for it).
pub const GROUPS_CLAIM: &str = "cognito:groups";

/// Reads `sub`, `email` and the groups claim. API Gateway's HTTP API hands an array claim
/// over as one string such as `[tenancy-admins other]`; a JSON array, a JSON-encoded
/// array string and a plain comma- or space-separated string are accepted too.
pub fn caller_from_claims(claims: &Map<String, Value>) -> Option<Caller> {
    let sub = claims.get("sub")?.as_str()?.trim();
    if sub.is_empty() {
        return None;
    }
    let email = claims.get("email").and_then(Value::as_str).map(str::to_string);
    let groups = claims.get(GROUPS_CLAIM).map(groups_of).unwrap_or_default();
    Some(Caller { id: sub.to_string(), email, groups, via: Via::Api })
}

fn groups_of(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Value::String(text) => {
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) {
                return groups_of(&Value::Array(items));
            }
            text.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(|c: char| c == ',' || c.is_whitespace())
                .map(|g| g.trim_matches('"'))
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn groups(value: Value) -> Vec<String> {
        let claims = json!({ "sub": "u1", GROUPS_CLAIM: value });
        caller_from_claims(claims.as_object().unwrap()).unwrap().groups
    }

    #[test]
    fn api_gateway_bracketed_group_strings_are_split() {
        assert_eq!(groups(json!("[tenancy-admins other]")), ["tenancy-admins", "other"]);
        assert_eq!(groups(json!("[tenancy-admins]")), ["tenancy-admins"]);
    }

    #[test]
    fn json_arrays_and_encoded_arrays_are_accepted() {
        assert_eq!(groups(json!(["a", "b"])), ["a", "b"]);
        assert_eq!(groups(json!("[\"a\",\"b\"]")), ["a", "b"]);
        assert_eq!(groups(json!("a, b")), ["a", "b"]);
    }

    #[test]
    fn claims_without_a_subject_are_no_caller() {
        assert!(caller_from_claims(json!({ "email": "x@y" }).as_object().unwrap()).is_none());
        assert!(caller_from_claims(json!({ "sub": "" }).as_object().unwrap()).is_none());
    }
}
