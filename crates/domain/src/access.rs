//! Who is calling, and what they may do.
//!
//! In this version only platform admins act; per-tenant grants come with the access
//! control work and will be decided here too.

use sha2::{Digest, Sha256};

use time::OffsetDateTime;

use crate::names::Name;

/// Members of this group are platform admins: they see and manage every tenant.
pub const ADMIN_GROUP: &str = "tenancy-admins";

/// How a request reached Tenancy: the kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Via {
    /// The HTTP API, with a verified token.
    Api,
    /// An event on the bus, from a producer the bus policy admits.
    Event,
}

impl Via {
    /// `api` or `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Event => "event",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Stable subject: the token's `sub`, or `<source>@<account>` for an event producer.
    pub id: String,
    /// E-mail, when the token carries one.
    pub email: Option<String>,
    /// Groups the identity provider put the caller in.
    pub groups: Vec<String>,
    /// How the request arrived.
    pub via: Via,
    /// The request's id (API Gateway's, or the event's), for the audit trail.
    pub request_id: Option<String>,
}

impl Caller {
    /// A producer of request events on the bus. The bus policy decides who may put
    /// events there, so an admitted producer acts with platform-admin rights.
    pub fn event_producer(source: &str, account: &str) -> Self {
        Self {
            id: format!("{source}@{account}"),
            email: None,
            groups: vec![ADMIN_GROUP.to_string()],
            via: Via::Event,
            request_id: None,
        }
    }

    /// True for members of [`ADMIN_GROUP`].
    pub fn is_platform_admin(&self) -> bool {
        self.groups.iter().any(|g| g == ADMIN_GROUP)
    }
}

/// The key an idempotency record is stored under: hex SHA-256 over how the caller came
/// (`via`), who the caller is and the key they sent, each part preceded by its length as
/// 8 big-endian bytes. No choice of caller id and key can make two callers share a record
/// (as `alice` + `k#1` and `alice#k` + `1` would with a plain `<caller>#<key>`).
pub fn idempotency_scope(caller: &Caller, key: &str) -> String {
    length_prefixed_sha256(&[caller.via.as_str().as_bytes(), caller.id.as_bytes(), key.as_bytes()])
}

fn length_prefixed_sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn caller(id: &str, via: Via) -> Caller {
        Caller { id: id.to_string(), email: None, groups: vec![], via, request_id: None }
    }

    #[test]
    fn callers_whose_id_and_key_join_alike_get_different_scopes() {
        let alice = idempotency_scope(&caller("alice", Via::Api), "k#1");
        let alice_k = idempotency_scope(&caller("alice#k", Via::Api), "1");
        assert_ne!(alice, alice_k);
        assert_ne!(idempotency_scope(&caller("a", Via::Api), ""), idempotency_scope(&caller("", Via::Api), "a"));
        assert_ne!(idempotency_scope(&caller("a", Via::Api), "k"), idempotency_scope(&caller("a", Via::Event), "k"));
        assert_eq!(alice, idempotency_scope(&caller("alice", Via::Api), "k#1"), "the same caller and key repeat");
        assert_eq!(alice.len(), 64);
        assert!(alice.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    fn via() -> impl Strategy<Value = Via> {
        prop_oneof![Just(Via::Api), Just(Via::Event)]
    }

    proptest! {
        #[test]
        fn distinct_callers_and_keys_never_share_a_scope(
            a in (via(), ".{0,24}", ".{0,24}"),
            b in (via(), ".{0,24}", ".{0,24}"),
        ) {
            let scope_a = idempotency_scope(&caller(&a.1, a.0), &a.2);
            let scope_b = idempotency_scope(&caller(&b.1, b.0), &b.2);
            prop_assert_eq!(a == b, scope_a == scope_b, "{:?} / {:?}", a, b);
        }

        #[test]
        fn moving_text_between_caller_and_key_changes_the_scope(
            id in "[a-z#\\u{0}é]{0,12}",
            key in "[a-z#\\u{0}é]{1,12}",
            split in 1usize..12,
        ) {
            // The same text cut in two places: (id, key) and (id + head, tail).
            let cut = key.char_indices().map(|(i, _)| i).chain([key.len()]).nth(split.min(key.chars().count())).unwrap();
            let (head, tail) = key.split_at(cut);
            let moved = format!("{id}{head}");
            prop_assume!(!head.is_empty());
            let original = idempotency_scope(&caller(&id, Via::Api), &key);
            let shifted = idempotency_scope(&caller(&moved, Via::Api), tail);
            prop_assert_ne!(original, shifted);
        }
    }
}

/// A user's role on a tenant. Platform admins hold every role on every tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Read the tenant, its access list, grants and history.
    ReadOnly,
    /// What `read-only` may, and get short-lived AWS credentials for the tenant's role.
    User,
    /// What `user` may, and manage the tenant: its settings, who has access, its grants.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::ReadOnly, Role::User, Role::Admin];

    /// `read-only`, `user` or `admin`, as plugins, policies and the API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to give a user access to a tenant, as plugins see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantRequest {
    /// The user's subject.
    pub user_id: String,
    /// The user's e-mail, when known.
    pub user_email: Option<String>,
    /// The role asked for.
    pub level: Role,
}

