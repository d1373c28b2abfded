//! The HTTP API: one axum [`Router`] for every way a request arrives (API Gateway
//! through `lambda_http` in AWS, `axum::serve` in the local runner).
//!
//! Who the caller is is not the router's business: the entry point in front of it verifies
//! the token (API Gateway's JWT authorizer, or the local runner playing it) and puts the
//! [`Caller`] in the request's extensions. Every `/v1` route needs one.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use axum::http::request::Parts;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, any, on};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tenancy_domain::access::Caller;
use tenancy_domain::infrastructure::Infrastructure;
use tenancy_domain::paging::Page;
use tenancy_domain::service::{ControlPlane, NewInfrastructure, NewTenant, TenantPatch};
use tenancy_domain::tenant::Tenant;
use tenancy_domain::views::{Items, Paged, TenantTypeView, TenantView};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

use crate::problem::{self, Problem};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// The header that carries a request's id, in and out. A request that arrives without one
/// is given a fresh UUID; in AWS the API function sets it to API Gateway's request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Where the API's OpenAPI document is served: the one `/v1` route open to anyone, so that
/// tools can read the contract before they have a token.
pub const OPENAPI_PATH: &str = "/v1/openapi.json";

/// The API over the domain service.
#[derive(Clone)]
pub struct Api {
    tenancy: ControlPlane,
}

pub(crate) type Reply = Result<Response, Problem>;

pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, &self.body());
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(problem::CONTENT_TYPE));
        if let Some(("allow", Value::String(allowed))) = self.extra.as_deref()
            && let Ok(value) = HeaderValue::from_str(allowed)
        {
            response.headers_mut().insert(axum::http::header::ALLOW, value);
        }
        response
    }
}

fn tenant_response(status: StatusCode, tenant: &Tenant) -> Response {
    let mut response = json_response(status, &TenantView::from(tenant));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", tenant.version())) {
        response.headers_mut().insert(axum::http::header::ETAG, etag);
    }
    response
}

/// A page as the API answers it, each item in its view.
pub(crate) fn page_body<T, V>(page: Page<T>, view: impl Fn(&T) -> V) -> Paged<V> {
    Paged { items: page.items.iter().map(view).collect(), next_cursor: page.next_cursor }
}

fn bad_request(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "bad-request", "The request is malformed", detail)
}

fn not_found_route(path: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no route for '{path}'; see the README for the API"),
    )
}

fn method_not_allowed(method: &Method, allowed: &str) -> Problem {
    Problem {
        extra: Some(Box::new(("allow", Value::String(allowed.to_string())))),
        ..Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{method} is not allowed here; use {allowed}"),
        )
    }
}

/// Parses a JSON body: media type, syntax (400) and shape (422) are each checked with a
/// message that says what to fix. Unknown fields are refused, not ignored. (The size was
/// checked as the body was read.)
pub(crate) fn parse_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    media_types: &[&str],
) -> Result<T, Problem> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !media_types.contains(&essence.as_str()) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("send the body as {} (got '{content_type}')", media_types.join(" or ")),
        ));
    }
    serde_json::from_slice(body).map_err(|error| {
        use serde_json::error::Category;
        match error.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                bad_request(format!("the body is not valid JSON: {error}"))
            }
            Category::Data => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "The body does not match the expected shape",
                error.to_string(),
            ),
        }
    })
}

/// Refusal of a body over [`MAX_BODY_BYTES`].
pub fn payload_too_large(size: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "The body is too large",
        format!("bodies are limited to {MAX_BODY_BYTES} bytes; this one has {size}"),
    )
}

