//! Building the adapters from configuration, in one place for every entry point.

use std::path::PathBuf;
use std::sync::Arc;

use tenancy_aws::{AwsCloud, AwsSettings, CallCounter, DynamoStore, EmfMetrics, EventBridgeEvents};
use tenancy_domain::builtin::{NoMetrics, SystemClock};
use tenancy_domain::credentials;
use tenancy_domain::ports::{Clock, Cloud, LifecycleMetrics, Plugins};
use tenancy_domain::service::ControlPlane;
use tenancy_domain::tenant::expiry;
use tenancy_domain::worker::{Worker, WorkerConfig};
use tenancy_plugin_host::{Limits, PluginRegistry, RegistryError};

use crate::bus::Producers;
use crate::{Api, BusHandler};

/// Configuration, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the AWS clients point.
    pub aws: AwsSettings,
    /// The DynamoDB table (`TENANCY_TABLE`, default `tenancy`).
    pub table: String,
    /// The EventBridge bus (`TENANCY_EVENT_BUS`, default `tenancy`).
    pub bus: String,
    /// Lease and stall timeout in seconds (`TENANCY_LEASE_SECONDS`, default 300; keep it
    /// above the lifecycle function's timeout).
    pub lease_seconds: i64,
    /// The tenant types' `manifest.json` (`TENANCY_PLUGINS`); none: only `default`.
    pub plugins_manifest: Option<PathBuf>,
    /// This deployment's name (`TENANCY_DEPLOYMENT`, the stack name in AWS; default
    /// `local`): every resource it makes carries it in `tenancy:deployment`, and it adopts
    /// or deletes nothing that does not.
    pub deployment: String,
    /// The permissions boundary of every tenant role (`TENANCY_TENANT_BOUNDARY_ARN`); by
    /// default the deployment's policy `/tenancy/tenancy-<deployment>-tenant-boundary`.
    pub tenant_boundary_arn: Option<String>,
    /// The deployment's own AWS account (`TENANCY_ACCOUNT_ID`); asked of STS when unset.
    pub account_id: Option<String>,
    /// Producers trusted to put tenant requests on the bus, `source@account` pairs,
    /// comma-separated (`TENANCY_TRUSTED_PRODUCERS`).
    pub trusted_producers: String,
    /// How long issued credentials last, in seconds (`TENANCY_CREDENTIALS_SECONDS`, default
    /// 3600, from 900 to 3600: see [`tenancy_domain::credentials::SESSION_SECONDS`]).
    pub credentials_seconds: i64,
    /// The API function's own role (`TENANCY_API_ROLE_ARN`): every tenant role's trust lets
    /// it assume the role and tag the session, and nothing else. Unset (locally): the trust
    /// names the workload services only.
    pub api_role_arn: Option<String>,
    /// How many days ahead of a tenant's end the sweep publishes `Tenant Expiring`
    /// (`TENANCY_EXPIRY_WARNING_DAYS`, default 7, from 0 (no warning) to 365: see
    /// [`tenancy_domain::tenant::expiry::WARNING_DAYS`]).
    pub expiry_warning_days: i64,
}

/// The variables [`Settings`] reads (besides the AWS ones).
const SETTING_NAMES: [&str; 11] = [
    "TENANCY_TABLE",
    "TENANCY_EVENT_BUS",
    "TENANCY_LEASE_SECONDS",
    "TENANCY_PLUGINS",
    "TENANCY_DEPLOYMENT",
    "TENANCY_TENANT_BOUNDARY_ARN",
    "TENANCY_ACCOUNT_ID",
    "TENANCY_TRUSTED_PRODUCERS",
    "TENANCY_CREDENTIALS_SECONDS",
    "TENANCY_API_ROLE_ARN",
    "TENANCY_EXPIRY_WARNING_DAYS",
];

