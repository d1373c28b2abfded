//! The [`Store`] on one DynamoDB table (single-table design).
//!
//! | item           | pk                  | sk            | indexes (sparse)                                    |
//! |----------------|---------------------|---------------|-----------------------------------------------------|
//! | infrastructure | `INFRA`             | name          |                                                     |
//! | tenant         | `TENANT#<name>`     | `TENANT`      | `by-infrastructure` and `all-tenants` unless deleted; `stalled` while transitional; `expiring` (`TENANT#AHEAD` by its end, `TENANT#DUE` by when it is due) while it has an end the sweep watches |
//! | idempotency    | `IDEMPOTENCY#<key>` | `IDEMPOTENCY` | TTL on `expiresAt`                                  |
//! | access entry   | `TENANT#<name>`     | `ACCESS#<user>` | `by-user`; `expiring` when it has an end          |
//! | grant          | `TENANT#<from>`     | `GRANT#<id>`  | `by-user` as `GRANTEE#<to>`; `expiring` (`GRANT`) when it has an end and is not being removed; `stalled` (`GRANT`) while pending or removing |
//! | audit entry    | `AUDIT#<trail>`     | `<nanos>#<id>` |                                                    |
//! | deleted tenant | `ARCHIVE#<name>`    | `<created>#<id>` | kept when the name is reused                     |
//!
//! Each item keeps its entity as JSON in `doc`, beside the attributes that keys, indexes
//! and conditions need (`version`, `state`, `tenantCount`). Every listing is a Query on
//! the table or an index; nothing scans.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, Put, ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use base64_url as b64;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use tenancy_domain::idempotency::IdempotencyRecord;
use tenancy_domain::infrastructure::Infrastructure;
use tenancy_domain::names::Name;
use tenancy_domain::paging::{Page, PageRequest};
use tenancy_domain::ports::errors::StoreError;
use tenancy_domain::ports::{
    ExpiringTenants, IdempotencyGet, InfrastructureGet, InfrastructureList, InfrastructureWrite, StalledTenants,
    TenantCreate, TenantGet, TenantList, TenantSave,
};
use tenancy_domain::tenant::{ExpiryStage, Tenant, TenantState};

use crate::lazy::LazyClient;
use crate::metrics::CallCounter;

/// Index of live tenants by infrastructure.
pub const BY_INFRASTRUCTURE: &str = "by-infrastructure";
/// Index of every live tenant.
pub const ALL_TENANTS: &str = "all-tenants";
/// Index of tenants in a transitional state, by last write.
pub const STALLED: &str = "stalled";
/// Index of access entries by user.
pub const BY_USER: &str = "by-user";
/// Index of access entries, grants and tenants with an end, by that end (or, for tenants,
/// by when the expiry sweep is next due to look at them).
pub const EXPIRING: &str = "expiring";

mod access;
mod grants;

const INFRA_PK: &str = "INFRA";
const TENANT_SK: &str = "TENANT";
const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";
const LIVE_TENANTS: &str = "TENANT";
const PENDING: &str = "PENDING";

/// The `expiring` index's partition of tenants at `stage` of the expiry sweep.
fn expiring_tenants_key(stage: ExpiryStage) -> &'static str {
    match stage {
        ExpiryStage::Ahead => "TENANT#AHEAD",
        ExpiryStage::Due => "TENANT#DUE",
    }
}

/// The DynamoDB store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: LazyClient<Client>,
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn tenant_key(name: &Name) -> String {
    format!("TENANT#{name}")
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_default()
}

fn unavailable<E: std::fmt::Display>(operation: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |error| StoreError::Unavailable(format!("DynamoDB {operation}: {error}"))
}

fn sdk_unavailable<E>(operation: &str, error: SdkError<E, HttpResponse>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    StoreError::Unavailable(crate::errors::cloud_error(&format!("DynamoDB {operation}"), error).message)
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    crate::errors::code(error) == Some("ConditionalCheckFailedException")
}

