//! `tenantctl`, the operators' command line of Tenancy: a client of the HTTP API that
//! sends the domain's request types and reads its answers into the domain's types (the
//! same definitions the API and its OpenAPI document are built from).
//!
//! [`run`] is the whole program; `main` only hands it the arguments and the standard
//! streams, so tests drive it in-process.

pub mod args;
pub mod client;
pub mod dev_token;
pub mod render;
pub mod wait;

use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use reqwest::Method;
use reqwest::header::{HeaderName, IF_MATCH};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tenancy_domain::access::AccessView;
use tenancy_domain::audit::AuditEntry;
use tenancy_domain::credentials::CredentialProcess;
use tenancy_domain::grant::{Grant, GrantRequest, PortsRequest};
use tenancy_domain::infrastructure::Infrastructure;
use tenancy_domain::service::{AccessRequest, Me, NewInfrastructure, NewTenant, TenantPatch};
use tenancy_domain::views::{Items, Paged, TenantTypeView, TenantView};

use crate::args::{AccessCommand, Cli, Command, DevCommand, GrantCommand, InfraCommand, Output, Paging, TenantCommand};
use crate::client::{Answer, Client, Failure, exit};
use crate::wait::{Goal, encode};

/// Largest page the API serves.
const MAX_PAGE: u32 = 100;
/// The most pages a listing follows: 100,000 items at most, far beyond any real listing,
/// so that a server that always has another page cannot keep tenantctl going for ever.
const MAX_PAGES: usize = 1000;

/// Runs tenantctl with `args` (the program's name first), writing results to `out` and
/// progress and errors to `err`; returns the exit code.
pub async fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are "errors" that go to standard output with code 0.
            let text = error.render().to_string();
            let stream: &mut dyn Write = if error.use_stderr() { err } else { out };
            let _ = stream.write_all(text.as_bytes());
            return u8::try_from(error.exit_code()).unwrap_or(exit::USAGE);
        }
    };
    match execute(cli, out, err).await {
        Ok(()) => exit::OK,
        Err(failure) => {
            let _ = writeln!(err, "{failure}");
            failure.exit_code()
        }
    }
}

/// Where a command's results go, and in which form.
struct Printer<'a> {
    out: &'a mut dyn Write,
    output: Output,
}

impl Printer<'_> {
    fn text(&mut self, text: &str) -> Result<(), Failure> {
        self.out.write_all(text.as_bytes()).map_err(|e| Failure::Local(format!("cannot write the output: {e}")))
    }

    /// The API's JSON as is for `--output json`, otherwise the table.
    fn show(&mut self, json: &Value, table: impl FnOnce() -> String) -> Result<(), Failure> {
        match self.output {
            Output::Json => self.text(&format!("{}\n", serde_json::to_string_pretty(json).unwrap_or_default())),
            Output::Table => self.text(&table()),
        }
    }

    /// A line for people after a change that answers nothing (`204`); nothing for scripts,
    /// whose exit code says it all.
    fn done(&mut self, message: &str) -> Result<(), Failure> {
        match self.output {
            Output::Json => Ok(()),
            Output::Table => self.text(&format!("{message}\n")),
        }
    }
}

async fn execute(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), Failure> {
    let mut printer = Printer { out, output: cli.output };
    // Commands that need no API.
    match cli.command {
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tenantctl", &mut script);
            return printer.text(&String::from_utf8_lossy(&script));
        }
        Command::Dev(DevCommand::Token { user, admin, mut groups, email, ttl }) => {
            if admin && !groups.iter().any(|g| g == tenancy_domain::access::ADMIN_GROUP) {
                groups.push(tenancy_domain::access::ADMIN_GROUP.to_string());
            }
            let email = email.unwrap_or_else(|| format!("{user}@localhost"));
            let token = dev_token::mint_from_env(&dev_token::DevUser { sub: user, email, groups, ttl })
                .map_err(Failure::Local)?;
            return printer.text(&format!("{token}\n"));
        }
        _ => {}
    }
    let client = Client::new(&cli.api_url, cli.token, Duration::from_secs(cli.request_timeout.max(1)))?;
    match cli.command {
        Command::Infra(command) => infra(&client, command, &mut printer).await,
        Command::Tenant(command) => tenant(&client, command, &mut printer, err).await,
        Command::Access(command) => access(&client, command, &mut printer).await,
        Command::Grant(command) => grant(&client, command, &mut printer).await,
        Command::Credentials { name } => {
            let answer = client
                .send(Method::POST, &format!("/v1/tenants/{}/credentials", encode(&name)), &[], None::<&()>, &[])
                .await?;
            let credentials: CredentialProcess = answer.parse()?;
            printer.text(&render::credentials(&credentials))
        }
        Command::History { name, paging } => {
            let (items, json) =
                pages::<AuditEntry>(&client, &format!("/v1/tenants/{}/history", encode(&name)), &[], paging, err)
                    .await?;
            printer.show(&json, || render::history(&items))
        }
        Command::Me => {
            let (me, json) = me(&client, err).await?;
            printer.show(&json, || render::me(&me))
        }
        Command::Completions { .. } | Command::Dev(_) => Ok(()),
    }
}

