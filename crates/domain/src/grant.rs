//! Tenant-to-tenant grants: what one tenant opens of itself to another tenant of the same
//! infrastructure. A network grant is an ingress rule on the granting tenant's group whose
//! source is the other tenant's group; an IAM grant is an inline policy on the other
//! tenant's role allowing one area's actions on the granting tenant's tagged resources.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::Error;
use crate::names::Name;

/// Most grants one tenant may give.
pub const MAX_GRANTS_PER_TENANT: usize = 50;

/// What an IAM grant may open, per area: its read actions, and the actions `write` adds.
/// Drawn from the tenant role's own table ([`crate::policy::TENANT_SCOPED_ACTIONS`]): only
/// actions whose services evaluate `aws:ResourceTag`, so that the grant's condition on the
/// granting tenant's tag really binds. S3 is not an area: its object actions do not
/// evaluate the bucket's tags, so a tag-bound S3 grant would bind nothing.
pub const IAM_AREAS: [(&str, &[&str], &[&str]); 5] = [
    (
        "kms",
        &["kms:Decrypt", "kms:DescribeKey"],
        &[
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
        ],
    ),
    ("secretsmanager", &["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], &[]),
    ("ssm", &["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"], &[]),
    ("sqs", &["sqs:ReceiveMessage", "sqs:GetQueueAttributes"], &["sqs:SendMessage", "sqs:DeleteMessage"]),
    (
        "dynamodb",
        &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"],
        &["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
    ),
];

/// The actions an IAM grant of `area` at `access` allows (`write` includes `read`), or
/// `None` for an area the table does not have or a level it has no actions for.
pub fn iam_actions(area: &str, access: AccessLevel) -> Option<Vec<&'static str>> {
    let (_, read, write) = IAM_AREAS.iter().find(|(name, _, _)| *name == area)?;
    match access {
        AccessLevel::Read => Some(read.to_vec()),
        AccessLevel::Write if write.is_empty() => None,
        AccessLevel::Write => Some(read.iter().chain(write.iter()).copied().collect()),
    }
}

/// Protocols a network grant may open.
pub const PROTOCOLS: [&str; 2] = ["tcp", "udp"];

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GrantStatus {
    /// Recorded; the lifecycle function has not applied it yet (or a try failed and will
    /// be repeated).
    Pending,
    /// In the cloud.
    Applied,
    /// Revoked or expired; the lifecycle function is taking it out of the cloud.
    Removing,
    /// The cloud refused it for good; the error says why.
    Failed,
}

/// A port range, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ports {
    /// First port.
    pub from: u16,
    /// Last port.
    pub to: u16,
}

/// `"5432"` or `{ "from": 8000, "to": 8080 }` as a request states ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PortsRequest {
    /// A range.
    Range {
        /// First port.
        from: i64,
        /// Last port.
        to: i64,
    },
    /// One port, as text or a number.
    One(serde_json::Value),
}

impl PortsRequest {
    /// The range, checked: 1 to 65535, `from <= to`.
    pub fn parse(&self) -> Result<Ports, Error> {
        let bad = || Error::invalid("ports", "must be a port (1-65535) or { from, to } with 1 <= from <= to <= 65535");
        let port = |value: i64| u16::try_from(value).ok().filter(|p| *p >= 1).ok_or_else(bad);
        match self {
            Self::One(value) => {
                let number = match value {
                    serde_json::Value::Number(n) => n.as_i64().ok_or_else(bad)?,
                    serde_json::Value::String(s) => s.trim().parse::<i64>().map_err(|_| bad())?,
                    _ => return Err(bad()),
                };
                let p = port(number)?;
                Ok(Ports { from: p, to: p })
            }
            Self::Range { from, to } => {
                let (from, to) = (port(*from)?, port(*to)?);
                if from > to {
                    return Err(bad());
                }
                Ok(Ports { from, to })
            }
        }
    }
}

/// Whether an IAM grant lets the other tenant read or also write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AccessLevel {
    /// Read actions only.
    Read,
    /// Write actions (those of the area's write level).
    Write,
}

/// What a grant opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GrantKind {
    /// An ingress rule from the other tenant's group.
    Network {
        /// `tcp` or `udp`.
        protocol: String,
        /// The ports.
        ports: Ports,
    },
    /// A policy on the other tenant's role.
    Iam {
        /// The area (`s3`, `kms`, ...), as the plan action table names it.
        area: String,
        /// Read or write.
        access: AccessLevel,
    },
}

/// One grant, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grant {
    /// Its id.
    pub id: Uuid,
    /// The granting tenant.
    pub from_tenant: Name,
    /// The granting tenant's incarnation.
    pub from_tenant_id: Uuid,
    /// The tenant it opens to.
    pub to_tenant: Name,
    /// That tenant's incarnation.
    pub to_tenant_id: Uuid,
    /// What it opens.
    #[serde(flatten)]
    pub kind: GrantKind,
    /// Where it is.
    pub status: GrantStatus,
    /// The last error applying or removing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it stops.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
    /// Who gave it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Grant {
    /// True when it involves the tenant incarnation `id`, on either side.
    pub fn involves(&self, id: Uuid) -> bool {
        self.from_tenant_id == id || self.to_tenant_id == id
    }

    /// The name cloud resources made for this grant carry (the rule's description, the
    /// inline policy's name).
    pub fn cloud_name(&self) -> String {
        format!("tenancy-grant-{}", self.id)
    }
}