impl Settings {
    /// Reads the settings from the environment, with the defaults above. A malformed
    /// value stops start-up: a mistyped number must not quietly become the default.
    pub fn from_env() -> Result<Self, StartError> {
        for name in SETTING_NAMES {
            if let Err(std::env::VarError::NotUnicode(value)) = std::env::var(name) {
                return Err(StartError::Setting { name, problem: format!("{value:?} is not UTF-8") });
            }
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings from `lookup` (an unset or empty variable takes its default).
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, StartError> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let text = |name: &str, default: &str| var(name).unwrap_or_else(|| default.into());
        Ok(Self {
            aws: AwsSettings::from_env(),
            table: text("TENANCY_TABLE", "tenancy"),
            bus: text("TENANCY_EVENT_BUS", "tenancy"),
            lease_seconds: bounded(
                "TENANCY_LEASE_SECONDS",
                var("TENANCY_LEASE_SECONDS"),
                300,
                LEASE_SECONDS,
                "seconds",
            )?,
            plugins_manifest: var("TENANCY_PLUGINS").map(PathBuf::from),
            deployment: text("TENANCY_DEPLOYMENT", "local"),
            tenant_boundary_arn: var("TENANCY_TENANT_BOUNDARY_ARN"),
            account_id: var("TENANCY_ACCOUNT_ID"),
            trusted_producers: text("TENANCY_TRUSTED_PRODUCERS", ""),
            credentials_seconds: bounded(
                "TENANCY_CREDENTIALS_SECONDS",
                var("TENANCY_CREDENTIALS_SECONDS"),
                credentials::DEFAULT_SESSION_SECONDS,
                credentials::SESSION_SECONDS,
                "seconds",
            )?,
            api_role_arn: var("TENANCY_API_ROLE_ARN"),
            expiry_warning_days: bounded(
                "TENANCY_EXPIRY_WARNING_DAYS",
                var("TENANCY_EXPIRY_WARNING_DAYS"),
                expiry::DEFAULT_WARNING_DAYS,
                expiry::WARNING_DAYS,
                "days",
            )?,
        })
    }
}

/// The shortest and longest lease a worker may take, in seconds. A lease must outlast one
/// run (the lifecycle function's timeout, at most 15 minutes in Lambda); one of hours would
/// keep a dead worker's tenant waiting that long, and a value in milliseconds by mistake
/// (300000) would be days.
pub const LEASE_SECONDS: std::ops::RangeInclusive<i64> = 60..=3600;

/// A whole number of `unit`s (seconds, days) within `range`; `default` when unset.
fn bounded(
    name: &'static str,
    value: Option<String>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
    unit: &str,
) -> Result<i64, StartError> {
    let Some(value) = value else { return Ok(default) };
    match value.trim().parse::<i64>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(StartError::Setting {
            name,
            problem: format!("'{value}' is not a whole number of {unit} from {} to {}", range.start(), range.end()),
        }),
    }
}

/// True for `arn:<partition>:iam::<12 digits>:policy/<path and name>`: the only thing a
/// permissions boundary can be.
fn is_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
    if partition.starts_with("aws")
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.strip_prefix("policy/").is_some_and(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c))
        }))
}

/// True for `arn:<partition>:iam::<12 digits>:role/<path and name>`: the API function's
/// role, as a trust policy's principal names it.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
    if partition.starts_with("aws")
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|name| {
            !name.is_empty()
                && !name.ends_with('/')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c))
        }))
}

