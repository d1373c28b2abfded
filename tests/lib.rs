//! Harness of the integration tests. Each test gets a private slice of the emulator (its
//! own table, bus, rule and queue, and tenant names no other test uses), the local runner
//! on an ephemeral port, and SDK clients to check what really exists in AWS.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use tenancy_app::{App, Settings};
use tenancy_aws::AwsSettings;
use tenancy_cli::dev::{self, DevOptions, Running};
use tenancy_cli::emulator::{self, LocalResources};
use tenancy_cli::jwt;
use tenancy_domain::builtin::SystemClock;
use tenancy_domain::ports::Clock;

mod throttling;
pub use throttling::ThrottlingProxy;

/// Secret the harness signs tokens with.
pub const SECRET: &str = "integration-test-secret-0123456789";

/// A unique lowercase name: `prefix` and six hex digits.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..6])
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shipped tenant types (`plugins/tenant-types.json`), packaged once per test process
/// from the plugins `make test` built, as a deployment packages them.
pub fn packaged_plugins() -> &'static Path {
    static PACKAGED: OnceLock<PathBuf> = OnceLock::new();
    PACKAGED.get_or_init(|| {
        let out = repository().join(format!("target/test-scratch/plugins-{}", std::process::id()));
        package(&repository().join("plugins/tenant-types.json"), &out);
        out
    })
}

/// Packages the declared types from the plugins `make test` built into `out`.
fn package(declarations: &Path, out: &Path) {
    tenancy_plugin_host::registry::package(
        declarations,
        &repository().join("plugins/target/wasm32-wasip2/release"),
        out,
    )
    .expect("the declared plugins are built (scripts/build-plugins.sh) and packaged");
}

/// A policy document as IAM returns it (URL-encoded), parsed.
pub fn policy_document(document: &str) -> Value {
    // IAM returns policy documents URL-encoded.
    let decoded = percent_decode(document);
    serde_json::from_str(&decoded).unwrap_or_else(|_| serde_json::from_str(document).expect("policy JSON"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How a harness starts.
#[derive(Clone)]
pub struct Options {
    /// The clock of the service and worker.
    pub clock: Arc<dyn Clock>,
    /// Whether the worker consumes the request queue (off: the test drives the worker).
    pub run_worker: bool,
    /// Tenant types to declare instead of the shipped `plugins/tenant-types.json`, as
    /// that file's JSON; packaged from the built plugins for this harness alone.
    pub tenant_types: Option<Value>,
    /// The deployment's name; by default one of the harness's own.
    pub deployment: Option<String>,
    /// Producers trusted on the bus (`source@account`, comma-separated).
    pub trusted_producers: String,
    /// Puts a fault-injecting layer under the worker's `Cloud` port: the share of calls
    /// throttled before they reach the emulator, and the share whose answer is lost.
    pub cloud_faults: Option<(f64, f64)>,
    /// Puts a proxy between every AWS client and the emulator that answers this share of
    /// IAM, EC2 and KMS calls with those services' own throttling errors.
    pub throttling_proxy: Option<f64>,
    /// The API function's role that tenant roles trust (`TENANCY_API_ROLE_ARN`); by
    /// default [`API_ROLE_ARN`].
    pub api_role_arn: Option<String>,
    /// Days of warning before a tenant's end (`TENANCY_EXPIRY_WARNING_DAYS`).
    pub expiry_warning_days: i64,
}

/// The API function's role the harness plays: every tenant role's trust names it. The
/// emulator, unlike IAM, does not check that a trust policy's principal exists, so the
/// harness does not make it.
pub const API_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/tenancy-tests-api";

/// The emulator's account.
pub const ACCOUNT: &str = "123456789012";
/// The producer the bus tests play.
pub const PRODUCER: &str = "crm.onboarding";

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            run_worker: true,
            tenant_types: None,
            deployment: None,
            trusted_producers: format!("{PRODUCER}@{ACCOUNT}"),
            cloud_faults: None,
            throttling_proxy: None,
            api_role_arn: Some(API_ROLE_ARN.into()),
            expiry_warning_days: tenancy_domain::tenant::expiry::DEFAULT_WARNING_DAYS,
        }
    }
}

/// Packages `declarations` (the JSON of a `tenant-types.json`) into a fresh directory.
fn package_own(declarations: &Value) -> PathBuf {
    let out = repository().join(format!("target/test-scratch/types-{}", unique("")));
    std::fs::create_dir_all(&out).expect("scratch directory");
    let file = out.join("tenant-types.json");
    std::fs::write(&file, declarations.to_string()).expect("declarations written");
    package(&file, &out);
    out
}