fn doc<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value).map(s).map_err(unavailable("encode"))
}

fn from_doc<T: DeserializeOwned>(item: &HashMap<String, AttributeValue>) -> Result<T, StoreError> {
    let raw = item
        .get("doc")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Unavailable("item without doc".into()))?;
    serde_json::from_str(raw).map_err(unavailable("decode"))
}

fn infrastructure_from(item: &HashMap<String, AttributeValue>) -> Result<Infrastructure, StoreError> {
    let mut infrastructure: Infrastructure = from_doc(item)?;
    infrastructure.tenant_count =
        item.get("tenantCount").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(infrastructure)
}

/// Cursors are the last evaluated key, as JSON in URL-safe base64: opaque to callers,
/// and checked on the way back in so that a forged one is refused, not sent to DynamoDB.
fn encode_cursor(key: Option<&HashMap<String, AttributeValue>>) -> Option<String> {
    let key = key?;
    let plain: std::collections::BTreeMap<&str, &str> =
        key.iter().filter_map(|(k, v)| v.as_s().ok().map(|v| (k.as_str(), v.as_str()))).collect();
    serde_json::to_vec(&plain).ok().map(|json| b64::encode(&json))
}

fn decode_cursor(
    cursor: Option<&str>,
    expected: &[&str],
) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
    let Some(cursor) = cursor else { return Ok(None) };
    let json = b64::decode(cursor).map_err(|_| StoreError::BadCursor)?;
    let plain: HashMap<String, String> = serde_json::from_slice(&json).map_err(|_| StoreError::BadCursor)?;
    let mut keys: Vec<&str> = plain.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut wanted = expected.to_vec();
    wanted.sort_unstable();
    if keys != wanted {
        return Err(StoreError::BadCursor);
    }
    // DynamoDB refuses empty key values and longer ones than it stores: a forged cursor
    // with either is a bad cursor, not an unavailable store.
    if plain.values().any(|value| value.is_empty() || value.len() > 1024) {
        return Err(StoreError::BadCursor);
    }
    Ok(Some(plain.into_iter().map(|(k, v)| (k, s(v))).collect()))
}

impl DynamoStore {
    /// A store on `table`.
    pub fn new(client: impl Into<LazyClient<Client>>, table: impl Into<String>) -> Self {
        Self { client: client.into(), table: table.into() }
    }

    /// A store on `table` whose client is built from `config` when first used, counting
    /// its calls in `counter`.
    pub fn from_config(config: &SdkConfig, counter: CallCounter, table: impl Into<String>) -> Self {
        let config = aws_sdk_dynamodb::config::Builder::from(config).interceptor(counter);
        Self::new(LazyClient::new(move || Client::from_conf(config.build())), table)
    }