/// Why a function could not start. It does not serve anything half-configured.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The tenant types could not be loaded.
    #[error(transparent)]
    Plugins(#[from] RegistryError),
    /// A setting is malformed.
    #[error("setting {name}: {problem}")]
    Setting {
        /// The environment variable.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The cloud could not tell the deployment's own account.
    #[error("could not learn the deployment's account: {0}")]
    Account(String),
    /// The authorization policies do not load or validate.
    #[error("{0}")]
    Policies(String),
}

/// Every adapter and service, wired.
#[derive(Clone)]
pub struct App {
    /// The settings it was built from.
    pub settings: Settings,
    /// The SDK configuration every client shares.
    pub sdk: aws_config::SdkConfig,
    /// Counts every AWS call the adapters make.
    pub calls: CallCounter,
    /// The state store.
    pub store: Arc<DynamoStore>,
    /// The cloud.
    pub cloud: Arc<AwsCloud>,
    /// The bus.
    pub events: Arc<EventBridgeEvents>,
    /// The tenant types.
    pub plugins: Arc<dyn Plugins>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The API's service.
    pub control_plane: ControlPlane,
    /// The lifecycle worker.
    pub worker: Worker,
    /// Who may put requests on the bus.
    pub producers: Producers,
    /// Where the worker reports provisioning: EMF lines on stdout in Lambda, where
    /// CloudWatch turns them into metrics; nowhere locally.
    pub metrics: Arc<dyn LifecycleMetrics>,
}

impl App {
    /// Wires everything from the environment with the system clock.
    pub async fn from_env() -> Result<Self, StartError> {
        Self::new(Settings::from_env()?, Arc::new(SystemClock)).await
    }

    /// Wires everything from `settings` with `clock`. Fails when the tenant types'
    /// manifest cannot be loaded or a setting is malformed: a deployment does not start
    /// half-configured.
    pub async fn new(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let deployment_ok = !settings.deployment.is_empty()
            && settings.deployment.len() <= 128
            && settings.deployment.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !deployment_ok {
            return Err(StartError::Setting {
                name: "TENANCY_DEPLOYMENT",
                problem: format!("'{}' must be 1 to 128 letters, digits and hyphens", settings.deployment),
            });
        }
        if let Some(account) = &settings.account_id
            && !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(StartError::Setting {
                name: "TENANCY_ACCOUNT_ID",
                problem: format!("'{account}' is not an AWS account id (12 digits)"),
            });
        }
        if let Some(arn) = &settings.tenant_boundary_arn
            && !is_policy_arn(arn)
        {
            return Err(StartError::Setting {
                name: "TENANCY_TENANT_BOUNDARY_ARN",
                problem: format!(
                    "'{arn}' is not an IAM policy ARN (arn:<partition>:iam::<account>:policy/<path><name>)"
                ),
            });
        }
        if let Some(arn) = &settings.api_role_arn
            && !is_role_arn(arn)
        {
            return Err(StartError::Setting {
                name: "TENANCY_API_ROLE_ARN",
                problem: format!("'{arn}' is not an IAM role ARN (arn:<partition>:iam::<account>:role/<path><name>)"),
            });
        }
        if !credentials::SESSION_SECONDS.contains(&settings.credentials_seconds) {
            let range = credentials::SESSION_SECONDS;
            return Err(StartError::Setting {
                name: "TENANCY_CREDENTIALS_SECONDS",
                problem: format!(
                    "'{}' is not a whole number of seconds from {} to {}",
                    settings.credentials_seconds,
                    range.start(),
                    range.end()
                ),
            });
        }
        // What start-up spends, phase by phase: `RUST_LOG=info,tenancy_startup=debug`
        // (scripts/coldstart.sh shows it).
        let mut phase = Phase::start();
        let plugins = open_plugins(&settings)?;
        phase.done("plugin manifest");
        let sdk = settings.aws.load().await;
        phase.done("SDK configuration");
        let calls = CallCounter::default();
        // Every client is built when a call first needs it: most first events need one
        // client or none (see doc/coldstart.md).
        let store = Arc::new(DynamoStore::from_config(&sdk, calls.clone(), &settings.table));
        let events = Arc::new(EventBridgeEvents::from_config(&sdk, calls.clone(), &settings.bus));
        let cloud = Arc::new(
            AwsCloud::new(&sdk, calls.clone())
                .with_tenant_boundary(settings.tenant_boundary_arn.clone())
                .with_api_role(settings.api_role_arn.clone()),
        );
        phase.done("AWS clients");
        let own_account = match &settings.account_id {
            Some(account) => account.clone(),
            None => cloud.account_id().await.map_err(|e| StartError::Account(e.message))?,
        };
        let producers = Producers::parse(&own_account, &settings.trusted_producers)
            .map_err(|problem| StartError::Setting { name: "TENANCY_TRUSTED_PRODUCERS", problem })?;
        phase.done("account and producers");
        let authorizer = Arc::new(ShippedPolicies::default());
        let control_plane = ControlPlane::new(
            store.clone(),
            events.clone(),
            plugins.clone(),
            cloud.clone(),
            clock.clone(),
            authorizer,
            cloud.clone(),
        )
        .with_session_seconds(settings.credentials_seconds)
        .with_expiry_warning_days(settings.expiry_warning_days)
        .with_inventory(cloud.clone(), &settings.deployment);
        let config = WorkerConfig {
            lease: time::Duration::seconds(settings.lease_seconds),
            deployment: settings.deployment.clone(),
            ..WorkerConfig::default()
        };
        let metrics: Arc<dyn LifecycleMetrics> = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            Arc::new(EmfMetrics::stdout(&settings.deployment))
        } else {
            Arc::new(NoMetrics)
        };
        let worker = Worker::new(store.clone(), cloud.clone(), events.clone(), plugins.clone(), clock.clone(), config)
            .with_metrics(metrics.clone());
        phase.done("services");
        Ok(Self {
            settings,
            sdk,
            calls,
            store,
            cloud,
            events,
            plugins,
            clock,
            control_plane,
            worker,
            producers,
            metrics,
        })
    }

    /// The worker's settings, as wired.
    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            lease: time::Duration::seconds(self.settings.lease_seconds),
            deployment: self.settings.deployment.clone(),
            ..WorkerConfig::default()
        }
    }

    /// Puts `cloud` under the worker instead of AWS itself: tests put a fault-injecting
    /// layer there.
    pub fn with_worker_cloud(mut self, cloud: Arc<dyn Cloud>, config: WorkerConfig) -> Self {
        self.worker = Worker::new(
            self.store.clone(),
            cloud,
            self.events.clone(),
            self.plugins.clone(),
            self.clock.clone(),
            config,
        )
        .with_metrics(self.metrics.clone());
        self
    }

    /// The HTTP API.
    pub fn api(&self) -> Api {
        Api::new(self.control_plane.clone())
    }

    /// The lifecycle function's handler of events from the bus.
    pub fn bus_handler(&self) -> BusHandler {
        BusHandler::new(self.control_plane.clone(), self.worker.clone(), self.events.clone(), self.producers.clone())
    }
}

