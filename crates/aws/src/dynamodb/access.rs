//! Access entries and the audit trail in the single table.
//!
//! An access entry lives in its tenant's partition (`TENANT#<name>` / `ACCESS#<user>`), so
//! that authorising a request on a tenant is one `BatchGetItem` of the tenant and the
//! caller's entry. The `by-user` index lists a user's entries; the `expiring` index finds
//! the ended ones for the sweep. Audit entries are a partition per trail, sorted by time.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, KeysAndAttributes, Put, ReturnValue, TransactWriteItem};
use time::OffsetDateTime;

use super::{
    BY_USER, DynamoStore, EXPIRING, TENANT_SK, decode_cursor, doc, encode_cursor, from_doc, is_condition_failure, n,
    rfc3339, s, sdk_unavailable, tenant_key, unavailable,
};
use tenancy_domain::access::{AccessEntry, UserAccess};
use tenancy_domain::audit::AuditEntry;
use tenancy_domain::names::Name;
use tenancy_domain::paging::{Page, PageRequest};
use tenancy_domain::ports::errors::StoreError;
use tenancy_domain::ports::{AccessList, AccessWrite, AuditLog, TenantWithAccess};
use tenancy_domain::tenant::{Tenant, TenantState};

const EXPIRING_ACCESS: &str = "ACCESS";
/// Most times a batch read is repeated for keys DynamoDB left unprocessed (throttling).
const BATCH_ATTEMPTS: usize = 5;

type Item = HashMap<String, AttributeValue>;

fn access_sk(user: &str) -> String {
    format!("ACCESS#{user}")
}

/// The `expiring` index's sort key: the end in whole seconds (fixed width, so that text
/// order is time order), then the entry's key.
fn expiry_key(entry: &AccessEntry, end: OffsetDateTime) -> String {
    format!("{:012}#{}#{}", end.unix_timestamp().max(0), entry.tenant, entry.user)
}

/// An audit entry's sort key: nanoseconds since the epoch (fixed width), then its id.
fn audit_sk(entry: &AuditEntry) -> String {
    format!("{:024}#{}", entry.at.unix_timestamp_nanos().max(0), entry.id)
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

impl DynamoStore {
    /// Reads items by key in one `BatchGetItem`, consistently; keys DynamoDB leaves
    /// unprocessed (under throttling) are asked for again.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut pending = keys;
        for _ in 0..BATCH_ATTEMPTS {
            if pending.is_empty() {
                return Ok(found);
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .map_err(unavailable("build"))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| sdk_unavailable("BatchGetItem", e))?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut left| left.remove(&self.table))
                .map(|left| left.keys)
                .unwrap_or_default();
        }
        if pending.is_empty() {
            Ok(found)
        } else {
            Err(StoreError::Unavailable("DynamoDB left keys of a batch read unprocessed; retry".into()))
        }
    }
}

fn sk_of(item: &Item) -> &str {
    item.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or("")
}

#[async_trait]
impl TenantWithAccess for DynamoStore {
    async fn get_tenant_with_access(
        &self,
        name: &Name,
        user: &str,
    ) -> Result<(Option<Tenant>, Option<AccessEntry>), StoreError> {
        let pk = tenant_key(name);
        let items = self.batch_get(vec![key(pk.clone(), TENANT_SK.into()), key(pk, access_sk(user))]).await?;
        let mut tenant = None;
        let mut entry = None;
        for item in &items {
            if sk_of(item) == TENANT_SK {
                tenant = Some(from_doc::<Tenant>(item)?);
            } else {
                entry = Some(from_doc::<AccessEntry>(item)?);
            }
        }
        Ok((tenant, entry))
    }
}

#[async_trait]
impl AccessWrite for DynamoStore {
    async fn put_access(&self, entry: &AccessEntry) -> Result<(), StoreError> {
        // Only on the live incarnation the entry names.
        let tenant_live = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(tenant_key(&entry.tenant)))
            .key("sk", s(TENANT_SK))
            .condition_expression("tenantId = :id AND #state <> :deleted")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":id", s(entry.tenant_id.to_string()))
            .expression_attribute_values(":deleted", s(TenantState::Deleted.to_string()))
            .build()
            .map_err(unavailable("build"))?;
        let mut item = key(tenant_key(&entry.tenant), access_sk(&entry.user));
        item.insert("doc".into(), doc(entry)?);
        item.insert("tenantId".into(), s(entry.tenant_id.to_string()));
        item.insert("grantedAt".into(), s(rfc3339(entry.granted_at)));
        item.insert("gsi4pk".into(), s(format!("USER#{}", entry.user)));
        item.insert("gsi4sk".into(), s(entry.tenant.as_str()));
        if let Some(end) = entry.expires_at {
            item.insert("gsi5pk".into(), s(EXPIRING_ACCESS));
            item.insert("gsi5sk".into(), s(expiry_key(entry, end)));
        }
        let put = Put::builder().table_name(&self.table).set_item(Some(item)).build().map_err(unavailable("build"))?;
        let items = vec![
            TransactWriteItem::builder().condition_check(tenant_live).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(Ok(failed)) if failed.first().copied().unwrap_or(false) => Err(StoreError::NotFound),
            Err(Ok(_)) => Err(StoreError::Unavailable("DynamoDB cancelled the transaction; retry".into())),
            Err(Err(error)) => Err(error),
        }
    }

    async fn delete_access(
        &self,
        tenant: &Name,
        user: &str,
        expected: Option<&AccessEntry>,
    ) -> Result<Option<AccessEntry>, StoreError> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(tenant_key(tenant)))
            .key("sk", s(access_sk(user)))
            .return_values(ReturnValue::AllOld);
        if let Some(expected) = expected {
            // Only the entry as it was read: a renewed one (another end, another grant) stays.
            let expiry = expected.expires_at.map(|end| expiry_key(expected, end)).unwrap_or_default();
            request = request
                .condition_expression(
                    "attribute_not_exists(pk) OR (grantedAt = :granted AND (gsi5sk = :expiry OR (attribute_not_exists(gsi5sk) AND :expiry = :none)))",
                )
                .expression_attribute_values(":granted", s(rfc3339(expected.granted_at)))
                .expression_attribute_values(":expiry", s(expiry))
                .expression_attribute_values(":none", s(""));
        }
        match request.send().await {
            Ok(output) => output.attributes.as_ref().map(from_doc::<AccessEntry>).transpose(),
            Err(error) if is_condition_failure(&error) => Err(StoreError::Stale { current: 0 }),
            Err(error) => Err(sdk_unavailable("DeleteItem", error)),
        }
    }
}

