//! The `per-client` tenant type: a tenant dedicated to one client.
//!
//! Settings it requires: `client` (the client's name), `client-domain` (the client's
//! e-mail domain) and `expires` (a date, `YYYY-MM-DD`). `cost-centre` is optional and
//! defaults to the client. Every resource is tagged with the client, the cost centre and
//! the expiry; write access is only for users of the client's own domain.
// The bindings wit-bindgen generates for WIT functions take many arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({ path: "../wit/v1.1", world: "tenant-type" });

struct PerClient;

fn setting<'a>(tenant: &'a Tenant, key: &str) -> Option<&'a str> {
    tenant.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
}

fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let number = |s: &str, len: usize, range: std::ops::RangeInclusive<u32>| {
        s.len() == len && s.parse::<u32>().is_ok_and(|n| range.contains(&n))
    };
    parts.len() == 3 && number(parts[0], 4, 2000..=2999) && number(parts[1], 2, 1..=12) && number(parts[2], 2, 1..=31)
}

fn is_domain(text: &str) -> bool {
    text.contains('.')
        && !text.starts_with('.')
        && !text.ends_with('.')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

impl Guest for PerClient {
    fn validate(tenant: Tenant) -> Result<(), String> {
        if setting(&tenant, "client").is_none() {
            return Err("a per-client tenant needs the setting 'client': the client it is dedicated to".into());
        }
        match setting(&tenant, "client-domain") {
            Some(domain) if is_domain(domain) => {}
            _ => return Err("a per-client tenant needs the setting 'client-domain', e.g. 'acme.com'".into()),
        }
        match setting(&tenant, "expires") {
            Some(date) if is_date(date) => Ok(()),
            _ => Err("a per-client tenant needs the setting 'expires', a date such as 2027-06-30".into()),
        }
    }

    fn on_create(tenant: Tenant) -> Result<Plan, String> {
        Self::validate(tenant.clone())?;
        let client = setting(&tenant, "client").unwrap_or_default();
        // The client's work is billed to the client unless a cost centre says otherwise.
        let cost_centre = setting(&tenant, "cost-centre").unwrap_or(client);
        let tags = vec![
            ("client".to_string(), client.to_string()),
            ("cost-centre".to_string(), cost_centre.to_string()),
            ("expires".to_string(), setting(&tenant, "expires").unwrap_or_default().to_string()),
        ];
        Ok(Plan { tags, policy_statements: vec![], ingress_rules: vec![], default_settings: vec![], resources: vec![] })
    }

    fn on_delete(_tenant: Tenant) -> Result<(), String> {
        Ok(())
    }

    fn on_grant_access(tenant: Tenant, grant: Grant) -> Decision {
        // Anyone may read; `user` (credentials for the tenant's role) and `admin` are for
        // the client's own addresses only.
        if grant.level == "read-only" {
            return Decision::Allow;
        }
        let domain = setting(&tenant, "client-domain").unwrap_or_default().to_ascii_lowercase();
        let user_domain =
            grant.user_email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_ascii_lowercase());
        if !domain.is_empty() && user_domain.as_deref() == Some(domain.as_str()) {
            Decision::Allow
        } else {
            Decision::Deny(format!("the role '{}' on this client's tenant is only for {domain} addresses", grant.level))
        }
    }
}

export!(PerClient);
