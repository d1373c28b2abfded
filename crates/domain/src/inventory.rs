//! Inventory and drift: what the cloud holds for a tenant, found from the cloud itself,
//! against what the tenant's record names.
//!
//! The adapter ([`crate::ports::Inventory`]) only reports what it found; which of it
//! counts, and what is drift, is decided here. Everything the cloud says is untrusted:
//! a tag value or an ARN may be anything, of any length, so each is bounded before it is
//! kept or shown.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::infrastructure::Infrastructure;
use crate::metadata::tag_keys;
use crate::names::{DerivedNames, Name};
use crate::tenant::{ResourceKind, ResourceRef, Tenant, TenantState};

/// Most resources one inventory reports: beyond it the answer says it is truncated. A
/// tenant has 4 resources and a few buckets; hundreds mean someone tags things by hand.
pub const MAX_HOLDINGS: usize = 500;
/// Most drift items one `Tenant Drift Detected` event carries: each is at most a few KB,
/// and an event at most 256 KB.
pub const MAX_DRIFT_PER_EVENT: usize = 40;
/// Longest ARN or id kept (AWS ARNs stay well under 2048 characters).
pub const MAX_ARN_LEN: usize = 2048;
/// Most tags kept per resource (AWS allows 50).
pub const MAX_TAGS: usize = 64;
/// Longest tag key kept (AWS: 128).
pub const MAX_TAG_KEY_LEN: usize = 128;
/// Longest tag value kept (AWS: 256).
pub const MAX_TAG_VALUE_LEN: usize = 256;

/// What the inventory port needs to know of one tenant to find what the cloud holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryScope {
    /// The tenant's name: the value of its `tenancy:tenant` tag.
    pub tenant: Name,
    /// The incarnation's id.
    pub tenant_id: Uuid,
    /// This deployment: resources another deployment tagged as its own are not counted.
    pub deployment: String,
    /// The region of the tenant's infrastructure.
    pub region: String,
    /// The tenant's IAM path (`/tenancy/<tenant>/`): the tagging API never returns IAM
    /// roles or instance profiles, so they are listed by path.
    pub iam_path: String,
    /// The resources the tenant's record names: each is looked up directly, so that one
    /// that lost its tags is still found.
    pub recorded: Vec<ResourceRef>,
}

impl InventoryScope {
    /// The scope of `tenant` in `infrastructure`, as `deployment` sees it. Only resources
    /// the record says exist (an id and an ARN, not deleted) count as recorded.
    pub fn of(tenant: &Tenant, infrastructure: &Infrastructure, deployment: &str) -> Self {
        let recorded = tenant
            .resources()
            .iter()
            .filter(|r| r.reason != "Deleted")
            .filter_map(|r| match (&r.id, &r.arn) {
                (Some(id), Some(arn)) if !id.is_empty() && !arn.is_empty() => {
                    Some(ResourceRef { kind: r.kind, id: id.clone(), arn: arn.clone() })
                }
                _ => None,
            })
            .collect();
        Self {
            tenant: tenant.name().clone(),
            tenant_id: tenant.id(),
            deployment: deployment.to_string(),
            region: infrastructure.region.clone(),
            iam_path: DerivedNames::for_tenant(tenant.name()).iam_path,
            recorded,
        }
    }
}

/// One resource as the cloud holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// Which of Tenancy's kinds it is; `None` for anything else tagged with the tenant
    /// (an instance, a volume, a queue...).
    pub kind: Option<ResourceKind>,
    /// Its id (group id, role name, key id, bucket name), or the ARN's last part.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// Its tags, as the cloud reports them.
    pub tags: BTreeMap<String, String>,
    /// A KMS key scheduled for deletion: unusable, and gone at the end of its window.
    pub pending_deletion: bool,
}

/// What the cloud holds for a tenant: the port's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holdings {
    /// Every resource found, each once: tagged with the tenant, under its IAM path, or
    /// named by its record.
    pub resources: Vec<Holding>,
    /// True when the cloud held more than the adapter read ([`MAX_HOLDINGS`]).
    pub truncated: bool,
}

/// The kinds of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DriftKind {
    /// A recorded resource lacks some of the tenant's tags, or has other values for them:
    /// cost allocation and tag-based access miss it.
    MissingTags,
    /// A recorded resource no longer exists (or its key is scheduled for deletion).
    Missing,
    /// A resource tagged with the tenant that the record does not name.
    Unrecorded,
}

impl DriftKind {
    /// The kind's name, as the API and events show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingTags => "missingTags",
            Self::Missing => "missing",
            Self::Unrecorded => "unrecorded",
        }
    }
}

/// A tag that differs from what Tenancy writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagDifference {
    /// The key.
    pub key: String,
    /// What Tenancy writes.
    pub expected: String,
    /// What the resource has; `None` when the key is absent.
    pub actual: Option<String>,
}

