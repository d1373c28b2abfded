//! The API's OpenAPI 3.1 document, derived from the handlers' annotations and the very
//! types they parse and answer with, so that it cannot drift from the code. Served
//! unauthenticated at `GET /v1/openapi.json`, and committed as `openapi.json` (a test keeps
//! the two equal).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder, ResponsesBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

use crate::problem;

/// The document, as served and committed.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tenancy",
        description = "A tenant control plane for AWS: infrastructures (one VPC each), tenants (a security \
            boundary, a container of resources, an access unit and a billing unit), who has access to them, \
            grants between them and their history. Every `/v1` route but this document needs a bearer token \
            (a JWT: `sub`, `email`, `email_verified`, `cognito:groups`). Every error is an \
            `application/problem+json` document (RFC 9457) with a stable `type`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::healthz,
        openapi_document,
        super::list_infrastructures,
        super::create_infrastructure,
        super::get_infrastructure,
        super::delete_infrastructure,
        super::list_tenants,
        super::create_tenant,
        super::tenant_types,
        super::get_tenant,
        super::update_tenant,
        super::delete_tenant,
        super::retry_tenant,
        super::access::list_access,
        super::access::put_access,
        super::access::delete_access,
        super::access::history,
        super::access::me,
        super::inventory::resources,
        super::credentials::issue,
        super::grants::list_grants,
        super::grants::create_grant,
        super::grants::revoke_grant,
    ),
    components(schemas(ProblemDocument)),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    tags(
        (name = "health", description = "Whether the function is up"),
        (name = "infrastructures", description = "VPCs that tenants live in (platform admins)"),
        (name = "tenants", description = "Tenants and their lifecycle"),
        (name = "access", description = "Who may do what on a tenant, short-lived credentials, history"),
        (name = "grants", description = "Tenant-to-tenant grants: network and IAM"),
        (name = "inventory", description = "What the cloud holds for a tenant, and how it differs from its record"),
    )
)]
pub struct ApiDoc;

/// The document as JSON text, built once per process.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
        text.push('\n');
        text
    })
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "health", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)))]
pub(super) async fn openapi_document() -> axum::response::Response {
    use axum::http::header::{CONTENT_TYPE, HeaderValue};
    let mut response = axum::response::Response::new(axum::body::Body::from(document()));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// An error, as every route answers one (RFC 9457).
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDocument {
    /// `urn:tenancy:problem:<slug>`: stable, for programs to match on.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong here and what to do about it.
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `405`: the methods the route allows (also in the `Allow` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<String>,
}

/// Every route's error answer: a problem document, whatever the status.
pub struct Problems;

impl IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        let content = ContentBuilder::new().schema(Some(utoipa::openapi::Ref::from_schema_name("Problem"))).build();
        ResponsesBuilder::new()
            .response(
                "default",
                ResponseBuilder::new()
                    .description("An error: a problem document (RFC 9457)")
                    .content(problem::CONTENT_TYPE, content),
            )
            .build()
            .into()
    }
}

/// `{name}`: a tenant's or infrastructure's name.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NameParam {
    /// The name.
    #[allow(dead_code)]
    name: String,
}

/// `{user}`: a user's subject (`sub` claim).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserParam {
    /// The user.
    #[allow(dead_code)]
    user: String,
}

/// `{id}`: a grant's id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GrantIdParam {
    /// The grant.
    #[allow(dead_code)]
    id: uuid::Uuid,
}

/// A page of a list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Most items on the page, from 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    #[allow(dead_code)]
    limit: Option<u32>,
    /// Where to go on: the previous page's `nextCursor`.
    #[allow(dead_code)]
    cursor: Option<String>,
}

/// Only the tenants of one infrastructure.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InfrastructureFilter {
    /// The infrastructure's name.
    #[allow(dead_code)]
    infrastructure: Option<String>,
}

/// `Idempotency-Key`: a retried create with the same key answers as the first did.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// 1 to 255 visible ASCII characters, remembered for 24 hours.
    #[param(rename = "Idempotency-Key", max_length = 255, min_length = 1)]
    #[allow(dead_code)]
    key: Option<String>,
}

/// `If-Match`: the change applies only to this version of the tenant (its `ETag`).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatch {
    /// The version, e.g. `"3"`.
    #[param(rename = "If-Match")]
    #[allow(dead_code)]
    version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `openapi.json` is the document the code serves. To update it after a
    /// change of the API: `UPDATE_OPENAPI=1 cargo test -p tenancy-app openapi`.
    #[test]
    fn the_committed_openapi_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, document()).expect("openapi.json is writable");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == document(),
            "openapi.json differs from the API's document; run `UPDATE_OPENAPI=1 cargo test -p tenancy-app openapi` and commit it"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_and_names_every_route() {
        let document: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        let paths = document["paths"].as_object().unwrap();
        for path in
            ["/v1/tenants", "/v1/tenants/{name}", "/v1/tenants/{name}/grants/{id}", "/v1/me", "/v1/openapi.json"]
        {
            assert!(paths.contains_key(path), "{path} is missing");
        }
    }
}