/// Who the caller is, with every one of their tenants (`GET /v1/me` gives them a page at a
/// time, and a list that stopped at the first would hide some), and the merged answer as
/// JSON: the first page's fields as the API sent them, every page's tenants, and the
/// `nextCursor` where it stopped (absent at the end).
async fn me(client: &Client, err: &mut dyn Write) -> Result<(Me, Value), Failure> {
    let mut body = client.get("/v1/me", &[]).await?.body;
    let mut followed = std::collections::HashSet::new();
    loop {
        let next = body.get("nextCursor").and_then(Value::as_str).map(str::to_string);
        // A cursor seen before would loop for ever, and a server that always has another
        // page would too: the list ends there, with the cursor shown.
        let Some(cursor) = next.filter(|cursor| !followed.contains(cursor)) else { break };
        if followed.len() >= MAX_PAGES {
            let _ = writeln!(err, "(stopped after {MAX_PAGES} pages; the listing goes on at nextCursor)");
            break;
        }
        followed.insert(cursor.clone());
        let mut page = client.get("/v1/me", &[("cursor", cursor)]).await?.body;
        let tenants = page.get_mut("tenants").map(Value::take).unwrap_or_default();
        let Value::Array(tenants) = tenants else { return Err(Failure::Unreadable("tenants is not a list".into())) };
        if let Some(Value::Array(all)) = body.get_mut("tenants") {
            all.extend(tenants);
        }
        body["nextCursor"] = page.get("nextCursor").cloned().unwrap_or(Value::Null);
    }
    if body.get("nextCursor").is_some_and(Value::is_null)
        && let Some(fields) = body.as_object_mut()
    {
        fields.remove("nextCursor");
    }
    let me = Me::deserialize(&body).map_err(|e| Failure::Unreadable(e.to_string()))?;
    Ok((me, body))
}

/// Follows `nextCursor` until `paging` has what it asked for; returns the items and the
/// listing as JSON (`items` and the `nextCursor` where it stopped, `null` at the end).
async fn pages<T: DeserializeOwned>(
    client: &Client,
    path: &str,
    filters: &[(&str, String)],
    paging: Paging,
    err: &mut dyn Write,
) -> Result<(Vec<T>, Value), Failure> {
    let mut items = Vec::new();
    let mut raw = Vec::new();
    let mut cursor: Option<String> = None;
    let mut followed = std::collections::HashSet::new();
    loop {
        let wanted = if paging.all { MAX_PAGE } else { (paging.limit - items.len() as u32).min(MAX_PAGE) };
        let mut query = filters.to_vec();
        query.push(("limit", wanted.to_string()));
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.clone()));
        }
        let answer = client.get(path, &query).await?;
        let page: Paged<Value> = answer.parse()?;
        for item in page.items {
            items.push(T::deserialize(&item).map_err(|e| Failure::Unreadable(e.to_string()))?);
            raw.push(item);
        }
        // A cursor seen before would loop for ever, and a server that always has another
        // page would too (`--all`): the listing ends there, with the cursor shown.
        let next = page.next_cursor.filter(|next| !followed.contains(next));
        let satisfied = !paging.all && items.len() as u32 >= paging.limit;
        match next {
            Some(next) if !satisfied && followed.len() < MAX_PAGES => {
                followed.insert(next.clone());
                cursor = Some(next);
            }
            next => {
                if next.is_some() && !satisfied {
                    let _ = writeln!(err, "(stopped after {MAX_PAGES} pages; the listing goes on at nextCursor)");
                } else if next.is_some() {
                    let _ = writeln!(err, "(the first {} shown; --all shows every one)", items.len());
                }
                return Ok((items, json!({ "items": raw, "nextCursor": next })));
            }
        }
    }
}