/// The body of `POST /v1/tenants/{name}/grants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantRequest {
    /// The tenant to open to.
    pub to_tenant: String,
    /// Network: the protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Network: the ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortsRequest>,
    /// IAM: the area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// IAM: read or write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessLevel>,
    /// When it stops (RFC 3339); never when absent.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
}

impl GrantRequest {
    /// What it asks to open, checked: either protocol and ports, or area and access
    /// ([`IAM_AREAS`]).
    pub fn kind(&self) -> Result<GrantKind, Error> {
        match (&self.protocol, &self.ports, &self.area, &self.access) {
            (Some(protocol), Some(ports), None, None) => {
                let protocol = protocol.to_ascii_lowercase();
                if !PROTOCOLS.contains(&protocol.as_str()) {
                    return Err(Error::invalid("protocol", format!("must be one of {}", PROTOCOLS.join(", "))));
                }
                Ok(GrantKind::Network { protocol, ports: ports.parse()? })
            }
            (None, None, Some(area), Some(access)) => {
                if !IAM_AREAS.iter().any(|(name, _, _)| name == area) {
                    let areas: Vec<&str> = IAM_AREAS.iter().map(|(name, _, _)| *name).collect();
                    return Err(Error::invalid("area", format!("must be one of {}", areas.join(", "))));
                }
                if iam_actions(area, *access).is_none() {
                    return Err(Error::invalid("access", format!("area '{area}' can only be granted read")));
                }
                Ok(GrantKind::Iam { area: area.clone(), access: *access })
            }
            _ => Err(Error::invalid(
                "grant",
                "give either protocol and ports (a network grant) or area and access (an IAM grant)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_grants_allow_only_tag_scoped_actions_a_plan_may_have() {
        for (area, read, write) in IAM_AREAS {
            for action in read.iter().chain(write.iter()) {
                assert!(action.starts_with(&format!("{area}:")), "{action}");
                assert!(crate::policy::TENANT_SCOPED_ACTIONS.contains(action), "{action}");
                // Of the plan catalogue's services (kms is not one: plans never name keys),
                // every action passes the plan's own check.
                if crate::plan::catalogue::catalogue().has_service(area) {
                    assert!(crate::plan::actions::check_action(action).is_ok(), "{action}");
                }
            }
        }
        assert_eq!(iam_actions("sqs", AccessLevel::Read).unwrap(), ["sqs:ReceiveMessage", "sqs:GetQueueAttributes"]);
        assert_eq!(iam_actions("sqs", AccessLevel::Write).unwrap().len(), 4);
        assert_eq!(iam_actions("ssm", AccessLevel::Write), None);
        assert_eq!(iam_actions("s3", AccessLevel::Read), None);
    }

    fn ports(value: serde_json::Value) -> Result<Ports, Error> {
        serde_json::from_value::<PortsRequest>(value).unwrap().parse()
    }

    #[test]
    fn ports_are_one_port_or_an_ordered_range_within_1_to_65535() {
        assert_eq!(ports(serde_json::json!("5432")).unwrap(), Ports { from: 5432, to: 5432 });
        assert_eq!(ports(serde_json::json!(53)).unwrap(), Ports { from: 53, to: 53 });
        assert_eq!(ports(serde_json::json!({"from": 8000, "to": 8080})).unwrap(), Ports { from: 8000, to: 8080 });
        for bad in [
            serde_json::json!("0"),
            serde_json::json!("65536"),
            serde_json::json!("x"),
            serde_json::json!(-1),
            serde_json::json!({"from": 9, "to": 8}),
            serde_json::json!({"from": 0, "to": 8}),
            serde_json::json!({"from": 1, "to": 70000}),
        ] {
            assert!(ports(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_request_is_either_network_or_iam() {
        let request = |value| serde_json::from_value::<GrantRequest>(value).unwrap();
        let network = request(serde_json::json!({"toTenant": "b", "protocol": "TCP", "ports": "5432"}));
        assert_eq!(
            network.kind().unwrap(),
            GrantKind::Network { protocol: "tcp".into(), ports: Ports { from: 5432, to: 5432 } }
        );
        let icmp = request(serde_json::json!({"toTenant": "b", "protocol": "icmp", "ports": "1"}));
        assert!(icmp.kind().is_err());
        let iam = request(serde_json::json!({"toTenant": "b", "area": "kms", "access": "write"}));
        assert_eq!(iam.kind().unwrap(), GrantKind::Iam { area: "kms".into(), access: AccessLevel::Write });
        assert!(request(serde_json::json!({"toTenant": "b", "area": "s3", "access": "read"})).kind().is_err());
        assert!(request(serde_json::json!({"toTenant": "b", "area": "ssm", "access": "write"})).kind().is_err());
        assert!(request(serde_json::json!({"toTenant": "b"})).kind().is_err());
        let both = request(
            serde_json::json!({"toTenant": "b", "protocol": "tcp", "ports": 1, "area": "s3", "access": "read"}),
        );
        assert!(both.kind().is_err());
    }
}