/// One item of drift, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Drift {
    /// What is wrong.
    pub kind: DriftKind,
    /// The resource's kind (`securityGroup`, `role`...) or, for other resources, the
    /// ARN's `service:type`.
    pub resource: String,
    /// Its ARN.
    pub arn: String,
    /// Its id.
    pub id: String,
    /// The tags that differ, for [`DriftKind::MissingTags`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagDifference>,
    /// What was found, for a person.
    pub detail: String,
    /// What to do about it.
    pub remedy: String,
}

/// One resource of the tenant, as the inventory shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryItem {
    /// Its kind (`securityGroup`, `role`...) or, for other resources, the ARN's `service:type`.
    pub kind: String,
    /// Its ARN.
    pub arn: String,
    /// Its id.
    pub id: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// True when the tenant's record names it.
    pub recorded: bool,
}

/// A tenant's inventory and drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryReport {
    /// The tenant.
    pub tenant: String,
    /// Its id.
    pub tenant_id: Uuid,
    /// Its state when checked.
    pub state: TenantState,
    /// What the cloud holds for it, this deployment's only.
    pub resources: Vec<InventoryItem>,
    /// What differs from the record. Judged only while the tenant is `active`: during an
    /// operation the worker is changing the resources, and a failed or deleted tenant's
    /// record is not a promise of what exists.
    pub drift: Vec<Drift>,
    /// Whether `drift` was judged (the tenant was `active`).
    pub drift_judged: bool,
    /// True when the cloud held more than [`MAX_HOLDINGS`] resources: the lists are partial.
    pub truncated: bool,
    /// When the cloud was read.
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

/// Cuts `text` to at most `max` characters.
fn bounded(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `holding` with every field bounded: what the cloud said, cut to what AWS allows.
pub fn sanitized(holding: Holding) -> Holding {
    let tags = holding
        .tags
        .into_iter()
        .take(MAX_TAGS)
        .map(|(k, v)| (bounded(&k, MAX_TAG_KEY_LEN), bounded(&v, MAX_TAG_VALUE_LEN)))
        .collect();
    Holding {
        kind: holding.kind,
        id: bounded(&holding.id, MAX_ARN_LEN),
        arn: bounded(&holding.arn, MAX_ARN_LEN),
        tags,
        pending_deletion: holding.pending_deletion,
    }
}

/// The ARN's `service:type` (`ec2:instance`, `sqs` for ARNs without a type), or `unknown`.
pub fn resource_type(arn: &str) -> String {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service), Some(_), Some(_), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return "unknown".into();
    };
    let service: String = service.chars().take(64).collect();
    match resource.split_once(['/', ':']) {
        Some((kind, _)) if !kind.is_empty() => format!("{service}:{}", bounded(kind, 64)),
        _ => service,
    }
}

fn display_kind(holding: &Holding) -> String {
    holding.kind.map(|k| k.as_str().to_string()).unwrap_or_else(|| resource_type(&holding.arn))
}

/// The tags Tenancy writes on every resource of `tenant` for `deployment`.
pub fn expected_tags(tenant: &Tenant, deployment: &str) -> BTreeMap<String, String> {
    let mut tags = tenant.resource_tags();
    tags.insert(tag_keys::DEPLOYMENT.into(), deployment.to_string());
    tags
}

/// Compares what the cloud holds with the tenant's record, and says what to do about each
/// difference. Resources another deployment tagged as its own are left out altogether;
/// an unrecorded key scheduled for deletion is an earlier incarnation's on its way out.
pub fn compare(
    tenant: &Tenant,
    scope: &InventoryScope,
    holdings: Holdings,
    checked_at: OffsetDateTime,
) -> InventoryReport {
    let expected = expected_tags(tenant, &scope.deployment);
    // A holding is a recorded resource when its ARN is the recorded one, or it is of the
    // same kind with the same id (an ARN may be spelt differently by another API).
    let recorded_index = |h: &Holding| {
        scope
            .recorded
            .iter()
            .position(|r| r.arn == h.arn || (Some(r.kind) == h.kind && !r.id.is_empty() && r.id == h.id))
    };
    let mut matched = vec![false; scope.recorded.len()];
    let judged = tenant.state() == TenantState::Active;
    let mut resources = Vec::new();
    let mut drift = Vec::new();
    let mut seen = BTreeSet::new();
    for holding in holdings.resources.into_iter().map(sanitized) {
        if holding.arn.is_empty() || !seen.insert(holding.arn.clone()) {
            continue;
        }
        let index = recorded_index(&holding);
        let recorded = index.is_some();
        let other_deployment = holding.tags.get(tag_keys::DEPLOYMENT).is_some_and(|d| *d != scope.deployment);
        if !recorded && (other_deployment || holding.pending_deletion) {
            continue;
        }
        if let Some(index) = index {
            matched[index] = true;
        }
        let kind = display_kind(&holding);
        if judged {
            if recorded && holding.pending_deletion {
                drift.push(missing_item(&kind, &holding.arn, &holding.id, true));
            } else if recorded {
                let differences: Vec<TagDifference> = expected
                    .iter()
                    .filter(|(k, v)| holding.tags.get(*k) != Some(*v))
                    .map(|(k, v)| TagDifference {
                        key: k.clone(),
                        expected: v.clone(),
                        actual: holding.tags.get(k).cloned(),
                    })
                    .collect();
                if !differences.is_empty() {
                    drift.push(untagged_item(tenant, &kind, &holding, differences));
                }
            } else {
                drift.push(unrecorded_item(tenant, &kind, &holding));
            }
        }
        resources.push(InventoryItem { kind, arn: holding.arn, id: holding.id, tags: holding.tags, recorded });
    }
    if judged && !holdings.truncated {
        for (record, _) in scope.recorded.iter().zip(&matched).filter(|(_, matched)| !**matched) {
            drift.push(missing_item(record.kind.as_str(), &record.arn, &record.id, false));
        }
    }
    drift.sort_by(|a, b| (a.kind, &a.arn).cmp(&(b.kind, &b.arn)));
    InventoryReport {
        tenant: tenant.name().to_string(),
        tenant_id: tenant.id(),
        state: tenant.state(),
        resources,
        drift,
        drift_judged: judged,
        truncated: holdings.truncated,
        checked_at,
    }
}