    /// Creates the table with its indexes and TTL, as `template.yaml` declares it. For the
    /// local emulator and tests; in AWS the stack owns the table.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attribute = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key = |name: &str, key_type| KeySchemaElement::builder().attribute_name(name).key_type(key_type).build();
        let index = |name: &str, pk: &str, sk: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyType::Hash).expect("key"))
                .key_schema(key(sk, KeyType::Range).expect("key"))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .expect("index")
        };
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(
                [
                    "pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk",
                    "gsi5pk", "gsi5sk",
                ]
                .iter()
                .map(|a| attribute(a).expect("attribute"))
                .collect(),
            ))
            .key_schema(key("pk", KeyType::Hash).expect("key"))
            .key_schema(key("sk", KeyType::Range).expect("key"))
            .global_secondary_indexes(index(BY_INFRASTRUCTURE, "gsi1pk", "gsi1sk"))
            .global_secondary_indexes(index(ALL_TENANTS, "gsi2pk", "gsi2sk"))
            .global_secondary_indexes(index(STALLED, "gsi3pk", "gsi3sk"))
            .global_secondary_indexes(index(BY_USER, "gsi4pk", "gsi4sk"))
            .global_secondary_indexes(index(EXPIRING, "gsi5pk", "gsi5sk"))
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(error) if crate::errors::code(&error) == Some("ResourceInUseException") => return Ok(()),
            Err(error) => return Err(sdk_unavailable("CreateTable", error)),
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name("expiresAt").build().expect("ttl"),
            )
            .send()
            .await
            .map_err(|e| sdk_unavailable("UpdateTimeToLive", e))?;
        Ok(())
    }

    fn tenant_item(&self, tenant: &Tenant) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let mut item = HashMap::from([
            ("pk".to_string(), s(tenant_key(tenant.name()))),
            ("sk".to_string(), s(TENANT_SK)),
            ("doc".to_string(), doc(tenant)?),
            ("version".to_string(), n(tenant.version())),
            ("state".to_string(), s(tenant.state().to_string())),
            // The incarnation, so that a write meant for an earlier tenant of the same
            // name never lands on a later one that reached the same version.
            ("tenantId".to_string(), s(tenant.id().to_string())),
        ]);
        if tenant.state() != TenantState::Deleted {
            item.insert("gsi1pk".into(), s(format!("INFRA#{}", tenant.infrastructure())));
            item.insert("gsi1sk".into(), s(tenant.name().as_str()));
            item.insert("gsi2pk".into(), s(LIVE_TENANTS));
            item.insert("gsi2sk".into(), s(tenant.name().as_str()));
        }
        if tenant.state().is_transitional() {
            item.insert("gsi3pk".into(), s(PENDING));
            item.insert("gsi3sk".into(), s(format!("{}#{}", rfc3339(tenant.updated_at()), tenant.name())));
        }
        if let Some(watch) = tenant.expiry_watch() {
            // Whole seconds, fixed width, as access entries and grants: text order is time order.
            item.insert("gsi5pk".into(), s(expiring_tenants_key(watch.stage)));
            item.insert("gsi5sk".into(), s(format!("{:012}#{}", watch.at.unix_timestamp().max(0), tenant.name())));
        }
        Ok(item)
    }

    fn infrastructure_count_update(&self, infrastructure: &Name, delta: i64) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(INFRA_PK))
            .key("sk", s(infrastructure.as_str()))
            .update_expression("ADD tenantCount :delta")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
            .build()
            .map_err(unavailable("build"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), Result<Vec<bool>, StoreError>> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let failed = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code() == Some("ConditionalCheckFailed"))
                        .collect();
                    Err(Ok(failed))
                }
                other => Err(Err(StoreError::Unavailable(format!("DynamoDB TransactWriteItems: {other}")))),
            },
            Err(other) => Err(Err(sdk_unavailable("TransactWriteItems", other))),
        }
    }

    /// One item by key, read consistently.
    async fn get_item(
        &self,
        pk: AttributeValue,
        sk: AttributeValue,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_unavailable("GetItem", e))?;
        Ok(output.item)
    }

    async fn query<T>(
        &self,
        index: Option<&str>,
        partition: (&str, &str),
        page: &PageRequest,
        cursor_keys: &[&str],
        parse: fn(&HashMap<String, AttributeValue>) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let start = decode_cursor(page.cursor.as_deref(), cursor_keys)?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", partition.0)
            .expression_attribute_values(":pk", s(partition.1))
            .limit(page.limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_unavailable("Query", e))?;
        let items = output.items().iter().map(parse).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: encode_cursor(output.last_evaluated_key()) })
    }
}

