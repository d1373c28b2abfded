//! Where the AWS clients point, from the environment.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Settings shared by every AWS client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// Overrides every service endpoint (`TENANCY_AWS_ENDPOINT`), e.g. the local emulator.
    /// Unset in production, where each service's own endpoint is used.
    pub endpoint: Option<String>,
    /// Region of the control plane's own resources (`AWS_REGION`, default `us-east-1`).
    pub region: String,
}

impl AwsSettings {
    /// Reads `TENANCY_AWS_ENDPOINT` and `AWS_REGION`.
    pub fn from_env() -> Self {
        Self {
            endpoint: std::env::var("TENANCY_AWS_ENDPOINT").ok().filter(|v| !v.is_empty()),
            region: std::env::var("AWS_REGION").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| "us-east-1".into()),
        }
    }

    /// Loads the SDK configuration: credentials from the default chain, region and endpoint from here.
    pub async fn load(&self) -> SdkConfig {
        // Adaptive retries: the SDK backs off and rate-limits itself when a service
        // throttles, before the lifecycle's own retries of a step come into play.
        let retries = aws_config::retry::RetryConfig::adaptive().with_max_attempts(5);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .retry_config(retries);
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        loader.load().await
    }
}
