//! A proxy in front of the emulator that answers a share of IAM, EC2 and KMS calls with the
//! throttling errors those services really send, in their own protocols: IAM's query
//! protocol `Throttling`, EC2's `RequestLimitExceeded` (HTTP 503) and KMS's JSON
//! `ThrottlingException`. Everything else is passed through untouched. It exercises the
//! SDK's own retries and the adapters' classification of errors, end to end.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A running proxy.
pub struct ThrottlingProxy {
    /// Its address, to give the SDK as the endpoint.
    pub addr: SocketAddr,
    throttled: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl ThrottlingProxy {
    /// Starts a proxy to `upstream` that throttles `share` (0.2 is 20%) of IAM, EC2 and KMS calls.
    pub async fn start(upstream: String, share: f64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("address");
        let throttled = Arc::new(AtomicU64::new(0));
        let state = Arc::new(State {
            upstream,
            per_mille: (share.clamp(0.0, 1.0) * 1000.0) as u64,
            dice: AtomicU64::new(0x2545_f491_4f6c_dd1d),
            throttled: throttled.clone(),
            client: reqwest::Client::new(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(state.answer(request).await) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Self { addr, throttled, task }
    }

    /// How many calls it throttled.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

impl Drop for ThrottlingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct State {
    upstream: String,
    per_mille: u64,
    dice: AtomicU64,
    throttled: Arc<AtomicU64>,
    client: reqwest::Client,
}

impl State {
    /// A number in 0..1000 (a shared xorshift).
    fn roll(&self) -> u64 {
        let mut next = 0;
        let _ = self.dice.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |mut x| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            next = x;
            Some(x)
        });
        next % 1000
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        // The signing scope names the service: `Credential=<key>/<date>/<region>/<service>/aws4_request`.
        let authorization = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        let service = authorization.split('/').nth(3).unwrap_or("");
        if ["iam", "ec2", "kms"].contains(&service) && self.roll() < self.per_mille {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return throttle(service);
        }
        let url = format!("{}{}", self.upstream, parts.uri.path_and_query().map_or("/", |p| p.as_str()));
        let mut forward = self.client.request(parts.method.clone(), url).body(body);
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                forward = forward.header(name, value);
            }
        }
        match forward.send().await {
            Ok(answer) => {
                let mut response = Response::builder().status(answer.status().as_u16());
                for (name, value) in answer.headers() {
                    if name != "content-length" && name != "transfer-encoding" {
                        response = response.header(name, value);
                    }
                }
                let bytes = answer.bytes().await.unwrap_or_default();
                response.body(Full::new(bytes)).expect("a response")
            }
            Err(error) => {
                Response::builder().status(502).body(Full::new(Bytes::from(error.to_string()))).expect("a response")
            }
        }
    }
}

/// The throttling answer each service really sends.
fn throttle(service: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match service {
        "iam" => (
            400,
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>throttled</RequestId></ErrorResponse>",
        ),
        "ec2" => (
            503,
            "text/xml",
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>throttled</RequestID></Response>",
        ),
        _ => (400, "application/x-amz-json-1.1", r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-requestid", "throttled")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("a response")
}
