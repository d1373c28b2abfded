use std::sync::Arc;

use tenancy_domain::access::{ADMIN_GROUP, Via};
use tenancy_domain::builtin::{NoPlugins, SystemClock};
use tenancy_domain::memory::{MemoryStore, MemoryVpcs, RecordingEvents};
use tower::ServiceExt;

use super::*;

fn router() -> Router {
    Api::new(ControlPlane::new(
        Arc::new(MemoryStore::default()),
        Arc::new(RecordingEvents::default()),
        Arc::new(NoPlugins),
        Arc::new(MemoryVpcs::default()),
        Arc::new(SystemClock),
        Arc::new(tenancy_domain::memory::DefaultPolicies),
        Arc::new(tenancy_domain::memory::MemorySessions::new(Arc::new(SystemClock))),
    ))
    .router()
}

fn admin() -> Caller {
    Caller { id: "anna".into(), email: None, groups: vec![ADMIN_GROUP.into()], via: Via::Api, request_id: None }
}

fn request(method: Method, uri: &str, caller: Option<Caller>, body: Vec<u8>) -> Request {
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    request
}

async fn send(request: Request) -> (StatusCode, HeaderMap, Value) {
    let response = router().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_refused_with_its_allow_list() {
    for (method, uri, allowed) in [
        (Method::PUT, "/v1/tenants", "GET, POST"),
        (Method::HEAD, "/v1/tenants", "GET, POST"),
        (Method::POST, "/v1/tenants/t1", "GET, PATCH, DELETE"),
        (Method::GET, "/v1/tenants/t1/retry", "POST"),
        (Method::GET, "/v1/tenants/t1/credentials", "POST"),
        (Method::DELETE, "/v1/tenant-types", "GET"),
        (Method::PATCH, "/v1/infrastructures/i1", "GET, DELETE"),
    ] {
        let (status, headers, body) = send(request(method.clone(), uri, Some(admin()), Vec::new())).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(headers["allow"], allowed, "{method} {uri}");
        assert_eq!(headers[CONTENT_TYPE], problem::CONTENT_TYPE);
        if method != Method::HEAD {
            assert_eq!(body["type"], "urn:tenancy:problem:method-not-allowed");
        }
    }
}

#[tokio::test]
async fn unknown_routes_name_the_path_and_v1_needs_a_caller_first() {
    let (status, headers, body) = send(request(Method::GET, "/v1/clusters/", Some(admin()), Vec::new())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!headers.contains_key("allow"));
    assert_eq!(body["detail"], "no route for '/v1/clusters'; see the README for the API");

    let (status, _, body) = send(request(Method::GET, "/v1/clusters", None, Vec::new())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "urn:tenancy:problem:unauthenticated");

    let (status, _, body) = send(request(Method::POST, "/healthz/", None, Vec::new())).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "ok" })));
}

#[tokio::test]
async fn empty_segments_and_trailing_slashes_do_not_change_the_route() {
    let (status, _, body) = send(request(Method::GET, "//v1//tenants/?limit=5", Some(admin()), Vec::new())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"], json!([]));
}

#[tokio::test]
async fn the_query_is_decoded_strictly() {
    for (query, status) in [
        ("limit=1%30", StatusCode::OK),
        ("limit=+5", StatusCode::UNPROCESSABLE_ENTITY),
        ("limit=%zz", StatusCode::BAD_REQUEST),
        ("cursor=%ff", StatusCode::BAD_REQUEST),
        ("sort=name", StatusCode::BAD_REQUEST),
        ("&&limit=5&", StatusCode::OK),
    ] {
        let uri = format!("/v1/tenants?{query}");
        let (got, _, body) = send(request(Method::GET, &uri, Some(admin()), Vec::new())).await;
        assert_eq!(got, status, "{query}: {body}");
    }
}

#[tokio::test]
async fn an_oversized_body_gets_the_problem_document_with_or_without_a_length() {
    let big = vec![b' '; MAX_BODY_BYTES + 10];
    let mut declared = request(Method::POST, "/v1/tenants", Some(admin()), big.clone());
    declared.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(big.len()));
    let (status, headers, body) = send(declared).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers[CONTENT_TYPE], problem::CONTENT_TYPE);
    assert_eq!(body["type"], "urn:tenancy:problem:payload-too-large");
    assert!(body["detail"].as_str().unwrap().ends_with(&format!("this one has {}", big.len())));

    // Streamed, with no length to go by: the limit stops the read.
    let stream = Body::from_stream(futures_stream(big));
    let mut streamed = request(Method::POST, "/v1/tenants", Some(admin()), Vec::new());
    *streamed.body_mut() = stream;
    let (status, headers, body) = send(streamed).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers[CONTENT_TYPE], problem::CONTENT_TYPE);
    assert_eq!(body["type"], "urn:tenancy:problem:payload-too-large");
}

fn futures_stream(bytes: Vec<u8>) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::iter(bytes.chunks(1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect::<Vec<_>>())
}

#[tokio::test]
async fn every_answer_carries_the_request_id_it_came_with_or_a_new_one() {
    let mut given = request(Method::GET, "/healthz", None, Vec::new());
    given.headers_mut().insert(REQUEST_ID_HEADER, HeaderValue::from_static("req-1"));
    let (_, headers, _) = send(given).await;
    assert_eq!(headers[REQUEST_ID_HEADER], "req-1");

    let (_, headers, _) = send(request(Method::GET, "/v1/nothing", None, Vec::new())).await;
    assert_eq!(headers[REQUEST_ID_HEADER].len(), 36, "a UUID");
}
