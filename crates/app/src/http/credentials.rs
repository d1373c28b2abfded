//! `POST /v1/tenants/{name}/credentials`: short-lived AWS credentials of the tenant's role,
//! in the shape the AWS CLI's `credential_process` reads.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, HeaderValue, PRAGMA};
use tenancy_domain::credentials::CredentialProcess;

use super::openapi;
use super::{Api, Authenticated, Reply, json_response, path_name};

#[utoipa::path(post, path = "/v1/tenants/{name}/credentials", tag = "access", params(openapi::NameParam),
    responses((status = 200, description = "Short-lived credentials for the tenant's role, in the shape `credential_process` reads", body = CredentialProcess,
        headers(("cache-control" = String, description = "`no-store`"))), openapi::Problems))]
pub(super) async fn issue(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    let session = api.tenancy.issue_credentials(&caller, &name).await?;
    let mut response = json_response(StatusCode::OK, &CredentialProcess::from(session));
    // Secrets: no cache on the way may keep them.
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}
