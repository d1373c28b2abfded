//! A plugin that does nothing, as cheaply as the world allows: the benchmark's floor.
// The bindings wit-bindgen generates for WIT functions take many arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({ path: "../../wit/v1", world: "tenant-type" });

struct Empty;

impl Guest for Empty {
    fn validate(_tenant: Tenant) -> Result<(), String> {
        Ok(())
    }

    fn on_create(_tenant: Tenant) -> Result<Plan, String> {
        Ok(Plan {
            tags: vec![],
            policy_statements: vec![],
            ingress_rules: vec![],
            default_settings: vec![],
            resources: vec![],
        })
    }

    fn on_delete(_tenant: Tenant) -> Result<(), String> {
        Ok(())
    }

    fn on_grant_access(_tenant: Tenant, _grant: Grant) -> Decision {
        Decision::Allow
    }
}

export!(Empty);
