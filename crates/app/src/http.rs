//! The HTTP API router: one request in, one response out, with no knowledge of how the
//! request arrived (API Gateway through `lambda_http`, or the local runner through hyper).

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tenancy_domain::access::Caller;
use tenancy_domain::infrastructure::Infrastructure;
use tenancy_domain::paging::Page;
use tenancy_domain::service::{ControlPlane, NewInfrastructure, NewTenant, TenantPatch};
use tenancy_domain::tenant::Tenant;

use crate::problem::{self, Problem};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// The API over the domain service.
#[derive(Clone)]
pub struct Api {
    tenancy: ControlPlane,
}

type Reply = Result<Response<Vec<u8>>, Problem>;

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Vec<u8>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(bytes);
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn problem_response(problem: &Problem) -> Response<Vec<u8>> {
    let mut response = json_response(problem.status, &problem.body());
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(problem::CONTENT_TYPE));
    if let Some(("allow", Value::String(allowed))) = &problem.extra
        && let Ok(value) = HeaderValue::from_str(allowed)
    {
        response.headers_mut().insert(http::header::ALLOW, value);
    }
    response
}

/// A tenant as the API shows it: worker internals left out.
pub fn tenant_view(tenant: &Tenant) -> Value {
    let mut view = serde_json::to_value(tenant).unwrap_or(Value::Null);
    if let Some(map) = view.as_object_mut() {
        map.remove("lease");
        map.remove("appliedTags");
    }
    view
}

fn tenant_response(status: StatusCode, tenant: &Tenant) -> Response<Vec<u8>> {
    let mut response = json_response(status, &tenant_view(tenant));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", tenant.version())) {
        response.headers_mut().insert(http::header::ETAG, etag);
    }
    response
}

fn page_body<T>(page: Page<T>, view: impl Fn(&T) -> Value) -> Value {
    json!({ "items": page.items.iter().map(view).collect::<Vec<_>>(), "nextCursor": page.next_cursor })
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

fn method_not_allowed(method: &Method, allowed: &'static str) -> Problem {
    Problem {
        extra: Some(("allow", Value::String(allowed.into()))),
        ..Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{method} is not allowed here; use {allowed}"),
        )
    }
}

/// Parses a JSON body: media type, size, syntax (400) and shape (422) are each checked
/// with a message that says what to fix. Unknown fields are refused, not ignored.
fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8], media_types: &[&str]) -> Result<T, Problem> {
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
    if body.len() > MAX_BODY_BYTES {
        return Err(payload_too_large(body.len()));
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

fn query_params(query: Option<&str>) -> Result<Vec<(String, String)>, Problem> {
    let mut params = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.push((percent_decode(key)?, percent_decode(value)?));
    }
    Ok(params)
}

fn percent_decode(text: &str) -> Result<String, Problem> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3).ok_or_else(|| bad_request("bad percent-encoding in the query"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad_request("bad percent-encoding in the query"))?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad_request("the query is not UTF-8"))
}

/// Reads `limit`, `cursor` and the allowed filters; anything else is refused.
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    infrastructure: Option<String>,
}