#[async_trait]
impl AccessList for DynamoStore {
    async fn list_tenant_access(&self, tenant: &Name) -> Result<Vec<AccessEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :access)")
                .expression_attribute_values(":pk", s(tenant_key(tenant)))
                .expression_attribute_values(":access", s("ACCESS#"))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_unavailable("Query", e))?;
            for item in output.items() {
                entries.push(from_doc::<AccessEntry>(item)?);
            }
            match output.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(entries),
            }
        }
    }

    async fn list_user_access(&self, user: &str, page: &PageRequest) -> Result<Page<UserAccess>, StoreError> {
        let start = decode_cursor(page.cursor.as_deref(), &["pk", "sk", "gsi4pk", "gsi4sk"])?;
        let partition = format!("USER#{user}");
        // A cursor names a position in this user's entries only.
        if start.as_ref().is_some_and(|key| key.get("gsi4pk").and_then(|v| v.as_s().ok()) != Some(&partition)) {
            return Err(StoreError::BadCursor);
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_USER)
            .key_condition_expression("gsi4pk = :user")
            .expression_attribute_values(":user", s(partition))
            .limit(page.limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_unavailable("Query", e))?;
        let entries: Vec<AccessEntry> = output.items().iter().map(from_doc).collect::<Result<_, _>>()?;
        // The page's tenants, in one batch read (at most 100 keys: the largest page).
        let keys = entries.iter().map(|e| key(tenant_key(&e.tenant), TENANT_SK.into())).collect::<Vec<_>>();
        let tenants: HashMap<String, Tenant> = if keys.is_empty() {
            HashMap::new()
        } else {
            self.batch_get(keys)
                .await?
                .iter()
                .map(|item| from_doc::<Tenant>(item).map(|t| (t.name().to_string(), t)))
                .collect::<Result<_, _>>()?
        };
        let items = entries
            .into_iter()
            .map(|entry| {
                let tenant = tenants.get(entry.tenant.as_str()).cloned();
                UserAccess { entry, tenant }
            })
            .collect();
        Ok(Page { items, next_cursor: encode_cursor(output.last_evaluated_key()) })
    }

    async fn expired_access(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<AccessEntry>, StoreError> {
        self.ended_before(EXPIRING_ACCESS, before, limit).await
    }
}

impl DynamoStore {
    /// Items of one kind in the `expiring` index (`gsi5pk` = `kind`) whose end is before
    /// `before`, soonest first: ended access entries and grants.
    pub(super) async fn ended_before<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<T>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(EXPIRING)
            .key_condition_expression("gsi5pk = :kind AND gsi5sk < :before")
            .expression_attribute_values(":kind", s(kind))
            .expression_attribute_values(":before", s(format!("{:012}", before.unix_timestamp().max(0))))
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| sdk_unavailable("Query", e))?;
        output.items().iter().map(from_doc).collect()
    }
}

#[async_trait]
impl AuditLog for DynamoStore {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("AUDIT#{}", entry.trail())))
            .item("sk", s(audit_sk(entry)))
            .item("doc", doc(entry)?)
            .item("at", n(entry.at.unix_timestamp().max(0) as u64))
            .send()
            .await
            .map_err(|e| sdk_unavailable("PutItem", e))?;
        Ok(())
    }

    async fn history(
        &self,
        trail: &str,
        since: Option<OffsetDateTime>,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let start = decode_cursor(page.cursor.as_deref(), &["pk", "sk"])?;
        let partition = format!("AUDIT#{trail}");
        // A cursor names a position in this trail only.
        let lowest = format!("{:024}", since.map_or(0, |at| at.unix_timestamp_nanos().max(0)));
        if start.as_ref().is_some_and(|key| key.get("pk").and_then(|v| v.as_s().ok()) != Some(&partition)) {
            return Err(StoreError::BadCursor);
        }
        // Nor before where this caller's history starts.
        if start.as_ref().and_then(|key| key.get("sk")).and_then(|v| v.as_s().ok()).is_some_and(|sk| *sk < lowest) {
            return Err(StoreError::BadCursor);
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk >= :since")
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":since", s(lowest))
            .scan_index_forward(false)
            .limit(page.limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_unavailable("Query", e))?;
        let items = output.items().iter().map(from_doc).collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor: encode_cursor(output.last_evaluated_key()) })
    }
}
