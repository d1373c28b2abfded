//! The lifecycle function's logic: one EventBridge event in, the work it asks for done.
//!
//! Three kinds of event arrive: Tenancy's own requests (source `tenancy`, naming a tenant
//! already recorded), requests that other producers put on the bus (validated here exactly
//! as the API validates them, through the same domain service), and the scheduled sweep.

use serde::Deserialize;
use serde_json::Value;
use tenancy_domain::access::Caller;
use tenancy_domain::events::{self, EventKind, LifecycleEvent};
use tenancy_domain::lifecycle::{Outcome, Worker, WorkerError};
use tenancy_domain::names::Name;
use tenancy_domain::ports::Events;
use tenancy_domain::service::{NewTenant, Tenancy};
use uuid::Uuid;

use std::sync::Arc;

/// `detail-type` of EventBridge scheduled events, which trigger the sweep.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// The EventBridge envelope, as a rule delivers it to Lambda or to an SQS queue.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// Event id; used as the idempotency key of requests from other producers.
    pub id: String,
    /// What happened.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// Who put it on the bus.
    pub source: String,
    /// The producer's account.
    #[serde(default)]
    pub account: Option<String>,
    /// The payload.
    #[serde(default)]
    pub detail: Value,
}

/// Why an event could not be handled; the trigger retries it.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The worker could not run.
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// The state store or bus failed while handling a request from another producer.
    #[error("{0}")]
    Unavailable(String),
}

/// What the handler did with one event, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The worker ran for a tenant.
    Drove(String, Outcome),
    /// A request from another producer was recorded; the worker picks it up from the bus.
    Accepted(String),
    /// A request from another producer was refused with a `... Rejected` event.
    Rejected(String),
    /// The sweep ran.
    Swept(usize),
    /// Nothing to do with this event.
    Ignored,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnRequest {
    tenant: String,
    tenant_id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteRequest {
    name: String,
}

/// Handles lifecycle events.
#[derive(Clone)]
pub struct LifecycleHandler {
    tenancy: Tenancy,
    worker: Worker,
    events: Arc<dyn Events>,
}

impl LifecycleHandler {
    /// A handler over the service (for requests from other producers) and the worker.
    pub fn new(tenancy: Tenancy, worker: Worker, events: Arc<dyn Events>) -> Self {
        Self { tenancy, worker, events }
    }

    /// Handles one event.
    pub async fn handle(&self, envelope: Envelope) -> Result<Handled, HandlerError> {
        if envelope.detail_type == SCHEDULED_EVENT {
            let runs = self.worker.sweep().await?;
            for (name, outcome) in &runs {
                tracing::info!(tenant = %name, ?outcome, "sweep re-drove tenant");
            }
            return Ok(Handled::Swept(runs.len()));
        }
        let Some(kind) = EventKind::from_detail_type(&envelope.detail_type).filter(|k| EventKind::REQUESTS.contains(k))
        else {
            tracing::info!(detail_type = %envelope.detail_type, "event ignored");
            return Ok(Handled::Ignored);
        };
        if envelope.source == events::SOURCE {
            self.drive_own(&envelope).await
        } else {
            self.handle_foreign(kind, &envelope).await
        }
    }

    async fn drive_own(&self, envelope: &Envelope) -> Result<Handled, HandlerError> {
        let Ok(request) = serde_json::from_value::<OwnRequest>(envelope.detail.clone()) else {
            tracing::warn!(detail = %envelope.detail, "malformed request from tenancy ignored");
            return Ok(Handled::Ignored);
        };
        let Ok(name) = Name::parse("tenant", &request.tenant) else { return Ok(Handled::Ignored) };
        let outcome = self.worker.drive(&name, Some(request.tenant_id)).await?;
        tracing::info!(tenant = %name, ?outcome, "worker run");
        Ok(Handled::Drove(name.to_string(), outcome))
    }

    /// A request from another producer: the same validation and rules as the API, with
    /// the event id as idempotency key so that a redelivered event creates nothing new.
    async fn handle_foreign(&self, kind: EventKind, envelope: &Envelope) -> Result<Handled, HandlerError> {
        let caller = Caller::event_producer(&envelope.source, envelope.account.as_deref().unwrap_or("unknown"));
        let (result, rejected) = match kind {
            EventKind::CreateRequested => {
                let result = match serde_json::from_value::<NewTenant>(envelope.detail.clone()) {
                    Ok(request) => self
                        .tenancy
                        .create_tenant(&caller, request, Some(&envelope.id))
                        .await
                        .map(|created| created.tenant.name.to_string()),
                    Err(error) => Err(tenancy_domain::Error::invalid("detail", error.to_string())),
                };
                (result, EventKind::CreateRejected)
            }
            EventKind::DeleteRequested => {
                let result = match serde_json::from_value::<DeleteRequest>(envelope.detail.clone()) {
                    Ok(request) => self.tenancy.delete_tenant(&caller, &request.name).await.map(|t| t.name.to_string()),
                    Err(error) => Err(tenancy_domain::Error::invalid("detail", error.to_string())),
                };
                (result, EventKind::DeleteRejected)
            }
            _ => {
                tracing::info!(source = %envelope.source, "update requests are only taken from the API; ignored");
                return Ok(Handled::Ignored);
            }
        };
        match result {
            Ok(name) => {
                tracing::info!(tenant = %name, source = %envelope.source, "request from the bus accepted");
                Ok(Handled::Accepted(name))
            }
            // A failing dependency is not a refusal: let the trigger retry.
            Err(tenancy_domain::Error::Unavailable(why)) => Err(HandlerError::Unavailable(why)),
            Err(error) => {
                tracing::info!(source = %envelope.source, %error, "request from the bus rejected");
                let event = LifecycleEvent::rejected(rejected, &envelope.detail, &envelope.source, &error);
                self.events.publish(&event).await.map_err(|e| HandlerError::Unavailable(e.to_string()))?;
                Ok(Handled::Rejected(error.to_string()))
            }
        }
    }
}

/// The EventBridge pattern of the rule that routes requests to the lifecycle function:
/// every request kind, from any producer the bus admits. `template.yaml` declares the
/// same pattern; the local runner installs this one on the emulator.
pub fn request_rule_pattern() -> Value {
    serde_json::json!({ "detail-type": EventKind::REQUESTS.map(EventKind::detail_type) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../../template.yaml");

    #[test]
    fn the_template_routes_the_same_requests_as_the_local_rule() {
        let kinds = EventKind::REQUESTS.map(EventKind::detail_type).join(", ");
        assert!(TEMPLATE.contains(&format!("detail-type: [{kinds}]")), "template.yaml must route: {kinds}");
    }

    #[test]
    fn the_template_declares_every_index_the_store_queries() {
        for index in [
            tenancy_aws::dynamodb::BY_INFRASTRUCTURE,
            tenancy_aws::dynamodb::ALL_TENANTS,
            tenancy_aws::dynamodb::STALLED,
        ] {
            assert!(TEMPLATE.contains(&format!("IndexName: {index}")), "template.yaml lacks index {index}");
        }
    }
}