/// The query's `key=value` pairs, decoded as `application/x-www-form-urlencoded`.
/// `form_urlencoded` passes a malformed escape through and replaces bytes that are not
/// UTF-8; both are refused here instead, so that a garbled query never reaches a lookup.
pub(crate) fn query_params(query: Option<&str>) -> Result<Vec<(String, String)>, Problem> {
    let query = query.unwrap_or("");
    if has_malformed_escape(query) {
        return Err(bad_request("bad percent-encoding in the query"));
    }
    form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| {
            if key.contains(char::REPLACEMENT_CHARACTER) || value.contains(char::REPLACEMENT_CHARACTER) {
                Err(bad_request("the query is not UTF-8"))
            } else {
                Ok((key.into_owned(), value.into_owned()))
            }
        })
        .collect()
}

/// A `%` not followed by two hex digits.
fn has_malformed_escape(query: &str) -> bool {
    let bytes = query.as_bytes();
    bytes.iter().enumerate().any(|(at, &byte)| {
        byte == b'%' && !bytes.get(at + 1..at + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Reads `limit`, `cursor` and the allowed filters; anything else is refused.
pub(crate) struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    infrastructure: Option<String>,
}

pub(crate) fn list_query(query: Option<&str>, filters: &[&str]) -> Result<ListQuery, Problem> {
    let mut list = ListQuery { limit: None, cursor: None, infrastructure: None };
    for (key, value) in query_params(query)? {
        match key.as_str() {
            "limit" => {
                list.limit = Some(value.parse().map_err(|_| {
                    Problem::from(tenancy_domain::Error::invalid("limit", "must be a whole number from 1 to 100"))
                })?)
            }
            "cursor" => list.cursor = Some(value),
            "infrastructure" if filters.contains(&"infrastructure") => list.infrastructure = Some(value),
            other => return Err(bad_request(format!("unknown query parameter '{other}'"))),
        }
    }
    Ok(list)
}

fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or("").trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse()
        .map(Some)
        .map_err(|_| bad_request("If-Match must be a version as returned in the ETag header, e.g. \"3\""))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    match value.to_str() {
        Ok(key)
            if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_string()))
        }
        _ => {
            Err(bad_request(format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters")))
        }
    }
}

impl Api {
    /// The API over `tenancy`.
    pub fn new(tenancy: ControlPlane) -> Self {
        Self { tenancy }
    }

    /// The whole API as one router: the routes, and in front of them the request id, the
    /// request log, the body limit, the path's normal form and the `/v1` caller check.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            // Any method: load balancers and people probe it with whatever they have.
            .route("/healthz", any(healthz))
            .route(OPENAPI_PATH, allowing("GET", on(MethodFilter::GET, openapi::openapi_document)))
            .route(
                "/v1/infrastructures",
                allowing("GET, POST", on(MethodFilter::GET, list_infrastructures).post(create_infrastructure)),
            )
            .route(
                "/v1/infrastructures/{name}",
                allowing("GET, DELETE", on(MethodFilter::GET, get_infrastructure).delete(delete_infrastructure)),
            )
            .route("/v1/tenants", allowing("GET, POST", on(MethodFilter::GET, list_tenants).post(create_tenant)))
            .route("/v1/tenant-types", allowing("GET", on(MethodFilter::GET, tenant_types)))
            .route(
                "/v1/tenants/{name}",
                allowing(
                    "GET, PATCH, DELETE",
                    on(MethodFilter::GET, get_tenant).patch(update_tenant).delete(delete_tenant),
                ),
            )
            .route("/v1/tenants/{name}/retry", allowing("POST", on(MethodFilter::POST, retry_tenant)))
            .route("/v1/tenants/{name}/access", allowing("GET", on(MethodFilter::GET, access::list_access)))
            .route(
                "/v1/tenants/{name}/access/{user}",
                allowing("PUT, DELETE", on(MethodFilter::PUT, access::put_access).delete(access::delete_access)),
            )
            .route("/v1/tenants/{name}/credentials", allowing("POST", on(MethodFilter::POST, credentials::issue)))
            .route(
                "/v1/tenants/{name}/grants",
                allowing("GET, POST", on(MethodFilter::GET, grants::list_grants).post(grants::create_grant)),
            )
            .route("/v1/tenants/{name}/grants/{id}", allowing("DELETE", on(MethodFilter::DELETE, grants::revoke_grant)))
            .route("/v1/tenants/{name}/history", allowing("GET", on(MethodFilter::GET, access::history)))
            .route("/v1/tenants/{name}/resources", allowing("GET", on(MethodFilter::GET, inventory::resources)))
            .route("/v1/me", allowing("GET", on(MethodFilter::GET, access::me)))
            .fallback(no_route)
            .with_state(self.clone());
        let layers = ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
            .layer(middleware::from_fn(log_request))
            .layer(middleware::map_request(to_normal_path))
            .layer(middleware::from_fn(require_caller_under_v1))
            .layer(middleware::from_fn(oversized_body_as_problem))
            .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
        // The routes sit behind the layers as one service, so that the path is put in its
        // normal form before it is matched (a `Router::layer` would run after matching).
        Router::new().fallback_service(layers.service(routes))
    }
}

