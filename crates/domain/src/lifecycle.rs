//! The lifecycle worker: takes a tenant in a transitional state and does the cloud work,
//! step by step, recording each resource's status as it goes.
//!
//! Every run reconciles rather than scripts: each step asks the cloud for what exists and
//! makes only the difference, so a duplicated event, a retried one, or a run after a
//! worker died midway all converge on one complete set of resources.

use std::sync::Arc;

use futures::future::join_all;
use time::Duration;
use uuid::Uuid;

use crate::events::{EventKind, LifecycleEvent};
use crate::names::Name;
use crate::ports::{Boundary, Clock, Cloud, CloudError, Events, PluginFailure, Plugins, Store, StoreError};
use crate::tenant::{DEFAULT_TYPE, Lease, Operation, ResourceKind, ResourceRef, Tenant, TenantState};

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

/// The step name of a tenant-type plugin's part in the lifecycle.
pub const PLUGIN_STEP: &str = "plugin";

/// What one run of the worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The tenant reached the state its operation aims for.
    Done(TenantState),
    /// A step failed; the tenant is `failed` and says why.
    Failed {
        /// The step.
        step: String,
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

/// Why a run could not proceed at all.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WorkerError {
    /// The store failed; the run should be retried (EventBridge and the sweep will).
    #[error("state store: {0}")]
    Store(StoreError),
    /// The tenant's infrastructure is missing from the store.
    #[error("infrastructure '{0}' of tenant '{1}' is missing")]
    InfrastructureMissing(String, String),
}

/// Settings of the worker.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// How long a claim on a tenant holds if its worker dies. Longer than one run can take
    /// (the Lambda timeout).
    pub lease: Duration,
    /// Most tenants one sweep re-drives.
    pub sweep_batch: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self { lease: Duration::minutes(5), sweep_batch: 25 }
    }
}

/// Drives tenants through their lifecycle.
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    cloud: Arc<dyn Cloud>,
    events: Arc<dyn Events>,
    plugins: Arc<dyn Plugins>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
}

impl Worker {
    /// Builds a worker over its ports.
    pub fn new(
        store: Arc<dyn Store>,
        cloud: Arc<dyn Cloud>,
        events: Arc<dyn Events>,
        plugins: Arc<dyn Plugins>,
        clock: Arc<dyn Clock>,
        config: WorkerConfig,
    ) -> Self {
        Self { store, cloud, events, plugins, clock, config }
    }

    /// Does whatever cloud work the tenant's state asks for. `expected_id`, when given,
    /// is the incarnation the request was for: a request for an earlier tenant of the same
    /// name is ignored.
    pub async fn drive(&self, name: &Name, expected_id: Option<Uuid>) -> Result<Outcome, WorkerError> {
        let Some(mut tenant) = self.store.get_tenant(name).await.map_err(WorkerError::Store)? else {
            return Ok(Outcome::NothingToDo);
        };
        if expected_id.is_some_and(|id| id != tenant.id) {
            return Ok(Outcome::NothingToDo);
        }
        let Some(operation) = tenant.pending_operation() else {
            return Ok(Outcome::NothingToDo);
        };
        let owner = Uuid::new_v4().to_string();
        if !self.claim(&mut tenant, &owner).await? {
            return Ok(Outcome::Busy);
        }
        let infrastructure =
            self.store.get_infrastructure(&tenant.infrastructure).await.map_err(WorkerError::Store)?.ok_or_else(
                || WorkerError::InfrastructureMissing(tenant.infrastructure.to_string(), name.to_string()),
            )?;
        tracing::info!(tenant = %name, ?operation, version = tenant.version, "worker claimed tenant");
        if let Err(failure) = self.consult_plugin(&mut tenant, operation).await {
            return self.fail(tenant, operation, PLUGIN_STEP.into(), failure.to_string()).await;
        }
        let boundary = Boundary::of(&tenant, &infrastructure);

        let rounds: Vec<&[ResourceKind]> = match operation {
            Operation::Delete => DELETE_ROUNDS.to_vec(),
            _ if boundary.plan.resources.is_empty() => PROVISION_ROUNDS.to_vec(),
            _ => PROVISION_ROUNDS.into_iter().chain([BUCKET_ROUND]).collect(),
        };
        for (index, round) in rounds.iter().enumerate() {
            let results = join_all(round.iter().map(|kind| self.step(operation, *kind, &boundary))).await;
            let now = self.clock.now();
            let mut failed = None;
            for (kind, result) in round.iter().zip(results) {
                match result {
                    Ok(Some(resources)) => resources.iter().for_each(|resource| tenant.mark_ready(resource, now)),
                    Ok(None) => tenant.mark_removed(*kind, now),
                    Err(error) => {
                        tenant.mark_failed(operation, kind.step(), &error.0, now);
                        failed.get_or_insert((kind.step().to_string(), error.0));
                    }
                }
            }
            if let Some((step, error)) = failed {
                return self.fail(tenant, operation, step, error).await;
            }
            // Progress is recorded between rounds; after the last one, the final write
            // records it with the new state.
            let last = index + 1 == rounds.len();
            if !last && !self.save(&mut tenant).await? {
                return Ok(Outcome::Superseded);
            }
        }

        if operation == Operation::Delete {
            match self.cloud.remaining(&boundary).await {
                Ok(left) if left.is_empty() => {}
                Ok(left) => {
                    let list: Vec<String> = left.iter().map(|r| r.arn.clone()).collect();
                    let error = format!("still present after deletion: {}", list.join(", "));
                    return self.fail(tenant, operation, "leftovers".into(), error).await;
                }
                Err(error) => {
                    return self.fail(tenant, operation, "leftovers".into(), error.0).await;
                }
            }
        }
        self.finish(tenant, operation).await
    }

