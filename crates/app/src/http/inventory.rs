//! `GET /v1/tenants/{name}/resources`: what the cloud holds for the tenant, read from the
//! cloud itself, and how it differs from the tenant's record.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, HeaderValue};

use tenancy_domain::inventory::InventoryReport;

use super::openapi;
use super::{Api, Authenticated, Reply, json_response, path_name};

#[utoipa::path(get, path = "/v1/tenants/{name}/resources", tag = "inventory", params(openapi::NameParam),
    responses((status = 200, description = "Every resource the cloud holds for the tenant, and the drift from its record", body = InventoryReport,
        headers(("cache-control" = String, description = "`no-store`"))), openapi::Problems))]
pub(super) async fn resources(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    let report = api.tenancy.tenant_inventory(&caller, &name).await?;
    let mut response = json_response(StatusCode::OK, &report);
    // Read from the cloud now: a cache on the way must not answer with an old reading.
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
