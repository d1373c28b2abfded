//! Routes of tenant-to-tenant grants.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use tenancy_domain::grant::GrantRequest;

use tenancy_domain::grant::Grant;
use tenancy_domain::views::Items;

use super::openapi;
use super::{Api, Authenticated, Reply, bad_request, json_response, parse_body, path_name, read_body};

#[utoipa::path(get, path = "/v1/tenants/{name}/grants", tag = "grants", params(openapi::NameParam),
    responses((status = 200, description = "Grants the tenant gave and received", body = Items<Grant>), openapi::Problems))]
pub(super) async fn list_grants(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    let items = api.tenancy.list_grants(&caller, &name).await?;
    Ok(json_response(StatusCode::OK, &Items { items }))
}

#[utoipa::path(post, path = "/v1/tenants/{name}/grants", tag = "grants", params(openapi::NameParam), request_body = GrantRequest,
    responses((status = 201, description = "Recorded; it is being applied", body = Grant), openapi::Problems))]
pub(super) async fn create_grant(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let name = path_name(name)?;
    let body = read_body(body)?;
    let request: GrantRequest = parse_body(&headers, &body, &["application/json"])?;
    let grant = api.tenancy.create_grant(&caller, &name, request).await?;
    Ok(json_response(StatusCode::CREATED, &grant))
}

#[utoipa::path(delete, path = "/v1/tenants/{name}/grants/{id}", tag = "grants", params(openapi::NameParam, openapi::GrantIdParam),
    responses((status = 202, description = "It is being removed", body = Grant), openapi::Problems))]
pub(super) async fn revoke_grant(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply {
    let (name, id) =
        path.map(|Path(pair)| pair).map_err(|rejection| bad_request(format!("the path is malformed: {rejection}")))?;
    let grant = api.tenancy.revoke_grant(&caller, &name, &id).await?;
    Ok(json_response(StatusCode::ACCEPTED, &grant))
}
