//! Tags and settings: the free-form metadata a tenant carries and a tenant type's plan may
//! add to, with the limits and validators both share.

use std::collections::BTreeMap;

use crate::error::Error;

/// Tag keys Tenancy writes on every resource; users may not set or override them.
pub mod tag_keys {
    /// The tenant's name: the billing unit.
    pub const TENANT: &str = "tenancy:tenant";
    /// The tenant's unique id, which tells a re-created tenant from an earlier one of the same name.
    pub const TENANT_ID: &str = "tenancy:tenant-id";
    /// The infrastructure the tenant lives in.
    pub const INFRASTRUCTURE: &str = "tenancy:infrastructure";
    /// The tenant type.
    pub const TYPE: &str = "tenancy:type";
    /// The deployment (stack) that made the resource: it adopts and deletes only its own.
    pub const DEPLOYMENT: &str = "tenancy:deployment";
    /// Prefix reserved for the keys above.
    pub const RESERVED_PREFIX: &str = "tenancy:";
}

/// Most user tags on a tenant. AWS allows 50 tags on a resource; Tenancy writes 5 and a
/// tenant type's plan at most 5.
pub const MAX_USER_TAGS: usize = 40;
/// Most settings on a tenant.
pub const MAX_SETTINGS: usize = 50;
/// Longest setting value.
pub const MAX_SETTING_VALUE_LEN: usize = 1024;

/// Checks user tags: count, lengths, characters, and no key in Tenancy's or AWS's namespaces.
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), Error> {
    if tags.len() > MAX_USER_TAGS {
        return Err(Error::invalid("tags", format!("at most {MAX_USER_TAGS} tags are allowed, got {}", tags.len())));
    }
    let allowed = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
    for (key, value) in tags {
        let field = format!("tags.{key}");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(Error::invalid(&field, "tag keys must be 1 to 128 characters long"));
        }
        if value.chars().count() > 256 {
            return Err(Error::invalid(&field, "tag values must be at most 256 characters long"));
        }
        if let Some(c) = key.chars().chain(value.chars()).find(|c| !allowed(*c)) {
            return Err(Error::invalid(
                &field,
                format!("'{c}' is not allowed in tags; use letters, digits, spaces and _ . : / = + - @"),
            ));
        }
        let lower = key.to_ascii_lowercase();
        if lower.starts_with(tag_keys::RESERVED_PREFIX) {
            return Err(Error::invalid(&field, "keys starting with 'tenancy:' are written by Tenancy itself"));
        }
        if lower.starts_with("aws:") {
            return Err(Error::invalid(&field, "keys starting with 'aws:' are reserved by AWS"));
        }
    }
    Ok(())
}

/// Checks settings: count, key characters and lengths.
pub fn validate_settings(settings: &BTreeMap<String, String>) -> Result<(), Error> {
    if settings.len() > MAX_SETTINGS {
        return Err(Error::invalid(
            "settings",
            format!("at most {MAX_SETTINGS} settings are allowed, got {}", settings.len()),
        ));
    }
    for (key, value) in settings {
        let field = format!("settings.{key}");
        let key_ok = !key.is_empty()
            && key.len() <= 128
            && key.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c));
        if !key_ok {
            return Err(Error::invalid(&field, "setting keys are 1 to 128 of A-Z a-z 0-9 . _ - / :"));
        }
        if value.len() > MAX_SETTING_VALUE_LEN {
            return Err(Error::invalid(&field, format!("setting values are at most {MAX_SETTING_VALUE_LEN} bytes")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tags_may_not_use_reserved_namespaces() {
        for key in ["tenancy:tenant", "Tenancy:x", "aws:foo", "AWS:bar"] {
            let tags = BTreeMap::from([(key.to_string(), "v".to_string())]);
            assert!(validate_tags(&tags).is_err(), "{key}");
        }
        validate_tags(&BTreeMap::from([("cost-centre".to_string(), "cc 42/a".to_string())])).unwrap();
    }

    #[test]
    fn too_many_or_too_long_tags_are_refused() {
        let many: BTreeMap<_, _> = (0..=MAX_USER_TAGS).map(|i| (format!("k{i}"), "v".to_string())).collect();
        assert!(validate_tags(&many).is_err());
        let long = BTreeMap::from([("k".repeat(129), String::new())]);
        assert!(validate_tags(&long).is_err());
        let bad_char = BTreeMap::from([("k".to_string(), "v;drop".to_string())]);
        assert!(validate_tags(&bad_char).unwrap_err().to_string().contains("';'"));
    }
}
