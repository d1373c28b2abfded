//! The command line: every command and flag, as `tenantctl --help` prints them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use tenancy_domain::access::Role;
use tenancy_domain::grant::AccessLevel;
use tenancy_domain::infrastructure::Environment;

/// What `--help` says after the commands: configuration and exit codes.
const AFTER_HELP: &str = "\
Configuration:
  TENANCY_API_URL   the API's base URL (--api-url), default http://127.0.0.1:8080 (make dev)
  TENANCY_TOKEN     a bearer token (--token); for the local run: tenantctl dev token --admin

Exit codes:
  0  success
  1  an answer tenantctl could not read, or a local problem (a file, the terminal)
  2  usage: a command, flag or value is wrong
  3  the API refused the request (4xx): its title and detail are printed
  4  the API failed (5xx)
  5  the API could not be reached, or did not answer in time
  6  a tenant waited for failed: the step and its reason are printed
  7  a wait ran out of time while the tenant was still changing";

/// The operators' command line of Tenancy: infrastructures, tenants, access, grants,
/// credentials and history, through the HTTP API.
#[derive(Debug, Parser)]
#[command(name = "tenantctl", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// The API's base URL.
    #[arg(long, global = true, env = "TENANCY_API_URL", value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub api_url: String,
    /// The bearer token.
    #[arg(long, global = true, env = "TENANCY_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// How to print answers: tables for people, the API's JSON for scripts.
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// How long one request may take, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30)]
    pub request_timeout: u64,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// How answers are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables.
    Table,
    /// The API's JSON, as it answered.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Infrastructures: the VPCs tenants live in.
    #[command(subcommand, name = "infra")]
    Infra(InfraCommand),
    /// Tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Who has a role on a tenant.
    #[command(subcommand)]
    Access(AccessCommand),
    /// Tenant-to-tenant grants (network and IAM).
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Short-lived AWS credentials of a tenant's role, as JSON for `credential_process`:
    /// in ~/.aws/config, `credential_process = tenantctl credentials NAME`.
    Credentials {
        /// The tenant.
        name: String,
    },
    /// A tenant's audit trail, newest first.
    History {
        /// The tenant.
        name: String,
        #[command(flatten)]
        paging: Paging,
    },
    /// Who you are to Tenancy, and your tenants.
    Me,
    /// Helpers for the local run (`make dev`).
    #[command(subcommand)]
    Dev(DevCommand),
    /// Prints a shell completion script: `source <(tenantctl completions bash)`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// How much of a listing to fetch.
#[derive(Debug, Clone, Copy, Args)]
pub struct Paging {
    /// Show at most this many (pages are followed until there are as many).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Show every one, however many pages that takes.
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
}

/// Infrastructure commands.
#[derive(Debug, Subcommand)]
pub enum InfraCommand {
    /// Registers a VPC as an infrastructure.
    Create {
        /// Its name.
        name: String,
        /// The VPC's region.
        #[arg(long)]
        region: String,
        /// The VPC (`vpc-...`).
        #[arg(long)]
        vpc_id: String,
        /// `prod` or `nonprod`.
        #[arg(long, value_parser = parse_environment)]
        environment: Environment,
    },
    /// Lists infrastructures.
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// Shows one infrastructure.
    Get {
        /// Its name.
        name: String,
    },
    /// Deletes an infrastructure that has no tenants left.
    Delete {
        /// Its name.
        name: String,
    },
}

