//! The API function: API Gateway (HTTP API, payload 2.0, JWT authorizer) in, the router out.

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware;
use lambda_http::request::RequestContext;
use lambda_http::{Error, RequestExt};
use tenancy_app::http::REQUEST_ID_HEADER;
use tenancy_app::{Api, App, auth, init_logging};
use tenancy_domain::access::Caller;

/// The claims API Gateway's JWT authorizer verified, as the router's caller. API Gateway
/// has already refused requests without a valid token on authorised routes.
fn caller<B>(request: &http::Request<B>) -> Option<Caller> {
    let RequestContext::ApiGatewayV2(context) = request.request_context_ref()? else { return None };
    // Every claim arrives as a string (an array flattened to `[a b]`): the form the parser reads.
    auth::caller_from_claims(&context.authorizer.as_ref()?.jwt.as_ref()?.claims)
}

/// Hands the router what API Gateway established: the caller, and its own request id as
/// the request's id (the one its access log and `apigw-requestid` header carry), in
/// place of any the client sent.
async fn from_gateway(mut request: Request) -> Request {
    if let Some(caller) = caller(&request) {
        request.extensions_mut().insert(caller);
    }
    let gateway_request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    if let Some(id) = gateway_request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        request.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    request
}

/// The API as this function serves it.
fn service(api: &Api) -> Router {
    api.router().layer(middleware::map_request(from_gateway))
}

// One thread: Lambda hands an execution environment one event at a time, and a function
// of a few hundred MB has a fraction of a vCPU, so worker threads would add only their
// start-up (about 0.4 ms of the cold start, doc/coldstart.md). Plugin calls still run on
// tokio's blocking pool and the epoch thread still bounds them (crates/plugin-host).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();
    let api = App::from_env().await?.api();
    lambda_http::run(service(&api)).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};
    use tenancy_domain::builtin::NoPlugins;
    use tenancy_domain::builtin::SystemClock;
    use tenancy_domain::memory::{MemoryStore, MemoryVpcs, RecordingEvents};
    use tenancy_domain::service::ControlPlane;

    use super::*;

    /// An HTTP API payload 2.0 event as API Gateway sends it after its JWT authorizer:
    /// every claim a string, the groups array flattened to `[a b]`.
    fn gateway_event(method: &str, path: &str, groups: &str, body: Option<Value>) -> lambda_http::Request {
        let event = json!({
            "version": "2.0",
            "routeKey": "ANY /v1/{proxy+}",
            "rawPath": path,
            "rawQueryString": "",
            "headers": { "content-type": "application/json", "authorization": "Bearer x" },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "authorizer": { "jwt": {
                    "claims": { "sub": "anna", "email": "anna@example.com", "cognito:groups": groups },
                    "scopes": null
                } },
                "domainName": "api.example.com",
                "domainPrefix": "api",
                "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test" },
                "requestId": "id",
                "routeKey": "ANY /v1/{proxy+}",
                "stage": "$default",
                "time": "27/Nov/2026:20:00:00 +0000",
                "timeEpoch": 1_800_000_000_000_i64
            },
            "body": body.map(|b| b.to_string()),
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event")
    }

    /// One Lambda invocation: the API Gateway request through the router, its answer back.
    async fn answer(api: &Api, request: lambda_http::Request) -> http::Response<axum::body::Body> {
        use tower::ServiceExt;
        service(api).oneshot(request).await.expect("the router never fails")
    }

    fn api() -> Api {
        Api::new(ControlPlane::new(
            Arc::new(MemoryStore::default()),
            Arc::new(RecordingEvents::default()),
            Arc::new(NoPlugins),
            Arc::new(MemoryVpcs::default()),
            Arc::new(SystemClock),
            Arc::new(tenancy_domain::memory::DefaultPolicies),
            Arc::new(tenancy_domain::memory::MemorySessions::new(Arc::new(SystemClock))),
        ))
    }

    #[test]
    fn the_authorizer_claims_become_the_caller_with_flattened_groups() {
        let caller = caller(&gateway_event("GET", "/v1/tenants", "[tenancy-admins developers]", None)).unwrap();
        assert_eq!(caller.id, "anna");
        assert_eq!(caller.email.as_deref(), Some("anna@example.com"));
        assert_eq!(caller.groups, ["tenancy-admins", "developers"]);
    }

    #[tokio::test]
    async fn a_gateway_request_reaches_the_router_and_its_answer_comes_back() {
        let api = api();
        let body =
            json!({ "name": "nonprod", "region": "eu-west-1", "vpcId": "vpc-0a1b2c3d", "environment": "nonprod" });
        let created = answer(&api, gateway_event("POST", "/v1/infrastructures", "[tenancy-admins]", Some(body))).await;
        assert_eq!(created.status(), 201);
        assert_eq!(created.headers()["location"], "/v1/infrastructures/nonprod");

        let forbidden = answer(&api, gateway_event("GET", "/v1/infrastructures", "[developers]", None)).await;
        assert_eq!(forbidden.status(), 403);
        assert_eq!(forbidden.headers()["content-type"], "application/problem+json");
    }
}
