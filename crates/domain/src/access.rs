//! Who is calling, and what they may do.
//!
//! In this version only platform admins act; per-tenant grants come with the access
//! control work and will be decided here too.

use crate::error::Error;

/// Members of this group are platform admins: they see and manage every tenant.
pub const ADMIN_GROUP: &str = "tenancy-admins";

/// How a request reached Tenancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl Caller {
    /// A producer of request events on the bus. The bus policy decides who may put
    /// events there, so an admitted producer acts with platform-admin rights.
    pub fn event_producer(source: &str, account: &str) -> Self {
        Self { id: format!("{source}@{account}"), email: None, groups: vec![ADMIN_GROUP.to_string()], via: Via::Event }
    }

    /// True for members of [`ADMIN_GROUP`].
    pub fn is_platform_admin(&self) -> bool {
        self.groups.iter().any(|g| g == ADMIN_GROUP)
    }

    /// Refuses anyone who is not a platform admin.
    pub fn require_admin(&self) -> Result<(), Error> {
        if self.is_platform_admin() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "only members of the '{ADMIN_GROUP}' group may manage infrastructures and tenants"
            )))
        }
    }
}
