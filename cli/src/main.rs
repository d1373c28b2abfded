//! `tenancy`: run Tenancy locally against the AWS emulator (`dev`, `setup`), mint
//! development tokens (`token`), and run or package tenant-type plugins (`plugin run`,
//! `plugin package`). The commands and their flags are in [`tenancy_cli::args`];
//! `tenancy --help` and `tenancy <command> --help` print them. Configuration comes from
//! the environment (see the README).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::json;
use tenancy_app::{App, init_logging};
use tenancy_cli::args::{Cli, Command, PackageArgs, PluginCommand, RunArgs, TokenArgs};
use tenancy_cli::dev::{self, DevOptions};
use tenancy_cli::emulator::{self, LocalResources};

// The secret, issuer and audience of development tokens, read as `tenantctl dev token`
// reads them: the runner verifies what either command mints.
use tenantctl::dev_token::{
    audience_from_env as dev_jwt_audience, issuer_from_env as dev_jwt_issuer, secret_from_env as secret,
};

fn local_resources(app: &App) -> LocalResources {
    LocalResources {
        deployment: app.settings.deployment.clone(),
        table: app.settings.table.clone(),
        bus: app.settings.bus.clone(),
        queue: format!("{}-lifecycle", app.settings.bus),
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Token(args) => token(args),
        Command::Plugin(PluginCommand::Run(args)) => plugin_run(args),
        Command::Plugin(PluginCommand::Package(args)) => plugin_package(args),
        Command::Setup => {
            let app = App::from_env().await.map_err(|e| e.to_string())?;
            let prepared = emulator::prepare(&app.sdk, &local_resources(&app)).await.map_err(|e| e.to_string())?;
            println!("{}", json!({ "queueUrl": prepared.queue_url, "demoVpcId": prepared.vpc_id }));
            Ok(())
        }
        Command::Dev { port } => {
            let secret = secret()?;
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
            println!(
                "Get a token:  export TENANCY_TOKEN=$(tenantctl dev token --admin)   (see the README walk-through)"
            );
            tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
            println!("stopping");
            running.stop().await;
            Ok(())
        }
    }
}

fn token(args: TokenArgs) -> Result<(), String> {
    let mut groups = args.groups;
    if groups.is_empty() {
        groups.push(tenancy_domain::access::ADMIN_GROUP.into());
    }
    let user = tenantctl::dev_token::DevUser { sub: args.sub, email: args.email, groups, ttl: args.ttl };
    println!("{}", tenantctl::dev_token::mint_from_env(&user)?);
    Ok(())
}

fn plugin_run(args: RunArgs) -> Result<(), String> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let wasm = read(&args.file)?;
    let tenant = String::from_utf8(read(&args.tenant)?).map_err(|_| "the tenant file is not UTF-8")?;
    let grant = args.grant.as_deref().map(read).transpose()?.map(|g| String::from_utf8_lossy(&g).into_owned());
    let stem = args.file.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin").to_string();
    let mut vpc_cidrs = args.vpc_cidrs;
    if vpc_cidrs.is_empty() {
        vpc_cidrs.push(tenancy_cli::plugin_run::DEFAULT_VPC_CIDR.into());
    }
    let request = tenancy_cli::plugin_run::RunRequest {
        wasm: &wasm,
        plugin: args.name.as_deref().unwrap_or(&stem),
        hook: &args.hook,
        tenant: &tenant,
        grant: grant.as_deref(),
        allowances: tenancy_domain::plan::Allowances { public_ingress: args.public_ingress },
        vpc_cidrs: &vpc_cidrs,
    };
    let report = tenancy_cli::plugin_run::run(request)?;
    println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    Ok(())
}

fn plugin_package(args: PackageArgs) -> Result<(), String> {
    use tenancy_plugin_host::registry;
    let manifest = if args.targets.is_empty() {
        registry::package(&args.types, &args.wasm_dir, &args.out)
    } else {
        registry::package_for(&args.targets, &args.types, &args.wasm_dir, &args.out)
    }
    .map_err(|e| format!("{e} (build the plugins first: scripts/build-plugins.sh)"))?;
    for entry in &manifest.types {
        let d = &entry.declaration;
        println!("{:<16} {}@{}  {}  {}", d.name, d.plugin, d.version, entry.sha256, entry.file);
        for artifact in &entry.precompiled {
            println!(
                "{:<16} precompiled  {}  {}  ({}, engine {})",
                "", artifact.sha256, artifact.file, artifact.target, artifact.compatibility_key
            );
        }
    }
    println!("wrote {}/{}", args.out.display(), tenancy_plugin_host::registry::MANIFEST_FILE);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tenancy: {message}");
            ExitCode::FAILURE
        }
    }
}
