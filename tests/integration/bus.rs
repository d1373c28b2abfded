//! Requests that other systems put on the bus: validated as the API validates them.

use std::time::Duration;

use aws_sdk_eventbridge::types::{PutEventsRequestEntry, Target};
use serde_json::{Value, json};
use tenancy_tests::{Harness, unique};

/// Routes the given detail-types to a fresh queue, so the test can read what Tenancy published.
pub(crate) async fn listen(h: &Harness, detail_types: &[&str]) -> String {
    let name = unique("listen");
    let queue_url = h.aws.sqs.create_queue().queue_name(&name).send().await.unwrap().queue_url.unwrap();
    let attributes = h
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let bus = &h.app.settings.bus;
    let pattern = json!({ "source": ["tenancy"], "detail-type": detail_types });
    h.aws.events.put_rule().name(&name).event_bus_name(bus).event_pattern(pattern.to_string()).send().await.unwrap();
    h.aws
        .events
        .put_targets()
        .rule(&name)
        .event_bus_name(bus)
        .targets(Target::builder().id("q").arn(arn).build().unwrap())
        .send()
        .await
        .unwrap();
    queue_url
}

pub(crate) async fn next_event(h: &Harness, queue_url: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let received = h.aws.sqs.receive_message().queue_url(queue_url).wait_time_seconds(1).send().await.unwrap();
        if let Some(message) = received.messages().first() {
            return serde_json::from_str(message.body().unwrap()).unwrap();
        }
    }
    panic!("no event arrived on {queue_url}");
}

async fn put(h: &Harness, detail_type: &str, detail: Value) {
    put_from(h, tenancy_tests::PRODUCER, detail_type, detail).await;
}

/// Puts an event on the harness's bus as `source`.
pub(crate) async fn put_from(h: &Harness, source: &str, detail_type: &str, detail: Value) {
    let entry = PutEventsRequestEntry::builder()
        .event_bus_name(&h.app.settings.bus)
        .source(source)
        .detail_type(detail_type)
        .detail(detail.to_string())
        .build();
    let output = h.aws.events.put_events().entries(entry).send().await.unwrap();
    assert_eq!(output.failed_entry_count(), 0);
}

#[tokio::test]
async fn a_create_request_from_another_producer_is_provisioned_and_records_who_asked() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let outcomes = listen(&h, &["Tenant Provisioned"]).await;
    let tenant = unique("client");
    put(
        &h,
        "Tenant Create Requested",
        json!({ "name": tenant, "infrastructure": infra, "tags": { "client": "acme" } }),
    )
    .await;

    let status = h.wait_for_state(&tenant, "active").await;
    assert_eq!(status["requestedBy"]["via"], "event");
    assert!(status["requestedBy"]["id"].as_str().unwrap().starts_with("crm.onboarding@"), "{status:#}");
    assert!(h.aws.inventory(&tenant).await.is_one_complete_set());

    let provisioned = next_event(&h, &outcomes).await;
    assert_eq!(provisioned["detail-type"], "Tenant Provisioned");
    assert_eq!(provisioned["detail"]["tenant"]["name"], tenant.as_str());
    assert_eq!(provisioned["detail"]["tenant"]["state"], "active");

    // And the same producer may delete it.
    put(&h, "Tenant Delete Requested", json!({ "name": tenant })).await;
    h.wait_for_state(&tenant, "deleted").await;
    assert!(h.aws.inventory(&tenant).await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn requests_the_api_would_refuse_are_rejected_with_an_event_and_create_nothing() {
    let h = Harness::start().await;
    let infra = h.infrastructure("nonprod").await;
    let rejections = listen(&h, &["Tenant Create Rejected", "Tenant Delete Rejected"]).await;

    put(&h, "Tenant Create Requested", json!({ "name": "Bad_Name", "infrastructure": infra })).await;
    let rejected = next_event(&h, &rejections).await;
    assert_eq!(rejected["detail-type"], "Tenant Create Rejected");
    assert_eq!(rejected["detail"]["requestSource"], "crm.onboarding");
    assert!(rejected["detail"]["reason"].as_str().unwrap().contains("not a valid name"), "{rejected:#}");

    put(&h, "Tenant Create Requested", json!({ "name": unique("ok"), "infrastructure": "nowhere" })).await;
    let rejected = next_event(&h, &rejections).await;
    assert!(
        rejected["detail"]["reason"].as_str().unwrap().contains("infrastructure 'nowhere' does not exist"),
        "{rejected:#}"
    );

    put(&h, "Tenant Delete Requested", json!({ "name": unique("ghost") })).await;
    let rejected = next_event(&h, &rejections).await;
    assert_eq!(rejected["detail-type"], "Tenant Delete Rejected");

    let listed = h.call(reqwest::Method::GET, "/v1/tenants", None).await;
    assert_eq!(listed.body["items"], json!([]));
    h.stop().await;
}
