//! What the API returns, shared by the router, the OpenAPI document and tenantctl: the
//! shapes that are not a domain type as stored (a tenant without the worker's internals,
//! pages, lists, the tenant types, problem documents).
//!
//! Every view reads leniently (unknown fields are ignored, optional ones default), so that
//! a client built from an older copy keeps working against a newer server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::infrastructure::Environment;
use crate::names::Name;
use crate::tenant::{Failure, PluginRecord, Requester, ResourceStatus, Retrying, Tenant, TenantState};
use crate::tenant_type::{Capability, Hook, TenantTypeInfo};

/// A tenant as the API shows it: the record without the worker's lease and the tags it
/// last applied. Its version is also the `ETag` of `GET /v1/tenants/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantView {
    /// Unique per incarnation.
    pub id: Uuid,
    /// Its name.
    pub name: Name,
    /// Its infrastructure.
    pub infrastructure: Name,
    /// The infrastructure's environment class.
    pub environment: Environment,
    /// The tenant type.
    #[serde(rename = "type")]
    pub tenant_type: String,
    /// Lifecycle state.
    pub state: TenantState,
    /// Settings.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// User tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// While on, the tenant cannot be deleted.
    #[serde(default)]
    pub deletion_protection: bool,
    /// When the tenant ends: the sweep then deletes it, or reports it while deletion
    /// protection is on.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
    /// One entry per resource, in the order the lifecycle makes them.
    #[serde(default)]
    pub resources: Vec<ResourceStatus>,
    /// Set while the tenant is `failed`: the step and the cloud's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Who asked for the current state.
    pub requested_by: Requester,
    /// Who asked for the tenant in the first place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Requester>,
    /// Runs of the current operation so far.
    #[serde(default)]
    pub attempts: u32,
    /// Set while a step waits to be tried again after a passing fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrying: Option<Retrying>,
    /// Resources tagged with the tenant that this deployment did not make, found at deletion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<String>,
    /// The tenant type's plan, once its plugin made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginRecord>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Incremented by every write; `If-Match` on `PATCH` names it.
    pub version: u64,
}

impl From<&Tenant> for TenantView {
    fn from(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id(),
            name: tenant.name().clone(),
            infrastructure: tenant.infrastructure().clone(),
            environment: tenant.environment(),
            tenant_type: tenant.tenant_type().clone(),
            state: tenant.state(),
            settings: tenant.settings().clone(),
            tags: tenant.tags().clone(),
            deletion_protection: tenant.deletion_protection(),
            expires_at: tenant.expires_at(),
            resources: tenant.resources().clone(),
            failure: tenant.failure().clone(),
            requested_by: tenant.requested_by().clone(),
            created_by: tenant.created_by().clone(),
            attempts: tenant.attempts(),
            retrying: tenant.retrying().clone(),
            leftovers: tenant.leftovers().clone(),
            plugin: tenant.plugin().clone(),
            created_at: tenant.created_at(),
            updated_at: tenant.updated_at(),
            version: tenant.version(),
        }
    }
}

/// One page of a listing: `nextCursor` is `null` on the last page, otherwise the
/// `cursor` query parameter that fetches the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Paged<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A whole list in one answer (a tenant's access entries, its grants, the tenant types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}

/// A tenant type as `GET /v1/tenant-types` lists it: the built-in `default` type (no
/// plugin) or a declared one with its plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantTypeView {
    /// The type, as tenants name it.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// True for the built-in type.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub built_in: bool,
    /// The plugin's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The plugin's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// SHA-256 of the plugin's `.wasm`, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The hooks it implements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    /// What it declares it may ask for beyond the rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Capability>,
    /// Of those, what an admin enabled for this deployment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled_capabilities: Vec<Capability>,
}

impl TenantTypeView {
    /// The built-in type.
    pub fn built_in() -> Self {
        Self {
            name: crate::tenant::DEFAULT_TYPE.into(),
            description: "The built-in type: the tenant's boundary, with no plugin.".into(),
            built_in: true,
            plugin: None,
            version: None,
            sha256: None,
            hooks: Vec::new(),
            capabilities: Vec::new(),
            enabled_capabilities: Vec::new(),
        }
    }
}

impl From<TenantTypeInfo> for TenantTypeView {
    fn from(info: TenantTypeInfo) -> Self {
        Self {
            name: info.name,
            description: info.description,
            built_in: false,
            plugin: Some(info.plugin),
            version: Some(info.version),
            sha256: Some(info.sha256),
            hooks: info.hooks,
            capabilities: info.capabilities,
            enabled_capabilities: info.enabled_capabilities,
        }
    }
}

/// An error as the API answers it (`application/problem+json`, RFC 9457).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemBody {
    /// `urn:tenancy:problem:<slug>`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// What went wrong, in a few words; the same for every problem of its type.
    #[serde(default)]
    pub title: String,
    /// The HTTP status.
    #[serde(default)]
    pub status: u16,
    /// What went wrong this time, and what to do about it.
    #[serde(default)]
    pub detail: String,
    /// Members some problems add (`field` of an invalid field...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::access::{Caller, Via};

    fn tenant() -> Tenant {
        let now = OffsetDateTime::UNIX_EPOCH;
        let caller = Caller { id: "anna".into(), email: None, groups: Vec::new(), via: Via::Api, request_id: None };
        Tenant::new(
            Name::parse("name", "payments").unwrap(),
            Name::parse("name", "platform").unwrap(),
            Environment::Nonprod,
            "default".into(),
            BTreeMap::new(),
            BTreeMap::from([("team".into(), "payments".into())]),
            false,
            Requester::from_caller(&caller, now),
            now,
        )
    }

    #[test]
    fn a_tenant_view_is_the_record_without_the_workers_internals() {
        let tenant = tenant();
        let mut record = serde_json::to_value(&tenant).unwrap();
        let record = record.as_object_mut().unwrap();
        record.remove("lease");
        record.remove("appliedTags");
        record.remove("expiryWarnedAt");
        record.remove("expiryBlockedAt");
        assert_eq!(serde_json::to_value(TenantView::from(&tenant)).unwrap(), json!(record));
    }

    #[test]
    fn views_ignore_fields_a_newer_server_adds() {
        let expected = TenantView::from(&tenant());
        let mut view = serde_json::to_value(&expected).unwrap();
        view["somethingNew"] = json!({ "nested": true });
        assert_eq!(serde_json::from_value::<TenantView>(view).unwrap(), expected);
        let page: Paged<u8> = serde_json::from_value(json!({ "items": [1], "total": 9 })).unwrap();
        assert_eq!(page, Paged { items: vec![1], next_cursor: None });
    }

    #[test]
    fn a_problem_keeps_the_members_it_does_not_name() {
        let body = json!({ "type": "urn:tenancy:problem:invalid-field", "title": "A field is not valid",
            "status": 422, "detail": "name: too long", "field": "name" });
        let problem: ProblemBody = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(problem.extra["field"], "name");
        assert_eq!(serde_json::to_value(problem).unwrap(), body);
    }
}
