//! Tables for people. Scripts use `--output json`, which prints the API's JSON instead.

use std::collections::BTreeMap;

use comfy_table::{Cell, ContentArrangement, Table, presets};
use tenancy_domain::access::AccessView;
use tenancy_domain::audit::AuditEntry;
use tenancy_domain::credentials::CredentialProcess;
use tenancy_domain::grant::{Grant, GrantKind};
use tenancy_domain::infrastructure::Infrastructure;
use tenancy_domain::service::Me;
use tenancy_domain::views::{TenantTypeView, TenantView};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A table with a header row and columns padded to their content, like `kubectl get`.
fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(header.iter().map(Cell::new));
    table
}

/// Two columns: what and its value.
fn fields(rows: &[(&str, String)]) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    for (name, value) in rows {
        table.add_row([format!("{name}:"), value.clone()]);
    }
    lines(&table)
}

/// The table's text without the padding at either end of its lines (each cell is padded
/// by a space on both sides), one newline at the end.
fn lines(table: &Table) -> String {
    let mut text: String =
        table.lines().map(|line| format!("{}\n", line.strip_prefix(' ').unwrap_or(&line).trim_end())).collect();
    if text.is_empty() {
        text.push('\n');
    }
    text
}

fn when(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0).unwrap_or(at).format(&Rfc3339).unwrap_or_default()
}

fn when_opt(at: Option<OffsetDateTime>) -> String {
    at.map(when).unwrap_or_else(|| "-".into())
}

