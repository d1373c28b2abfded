//! Tenant-to-tenant grants in the single table.
//!
//! A grant lives in the granting tenant's partition (`TENANT#<from>` / `GRANT#<id>`). The
//! `by-user` index (keyed `GRANTEE#<to>`, never a user's `USER#...`) finds the grants given
//! to a tenant; the `expiring` index (keyed `GRANT`) finds ended ones for the sweep while
//! they are not yet being removed; the `stalled` index (keyed `GRANT`) finds those the
//! lifecycle has yet to settle, for the sweep.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BY_USER, DynamoStore, STALLED, doc, from_doc, is_condition_failure, s, sdk_unavailable, tenant_key};
use tenancy_domain::grant::{Grant, GrantStatus};
use tenancy_domain::names::Name;
use tenancy_domain::ports::GrantStore;
use tenancy_domain::ports::errors::StoreError;

const EXPIRING_GRANT: &str = "GRANT";
/// The `stalled` index's partition of grants the lifecycle has yet to settle (tenants use
/// `PENDING` there).
const UNSETTLED_GRANT: &str = "GRANT";

fn grant_sk(id: Uuid) -> String {
    format!("GRANT#{id}")
}

fn status_text(status: GrantStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn grantee_key(to: &Name) -> String {
    format!("GRANTEE#{to}")
}

/// The `expiring` index's sort key: the end in whole seconds (fixed width, as access
/// entries have it), then the grant's key.
fn expiry_key(grant: &Grant, end: OffsetDateTime) -> String {
    format!("{:012}#{}#{}", end.unix_timestamp().max(0), grant.from_tenant, grant.id)
}

impl DynamoStore {
    /// Every item of a Query, page after page.
    async fn query_all(
        &self,
        index: Option<&str>,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression(condition)
                .set_exclusive_start_key(start);
            for (name, value) in &values {
                query = query.expression_attribute_values(*name, value.clone());
            }
            if index.is_none() {
                query = query.consistent_read(true);
            }
            let output = query.send().await.map_err(|e| sdk_unavailable("Query", e))?;
            items.extend(output.items().iter().cloned());
            match output.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }
}

#[async_trait]
impl GrantStore for DynamoStore {
    async fn put_grant(&self, grant: &Grant, expected: Option<GrantStatus>) -> Result<(), StoreError> {
        let mut item = HashMap::from([
            ("pk".to_string(), s(tenant_key(&grant.from_tenant))),
            ("sk".to_string(), s(grant_sk(grant.id))),
            ("doc".to_string(), doc(grant)?),
            ("gsi4pk".to_string(), s(grantee_key(&grant.to_tenant))),
            ("gsi4sk".to_string(), s(format!("{}#{}", grant.from_tenant, grant.id))),
            ("grantStatus".to_string(), s(status_text(grant.status))),
        ]);
        if matches!(grant.status, GrantStatus::Pending | GrantStatus::Removing) {
            item.insert("gsi3pk".into(), s(UNSETTLED_GRANT));
            item.insert("gsi3sk".into(), s(format!("{}#{}", grant.from_tenant, grant.id)));
        }
        if let Some(end) = grant.expires_at
            && grant.status != GrantStatus::Removing
        {
            item.insert("gsi5pk".into(), s(EXPIRING_GRANT));
            item.insert("gsi5sk".into(), s(expiry_key(grant, end)));
        }
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(status) => request
                .condition_expression("grantStatus = :expected")
                .expression_attribute_values(":expected", s(status_text(status))),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Err(StoreError::Stale { current: 0 }),
            Err(error) => Err(sdk_unavailable("PutItem", error)),
        }
    }

    async fn get_grant(&self, from: &Name, id: Uuid) -> Result<Option<Grant>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(tenant_key(from)))
            .key("sk", s(grant_sk(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_unavailable("GetItem", e))?;
        output.item.as_ref().map(from_doc::<Grant>).transpose()
    }

    async fn delete_grant(&self, from: &Name, id: Uuid) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(tenant_key(from)))
            .key("sk", s(grant_sk(id)))
            .send()
            .await
            .map_err(|e| sdk_unavailable("DeleteItem", e))?;
        Ok(())
    }

    async fn list_grants(&self, tenant: &Name) -> Result<Vec<Grant>, StoreError> {
        let given = self
            .query_all(
                None,
                "pk = :pk AND begins_with(sk, :grant)",
                vec![(":pk", s(tenant_key(tenant))), (":grant", s("GRANT#"))],
            )
            .await?;
        // The index lags a write by a moment: a grant just given may show a moment later.
        let taken = self.query_all(Some(BY_USER), "gsi4pk = :to", vec![(":to", s(grantee_key(tenant)))]).await?;
        let mut grants: Vec<Grant> = given.iter().map(from_doc).collect::<Result<_, _>>()?;
        for item in &taken {
            let grant: Grant = from_doc(item)?;
            if grant.from_tenant != *tenant {
                grants.push(grant);
            }
        }
        Ok(grants)
    }

    async fn unsettled_grants(&self, limit: u32) -> Result<Vec<Grant>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(STALLED)
            .key_condition_expression("gsi3pk = :grant")
            .expression_attribute_values(":grant", s(UNSETTLED_GRANT))
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| sdk_unavailable("Query", e))?;
        output.items().iter().map(from_doc).collect()
    }

    async fn expired_grants(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<Grant>, StoreError> {
        self.ended_before(EXPIRING_GRANT, before, limit).await
    }
}
