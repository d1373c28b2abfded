//! What the entry points share: the HTTP router, the handler of events from the bus, and the
//! wiring of adapters from configuration. `functions/api`, `functions/lifecycle` and the
//! local runner (`tenancy dev`) each translate their trigger into one call here.

pub mod auth;
pub mod bus;
pub mod http;
pub mod problem;
pub mod wiring;

pub use bus::{BusHandler, EventBridgeEvent};
pub use http::Api;
pub use wiring::{App, Settings, StartError};

/// Starts logging: JSON lines in Lambda (CloudWatch parses them), plain text elsewhere.
/// The level comes from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder.json().without_time().try_init()
    } else {
        builder.try_init()
    };
    // Already initialised (several entry points in one test process) is fine.
    let _ = result;
}
