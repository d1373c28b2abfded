//! `tenancy`: run Tenancy locally against the AWS emulator.
//!
//! ```text
//! tenancy dev   [--port 8080]                 serve the API and run the lifecycle worker
//! tenancy token [--sub ID] [--email E] [--group G]... [--ttl SECONDS]
//!                                             print a development token
//! tenancy setup                               create the table, bus, rule, queue and demo VPC
//! tenancy plugin run FILE.wasm --hook HOOK --tenant TENANT.json [--grant GRANT.json] [--name NAME] [--public-ingress]
//!                    [--vpc-cidr CIDR]...      run one plugin hook as the lifecycle would (VPC 10.0.0.0/16 by default)
//! tenancy plugin package [--types plugins/tenant-types.json] [--wasm-dir DIR] [--out plugins/dist]
//!                                             precompile the tenant types and write their manifest beside the binaries
//! ```
//! Configuration comes from the environment (see the README): `TENANCY_AWS_ENDPOINT`,
//! `AWS_REGION`, `TENANCY_TABLE`, `TENANCY_EVENT_BUS`, `TENANCY_PLUGINS`, `TENANCY_DEV_JWT_SECRET`,
//! `TENANCY_DEV_JWT_ISSUER`, `TENANCY_DEV_JWT_AUDIENCE`.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use tenancy_app::{App, init_logging};
use tenancy_cli::dev::{self, DevOptions};
use tenancy_cli::emulator::{self, LocalResources};
use tenancy_cli::jwt;

const USAGE: &str = "usage: tenancy dev [--port N] | tenancy token [--sub ID] [--email E] [--group G]... [--ttl S] \
     | tenancy setup | tenancy plugin run FILE.wasm --hook HOOK --tenant T.json | tenancy plugin package [--out DIR]";

fn secret() -> Result<String, String> {
    std::env::var("TENANCY_DEV_JWT_SECRET")
        .ok()
        .filter(|s| s.len() >= 16)
        .ok_or_else(|| "set TENANCY_DEV_JWT_SECRET to a secret of at least 16 characters".to_string())
}

/// The issuer of development tokens: `TENANCY_DEV_JWT_ISSUER`, or `tenancy-local`.
fn dev_jwt_issuer() -> String {
    std::env::var("TENANCY_DEV_JWT_ISSUER").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| jwt::DEFAULT_ISSUER.into())
}

