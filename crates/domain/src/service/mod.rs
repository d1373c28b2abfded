//! The operations behind the HTTP API (and behind request events from other producers):
//! validate, authorise, record the desired state, ask the lifecycle worker to act.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::access::{Caller, Via};

mod access;
mod authorize;
mod credentials;
mod expiry;
mod grants;
mod history;
mod inventory;

use crate::audit::{AuditAction, Subject};
use crate::authorization::{Action, Resource};
use crate::error::{ConflictReason, Error};
use crate::events::{EventKind, LifecycleEvent};
use crate::idempotency::IdempotencyRecord;
use crate::infrastructure::{self, Environment, Infrastructure};
use crate::metadata;
use crate::names::Name;
use crate::paging::{Page, PageRequest};
use crate::ports::errors::StoreError;
use crate::ports::{Authorizer, Clock, Events, Inventory, Plugins, SessionIssuer, Store, Vpcs};
use crate::tenant::{self, Operation, Requester, Tenant, TenantState};
use crate::tenant_type::{PluginFailure, TenantTypeInfo};
pub use access::{AccessRequest, Me, MyTenant, valid_user_id};
pub use authorize::Authorized;
pub use expiry::ExpirySweep;
pub use inventory::DriftSweep;

/// Default and largest page sizes of listings.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;
/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::hours(24);

/// A request for a new infrastructure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewInfrastructure {
    /// Its name.
    pub name: String,
    /// AWS region of the VPC.
    pub region: String,
    /// The VPC id.
    pub vpc_id: String,
    /// `prod` or `nonprod`.
    pub environment: Environment,
}

/// A request for a new tenant, from the API or from a producer on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTenant {
    /// Its name.
    pub name: String,
    /// The infrastructure to create it in.
    pub infrastructure: String,
    /// Tenant type; `default` when absent.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub tenant_type: Option<String>,
    /// Settings.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// User tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Deletion protection; defaults to on in `prod` infrastructures, off elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// When the tenant ends (RFC 3339); a type that keeps its end in a setting derives it
    /// from there ([`crate::tenant_type::TenantTypeInfo::expiry_setting`]).
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<time::OffsetDateTime>,
}

/// A change to a tenant, with JSON merge-patch semantics (RFC 7396) for the maps:
/// a key set to `null` is removed, other keys are set, absent keys are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantPatch {
    /// Settings to set (`Some`) or remove (`None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<BTreeMap<String, Option<String>>>,
    /// Tags to set (`Some`) or remove (`None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Option<String>>>,
    /// New deletion protection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// A new end (`Some(Some(..))`), none (`Some(None)`: `"expiresAt": null` clears it), or
    /// no change (absent), as a merge patch reads a member.
    #[serde(
        default,
        deserialize_with = "present",
        serialize_with = "present_out",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<Option<time::OffsetDateTime>>,
}

/// Writes a present member as RFC 3339, or `null` ([`present`]'s reverse; absent members
/// are skipped before this is called).
fn present_out<S: serde::Serializer>(
    value: &Option<Option<time::OffsetDateTime>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::option::serialize(&value.flatten(), serializer)
}

/// A member that is present, `null` or not: absent members take the default (`None`).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<time::OffsetDateTime>>, D::Error> {
    time::serde::rfc3339::option::deserialize(deserializer).map(Some)
}

/// The answer to a create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The tenant as recorded.
    pub tenant: Tenant,
    /// True when this is the stored answer to an earlier request with the same key.
    pub replayed: bool,
}

/// The control plane's operations over its ports: what the HTTP API and producers on the
/// bus ask for.
#[derive(Clone)]
pub struct ControlPlane {
    store: Arc<dyn Store>,
    events: Arc<dyn Events>,
    plugins: Arc<dyn Plugins>,
    vpcs: Arc<dyn Vpcs>,
    clock: Arc<dyn Clock>,
    authorizer: Arc<dyn Authorizer>,
    sessions: Arc<dyn SessionIssuer>,
    session_seconds: i32,
    expiry_warning: Duration,
    /// The cloud's inventory, and the deployment whose resources count in it.
    inventory: Option<(Arc<dyn Inventory>, String)>,
}

