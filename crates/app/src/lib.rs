//! What the entry points share: the HTTP router, the handler of events from the bus, and the
//! wiring of adapters from configuration. `functions/api`, `functions/lifecycle` and the
//! local runner (`tenancy dev`) each translate their trigger into one call here.

pub mod auth;
pub mod bus;
pub mod http;
pub mod logging;
pub mod problem;
pub mod wiring;

pub use bus::{BusHandler, EventBridgeEvent};
pub use http::Api;
pub use logging::init_logging;
pub use wiring::{App, Settings, StartError};