fn untagged_item(tenant: &Tenant, kind: &str, holding: &Holding, tags: Vec<TagDifference>) -> Drift {
    let keys: Vec<&str> = tags.iter().map(|t| t.key.as_str()).collect();
    let pairs: Vec<String> = tags.iter().map(|t| format!("{}={}", t.key, t.expected)).collect();
    Drift {
        kind: DriftKind::MissingTags,
        resource: kind.to_string(),
        arn: holding.arn.clone(),
        id: holding.id.clone(),
        detail: format!(
            "the {kind} {} lacks or has other values for the tag{} {}: cost allocation by tenant and tag-based \
             access miss it",
            holding.id,
            if keys.len() == 1 { "" } else { "s" },
            keys.join(", ")
        ),
        remedy: format!(
            "Update the tenant (PATCH /v1/tenants/{} with a tag change): its update writes every expected tag on \
             every resource again. Or put them back by hand: {}. Then find who removed them (CloudTrail: \
             DeleteTags, UntagResource, UntagRole).",
            tenant.name(),
            pairs.join(" ")
        ),
        tags,
    }
}

fn missing_item(kind: &str, arn: &str, id: &str, pending_deletion: bool) -> Drift {
    let (detail, remedy) = if pending_deletion {
        (
            format!("the tenant's key {id} is scheduled for deletion: nothing can be encrypted or decrypted with it"),
            "Cancel the deletion within its waiting period (kms cancel-key-deletion, then kms enable-key) if the \
             tenant's data needs it; otherwise update the tenant so that it makes a new key (data under the old \
             one stays unreadable)."
                .to_string(),
        )
    } else {
        (
            format!(
                "the tenant's record names the {kind} {id}, which no longer exists: it was deleted outside Tenancy"
            ),
            "Update the tenant (PATCH with a tag change): each step of the update makes only what is missing, so \
             the resource is made again, with the tenant's tags. Workloads that used the old one must be pointed \
             at the new one; find who deleted it in CloudTrail."
                .to_string(),
        )
    };
    Drift {
        kind: DriftKind::Missing,
        resource: kind.to_string(),
        arn: bounded(arn, MAX_ARN_LEN),
        id: bounded(id, MAX_ARN_LEN),
        tags: Vec::new(),
        detail,
        remedy,
    }
}

fn unrecorded_item(tenant: &Tenant, kind: &str, holding: &Holding) -> Drift {
    let tenant_id = tenant.id().to_string();
    let incarnation = holding.tags.get(tag_keys::TENANT_ID);
    let detail = match incarnation {
        Some(id) if *id != tenant_id => format!(
            "the {kind} {} is tagged with the tenant but with another {} ({id}): an earlier tenant of the same \
             name left it",
            holding.id,
            tag_keys::TENANT_ID
        ),
        _ if holding.tags.get(tag_keys::TENANT).map(String::as_str) != Some(tenant.name().as_str()) => {
            format!("the {kind} {} is under the tenant's IAM path but the tenant's record does not name it", holding.id)
        }
        _ => format!(
            "the {kind} {} is tagged {}={} but the tenant's record does not name it",
            holding.id,
            tag_keys::TENANT,
            tenant.name()
        ),
    };
    Drift {
        kind: DriftKind::Unrecorded,
        resource: kind.to_string(),
        arn: holding.arn.clone(),
        id: holding.id.clone(),
        tags: Vec::new(),
        detail,
        remedy: format!(
            "If it belongs to the tenant, keep it: its cost counts against the tenant, but Tenancy will not \
             delete it with the tenant, so delete it yourself first. If it does not, remove its {} tags so that \
             its cost stops counting against '{}'. Tenancy never touches it.",
            tag_keys::RESERVED_PREFIX,
            tenant.name()
        ),
    }
}

#[cfg(test)]
mod tests;