/// `route` with its `405` as the API has always answered it: a problem document and an
/// `Allow` header naming `allowed`. HEAD is refused too: axum would otherwise answer it
/// with the GET handler, and the API has never offered HEAD.
fn allowing(allowed: &'static str, route: MethodRouter<Api>) -> MethodRouter<Api> {
    let refuse = move |method: Method| async move { method_not_allowed(&method, allowed) };
    route.on(MethodFilter::HEAD, refuse).fallback(refuse)
}

/// The caller that the entry point verified; a `/v1` request without one never gets here
/// ([`require_caller_under_v1`]).
pub(crate) struct Authenticated(Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let mut caller = parts.extensions.get::<Caller>().cloned().ok_or_else(unauthenticated)?;
        // The request's id, for the audit trail.
        caller.request_id =
            parts.extensions.get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).map(str::to_string);
        Ok(Authenticated(caller))
    }
}

fn unauthenticated() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Authentication required",
        "send a bearer token in the Authorization header",
    )
}

/// The path as requested, trailing slashes trimmed: what a `404` names.
#[derive(Clone)]
struct RequestedPath(String);

/// Empty segments and trailing slashes do not change the route (`/v1//tenants/` is
/// `/v1/tenants`), as they never have.
async fn to_normal_path(mut request: Request) -> Request {
    let requested = request.uri().path().trim_end_matches('/').to_string();
    let segments: Vec<&str> = requested.split('/').filter(|s| !s.is_empty()).collect();
    let normal = format!("/{}", segments.join("/"));
    if normal != request.uri().path() {
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{normal}?{query}"),
            None => normal,
        };
        let mut parts = request.uri().clone().into_parts();
        if let Ok(path_and_query) = path_and_query.parse::<PathAndQuery>() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request.extensions_mut().insert(RequestedPath(requested));
    request
}

/// `401` for a `/v1` request without a caller, before any route is looked at: an unknown
/// route or method is nobody's business but an authenticated caller's.
async fn require_caller_under_v1(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let under_v1 = (path == "/v1" || path.starts_with("/v1/")) && path != OPENAPI_PATH;
    if under_v1 && request.extensions().get::<Caller>().is_none() {
        return unauthenticated().into_response();
    }
    next.run(request).await
}

/// The body limit answers a body it can see is too large (by its `Content-Length`) with a
/// bare `413`; this gives that answer the API's problem document.
async fn oversized_body_as_problem(request: Request, next: Next) -> Response {
    let declared: Option<usize> =
        request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let response = next.run(request).await;
    let is_problem = response.headers().get(CONTENT_TYPE).is_some_and(|v| v == problem::CONTENT_TYPE);
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_problem {
        return payload_too_large(declared.unwrap_or(MAX_BODY_BYTES + 1)).into_response();
    }
    response
}