#[async_trait]
impl InfrastructureWrite for DynamoStore {
    async fn create_infrastructure(&self, infrastructure: &Infrastructure) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(INFRA_PK))
            .item("sk", s(infrastructure.name.as_str()))
            .item("doc", doc(infrastructure)?)
            .item("tenantCount", n(0))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Err(StoreError::NameTaken),
            Err(error) => Err(sdk_unavailable("PutItem", error)),
        }
    }

    async fn delete_infrastructure(&self, name: &Name) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(INFRA_PK))
            .key("sk", s(name.as_str()))
            .condition_expression("attribute_exists(pk) AND tenantCount = :zero")
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => match self.get_infrastructure(name).await? {
                Some(_) => Err(StoreError::InfrastructureInUse),
                None => Err(StoreError::NotFound),
            },
            Err(error) => Err(sdk_unavailable("DeleteItem", error)),
        }
    }
}

#[async_trait]
impl InfrastructureGet for DynamoStore {
    async fn get_infrastructure(&self, name: &Name) -> Result<Option<Infrastructure>, StoreError> {
        self.get_item(s(INFRA_PK), s(name.as_str())).await?.as_ref().map(infrastructure_from).transpose()
    }
}

#[async_trait]
impl InfrastructureList for DynamoStore {
    async fn list_infrastructures(&self, page: &PageRequest) -> Result<Page<Infrastructure>, StoreError> {
        self.query(None, ("pk", INFRA_PK), page, &["pk", "sk"], infrastructure_from).await
    }
}

#[async_trait]
impl TenantCreate for DynamoStore {
    async fn create_tenant(&self, tenant: &Tenant, idempotency: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
        let put_tenant = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.tenant_item(tenant)?))
            .condition_expression("attribute_not_exists(pk) OR #state = :deleted")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":deleted", s(TenantState::Deleted.to_string()))
            .build()
            .map_err(unavailable("build"))?;
        let mut items = vec![
            TransactWriteItem::builder().put(put_tenant).build(),
            self.infrastructure_count_update(tenant.infrastructure(), 1)?,
        ];
        if let Some(record) = idempotency {
            let put_record = Put::builder()
                .table_name(&self.table)
                .item("pk", s(format!("IDEMPOTENCY#{}", record.key)))
                .item("sk", s(IDEMPOTENCY_SK))
                .item("doc", doc(record)?)
                .item("expiresAt", n(record.expires_at.unix_timestamp().max(0) as u64))
                .condition_expression("attribute_not_exists(pk) OR expiresAt < :now")
                .expression_attribute_values(":now", n(tenant.created_at().unix_timestamp().max(0) as u64))
                .build()
                .map_err(unavailable("build"))?;
            items.push(TransactWriteItem::builder().put(put_record).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(Ok(failed)) => {
                // The first failed condition names the cause; an idempotency clash wins,
                // since the concurrent request with the same key took this name too.
                if failed.get(2).copied().unwrap_or(false) {
                    Err(StoreError::IdempotencyKeyTaken)
                } else if failed.first().copied().unwrap_or(false) {
                    Err(StoreError::NameTaken)
                } else if failed.get(1).copied().unwrap_or(false) {
                    Err(StoreError::InfrastructureMissing)
                } else {
                    Err(StoreError::Unavailable("DynamoDB cancelled the transaction; retry".into()))
                }
            }
            Err(Err(error)) => Err(error),
        }
    }
}

#[async_trait]
impl TenantGet for DynamoStore {
    async fn get_tenant(&self, name: &Name) -> Result<Option<Tenant>, StoreError> {
        self.get_item(s(tenant_key(name)), s(TENANT_SK)).await?.as_ref().map(from_doc).transpose()
    }
}

#[async_trait]
impl TenantList for DynamoStore {
    async fn list_tenants(
        &self,
        infrastructure: Option<&Name>,
        page: &PageRequest,
    ) -> Result<Page<Tenant>, StoreError> {
        let keys = |i: &str| {
            ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]
                .iter()
                .filter(|k| k.len() == 2 || k.starts_with(i))
                .copied()
                .collect::<Vec<_>>()
        };
        match infrastructure {
            Some(infrastructure) => {
                let partition = format!("INFRA#{infrastructure}");
                self.query(Some(BY_INFRASTRUCTURE), ("gsi1pk", &partition), page, &keys("gsi1"), from_doc).await
            }
            None => self.query(Some(ALL_TENANTS), ("gsi2pk", LIVE_TENANTS), page, &keys("gsi2"), from_doc).await,
        }
    }
}

