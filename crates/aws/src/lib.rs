//! Adapters from Tenancy's ports to AWS, on the official `aws-sdk-*` clients. Every
//! client takes its endpoint and region from [`config::AwsSettings`], so the same code
//! talks to AWS in production and to the local emulator in development and tests.

pub mod cloud;
pub mod config;
pub mod dynamodb;
pub mod emf;
pub mod errors;
pub mod eventbridge;
pub mod lazy;
pub mod metrics;

pub use cloud::AwsCloud;
pub use config::AwsSettings;
pub use dynamodb::DynamoStore;
pub use emf::EmfMetrics;
pub use eventbridge::EventBridgeEvents;
pub use lazy::LazyClient;
pub use metrics::CallCounter;
