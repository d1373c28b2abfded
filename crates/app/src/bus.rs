//! What the lifecycle function does with an event from the bus: one EventBridge event
//! in, the work it asks for done.
//!
//! Three kinds of event arrive: Tenancy's own requests (source `tenancy`, naming a tenant
//! already recorded), requests that other producers put on the bus (validated here exactly
//! as the API validates them, through the same domain service), and the scheduled sweep.

use serde::Deserialize;
use serde_json::Value;
use tenancy_domain::access::Caller;
use tenancy_domain::events::{self, EventKind, LifecycleEvent};
use tenancy_domain::names::Name;
use tenancy_domain::ports::Events;
use tenancy_domain::service::{ControlPlane, ExpirySweep, NewTenant};
use tenancy_domain::tenant::Step;
use tenancy_domain::worker::{GrantOutcome, Outcome, Worker, WorkerError};
use uuid::Uuid;

use std::sync::Arc;

/// Most ended access entries (and grants, and tenants at each stage of their end) one
/// sweep settles; the next sweep takes the rest.
pub const EXPIRED_PER_SWEEP: u32 = 100;

/// `detail-type` of EventBridge scheduled events, which trigger the sweep.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// An event as an EventBridge rule delivers it (to the Lambda function, or to the local
/// runner's queue), with its `detail` as JSON.
pub use aws_lambda_events::eventbridge::EventBridgeEvent;

/// An event as a rule would deliver it: for the local runner and tests, which play
/// EventBridge. (The library's type cannot be written as a literal outside its crate.)
pub fn bus_event(
    id: impl Into<String>,
    detail_type: impl Into<String>,
    source: impl Into<String>,
    account: Option<String>,
    detail: Value,
) -> EventBridgeEvent {
    let mut event = EventBridgeEvent::default();
    event.id = Some(id.into());
    event.detail_type = detail_type.into();
    event.source = source.into();
    event.account = account;
    event.detail = detail;
    event
}

/// The event EventBridge's schedule delivers to trigger the sweep.
pub fn scheduled_event(id: impl Into<String>) -> EventBridgeEvent {
    bus_event(id, SCHEDULED_EVENT, "aws.events", None, serde_json::json!({}))
}

/// How the daily drift check's rule is named: `<stack>-drift-check` (`template.yaml` gives
/// the schedule this `Name`). A schedule delivers no detail of its own (`{}`), and an
/// `Input` would replace the whole event, so the rule ARN in the event's `resources` is
/// what tells the daily schedule from the five-minute sweep.
pub const DRIFT_RULE_SUFFIX: &str = "-drift-check";

/// Most tenants one daily drift check reads (a few cloud calls each, four at a time,
/// within the function's 240 s); the rest wait for the next day, and the log says so.
pub const DRIFT_TENANTS_PER_RUN: usize = 800;

/// The event EventBridge's daily drift schedule delivers: as [`scheduled_event`], naming
/// its rule `rule_name` in `resources`.
pub fn drift_check_event(id: impl Into<String>, rule_name: &str) -> EventBridgeEvent {
    let mut event = scheduled_event(id);
    event.resources = Some(vec![format!("arn:aws:events:us-east-1:123456789012:rule/{rule_name}")]);
    event
}

/// True when a scheduled event comes from the daily drift rule: its `resources` name a
/// rule (`arn:...:rule/<name>` or `rule/<bus>/<name>`) whose name ends with
/// [`DRIFT_RULE_SUFFIX`].
fn is_drift_check(event: &EventBridgeEvent) -> bool {
    event.resources.iter().flatten().take(8).any(|arn| {
        arn.starts_with("arn:")
            && arn.split(':').nth(2) == Some("events")
            && arn
                .rsplit_once(":rule/")
                .is_some_and(|(_, rule)| rule.rsplit('/').next().is_some_and(|name| name.ends_with(DRIFT_RULE_SUFFIX)))
    })
}