/// How a command that changes a tenant waits for the lifecycle.
#[derive(Debug, Clone, Copy, Args)]
pub struct Wait {
    /// Wait until the lifecycle is done, showing each step; exit 6 if it fails.
    #[arg(long)]
    pub wait: bool,
    /// How long to wait, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 900, requires = "wait")]
    pub timeout: u64,
}

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Asks for a new tenant.
    Create {
        /// Its name.
        name: String,
        /// The infrastructure to create it in.
        #[arg(long, short)]
        infrastructure: String,
        /// The tenant type (`tenantctl tenant types`); `default` when absent.
        #[arg(long = "type", value_name = "TYPE")]
        tenant_type: Option<String>,
        /// A setting, `KEY=VALUE`; repeat for several.
        #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_pair)]
        settings: Vec<(String, String)>,
        /// A tag, `KEY=VALUE`; repeat for several.
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_pair)]
        tags: Vec<(String, String)>,
        /// Deletion protection (on by default in `prod` infrastructures).
        #[arg(long, value_name = "BOOL")]
        deletion_protection: Option<bool>,
        /// When the tenant ends (RFC 3339, e.g. 2027-06-30T00:00:00Z): the sweep deletes it then.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        expires_at: Option<time::OffsetDateTime>,
        /// The request's `Idempotency-Key` (a fresh one by default): sending the same
        /// create again with the same key answers the first tenant instead of a conflict.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
        #[command(flatten)]
        wait: Wait,
    },
    /// Lists tenants.
    List {
        /// Only the tenants of this infrastructure.
        #[arg(long, short)]
        infrastructure: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Shows a tenant: its state, and per resource whether it is ready and why not.
    Get {
        /// Its name.
        name: String,
    },
    /// Changes a tenant's settings, tags or deletion protection.
    Update {
        /// Its name.
        name: String,
        /// Sets a setting, `KEY=VALUE`; repeat for several.
        #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_pair)]
        settings: Vec<(String, String)>,
        /// Removes a setting; repeat for several.
        #[arg(long = "unset-setting", value_name = "KEY")]
        unset_settings: Vec<String>,
        /// Sets a tag, `KEY=VALUE`; repeat for several.
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_pair)]
        tags: Vec<(String, String)>,
        /// Removes a tag; repeat for several.
        #[arg(long = "untag", value_name = "KEY")]
        untags: Vec<String>,
        /// Turns deletion protection on or off.
        #[arg(long, value_name = "BOOL")]
        deletion_protection: Option<bool>,
        /// Sets when the tenant ends (RFC 3339).
        #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with = "no_expiry")]
        expires_at: Option<time::OffsetDateTime>,
        /// Removes the tenant's end.
        #[arg(long)]
        no_expiry: bool,
        /// Only if the tenant is still at this version (`tenantctl tenant get` shows it).
        #[arg(long, value_name = "VERSION")]
        if_match: Option<u64>,
        #[command(flatten)]
        wait: Wait,
    },
    /// Deletes a tenant and every resource it owns.
    Delete {
        /// Its name.
        name: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Runs a failed tenant's operation again.
    Retry {
        /// Its name.
        name: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Lists the tenant types.
    Types,
    /// Waits until a tenant's operation is done, showing each step; exit 6 if it failed.
    Wait {
        /// Its name.
        name: String,
        /// How long to wait, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 900)]
        timeout: u64,
    },
}

/// Access commands.
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Lists who has a role on a tenant.
    List {
        /// The tenant.
        tenant: String,
    },
    /// Gives a user a role on a tenant, or changes it.
    Grant {
        /// The tenant.
        tenant: String,
        /// The user's subject (`sub`).
        user: String,
        /// The role.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// When the access ends (RFC 3339).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        expires_at: Option<time::OffsetDateTime>,
        /// The user's e-mail, for tenant types that decide by it.
        #[arg(long)]
        email: Option<String>,
    },
    /// Takes a user's role on a tenant away.
    Revoke {
        /// The tenant.
        tenant: String,
        /// The user's subject.
        user: String,
    },
}

/// Grant commands.
#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Lists the grants a tenant gave or received.
    List {
        /// The tenant.
        tenant: String,
    },
    /// Opens a tenant to another: the network (`--protocol` and `--ports`) or an IAM area
    /// (`--area` and `--access`).
    Create {
        /// The granting tenant.
        tenant: String,
        /// The tenant it opens to.
        #[arg(long)]
        to: String,
        /// Network: `tcp` or `udp`.
        #[arg(long, requires = "ports", conflicts_with_all = ["area", "access"])]
        protocol: Option<String>,
        /// Network: a port (`5432`) or a range (`8000-8080`).
        #[arg(long, requires = "protocol", value_parser = parse_ports)]
        ports: Option<(u16, u16)>,
        /// IAM: the area (`s3`, `kms`...).
        #[arg(long, requires = "access")]
        area: Option<String>,
        /// IAM: read or write.
        #[arg(long, requires = "area", value_parser = parse_access_level)]
        access: Option<AccessLevel>,
        /// When it stops (RFC 3339).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        expires_at: Option<time::OffsetDateTime>,
    },
    /// Revokes a grant.
    Revoke {
        /// The granting tenant.
        tenant: String,
        /// The grant's id.
        id: String,
    },
}

