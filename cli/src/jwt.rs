//! HS256 tokens for local development. In AWS, API Gateway's JWT authorizer verifies
//! tokens from the real identity provider; locally this plays that part, with the
//! secret in `TENANCY_DEV_JWT_SECRET`, and hands the same claims to the same code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Invalid {}

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// Signs `claims` with `secret`.
pub fn mint(secret: &[u8], claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "HS256", "typ": "JWT" }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = mac(secret);
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Verifies an HS256 token and its `exp`/`nbf` against `now` (Unix seconds); returns its claims.
pub fn verify(secret: &[u8], token: &str, now: i64) -> Result<Map<String, Value>, Invalid> {
    let mut parts = token.split('.');
    let (Some(raw_header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Invalid("the token is not a JWT (three dot-separated parts)"));
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(raw_header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(Invalid("the token header is not base64url JSON"))?;
    // Only HS256: accepting the header's choice of algorithm is how `alg: none` attacks work.
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(Invalid("only HS256 tokens are accepted locally"));
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| Invalid("the token signature is not base64url"))?;
    let mut mac = mac(secret);
    mac.update(format!("{raw_header}.{payload}").as_bytes());
    mac.verify_slice(&signature).map_err(|_| Invalid("the token signature does not match"))?;
    let claims: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or(Invalid("the token payload is not base64url JSON"))?;
    if claims.get("exp").and_then(Value::as_i64).is_some_and(|exp| exp <= now) {
        return Err(Invalid("the token has expired"));
    }
    if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf > now) {
        return Err(Invalid("the token is not valid yet"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_verifies_and_returns_its_claims() {
        let token = mint(b"s3cret", &json!({ "sub": "anna", "exp": 2000 }));
        assert_eq!(verify(b"s3cret", &token, 1000).unwrap()["sub"], "anna");
    }

    #[test]
    fn a_wrong_secret_an_expired_token_and_alg_none_are_refused() {
        let token = mint(b"s3cret", &json!({ "sub": "anna", "exp": 2000 }));
        assert!(verify(b"other", &token, 1000).is_err());
        assert_eq!(verify(b"s3cret", &token, 2000).unwrap_err().0, "the token has expired");
        let none =
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(r#"{"sub":"eve"}"#));
        assert!(verify(b"s3cret", &none, 1000).is_err());
        assert!(verify(b"s3cret", "garbage", 1000).is_err());
    }
}