/// A tenant type's answer to a grant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GrantDecision {
    /// The grant may go ahead.
    Allow,
    /// The grant is refused, with the reason.
    Deny(String),
}

/// Most entries one tenant's access list holds.
pub const MAX_ACCESS_ENTRIES: usize = 200;

/// A user's role on one tenant incarnation, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessEntry {
    /// The tenant's name.
    pub tenant: Name,
    /// The tenant incarnation the entry belongs to: an entry of an earlier tenant of the
    /// same name gives nothing on a later one.
    pub tenant_id: uuid::Uuid,
    /// The user's subject (`sub` claim).
    pub user: String,
    /// The role.
    pub role: Role,
    /// The user's e-mail as the granter stated it to the tenant type's `on-grant-access`
    /// hook. When present, the entry gives its role only to a caller whose verified token
    /// carries this address: a granter cannot get past a hook that decides by e-mail by
    /// stating someone else's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When the access ends, if it does.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
    /// Who gave it.
    pub granted_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
}

impl AccessEntry {
    /// True while the entry gives its role: before `expires_at`, if any. Checked on every
    /// request, so access ends at that instant whatever the sweeper does.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|end| now < end)
    }

    /// The role it gives `caller` on the incarnation `tenant_id` at `now`: none if it
    /// names another incarnation, has ended, or names an e-mail the caller's token does not
    /// carry (compared without regard to case).
    pub fn role_for(&self, caller: &Caller, tenant_id: uuid::Uuid, now: OffsetDateTime) -> Option<Role> {
        let email_matches = self
            .email
            .as_deref()
            .is_none_or(|stated| caller.email.as_deref().is_some_and(|verified| verified.eq_ignore_ascii_case(stated)));
        (self.tenant_id == tenant_id && self.is_active(now) && email_matches && self.user == caller.id)
            .then_some(self.role)
    }
}

/// An entry as the API shows it: with whether it still gives its role now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessView {
    /// The entry.
    #[serde(flatten)]
    pub entry: AccessEntry,
    /// False once `expiresAt` has passed (the sweep removes the entry later).
    pub active: bool,
}

/// The body of `PUT /v1/tenants/{name}/access/{user}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessChange {
    /// The role to give.
    pub role: Role,
    /// When the access ends (RFC 3339); it never does when absent.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A user's access to one tenant, with the tenant as it is now (`None` if the record is
/// gone). Entries of earlier incarnations come back too: the caller checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccess {
    /// The entry.
    pub entry: AccessEntry,
    /// The tenant of that name.
    pub tenant: Option<crate::tenant::Tenant>,
}
