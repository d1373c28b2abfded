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
        // The SDK retries a throttled or failed call with jittered exponential backoff
        // before the lifecycle's own retries of a step come into play. Standard mode, not
        // adaptive: adaptive's client-side rate limiter is shared by every tenant a
        // function serves, and behind a proxy throttling 20% of IAM, EC2 and KMS calls it
        // slowed one round of 20 tenants to about three minutes (30 s in standard mode).
        let retries = aws_config::retry::RetryConfig::standard().with_max_attempts(5);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .retry_config(retries);
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        loader.load().await
    }
}
