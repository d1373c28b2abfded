//! Routes of access: who has a role on a tenant, the caller's own view, the history.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;
use tenancy_domain::service::AccessRequest;

use super::{
    Api, Authenticated, Reply, bad_request, json_response, list_query, page_body, parse_body, path_name, read_body,
};
use crate::problem::Problem;

/// `{name}` and `{user}` of the path.
fn tenant_and_user(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), Problem> {
    path.map(|Path(pair)| pair).map_err(|rejection| bad_request(format!("the path is malformed: {rejection}")))
}

pub(super) async fn list_access(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    let items = api.tenancy.list_access(&caller, &name).await?;
    Ok(json_response(StatusCode::OK, &json!({ "items": items })))
}

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

pub(super) async fn delete_access(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply {
    let (name, user) = tenant_and_user(path)?;
    api.tenancy.delete_access(&caller, &name, &user).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn history(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Reply {
    let name = path_name(name)?;
    let q = list_query(query.as_deref(), &[])?;
    let page = api.tenancy.tenant_history(&caller, &name, q.limit, q.cursor).await?;
    Ok(json_response(StatusCode::OK, &page_body(page, |entry| json!(entry))))
}

pub(super) async fn me(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    RawQuery(query): RawQuery,
) -> Reply {
    let q = list_query(query.as_deref(), &[])?;
    Ok(json_response(StatusCode::OK, &api.tenancy.me(&caller, q.limit, q.cursor).await?))
}
