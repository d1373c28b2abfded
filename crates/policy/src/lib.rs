//! Tenancy's authorization adapter: the [`Authorizer`] port on Cedar, with the policies
//! and schema in `policies/` (built into the functions), validated strictly when they are loaded. A request is built from the
//! question alone (the caller with their groups, the action, the tenant or
//! infrastructure with its attributes, the caller's role as context), so a decision
//! reads nothing: the store was read once, before, for the tenant and the caller's entry.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer as Engine, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use tenancy_domain::authorization::{Action, Question, Resource};
use tenancy_domain::ports::Authorizer;

/// The policies shipped with the deployment.
pub const POLICIES: &str = include_str!("../../../policies/tenancy.cedar");
/// The schema they are validated against.
pub const SCHEMA: &str = include_str!("../../../policies/tenancy.cedarschema");
/// Example changes, validated in CI like the shipped policies.
pub const EXAMPLES: &str = include_str!("../../../policies/examples.cedar");

/// What the policies call the caller's role when they have none.
pub const NO_ROLE: &str = "none";

/// Cedar, with the policies loaded and validated.
pub struct CedarAuthorizer {
    engine: Engine,
    policies: PolicySet,
    schema: Schema,
    user: EntityTypeName,
    group: EntityTypeName,
    platform: EntityUid,
    infrastructure: EntityTypeName,
    tenant: EntityTypeName,
    actions: HashMap<Action, EntityUid>,
}

impl std::fmt::Debug for CedarAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CedarAuthorizer").field("policies", &self.policies.policies().count()).finish()
    }
}

fn type_name(name: &str) -> EntityTypeName {
    EntityTypeName::from_str(name).expect("a type name of the schema")
}

impl CedarAuthorizer {
    /// The shipped policies ([`POLICIES`] against [`SCHEMA`]).
    pub fn shipped() -> Result<Self, String> {
        Self::load(POLICIES, SCHEMA)
    }

    /// Loads `policies`, refusing any that do not parse or validate strictly against `schema`
    /// (an unknown action, attribute or type, a comparison of a string with a number...).
    pub fn load(policies: &str, schema: &str) -> Result<Self, String> {
        let (schema, _) = Schema::from_cedarschema_str(schema).map_err(|e| format!("the Cedar schema: {e}"))?;
        let policies = PolicySet::from_str(policies).map_err(|e| format!("the Cedar policies: {e}"))?;
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            let errors: Vec<String> = validation.validation_errors().map(|e| e.to_string()).collect();
            return Err(format!("the Cedar policies do not validate against the schema: {}", errors.join("; ")));
        }
        let action_type = type_name("Tenancy::Action");
        let actions = Action::ALL
            .into_iter()
            .map(|action| {
                (action, EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(action.as_str())))
            })
            .collect();
        Ok(Self {
            engine: Engine::new(),
            policies,
            schema,
            user: type_name("Tenancy::User"),
            group: type_name("Tenancy::Group"),
            platform: EntityUid::from_type_name_and_id(type_name("Tenancy::Platform"), EntityId::new("tenancy")),
            infrastructure: type_name("Tenancy::Infrastructure"),
            tenant: type_name("Tenancy::Tenant"),
            actions,
        })
    }

    fn uid(kind: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
    }

    fn decide(&self, question: &Question<'_>) -> Result<bool, String> {
        let caller = question.caller;
        let principal = Self::uid(&self.user, &caller.id);
        let groups: HashSet<EntityUid> = caller.groups.iter().map(|g| Self::uid(&self.group, g)).collect();
        let user = Entity::new(
            principal.clone(),
            HashMap::from([("via".to_string(), RestrictedExpression::new_string(caller.via.as_str().into()))]),
            groups,
        )
        .map_err(|e| e.to_string())?;
        let mut entities = vec![user];
        let mut context = Vec::new();
        let resource = match &question.resource {
            Resource::Platform => self.platform.clone(),
            Resource::Infrastructure { name, environment } => {
                let uid = Self::uid(&self.infrastructure, name.as_str());
                let attrs = HashMap::from([(
                    "environment".to_string(),
                    RestrictedExpression::new_string(environment.to_string()),
                )]);
                entities.push(Entity::new(uid.clone(), attrs, HashSet::new()).map_err(|e| e.to_string())?);
                uid
            }
            Resource::Tenant { tenant, role } => {
                let uid = Self::uid(&self.tenant, tenant.name.as_str());
                let attrs = HashMap::from([
                    ("infrastructure".to_string(), RestrictedExpression::new_string(tenant.infrastructure.to_string())),
                    ("environment".to_string(), RestrictedExpression::new_string(tenant.environment.to_string())),
                    ("tenantType".to_string(), RestrictedExpression::new_string(tenant.tenant_type.clone())),
                ]);
                entities.push(Entity::new(uid.clone(), attrs, HashSet::new()).map_err(|e| e.to_string())?);
                let role = role.map(|r| r.as_str()).unwrap_or(NO_ROLE);
                context.push(("role".to_string(), RestrictedExpression::new_string(role.to_string())));
                uid
            }
        };
        let action = self.actions.get(&question.action).cloned().ok_or("an action the schema lacks")?;
        let context = Context::from_pairs(context).map_err(|e| e.to_string())?;
        let request =
            Request::new(principal, action, resource, context, Some(&self.schema)).map_err(|e| e.to_string())?;
        let entities = Entities::from_entities(entities, Some(&self.schema)).map_err(|e| e.to_string())?;
        let response = self.engine.is_authorized(&request, &self.policies, &entities);
        for error in response.diagnostics().errors() {
            tracing::warn!(%error, action = question.action.as_str(), "a policy failed to evaluate");
        }
        Ok(response.decision() == Decision::Allow)
    }
}

impl Authorizer for CedarAuthorizer {
    fn is_allowed(&self, question: &Question<'_>) -> bool {
        // A question the schema cannot express is refused, never allowed.
        self.decide(question).unwrap_or_else(|error| {
            tracing::error!(%error, action = question.action.as_str(), "authorization request refused");
            false
        })
    }
}

#[cfg(test)]
mod tests;
