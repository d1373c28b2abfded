//! Routes of access: who has a role on a tenant, the caller's own view, the history.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use tenancy_domain::service::AccessRequest;

use tenancy_domain::access::AccessView;
use tenancy_domain::audit::AuditEntry;
use tenancy_domain::service::Me;
use tenancy_domain::views::{Items, Paged};

use super::openapi;
use super::{
    Api, Authenticated, Reply, bad_request, json_response, list_query, page_body, parse_body, path_name, read_body,
};
use crate::problem::Problem;

/// `{name}` and `{user}` of the path.
fn tenant_and_user(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), Problem> {
    path.map(|Path(pair)| pair).map_err(|rejection| bad_request(format!("the path is malformed: {rejection}")))
}

#[utoipa::path(get, path = "/v1/tenants/{name}/access", tag = "access", params(openapi::NameParam),
    responses((status = 200, description = "Who has a role on the tenant", body = Items<AccessView>), openapi::Problems))]
pub(super) async fn list_access(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    let items = api.tenancy.list_access(&caller, &name).await?;
    Ok(json_response(StatusCode::OK, &Items { items }))
}

#[utoipa::path(put, path = "/v1/tenants/{name}/access/{user}", tag = "access", params(openapi::NameParam, openapi::UserParam),
    request_body = AccessRequest,
    responses((status = 200, description = "The user has the role", body = AccessView), openapi::Problems))]
pub(super) async fn put_access(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let (name, user) = tenant_and_user(path)?;
    let body = read_body(body)?;
    let request: AccessRequest = parse_body(&headers, &body, &["application/json"])?;
    let view = api.tenancy.put_access(&caller, &name, &user, request).await?;
    Ok(json_response(StatusCode::OK, &view))
}

#[utoipa::path(delete, path = "/v1/tenants/{name}/access/{user}", tag = "access", params(openapi::NameParam, openapi::UserParam),
    responses((status = 204, description = "The user has no role on the tenant any more"), openapi::Problems))]
pub(super) async fn delete_access(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply {
    let (name, user) = tenant_and_user(path)?;
    api.tenancy.delete_access(&caller, &name, &user).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(get, path = "/v1/tenants/{name}/history", tag = "access", params(openapi::NameParam, openapi::PageParams),
    responses((status = 200, description = "What happened to the tenant, newest first", body = Paged<AuditEntry>), openapi::Problems))]
pub(super) async fn history(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Reply {
    let name = path_name(name)?;
    let q = list_query(query.as_deref(), &[])?;
    let page = api.tenancy.tenant_history(&caller, &name, q.limit, q.cursor).await?;
    Ok(json_response(StatusCode::OK, &page_body(page, AuditEntry::clone)))
}

#[utoipa::path(get, path = "/v1/me", tag = "access", params(openapi::PageParams),
    responses((status = 200, description = "The caller, and the tenants they have a role on", body = Me), openapi::Problems))]
pub(super) async fn me(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    RawQuery(query): RawQuery,
) -> Reply {
    let q = list_query(query.as_deref(), &[])?;
    Ok(json_response(StatusCode::OK, &api.tenancy.me(&caller, q.limit, q.cursor).await?))
}
