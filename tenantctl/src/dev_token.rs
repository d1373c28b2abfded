//! Development tokens: HS256 JWTs that the local run (`make dev`, the integration harness)
//! accepts, playing API Gateway's JWT authorizer. The `tenancy` command mints with this
//! module too, and verifies what it mints in `tenancy_cli::jwt`.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Default issuer of development tokens (`TENANCY_DEV_JWT_ISSUER`).
pub const DEFAULT_ISSUER: &str = "tenancy-local";

/// Default audience of development tokens (`TENANCY_DEV_JWT_AUDIENCE`).
pub const DEFAULT_AUDIENCE: &str = "tenancy";

/// Shortest secret accepted: HS256 with a short secret is guessable.
pub const MIN_SECRET_LEN: usize = 16;

/// Signs `claims` with `secret` (HS256). The claims are signed as given: add `iss`, `aud`
/// and `exp` for a token that the local run accepts.
pub fn mint(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
        .expect("HS256 signs any JSON claims")
}

/// Who a development token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevUser {
    /// The subject (`sub`).
    pub sub: String,
    /// The e-mail claim.
    pub email: String,
    /// `cognito:groups`, as the identity provider of the deployed API puts them.
    pub groups: Vec<String>,
    /// Lifetime in seconds.
    pub ttl: i64,
}

/// The claims of `user`'s token, issued at `now` (Unix seconds).
pub fn claims(user: &DevUser, issuer: &str, audience: &str, now: i64) -> Value {
    json!({
        "sub": user.sub,
        "email": user.email,
        "cognito:groups": user.groups,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + user.ttl,
    })
}

/// The secret of the local run: `TENANCY_DEV_JWT_SECRET`.
pub fn secret_from_env() -> Result<String, String> {
    std::env::var("TENANCY_DEV_JWT_SECRET").ok().filter(|s| s.len() >= MIN_SECRET_LEN).ok_or_else(|| {
        format!("set TENANCY_DEV_JWT_SECRET to the local run's secret (at least {MIN_SECRET_LEN} characters; scripts/env.sh sets it)")
    })
}

/// The issuer of development tokens: `TENANCY_DEV_JWT_ISSUER`, or [`DEFAULT_ISSUER`].
pub fn issuer_from_env() -> String {
    non_empty_env("TENANCY_DEV_JWT_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.into())
}

/// The audience of development tokens: `TENANCY_DEV_JWT_AUDIENCE`, or [`DEFAULT_AUDIENCE`].
pub fn audience_from_env() -> String {
    non_empty_env("TENANCY_DEV_JWT_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.into())
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

/// Mints `user`'s token as the local run configured by the environment accepts it.
pub fn mint_from_env(user: &DevUser) -> Result<String, String> {
    let secret = secret_from_env()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(mint(secret.as_bytes(), &claims(user, &issuer_from_env(), &audience_from_env(), now)))
}
