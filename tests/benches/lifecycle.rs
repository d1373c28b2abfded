//! Lifecycle figures against the emulator: AWS API calls per tenant create and delete
//! (split into what the API does and what the worker does), for the default type and
//! data-science, and the time from `POST /v1/tenants` to `active`, over 20 tenants of
//! each type one after another and 20 at once.
//!
//! Run with `make bench` (it starts the emulator). Prints figures only; there are no
//! timed assertions anywhere, since the machines are shared and noisy.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tenancy_app::bus::bus_event;
use tenancy_tests::{Harness, Options, unique};

const TENANTS: usize = 20;

fn print_calls(title: &str, calls: &BTreeMap<String, u64>) {
    let total: u64 = calls.values().sum();
    println!("{title}: {total} AWS calls");
    for (operation, count) in calls {
        println!("    {count:>3}  {operation}");
    }
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples[samples.len() / 2];
    let p90 = samples[(samples.len() * 9 / 10).min(samples.len() - 1)];
    println!(
        "{label}: median {:.0} ms, p90 {:.0} ms, min {:.0} ms, max {:.0} ms (n = {})",
        ms(median),
        ms(p90),
        ms(samples[0]),
        ms(*samples.last().unwrap()),
        samples.len()
    );
}

async fn time_to_active(h: &Harness, infra: &str, name: &str, tenant_type: &str) -> Duration {
    let start = Instant::now();
    let body = json!({ "name": name, "infrastructure": infra, "type": tenant_type });
    let reply = h.call(Method::POST, "/v1/tenants", Some(body)).await;
    assert_eq!(reply.status, reqwest::StatusCode::ACCEPTED, "{:?}", reply.body);
    loop {
        let reply = h.call(Method::GET, &format!("/v1/tenants/{name}"), None).await;
        match reply.body["state"].as_str() {
            Some("active") => return start.elapsed(),
            Some("failed") => panic!("{name} failed: {:#}", reply.body),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn calls_per_operation() {
    let h = Harness::with(Options { run_worker: false, ..Default::default() }).await;
    let infra = h.infrastructure("nonprod").await;
    let handler = h.app.bus_handler();
    let request = |kind: &str, created: &serde_json::Value| {
        bus_event(
            unique("event"),
            kind,
            "tenancy",
            Some(tenancy_tests::ACCOUNT.into()),
            json!({ "tenant": created["name"], "tenantId": created["id"], "version": created["version"] }),
        )
    };

    // A first tenant warms the caches (the account id, the regional clients).
    let warm = h.create_tenant(&infra, &unique("warm"), json!({})).await.body;
    handler.handle(request("Tenant Create Requested", &warm)).await.expect("warm-up");

    let name = unique("count");
    h.app.calls.reset();
    let created = h.create_tenant(&infra, &name, json!({ "team": "blue" })).await.body;
    print_calls("API, POST /v1/tenants", &h.app.calls.snapshot());

    h.app.calls.reset();
    handler.handle(request("Tenant Create Requested", &created)).await.expect("create");
    print_calls("worker, provisioning one tenant", &h.app.calls.snapshot());

    h.app.calls.reset();
    handler.handle(request("Tenant Create Requested", &created)).await.expect("duplicate");
    print_calls("worker, a duplicate create event (nothing to do)", &h.app.calls.snapshot());

    h.app.calls.reset();
    let deleting = h.call(Method::DELETE, &format!("/v1/tenants/{name}"), None).await.body;
    print_calls("API, DELETE /v1/tenants/{name}", &h.app.calls.snapshot());

    h.app.calls.reset();
    handler.handle(request("Tenant Delete Requested", &deleting)).await.expect("delete");
    print_calls("worker, deleting one tenant", &h.app.calls.snapshot());

    // A data-science tenant: its validate hook is not declared, its plan adds a rule, a
    // policy statement, tags and a bucket.
    let lab = unique("lab");
    h.app.calls.reset();
    let body = json!({ "name": lab, "infrastructure": infra, "type": "data-science" });
    let created = h.call(Method::POST, "/v1/tenants", Some(body)).await.body;
    print_calls("API, POST /v1/tenants (data-science)", &h.app.calls.snapshot());
    h.app.calls.reset();
    handler.handle(request("Tenant Create Requested", &created)).await.expect("create data-science");
    print_calls("worker, provisioning one data-science tenant", &h.app.calls.snapshot());
    let deleting = h.call(Method::DELETE, &format!("/v1/tenants/{lab}"), None).await.body;
    h.app.calls.reset();
    handler.handle(request("Tenant Delete Requested", &deleting)).await.expect("delete data-science");
    print_calls("worker, deleting one data-science tenant", &h.app.calls.snapshot());
    h.stop().await;
}

#[tokio::main]
async fn main() {
    if std::env::var_os("TENANCY_AWS_ENDPOINT").is_none() {
        eprintln!("TENANCY_AWS_ENDPOINT is not set: run `make bench`, which starts the emulator");
        std::process::exit(2);
    }
    println!("== AWS calls per operation (warm worker)");
    calls_per_operation().await;

    println!("\n== POST /v1/tenants to active, through the bus and the local worker");
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    time_to_active(&h, &infra, &unique("warm"), "default").await;

    for tenant_type in ["default", "data-science"] {
        let mut sequential = Vec::new();
        for _ in 0..TENANTS {
            sequential.push(time_to_active(&h, &infra, &unique("seq"), tenant_type).await);
        }
        summary(&format!("{TENANTS} {tenant_type} tenants one after another"), sequential);
    }

    // At once: one poller lists the infrastructure, so that polling does not load the
    // emulator N times over and distort what it measures.
    let burst = h.infrastructure("nonprod").await;
    let start = Instant::now();
    let names: Vec<String> = (0..TENANTS).map(|_| unique("par")).collect();
    futures::future::join_all(names.iter().map(|name| h.create_tenant(&burst, name, json!({})))).await;
    let mut done: BTreeMap<String, Duration> = BTreeMap::new();
    while done.len() < TENANTS {
        let page = h.call(Method::GET, &format!("/v1/tenants?infrastructure={burst}&limit=100"), None).await;
        for tenant in page.body["items"].as_array().into_iter().flatten() {
            match tenant["state"].as_str() {
                Some("active") => {
                    done.entry(tenant["name"].as_str().unwrap_or_default().to_string())
                        .or_insert_with(|| start.elapsed());
                }
                Some("failed") => panic!("{:#}", tenant),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    summary(&format!("{TENANTS} tenants at once (from the first POST)"), done.into_values().collect());
    h.stop().await;
}
