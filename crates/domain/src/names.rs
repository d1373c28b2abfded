//! Name rules for tenants and infrastructures, and every AWS name derived from them.
//!
//! All derived names are built here and nowhere else, so the length limits below are
//! checked once, against every name that will ever be sent to AWS.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Longest accepted name. The tightest derived limits are the Kubernetes namespace (63)
/// and an S3 bucket of the form `tenancy-<tenant>-<12-digit account>-<suffix>` (63),
/// which plugins may add later; 32 leaves every derived name within its limit with
/// room for a short suffix.
pub const MAX_NAME_LEN: usize = 32;
/// Shortest accepted name: one-letter names are too easy to confuse in cost reports.
pub const MIN_NAME_LEN: usize = 2;

/// Prefix of every AWS resource name Tenancy creates, so they group together in consoles.
pub const RESOURCE_PREFIX: &str = "tenancy";

/// Names nobody may take, and the reason given when someone tries.
const RESERVED: &[(&str, &str)] = &[
    ("default", "it is the name of AWS and Kubernetes defaults and would be confused with them"),
    ("tenancy", "it is the name of the control plane itself"),
    ("admin", "it reads as a privilege, not a tenant"),
    ("admins", "it reads as a privilege, not a tenant"),
    ("root", "it reads as a privilege, not a tenant"),
    ("system", "it is reserved for platform components"),
    ("all", "it would be confused with a filter over every tenant"),
    ("none", "it would be confused with the absence of a tenant"),
    ("null", "it would be confused with the absence of a tenant"),
    ("shared", "it is reserved for resources that belong to no single tenant"),
];

/// Prefixes nobody may take: AWS reserves `aws`, Kubernetes reserves `kube-`.
const RESERVED_PREFIXES: &[(&str, &str)] = &[
    ("aws", "names starting with 'aws' are reserved by AWS"),
    ("amazon", "names starting with 'amazon' are reserved by AWS"),
    ("kube", "names starting with 'kube' are reserved by Kubernetes"),
    ("tenancy", "names starting with 'tenancy' are reserved for the control plane"),
];

/// A validated tenant or infrastructure name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Name(String);

impl Name {
    /// Checks `raw` against the name rules and returns it as a [`Name`], or an
    /// [`Error::Invalid`] that says which rule it broke.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let invalid = |why: String| Error::invalid(field, format!("'{raw}' is not a valid name: {why}"));
        if raw.len() < MIN_NAME_LEN || raw.len() > MAX_NAME_LEN {
            return Err(invalid(format!("it must be {MIN_NAME_LEN} to {MAX_NAME_LEN} characters long")));
        }
        if !raw.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(invalid("it must start with a lowercase letter".into()));
        }
        if let Some(c) = raw.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(invalid(format!("'{c}' is not allowed; use lowercase letters, digits and hyphens")));
        }
        if raw.ends_with('-') {
            return Err(invalid("it must not end with a hyphen".into()));
        }
        // `--` is how IDNA marks punycode labels (`xn--`) and reads as a separator in
        // derived names, so it is refused everywhere.
        if raw.contains("--") {
            return Err(invalid("it must not contain two hyphens in a row".into()));
        }
        if let Some((_, why)) = RESERVED.iter().find(|(name, _)| *name == raw) {
            return Err(invalid(format!("it is reserved: {why}")));
        }
        if let Some((_, why)) = RESERVED_PREFIXES.iter().find(|(prefix, _)| raw.starts_with(prefix)) {
            return Err(invalid((*why).to_string()));
        }
        Ok(Self(raw.to_string()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Name::parse("name", &raw).map_err(serde::de::Error::custom)
    }
}

/// The AWS names of one tenant's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedNames {
    /// IAM role name (limit 64).
    pub role: String,
    /// IAM instance profile name (limit 128).
    pub instance_profile: String,
    /// IAM path shared by the role and instance profile: `/tenancy/<tenant>/`. Listing by
    /// this path finds exactly this tenant's IAM entities (`dev` never matches `dev2`).
    pub iam_path: String,
    /// Security group name (limit 255).
    pub security_group: String,
    /// KMS alias (limit 256), including the mandatory `alias/` prefix.
    pub key_alias: String,
    /// Kubernetes namespace (limit 63), for clusters in the infrastructure.
    pub namespace: String,
}

