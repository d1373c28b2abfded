//! The lifecycle function: EventBridge events (requests and the sweep schedule) in, the
//! worker out. An error makes EventBridge retry the event, then send it to the DLQ; its
//! type says whether another try can help (`Retryable`) or not (`Permanent`).

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use tenancy_app::bus::HandlerError;
use tenancy_app::{App, EventBridgeEvent, init_logging};
use tracing::Instrument;

/// The failure as Lambda reports it: its class as the error type, its message as is.
fn diagnostic(error: HandlerError) -> Diagnostic {
    Diagnostic { error_type: error.class().as_str().to_string(), error_message: error.to_string() }
}

// One thread: Lambda hands an execution environment one event at a time, and a function
// of a few hundred MB has a fraction of a vCPU, so worker threads would add only their
// start-up (about 0.4 ms of the cold start, doc/coldstart.md). Plugin calls still run on
// tokio's blocking pool and the epoch thread still bounds them (crates/plugin-host).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();
    let handler = App::from_env().await?.bus_handler();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent>| {
        let handler = handler.clone();
        // Every line logged for the invocation carries Lambda's request id.
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
        async move {
            let handled = handler.handle(event.payload).await.map_err(diagnostic)?;
            tracing::info!(outcome = ?handled, "event handled");
            Ok::<_, Diagnostic>(format!("{handled:?}"))
        }
        .instrument(span)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_reports_whether_another_try_can_help() {
        let retry = diagnostic(HandlerError::RetryLater {
            tenant: "t".into(),
            step: tenancy_domain::tenant::Step::Worker,
            error: "throttled".into(),
        });
        assert_eq!(retry.error_type, "Retryable");
        assert_eq!(retry.error_message, "tenant 't': step 'worker' will be retried: throttled");
        assert_eq!(diagnostic(HandlerError::Malformed("the event has no id".into())).error_type, "Permanent");
    }
}
