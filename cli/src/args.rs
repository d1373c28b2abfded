//! The `tenancy` command line: its commands, flags and defaults, declared for clap. The
//! scripts, the Makefile and the README call these; the tests below parse their
//! invocations.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// What the help says of the configuration read from the environment.
pub const ENVIRONMENT: &str = "Configuration comes from the environment (see the README): TENANCY_AWS_ENDPOINT, \
     AWS_REGION, TENANCY_TABLE, TENANCY_EVENT_BUS, TENANCY_PLUGINS, TENANCY_DEV_JWT_SECRET, \
     TENANCY_DEV_JWT_ISSUER, TENANCY_DEV_JWT_AUDIENCE.";

/// Runs Tenancy locally against the AWS emulator, mints development tokens, and runs
/// plugin hooks for plugin authors.
#[derive(Debug, Parser)]
#[command(name = "tenancy", version, after_help = ENVIRONMENT)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and run the lifecycle worker against the emulator, until Ctrl-C.
    Dev {
        /// The port to serve on, on 127.0.0.1.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Print a development token (HS256, signed with TENANCY_DEV_JWT_SECRET).
    Token(TokenArgs),
    /// Create the table, bus, rule, queue and demo VPC on the emulator, and print the
    /// queue URL and the demo VPC's id as JSON.
    Setup,
    /// Tenant-type plugins: run a hook, package the declared types.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user id (`sub`).
    #[arg(long, value_name = "ID", default_value = "local-admin")]
    pub sub: String,
    /// The user's email.
    #[arg(long, value_name = "EMAIL", default_value = "admin@localhost")]
    pub email: String,
    /// A group the user is in (`cognito:groups`); repeat for several. Without one, the
    /// admin group.
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// The token's lifetime, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub ttl: i64,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Run one hook of a plugin as the lifecycle would (same host, limits and plan
    /// validation) and print what it returned and what it cost, as JSON.
    Run(RunArgs),
    /// Precompile the declared tenant types and write their manifest beside the binaries.
    Package(PackageArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plugin's `.wasm`.
    #[arg(value_name = "FILE.wasm")]
    pub file: PathBuf,
    /// The hook: validate, on-create, on-delete or on-grant-access.
    #[arg(long)]
    pub hook: String,
    /// The tenant, as JSON: `name`, and optionally `infrastructure`, `environment`,
    /// `type`, `settings`, `tags`.
    #[arg(long, value_name = "TENANT.json")]
    pub tenant: PathBuf,
    /// The grant, as JSON, for on-grant-access.
    #[arg(long, value_name = "GRANT.json")]
    pub grant: Option<PathBuf>,
    /// The plugin's name, as the registry would know it. Defaults to the file's stem.
    #[arg(long)]
    pub name: Option<String>,
    /// Let the plan open the tenant's group to the internet, as an admin enabling the
    /// `public-ingress` capability would.
    #[arg(long)]
    pub public_ingress: bool,
    /// A CIDR block of the infrastructure's VPC the plan is checked against; repeat for
    /// several. Without one, 10.0.0.0/16.
    #[arg(long = "vpc-cidr", value_name = "CIDR")]
    pub vpc_cidrs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    /// The tenant types' declarations.
    #[arg(long, value_name = "FILE", default_value = "plugins/tenant-types.json")]
    pub types: PathBuf,
    /// Where the built `.wasm` files are.
    #[arg(long, value_name = "DIR", default_value = "plugins/target/wasm32-wasip2/release")]
    pub wasm_dir: PathBuf,
    /// Where to write the package: the binaries, their precompiled artifacts and
    /// manifest.json.
    #[arg(long, value_name = "DIR", default_value = "plugins/dist")]
    pub out: PathBuf,
    /// A target to precompile for, as a triple (`aarch64-unknown-linux-gnu` for an arm64
    /// Lambda, `x86_64-unknown-linux-gnu`); repeat for several. Default: this machine's.
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    fn parse(line: &str) -> Command {
        Cli::try_parse_from(line.split_whitespace()).unwrap_or_else(|e| panic!("{line}: {e}")).command
    }

    #[test]
    fn the_declarations_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dev_serves_on_8080_unless_told() {
        assert!(matches!(parse("tenancy dev"), Command::Dev { port: 8080 }));
        assert!(matches!(parse("tenancy dev --port 9000"), Command::Dev { port: 9000 }));
        assert!(Cli::try_parse_from(["tenancy", "dev", "--port", "http"]).is_err());
    }

    #[test]
    fn a_token_defaults_to_the_local_admin_for_an_hour() {
        let Command::Token(token) = parse("tenancy token") else { panic!("not token") };
        assert_eq!((token.sub.as_str(), token.email.as_str(), token.ttl), ("local-admin", "admin@localhost", 3600));
        assert!(token.groups.is_empty(), "the admin group is added when none is given");

        let line = "tenancy token --sub john --email j@example.com --group developers --group readers --ttl 60";
        let Command::Token(token) = parse(line) else { panic!("not token") };
        assert_eq!((token.sub.as_str(), token.email.as_str(), token.ttl), ("john", "j@example.com", 60));
        assert_eq!(token.groups, ["developers", "readers"]);
    }

    #[test]
    fn setup_takes_nothing() {
        assert!(matches!(parse("tenancy setup"), Command::Setup));
    }

    #[test]
    fn plugin_run_takes_the_file_hook_and_tenant_and_the_rest_is_optional() {
        // The README's invocation.
        let line = "tenancy plugin run plugins/target/wasm32-wasip2/release/per_client.wasm --hook on-create \
                    --tenant tenant.json";
        let Command::Plugin(PluginCommand::Run(run)) = parse(line) else { panic!("not plugin run") };
        assert_eq!(run.file, PathBuf::from("plugins/target/wasm32-wasip2/release/per_client.wasm"));
        assert_eq!((run.hook.as_str(), run.tenant.to_str()), ("on-create", Some("tenant.json")));
        assert!(run.grant.is_none() && run.name.is_none() && !run.public_ingress && run.vpc_cidrs.is_empty());

        let line = "tenancy plugin run p.wasm --hook on-grant-access --tenant t.json --grant g.json --name p \
                    --public-ingress --vpc-cidr 10.1.0.0/16 --vpc-cidr 10.2.0.0/16";
        let Command::Plugin(PluginCommand::Run(run)) = parse(line) else { panic!("not plugin run") };
        assert_eq!((run.grant.unwrap().to_str(), run.name.as_deref()), (Some("g.json"), Some("p")));
        assert!(run.public_ingress);
        assert_eq!(run.vpc_cidrs, ["10.1.0.0/16", "10.2.0.0/16"]);

        for missing in ["tenancy plugin run p.wasm --tenant t.json", "tenancy plugin run p.wasm --hook validate"] {
            assert!(Cli::try_parse_from(missing.split_whitespace()).is_err(), "{missing}");
        }
        assert!(Cli::try_parse_from("tenancy plugin run --hook validate --tenant t.json".split_whitespace()).is_err());
    }

    #[test]
    fn plugin_package_defaults_to_the_repository_layout() {
        let Command::Plugin(PluginCommand::Package(package)) = parse("tenancy plugin package") else {
            panic!("not plugin package")
        };
        assert_eq!(package.types, PathBuf::from("plugins/tenant-types.json"));
        assert_eq!(package.wasm_dir, PathBuf::from("plugins/target/wasm32-wasip2/release"));
        assert_eq!(package.out, PathBuf::from("plugins/dist"));

        // scripts/package-plugins.sh's invocation.
        let line = "tenancy plugin package --types plugins/tenant-types.json \
                    --wasm-dir plugins/target/wasm32-wasip2/release --out /tmp/dist";
        let Command::Plugin(PluginCommand::Package(package)) = parse(line) else { panic!("not plugin package") };
        assert_eq!(package.out, PathBuf::from("/tmp/dist"));
    }

    #[test]
    fn no_command_or_an_unknown_one_is_refused() {
        assert!(Cli::try_parse_from(["tenancy"]).is_err());
        assert!(Cli::try_parse_from(["tenancy", "serve"]).is_err());
        assert!(Cli::try_parse_from(["tenancy", "plugin"]).is_err());
    }
}
