//! The lifecycle worker: takes a tenant in a transitional state and does the cloud work,
//! step by step, recording each resource's status as it goes.
//!
//! Every run reconciles rather than scripts: each step asks the cloud for what exists and
//! makes only the difference, so a duplicated event, a retried one, or a run after a
//! worker died midway all converge on one complete set of resources.

use std::sync::Arc;

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use futures::future::join_all;
use time::Duration;
use tracing::Instrument;
use uuid::Uuid;

use crate::audit::{Actor, AuditAction, AuditEntry, Subject};
use crate::boundary::Boundary;
use crate::events::{EventKind, LifecycleEvent};
use crate::grant::GrantStatus;
use crate::infrastructure::Infrastructure;
use crate::metrics::{OperationReport, StepReport, StepResult};
use crate::names::Name;
use crate::plan::{self, PlanContext};
use crate::ports::errors::{CloudError, StoreError};
use crate::ports::{Clock, Cloud, Events, LifecycleMetrics, Plugins, WorkerStore};
use crate::tenant::{DEFAULT_TYPE, Operation, ResourceKind, ResourceRef, Step, Tenant, TenantState};
use crate::tenant_type::{PluginFailure, Proposal};

/// Provisioning in rounds: the steps of a round are independent and run concurrently;
/// a round starts when the one before is done. The instance profile carries the role and
/// the key policy names the role, so both wait for it.
pub const PROVISION_ROUNDS: [&[ResourceKind]; 2] =
    [&[ResourceKind::SecurityGroup, ResourceKind::Role], &[ResourceKind::InstanceProfile, ResourceKind::Key]];

/// The round after provisioning, for tenants whose plan asks for buckets: they are
/// encrypted with the tenant key, so the key comes first.
pub const BUCKET_ROUND: &[ResourceKind] = &[ResourceKind::Bucket];

/// Deletion in rounds: the role goes last, once no instance profile holds it. Buckets are
/// removed whether or not a plan asked for them, so that none escapes.
pub const DELETE_ROUNDS: [&[ResourceKind]; 2] = [
    &[ResourceKind::Bucket, ResourceKind::InstanceProfile, ResourceKind::Key, ResourceKind::SecurityGroup],
    &[ResourceKind::Role],
];

/// What one run of the worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The tenant reached the state its operation aims for.
    Done(TenantState),
    /// A step failed; the tenant is `failed` and says why.
    Failed {
        /// The step.
        step: Step,
        /// The cloud's error.
        error: String,
    },
    /// A step met a passing fault (throttling, a 5xx, a timeout, eventual consistency)
    /// that outlasted this run's retries. The progress is saved and the lease freed; the
    /// trigger (EventBridge's retries, the local queue, or the sweep) runs it again.
    RetryLater {
        /// The step.
        step: Step,
        /// The cloud's error.
        error: String,
    },
    /// Another worker holds the tenant; it will finish (or its lease will lapse).
    Busy,
    /// The tenant needs no work (already active, deleted, failed, or gone).
    NothingToDo,
    /// The tenant changed under the worker; the run stopped without acting further.
    Superseded,
}

/// What one run of [`Worker::settle_grant`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantOutcome {
    /// The grant is in the cloud.
    Applied,
    /// The grant left the cloud and was forgotten.
    Removed,
    /// The cloud refused it for good (the grant records why).
    Failed(String),
    /// A passing fault; the grant stays as it was, and the trigger runs it again.
    RetryLater(String),
    /// Nothing to do (already applied or failed, unknown, or changed meanwhile).
    NothingToDo,
}