/// Why an event could not be handled. Nearly every variant is worth a retry: a problem
/// with what a request asks for is recorded on the tenant or answered with a rejection
/// event, never raised. Only an event that is not one the rules deliver cannot succeed
/// on another try ([`HandlerError::class`]).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The worker could not run.
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// The state store or bus failed while handling a request from another producer.
    #[error("{0}")]
    Unavailable(String),
    /// A step met a passing fault that outlasted the run's tries; its progress is saved.
    /// Failing the invocation makes the trigger run it again later.
    #[error("tenant '{tenant}': step '{step}' will be retried: {error}")]
    RetryLater {
        /// The tenant.
        tenant: String,
        /// The step.
        step: tenancy_domain::tenant::Step,
        /// The passing fault.
        error: String,
    },
    /// The event lacks what every event a rule delivers carries (its id): trying it again
    /// cannot help.
    #[error("malformed event: {0}")]
    Malformed(String),
}

/// Whether a failed event may succeed if delivered again: the function reports it as
/// the failure's type, for the logs, the alarms and whoever reads the dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// A passing fault; a later delivery can succeed.
    Retryable,
    /// The event itself is at fault; every delivery will fail the same way.
    Permanent,
}

impl FailureClass {
    /// The name the function reports as the error type.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Retryable => "Retryable",
            FailureClass::Permanent => "Permanent",
        }
    }
}

impl HandlerError {
    /// Whether delivering the event again may help.
    pub fn class(&self) -> FailureClass {
        match self {
            HandlerError::Worker(_) | HandlerError::Unavailable(_) | HandlerError::RetryLater { .. } => {
                FailureClass::Retryable
            }
            HandlerError::Malformed(_) => FailureClass::Permanent,
        }
    }
}

/// Who may put requests on the bus, and for what: the deployment itself (source
/// [`events::SOURCE`], its own account only) and the configured `(source, account)` pairs,
/// which may create tenants and delete the tenants they created. The bus policy in
/// `template.yaml` admits the same pair from its account; the rule routes every request
/// here so that each refusal is announced ([`request_rule_pattern`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Producers {
    /// The deployment's own account.
    pub own_account: String,
    /// Trusted `(source, account)` pairs.
    pub trusted: Vec<(String, String)>,
}

impl Producers {
    /// Parses `source@account` pairs, comma-separated (`TENANCY_TRUSTED_PRODUCERS`).
    pub fn parse(own_account: &str, pairs: &str) -> Result<Self, String> {
        let mut trusted = Vec::new();
        for pair in pairs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((source, account)) = pair.rsplit_once('@') else {
                return Err(format!("'{pair}' is not source@account"));
            };
            let source_ok = !source.is_empty()
                && source.len() <= 256
                && source != events::SOURCE
                && source.chars().all(|c| c.is_ascii_alphanumeric() || ".-_/".contains(c));
            let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
            if !source_ok || !account_ok {
                return Err(format!(
                    "'{pair}': the source must be letters, digits, . - _ / (not '{}') and the account 12 digits",
                    events::SOURCE
                ));
            }
            trusted.push((source.to_string(), account.to_string()));
        }
        Ok(Self { own_account: own_account.to_string(), trusted })
    }

    fn trusts(&self, source: &str, account: Option<&str>) -> bool {
        let Some(account) = account else { return false };
        self.trusted.iter().any(|(s, a)| s == source && a == account)
    }
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
    /// The worker settled a grant (its id).
    Grant(String, GrantOutcome),
    /// The sweep ran.
    Swept(usize),
    /// The daily drift check ran: tenants checked, and those found drifted (one
    /// `Tenant Drift Detected` event each).
    DriftChecked(usize, Vec<String>),
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
#[serde(rename_all = "camelCase")]
struct GrantWork {
    tenant: String,
    grant_id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteRequest {
    name: String,
}

/// Handles the events the lifecycle function receives from the bus.
#[derive(Clone)]
pub struct BusHandler {
    tenancy: ControlPlane,
    worker: Worker,
    events: Arc<dyn Events>,
    producers: Arc<Producers>,
}

impl BusHandler {
    /// A handler over the service (for requests from other producers) and the worker,
    /// trusting `producers`.
    pub fn new(tenancy: ControlPlane, worker: Worker, events: Arc<dyn Events>, producers: Producers) -> Self {
        Self { tenancy, worker, events, producers: Arc::new(producers) }
    }