async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("")
        .to_string();
    // Every line logged while the request is served carries its id (in Lambda, API
    // Gateway's) and, on a route under a tenant, the tenant's name.
    let tenant = tenant_in_path(&path).unwrap_or_default();
    let span = tracing::info_span!("request", %request_id, tenant = tracing::field::Empty);
    if !tenant.is_empty() {
        span.record("tenant", tenant);
    }
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    span.in_scope(|| tracing::info!(%method, %path, status = response.status().as_u16(), "request"));
    response
}

/// The tenant a `/v1/tenants/{name}...` path names, as sent (for logs only: the route
/// validates it).
fn tenant_in_path(path: &str) -> Option<&str> {
    let name = path.strip_prefix("/v1/tenants/")?.split('/').next()?;
    (!name.is_empty() && name.len() <= 64).then_some(name)
}

/// The request body, read up to [`MAX_BODY_BYTES`] (the body limit layer stops it there
/// when it arrives without a `Content-Length`).
pub(crate) fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Problem> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(MAX_BODY_BYTES + 1),
        _ => bad_request(format!("the body could not be read: {rejection}")),
    })
}

/// The `{name}` in the path. A name that is not UTF-8 once decoded names nothing.
pub(crate) fn path_name(name: Result<Path<String>, PathRejection>) -> Result<String, Problem> {
    name.map(|Path(name)| name).map_err(|rejection| bad_request(format!("the path is malformed: {rejection}")))
}

#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "The function is up", body = inline(Object), example = json!({"status": "ok"}))))]
async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

async fn no_route(path: Option<axum::Extension<RequestedPath>>, uri: Uri) -> Problem {
    let path = path.map(|axum::Extension(RequestedPath(path))| path).unwrap_or_else(|| uri.path().to_string());
    not_found_route(&path)
}

#[utoipa::path(post, path = "/v1/infrastructures", tag = "infrastructures", request_body = NewInfrastructure,
    responses((status = 201, description = "Recorded", body = Infrastructure, headers(("location" = String, description = "The new infrastructure's URL"))), openapi::Problems))]
async fn create_infrastructure(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let body = read_body(body)?;
    let request: NewInfrastructure = parse_body(&headers, &body, &["application/json"])?;
    let created = api.tenancy.create_infrastructure(&caller, request).await?;
    let mut response = json_response(StatusCode::CREATED, &created);
    set_location(&mut response, &format!("/v1/infrastructures/{}", created.name));
    Ok(response)
}

#[utoipa::path(get, path = "/v1/infrastructures", tag = "infrastructures", params(openapi::PageParams),
    responses((status = 200, description = "One page of infrastructures", body = Paged<Infrastructure>), openapi::Problems))]
async fn list_infrastructures(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    RawQuery(query): RawQuery,
) -> Reply {
    let q = list_query(query.as_deref(), &[])?;
    let page = api.tenancy.list_infrastructures(&caller, q.limit, q.cursor).await?;
    Ok(json_response(StatusCode::OK, &page_body(page, Infrastructure::clone)))
}

#[utoipa::path(get, path = "/v1/infrastructures/{name}", tag = "infrastructures", params(openapi::NameParam),
    responses((status = 200, description = "The infrastructure", body = Infrastructure), openapi::Problems))]
async fn get_infrastructure(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    Ok(json_response(StatusCode::OK, &api.tenancy.get_infrastructure(&caller, &name).await?))
}

#[utoipa::path(delete, path = "/v1/infrastructures/{name}", tag = "infrastructures", params(openapi::NameParam),
    responses((status = 204, description = "Deleted"), openapi::Problems))]
async fn delete_infrastructure(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    api.tenancy.delete_infrastructure(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = NewTenant, params(openapi::IdempotencyKey),
    responses((status = 202, description = "Recorded; its resources are being created", body = TenantView,
        headers(("location" = String, description = "The tenant's URL"), ("etag" = String, description = "The tenant's version"),
            ("idempotent-replayed" = String, description = "`true` when this answers an earlier request with the same key"))),
        openapi::Problems))]
