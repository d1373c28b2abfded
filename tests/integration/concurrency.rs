//! Races, duplicates and crashes: they all converge on one complete set of resources.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tenancy_app::bus::{Handled, bus_event};
use tenancy_domain::boundary::{Boundary, Remaining};
use tenancy_domain::memory::ManualClock;
use tenancy_domain::names::Name;
use tenancy_domain::ports::errors::CloudError;
use tenancy_domain::ports::{Cloud, TenantGet};
use tenancy_domain::tenant::{ResourceKind, ResourceRef, TenantState};
use tenancy_domain::worker::{Outcome, Worker, WorkerConfig};
use tenancy_tests::{Harness, Options, unique};
use time::Duration;
use tokio::sync::Notify;

#[tokio::test]
async fn twenty_concurrent_creates_of_one_name_give_one_202_and_one_set_of_resources() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("race");
    let body = json!({ "name": tenant, "infrastructure": infra });
    let replies = join_all((0..20).map(|_| h.call(Method::POST, "/v1/tenants", Some(body.clone())))).await;
    let accepted = replies.iter().filter(|r| r.status == StatusCode::ACCEPTED).count();
    let conflicts = replies.iter().filter(|r| r.status == StatusCode::CONFLICT).count();
    assert_eq!((accepted, conflicts), (1, 19), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(
        replies
            .iter()
            .filter(|r| r.status == StatusCode::CONFLICT)
            .all(|r| r.body["type"] == "urn:tenancy:problem:name-taken")
    );

    h.wait_for_state(&tenant, "active").await;
    assert!(h.aws.inventory(&tenant).await.is_one_complete_set());
    let infrastructure = h.call(Method::GET, &format!("/v1/infrastructures/{infra}"), None).await;
    assert_eq!(infrastructure.body["tenantCount"], 1);
    h.stop().await;
}