    /// Refuses a request from a producer the deployment does not trust for it: a
    /// `Tenant Request Rejected` event names the reason, and nothing changes.
    async fn reject_untrusted(&self, request: &EventBridgeEvent, reason: String) -> Result<Handled, HandlerError> {
        tracing::warn!(source = %request.source, account = ?request.account, %reason, "request from the bus refused");
        let event = LifecycleEvent::refused(&request.detail_type, &request.detail, &request.source, &reason);
        self.events.publish(&event).await.map_err(|e| HandlerError::Unavailable(e.to_string()))?;
        Ok(Handled::Rejected(reason))
    }

    /// Handles one event. Every line logged meanwhile names the event (its id, which a
    /// retried delivery keeps, and its `detail-type`).
    pub async fn handle(&self, envelope: EventBridgeEvent) -> Result<Handled, HandlerError> {
        let span = tracing::info_span!(
            "event",
            event_id = envelope.id.as_deref().unwrap_or(""),
            detail_type = %envelope.detail_type,
            source = %envelope.source
        );
        tracing::Instrument::instrument(self.handle_in(envelope), span).await
    }

    async fn handle_in(&self, envelope: EventBridgeEvent) -> Result<Handled, HandlerError> {
        let Some(id) = envelope.id.as_deref() else {
            return Err(HandlerError::Malformed("the event has no id".into()));
        };
        if envelope.detail_type == SCHEDULED_EVENT && envelope.source == "aws.events" && is_drift_check(&envelope) {
            let sweep = self
                .tenancy
                .sweep_drift(DRIFT_TENANTS_PER_RUN)
                .await
                .map_err(|e| HandlerError::Unavailable(e.to_string()))?;
            tracing::info!(
                checked = sweep.checked,
                drifted = sweep.drifted.len(),
                unchecked = sweep.unchecked,
                more = sweep.more,
                "drift check ran"
            );
            if sweep.more {
                tracing::warn!(limit = DRIFT_TENANTS_PER_RUN, "more tenants than one drift check reads; the rest wait");
            }
            return Ok(Handled::DriftChecked(sweep.checked, sweep.drifted));
        }
        if envelope.detail_type == SCHEDULED_EVENT {
            // Ended access already gives nothing (every request checks the end); this
            // removes the entries and says so on the bus. First, and whatever the rest of
            // the sweep does.
            let expired = self.tenancy.sweep_expired_access(EXPIRED_PER_SWEEP).await;
            match &expired {
                Ok(0) => {}
                Ok(count) => tracing::info!(expired = count, "sweep removed ended access"),
                Err(error) => tracing::warn!(%error, "sweep could not remove ended access; the next one will"),
            }
            let runs = self.worker.sweep().await?;
            for (name, outcome) in &runs {
                tracing::info!(tenant = %name, ?outcome, "sweep re-drove tenant");
            }
            // Ended grants: each becomes `removing` and its revocation is requested.
            let grants = self.tenancy.sweep_expired_grants(EXPIRED_PER_SWEEP).await;
            match &grants {
                Ok(0) => {}
                Ok(count) => tracing::info!(grants = count, "sweep revoked ended grants"),
                Err(error) => tracing::warn!(%error, "sweep could not revoke ended grants; the next one will"),
            }
            // Tenants' ends: warnings ahead, deletions of ended tenants (asked for here and
            // run by the worker like any other), reports of those deletion protection keeps.
            let ends = self.tenancy.sweep_expiring_tenants(EXPIRED_PER_SWEEP).await;
            match &ends {
                Ok(done) if *done == ExpirySweep::default() => {}
                Ok(done) => tracing::info!(
                    warned = done.warned,
                    expired = done.expired,
                    blocked = done.blocked,
                    "sweep settled tenants' ends"
                ),
                Err(error) => tracing::warn!(%error, "sweep could not settle every tenant's end; the next one will"),
            }
            // Grants whose request was lost or ran out of retries (the revocations just
            // asked for included: settling twice is harmless).
            for (grant, outcome) in self.worker.sweep_grants().await? {
                tracing::info!(%grant, ?outcome, "sweep settled grant");
            }
            expired.map_err(|e| HandlerError::Unavailable(e.to_string()))?;
            grants.map_err(|e| HandlerError::Unavailable(e.to_string()))?;
            ends.map_err(|e| HandlerError::Unavailable(e.to_string()))?;
            return Ok(Handled::Swept(runs.len()));
        }
        let Some(kind) = EventKind::from_detail_type(&envelope.detail_type)
            .filter(|k| EventKind::REQUESTS.contains(k) || EventKind::GRANT_REQUESTS.contains(k))
        else {
            tracing::info!(detail_type = %envelope.detail_type, "event ignored");
            return Ok(Handled::Ignored);
        };
        let account = envelope.account.as_deref();
        if envelope.source == events::SOURCE {
            if account != Some(self.producers.own_account.as_str()) {
                let reason = format!(
                    "source '{}' is only taken from the deployment's own account, not from {}",
                    events::SOURCE,
                    account.unwrap_or("an unnamed account")
                );
                return self.reject_untrusted(&envelope, reason).await;
            }
            if EventKind::GRANT_REQUESTS.contains(&kind) {
                return self.settle_grant(&envelope).await;
            }
            return self.drive_own(&envelope).await;
        }
        if EventKind::GRANT_REQUESTS.contains(&kind) {
            let reason = format!("grant requests are only taken from '{}' itself", events::SOURCE);
            return self.reject_untrusted(&envelope, reason).await;
        }
        if !self.producers.trusts(&envelope.source, account) {
            let reason = format!(
                "producer '{}' in account {} is not trusted to ask for tenants",
                envelope.source,
                account.unwrap_or("(none)")
            );
            return self.reject_untrusted(&envelope, reason).await;
        }
        if kind == EventKind::UpdateRequested {
            let reason = "changes to tenants are only taken from the API, not from the bus".to_string();
            return self.reject_untrusted(&envelope, reason).await;
        }
        self.handle_foreign(kind, id, &envelope).await
    }