async fn create_tenant(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let key = idempotency_key(&headers)?;
    let body = read_body(body)?;
    let request: NewTenant = parse_body(&headers, &body, &["application/json"])?;
    let created = api.tenancy.create_tenant(&caller, request, key.as_deref()).await?;
    let mut response = tenant_response(StatusCode::ACCEPTED, &created.tenant);
    set_location(&mut response, &format!("/v1/tenants/{}", created.tenant.name()));
    if created.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(openapi::PageParams, openapi::InfrastructureFilter),
    responses((status = 200, description = "One page of the tenants the caller may see", body = Paged<TenantView>), openapi::Problems))]
async fn list_tenants(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    RawQuery(query): RawQuery,
) -> Reply {
    let q = list_query(query.as_deref(), &["infrastructure"])?;
    let page = api.tenancy.list_tenants(&caller, q.infrastructure.as_deref(), q.limit, q.cursor).await?;
    Ok(json_response(StatusCode::OK, &page_body(page, |tenant| TenantView::from(tenant))))
}

#[utoipa::path(get, path = "/v1/tenant-types", tag = "tenants",
    responses((status = 200, description = "The tenant types this deployment offers", body = Items<TenantTypeView>), openapi::Problems))]
async fn tenant_types(State(api): State<Api>, Authenticated(caller): Authenticated) -> Reply {
    let mut items = vec![TenantTypeView::built_in()];
    items.extend(api.tenancy.tenant_types(&caller)?.into_iter().map(TenantTypeView::from));
    Ok(json_response(StatusCode::OK, &Items { items }))
}

#[utoipa::path(get, path = "/v1/tenants/{name}", tag = "tenants", params(openapi::NameParam),
    responses((status = 200, description = "The tenant", body = TenantView, headers(("etag" = String, description = "The tenant's version, for If-Match"))), openapi::Problems))]
async fn get_tenant(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    Ok(tenant_response(StatusCode::OK, &api.tenancy.get_tenant(&caller, &name).await?))
}

#[utoipa::path(patch, path = "/v1/tenants/{name}", tag = "tenants", params(openapi::NameParam, openapi::IfMatch),
    request_body(content((TenantPatch = "application/json"), (TenantPatch = "application/merge-patch+json"))),
    responses((status = 200, description = "Changed; nothing to apply to its resources", body = TenantView),
        (status = 202, description = "Changed; the change is being applied to its resources", body = TenantView), openapi::Problems))]
async fn update_tenant(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let name = path_name(name)?;
    let expected = if_match(&headers)?;
    let body = read_body(body)?;
    let patch: TenantPatch = parse_body(&headers, &body, &["application/json", "application/merge-patch+json"])?;
    let tenant = api.tenancy.update_tenant(&caller, &name, patch, expected).await?;
    let status = if tenant.state().is_transitional() { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok(tenant_response(status, &tenant))
}

#[utoipa::path(delete, path = "/v1/tenants/{name}", tag = "tenants", params(openapi::NameParam),
    responses((status = 202, description = "Its resources are being removed", body = TenantView), openapi::Problems))]
async fn delete_tenant(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    Ok(tenant_response(StatusCode::ACCEPTED, &api.tenancy.delete_tenant(&caller, &name).await?))
}

#[utoipa::path(post, path = "/v1/tenants/{name}/retry", tag = "tenants", params(openapi::NameParam),
    responses((status = 202, description = "The failed operation runs again", body = TenantView), openapi::Problems))]
async fn retry_tenant(
    State(api): State<Api>,
    Authenticated(caller): Authenticated,
    name: Result<Path<String>, PathRejection>,
) -> Reply {
    let name = path_name(name)?;
    Ok(tenant_response(StatusCode::ACCEPTED, &api.tenancy.retry_tenant(&caller, &name).await?))
}

fn set_location(response: &mut Response, location: &str) {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(axum::http::header::LOCATION, value);
    }
}

mod access;
mod credentials;
mod grants;
mod inventory;
pub mod openapi;
#[cfg(test)]
mod tests;