fn unavailable(error: StoreError) -> Error {
    Error::Unavailable(format!("the state store failed: {error}; retry the request"))
}

fn parse_page(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, Error> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_PAGE_SIZE}")));
    }
    Ok(PageRequest { limit, cursor })
}

fn page_error(error: StoreError) -> Error {
    match error {
        StoreError::BadCursor => Error::invalid("cursor", "not a cursor this API returned; start from the first page"),
        other => unavailable(other),
    }
}

impl ControlPlane {
    /// Builds the service. `plugins` holds the tenant types beyond `default`.
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn Events>,
        plugins: Arc<dyn Plugins>,
        vpcs: Arc<dyn Vpcs>,
        clock: Arc<dyn Clock>,
        authorizer: Arc<dyn Authorizer>,
        sessions: Arc<dyn SessionIssuer>,
    ) -> Self {
        let session_seconds = crate::credentials::DEFAULT_SESSION_SECONDS as i32;
        let expiry_warning = Duration::days(tenant::expiry::DEFAULT_WARNING_DAYS);
        Self {
            store,
            events,
            plugins,
            vpcs,
            clock,
            authorizer,
            sessions,
            session_seconds,
            expiry_warning,
            inventory: None,
        }
    }

    /// Sets how many days ahead of a tenant's end the sweep warns (`Tenant Expiring`;
    /// clamped to [`tenant::expiry::WARNING_DAYS`], which settings check at start-up; 0:
    /// no warning).
    pub fn with_expiry_warning_days(mut self, days: i64) -> Self {
        let range = tenant::expiry::WARNING_DAYS;
        self.expiry_warning = Duration::days(days.clamp(*range.start(), *range.end()));
        self
    }

    /// Sets how long the credentials it issues last, in seconds (clamped to
    /// [`crate::credentials::SESSION_SECONDS`]; settings refuse anything outside at start-up).
    pub fn with_session_seconds(mut self, seconds: i64) -> Self {
        let range = crate::credentials::SESSION_SECONDS;
        self.session_seconds = seconds.clamp(*range.start(), *range.end()) as i32;
        self
    }

    /// Reads tenants' inventories from `inventory`, counting only what `deployment` made
    /// (and what nobody's deployment tag claims). Without one, the inventory route and the
    /// drift sweep answer that the deployment has none.
    pub fn with_inventory(mut self, inventory: Arc<dyn Inventory>, deployment: &str) -> Self {
        self.inventory = Some((inventory, deployment.to_string()));
        self
    }

    /// The tenant types beyond `default`, with their plugins.
    pub fn tenant_types(&self, caller: &Caller) -> Result<Vec<TenantTypeInfo>, Error> {
        self.authorize_platform(caller, Action::ListTenantTypes)?;
        Ok(self.plugins.types())
    }

    /// Asks the tenant type's plugin whether it accepts the tenant as it would be stored.
    async fn check_with_type(&self, tenant: &Tenant) -> Result<(), Error> {
        if tenant.tenant_type() == tenant::DEFAULT_TYPE {
            return Ok(());
        }
        self.plugins.validate(tenant).await.map_err(|failure| match failure {
            PluginFailure::Refused { message, .. } => {
                Error::RefusedByType { tenant_type: tenant.tenant_type().clone(), message }
            }
            PluginFailure::UnknownType(tenant_type) => Error::invalid(
                "type",
                format!("tenant type '{tenant_type}' is no longer registered; its tenants can only be deleted"),
            ),
            other => Error::TypeFailed(other.to_string()),
        })
    }

    /// Records a new infrastructure.
    pub async fn create_infrastructure(
        &self,
        caller: &Caller,
        request: NewInfrastructure,
    ) -> Result<Infrastructure, Error> {
        self.authorize_platform(caller, Action::ManageInfrastructures)?;
        let name = Name::parse("name", &request.name)?;
        infrastructure::validate_region(&request.region)?;
        infrastructure::validate_vpc_id(&request.vpc_id)?;
        // The VPC's address ranges decide which ingress is private; read once, here.
        let cidr_blocks = match self.vpcs.cidr_blocks(&request.region, &request.vpc_id).await {
            Ok(Some(blocks)) => blocks,
            Ok(None) => {
                return Err(Error::invalid(
                    "vpcId",
                    format!("no VPC '{}' exists in {} for this account", request.vpc_id, request.region),
                ));
            }
            Err(error) => {
                return Err(Error::Unavailable(format!("could not read the VPC: {error}; retry the request")));
            }
        };
        let infrastructure = Infrastructure {
            name,
            region: request.region,
            vpc_id: request.vpc_id,
            environment: request.environment,
            cidr_blocks,
            tenant_count: 0,
            created_at: self.clock.now(),
            created_by: caller.id.clone(),
        };
        match self.store.create_infrastructure(&infrastructure).await {
            Ok(()) => {
                let subject = Subject::Infrastructure { name: infrastructure.name.clone() };
                let detail = serde_json::json!({ "infrastructure": &infrastructure });
                self.audit(caller, AuditAction::InfrastructureCreated, subject, detail).await;
                Ok(infrastructure)
            }
            Err(StoreError::NameTaken) => {
                Err(Error::NameTaken { kind: "infrastructure", name: infrastructure.name.to_string() })
            }
            Err(other) => Err(unavailable(other)),
        }
    }

    /// Lists infrastructures.
    pub async fn list_infrastructures(
        &self,
        caller: &Caller,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<Page<Infrastructure>, Error> {
        self.authorize_platform(caller, Action::ManageInfrastructures)?;
        let page = parse_page(limit, cursor)?;
        self.store.list_infrastructures(&page).await.map_err(page_error)
    }

    /// Reads one infrastructure.
    pub async fn get_infrastructure(&self, caller: &Caller, name: &str) -> Result<Infrastructure, Error> {
        self.authorize_platform(caller, Action::ManageInfrastructures)?;
        let not_found = || Error::NotFound { kind: "infrastructure", name: name.to_string() };
        let name = Name::parse("name", name).map_err(|_| not_found())?;
        self.store.get_infrastructure(&name).await.map_err(unavailable)?.ok_or_else(not_found)
    }

    /// Deletes an infrastructure that holds no tenants.
    pub async fn delete_infrastructure(&self, caller: &Caller, name: &str) -> Result<(), Error> {
        let infrastructure = self.get_infrastructure(caller, name).await?;
        match self.store.delete_infrastructure(&infrastructure.name).await {
            Ok(()) => {
                let subject = Subject::Infrastructure { name: infrastructure.name.clone() };
                self.audit(caller, AuditAction::InfrastructureDeleted, subject, serde_json::json!({})).await;
                Ok(())
            }
            Err(StoreError::InfrastructureInUse) => Err(Error::conflict(
                ConflictReason::InfrastructureInUse,
                format!(
                    "infrastructure '{name}' still holds tenants; delete them first (GET /v1/tenants?infrastructure={name})"
                ),
            )),
            Err(StoreError::NotFound) => Err(Error::NotFound { kind: "infrastructure", name: name.to_string() }),
            Err(other) => Err(unavailable(other)),
        }
    }

    /// Records a new tenant in `provisioning` and asks the worker to provision it. With an
    /// idempotency key, a repeat of the same request returns the first answer.
    pub async fn create_tenant(
        &self,
        caller: &Caller,
        request: NewTenant,
        idempotency_key: Option<&str>,
    ) -> Result<Created, Error> {
        let canonical = serde_json::to_string(&request).map_err(|e| Error::invalid("body", e.to_string()))?;
        let scoped_key = idempotency_key.map(|key| crate::access::idempotency_scope(caller, key));
        if let Some(key) = &scoped_key
            && let Some(replay) = self.replay(key, &canonical).await?
        {
            return Ok(replay);
        }

        let name = Name::parse("name", &request.name)?;
        // Only those who may see infrastructures learn that one does not exist; to anyone
        // else a missing one is refused as an existing one they may not use would be.
        let no_infrastructure = || {
            if self.allowed(caller, Action::ManageInfrastructures, Resource::Platform) {
                Error::NotFound { kind: "infrastructure", name: request.infrastructure.clone() }
            } else {
                Error::Forbidden(format!("'{}' may not {}", caller.id, Action::CreateTenant.describe()))
            }
        };
        let infrastructure_name =
            Name::parse("infrastructure", &request.infrastructure).map_err(|_| no_infrastructure())?;
        let tenant_type = request.tenant_type.clone().unwrap_or_else(|| tenant::DEFAULT_TYPE.to_string());
        let known: Vec<String> = self.plugins.types().into_iter().map(|t| t.name).collect();
        tenant::validate_type(&tenant_type, &known)?;
        metadata::validate_settings(&request.settings)?;
        metadata::validate_tags(&request.tags)?;
        let expires_at = self.asked_expiry(&tenant_type, &request.settings, request.expires_at.map(Some))?;
        if let Some(at) = expires_at {
            tenant::expiry::check_new("expiresAt", at, self.clock.now())?;
        }
        let infrastructure = self
            .store
            .get_infrastructure(&infrastructure_name)
            .await
            .map_err(unavailable)?
            .ok_or_else(no_infrastructure)?;
        self.authorize(
            caller,
            Action::CreateTenant,
            Resource::Infrastructure { name: infrastructure.name.clone(), environment: infrastructure.environment },
        )?;

        let now = self.clock.now();
        let mut tenant = Tenant::new(
            name,
            infrastructure.name.clone(),
            infrastructure.environment,
            tenant_type,
            request.settings,
            request.tags,
            request.deletion_protection.unwrap_or(infrastructure.environment == Environment::Prod),
            Requester::from_caller(caller, now),
            now,
        );
        tenant.set_expiry(expires_at);
        self.check_with_type(&tenant).await?;
        let record = scoped_key.map(|key| IdempotencyRecord {
            key,
            request: canonical.clone(),
            tenant: tenant.clone(),
            expires_at: now + IDEMPOTENCY_TTL,
        });
        match self.store.create_tenant(&tenant, record.as_ref()).await {
            Ok(()) => {}
            Err(StoreError::NameTaken) => {
                return Err(Error::NameTaken { kind: "tenant", name: tenant.name().to_string() });
            }
            Err(StoreError::InfrastructureMissing) => {
                return Err(Error::NotFound { kind: "infrastructure", name: request.infrastructure });
            }
            Err(StoreError::IdempotencyKeyTaken) => {
                // A concurrent request with the same key won the race: answer as it did.
                let key = record.as_ref().map(|r| r.key.as_str()).unwrap_or_default();
                return self.replay(key, &canonical).await?.ok_or_else(|| {
                    Error::Unavailable("a concurrent request with this Idempotency-Key is in flight; retry".into())
                });
            }
            Err(other) => return Err(unavailable(other)),
        }
        self.audit_tenant(caller, AuditAction::TenantCreated, &tenant, serde_json::json!({
            "infrastructure": tenant.infrastructure(), "type": tenant.tenant_type(),
            "settings": tenant.settings(), "tags": tenant.tags(), "deletionProtection": tenant.deletion_protection(),
            "expiresAt": expiry::shown(tenant.expires_at()),
        }))
            .await;
        self.make_creator_admin(caller, &tenant).await;
        self.request_work(EventKind::CreateRequested, &tenant).await;
        Ok(Created { tenant, replayed: false })
    }

    async fn replay(&self, key: &str, canonical: &str) -> Result<Option<Created>, Error> {
        let Some(record) = self.store.get_idempotency(key).await.map_err(unavailable)? else {
            return Ok(None);
        };
        if record.expires_at <= self.clock.now() {
            return Ok(None);
        }
        if record.request != canonical {
            return Err(Error::IdempotencyKeyReused);
        }
        Ok(Some(Created { tenant: record.tenant, replayed: true }))
    }

    /// Reads one tenant.
    pub async fn get_tenant(&self, caller: &Caller, name: &str) -> Result<Tenant, Error> {
        Ok(self.tenant_for(caller, name, Action::ReadTenant).await?.tenant)
    }

    /// Lists tenants that are not deleted, optionally of one infrastructure.
    pub async fn list_tenants(
        &self,
        caller: &Caller,
        infrastructure: Option<&str>,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<Page<Tenant>, Error> {
        let page = parse_page(limit, cursor)?;
        if !self.allowed(caller, Action::ListAllTenants, Resource::Platform) {
            return self.list_own_tenants(caller, infrastructure, page).await;
        }
        let infrastructure = match infrastructure {
            Some(raw) => match Name::parse("infrastructure", raw) {
                Ok(name) => Some(name),
                // No tenant can live in an infrastructure with an invalid name.
                Err(_) => {
                    return Ok(Page { items: vec![], next_cursor: None });
                }
            },
            None => None,
        };
        self.store.list_tenants(infrastructure.as_ref(), &page).await.map_err(page_error)
    }

    /// Changes settings, tags or deletion protection. New tags are applied to the
    /// resources by the worker (`updating`), as are new settings of a plugin type (its
    /// plan follows them); the rest takes effect at once.
    pub async fn update_tenant(
        &self,
        caller: &Caller,
        name: &str,
        patch: TenantPatch,
        if_match: Option<u64>,
    ) -> Result<Tenant, Error> {
        let authorized = self.tenant_for(caller, name, Action::UpdateTenant).await?;
        let through_entry = authorized.role.is_some();
        let mut tenant = authorized.tenant;
        if let Some(expected) = if_match
            && expected != tenant.version()
        {
            return Err(Error::PreconditionFailed { expected, current: tenant.version() });
        }
        if !matches!(tenant.state(), TenantState::Active | TenantState::Failed) {
            return Err(Error::conflict(
                ConflictReason::State,
                format!("tenant '{name}' is {}; it can be changed once it is active", tenant.state()),
            ));
        }
        let mut settings = tenant.settings().clone();
        let settings_changed = merge(&mut settings, patch.settings);
        if settings_changed {
            metadata::validate_settings(&settings)?;
        }
        // A plugin type decides by its settings (who may be given access, what the tenant
        // is billed to): those are not for the tenant's own admins to rewrite.
        if settings_changed && through_entry && tenant.tenant_type() != tenant::DEFAULT_TYPE {
            return Err(Error::Forbidden(format!(
                "the settings of a '{}' tenant are changed by platform admins; '{}' may change its tags and deletion protection",
                tenant.tenant_type(),
                caller.id
            )));
        }
        let mut tags = tenant.tags().clone();
        let tags_changed = merge(&mut tags, patch.tags);
        if tags_changed {
            metadata::validate_tags(&tags)?;
        }
        let deletion_protection = patch.deletion_protection.unwrap_or(tenant.deletion_protection());
        // The end follows the type's setting when the type keeps it there; it is derived
        // again only when something that decides it changed, so that an old end does not
        // stop a change of tags.
        let expires_at = if settings_changed || patch.expires_at.is_some() {
            self.asked_expiry(tenant.tenant_type(), &settings, patch.expires_at)?
        } else {
            tenant.expires_at()
        };
        let now = self.clock.now();
        if tenant.expires_at() != expires_at
            && let Some(at) = expires_at
        {
            tenant::expiry::check_new("expiresAt", at, now)?;
        }
        tenant.set_expiry(expires_at);
        let needs_work = tenant.change(settings, tags, deletion_protection, Requester::from_caller(caller, now))?;
        // A plugin type sees every change first, and plans again from the new settings.
        if tenant.tenant_type() != tenant::DEFAULT_TYPE && (settings_changed || tags_changed) {
            self.check_with_type(&tenant).await?;
        }
        let tenant = self.save(tenant, if_match).await?;
        let detail = serde_json::json!({
            "settings": tenant.settings(), "tags": tenant.tags(), "deletionProtection": tenant.deletion_protection(),
            "expiresAt": expiry::shown(tenant.expires_at()),
        });
        self.audit_tenant(caller, AuditAction::TenantUpdated, &tenant, detail).await;
        if needs_work {
            self.request_work(EventKind::UpdateRequested, &tenant).await;
        }
        Ok(tenant)
    }

    /// Asks for a tenant's deletion. Deleting a tenant that is already being deleted
    /// answers as the first request did.
    pub async fn delete_tenant(&self, caller: &Caller, name: &str) -> Result<Tenant, Error> {
        let mut tenant = self.tenant_for(caller, name, Action::DeleteTenant).await?.tenant;
        match tenant.state() {
            TenantState::Deleting => return Ok(tenant),
            TenantState::Deleted => {
                return Err(Error::NotFound { kind: "tenant", name: name.to_string() });
            }
            TenantState::Provisioning | TenantState::Updating => {
                return Err(Error::conflict(
                    ConflictReason::State,
                    format!("tenant '{name}' is {}; delete it once it is active or failed", tenant.state()),
                ));
            }
            TenantState::Active | TenantState::Failed => {}
        }
        // A producer on the bus may delete only the tenants it created itself.
        if caller.via == Via::Event
            && tenant.created_by().as_ref().is_none_or(|creator| creator.via != Via::Event || creator.id != caller.id)
        {
            return Err(Error::Forbidden(format!(
                "producer '{}' may delete only the tenants it created; '{name}' was not",
                caller.id
            )));
        }
        if tenant.deletion_protection() {
            return Err(Error::conflict(
                ConflictReason::DeletionProtection,
                format!(
                    "tenant '{name}' has deletion protection on; turn it off first with \
                     PATCH /v1/tenants/{name} {{\"deletionProtection\": false}}"
                ),
            ));
        }
        tenant.request(Operation::Delete, Requester::from_caller(caller, self.clock.now()))?;
        let tenant = self.save(tenant, None).await?;
        self.audit_tenant(caller, AuditAction::TenantDeletionRequested, &tenant, serde_json::json!({})).await;
        self.request_work(EventKind::DeleteRequested, &tenant).await;
        Ok(tenant)
    }

    /// Runs a failed tenant's failed operation again.
    pub async fn retry_tenant(&self, caller: &Caller, name: &str) -> Result<Tenant, Error> {
        let mut tenant = self.tenant_for(caller, name, Action::RetryTenant).await?.tenant;
        let Some(failure) = tenant.failure().clone().filter(|_| tenant.state() == TenantState::Failed) else {
            return Err(Error::conflict(
                ConflictReason::State,
                format!("tenant '{name}' is {}, not failed; nothing to retry", tenant.state()),
            ));
        };
        tenant.request(failure.operation, Requester::from_caller(caller, self.clock.now()))?;
        let tenant = self.save(tenant, None).await?;
        let detail = serde_json::json!({ "operation": failure.operation, "failedStep": failure.step });
        self.audit_tenant(caller, AuditAction::TenantRetried, &tenant, detail).await;
        self.request_work(EventKind::requested(failure.operation), &tenant).await;
        Ok(tenant)
    }

    /// Writes a changed tenant at the version it was read at, and returns it as stored.
    async fn save(&self, tenant: Tenant, if_match: Option<u64>) -> Result<Tenant, Error> {
        match self.store.save_tenant(&tenant).await {
            Ok(saved) => Ok(saved),
            Err(StoreError::Stale { current }) => match if_match {
                Some(expected) => Err(Error::PreconditionFailed { expected, current }),
                None => Err(Error::conflict(
                    ConflictReason::ConcurrentChange,
                    format!(
                        "tenant '{}' changed while this request was handled; read it again and retry",
                        tenant.name()
                    ),
                )),
            },
            // Gone meanwhile: records are never removed today; answered as a change all the same.
            Err(StoreError::NotFound) => Err(Error::conflict(
                ConflictReason::ConcurrentChange,
                format!("tenant '{}' changed while this request was handled; read it again and retry", tenant.name()),
            )),
            Err(other) => Err(unavailable(other)),
        }
    }

    /// Publishes a request for the worker. A lost event is not lost work: the tenant is
    /// recorded in a transitional state and the sweep re-drives it, so a publish failure
    /// is logged rather than failing a request whose state is already stored.
    async fn request_work(&self, kind: EventKind, tenant: &Tenant) {
        if let Err(error) = self.events.publish(&LifecycleEvent::request(kind, tenant)).await {
            tracing::warn!(tenant = %tenant.name(), %error, "request event not published; the sweep will pick the tenant up");
        }
    }
}

/// Applies a merge patch (absent: no change) and says whether anything changed.
fn merge(target: &mut BTreeMap<String, String>, patch: Option<BTreeMap<String, Option<String>>>) -> bool {
    let before = target.clone();
    for (key, value) in patch.into_iter().flatten() {
        match value {
            Some(value) => target.insert(key, value),
            None => target.remove(&key),
        };
    }
    before != *target
}