/// One test's Tenancy.
pub struct Harness {
    /// Every adapter and service, as the local runner wired them.
    pub app: App,
    /// Base URL of the API.
    pub base: String,
    /// An admin token.
    pub token: String,
    /// The demo VPC.
    pub vpc_id: String,
    /// The queue the request rule targets.
    pub queue_url: String,
    /// SDK clients for checking AWS.
    pub aws: Aws,
    http: reqwest::Client,
    running: Option<Running>,
    /// The throttling proxy in front of the emulator, when the options asked for one.
    pub proxy: Option<ThrottlingProxy>,
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Reply {
    /// The `content-type` header.
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// Mints a token for `sub` in `groups`, valid for an hour, from the issuer and for the
/// audience the runner expects by default.
pub fn token(sub: &str, groups: &[&str]) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    jwt::mint(
        SECRET.as_bytes(),
        &json!({
            "sub": sub,
            "email": format!("{sub}@example.com"),
            "cognito:groups": groups,
            "iss": jwt::DEFAULT_ISSUER,
            "aud": jwt::DEFAULT_AUDIENCE,
            "iat": now,
            "exp": now + 3600,
        }),
    )
}

impl Harness {
    /// A harness with the system clock and a running worker.
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    /// A harness with `options`.
    pub async fn with(options: Options) -> Self {
        let endpoint = std::env::var("TENANCY_AWS_ENDPOINT").expect(
            "TENANCY_AWS_ENDPOINT is not set: the integration tests need the emulator; run them with `make test`",
        );
        let suffix = unique("");
        let proxy = match options.throttling_proxy {
            Some(share) => Some(ThrottlingProxy::start(endpoint.clone(), share).await),
            None => None,
        };
        let endpoint = proxy.as_ref().map_or(endpoint, |p| format!("http://{}", p.addr));
        let settings = Settings {
            aws: AwsSettings { endpoint: Some(endpoint), region: "us-east-1".into() },
            table: format!("tenancy-{suffix}"),
            bus: format!("tenancy-{suffix}"),
            lease_seconds: 300,
            plugins_manifest: Some(
                match &options.tenant_types {
                    Some(declarations) => package_own(declarations),
                    None => packaged_plugins().to_path_buf(),
                }
                .join(tenancy_plugin_host::registry::MANIFEST_FILE),
            ),
            deployment: options.deployment.clone().unwrap_or_else(|| format!("test-{suffix}")),
            tenant_boundary_arn: None,
            account_id: None,
            trusted_producers: options.trusted_producers.clone(),
            credentials_seconds: 900,
            api_role_arn: options.api_role_arn.clone(),
            expiry_warning_days: options.expiry_warning_days,
        };
        let mut app = App::new(settings, options.clock).await.expect("wired");
        if let Some((throttled, lost)) = options.cloud_faults {
            let faulty = tenancy_domain::memory::FaultyCloud::new(app.cloud.clone(), throttled, lost, 7);
            let config =
                tenancy_domain::worker::WorkerConfig { backoff: Duration::from_millis(50), ..app.worker_config() };
            app = app.with_worker_cloud(Arc::new(faulty), config);
        }
        let names = LocalResources {
            deployment: app.settings.deployment.clone(),
            table: app.settings.table.clone(),
            bus: app.settings.bus.clone(),
            queue: format!("tenancy-{suffix}-lifecycle"),
        };
        let prepared = emulator::prepare(&app.sdk, &names).await.expect("emulator setup");
        let running = dev::start(
            &app,
            DevOptions {
                listen: "127.0.0.1:0".parse().expect("address"),
                jwt_secret: SECRET.into(),
                jwt_issuer: jwt::DEFAULT_ISSUER.into(),
                jwt_audience: jwt::DEFAULT_AUDIENCE.into(),
                queue_url: options.run_worker.then(|| prepared.queue_url.clone()),
                // Tests run the sweep themselves when they mean to.
                sweep_every: Duration::from_secs(3600),
            },
        )
        .await
        .expect("local runner");
        Self {
            aws: Aws::new(&app.sdk),
            base: format!("http://{}", running.addr),
            token: token("admin", &["tenancy-admins"]),
            vpc_id: prepared.vpc_id,
            queue_url: prepared.queue_url,
            http: reqwest::Client::new(),
            running: Some(running),
            proxy,
            app,
        }
    }