    async fn drive_own(&self, envelope: &EventBridgeEvent) -> Result<Handled, HandlerError> {
        let Ok(request) = serde_json::from_value::<OwnRequest>(envelope.detail.clone()) else {
            tracing::warn!(detail = %envelope.detail, "malformed request from tenancy ignored");
            return Ok(Handled::Ignored);
        };
        let Ok(name) = Name::parse("tenant", &request.tenant) else { return Ok(Handled::Ignored) };
        let outcome = self.worker.drive(&name, Some(request.tenant_id)).await?;
        tracing::info!(tenant = %name, ?outcome, "worker run");
        if let Outcome::RetryLater { step, error } = outcome {
            return Err(HandlerError::RetryLater { tenant: name.to_string(), step, error });
        }
        Ok(Handled::Drove(name.to_string(), outcome))
    }

    /// Tenancy's own request about a grant: the worker applies or removes it. A passing
    /// fault fails the invocation so that EventBridge delivers the request again.
    async fn settle_grant(&self, envelope: &EventBridgeEvent) -> Result<Handled, HandlerError> {
        let Ok(request) = serde_json::from_value::<GrantWork>(envelope.detail.clone()) else {
            tracing::warn!(detail = %envelope.detail, "malformed grant request from tenancy ignored");
            return Ok(Handled::Ignored);
        };
        let Ok(name) = Name::parse("tenant", &request.tenant) else { return Ok(Handled::Ignored) };
        let outcome = self.worker.settle_grant(&name, request.grant_id).await?;
        tracing::info!(tenant = %name, grant = %request.grant_id, ?outcome, "grant settled");
        if let GrantOutcome::RetryLater(error) = outcome {
            return Err(HandlerError::RetryLater { tenant: name.to_string(), step: Step::Grants, error });
        }
        Ok(Handled::Grant(request.grant_id.to_string(), outcome))
    }

