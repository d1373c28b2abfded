//! Infrastructures: one VPC each, the parent of tenants.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::Error;
use crate::names::Name;

/// Whether an infrastructure runs production workloads. It sets defaults, such as
/// deletion protection for its tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Environment {
    /// Production: tenants are deletion-protected by default.
    Prod,
    /// Anything else.
    Nonprod,
}

impl Environment {
    /// `prod` or `nonprod`, as the API and the policies spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prod => "prod",
            Self::Nonprod => "nonprod",
        }
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A VPC that tenants live in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Infrastructure {
    /// Unique name.
    pub name: Name,
    /// AWS region of the VPC.
    pub region: String,
    /// The VPC (`vpc-...`).
    pub vpc_id: String,
    /// Production or not.
    pub environment: Environment,
    /// The VPC's CIDR blocks (IPv4 and IPv6), read from the cloud when the infrastructure
    /// was registered: ingress from inside them is private, anything else is public.
    #[serde(default)]
    pub cidr_blocks: Vec<String>,
    /// How many tenants (not yet deleted) live here; an infrastructure can only be deleted at 0.
    pub tenant_count: u64,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who created it.
    pub created_by: String,
}

/// Checks an AWS region code such as `eu-west-1`.
pub fn validate_region(region: &str) -> Result<(), Error> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("region", format!("'{region}' is not an AWS region code such as 'eu-west-1'")))
    }
}

/// Checks a VPC id such as `vpc-0a1b2c3d`.
pub fn validate_vpc_id(vpc_id: &str) -> Result<(), Error> {
    let hex = vpc_id.strip_prefix("vpc-").unwrap_or("");
    if (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(Error::invalid("vpcId", format!("'{vpc_id}' is not a VPC id such as 'vpc-0a1b2c3d'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes_are_checked() {
        for ok in ["us-east-1", "eu-west-3", "us-gov-west-1", "ap-southeast-2"] {
            validate_region(ok).unwrap();
        }
        for bad in ["", "useast1", "US-EAST-1", "us-east", "us-east-x"] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vpc_ids_are_checked() {
        validate_vpc_id("vpc-0a1b2c3d").unwrap();
        validate_vpc_id("vpc-0123456789abcdef0").unwrap();
        for bad in ["", "vpc-", "vpc-xyz12345", "sg-0a1b2c3d", "vpc-0A1B2C3D"] {
            assert!(validate_vpc_id(bad).is_err(), "{bad}");
        }
    }
}