async fn infra(client: &Client, command: InfraCommand, printer: &mut Printer<'_>) -> Result<(), Failure> {
    match command {
        InfraCommand::Create { name, region, vpc_id, environment } => {
            let request = NewInfrastructure { name, region, vpc_id, environment };
            let answer = client.send(Method::POST, "/v1/infrastructures", &[], Some(&request), &[]).await?;
            let created: Infrastructure = answer.parse()?;
            printer.show(&answer.body, || render::infrastructure(&created))
        }
        InfraCommand::List { paging } => {
            let (items, json) =
                pages::<Infrastructure>(client, "/v1/infrastructures", &[], paging, &mut std::io::sink()).await?;
            printer.show(&json, || render::infrastructures(&items))
        }
        InfraCommand::Get { name } => {
            let answer = client.get(&format!("/v1/infrastructures/{}", encode(&name)), &[]).await?;
            let infrastructure: Infrastructure = answer.parse()?;
            printer.show(&answer.body, || render::infrastructure(&infrastructure))
        }
        InfraCommand::Delete { name } => {
            client
                .send(Method::DELETE, &format!("/v1/infrastructures/{}", encode(&name)), &[], None::<&()>, &[])
                .await?;
            printer.done(&format!("infrastructure {name} deleted"))
        }
    }
}

/// Shows a tenant the API answered a change with, or, with `--wait`, waits for the
/// lifecycle and shows it as it ended.
async fn after_change(
    client: &Client,
    name: &str,
    answer: Answer,
    wait: Option<(Goal, u64)>,
    printer: &mut Printer<'_>,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    let Some((goal, seconds)) = wait else {
        let tenant: TenantView = answer.parse()?;
        return printer.show(&answer.body, || render::tenant(&tenant));
    };
    match wait::wait(client, name, goal, Duration::from_secs(seconds), err).await? {
        Some((tenant, body)) if tenant.state == tenancy_domain::tenant::TenantState::Deleted => {
            printer.show(&body, || format!("tenant {name} deleted\n"))
        }
        Some((tenant, body)) => printer.show(&body, || render::tenant(&tenant)),
        None => printer.done(&format!("tenant {name} deleted")),
    }
}

fn merge_patch(
    set: Vec<(String, String)>,
    unset: Vec<String>,
) -> Option<std::collections::BTreeMap<String, Option<String>>> {
    let patch: std::collections::BTreeMap<_, _> =
        set.into_iter().map(|(k, v)| (k, Some(v))).chain(unset.into_iter().map(|k| (k, None))).collect();
    (!patch.is_empty()).then_some(patch)
}

async fn tenant(
    client: &Client,
    command: TenantCommand,
    printer: &mut Printer<'_>,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    let path = |name: &str| format!("/v1/tenants/{}", encode(name));
    match command {
        TenantCommand::Create {
            name,
            infrastructure,
            tenant_type,
            settings,
            tags,
            deletion_protection,
            expires_at,
            idempotency_key,
            wait,
        } => {
            let request = NewTenant {
                name: name.clone(),
                infrastructure,
                tenant_type,
                settings: settings.into_iter().collect(),
                tags: tags.into_iter().collect(),
                deletion_protection,
                expires_at,
            };
            // A fresh key for every create: a create that timed out can be sent again
            // with `--idempotency-key` and the key printed below, and answers the same tenant.
            let key = idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let header = (HeaderName::from_static("idempotency-key"), key.clone());
            let answer = match client.send(Method::POST, "/v1/tenants", &[], Some(&request), &[header]).await {
                Err(Failure::Unreachable(why)) => {
                    return Err(Failure::Unreachable(format!(
                        "{why}\n  the tenant may have been asked for: send the same command with --idempotency-key {key}"
                    )));
                }
                other => other?,
            };
            if answer.headers.get("idempotent-replayed").is_some_and(|v| v == "true") {
                let _ =
                    writeln!(err, "(an earlier request with this Idempotency-Key asked for it: this is its answer)");
            }
            after_change(client, &name, answer, wait.wait.then_some((Goal::Settled, wait.timeout)), printer, err).await
        }
        TenantCommand::List { infrastructure, paging } => {
            let filters: Vec<(&str, String)> = infrastructure.map(|i| ("infrastructure", i)).into_iter().collect();
            let (items, json) = pages::<TenantView>(client, "/v1/tenants", &filters, paging, err).await?;
            printer.show(&json, || render::tenants(&items))
        }
        TenantCommand::Get { name } => {
            let answer = client.get(&path(&name), &[]).await?;
            let tenant: TenantView = answer.parse()?;
            printer.show(&answer.body, || render::tenant(&tenant))
        }
        TenantCommand::Update {
            name,
            settings,
            unset_settings,
            tags,
            untags,
            deletion_protection,
            expires_at,
            no_expiry,
            if_match,
            wait,
        } => {
            let patch = TenantPatch {
                settings: merge_patch(settings, unset_settings),
                tags: merge_patch(tags, untags),
                deletion_protection,
                expires_at: if no_expiry { Some(None) } else { expires_at.map(Some) },
            };
            if patch == TenantPatch::default() {
                return Err(Failure::Local(
                    "nothing to change: give --setting, --tag, --untag, --unset-setting, --deletion-protection, --expires-at or --no-expiry"
                        .into(),
                ));
            }
            let headers: Vec<_> = if_match.map(|v| (IF_MATCH, format!("\"{v}\""))).into_iter().collect();
            let answer = client.send(Method::PATCH, &path(&name), &[], Some(&patch), &headers).await?;
            after_change(client, &name, answer, wait.wait.then_some((Goal::Settled, wait.timeout)), printer, err).await
        }
        TenantCommand::Delete { name, wait } => {
            let answer = client.send(Method::DELETE, &path(&name), &[], None::<&()>, &[]).await?;
            after_change(client, &name, answer, wait.wait.then_some((Goal::Deleted, wait.timeout)), printer, err).await
        }
        TenantCommand::Retry { name, wait } => {
            let answer = client.send(Method::POST, &format!("{}/retry", path(&name)), &[], None::<&()>, &[]).await?;
            after_change(client, &name, answer, wait.wait.then_some((Goal::Settled, wait.timeout)), printer, err).await
        }
        TenantCommand::Types => {
            let answer = client.get("/v1/tenant-types", &[]).await?;
            let types: Items<TenantTypeView> = answer.parse()?;
            printer.show(&answer.body, || render::tenant_types(&types.items))
        }
        TenantCommand::Wait { name, timeout } => {
            let answer = client.get(&path(&name), &[]).await?;
            after_change(client, &name, answer, Some((Goal::Settled, timeout)), printer, err).await
        }
    }
}