#[tokio::test]
async fn a_request_event_delivered_twice_converges_on_one_set_of_resources() {
    let h = Harness::with(Options { run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("dup");
    let created = h.create_tenant(&infra, &tenant, json!({})).await;
    let event = bus_event(
        "delivery-1",
        "Tenant Create Requested",
        "tenancy",
        Some(tenancy_tests::ACCOUNT.into()),
        json!({ "tenant": tenant, "tenantId": created.body["id"], "version": 1 }),
    );
    let handler = h.app.bus_handler();
    // Two deliveries at once: one worker acts, the other finds the tenant taken.
    let (first, second) = tokio::join!(handler.handle(event.clone()), handler.handle(event.clone()));
    let outcomes = [first.unwrap(), second.unwrap()];
    let active = Handled::Drove(tenant.clone(), Outcome::Done(TenantState::Active));
    assert!(outcomes.contains(&active), "{outcomes:?}");
    // A third, late delivery finds nothing to do.
    assert_eq!(handler.handle(event).await.unwrap(), Handled::Drove(tenant.clone(), Outcome::NothingToDo));

    h.wait_for_state(&tenant, "active").await;
    assert!(h.aws.inventory(&tenant).await.is_one_complete_set());
    h.stop().await;
}

/// A cloud that completes `steps` real steps, then never returns: the worker is "killed"
/// (its future dropped) at that point, as a Lambda that times out would be.
struct StopAfter {
    inner: Arc<dyn Cloud>,
    /// Steps left to complete, and steps running now.
    steps: Mutex<(usize, usize)>,
    stopped: Notify,
}

impl StopAfter {
    fn new(inner: Arc<dyn Cloud>, steps: usize) -> Self {
        Self { inner, steps: Mutex::new((steps, 0)), stopped: Notify::new() }
    }
}

#[async_trait]
impl Cloud for StopAfter {
    async fn ensure(&self, kind: ResourceKind, boundary: &Boundary) -> Result<Vec<ResourceRef>, CloudError> {
        let may_start = {
            let mut steps = self.steps.lock().unwrap();
            steps.1 += usize::from(steps.0 > 0);
            steps.0 > 0
        };
        if !may_start {
            return std::future::pending().await;
        }
        let result = self.inner.ensure(kind, boundary).await;
        let stop = {
            let mut steps = self.steps.lock().unwrap();
            steps.1 -= 1;
            steps.0 = steps.0.saturating_sub(1);
            // Stopped only once the steps already under way are done: a worker killed
            // with a request in flight would leave a race with the next worker that no
            // lease could prevent in a test whose clock jumps past the lease at once.
            if steps.0 == 0 && steps.1 == 0 {
                self.stopped.notify_one();
            }
            steps.0 == 0
        };
        if stop {
            return std::future::pending().await;
        }
        result
    }

    async fn remove(&self, kind: ResourceKind, boundary: &Boundary) -> Result<(), CloudError> {
        self.inner.remove(kind, boundary).await
    }

    async fn remaining(&self, boundary: &Boundary) -> Result<Remaining, CloudError> {
        self.inner.remaining(boundary).await
    }
}

#[tokio::test]
async fn a_worker_stopped_after_any_provisioning_step_is_finished_by_the_next_run() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()));
    let h = Harness::with(Options { clock: clock.clone(), run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let app = &h.app;
    let config = WorkerConfig { lease: Duration::minutes(5), ..app.worker_config() };
    let healthy = Worker::new(
        app.store.clone(),
        app.cloud.clone(),
        app.events.clone(),
        app.plugins.clone(),
        clock.clone(),
        config.clone(),
    );

    for steps in 1..=ResourceKind::ALL.len() {
        let tenant = unique(&format!("crash{steps}x"));
        h.create_tenant(&infra, &tenant, json!({ "step": steps.to_string() })).await;
        let name = Name::parse("tenant", &tenant).unwrap();

        let crashing = Arc::new(StopAfter::new(app.cloud.clone(), steps));
        let doomed = Worker::new(
            app.store.clone(),
            crashing.clone(),
            app.events.clone(),
            app.plugins.clone(),
            clock.clone(),
            config.clone(),
        );
        tokio::select! {
            outcome = doomed.drive(&name, None) => panic!("the worker should have been stopped, got {outcome:?}"),
            _ = crashing.stopped.notified() => {}
        }

        // The dead worker's lease keeps others off the tenant...
        let stuck = app.store.get_tenant(&name).await.unwrap().unwrap();
        assert_eq!(stuck.state(), TenantState::Provisioning);
        assert!(stuck.lease().is_some());
        assert_eq!(healthy.drive(&name, None).await.unwrap(), Outcome::Busy);

        // ...until it lapses; then the sweep finishes the job.
        clock.advance(Duration::minutes(6));
        let swept = healthy.sweep().await.unwrap();
        assert!(
            swept.contains(&(name.clone(), Ok(Outcome::Done(TenantState::Active)))),
            "after {steps} steps: {swept:?}"
        );
        let inventory = h.aws.inventory(&tenant).await;
        assert!(inventory.is_one_complete_set(), "after {steps} steps: {inventory:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn the_sweep_redrives_a_tenant_whose_request_event_was_lost() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()));
    let h = Harness::with(Options { clock: clock.clone(), run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let tenant = unique("lost");
    h.create_tenant(&infra, &tenant, json!({})).await;
    h.aws.sqs.purge_queue().queue_url(&h.queue_url).send().await.unwrap();

    let handler = h.app.bus_handler();
    let schedule =
        bus_event("schedule-1", "Scheduled Event", "aws.events", Some(tenancy_tests::ACCOUNT.into()), json!({}));
    assert_eq!(handler.handle(schedule.clone()).await.unwrap(), Handled::Swept(0), "too early to count as stalled");
    clock.advance(Duration::minutes(6));
    assert_eq!(handler.handle(schedule).await.unwrap(), Handled::Swept(1));
    h.wait_for_state(&tenant, "active").await;
    assert!(h.aws.inventory(&tenant).await.is_one_complete_set());
    h.stop().await;
}