#[async_trait]
impl TenantSave for DynamoStore {
    async fn save_tenant(&self, tenant: &Tenant) -> Result<Tenant, StoreError> {
        // The store owns versioning: the record is written as the next version, on the
        // condition that the stored one is still the one the tenant was read at. A Put (not
        // an Update with `version = version + 1`) because the whole document is replaced;
        // the condition makes it the same compare-and-set.
        let read_at = tenant.version();
        let stored = at_version(tenant, read_at + 1)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.tenant_item(&stored)?))
            .condition_expression(
                "version = :expected AND #state <> :deleted AND (attribute_not_exists(tenantId) OR tenantId = :id)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":expected", n(read_at))
            .expression_attribute_values(":id", s(tenant.id().to_string()))
            .expression_attribute_values(":deleted", s(TenantState::Deleted.to_string()))
            .build()
            .map_err(unavailable("build"))?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        if stored.state() == TenantState::Deleted {
            // The tenant stops counting against its infrastructure in the same write, and
            // its final record is archived: a new tenant of the same name replaces the
            // live item, never this copy.
            items.push(self.infrastructure_count_update(stored.infrastructure(), -1)?);
            let archive = Put::builder()
                .table_name(&self.table)
                .item("pk", s(format!("ARCHIVE#{}", stored.name())))
                .item("sk", s(format!("{}#{}", rfc3339(stored.created_at()), stored.id())))
                .item("doc", doc(&stored)?)
                .build()
                .map_err(unavailable("build"))?;
            items.push(TransactWriteItem::builder().put(archive).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(stored),
            Err(Ok(failed)) if failed.first().copied().unwrap_or(false) => {
                // Read what is stored, so that a 412 can name the current version.
                match self.get_item(s(tenant_key(tenant.name())), s(TENANT_SK)).await? {
                    None => Err(StoreError::NotFound),
                    Some(item) => Err(StoreError::Stale { current: from_doc::<Tenant>(&item)?.version() }),
                }
            }
            Err(Ok(_)) => Err(StoreError::Unavailable("DynamoDB cancelled the transaction; retry".into())),
            Err(Err(error)) => Err(error),
        }
    }
}

/// The tenant as it is stored at `version`: versions are the store's to write, so the
/// adapter sets it on the document rather than the aggregate offering a setter.
fn at_version(tenant: &Tenant, version: u64) -> Result<Tenant, StoreError> {
    let mut document = serde_json::to_value(tenant).map_err(unavailable("encode"))?;
    document["version"] = serde_json::Value::from(version);
    serde_json::from_value(document).map_err(unavailable("decode"))
}

#[async_trait]
impl StalledTenants for DynamoStore {
    async fn stalled_tenants(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<Name>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(STALLED)
            .key_condition_expression("gsi3pk = :pending AND gsi3sk < :before")
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":before", s(rfc3339(before)))
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| sdk_unavailable("Query", e))?;
        output.items().iter().map(|item| from_doc::<Tenant>(item).map(|t| t.name().clone())).collect()
    }
}

#[async_trait]
impl ExpiringTenants for DynamoStore {
    async fn expiring_tenants(
        &self,
        stage: ExpiryStage,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Tenant>, StoreError> {
        self.ended_before(expiring_tenants_key(stage), before, limit).await
    }
}

#[async_trait]
impl IdempotencyGet for DynamoStore {
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.get_item(s(format!("IDEMPOTENCY#{key}")), s(IDEMPOTENCY_SK)).await?.as_ref().map(from_doc).transpose()
    }
}

/// URL-safe base64 without padding, for cursors.
mod base64_url {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub fn encode(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
        URL_SAFE_NO_PAD.decode(text)
    }
}
