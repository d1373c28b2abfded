//! HS256 tokens for local development. In AWS, API Gateway's JWT authorizer verifies
//! tokens from the real identity provider; locally this plays that part, with the
//! secret in `TENANCY_DEV_JWT_SECRET`, and hands the same claims to the same code.
//!
//! The checks are the authorizer's: the signature (HS256 only, whatever the header asks
//! for), `exp` required and numeric, `nbf` and `iat` honoured, `iss` equal to the
//! configured issuer, and `aud` (or `client_id` when there is no `aud`) naming the
//! configured audience.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

// Minting lives in tenantctl (`tenantctl dev token`), so that the two commands sign
// exactly what this module verifies; it is re-exported here for the runner and the tests.
pub use tenantctl::dev_token::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, mint};

/// Clock skew allowed on `nbf` and `iat`, in seconds. `exp` gets none: an expired token
/// is refused from its expiry on.
pub const SKEW_SECONDS: i64 = 30;

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Invalid {}

/// Who must have issued a token, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The `iss` claim, exactly.
    pub issuer: &'a str,
    /// A value the `aud` claim (a string or an array) must hold; `client_id` when there is no `aud`.
    pub audience: &'a str,
}

impl Default for Expected<'static> {
    fn default() -> Self {
        Self { issuer: DEFAULT_ISSUER, audience: DEFAULT_AUDIENCE }
    }
}

/// Verifies an HS256 token as API Gateway's JWT authorizer would, at `now` (Unix
/// seconds), and returns its claims.
pub fn verify(secret: &[u8], token: &str, expected: &Expected<'_>, now: i64) -> Result<Map<String, Value>, Invalid> {
    if token.is_empty() {
        return Err(Invalid("the token is empty"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Invalid("the token is too long"));
    }
    // Only HS256, whatever the header says (accepting the header's choice of algorithm is
    // how `alg: none` attacks work). The library checks the algorithm and the signature;
    // the claims are checked below against `now`.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256];
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let decoded = jsonwebtoken::decode::<Map<String, Value>>(token, &DecodingKey::from_secret(secret), &validation)
        .map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            match error.kind() {
                ErrorKind::InvalidSignature => Invalid("the token signature does not match"),
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::MissingAlgorithm => {
                    Invalid("only HS256 tokens are accepted locally")
                }
                _ => Invalid("the token is not a well-formed HS256 JWT"),
            }
        })?;
    let claims = decoded.claims;
    check_claims(&claims, expected, now)?;
    Ok(claims)
}

fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>, now: i64) -> Result<(), Invalid> {
    let now = now as f64;
    let skew = SKEW_SECONDS as f64;
    let exp = numeric(claims, "exp", Invalid("the token's 'exp' claim is not a number"))?
        .ok_or(Invalid("the token has no 'exp' claim"))?;
    if exp <= now {
        return Err(Invalid("the token has expired"));
    }
    if numeric(claims, "nbf", Invalid("the token's 'nbf' claim is not a number"))?.is_some_and(|nbf| nbf > now + skew) {
        return Err(Invalid("the token is not valid yet"));
    }
    if numeric(claims, "iat", Invalid("the token's 'iat' claim is not a number"))?.is_some_and(|iat| iat > now + skew) {
        return Err(Invalid("the token was issued in the future"));
    }
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(Invalid("the token's issuer ('iss') is not the one configured"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected.audience,
        Some(Value::Array(auds)) => {
            auds.iter().all(Value::is_string) && auds.iter().any(|aud| aud.as_str() == Some(expected.audience))
        }
        Some(_) => false,
        // As API Gateway does: `client_id` stands in only when there is no `aud`.
        None => claims.get("client_id").and_then(Value::as_str) == Some(expected.audience),
    };
    if !audience_ok {
        return Err(Invalid("the token's audience ('aud' or 'client_id') is not the one configured"));
    }
    Ok(())
}

/// The claim as a JSON number; `None` when absent; `not_a_number` when it is anything else.
fn numeric(claims: &Map<String, Value>, name: &str, not_a_number: Invalid) -> Result<Option<f64>, Invalid> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number.as_f64().filter(|n| n.is_finite()).map(Some).ok_or(not_a_number),
        Some(_) => Err(not_a_number),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"s3cret-s3cret-s3cret";
    const NOW: i64 = 1_800_000_000;

    fn good_claims() -> Value {
        json!({ "sub": "anna", "iss": "tenancy-local", "aud": "tenancy", "iat": NOW - 5, "exp": NOW + 600 })
    }

    /// `good_claims` with `name` set to `value` (removed when `value` is null).
    fn with(name: &str, value: Value) -> Value {
        let mut claims = good_claims();
        let object = claims.as_object_mut().unwrap();
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.to_string(), value);
        }
        claims
    }

    fn check(claims: &Value) -> Result<Map<String, Value>, Invalid> {
        verify(SECRET, &mint(SECRET, claims), &Expected::default(), NOW)
    }

    /// A token with any header and a valid HMAC-SHA256 signature over what it carries
    /// (or the given signature bytes).
    fn forged(header: Value, claims: &Value, signature: Option<&[u8]>) -> String {
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = match signature {
            Some(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            None => jsonwebtoken::crypto::sign(
                signing_input.as_bytes(),
                &EncodingKey::from_secret(SECRET),
                Algorithm::HS256,
            )
            .unwrap(),
        };
        format!("{signing_input}.{signature}")
    }

    #[test]
    fn a_minted_token_verifies_and_returns_its_claims() {
        let claims = check(&good_claims()).unwrap();
        assert_eq!(claims["sub"], "anna");
        assert!(check(&with("aud", json!(["other", "tenancy"]))).is_ok());
        assert!(check(&with("nbf", json!(NOW + SKEW_SECONDS))).is_ok(), "nbf within the skew");
        assert!(check(&with("iat", json!(NOW + SKEW_SECONDS))).is_ok(), "iat within the skew");
        assert!(check(&with("exp", json!(NOW as f64 + 0.5))).is_ok(), "a fractional NumericDate");
        let custom = Expected { issuer: "https://idp.example.com", audience: "client-1" };
        let token = mint(SECRET, &with("iss", json!("https://idp.example.com")));
        assert!(verify(SECRET, &token, &custom, NOW).is_err(), "aud is still 'tenancy'");
        let token = mint(SECRET, &json!({ "iss": "https://idp.example.com", "aud": "client-1", "exp": NOW + 1 }));
        assert!(verify(SECRET, &token, &custom, NOW).is_ok());
    }

    #[test]
    fn client_id_stands_in_for_a_missing_audience_only() {
        assert!(check(&with("aud", Value::Null)).is_err());
        let mut claims = with("aud", Value::Null);
        claims["client_id"] = json!("tenancy");
        assert!(check(&claims).is_ok());
        claims["client_id"] = json!("other");
        assert!(check(&claims).is_err());
        claims["client_id"] = json!(["tenancy"]);
        assert!(check(&claims).is_err());
        let mut claims = with("aud", json!("other"));
        claims["client_id"] = json!("tenancy");
        assert_eq!(
            check(&claims).unwrap_err(),
            Invalid("the token's audience ('aud' or 'client_id') is not the one configured")
        );
    }

    #[test]
    fn bad_claims_are_refused() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("no exp (the old code accepted it)", with("exp", Value::Null), "the token has no 'exp' claim"),
            ("string exp", with("exp", json!((NOW + 600).to_string())), "the token's 'exp' claim is not a number"),
            ("bool exp", with("exp", json!(true)), "the token's 'exp' claim is not a number"),
            // The library's own claim parsing refuses an array `exp` before the checks here.
            ("array exp", with("exp", json!([NOW + 600])), "the token is not a well-formed HS256 JWT"),
            ("object exp", with("exp", json!({ "n": NOW + 600 })), "the token is not a well-formed HS256 JWT"),
            (
                "null exp",
                {
                    let mut c = good_claims();
                    c["exp"] = Value::Null;
                    c
                },
                "the token's 'exp' claim is not a number",
            ),
            ("expired", with("exp", json!(NOW - 1)), "the token has expired"),
            ("expiring now", with("exp", json!(NOW)), "the token has expired"),
            ("nbf in the future", with("nbf", json!(NOW + SKEW_SECONDS + 1)), "the token is not valid yet"),
            ("string nbf", with("nbf", json!("0")), "the token's 'nbf' claim is not a number"),
            ("iat in the future", with("iat", json!(NOW + SKEW_SECONDS + 1)), "the token was issued in the future"),
            ("string iat", with("iat", json!("0")), "the token's 'iat' claim is not a number"),
            (
                "wrong issuer",
                with("iss", json!("someone-else")),
                "the token's issuer ('iss') is not the one configured",
            ),
            (
                "issuer with a space",
                with("iss", json!("tenancy-local ")),
                "the token's issuer ('iss') is not the one configured",
            ),
            (
                "issuer array",
                with("iss", json!(["tenancy-local"])),
                "the token's issuer ('iss') is not the one configured",
            ),
            ("missing issuer", with("iss", Value::Null), "the token's issuer ('iss') is not the one configured"),
            (
                "wrong audience",
                with("aud", json!("other")),
                "the token's audience ('aud' or 'client_id') is not the one configured",
            ),
            (
                "audience array without it",
                with("aud", json!(["other"])),
                "the token's audience ('aud' or 'client_id') is not the one configured",
            ),
            (
                "empty audience array",
                with("aud", json!([])),
                "the token's audience ('aud' or 'client_id') is not the one configured",
            ),
            (
                "audience array with a non-string",
                with("aud", json!(["tenancy", 1])),
                "the token's audience ('aud' or 'client_id') is not the one configured",
            ),
            (
                "numeric audience",
                with("aud", json!(1)),
                "the token's audience ('aud' or 'client_id') is not the one configured",
            ),
            (
                "missing audience",
                with("aud", Value::Null),
                "the token's audience ('aud' or 'client_id') is not the one configured",
            ),
        ];
        for (what, claims, why) in cases {
            assert_eq!(check(&claims).unwrap_err(), Invalid(why), "{what}");
        }
    }

    #[test]
    fn other_algorithms_forgeries_and_garbage_are_refused() {
        let claims = good_claims();
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let hs512 =
            jsonwebtoken::encode(&Header::new(Algorithm::HS512), &claims, &EncodingKey::from_secret(SECRET)).unwrap();
        let hs384 =
            jsonwebtoken::encode(&Header::new(Algorithm::HS384), &claims, &EncodingKey::from_secret(SECRET)).unwrap();
        let good = mint(SECRET, &claims);
        let (signed, signature) = good.rsplit_once('.').unwrap();
        let mut flipped = URL_SAFE_NO_PAD.decode(signature).unwrap();
        flipped[0] ^= 1;
        let other_payload = format!(
            "{}.{}.{signature}",
            signed.split('.').next().unwrap(),
            URL_SAFE_NO_PAD.encode(with("sub", json!("eve")).to_string())
        );
        let tokens: Vec<(&str, String)> = vec![
            ("alg none", none.clone()),
            ("alg none with a signature", format!("{none}{signature}")),
            ("alg None", forged(json!({ "alg": "None" }), &claims, None)),
            ("alg HS512", hs512),
            ("alg HS384", hs384),
            ("RS256 header over an HMAC signature", forged(json!({ "alg": "RS256", "typ": "JWT" }), &claims, None)),
            ("ES256 header", forged(json!({ "alg": "ES256" }), &claims, None)),
            ("no alg", forged(json!({ "typ": "JWT" }), &claims, None)),
            ("alg hs256 (lower case)", forged(json!({ "alg": "hs256" }), &claims, None)),
            ("wrong secret", mint(b"another-secret-entirely", &claims)),
            ("flipped signature bit", format!("{signed}.{}", URL_SAFE_NO_PAD.encode(&flipped))),
            ("empty signature", format!("{signed}.")),
            ("signature of another payload", other_payload),
            ("garbage", "garbage".into()),
            ("empty", String::new()),
            ("two parts", signed.to_string()),
            ("four parts", format!("{good}.x")),
            ("dots only", "..".into()),
            (
                "header not JSON",
                format!("{}.{}.{signature}", URL_SAFE_NO_PAD.encode("nope"), signed.split('.').nth(1).unwrap()),
            ),
            ("payload not an object", forged(json!({ "alg": "HS256" }), &json!(["a"]), None)),
            ("all-zero signature", forged(json!({ "alg": "HS256", "typ": "JWT" }), &claims, Some(&[0; 32]))),
            ("truncated signature", forged(json!({ "alg": "HS256", "typ": "JWT" }), &claims, Some(&flipped[..16]))),
            ("huge", "a".repeat(MAX_TOKEN_BYTES + 1)),
        ];
        for (what, token) in tokens {
            assert!(verify(SECRET, &token, &Expected::default(), NOW).is_err(), "{what} was accepted");
        }
        assert!(verify(SECRET, &good, &Expected::default(), NOW).is_ok(), "the unforged token is fine");
        // The forging helper signs correctly: only the header's algorithm is what it refuses above.
        let honest = forged(json!({ "alg": "HS256", "typ": "JWT" }), &claims, None);
        assert!(verify(SECRET, &honest, &Expected::default(), NOW).is_ok());
    }
}
