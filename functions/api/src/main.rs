//! The API function: API Gateway (HTTP API, payload 2.0, JWT authorizer) in, the router out.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, Response, service_fn};
use serde_json::{Map, Value};
use tenancy_app::{App, auth, init_logging};

/// The claims API Gateway's JWT authorizer verified, as the router's caller.
fn caller(request: &Request) -> Option<tenancy_domain::access::Caller> {
    let RequestContext::ApiGatewayV2(context) = request.request_context() else { return None };
    let claims = context.authorizer?.jwt?.claims;
    let claims: Map<String, Value> = claims.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    auth::caller_from_claims(&claims)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let api = App::from_env().await.api();
    lambda_http::run(service_fn(move |request: Request| {
        let api = api.clone();
        async move {
            let caller = caller(&request);
            let (parts, body) = request.into_parts();
            let response = api.handle(http::Request::from_parts(parts, body.to_vec()), caller).await;
            let (parts, body) = response.into_parts();
            Ok::<_, Error>(Response::from_parts(parts, Body::from(body)))
        }
    }))
    .await
}
