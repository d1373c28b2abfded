//! Just-in-time credentials for a tenant: what Tenancy asks of the cloud's token service
//! when a tenant `user` or `admin` asks for short-lived keys (a session of the tenant's
//! role), and the names and tags such a session carries.
//!
//! Nobody gets standing keys: a session lasts the deployment's setting (15 minutes to an
//! hour) and names the user in its session name and tags, so that the cloud's own trail
//! says who acted.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The tag naming the tenant on every session.
pub const TENANT_TAG: &str = "tenancy:tenant";
/// The tag naming the user on every session.
pub const USER_TAG: &str = "tenancy:user";

/// Shortest and longest session name STS accepts.
pub const SESSION_NAME_LEN: std::ops::RangeInclusive<usize> = 2..=64;
/// Longest session tag value STS accepts.
pub const MAX_TAG_VALUE: usize = 256;

/// How long a session may last, in seconds. STS's own floor is 15 minutes. Its ceiling is
/// 12 hours for a role whose maximum session duration allows it, but the API function
/// assumes the tenant role with credentials that are themselves a role session (its
/// execution role): that is role chaining, which AWS limits to one hour and refuses
/// beyond. A longer setting would let the deployment start and then fail every request,
/// so it is refused at start-up instead.
pub const SESSION_SECONDS: std::ops::RangeInclusive<i64> = 900..=3600;
/// The session length when the setting is absent.
pub const DEFAULT_SESSION_SECONDS: i64 = 3600;

/// Characters of the hash suffix that keeps two altered names apart.
const HASH_CHARS: usize = 8;

/// A session of a tenant's role, as Tenancy asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    /// The tenant role's ARN, as the tenant's record names it.
    pub role_arn: String,
    /// The session name: the user, as [`session_name`] makes it fit.
    pub session_name: String,
    /// Session tags, as [`tag_value`] makes them fit: `tenancy:tenant` and `tenancy:user`.
    pub tags: Vec<(String, String)>,
    /// How long the session lasts, in seconds (within [`SESSION_SECONDS`]).
    pub duration_seconds: i32,
}

/// Short-lived credentials of a session. The secret and the token never reach a log: its
/// `Debug` leaves them out.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The access key id (`ASIA...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// When the credentials stop working.
    pub expiration: OffsetDateTime,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The body the AWS CLI's `credential_process` reads: `Version` 1, the keys, the token and
/// the expiry (RFC 3339), so that `aws --profile <tenant> ...` refreshes them by itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialProcess {
    /// Always 1.
    pub version: u8,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// When they stop working.
    #[serde(with = "time::serde::rfc3339")]
    pub expiration: OffsetDateTime,
}

impl fmt::Debug for CredentialProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialProcess")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl From<Session> for CredentialProcess {
    fn from(session: Session) -> Self {
        Self {
            version: 1,
            access_key_id: session.access_key_id,
            secret_access_key: session.secret_access_key,
            session_token: session.session_token,
            expiration: session.expiration,
        }
    }
}

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect::<String>()[..HASH_CHARS].to_string()
}

/// `text` with every character `keep` refuses replaced by `_`, cut to `max` characters.
/// When anything changed (or the result is shorter than `min`), the end is replaced by
/// `.` and 8 hex digits of the SHA-256 of `text`, so that two users whose ids differ only
/// in what was replaced still get different names.
fn fit(text: &str, keep: impl Fn(char) -> bool, min: usize, max: usize) -> String {
    let replaced: String = text.chars().map(|c| if keep(c) { c } else { '_' }).collect();
    let count = replaced.chars().count();
    if replaced == text && (min..=max).contains(&count) {
        return replaced;
    }
    let room = max - HASH_CHARS - 1;
    let head: String = replaced.chars().take(room).collect();
    format!("{head}.{}", short_hash(text))
}

/// The session name for `user` (a token's `sub`): STS allows 2 to 64 characters of
/// `[\w+=,.@-]` (ASCII letters, digits and `_+=,.@-`). A user id that fits is used as it
/// is. Otherwise every other character becomes `_`, the name is cut to 55 characters and
/// `.` and 8 hex digits of the SHA-256 of the id are appended (so a one-character id
/// `a` becomes `a.` and its hash): the `tenancy:user` tag and the audit trail carry the id.
pub fn session_name(user: &str) -> String {
    let keep = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    fit(user, keep, *SESSION_NAME_LEN.start(), *SESSION_NAME_LEN.end())
}

/// A session tag value for `text`: STS allows up to 256 characters of letters, digits,
/// spaces and `_.:/=+-@`. Tenancy keeps ASCII ones only (a non-ASCII letter becomes `_`)
/// and makes a value that does not fit as [`session_name`] does.
pub fn tag_value(text: &str) -> String {
    let keep = |c: char| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c);
    fit(text, keep, 0, MAX_TAG_VALUE)
}

/// True when `name` is a session name STS accepts.
pub fn is_session_name(name: &str) -> bool {
    SESSION_NAME_LEN.contains(&name.chars().count())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_id_that_fits_is_the_session_name_as_it_is() {
        for user in ["anna", "anna@example.com", "a1", "x_y+z=1,2.3@d-e", &"a".repeat(64)] {
            assert_eq!(session_name(user), user);
        }
    }

    #[test]
    fn any_other_user_id_becomes_a_valid_and_distinct_session_name() {
        let odd = [
            "a",
            "",
            "anna smith",
            "anna/smith",
            "anna:smith",
            "ännä",
            "用户",
            "a\u{7f}b",
            &"a".repeat(65),
            &"ü".repeat(300),
            "Google|1234567890",
        ];
        let mut seen = std::collections::BTreeSet::new();
        for user in odd {
            let name = session_name(user);
            assert!(is_session_name(&name), "{user:?} -> {name:?}");
            assert!(seen.insert(name.clone()), "{user:?} -> {name:?} twice");
        }
        assert_ne!(session_name("anna smith"), session_name("anna_smith"));
        assert!(session_name("anna smith").starts_with("anna_smith."));
        assert_eq!(session_name(&"a".repeat(65)).chars().count(), 64);
    }

    #[test]
    fn tag_values_keep_what_sts_allows_and_fit_256_characters() {
        assert_eq!(tag_value("anna smith@example.com"), "anna smith@example.com");
        assert_eq!(tag_value("dev"), "dev");
        let long = tag_value(&"x".repeat(300));
        assert_eq!(long.chars().count(), MAX_TAG_VALUE);
        let odd = tag_value("anna|smith");
        assert!(odd.starts_with("anna_smith.") && odd.len() == "anna_smith.".len() + 8, "{odd}");
    }

    #[test]
    fn the_secret_never_shows_in_debug() {
        let session = Session {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "s3cr3t".into(),
            session_token: "t0k3n".into(),
            expiration: OffsetDateTime::UNIX_EPOCH,
        };
        let printed = format!("{session:?} {:?}", CredentialProcess::from(session.clone()));
        assert!(printed.contains("ASIAEXAMPLE") && !printed.contains("s3cr3t") && !printed.contains("t0k3n"));
    }
}