/// Why a run could not proceed at all.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WorkerError {
    /// The store failed; the run should be retried (EventBridge and the sweep will).
    #[error("state store: {0}")]
    Store(StoreError),
}

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long a claim on a tenant holds if its worker dies. Longer than one run can take
    /// (the Lambda timeout).
    pub lease: Duration,
    /// Most tenants one sweep re-drives.
    pub sweep_batch: u32,
    /// The deployment (stack) this worker acts for: it tags what it makes with it, and
    /// adopts or deletes nothing that carries another's.
    pub deployment: String,
    /// Tries of a step within one run while it meets passing faults.
    pub step_attempts: u32,
    /// Pause before the second try of a step; doubled for each later one, with jitter.
    pub backoff: std::time::Duration,
    /// Runs an operation may take before the tenant is failed: each claim counts one, so
    /// a tenant whose worker keeps crashing or timing out ends `failed`, never looping.
    pub max_runs: u32,
    /// How long an operation may keep meeting passing faults before they count as its failure.
    pub retry_deadline: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::minutes(5),
            sweep_batch: 25,
            deployment: "tenancy".into(),
            step_attempts: 5,
            backoff: std::time::Duration::from_millis(200),
            max_runs: 12,
            retry_deadline: Duration::hours(1),
        }
    }
}

/// Drives tenants through their lifecycle.
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn WorkerStore>,
    cloud: Arc<dyn Cloud>,
    events: Arc<dyn Events>,
    plugins: Arc<dyn Plugins>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    metrics: Arc<dyn LifecycleMetrics>,
}

/// The text of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("panicked: {}", text.chars().take(300).collect::<String>())
}

type StepOutcome = Result<Option<Vec<ResourceRef>>, CloudError>;

impl Worker {
    /// Builds a worker over its ports.
    pub fn new(
        store: Arc<dyn WorkerStore>,
        cloud: Arc<dyn Cloud>,
        events: Arc<dyn Events>,
        plugins: Arc<dyn Plugins>,
        clock: Arc<dyn Clock>,
        config: WorkerConfig,
    ) -> Self {
        Self { store, cloud, events, plugins, clock, config, metrics: Arc::new(crate::builtin::NoMetrics) }
    }

    /// The worker reporting each step's run and each operation's end to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn LifecycleMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Does whatever cloud work the tenant's state asks for. `expected_id`, when given,
    /// is the incarnation the request was for: a request for an earlier tenant of the same
    /// name is ignored.
    ///
    /// Whatever happens inside, the tenant ends in a named state: a panic in a plugin
    /// call, in plan validation or in a step fails the tenant at that step and frees its
    /// lease; a passing fault is retried; a tenant that keeps failing to finish is failed
    /// after [`WorkerConfig::max_runs`] runs.
    pub async fn drive(&self, name: &Name, expected_id: Option<Uuid>) -> Result<Outcome, WorkerError> {
        // Every line logged during the run names the tenant and, once known, the operation.
        let span = tracing::info_span!("tenant", tenant = %name, operation = tracing::field::Empty);
        self.drive_in(name, expected_id, &span).instrument(span.clone()).await
    }

