//! Building the adapters from configuration, in one place for every entry point.

use std::path::PathBuf;
use std::sync::Arc;

use tenancy_aws::{AwsCloud, AwsSettings, CallCounter, DynamoStore, EventBridgeEvents};
use tenancy_domain::lifecycle::{Worker, WorkerConfig};
use tenancy_domain::ports::{Clock, Plugins, SystemClock};
use tenancy_domain::service::Tenancy;
use tenancy_plugins::{Limits, PluginHost, PluginRegistry, RegistryError};

use crate::{Api, LifecycleHandler};

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
    /// Where compiled plugins are cached between start-ups (`TENANCY_PLUGIN_CACHE`,
    /// default `<temp dir>/tenancy-plugin-cache`).
    pub plugin_cache: PathBuf,
}

impl Settings {
    /// Reads the settings from the environment, with the defaults above.
    pub fn from_env() -> Self {
        let var =
            |name: &str, default: &str| std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or(default.into());
        Self {
            aws: AwsSettings::from_env(),
            table: var("TENANCY_TABLE", "tenancy"),
            bus: var("TENANCY_EVENT_BUS", "tenancy"),
            lease_seconds: var("TENANCY_LEASE_SECONDS", "300").parse().unwrap_or(300),
            plugins_manifest: std::env::var_os("TENANCY_PLUGINS").filter(|v| !v.is_empty()).map(PathBuf::from),
            plugin_cache: std::env::var_os("TENANCY_PLUGIN_CACHE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("tenancy-plugin-cache")),
        }
    }
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
    pub tenancy: Tenancy,
    /// The lifecycle worker.
    pub worker: Worker,
}

impl App {
    /// Wires everything from the environment with the system clock.
    pub async fn from_env() -> Result<Self, RegistryError> {
        Self::new(Settings::from_env(), Arc::new(SystemClock)).await
    }

    /// Wires everything from `settings` with `clock`. Fails when the tenant types'
    /// manifest cannot be loaded: a deployment does not start without its plugins.
    pub async fn new(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, RegistryError> {
        let plugins = load_plugins(&settings).await?;
        let sdk = settings.aws.load().await;
        let calls = CallCounter::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(calls.clone()).build(),
        );
        let eventbridge = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&sdk).interceptor(calls.clone()).build(),
        );
        let store = Arc::new(DynamoStore::new(dynamodb, &settings.table));
        let events = Arc::new(EventBridgeEvents::new(eventbridge, &settings.bus));
        let cloud = Arc::new(AwsCloud::new(&sdk, calls.clone()));
        let tenancy = Tenancy::new(store.clone(), events.clone(), plugins.clone(), clock.clone());
        let config = WorkerConfig { lease: time::Duration::seconds(settings.lease_seconds), ..WorkerConfig::default() };
        let worker = Worker::new(store.clone(), cloud.clone(), events.clone(), plugins.clone(), clock.clone(), config);
        Ok(Self { settings, sdk, calls, store, cloud, events, plugins, clock, tenancy, worker })
    }

    /// The HTTP API.
    pub fn api(&self) -> Api {
        Api::new(self.tenancy.clone())
    }

    /// The lifecycle event handler.
    pub fn lifecycle(&self) -> LifecycleHandler {
        LifecycleHandler::new(self.tenancy.clone(), self.worker.clone(), self.events.clone())
    }
}

/// Loads the tenant types at start-up, off the async runtime: compiling a plugin (or
/// reading its cached artifact) happens here, never on a request.
async fn load_plugins(settings: &Settings) -> Result<Arc<dyn Plugins>, RegistryError> {
    let manifest = settings.plugins_manifest.clone();
    let cache = settings.plugin_cache.clone();
    tokio::task::spawn_blocking(move || {
        let host = PluginHost::new(Limits::default()).map_err(|e| RegistryError::Engine(e.to_string()))?;
        let registry = match manifest {
            Some(manifest) => {
                let registry = PluginRegistry::load(host, &manifest, Some(&cache))?;
                let types: Vec<String> =
                    registry.types().into_iter().map(|t| format!("{}@{}", t.name, t.version)).collect();
                tracing::info!(manifest = %manifest.display(), ?types, "tenant types loaded");
                registry
            }
            None => PluginRegistry::empty(host),
        };
        Ok(Arc::new(registry) as Arc<dyn Plugins>)
    })
    .await
    .map_err(|e| RegistryError::Engine(format!("loading did not complete: {e}")))?
}