async fn access(client: &Client, command: AccessCommand, printer: &mut Printer<'_>) -> Result<(), Failure> {
    match command {
        AccessCommand::List { tenant } => {
            let answer = client.get(&format!("/v1/tenants/{}/access", encode(&tenant)), &[]).await?;
            let list: Items<AccessView> = answer.parse()?;
            printer.show(&answer.body, || render::access(&list.items))
        }
        AccessCommand::Grant { tenant, user, role, expires_at, email } => {
            let request = AccessRequest { role, expires_at, email };
            let path = format!("/v1/tenants/{}/access/{}", encode(&tenant), encode(&user));
            let answer = client.send(Method::PUT, &path, &[], Some(&request), &[]).await?;
            let view: AccessView = answer.parse()?;
            printer.show(&answer.body, || render::access(std::slice::from_ref(&view)))
        }
        AccessCommand::Revoke { tenant, user } => {
            let path = format!("/v1/tenants/{}/access/{}", encode(&tenant), encode(&user));
            client.send(Method::DELETE, &path, &[], None::<&()>, &[]).await?;
            printer.done(&format!("access of {user} to {tenant} revoked"))
        }
    }
}

async fn grant(client: &Client, command: GrantCommand, printer: &mut Printer<'_>) -> Result<(), Failure> {
    match command {
        GrantCommand::List { tenant } => {
            let answer = client.get(&format!("/v1/tenants/{}/grants", encode(&tenant)), &[]).await?;
            let list: Items<Grant> = answer.parse()?;
            printer.show(&answer.body, || render::grants(&list.items))
        }
        GrantCommand::Create { tenant, to, protocol, ports, area, access, expires_at } => {
            let request = GrantRequest {
                to_tenant: to,
                protocol,
                ports: ports.map(|(from, to)| PortsRequest::Range { from: from.into(), to: to.into() }),
                area,
                access,
                expires_at,
            };
            let answer = client
                .send(Method::POST, &format!("/v1/tenants/{}/grants", encode(&tenant)), &[], Some(&request), &[])
                .await?;
            let grant: Grant = answer.parse()?;
            printer.show(&answer.body, || render::grant(&grant))
        }
        GrantCommand::Revoke { tenant, id } => {
            let path = format!("/v1/tenants/{}/grants/{}", encode(&tenant), encode(&id));
            let answer = client.send(Method::DELETE, &path, &[], None::<&()>, &[]).await?;
            let grant: Grant = answer.parse()?;
            printer.show(&answer.body, || render::grant(&grant))
        }
    }
}
