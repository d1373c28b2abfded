//! A tenant's boundary as the cloud builds it: what to make, with which tags, and which
//! resources are the deployment's to adopt or remove.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use crate::infrastructure::Infrastructure;
use crate::metadata::tag_keys;
use crate::names::{DerivedNames, Name};
use crate::plan::{IngressRule, Plan, VPC_PLACEHOLDER};
use crate::tenant::{ResourceRef, Tenant};

/// What the cloud needs to know to build or tear down one tenant's boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    /// The tenant's name.
    pub tenant: Name,
    /// The tenant incarnation's id.
    pub tenant_id: Uuid,
    /// The deployment (stack) acting: every resource it makes carries it, and it adopts
    /// or deletes nothing that does not.
    pub deployment: String,
    /// Ids and ARNs of the resources the tenant's record names: made by this deployment.
    pub recorded: BTreeSet<String>,
    /// Its infrastructure.
    pub infrastructure: Name,
    /// The infrastructure's region.
    pub region: String,
    /// The infrastructure's VPC.
    pub vpc_id: String,
    /// Every AWS name of the tenant.
    pub names: DerivedNames,
    /// Every tag to write on every resource.
    pub tags: BTreeMap<String, String>,
    /// Tag keys to remove because the user (or the tenant type's plan) dropped them.
    pub removed_tag_keys: Vec<String>,
    /// What the tenant type's plugin added, validated; empty for the `default` type.
    pub plan: Plan,
}

impl Boundary {
    /// The boundary of `tenant` in `infrastructure`, as `deployment` builds it. The plan's
    /// `{vpc}` ingress rules become one rule per CIDR block of the VPC.
    pub fn of(tenant: &Tenant, infrastructure: &Infrastructure, deployment: &str) -> Self {
        let mut tags = tenant.resource_tags();
        tags.insert(tag_keys::DEPLOYMENT.into(), deployment.to_string());
        let mut plan = tenant.plugin().as_ref().map(|record| record.plan.clone()).unwrap_or_default();
        plan.ingress_rules = plan
            .ingress_rules
            .iter()
            .flat_map(|rule| match rule.cidr.as_str() {
                VPC_PLACEHOLDER => infrastructure
                    .cidr_blocks
                    .iter()
                    .map(|cidr| IngressRule { cidr: cidr.clone(), ..rule.clone() })
                    .collect(),
                _ => vec![rule.clone()],
            })
            .collect();
        let recorded = tenant
            .resources()
            .iter()
            .flat_map(|r| [r.id.clone(), r.arn.clone()])
            .flatten()
            .filter(|id| !id.is_empty())
            .collect();
        Self {
            tenant: tenant.name().clone(),
            tenant_id: tenant.id(),
            deployment: deployment.to_string(),
            recorded,
            infrastructure: infrastructure.name.clone(),
            region: infrastructure.region.clone(),
            vpc_id: infrastructure.vpc_id.clone(),
            names: DerivedNames::for_tenant(tenant.name()),
            tags,
            removed_tag_keys: tenant.removed_tag_keys(),
            plan,
        }
    }

    /// True when `tags` say this deployment made the resource for this tenant incarnation.
    pub fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(tag_keys::DEPLOYMENT) == Some(&self.deployment)
            && tags.get(tag_keys::TENANT_ID).map(String::as_str) == Some(self.tenant_id.to_string().as_str())
    }

    /// True when the resource is this tenant's to remove: its record names it, or it
    /// carries this deployment's tag and this tenant's id.
    pub fn may_remove(&self, id: &str, arn: Option<&str>, tags: &BTreeMap<String, String>) -> bool {
        self.recorded.contains(id) || arn.is_some_and(|arn| self.recorded.contains(arn)) || self.owns(tags)
    }

    /// True when `tags` say another deployment made the resource: it is not this one's
    /// to adopt, delete or even report.
    pub fn belongs_to_another_deployment(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(tag_keys::DEPLOYMENT).is_some_and(|d| *d != self.deployment)
    }
}

/// What is left of a tenant after its deletion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remaining {
    /// Resources this deployment made for the tenant that still exist: the deletion is
    /// not done.
    pub owned: Vec<ResourceRef>,
    /// ARNs of resources tagged with the tenant's name that this deployment did not make
    /// for it (no deployment tag, or another incarnation's): reported, never touched.
    /// Resources another deployment tagged as its own are not listed at all.
    pub foreign: Vec<String>,
}