/// The shipped Cedar policies, parsed and validated against their schema when a request
/// is first authorized rather than at start-up: that takes milliseconds, and requests that
/// need no decision (`GET /healthz`, every event the lifecycle ignores) should not wait for
/// it. They are constants of the build, validated by `tenancy-policy`'s tests, so a failure
/// here is a broken build; it is logged, and every question is refused (closed, not open).
#[derive(Default)]
struct ShippedPolicies(std::sync::OnceLock<Option<tenancy_policy::CedarAuthorizer>>);

impl tenancy_domain::ports::Authorizer for ShippedPolicies {
    fn is_allowed(&self, question: &tenancy_domain::authorization::Question<'_>) -> bool {
        let policies = self.0.get_or_init(|| {
            let started = std::time::Instant::now();
            let loaded = tenancy_policy::CedarAuthorizer::shipped();
            let micros = started.elapsed().as_micros() as u64;
            tracing::debug!(target: "tenancy_startup", phase = "authorization policies (first request)", micros, "start-up phase");
            loaded.map_err(|error| tracing::error!(%error, "the shipped policies do not load: refusing every request")).ok()
        });
        policies.as_ref().is_some_and(|policies| policies.is_allowed(question))
    }
}

/// Times the phases of start-up, each logged at debug level under `tenancy_startup`.
struct Phase(std::time::Instant);

impl Phase {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn done(&mut self, phase: &'static str) {
        let micros = self.0.elapsed().as_micros() as u64;
        tracing::debug!(target: "tenancy_startup", phase, micros, "start-up phase");
        self.0 = std::time::Instant::now();
    }
}

