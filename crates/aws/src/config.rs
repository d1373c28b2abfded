//! Where the AWS clients point, from the environment.

use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SharedTimeSource;

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

    /// Loads the SDK configuration: region and endpoint from here; credentials from the
    /// environment in Lambda (see [`AwsSettings::lambda_config`]), from the SDK's default
    /// chain anywhere else.
    pub async fn load(&self) -> SdkConfig {
        if let Some(config) = self.lambda_config(|name| std::env::var(name).ok()) {
            return config;
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .retry_config(retries());
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        loader.load().await
    }
}

/// How the SDK retries a throttled or failed call: with jittered exponential backoff, before
/// the lifecycle's own retries of a step come into play. Standard mode, not adaptive:
/// adaptive's client-side rate limiter is shared by every tenant a function serves, and
/// behind a proxy throttling 20% of IAM, EC2 and KMS calls it slowed one round of 20
/// tenants to about three minutes (30 s in standard mode).
fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(5)
}

impl AwsSettings {
    /// The configuration of a Lambda function whose role's credentials are in its
    /// environment, built directly; `None` anywhere else (`lookup` reads a variable).
    ///
    /// Lambda puts the execution role's credentials in `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, where the default chain would find
    /// them first anyway. Building the chain is what this skips: `aws_config`'s loader
    /// reads the shared config and credentials files and builds the profile, SSO, web
    /// identity, ECS and IMDS providers, the largest part of a cold start after the
    /// runtime itself (see doc/coldstart.md). The HTTPS client is each service client's
    /// default, as with the loader. What this does not read are the SDK's own environment settings
    /// (`AWS_ENDPOINT_URL`, `AWS_USE_FIPS_ENDPOINT`, `AWS_MAX_ATTEMPTS`...), which
    /// template.yaml sets none of; a function given those, or credentials some other way
    /// (SnapStart's container credentials), takes the default chain.
    pub fn lambda_config(&self, lookup: impl Fn(&str) -> Option<String>) -> Option<SdkConfig> {
        let var = |name: &str| lookup(name).filter(|value| !value.is_empty());
        var("AWS_LAMBDA_FUNCTION_NAME")?;
        if SDK_SETTINGS.iter().any(|name| var(name).is_some()) {
            return None;
        }
        let credentials = Credentials::new(
            var("AWS_ACCESS_KEY_ID")?,
            var("AWS_SECRET_ACCESS_KEY")?,
            var("AWS_SESSION_TOKEN"),
            None,
            "lambda-environment",
        );
        // What the loader would set besides: its identity cache, sleep, time source and
        // connect timeout (3.1 s), so that both paths behave alike.
        let mut config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .retry_config(retries())
            .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_millis(3100)).build())
            .identity_cache(IdentityCache::lazy().build())
            .time_source(SharedTimeSource::default())
            .credentials_provider(SharedCredentialsProvider::new(credentials));
        if let Some(sleep) = default_async_sleep() {
            config = config.sleep_impl(sleep);
        }
        if let Some(endpoint) = &self.endpoint {
            config = config.endpoint_url(endpoint);
        }
        Some(config.build())
    }
}

/// The SDK's own settings that only its default loader reads: when a function is given
/// any of them, it takes that loader, so that none is silently ignored.
const SDK_SETTINGS: [&str; 10] = [
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_SDK_UA_APP_ID",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::ProvideCredentials;

    use super::*;

    fn settings() -> AwsSettings {
        AwsSettings { endpoint: Some("http://127.0.0.1:9".into()), region: "eu-west-1".into() }
    }

    fn lambda(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let mut variables: Vec<(String, String)> = [
            ("AWS_LAMBDA_FUNCTION_NAME", "tenancy-api"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]
        .iter()
        .chain(extra)
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
        variables.reverse(); // the extras win
        move |name| variables.iter().find(|(n, _)| n == name).map(|(_, value)| value.clone())
    }

    #[tokio::test]
    async fn in_lambda_the_roles_credentials_come_straight_from_the_environment() {
        let config = settings().lambda_config(lambda(&[])).expect("a Lambda environment");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:9"));
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(5));
        let credentials =
            config.credentials_provider().expect("a provider").provide_credentials().await.expect("credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[test]
    fn outside_lambda_or_without_credentials_or_with_sdk_settings_the_default_chain_loads() {
        assert!(settings().lambda_config(lambda(&[("AWS_LAMBDA_FUNCTION_NAME", "")])).is_none());
        assert!(settings().lambda_config(lambda(&[("AWS_ACCESS_KEY_ID", "")])).is_none());
        assert!(settings().lambda_config(lambda(&[("AWS_SECRET_ACCESS_KEY", "")])).is_none());
        for name in SDK_SETTINGS {
            assert!(settings().lambda_config(lambda(&[(name, "x")])).is_none(), "{name}");
        }
        // A role's credentials without a session token are still credentials.
        assert!(settings().lambda_config(lambda(&[("AWS_SESSION_TOKEN", "")])).is_some());
    }
}