    /// The tenant type's say, before any cloud work: for a create or an update, the plan
    /// for the tenant as it is now (made again each run: hooks are deterministic, and the
    /// plan follows changed settings); for a delete, `on-delete`. A tenant whose type is no
    /// longer registered can still be deleted: what its plan added is found by name and tag.
    async fn consult_plugin(&self, tenant: &mut Tenant, operation: Operation) -> Result<(), PluginFailure> {
        if tenant.tenant_type == DEFAULT_TYPE {
            return Ok(());
        }
        match operation {
            Operation::Create | Operation::Update => {
                let record = self.plugins.plan(tenant).await?;
                tenant.record_plan(record);
                Ok(())
            }
            Operation::Delete => match self.plugins.on_delete(tenant).await {
                Err(PluginFailure::UnknownType(tenant_type)) => {
                    tracing::warn!(tenant = %tenant.name, %tenant_type, "type no longer registered; deleting without on-delete");
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
    /// read the same version only one succeeds.
    async fn claim(&self, tenant: &mut Tenant, owner: &str) -> Result<bool, WorkerError> {
        let now = self.clock.now();
        if tenant.lease.as_ref().is_some_and(|lease| lease.until > now) {
            return Ok(false);
        }
        tenant.lease = Some(Lease { owner: owner.to_string(), until: now + self.config.lease });
        tenant.touch(now);
        self.save_bumped(tenant).await
    }

    /// Saves progress; `false` when someone else wrote the tenant meanwhile.
    async fn save(&self, tenant: &mut Tenant) -> Result<bool, WorkerError> {
        tenant.touch(self.clock.now());
        self.save_bumped(tenant).await
    }

    async fn save_bumped(&self, tenant: &Tenant) -> Result<bool, WorkerError> {
        match self.store.save_tenant(tenant, tenant.version - 1).await {
            Ok(()) => Ok(true),
            Err(StoreError::Stale) => Ok(false),
            Err(other) => Err(WorkerError::Store(other)),
        }
    }

    async fn fail(
        &self,
        mut tenant: Tenant,
        operation: Operation,
        step: String,
        error: String,
    ) -> Result<Outcome, WorkerError> {
        let now = self.clock.now();
        tenant.mark_failed(operation, &step, &error, now);
        tenant.lease = None;
        tenant.state = TenantState::Failed;
        tenant.touch(now);
        tracing::warn!(tenant = %tenant.name, ?operation, %step, %error, "lifecycle step failed");
        if !self.save_bumped(&tenant).await? {
            return Ok(Outcome::Superseded);
        }
        let kind = match operation {
            Operation::Create => EventKind::ProvisioningFailed,
            Operation::Update => EventKind::UpdateFailed,
            Operation::Delete => EventKind::DeletionFailed,
        };
        self.announce(kind, &tenant).await;
        Ok(Outcome::Failed { step, error })
    }

    async fn finish(&self, mut tenant: Tenant, operation: Operation) -> Result<Outcome, WorkerError> {
        let now = self.clock.now();
        let (next, kind) = match operation {
            Operation::Create => (TenantState::Active, EventKind::Provisioned),
            Operation::Update => (TenantState::Active, EventKind::Updated),
            Operation::Delete => (TenantState::Deleted, EventKind::Deleted),
        };
        tenant.lease = None;
        tenant.applied_tags = if next == TenantState::Deleted { Default::default() } else { tenant.extra_tags() };
        // `transition` bumps the version; the write is conditional on the one before.
        if tenant.transition(next, now).is_err() {
            return Ok(Outcome::Superseded);
        }
        if !self.save_bumped(&tenant).await? {
            return Ok(Outcome::Superseded);
        }
        tracing::info!(tenant = %tenant.name, state = %next, "lifecycle finished");
        self.announce(kind, &tenant).await;
        Ok(Outcome::Done(next))
    }

    /// Publishes an outcome. The state is already stored, so a lost outcome event is
    /// logged, not retried into a second transition.
    async fn announce(&self, kind: EventKind, tenant: &Tenant) {
        if let Err(error) = self.events.publish(&LifecycleEvent::outcome(kind, tenant)).await {
            tracing::warn!(tenant = %tenant.name, %error, "outcome event not published");
        }
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