/// Opens the tenant types at start-up: the manifest is read and checked (a broken one
/// stops start-up), but no plugin is loaded and no engine made. Each type's plugin is
/// loaded when a request first needs it (`PluginRegistry`): a cold start serves requests
/// that need no plugin, such as `GET /healthz`, without paying for one. Nothing is written.
fn open_plugins(settings: &Settings) -> Result<Arc<dyn Plugins>, RegistryError> {
    let registry = match &settings.plugins_manifest {
        Some(manifest) => {
            let registry = PluginRegistry::open(Limits::default(), manifest)?;
            let types: Vec<String> =
                registry.types().into_iter().map(|t| format!("{}@{}", t.name, t.version)).collect();
            // Whether this build could compile a plugin with no usable artifact: the
            // functions cannot (lambda-check reads this line).
            let compiler = tenancy_plugin_host::COMPILER;
            tracing::info!(manifest = %manifest.display(), ?types, compiler, "tenant types registered");
            registry
        }
        None => PluginRegistry::empty(),
    };
    Ok(Arc::new(registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, StartError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn only_an_iam_policy_arn_may_name_the_tenant_boundary() {
        assert!(is_policy_arn("arn:aws:iam::123456789012:policy/tenancy/tenancy-prod-tenant-boundary"));
        assert!(is_policy_arn("arn:aws-us-gov:iam::123456789012:policy/boundary"));
        for bad in [
            "",
            "boundary",
            "arn:aws:iam::123456789012:role/tenancy/x",
            "arn:aws:iam::12345678901:policy/x",
            "arn:aws:iam:us-east-1:123456789012:policy/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:policy/",
            "arn:aws:iam::123456789012:policy/x y",
        ] {
            assert!(!is_policy_arn(bad), "{bad}");
        }
    }

    #[test]
    fn only_an_iam_role_arn_may_name_the_api_role() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/tenancy-prod-api"));
        assert!(is_role_arn("arn:aws-cn:iam::123456789012:role/service-role/api"));
        for bad in [
            "",
            "tenancy-prod-api",
            "arn:aws:iam::123456789012:policy/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/x/",
            "arn:aws:iam::12345678901:role/x",
            "arn:aws:sts::123456789012:assumed-role/x/y",
            "arn:aws:iam::123456789012:role/x y",
            "arn:aws:iam::123456789012:role/*",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }

    #[test]
    fn the_credentials_duration_is_bounded_and_defaults_to_an_hour() {
        assert_eq!(settings(&[]).unwrap().credentials_seconds, 3600);
        assert_eq!(settings(&[("TENANCY_CREDENTIALS_SECONDS", "900")]).unwrap().credentials_seconds, 900);
        for bad in ["899", "3601", "43200", "0", "1h", "-900"] {
            let error = settings(&[("TENANCY_CREDENTIALS_SECONDS", bad)]).expect_err(bad).to_string();
            assert!(error.contains("TENANCY_CREDENTIALS_SECONDS") && error.contains(&format!("'{bad}'")), "{error}");
        }
    }

    #[test]
    fn a_mistyped_lease_stops_start_up_naming_the_variable_and_the_value() {
        for bad in ["30O", "5m", "-5", "0", "1.5", "300 seconds", "59", "300000", "99999999999999999999"] {
            let error = settings(&[("TENANCY_LEASE_SECONDS", bad)]).expect_err(bad).to_string();
            assert!(error.contains("TENANCY_LEASE_SECONDS") && error.contains(&format!("'{bad}'")), "{error}");
        }
    }

    #[test]
    fn the_expiry_warning_is_a_bounded_number_of_days_and_a_week_by_default() {
        assert_eq!(settings(&[]).unwrap().expiry_warning_days, 7);
        assert_eq!(settings(&[("TENANCY_EXPIRY_WARNING_DAYS", "0")]).unwrap().expiry_warning_days, 0);
        assert_eq!(settings(&[("TENANCY_EXPIRY_WARNING_DAYS", "30")]).unwrap().expiry_warning_days, 30);
        for bad in ["-1", "366", "7d", "1.5", "seven", "604800"] {
            let error = settings(&[("TENANCY_EXPIRY_WARNING_DAYS", bad)]).expect_err(bad).to_string();
            assert!(error.contains("TENANCY_EXPIRY_WARNING_DAYS") && error.contains(&format!("'{bad}'")), "{error}");
        }
    }

    #[test]
    fn a_well_formed_lease_is_read_and_an_unset_one_is_the_default() {
        assert_eq!(settings(&[("TENANCY_LEASE_SECONDS", "900")]).unwrap().lease_seconds, 900);
        assert_eq!(settings(&[("TENANCY_LEASE_SECONDS", "")]).unwrap().lease_seconds, 300);
        let defaults = settings(&[]).unwrap();
        assert_eq!((defaults.lease_seconds, defaults.table.as_str()), (300, "tenancy"));
        assert_eq!(defaults.plugins_manifest, None);
    }
}
