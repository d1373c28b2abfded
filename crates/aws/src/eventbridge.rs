//! The [`Events`] port on an EventBridge bus.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use tenancy_domain::events::{LifecycleEvent, SOURCE};
use tenancy_domain::ports::Events;
use tenancy_domain::ports::errors::EventsError;

use crate::errors::cloud_error;
use crate::lazy::LazyClient;
use crate::metrics::CallCounter;

/// Publishes to one bus with source [`SOURCE`].
#[derive(Debug, Clone)]
pub struct EventBridgeEvents {
    client: LazyClient<Client>,
    bus: String,
}

impl EventBridgeEvents {
    /// A publisher to `bus` (name or ARN).
    pub fn new(client: impl Into<LazyClient<Client>>, bus: impl Into<String>) -> Self {
        Self { client: client.into(), bus: bus.into() }
    }

    /// A publisher to `bus` whose client is built from `config` when first used, counting
    /// its calls in `counter`.
    pub fn from_config(config: &SdkConfig, counter: CallCounter, bus: impl Into<String>) -> Self {
        let config = aws_sdk_eventbridge::config::Builder::from(config).interceptor(counter);
        Self::new(LazyClient::new(move || Client::from_conf(config.build())), bus)
    }
}

#[async_trait]
impl Events for EventBridgeEvents {
    async fn publish(&self, event: &LifecycleEvent) -> Result<(), EventsError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.kind.detail_type())
            .detail(event.detail.to_string())
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| EventsError(cloud_error("PutEvents", e).message))?;
        if output.failed_entry_count() > 0 {
            let why = output
                .entries()
                .iter()
                .filter_map(|e| e.error_message().or(e.error_code()))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(EventsError(format!("PutEvents refused the event: {why}")));
        }
        Ok(())
    }
}
