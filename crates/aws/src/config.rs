//! Where the AWS clients point, from the environment.

use std::collections::HashMap;
use std::ffi::OsStr;
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
        if let Some(config) = self.lambda_config(std::env::vars_os()) {
            tracing::info!(credentials = "lambda environment", "AWS SDK configured");
            return config;
        }
        tracing::info!(credentials = "default chain", "AWS SDK configured");
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
    /// environment (`variables`, every name and value), built directly; `None` anywhere
    /// else, and whenever the environment holds an `AWS_` variable this does not know.
    ///
    /// Lambda puts the execution role's credentials in `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, where the default chain would find
    /// them first anyway. Building the chain is what this skips: `aws_config`'s loader
    /// reads the shared config and credentials files and builds the profile, SSO, web
    /// identity, ECS and IMDS providers, the largest part of a cold start after the
    /// runtime itself (see doc/coldstart.md). The HTTPS client is each service client's
    /// default, as with the loader. The SDK's own settings (`AWS_PROFILE`,
    /// `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_MAX_ATTEMPTS`, SnapStart's
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`, any added in a later SDK...) only the loader
    /// reads: so the environment is checked against what Lambda itself sets (an
    /// allow-list), and anything else takes the loader, so that no setting in the
    /// environment is silently ignored. The shared config and credentials files are not
    /// read: a Lambda function has none, and one would need `AWS_CONFIG_FILE` or a profile
    /// named in the environment, which takes the loader.
    pub fn lambda_config<K, V>(&self, variables: impl IntoIterator<Item = (K, V)>) -> Option<SdkConfig>
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let mut environment = HashMap::new();
        for (name, value) in variables {
            let Some(name) = name.as_ref().to_str().filter(|name| name.starts_with("AWS_")) else { continue };
            if !LAMBDA_SETS.contains(&name) && !name.starts_with("AWS_LAMBDA_") {
                return None;
            }
            // Not UTF-8: not something Lambda set.
            environment.insert(name.to_string(), value.as_ref().to_str()?.to_string());
        }
        let var = |name: &str| environment.get(name).filter(|value| !value.is_empty()).cloned();
        var("AWS_LAMBDA_FUNCTION_NAME")?;
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

/// The `AWS_` variables Lambda sets, besides its runtime's `AWS_LAMBDA_*` ones: the
/// region, the role's credentials (and their legacy alias), the runtime's name and X-Ray's.
/// The region is read by [`AwsSettings::from_env`] (`AWS_REGION`); the rest need nothing.
const LAMBDA_SETS: [&str; 9] = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_EXECUTION_ENV",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
];

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::ProvideCredentials;

    use super::*;

    fn settings() -> AwsSettings {
        AwsSettings { endpoint: Some("http://127.0.0.1:9".into()), region: "eu-west-1".into() }
    }

    /// A Lambda function's environment, as Lambda sets it, with `extra` set (or, empty,
    /// unset) over it, and one variable of the function's own.
    fn lambda(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut variables: HashMap<&str, &str> = HashMap::from([
            ("AWS_LAMBDA_FUNCTION_NAME", "tenancy-api"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_rapid"),
            ("AWS_ACCESS_KEY", "ASIAEXAMPLE"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
            ("TENANCY_TABLE", "tenancy"),
        ]);
        for (name, value) in extra {
            match *value {
                "" => variables.remove(name),
                value => variables.insert(name, value),
            };
        }
        variables.into_iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    #[tokio::test]
    async fn in_lambda_the_roles_credentials_come_straight_from_the_environment() {
        let config = settings().lambda_config(lambda(&[])).expect("a Lambda environment");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:9"));
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(5));
        assert_eq!(config.timeout_config().and_then(|t| t.connect_timeout()), Some(Duration::from_millis(3100)));
        assert!(config.identity_cache().is_some() && config.sleep_impl().is_some());
        let credentials =
            config.credentials_provider().expect("a provider").provide_credentials().await.expect("credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
        // A role's credentials without a session token are still credentials.
        assert!(settings().lambda_config(lambda(&[("AWS_SESSION_TOKEN", "")])).is_some());
    }

    /// Every client Tenancy uses builds from the configuration (the SDK panics on one it
    /// cannot run with), and a call signs with the role's credentials and session token.
    #[tokio::test]
    async fn every_client_builds_from_it_and_a_call_is_signed_with_the_roles_session() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("a call");
            let mut request = Vec::new();
            let mut buffer = [0_u8; 8192];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = socket.read(&mut buffer).expect("the request");
                assert!(read > 0, "the request ends early");
                request.extend_from_slice(&buffer[..read]);
            }
            let body = r#"{"TableNames":[]}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).expect("the answer");
            String::from_utf8_lossy(&request).to_lowercase()
        });
        let settings = AwsSettings { endpoint: Some(endpoint), region: "eu-west-1".into() };
        let config = settings.lambda_config(lambda(&[])).expect("a Lambda environment");

        aws_sdk_eventbridge::Client::new(&config);
        aws_sdk_iam::Client::new(&config);
        aws_sdk_sts::Client::new(&config);
        aws_sdk_ec2::Client::new(&config);
        aws_sdk_kms::Client::new(&config);
        aws_sdk_s3::Client::new(&config);
        aws_sdk_resourcegroupstagging::Client::new(&config);
        let tables = aws_sdk_dynamodb::Client::new(&config).list_tables().send().await.expect("an answer");
        assert!(tables.table_names().is_empty());

        let request = server.join().expect("the stub");
        assert!(request.starts_with("post / http/1.1"), "{request}");
        assert!(request.contains("credential=asiaexample/"), "signed with the role's key: {request}");
        assert!(request.contains("/eu-west-1/dynamodb/aws4_request"), "for the region: {request}");
        assert!(request.contains("x-amz-security-token: token"), "with its session token: {request}");
    }

    #[test]
    fn what_lambda_sets_keeps_the_direct_configuration() {
        for (name, value) in [
            ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR"),
            ("AWS_LAMBDA_EXEC_WRAPPER", "/opt/wrapper"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ] {
            assert!(settings().lambda_config(lambda(&[(name, value)])).is_some(), "{name}");
        }
    }

    #[test]
    fn outside_lambda_or_without_credentials_the_default_chain_loads() {
        assert!(settings().lambda_config(lambda(&[("AWS_LAMBDA_FUNCTION_NAME", "")])).is_none());
        assert!(settings().lambda_config(lambda(&[("AWS_ACCESS_KEY_ID", "")])).is_none());
        assert!(settings().lambda_config(lambda(&[("AWS_SECRET_ACCESS_KEY", "")])).is_none());
        assert!(settings().lambda_config(Vec::<(String, String)>::new()).is_none());
    }

    #[test]
    fn any_aws_setting_lambda_does_not_set_takes_the_default_chain_which_honours_it() {
        for name in [
            "AWS_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_USE_FIPS_ENDPOINT",
            "AWS_MAX_ATTEMPTS",
            "AWS_RETRY_MODE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_SOME_SETTING_OF_A_LATER_SDK",
        ] {
            assert!(settings().lambda_config(lambda(&[(name, "x")])).is_none(), "{name}");
        }
        // Not UTF-8: not Lambda's.
        use std::os::unix::ffi::OsStringExt;
        let mut variables: Vec<(std::ffi::OsString, std::ffi::OsString)> =
            lambda(&[]).into_iter().map(|(n, v)| (n.into(), v.into())).collect();
        variables.push(("AWS_SESSION_TOKEN".into(), std::ffi::OsString::from_vec(vec![0xff])));
        assert!(settings().lambda_config(variables).is_none());
    }
}