/// The audience of development tokens: `TENANCY_DEV_JWT_AUDIENCE`, or `tenancy`.
fn dev_jwt_audience() -> String {
    std::env::var("TENANCY_DEV_JWT_AUDIENCE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| jwt::DEFAULT_AUDIENCE.into())
}

fn local_resources(app: &App) -> LocalResources {
    LocalResources {
        deployment: app.settings.deployment.clone(),
        table: app.settings.table.clone(),
        bus: app.settings.bus.clone(),
        queue: format!("{}-lifecycle", app.settings.bus),
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

async fn run(args: Vec<String>) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("token") => {
            let secret = secret()?;
            let ttl: i64 = flag(&args, "--ttl").unwrap_or("3600").parse().map_err(|_| "--ttl takes seconds")?;
            let mut groups: Vec<&str> = args.windows(2).filter(|w| w[0] == "--group").map(|w| w[1].as_str()).collect();
            if groups.is_empty() {
                groups.push(tenancy_domain::access::ADMIN_GROUP);
            }
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let claims = json!({
                "sub": flag(&args, "--sub").unwrap_or("local-admin"),
                "email": flag(&args, "--email").unwrap_or("admin@localhost"),
                "cognito:groups": groups,
                "iss": dev_jwt_issuer(),
                "aud": dev_jwt_audience(),
                "iat": now,
                "exp": now + ttl,
            });
            println!("{}", jwt::mint(secret.as_bytes(), &claims));
            Ok(())
        }
        Some("plugin") if args.get(1).map(String::as_str) == Some("run") => {
            let file = args.get(2).filter(|a| !a.starts_with("--")).ok_or(USAGE)?;
            let read = |path: &str| std::fs::read(path).map_err(|e| format!("{path}: {e}"));
            let wasm = read(file)?;
            let tenant = String::from_utf8(read(flag(&args, "--tenant").ok_or("--tenant TENANT.json is required")?)?)
                .map_err(|_| "the tenant file is not UTF-8")?;
            let grant = flag(&args, "--grant").map(read).transpose()?.map(|g| String::from_utf8_lossy(&g).into_owned());
            let stem = std::path::Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or("plugin").to_string();
            let mut vpc_cidrs: Vec<String> =
                args.windows(2).filter(|w| w[0] == "--vpc-cidr").map(|w| w[1].clone()).collect();
            if vpc_cidrs.is_empty() {
                vpc_cidrs.push(tenancy_cli::plugin_run::DEFAULT_VPC_CIDR.into());
            }
            let request = tenancy_cli::plugin_run::RunRequest {
                wasm: &wasm,
                plugin: flag(&args, "--name").unwrap_or(&stem),
                hook: flag(&args, "--hook")
                    .ok_or("--hook is required: validate, on-create, on-delete or on-grant-access")?,
                tenant: &tenant,
                grant: grant.as_deref(),
                allowances: tenancy_domain::plan::Allowances {
                    public_ingress: args.iter().any(|a| a == "--public-ingress"),
                },
                vpc_cidrs: &vpc_cidrs,
            };
            let report = tenancy_cli::plugin_run::run(request)?;
            println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
            Ok(())
        }
        Some("plugin") if args.get(1).map(String::as_str) == Some("package") => {
            let types = flag(&args, "--types").unwrap_or("plugins/tenant-types.json");
            let wasm_dir = flag(&args, "--wasm-dir").unwrap_or("plugins/target/wasm32-wasip2/release");
            let out = flag(&args, "--out").unwrap_or("plugins/dist");
            let manifest = tenancy_plugin_host::registry::package(types.as_ref(), wasm_dir.as_ref(), out.as_ref())
                .map_err(|e| format!("{e} (build the plugins first: scripts/build-plugins.sh)"))?;
            for entry in &manifest.types {
                let d = &entry.declaration;
                println!("{:<16} {}@{}  {}  {}", d.name, d.plugin, d.version, entry.sha256, entry.file);
                if let Some(artifact) = &entry.precompiled {
                    println!(
                        "{:<16} precompiled  {}  {}  (engine {})",
                        "", artifact.sha256, artifact.file, artifact.compatibility_key
                    );
                }
            }
            println!("wrote {out}/{}", tenancy_plugin_host::registry::MANIFEST_FILE);
            Ok(())
        }
        Some("setup") => {
            let app = App::from_env().await.map_err(|e| e.to_string())?;
            let prepared = emulator::prepare(&app.sdk, &local_resources(&app)).await.map_err(|e| e.to_string())?;
            println!("{}", json!({ "queueUrl": prepared.queue_url, "demoVpcId": prepared.vpc_id }));
            Ok(())
        }
        Some("dev") => {
            let secret = secret()?;
            let port: u16 = flag(&args, "--port").unwrap_or("8080").parse().map_err(|_| "--port takes a number")?;
            let app = App::from_env().await.map_err(|e| e.to_string())?;
            let prepared = emulator::prepare(&app.sdk, &local_resources(&app)).await.map_err(|e| e.to_string())?;
            let options = DevOptions {
                listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                jwt_secret: secret,
                jwt_issuer: dev_jwt_issuer(),
                jwt_audience: dev_jwt_audience(),
                queue_url: Some(prepared.queue_url),
                sweep_every: Duration::from_secs(30),
            };
            let running = dev::start(&app, options).await.map_err(|e| format!("cannot listen on port {port}: {e}"))?;
            println!("Tenancy is serving on http://{}", running.addr);
            println!("Demo VPC for your first infrastructure: {}", prepared.vpc_id);
            println!("Get a token:  export TOKEN=$(target/debug/tenancy token)   (see the README walk-through)");
            tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
            println!("stopping");
            running.stop().await;
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tenancy: {message}");
            ExitCode::FAILURE
        }
    }
}