fn pairs(map: &BTreeMap<String, String>) -> String {
    if map.is_empty() {
        return "-".into();
    }
    map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// Text for an enum by its JSON name (`read-only`, `nonprod`...): the API's words.
pub(crate) fn json_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// Infrastructures, one a row.
pub fn infrastructures(items: &[Infrastructure]) -> String {
    let mut t = table(&["NAME", "REGION", "VPC", "ENVIRONMENT", "TENANTS", "CREATED"]);
    for i in items {
        t.add_row([
            i.name.to_string(),
            i.region.clone(),
            i.vpc_id.clone(),
            i.environment.to_string(),
            i.tenant_count.to_string(),
            when(i.created_at),
        ]);
    }
    lines(&t)
}

/// One infrastructure.
pub fn infrastructure(i: &Infrastructure) -> String {
    fields(&[
        ("Name", i.name.to_string()),
        ("Region", i.region.clone()),
        ("VPC", i.vpc_id.clone()),
        ("Environment", i.environment.to_string()),
        ("CIDR blocks", if i.cidr_blocks.is_empty() { "-".into() } else { i.cidr_blocks.join(", ") }),
        ("Tenants", i.tenant_count.to_string()),
        ("Created", format!("{} by {}", when(i.created_at), i.created_by)),
    ])
}

/// Tenants, one a row.
pub fn tenants(items: &[TenantView]) -> String {
    let mut t = table(&["NAME", "INFRASTRUCTURE", "TYPE", "STATE", "PROTECTED", "UPDATED"]);
    for tenant in items {
        t.add_row([
            tenant.name.to_string(),
            tenant.infrastructure.to_string(),
            tenant.tenant_type.clone(),
            tenant.state.to_string(),
            yes_no(tenant.deletion_protection).to_string(),
            when(tenant.updated_at),
        ]);
    }
    lines(&t)
}

/// One tenant: its fields, then its resources with why each is or is not ready.
pub fn tenant(tenant: &TenantView) -> String {
    let mut rows = vec![
        ("Name", tenant.name.to_string()),
        ("Id", tenant.id.to_string()),
        ("Infrastructure", format!("{} ({})", tenant.infrastructure, tenant.environment)),
        ("Type", tenant.tenant_type.clone()),
        ("State", tenant.state.to_string()),
        ("Deletion protection", yes_no(tenant.deletion_protection).into()),
        ("Tags", pairs(&tenant.tags)),
        ("Settings", pairs(&tenant.settings)),
        ("Requested by", format!("{} at {}", tenant.requested_by.id, when(tenant.requested_by.at))),
        ("Created", when(tenant.created_at)),
        ("Updated", when(tenant.updated_at)),
        ("Version", tenant.version.to_string()),
    ];
    if let Some(failure) = &tenant.failure {
        rows.push((
            "Failed",
            format!("{} at step '{}': {}", json_name(&failure.operation), failure.step, failure.error),
        ));
    }
    if let Some(retrying) = &tenant.retrying {
        rows.push(("Retrying", format!("step '{}' since {}: {}", retrying.step, when(retrying.since), retrying.error)));
    }
    if !tenant.leftovers.is_empty() {
        rows.push(("Leftovers", tenant.leftovers.join(", ")));
    }
    let mut text = fields(&rows);
    let mut t = table(&["RESOURCE", "READY", "REASON", "ID", "MESSAGE"]);
    for r in &tenant.resources {
        t.add_row([
            r.kind.to_string(),
            yes_no(r.ready).to_string(),
            r.reason.clone(),
            r.id.clone().unwrap_or_else(|| "-".into()),
            r.message.clone().unwrap_or_default(),
        ]);
    }
    text.push('\n');
    text.push_str(&lines(&t));
    text
}

/// The tenant types.
pub fn tenant_types(items: &[TenantTypeView]) -> String {
    let mut t = table(&["NAME", "PLUGIN", "VERSION", "HOOKS", "DESCRIPTION"]);
    for ty in items {
        let plugin = if ty.built_in { "(built in)".to_string() } else { ty.plugin.clone().unwrap_or_default() };
        let hooks = ty.hooks.iter().map(json_name).collect::<Vec<_>>().join(",");
        t.add_row([
            ty.name.clone(),
            plugin,
            ty.version.clone().unwrap_or_else(|| "-".into()),
            if hooks.is_empty() { "-".into() } else { hooks },
            ty.description.clone(),
        ]);
    }
    lines(&t)
}

/// A tenant's access list.
pub fn access(items: &[AccessView]) -> String {
    let mut t = table(&["USER", "ROLE", "EMAIL", "EXPIRES", "ACTIVE", "GRANTED BY"]);
    for view in items {
        let e = &view.entry;
        t.add_row([
            e.user.clone(),
            json_name(&e.role),
            e.email.clone().unwrap_or_else(|| "-".into()),
            when_opt(e.expires_at),
            yes_no(view.active).to_string(),
            format!("{} at {}", e.granted_by, when(e.granted_at)),
        ]);
    }
    lines(&t)
}

fn grant_detail(kind: &GrantKind) -> (String, String) {
    match kind {
        GrantKind::Network { protocol, ports } if ports.from == ports.to => {
            ("network".into(), format!("{protocol}/{}", ports.from))
        }
        GrantKind::Network { protocol, ports } => ("network".into(), format!("{protocol}/{}-{}", ports.from, ports.to)),
        GrantKind::Iam { area, access } => ("iam".into(), format!("{area} {}", json_name(access))),
    }
}

/// Grants.
pub fn grants(items: &[Grant]) -> String {
    let mut t = table(&["ID", "FROM", "TO", "KIND", "OPENS", "STATUS", "EXPIRES", "ERROR"]);
    for g in items {
        let (kind, opens) = grant_detail(&g.kind);
        t.add_row([
            g.id.to_string(),
            g.from_tenant.to_string(),
            g.to_tenant.to_string(),
            kind,
            opens,
            json_name(&g.status),
            when_opt(g.expires_at),
            g.error.clone().unwrap_or_default(),
        ]);
    }
    lines(&t)
}

/// One grant.
pub fn grant(g: &Grant) -> String {
    grants(std::slice::from_ref(g))
}

/// An audit trail.
pub fn history(items: &[AuditEntry]) -> String {
    let mut t = table(&["AT", "ACTION", "BY", "DETAIL"]);
    for e in items {
        let detail = match &e.detail {
            serde_json::Value::Null => String::new(),
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            other => other.to_string(),
        };
        t.add_row([when(e.at), json_name(&e.action), format!("{} ({})", e.actor.id, json_name(&e.actor.via)), detail]);
    }
    lines(&t)
}

/// Who the caller is, and their tenants.
pub fn me(me: &Me) -> String {
    let mut text = fields(&[
        ("User", me.id.clone()),
        ("E-mail", me.email.clone().unwrap_or_else(|| "-".into())),
        ("Groups", if me.groups.is_empty() { "-".into() } else { me.groups.join(", ") }),
        ("Platform admin", yes_no(me.platform_admin).into()),
    ]);
    let mut t = table(&["TENANT", "INFRASTRUCTURE", "STATE", "ROLE", "EXPIRES"]);
    for mine in &me.tenants {
        t.add_row([
            mine.name.to_string(),
            mine.infrastructure.to_string(),
            mine.state.to_string(),
            json_name(&mine.role),
            when_opt(mine.expires_at),
        ]);
    }
    text.push('\n');
    text.push_str(&lines(&t));
    text
}

/// Credentials in the `credential_process` shape, whatever `--output` says: that is what
/// the AWS CLI reads from the command's standard output.
pub fn credentials(credentials: &CredentialProcess) -> String {
    format!("{}\n", serde_json::to_string(credentials).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tenant_json(state: &str) -> serde_json::Value {
        json!({
            "id": "6f1c1e0e-8a5e-4b8a-9d8e-1f2a3b4c5d6e", "name": "payments", "infrastructure": "shared-1",
            "environment": "nonprod", "type": "default", "state": state, "settings": {},
            "tags": { "team": "pay" }, "deletionProtection": false,
            "resources": [
                { "kind": "securityGroup", "id": "sg-1", "ready": true, "reason": "Created", "lastTransitionTime": "2026-01-01T00:00:00Z" },
                { "kind": "role", "ready": false, "reason": "Failed", "message": "AccessDenied", "lastTransitionTime": "2026-01-01T00:00:00Z" }
            ],
            "failure": { "operation": "create", "step": "role", "error": "AccessDenied: no", "at": "2026-01-01T00:00:01Z" },
            "requestedBy": { "id": "anna", "via": "api", "at": "2026-01-01T00:00:00Z" },
            "attempts": 1, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:01.5Z", "version": 3,
            "aFieldFromANewerServer": [1, 2]
        })
    }

    #[test]
    fn a_tenant_list_is_one_row_a_tenant_under_a_header() {
        let tenant: TenantView = serde_json::from_value(tenant_json("active")).unwrap();
        let text = tenants(&[tenant]);
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(rows[0], ["NAME", "INFRASTRUCTURE", "TYPE", "STATE", "PROTECTED", "UPDATED"]);
        assert_eq!(rows[1], ["payments", "shared-1", "default", "active", "no", "2026-01-01T00:00:01Z"]);
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn a_failed_tenant_shows_the_step_and_the_cloud_error() {
        let tenant: TenantView = serde_json::from_value(tenant_json("failed")).unwrap();
        let text = super::tenant(&tenant);
        assert!(text.contains("Failed:") && text.contains("create at step 'role': AccessDenied: no"), "{text}");
        let role = text.lines().find(|l| l.starts_with("role")).expect("a row for the role");
        assert_eq!(role.split_whitespace().collect::<Vec<_>>(), ["role", "no", "Failed", "-", "AccessDenied"]);
    }

    #[test]
    fn an_empty_listing_is_its_header() {
        assert_eq!(infrastructures(&[]).trim(), "NAME  REGION  VPC  ENVIRONMENT  TENANTS  CREATED");
    }
}
