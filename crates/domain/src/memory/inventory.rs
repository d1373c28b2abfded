//! The inventory port in memory: a cloud of tagged resources that tests change by hand.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::inventory::{Holding, Holdings, InventoryScope, MAX_HOLDINGS, expected_tags};
use crate::metadata::tag_keys;
use crate::ports::Inventory;
use crate::ports::errors::CloudError;
use crate::tenant::{ResourceKind, Tenant};

/// Resources by ARN, answered as the AWS adapter answers: by the tenant's tag, by its IAM
/// path, and by the ARNs its record names.
#[derive(Default)]
pub struct MemoryInventory {
    resources: Mutex<BTreeMap<String, Holding>>,
    failing: Mutex<bool>,
    calls: Mutex<usize>,
}

impl MemoryInventory {
    /// Puts (or replaces) a resource.
    pub fn put(&self, holding: Holding) {
        self.resources.lock().unwrap().insert(holding.arn.clone(), holding);
    }

    /// Puts every resource `tenant`'s record names, tagged as `deployment` tags them: the
    /// cloud as the lifecycle left it.
    pub fn mirror(&self, tenant: &Tenant, deployment: &str) {
        let tags = expected_tags(tenant, deployment);
        for status in tenant.resources() {
            if let (Some(id), Some(arn)) = (&status.id, &status.arn) {
                self.put(Holding {
                    kind: Some(status.kind),
                    id: id.clone(),
                    arn: arn.clone(),
                    tags: tags.clone(),
                    pending_deletion: false,
                });
            }
        }
    }

    /// Deletes a resource behind Tenancy's back.
    pub fn delete(&self, arn: &str) {
        self.resources.lock().unwrap().remove(arn);
    }

    /// Removes a tag from a resource behind Tenancy's back.
    pub fn untag(&self, arn: &str, key: &str) {
        if let Some(holding) = self.resources.lock().unwrap().get_mut(arn) {
            holding.tags.remove(key);
        }
    }

    /// Makes every later call fail with a passing fault (or stop failing).
    pub fn fail(&self, failing: bool) {
        *self.failing.lock().unwrap() = failing;
    }

    /// How many times the cloud was asked.
    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

#[async_trait]
impl Inventory for MemoryInventory {
    async fn holdings(&self, scope: &InventoryScope) -> Result<Holdings, CloudError> {
        *self.calls.lock().unwrap() += 1;
        if *self.failing.lock().unwrap() {
            return Err(CloudError::transient("GetResources: ThrottlingException: injected"));
        }
        let resources = self.resources.lock().unwrap();
        let recorded = |arn: &str| scope.recorded.iter().any(|r| r.arn == arn);
        let under_path = |h: &Holding| {
            matches!(h.kind, Some(ResourceKind::Role | ResourceKind::InstanceProfile))
                && h.arn.contains(&format!(":role{}", scope.iam_path))
                || h.arn.contains(&format!(":instance-profile{}", scope.iam_path))
        };
        let found: Vec<Holding> = resources
            .values()
            .filter(|h| {
                h.tags.get(tag_keys::TENANT).map(String::as_str) == Some(scope.tenant.as_str())
                    || under_path(h)
                    || recorded(&h.arn)
            })
            .cloned()
            .collect();
        let truncated = found.len() > MAX_HOLDINGS;
        Ok(Holdings { resources: found.into_iter().take(MAX_HOLDINGS).collect(), truncated })
    }
}
