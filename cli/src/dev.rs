//! The local runner: the API router behind a plain HTTP server on 127.0.0.1 (playing API
//! Gateway and its JWT authorizer), and the lifecycle handler fed from the SQS queue that
//! the bus rule targets (playing EventBridge's Lambda target), plus a timer that plays the
//! scheduled sweep. The code under them is the code the Lambda functions run.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tenancy_app::EventBridgeEvent;
use tenancy_app::bus::{BusHandler, scheduled_event};
use tenancy_app::http::OPENAPI_PATH;
use tenancy_app::{Api, App, auth};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::jwt;

/// Most lifecycle events handled at once by the local worker.
const MAX_EVENTS_IN_FLIGHT: usize = 32;

/// Options of the local runner.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Where to listen (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Secret that signs development tokens.
    pub jwt_secret: String,
    /// The `iss` development tokens must carry (`TENANCY_DEV_JWT_ISSUER`, default
    /// [`jwt::DEFAULT_ISSUER`]), as the JWT authorizer checks its configured issuer.
    pub jwt_issuer: String,
    /// The audience development tokens must name in `aud` (or `client_id`)
    /// (`TENANCY_DEV_JWT_AUDIENCE`, default [`jwt::DEFAULT_AUDIENCE`]).
    pub jwt_audience: String,
    /// URL of the queue the request rule targets; `None` runs no worker (tests that
    /// drive the worker themselves).
    pub queue_url: Option<String>,
    /// How often the sweep runs.
    pub sweep_every: Duration,
}

/// A running local Tenancy.
pub struct Running {
    /// The address the API listens on.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops the server, the poller and the sweep, and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the API server, the queue poller and the sweep timer.
pub async fn start(app: &App, options: DevOptions) -> std::io::Result<Running> {
    let listener = TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let api = app.api();
    let handler = app.bus_handler();
    let tokens = Arc::new(Tokens {
        secret: options.jwt_secret.as_bytes().into(),
        issuer: options.jwt_issuer,
        audience: options.jwt_audience,
    });
    let sqs = aws_sdk_sqs::Client::new(&app.sdk);
    let mut tasks = vec![tokio::spawn(serve(listener, api, tokens, stopped.clone()))];
    if let Some(queue_url) = options.queue_url {
        let account = app.producers.own_account.clone();
        tasks.push(tokio::spawn(poll(sqs, queue_url, handler.clone(), account, stopped.clone())));
        tasks.push(tokio::spawn(sweep(handler, options.sweep_every, stopped)));
    }
    Ok(Running { addr, stop, tasks })
}

/// What the local JWT authorizer checks tokens against.
struct Tokens {
    secret: Box<[u8]>,
    issuer: String,
    audience: String,
}

/// Serves the API until told to stop. Connections already open finish on their own, as
/// they always have: stopping only stops accepting.
async fn serve(listener: TcpListener, api: Api, tokens: Arc<Tokens>, mut stopped: watch::Receiver<bool>) {
    let router: Router = api.router().layer(middleware::from_fn_with_state(tokens, authorize));
    tokio::select! {
        _ = axum::serve(listener, router).into_future() => {}
        _ = stopped.changed() => {}
    }
}

fn unauthenticated(detail: &str) -> Response {
    let body = json!({
        "type": "urn:tenancy:problem:unauthenticated",
        "title": "Authentication required",
        "status": 401,
        "detail": detail,
    });
    let mut response = (StatusCode::UNAUTHORIZED, body.to_string()).into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response.headers_mut().insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Plays API Gateway's JWT authorizer: verifies the bearer token (a `/v1` route with a bad
/// token never reaches the function) and hands the router the caller from the claims in
/// the authorizer's form (every claim a string), through the same parser as in AWS.
async fn authorize(State(tokens): State<Arc<Tokens>>, mut request: Request, next: Next) -> Response {
    let header = request.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(value) = header {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or("");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let expected = jwt::Expected { issuer: &tokens.issuer, audience: &tokens.audience };
        match jwt::verify(&tokens.secret, token.trim(), &expected, now) {
            Ok(claims) => match auth::caller_from_claims(&auth::claims_as_gateway_passes_them(&claims)) {
                Some(caller) => {
                    request.extensions_mut().insert(caller);
                }
                None => return unauthenticated("the token's 'sub' claim is missing or not a plain identifier"),
            },
            // As API Gateway: the open routes ignore the header; every other /v1 one refuses a bad token.
            Err(why) if request.uri().path().starts_with("/v1") && request.uri().path() != OPENAPI_PATH => {
                return unauthenticated(&why.to_string());
            }
            Err(_) => {}
        }
    }
    next.run(request).await
}

/// Plays EventBridge's Lambda target: receives what the rule delivered, hands each event
/// to the handler, and deletes it only once handled. A failure (a passing fault that
/// outlasted the run) is redelivered after a backoff that grows with each delivery, as
/// EventBridge's retries would.
///
/// The emulator's queue target drops the event's `account`, which EventBridge always
/// sets; every event on the emulator comes from its one account, `account`, so the
/// poller puts that back before the handler checks who sent the event.
async fn poll(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    handler: BusHandler,
    account: String,
    mut stopped: watch::Receiver<bool>,
) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_EVENTS_IN_FLIGHT));
    loop {
        let received = tokio::select! {
            received = sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                .send() => received,
            _ = stopped.changed() => return,
        };
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(error) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "receiving lifecycle events failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        for message in messages {
            // Each event is handled on its own task, as EventBridge invokes one Lambda per
            // event; the poller goes straight back to receiving. The semaphore bounds the
            // work in flight, as Lambda's concurrency limit would.
            let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
            let handler = handler.clone();
            let sqs = sqs.clone();
            let queue_url = queue_url.clone();
            let account = account.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let body = message.body().unwrap_or_default();
                let handled = match serde_json::from_str::<EventBridgeEvent>(body) {
                    Ok(mut envelope) => {
                        envelope.account.get_or_insert(account);
                        handler.handle(envelope).await.map(|_| ()).map_err(|e| e.to_string())
                    }
                    Err(error) => Err(format!("not an EventBridge event: {error}")),
                };
                let Some(receipt) = message.receipt_handle() else { return };
                match handled {
                    Ok(()) => {
                        let _ = sqs.delete_message().queue_url(&queue_url).receipt_handle(receipt).send().await;
                    }
                    Err(error) => {
                        let deliveries: u32 = message
                            .attributes()
                            .and_then(|a| {
                                a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                            })
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(1);
                        let backoff = 1_i32 << deliveries.clamp(1, 5).saturating_sub(1);
                        tracing::warn!(%error, backoff, "lifecycle event failed; it will be redelivered");
                        let _ = sqs
                            .change_message_visibility()
                            .queue_url(&queue_url)
                            .receipt_handle(receipt)
                            .visibility_timeout(backoff)
                            .send()
                            .await;
                    }
                }
            });
        }
    }
}

/// Plays the EventBridge schedule that triggers the sweep.
async fn sweep(handler: BusHandler, every: Duration, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => return,
        }
        if let Err(error) = handler.handle(scheduled_event(uuid_like())).await {
            tracing::warn!(%error, "sweep failed");
        }
    }
}

fn uuid_like() -> String {
    format!("sweep-{}", time::OffsetDateTime::now_utc().unix_timestamp_nanos())
}