fn list_query(query: Option<&str>, filters: &[&str]) -> Result<ListQuery, Problem> {
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
    let Some(value) = headers.get(http::header::IF_MATCH) else { return Ok(None) };
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

    /// Answers one request. `caller` is who the authorizer verified, if anyone.
    pub async fn handle(&self, request: Request<Vec<u8>>, caller: Option<Caller>) -> Response<Vec<u8>> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let response = match self.route(request, caller).await {
            Ok(response) => response,
            Err(problem) => problem_response(&problem),
        };
        tracing::info!(%method, %path, status = response.status().as_u16(), "request");
        response
    }

    async fn route(&self, request: Request<Vec<u8>>, caller: Option<Caller>) -> Reply {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().trim_end_matches('/').to_string();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if segments == ["healthz"] {
            return Ok(json_response(StatusCode::OK, &json!({ "status": "ok" })));
        }
        if segments.first() != Some(&"v1") {
            return Err(not_found_route(&path));
        }
        let caller = caller.ok_or_else(|| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "send a bearer token in the Authorization header",
            )
        })?;
        let query = parts.uri.query();
        let headers = &parts.headers;
        let method = &parts.method;
        let t = &self.tenancy;
        match (&segments[1..], method) {
            (["infrastructures"], &Method::POST) => {
                let request: NewInfrastructure = parse_body(headers, &body, &["application/json"])?;
                let created = t.create_infrastructure(&caller, request).await?;
                let mut response = json_response(StatusCode::CREATED, &created);
                set_location(&mut response, &format!("/v1/infrastructures/{}", created.name));
                Ok(response)
            }
            (["infrastructures"], &Method::GET) => {
                let q = list_query(query, &[])?;
                let page = t.list_infrastructures(&caller, q.limit, q.cursor).await?;
                Ok(json_response(StatusCode::OK, &page_body(page, |i: &Infrastructure| json!(i))))
            }
            (["infrastructures"], _) => Err(method_not_allowed(method, "GET, POST")),
            (["infrastructures", name], &Method::GET) => {
                Ok(json_response(StatusCode::OK, &t.get_infrastructure(&caller, name).await?))
            }
            (["infrastructures", name], &Method::DELETE) => {
                t.delete_infrastructure(&caller, name).await?;
                let mut response = Response::new(Vec::new());
                *response.status_mut() = StatusCode::NO_CONTENT;
                Ok(response)
            }
            (["infrastructures", _], _) => Err(method_not_allowed(method, "GET, DELETE")),
            (["tenants"], &Method::POST) => {
                let key = idempotency_key(headers)?;
                let request: NewTenant = parse_body(headers, &body, &["application/json"])?;
                let created = t.create_tenant(&caller, request, key.as_deref()).await?;
                let mut response = tenant_response(StatusCode::ACCEPTED, &created.tenant);
                set_location(&mut response, &format!("/v1/tenants/{}", created.tenant.name()));
                if created.replayed {
                    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
                }
                Ok(response)
            }
            (["tenants"], &Method::GET) => {
                let q = list_query(query, &["infrastructure"])?;
                let page = t.list_tenants(&caller, q.infrastructure.as_deref(), q.limit, q.cursor).await?;
                Ok(json_response(StatusCode::OK, &page_body(page, tenant_view)))
            }
            (["tenants"], _) => Err(method_not_allowed(method, "GET, POST")),
            (["tenant-types"], &Method::GET) => {
                let mut items = vec![json!({
                    "name": tenancy_domain::tenant::DEFAULT_TYPE,
                    "description": "The built-in type: the tenant's boundary, with no plugin.",
                    "builtIn": true,
                })];
                items.extend(t.tenant_types(&caller)?.into_iter().map(|info| json!(info)));
                Ok(json_response(StatusCode::OK, &json!({ "items": items })))
            }
            (["tenant-types"], _) => Err(method_not_allowed(method, "GET")),
            (["tenants", name], &Method::GET) => {
                Ok(tenant_response(StatusCode::OK, &t.get_tenant(&caller, name).await?))
            }
            (["tenants", name], &Method::PATCH) => {
                let expected = if_match(headers)?;
                let patch: TenantPatch =
                    parse_body(headers, &body, &["application/json", "application/merge-patch+json"])?;
                let tenant = t.update_tenant(&caller, name, patch, expected).await?;
                let status = if tenant.state().is_transitional() { StatusCode::ACCEPTED } else { StatusCode::OK };
                Ok(tenant_response(status, &tenant))
            }
            (["tenants", name], &Method::DELETE) => {
                Ok(tenant_response(StatusCode::ACCEPTED, &t.delete_tenant(&caller, name).await?))
            }
            (["tenants", _], _) => Err(method_not_allowed(method, "GET, PATCH, DELETE")),
            (["tenants", name, "retry"], &Method::POST) => {
                Ok(tenant_response(StatusCode::ACCEPTED, &t.retry_tenant(&caller, name).await?))
            }
            (["tenants", _, "retry"], _) => Err(method_not_allowed(method, "POST")),
            _ => Err(not_found_route(&path)),
        }
    }
}

fn set_location(response: &mut Response<Vec<u8>>, location: &str) {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
}