/// AWS and Kubernetes limits on the derived names.
pub mod limits {
    /// IAM role name.
    pub const ROLE: usize = 64;
    /// IAM instance profile name.
    pub const INSTANCE_PROFILE: usize = 128;
    /// IAM path.
    pub const IAM_PATH: usize = 512;
    /// EC2 security group name.
    pub const SECURITY_GROUP: usize = 255;
    /// KMS alias name, `alias/` included.
    pub const KEY_ALIAS: usize = 256;
    /// Kubernetes namespace (a DNS label).
    pub const NAMESPACE: usize = 63;
}

impl DerivedNames {
    /// Derives every AWS name of `tenant`.
    pub fn for_tenant(tenant: &Name) -> Self {
        let base = format!("{RESOURCE_PREFIX}-{tenant}");
        Self {
            role: base.clone(),
            instance_profile: base.clone(),
            iam_path: format!("/{RESOURCE_PREFIX}/{tenant}/"),
            security_group: base.clone(),
            key_alias: format!("alias/{RESOURCE_PREFIX}/{tenant}"),
            namespace: base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn longest_name() -> Name {
        Name::parse("name", &format!("a{}", "b".repeat(MAX_NAME_LEN - 1))).unwrap()
    }

    #[test]
    fn every_derived_name_of_the_longest_name_fits_its_aws_limit() {
        let names = DerivedNames::for_tenant(&longest_name());
        assert!(names.role.len() <= limits::ROLE, "{}", names.role);
        assert!(names.instance_profile.len() <= limits::INSTANCE_PROFILE);
        assert!(names.iam_path.len() <= limits::IAM_PATH);
        assert!(names.security_group.len() <= limits::SECURITY_GROUP);
        assert!(names.key_alias.len() <= limits::KEY_ALIAS);
        assert!(names.namespace.len() <= limits::NAMESPACE);
    }

    #[test]
    fn a_name_one_character_too_long_is_refused_with_the_limit() {
        let raw = "a".repeat(MAX_NAME_LEN + 1);
        let err = Name::parse("name", &raw).unwrap_err().to_string();
        assert!(err.contains("2 to 32 characters"), "{err}");
    }

    #[test]
    fn lowercase_letters_digits_and_inner_hyphens_are_accepted() {
        for ok in ["dev", "qa-2", "data-science", "client-acme-01", "ab"] {
            assert_eq!(Name::parse("name", ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn malformed_names_are_refused_with_the_rule_they_break() {
        let cases = [
            ("", "characters long"),
            ("a", "characters long"),
            ("Dev", "lowercase letter"),
            ("1dev", "lowercase letter"),
            ("-dev", "lowercase letter"),
            ("dev_1", "'_' is not allowed"),
            ("dev.1", "'.' is not allowed"),
            ("dév", "is not allowed"),
            ("dev-", "end with a hyphen"),
            ("xn--dev", "two hyphens"),
        ];
        for (raw, why) in cases {
            let err = Name::parse("name", raw).unwrap_err().to_string();
            assert!(err.contains(why), "{raw:?}: {err}");
        }
    }

    #[test]
    fn reserved_names_and_prefixes_are_refused_with_a_reason() {
        for raw in ["default", "tenancy", "admin", "aws-prod", "kube-system", "amazonia", "tenancy-x"] {
            let err = Name::parse("name", raw).unwrap_err().to_string();
            assert!(err.contains("reserved"), "{raw}: {err}");
        }
    }

    #[test]
    fn iam_paths_of_prefix_related_tenants_do_not_nest() {
        let dev = DerivedNames::for_tenant(&Name::parse("n", "dev").unwrap());
        let dev2 = DerivedNames::for_tenant(&Name::parse("n", "dev2").unwrap());
        assert!(!dev2.iam_path.starts_with(&dev.iam_path));
        assert!(!dev.key_alias.is_empty() && dev2.key_alias != dev.key_alias);
    }
}