/// Local-run helpers.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Mints a token the local run accepts (signed with TENANCY_DEV_JWT_SECRET, for
    /// TENANCY_DEV_JWT_ISSUER and TENANCY_DEV_JWT_AUDIENCE): `export TENANCY_TOKEN=$(tenantctl dev token --admin)`.
    Token {
        /// The user (`sub`).
        #[arg(long, value_name = "NAME", default_value = "local-admin")]
        user: String,
        /// Puts the user in the platform admins' group.
        #[arg(long)]
        admin: bool,
        /// A group the user is in; repeat for several.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// The user's e-mail; `NAME@localhost` by default.
        #[arg(long)]
        email: Option<String>,
        /// The token's lifetime, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(1..=86_400))]
        ttl: i64,
    },
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("'{text}' is not KEY=VALUE")),
    }
}

fn parse_ports(text: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| p.trim().parse::<u16>().ok().filter(|p| *p >= 1);
    let range = match text.split_once('-') {
        Some((from, to)) => port(from).zip(port(to)),
        None => port(text).map(|p| (p, p)),
    };
    range.filter(|(from, to)| from <= to).ok_or_else(|| format!("'{text}' is not a port (1-65535) or a range FROM-TO"))
}

fn parse_time(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("'{text}' is not an RFC 3339 time, e.g. 2030-01-31T00:00:00Z"))
}

/// A value of one of the domain's enums, by its JSON name: the CLI accepts exactly what the
/// API does.
fn parse_json_name<T: serde::de::DeserializeOwned>(text: &str, what: &str, names: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| format!("'{text}' is not {what}; use {names}"))
}

fn parse_environment(text: &str) -> Result<Environment, String> {
    parse_json_name(text, "an environment", "prod or nonprod")
}

fn parse_role(text: &str) -> Result<Role, String> {
    parse_json_name(text, "a role", "read-only, user or admin")
}

fn parse_access_level(text: &str) -> Result<AccessLevel, String> {
    parse_json_name(text, "an access level", "read or write")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tenantctl").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn create_reads_repeated_pairs_and_the_wait() {
        let cli = parse(&[
            "tenant",
            "create",
            "payments",
            "-i",
            "shared-1",
            "--tag",
            "team=pay",
            "--tag",
            "cost=a=b",
            "--setting",
            "size=s",
            "--wait",
            "--timeout",
            "60",
        ])
        .unwrap();
        let Command::Tenant(TenantCommand::Create { name, tags, settings, wait, .. }) = cli.command else {
            panic!("not a create: {cli:?}")
        };
        assert_eq!(name, "payments");
        assert_eq!(tags, [("team".to_string(), "pay".to_string()), ("cost".to_string(), "a=b".to_string())]);
        assert_eq!(settings, [("size".to_string(), "s".to_string())]);
        assert!(wait.wait);
        assert_eq!(wait.timeout, 60);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["tenant", "create", "x", "-i", "y", "--tag", "novalue"][..],
            &["tenant", "delete", "x", "--timeout", "5"],
            &["infra", "create", "x", "--region", "r", "--vpc-id", "v", "--environment", "staging"],
            &["access", "grant", "t", "u", "--role", "emperor"],
            &["grant", "create", "t", "--to", "u", "--protocol", "tcp", "--ports", "90-80"],
            &["grant", "create", "t", "--to", "u", "--protocol", "tcp"],
            &["tenant", "list", "--limit", "0"],
            &["tenant", "list", "--limit", "5", "--all"],
            &["history", "t", "--cursor", "x"],
        ] {
            let error = parse(args).expect_err(&format!("{args:?} parsed"));
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn ports_are_one_port_or_a_range() {
        assert_eq!(parse_ports("5432"), Ok((5432, 5432)));
        assert_eq!(parse_ports("8000-8080"), Ok((8000, 8080)));
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("70000").is_err());
    }

    #[test]
    fn the_global_flags_go_anywhere() {
        let cli = parse(&["tenant", "list", "-o", "json", "--api-url", "http://x:1", "--token", "t"]).unwrap();
        assert_eq!(cli.output, Output::Json);
        assert_eq!(cli.api_url, "http://x:1");
        assert_eq!(cli.token.as_deref(), Some("t"));
    }
}