    /// Sends a request with the admin token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// A request builder on the API, without a token, for tests that set everything.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends a prepared request and reads the answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body read");
        Reply { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    /// Creates an infrastructure on the demo VPC and returns its name.
    pub async fn infrastructure(&self, environment: &str) -> String {
        let name = unique("infra");
        let body = json!({ "name": name, "region": "us-east-1", "vpcId": self.vpc_id, "environment": environment });
        let reply = self.call(Method::POST, "/v1/infrastructures", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        name
    }

    /// Asks for a tenant and checks the 202.
    pub async fn create_tenant(&self, infrastructure: &str, name: &str, tags: Value) -> Reply {
        let body = json!({ "name": name, "infrastructure": infrastructure, "tags": tags });
        let reply = self.call(Method::POST, "/v1/tenants", Some(body)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
        reply
    }

    /// Polls the tenant until it reaches `state` (30 s at most), and returns it.
    pub async fn wait_for_state(&self, name: &str, state: &str) -> Value {
        self.wait_for_state_within(name, state, 30).await
    }

    /// Polls the tenant until it reaches `state` (`seconds` at most), and returns it.
    pub async fn wait_for_state_within(&self, name: &str, state: &str, seconds: u64) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let reply = self.call(Method::GET, &format!("/v1/tenants/{name}"), None).await;
            if reply.body["state"] == state {
                return reply.body;
            }
            if reply.body["state"] == "failed" || tokio::time::Instant::now() > deadline {
                panic!("tenant {name} did not become {state}: {:#}", reply.body);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the local runner.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}

/// SDK clients that look at what exists, independently of the code under test.
pub struct Aws {
    /// IAM.
    pub iam: aws_sdk_iam::Client,
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// KMS.
    pub kms: aws_sdk_kms::Client,
    /// Resource Groups Tagging API.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// S3 (path-style: the emulator has no per-bucket host names).
    pub s3: aws_sdk_s3::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// EventBridge.
    pub events: aws_sdk_eventbridge::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
}

/// What exists in AWS for one tenant.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Security group ids tagged with the tenant.
    pub security_groups: Vec<String>,
    /// Role names under the tenant's IAM path.
    pub roles: Vec<String>,
    /// Instance profile names under the tenant's IAM path.
    pub instance_profiles: Vec<String>,
    /// Key ids tagged with the tenant and not pending deletion.
    pub live_keys: Vec<String>,
    /// Key ids tagged with the tenant and pending deletion.
    pub keys_pending_deletion: Vec<String>,
}

impl Inventory {
    /// True when exactly one of each resource exists.
    pub fn is_one_complete_set(&self) -> bool {
        self.security_groups.len() == 1
            && self.roles.len() == 1
            && self.instance_profiles.len() == 1
            && self.live_keys.len() == 1
    }

    /// True when nothing live is left.
    pub fn is_empty(&self) -> bool {
        self.security_groups.is_empty()
            && self.roles.is_empty()
            && self.instance_profiles.is_empty()
            && self.live_keys.is_empty()
    }
}

impl Aws {
    fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            iam: aws_sdk_iam::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            tagging: aws_sdk_resourcegroupstagging::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build()),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
        }
    }

    /// ARNs of everything tagged `tenancy:tenant=<tenant>`.
    pub async fn tagged(&self, tenant: &str) -> Vec<String> {
        let output = self
            .tagging
            .get_resources()
            .tag_filters(
                aws_sdk_resourcegroupstagging::types::TagFilter::builder().key("tenancy:tenant").values(tenant).build(),
            )
            .send()
            .await
            .expect("GetResources");
        output.resource_tag_mapping_list().iter().filter_map(|m| m.resource_arn().map(str::to_string)).collect()
    }

    /// The tenant's security groups, with their rules and tags.
    pub async fn security_groups(&self, tenant: &str) -> Vec<aws_sdk_ec2::types::SecurityGroup> {
        let filter = aws_sdk_ec2::types::Filter::builder().name("tag:tenancy:tenant").values(tenant).build();
        let output = self.ec2.describe_security_groups().filters(filter).send().await.expect("DescribeSecurityGroups");
        output.security_groups().to_vec()
    }

    /// The KMS state of a key.
    pub async fn key_state(&self, key_id: &str) -> aws_sdk_kms::types::KeyState {
        let output = self.kms.describe_key().key_id(key_id).send().await.expect("DescribeKey");
        output.key_metadata().and_then(|k| k.key_state()).cloned().expect("key state")
    }

    /// Everything that exists for `tenant`.
    pub async fn inventory(&self, tenant: &str) -> Inventory {
        let path = format!("/tenancy/{tenant}/");
        let roles = self.iam.list_roles().path_prefix(&path).send().await.expect("ListRoles");
        let profiles = self.iam.list_instance_profiles().path_prefix(&path).send().await.expect("ListInstanceProfiles");
        let mut inventory = Inventory {
            security_groups: self
                .security_groups(tenant)
                .await
                .iter()
                .filter_map(|g| g.group_id().map(str::to_string))
                .collect(),
            // Filtered by path here too: the emulator's profile listing ignores the prefix.
            roles: roles.roles().iter().filter(|r| r.path() == path).map(|r| r.role_name().to_string()).collect(),
            instance_profiles: profiles
                .instance_profiles()
                .iter()
                .filter(|p| p.path() == path)
                .map(|p| p.instance_profile_name().to_string())
                .collect(),
            ..Inventory::default()
        };
        for arn in self.tagged(tenant).await.into_iter().filter(|a| a.contains(":kms:")) {
            let id = arn.rsplit('/').next().unwrap_or_default().to_string();
            if self.key_state(&id).await == aws_sdk_kms::types::KeyState::PendingDeletion {
                inventory.keys_pending_deletion.push(id);
            } else {
                inventory.live_keys.push(id);
            }
        }
        inventory
    }

    /// How many items the table holds (a test-only Scan, to prove nothing was written).
    pub async fn item_count(&self, table: &str) -> usize {
        let output = self.dynamodb.scan().table_name(table).send().await.expect("Scan");
        output.items().len()
    }
}
