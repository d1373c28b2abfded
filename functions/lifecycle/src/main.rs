//! The lifecycle function: EventBridge events (requests and the sweep schedule) in, the
//! worker out. An error makes EventBridge retry the event, then send it to the DLQ.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tenancy_app::{App, Envelope, init_logging};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let handler = App::from_env().await?.lifecycle();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let envelope: Envelope = serde_json::from_value(event.payload)?;
            let handled = handler.handle(envelope).await?;
            Ok::<_, Error>(format!("{handled:?}"))
        }
    }))
    .await
}