    /// A request from another producer: the same validation and rules as the API, with
    /// the event id as idempotency key so that a redelivered event creates nothing new.
    async fn handle_foreign(
        &self,
        kind: EventKind,
        id: &str,
        envelope: &EventBridgeEvent,
    ) -> Result<Handled, HandlerError> {
        let caller = Caller::event_producer(&envelope.source, envelope.account.as_deref().unwrap_or("unknown"));
        let (result, rejected) = match kind {
            EventKind::CreateRequested => {
                let result = match serde_json::from_value::<NewTenant>(envelope.detail.clone()) {
                    Ok(request) => self
                        .tenancy
                        .create_tenant(&caller, request, Some(id))
                        .await
                        .map(|created| created.tenant.name().to_string()),
                    Err(error) => Err(tenancy_domain::Error::invalid("detail", error.to_string())),
                };
                (result, EventKind::CreateRejected)
            }
            EventKind::DeleteRequested => {
                let result = match serde_json::from_value::<DeleteRequest>(envelope.detail.clone()) {
                    Ok(request) => {
                        self.tenancy.delete_tenant(&caller, &request.name).await.map(|t| t.name().to_string())
                    }
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
            // Trusted, but not for this: a producer deleting a tenant it did not create.
            Err(tenancy_domain::Error::Forbidden(reason)) => self.reject_untrusted(envelope, reason).await,
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
/// every request kind, from any source. The rule routes them all on purpose: the handler
/// decides who may ask for what (the deployment itself from its own account, and the
/// trusted `(source, account)` pairs, which the bus policy also names for other
/// accounts), so that every refused request is answered with a `Tenant Request Rejected`
/// event rather than dropped in silence. `template.yaml` declares the same pattern; the
/// local runner installs this one on the emulator.
pub fn request_rule_pattern() -> Value {
    let kinds = EventKind::REQUESTS.into_iter().chain(EventKind::GRANT_REQUESTS).map(EventKind::detail_type);
    serde_json::json!({ "detail-type": kinds.collect::<Vec<_>>() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../../template.yaml");

    #[test]
    fn the_template_routes_the_same_requests_as_the_local_rule() {
        let kinds: Vec<&str> =
            EventKind::REQUESTS.into_iter().chain(EventKind::GRANT_REQUESTS).map(EventKind::detail_type).collect();
        let kinds = kinds.join(", ");
        assert!(TEMPLATE.contains(&format!("detail-type: [{kinds}]")), "template.yaml must route: {kinds}");
        assert_eq!(request_rule_pattern()["detail-type"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn the_template_trusts_the_same_producer_pair_in_the_bus_policy_and_the_handler() {
        let producer_kinds =
            [EventKind::CreateRequested, EventKind::DeleteRequested].map(EventKind::detail_type).join(", ");
        assert!(TEMPLATE.contains(&format!("events:detail-type: [{producer_kinds}]")), "{producer_kinds}");
        assert!(TEMPLATE.contains("events:source: [!Ref ProducerSource]"));
        assert!(TEMPLATE.contains(
            r#"TENANCY_TRUSTED_PRODUCERS: !If [HasProducer, !Sub "${ProducerSource}@${ProducerAccountId}", ""]"#
        ));
    }

    #[test]
    fn only_an_event_without_what_every_delivery_carries_is_a_permanent_failure() {
        let retry = HandlerError::RetryLater {
            tenant: "t".into(),
            step: tenancy_domain::tenant::Step::Worker,
            error: "throttled".into(),
        };
        assert_eq!(retry.class().as_str(), "Retryable");
        assert_eq!(HandlerError::Unavailable("store".into()).class(), FailureClass::Retryable);
        assert_eq!(HandlerError::Malformed("no id".into()).class().as_str(), "Permanent");
    }

    #[test]
    fn events_as_the_rules_deliver_them_are_read() {
        let delivered = serde_json::json!({
            "version": "0", "id": "e1", "detail-type": "Tenant Create Requested", "source": "crm.onboarding",
            "account": "111122223333", "time": "2026-11-28T04:00:00Z", "region": "eu-west-1", "resources": [],
            "detail": { "name": "t1" }
        });
        let event: EventBridgeEvent = serde_json::from_value(delivered).unwrap();
        let made = bus_event(
            "e1",
            "Tenant Create Requested",
            "crm.onboarding",
            Some("111122223333".into()),
            serde_json::json!({ "name": "t1" }),
        );
        assert_eq!(
            (&event.id, &event.detail_type, &event.source, &event.account, &event.detail),
            (&made.id, &made.detail_type, &made.source, &made.account, &made.detail)
        );
        let schedule: EventBridgeEvent = serde_json::from_value(serde_json::json!({
            "version": "0", "id": "s1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-28T04:00:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/sweep"], "detail": {}
        }))
        .unwrap();
        assert_eq!(schedule.detail_type, scheduled_event("s1").detail_type);
    }

    #[test]
    fn only_the_daily_rule_is_the_drift_check_and_the_template_names_it_so() {
        assert!(is_drift_check(&drift_check_event("d", "tenancy-prod-drift-check")));
        let delivered: EventBridgeEvent = serde_json::from_value(serde_json::json!({
            "version": "0", "id": "s1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-28T04:00:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/tenancy-prod-drift-check"], "detail": {}
        }))
        .unwrap();
        assert!(is_drift_check(&delivered));
        for resources in [
            vec![],
            vec!["arn:aws:events:eu-west-1:123456789012:rule/tenancy-prod-LifecycleFunctionSweep-1ABC".to_string()],
            vec!["arn:aws:sqs:eu-west-1:123456789012:x-drift-check".to_string()],
            vec!["rule/x-drift-check".to_string()],
            vec!["arn:aws:events:eu-west-1:123456789012:rule/x-drift-check-not".to_string()],
        ] {
            let mut event = scheduled_event("s");
            event.resources = Some(resources.clone());
            assert!(!is_drift_check(&event), "{resources:?}");
        }
        assert!(TEMPLATE.contains(&format!("Name: !Sub \"${{AWS::StackName}}{DRIFT_RULE_SUFFIX}\"")));
        assert!(TEMPLATE.contains("Schedule: rate(1 day)"));
    }

    #[test]
    fn producer_pairs_are_parsed_strictly() {
        let producers = Producers::parse("123456789012", " crm.onboarding@111122223333 , hr@222233334444").unwrap();
        assert_eq!(producers.trusted.len(), 2);
        assert!(producers.trusts("crm.onboarding", Some("111122223333")));
        assert!(!producers.trusts("crm.onboarding", Some("222233334444")), "pairs, not any source with any account");
        assert!(!producers.trusts("hr", None));
        for bad in ["crm", "crm@1", "@111122223333", "tenancy@111122223333", "c rm@111122223333", "crm@11112222333x"] {
            assert!(Producers::parse("123456789012", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_template_declares_every_index_the_store_queries() {
        for index in [
            tenancy_aws::dynamodb::BY_INFRASTRUCTURE,
            tenancy_aws::dynamodb::ALL_TENANTS,
            tenancy_aws::dynamodb::STALLED,
            tenancy_aws::dynamodb::EXPIRING,
        ] {
            assert!(TEMPLATE.contains(&format!("IndexName: {index}")), "template.yaml lacks index {index}");
        }
    }
}