    async fn drive_in(
        &self,
        name: &Name,
        expected_id: Option<Uuid>,
        span: &tracing::Span,
    ) -> Result<Outcome, WorkerError> {
        let Some(mut tenant) = self.store.get_tenant(name).await.map_err(WorkerError::Store)? else {
            return Ok(Outcome::NothingToDo);
        };
        if expected_id.is_some_and(|id| id != tenant.id()) {
            return Ok(Outcome::NothingToDo);
        }
        let Some(operation) = tenant.pending_operation() else {
            return Ok(Outcome::NothingToDo);
        };
        span.record("operation", operation.as_str());
        let owner = Uuid::new_v4().to_string();
        if !self.claim(&mut tenant, &owner).await? {
            return Ok(Outcome::Busy);
        }
        tracing::info!(tenant = %name, ?operation, version = tenant.version(), attempt = tenant.attempts(), "worker claimed tenant");
        if tenant.attempts() > self.config.max_runs {
            let (step, last) = match &tenant.retrying() {
                Some(retrying) => (retrying.step, retrying.error.clone()),
                None => (Step::Worker, "the runs stopped without a word (a crash or a time-out)".into()),
            };
            let error = format!("gave up after {} runs that did not finish: {last}", self.config.max_runs);
            return self.fail(tenant, operation, step, error).await;
        }
        let infrastructure = match self.store.get_infrastructure(tenant.infrastructure()).await {
            Ok(Some(infrastructure)) => infrastructure,
            Ok(None) => {
                let error = format!("infrastructure '{}' of the tenant is missing", tenant.infrastructure());
                return self.fail(tenant, operation, Step::Worker, error).await;
            }
            Err(error) => {
                self.release(tenant).await;
                return Err(WorkerError::Store(error));
            }
        };
        let claimed = tenant.clone();
        match AssertUnwindSafe(self.run(tenant, operation, &infrastructure)).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(panic) => {
                let error = panic_message(panic.as_ref());
                tracing::error!(tenant = %name, %error, "the worker panicked");
                self.fail_after_panic(claimed, operation, &owner, error).await
            }
        }
    }

    /// The claimed run: the plugin's say, then the rounds of steps, then (for a deletion)
    /// the check that nothing is left.
    async fn run(
        &self,
        mut tenant: Tenant,
        operation: Operation,
        infrastructure: &Infrastructure,
    ) -> Result<Outcome, WorkerError> {
        let consulted =
            AssertUnwindSafe(self.consult_plugin(&mut tenant, operation, infrastructure)).catch_unwind().await;
        match consulted {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => return self.fail(tenant, operation, Step::Plugin, failure.to_string()).await,
            Err(panic) => {
                let error = format!("the tenant type's plan {}", panic_message(panic.as_ref()));
                return self.fail(tenant, operation, Step::Plugin, error).await;
            }
        }
        let boundary = Boundary::of(&tenant, infrastructure, &self.config.deployment);

        // Every grant that involves the tenant leaves the cloud before its resources do:
        // another tenant's rule naming this tenant's group would hold its deletion.
        if operation == Operation::Delete {
            let revoked = AssertUnwindSafe(self.revoke_tenant_grants(&tenant, &boundary, infrastructure))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(CloudError::permanent(panic_message(panic.as_ref()))));
            match revoked {
                Ok(()) => {}
                Err(error) if error.transient => {
                    return self.retry_later(tenant, operation, Step::Grants, error.message).await;
                }
                Err(error) => return self.fail(tenant, operation, Step::Grants, error.message).await,
            }
        }

        let rounds: Vec<&[ResourceKind]> = match operation {
            Operation::Delete => DELETE_ROUNDS.to_vec(),
            _ if boundary.plan.resources.is_empty() => PROVISION_ROUNDS.to_vec(),
            _ => PROVISION_ROUNDS.into_iter().chain([BUCKET_ROUND]).collect(),
        };
        let labels = (tenant.name().to_string(), tenant.tenant_type().to_string());
        for (index, round) in rounds.iter().enumerate() {
            let mut pending: Vec<ResourceKind> = round.to_vec();
            let mut attempt = 1;
            loop {
                let results =
                    join_all(pending.iter().map(|kind| self.guarded_step(operation, *kind, &boundary, &labels))).await;
                let now = self.clock.now();
                let mut failed = None;
                let mut passing = Vec::new();
                for (kind, result) in pending.iter().zip(results) {
                    match result {
                        Ok(Some(resources)) => resources.iter().for_each(|resource| tenant.mark_ready(resource, now)),
                        Ok(None) => tenant.mark_removed(*kind, now),
                        Err(error) if error.transient => passing.push((*kind, error.message)),
                        Err(error) => {
                            tenant.mark_failed(operation, Step::from(*kind), &error.message, now);
                            failed.get_or_insert((Step::from(*kind), error.message));
                        }
                    }
                }
                if let Some((step, error)) = failed {
                    return self.fail(tenant, operation, step, error).await;
                }
                let Some((kind, error)) = passing.first().cloned() else { break };
                if attempt >= self.config.step_attempts {
                    return self.retry_later(tenant, operation, Step::from(kind), error).await;
                }
                tracing::info!(tenant = %tenant.name(), step = kind.as_str(), %error, attempt, "passing fault; trying the step again");
                tokio::time::sleep(self.backoff(attempt)).await;
                attempt += 1;
                pending = passing.into_iter().map(|(kind, _)| kind).collect();
            }
            // Progress is recorded between rounds; after the last one, the final write
            // records it with the new state.
            let last = index + 1 == rounds.len();
            if !last && !self.save(&mut tenant).await? {
                return Ok(Outcome::Superseded);
            }
        }

        let mut leftovers = Vec::new();
        if operation == Operation::Delete {
            let mut attempt = 1;
            loop {
                let checked = AssertUnwindSafe(self.cloud.remaining(&boundary))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| Err(CloudError::permanent(panic_message(panic.as_ref()))));
                let error = match checked {
                    Ok(left) if left.owned.is_empty() => {
                        leftovers = left.foreign;
                        break;
                    }
                    Ok(left) => {
                        let list: Vec<String> = left.owned.iter().map(|r| r.arn.clone()).collect();
                        // Tag and listing indexes lag behind deletions: a passing answer.
                        CloudError::transient(format!("still present after deletion: {}", list.join(", ")))
                    }
                    Err(error) => error,
                };
                if !error.transient {
                    return self.fail(tenant, operation, Step::Leftovers, error.message).await;
                }
                if attempt >= self.config.step_attempts {
                    return self.retry_later(tenant, operation, Step::Leftovers, error.message).await;
                }
                tokio::time::sleep(self.backoff(attempt)).await;
                attempt += 1;
            }
        }
        self.finish(tenant, operation, leftovers).await
    }

    /// The pause before try `attempt + 1` of a step: exponential, with full jitter so that
    /// many tenants throttled at once do not come back at once.
    fn backoff(&self, attempt: u32) -> std::time::Duration {
        let ceiling = self.config.backoff.saturating_mul(1 << attempt.saturating_sub(1).min(6));
        let fraction = (Uuid::new_v4().as_u128() % 1000) as u32;
        ceiling / 2 + ceiling / 2 * fraction / 1000
    }

    /// One step, with a panic in it turned into a failure of that step, its run reported
    /// to the metrics. `labels`: the tenant's name and type.
    async fn guarded_step(
        &self,
        operation: Operation,
        kind: ResourceKind,
        boundary: &Boundary,
        labels: &(String, String),
    ) -> StepOutcome {
        let span = tracing::info_span!("step", step = kind.as_str());
        let started = std::time::Instant::now();
        let outcome = AssertUnwindSafe(self.step(operation, kind, boundary))
            .catch_unwind()
            .instrument(span)
            .await
            .unwrap_or_else(|panic| {
                Err(CloudError::permanent(format!("the {kind} step {}", panic_message(panic.as_ref()))))
            });
        let result = match &outcome {
            Ok(_) => StepResult::Succeeded,
            Err(error) if error.transient => StepResult::Retrying,
            Err(_) => StepResult::Failed,
        };
        self.metrics.step_ran(&StepReport {
            tenant: labels.0.clone(),
            tenant_type: labels.1.clone(),
            operation,
            step: Step::from(kind),
            duration: started.elapsed(),
            result,
        });
        outcome
    }

    /// The tenant type's say, before any cloud work: for a create or an update, the plan
    /// for the tenant as it is now (made again each run: hooks are deterministic, and the
    /// plan follows changed settings); for a delete, `on-delete`. A tenant whose type is no
    /// longer registered can still be deleted: what its plan added is found by name and tag.
    async fn consult_plugin(
        &self,
        tenant: &mut Tenant,
        operation: Operation,
        infrastructure: &Infrastructure,
    ) -> Result<(), PluginFailure> {
        if tenant.tenant_type() == DEFAULT_TYPE {
            return Ok(());
        }
        match operation {
            Operation::Create | Operation::Update => {
                let Proposal { record, allowances } = self.plugins.plan(tenant).await?;
                let context = PlanContext {
                    tenant: tenant.name(),
                    allowances,
                    vpc_cidrs: &infrastructure.cidr_blocks,
                    settings: tenant.settings(),
                };
                plan::validate(&record.plugin, &record.plan, &context).map_err(PluginFailure::Plan)?;
                tenant.record_plan(record);
                Ok(())
            }
            // A refusal in the plugin's words holds the deletion (it can be retried); a plugin
            // that is gone, or that breaks a limit, never keeps a tenant from being deleted.
            Operation::Delete => match self.plugins.on_delete(tenant).await {
                Err(PluginFailure::UnknownType(tenant_type)) => {
                    tracing::warn!(tenant = %tenant.name(), %tenant_type, "type no longer registered; deleting without on-delete");
                    Ok(())
                }
                Err(PluginFailure::Failed(error)) => {
                    tracing::warn!(tenant = %tenant.name(), %error, "on-delete failed; deleting without its say");
                    Ok(())
                }
                other => other,
            },
        }
    }

    /// One step: ensure the resources for create/update, remove them for delete.
    async fn step(
        &self,
        operation: Operation,
        kind: ResourceKind,
        boundary: &Boundary,
    ) -> Result<Option<Vec<ResourceRef>>, CloudError> {
        if operation == Operation::Delete {
            self.cloud.remove(kind, boundary).await.map(|()| None)
        } else {
            self.cloud.ensure(kind, boundary).await.map(Some)
        }
    }

    /// Takes the lease: a conditional write on the version read, so of two workers that
    /// read the same version only one succeeds. Each claim counts a run of the operation.
    async fn claim(&self, tenant: &mut Tenant, owner: &str) -> Result<bool, WorkerError> {
        if !tenant.claim(owner, self.config.lease, self.clock.now()) {
            return Ok(false);
        }
        self.write(tenant).await
    }

    /// Frees the lease after a run that could not start (the store failed), so that the
    /// next trigger need not wait for it to lapse. Best effort: a lapsed lease does the same.
    async fn release(&self, mut tenant: Tenant) {
        tenant.release(self.clock.now());
        if let Err(error) = self.write(&mut tenant).await {
            tracing::warn!(tenant = %tenant.name(), %error, "could not free the lease; it will lapse");
        }
    }

    /// A passing fault outlasted this run's tries: record it on the step, save the
    /// progress, free the lease. Past the operation's retry deadline it fails the tenant.
    async fn retry_later(
        &self,
        mut tenant: Tenant,
        operation: Operation,
        step: Step,
        error: String,
    ) -> Result<Outcome, WorkerError> {
        let now = self.clock.now();
        if let Some(retrying) = &tenant.retrying()
            && now - retrying.since >= self.config.retry_deadline
        {
            let error = format!("{error} (still failing after {} of retries)", self.config.retry_deadline);
            return self.fail(tenant, operation, step, error).await;
        }
        tenant.wait_to_retry(step, &error, now);
        tracing::warn!(tenant = %tenant.name(), ?operation, %step, %error, "passing fault; the step runs again later");
        if !self.write(&mut tenant).await? {
            return Ok(Outcome::Superseded);
        }
        Ok(Outcome::RetryLater { step, error })
    }

    /// A panic outside any step: the tenant as stored now is failed, if this run still
    /// holds it (a write it made before the panic moved the version on).
    async fn fail_after_panic(
        &self,
        claimed: Tenant,
        operation: Operation,
        owner: &str,
        error: String,
    ) -> Result<Outcome, WorkerError> {
        let current = self.store.get_tenant(claimed.name()).await.map_err(WorkerError::Store)?;
        let Some(current) = current.filter(|t| t.id() == claimed.id()) else { return Ok(Outcome::Superseded) };
        if !current.is_claimed_by(owner) {
            return Ok(Outcome::Superseded);
        }
        self.fail(current, operation, Step::Worker, error).await
    }

    /// Saves progress made now; `false` when someone else wrote the tenant meanwhile.
    async fn save(&self, tenant: &mut Tenant) -> Result<bool, WorkerError> {
        tenant.progressed(self.clock.now());
        self.write(tenant).await
    }

    /// Writes the tenant at the version it was read at; the store answers with the next.
    async fn write(&self, tenant: &mut Tenant) -> Result<bool, WorkerError> {
        match self.store.save_tenant(tenant).await {
            Ok(saved) => {
                *tenant = saved;
                Ok(true)
            }
            Err(StoreError::Stale { .. } | StoreError::NotFound) => Ok(false),
            Err(other) => Err(WorkerError::Store(other)),
        }
    }

    async fn fail(
        &self,
        mut tenant: Tenant,
        operation: Operation,
        step: Step,
        error: String,
    ) -> Result<Outcome, WorkerError> {
        if tenant.fail(operation, step, &error, self.clock.now()).is_err() {
            return Ok(Outcome::Superseded);
        }
        tracing::warn!(tenant = %tenant.name(), ?operation, %step, %error, "lifecycle step failed");
        if !self.write(&mut tenant).await? {
            return Ok(Outcome::Superseded);
        }
        self.report_end(&tenant, operation, Some(step));
        self.announce(EventKind::failed(operation), &tenant).await;
        Ok(Outcome::Failed { step, error })
    }

    async fn finish(
        &self,
        mut tenant: Tenant,
        operation: Operation,
        leftovers: Vec<String>,
    ) -> Result<Outcome, WorkerError> {
        let Ok(next) = tenant.finish(leftovers, self.clock.now()) else {
            return Ok(Outcome::Superseded);
        };
        if !self.write(&mut tenant).await? {
            return Ok(Outcome::Superseded);
        }
        tracing::info!(tenant = %tenant.name(), state = %next, "lifecycle finished");
        self.report_end(&tenant, operation, None);
        if next == TenantState::Deleted {
            self.forget_access(&tenant).await;
        }
        self.announce(EventKind::done(operation), &tenant).await;
        Ok(Outcome::Done(next))
    }

    fn report_end(&self, tenant: &Tenant, operation: Operation, failed_at: Option<Step>) {
        self.metrics.operation_ended(&OperationReport {
            tenant: tenant.name().to_string(),
            tenant_type: tenant.tenant_type().to_string(),
            operation,
            failed_at,
        });
    }

    /// Writes an outcome in the tenant's history (the outcome event itself is the bus's
    /// record of it). A lost entry is logged: the tenant's state is already stored.
    async fn write_history(&self, kind: EventKind, tenant: &Tenant) {
        let (action, detail) = match tenant.failure() {
            Some(failure) if tenant.state() == TenantState::Failed => (
                AuditAction::TenantOperationFailed,
                serde_json::json!({
                    "outcome": kind.detail_type(), "operation": failure.operation, "step": failure.step,
                    "error": failure.error,
                }),
            ),
            _ => (
                AuditAction::TenantOperationSucceeded,
                serde_json::json!({ "outcome": kind.detail_type(), "state": tenant.state() }),
            ),
        };
        let subject = Subject::Tenant { name: tenant.name().clone(), id: tenant.id() };
        let entry = AuditEntry::new(self.clock.now(), Actor::tenancy(), action, subject, detail);
        if let Err(error) = self.store.record(&entry).await {
            tracing::error!(tenant = %tenant.name(), %error, "outcome not written in the tenant's history");
        }
    }

    /// Removes a deleted tenant's access entries. They already give nothing (an entry
    /// names its incarnation, and a deleted tenant is read by no one but platform admins),
    /// so a failure here is tidying left for later, not a failed deletion.
    async fn forget_access(&self, tenant: &Tenant) {
        let entries = match self.store.list_tenant_access(tenant.name()).await {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(tenant = %tenant.name(), %error, "access entries of a deleted tenant left");
                return;
            }
        };
        for entry in entries.iter().filter(|entry| entry.tenant_id == tenant.id()) {
            if let Err(error) = self.store.delete_access(tenant.name(), &entry.user, Some(entry)).await {
                tracing::warn!(tenant = %tenant.name(), user = %entry.user, %error, "access entry of a deleted tenant left");
            }
        }
    }

    /// Publishes an outcome. The state is already stored, so a lost outcome event is
    /// logged, not retried into a second transition.
    async fn announce(&self, kind: EventKind, tenant: &Tenant) {
        self.write_history(kind, tenant).await;
        if let Err(error) = self.events.publish(&LifecycleEvent::outcome(kind, tenant)).await {
            tracing::warn!(tenant = %tenant.name(), %error, "outcome event not published");
        }
    }

    /// The boundary of the tenant incarnation `id` named `name`, if it is still there
    /// (not deleted) in `infrastructure`.
    async fn boundary_of(
        &self,
        name: &Name,
        id: Uuid,
        infrastructure: &Infrastructure,
    ) -> Result<Option<Boundary>, StoreError> {
        let tenant = self.store.get_tenant(name).await?;
        Ok(tenant
            .filter(|t| t.id() == id && t.state() != TenantState::Deleted)
            .map(|t| Boundary::of(&t, infrastructure, &self.config.deployment)))
    }

    /// Takes every grant that involves `tenant` (given by it or to it) out of the cloud and
    /// forgets it. Idempotent: a repeated run finds fewer grants.
    async fn revoke_tenant_grants(
        &self,
        tenant: &Tenant,
        boundary: &Boundary,
        infrastructure: &Infrastructure,
    ) -> Result<(), CloudError> {
        let store_fault = |error: StoreError| CloudError::transient(format!("state store: {error}"));
        let grants = self.store.list_grants(tenant.name()).await.map_err(store_fault)?;
        for grant in grants.into_iter().filter(|g| g.involves(tenant.id())) {
            let granter = if grant.from_tenant_id == tenant.id() {
                Some(boundary.clone())
            } else {
                self.boundary_of(&grant.from_tenant, grant.from_tenant_id, infrastructure).await.map_err(store_fault)?
            };
            let grantee = if grant.to_tenant_id == tenant.id() {
                Some(boundary.clone())
            } else {
                self.boundary_of(&grant.to_tenant, grant.to_tenant_id, infrastructure).await.map_err(store_fault)?
            };
            if let Some(granter) = &granter {
                self.cloud.revoke_grant(&grant, granter, grantee.as_ref()).await?;
            }
            self.store.delete_grant(&grant.from_tenant, grant.id).await.map_err(store_fault)?;
            let subject = Subject::Tenant { name: grant.from_tenant.clone(), id: grant.from_tenant_id };
            let detail = serde_json::json!({
                "grant": grant, "reason": format!("tenant '{}' is being deleted", tenant.name()),
            });
            let entry = AuditEntry::new(self.clock.now(), Actor::tenancy(), AuditAction::GrantRevoked, subject, detail);
            if let Err(error) = self.store.record(&entry).await {
                tracing::warn!(grant = %grant.id, %error, "revocation of a grant not written in the history");
            }
            tracing::info!(tenant = %tenant.name(), grant = %grant.id, "grant removed before the tenant's deletion");
        }
        Ok(())
    }

    /// Does the cloud work a grant's status asks for: applies a `pending` one, takes a
    /// `removing` one out and forgets it. Idempotent and resumable: a passing fault leaves
    /// the grant as it was (with the error) for the trigger to run again.
    pub async fn settle_grant(&self, from: &Name, id: Uuid) -> Result<GrantOutcome, WorkerError> {
        let Some(mut grant) = self.store.get_grant(from, id).await.map_err(WorkerError::Store)? else {
            return Ok(GrantOutcome::NothingToDo);
        };
        let granter = self.store.get_tenant(&grant.from_tenant).await.map_err(WorkerError::Store)?;
        let granter = granter.filter(|t| t.id() == grant.from_tenant_id && t.state() != TenantState::Deleted);
        let Some(granter) = granter else {
            // The granting tenant is gone, and its deletion took the grant out of the cloud.
            self.store.delete_grant(from, id).await.map_err(WorkerError::Store)?;
            return Ok(GrantOutcome::Removed);
        };
        let infrastructure = match self.store.get_infrastructure(granter.infrastructure()).await {
            Ok(Some(infrastructure)) => infrastructure,
            Ok(None) => return Ok(GrantOutcome::NothingToDo),
            Err(error) => return Err(WorkerError::Store(error)),
        };
        let granter_boundary = Boundary::of(&granter, &infrastructure, &self.config.deployment);
        let grantee = self
            .boundary_of(&grant.to_tenant, grant.to_tenant_id, &infrastructure)
            .await
            .map_err(WorkerError::Store)?;
        let result = match grant.status {
            GrantStatus::Pending => {
                let Some(grantee) = &grantee else {
                    grant.status = GrantStatus::Failed;
                    grant.error = Some(format!("tenant '{}' is gone", grant.to_tenant));
                    return match self.store.put_grant(&grant, Some(GrantStatus::Pending)).await {
                        Ok(()) => Ok(GrantOutcome::Failed(grant.error.unwrap_or_default())),
                        Err(StoreError::Stale { .. }) => Ok(GrantOutcome::NothingToDo),
                        Err(error) => Err(WorkerError::Store(error)),
                    };
                };
                self.cloud.apply_grant(&grant, &granter_boundary, grantee).await
            }
            GrantStatus::Removing => self.cloud.revoke_grant(&grant, &granter_boundary, grantee.as_ref()).await,
            GrantStatus::Applied | GrantStatus::Failed => return Ok(GrantOutcome::NothingToDo),
        };
        let read = grant.status;
        match (read, result) {
            (GrantStatus::Removing, Ok(())) => {
                self.store.delete_grant(from, id).await.map_err(WorkerError::Store)?;
                Ok(GrantOutcome::Removed)
            }
            (_, Ok(())) => {
                grant.status = GrantStatus::Applied;
                grant.error = None;
                match self.store.put_grant(&grant, Some(read)).await {
                    Ok(()) => Ok(GrantOutcome::Applied),
                    Err(StoreError::Stale { .. }) => {
                        self.undo_if_unwanted(&grant, &granter_boundary, grantee.as_ref()).await
                    }
                    Err(error) => Err(WorkerError::Store(error)),
                }
            }
            (status, Err(error)) => {
                tracing::warn!(grant = %id, ?status, error = %error.message, "grant not settled");
                grant.error = Some(error.message.clone());
                // A grant the cloud refuses for good is failed; one being removed stays
                // `removing` so that the next try (or the tenant's deletion) takes it out.
                if !error.transient && status == GrantStatus::Pending {
                    grant.status = GrantStatus::Failed;
                }
                match self.store.put_grant(&grant, Some(read)).await {
                    Ok(()) => {}
                    // Changed meanwhile: whoever changed it asked for the next step.
                    Err(StoreError::Stale { .. }) => return Ok(GrantOutcome::NothingToDo),
                    Err(error) => return Err(WorkerError::Store(error)),
                }
                if error.transient {
                    Ok(GrantOutcome::RetryLater(error.message))
                } else {
                    Ok(GrantOutcome::Failed(error.message))
                }
            }
        }
    }

    /// The grant was applied, but changed while it was: applied by a twin run (fine), or
    /// revoked, expired or forgotten, whose removal may have run before this application
    /// reached the cloud. Then what this run applied is taken out again.
    async fn undo_if_unwanted(
        &self,
        grant: &crate::grant::Grant,
        granter: &Boundary,
        grantee: Option<&Boundary>,
    ) -> Result<GrantOutcome, WorkerError> {
        let current = self.store.get_grant(&grant.from_tenant, grant.id).await.map_err(WorkerError::Store)?;
        if current.is_some_and(|g| g.status == GrantStatus::Applied) {
            return Ok(GrantOutcome::NothingToDo);
        }
        match self.cloud.revoke_grant(grant, granter, grantee).await {
            Ok(()) => Ok(GrantOutcome::Removed),
            Err(error) => Ok(GrantOutcome::RetryLater(error.message)),
        }
    }

    /// Settles grants whose request was lost or ran out of retries: every `pending` or
    /// `removing` grant (at most [`WorkerConfig::sweep_batch`]). Settling is idempotent
    /// and conditional, so one whose request is being handled right now is harmless.
    pub async fn sweep_grants(&self) -> Result<Vec<(Uuid, Result<GrantOutcome, WorkerError>)>, WorkerError> {
        let grants = self.store.unsettled_grants(self.config.sweep_batch).await.map_err(WorkerError::Store)?;
        let mut runs = Vec::new();
        for grant in grants {
            runs.push((grant.id, self.settle_grant(&grant.from_tenant, grant.id).await));
        }
        Ok(runs)
    }

    /// Re-drives tenants left in a transitional state with no live worker: requests whose
    /// events were lost, workers that died, retries that ran out. Returns what each run did.
    pub async fn sweep(&self) -> Result<Vec<(Name, Result<Outcome, WorkerError>)>, WorkerError> {
        let before = self.clock.now() - self.config.lease;
        let stalled = self.store.stalled_tenants(before, self.config.sweep_batch).await.map_err(WorkerError::Store)?;
        let runs = stalled.into_iter().map(|name| async move {
            let outcome = self.drive(&name, None).await;
            (name, outcome)
        });
        Ok(join_all(runs).await)
    }
}
