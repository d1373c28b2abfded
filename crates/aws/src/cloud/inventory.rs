//! What the cloud holds for a tenant ([`Inventory`]): the Resource Groups Tagging API by the
//! tenant's tag, IAM by the tenant's path (the tagging API returns no IAM roles or
//! instance profiles), and each resource the record names looked up directly, so that
//! one that lost its tags is still found.
//!
//! Everything is bounded: pages of the tagging API, IAM entities per kind, resources in
//! all. What is read is reported as it is; the domain decides what counts and bounds
//! every string.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use aws_sdk_kms::types::KeyState;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use tenancy_domain::inventory::{Holding, Holdings, InventoryScope, MAX_HOLDINGS};
use tenancy_domain::metadata::tag_keys;
use tenancy_domain::ports::Inventory;
use tenancy_domain::ports::errors::CloudError;
use tenancy_domain::tenant::ResourceKind;

use super::{AwsCloud, kind_of_arn};
use crate::errors::{cloud_error, code};

/// Resources per page of `GetResources` (the API's largest).
const TAGGING_PAGE: i32 = 100;
/// Pages of `GetResources` read at most: [`MAX_HOLDINGS`] resources.
const TAGGING_PAGES: usize = MAX_HOLDINGS / TAGGING_PAGE as usize;
/// Roles, and instance profiles, under one tenant's path read at most (each costs a
/// `GetRole` or `GetInstanceProfile` for its tags). Tenancy makes one of each.
const IAM_PER_KIND: usize = 20;
/// Group ids per `DescribeSecurityGroups` filter.
const GROUPS_PER_CALL: usize = 100;

/// The last part of an ARN (`sg-...`, a key id, a bucket or role name).
fn id_of(arn: &str) -> String {
    arn.rsplit(['/', ':']).next().unwrap_or(arn).to_string()
}

#[async_trait]
impl Inventory for AwsCloud {
    async fn holdings(&self, scope: &InventoryScope) -> Result<Holdings, CloudError> {
        let mut found: BTreeMap<String, Holding> = BTreeMap::new();
        let mut truncated = self.tagged_with_tenant(scope, &mut found).await?;
        truncated |= self.iam_under_tenant_path(scope, &mut found).await?;
        self.confirm_security_groups(scope, &mut found).await?;
        self.confirm_keys(scope, &mut found).await?;
        self.look_up_recorded(scope, &mut found).await?;
        let mut resources: Vec<Holding> = found.into_values().collect();
        if resources.len() > MAX_HOLDINGS {
            resources.truncate(MAX_HOLDINGS);
            truncated = true;
        }
        Ok(Holdings { resources, truncated })
    }
}

impl AwsCloud {
    /// Everything in the region tagged `tenancy:tenant=<tenant>`, any type, at most
    /// [`TAGGING_PAGES`] pages. True when more pages were left unread.
    async fn tagged_with_tenant(
        &self,
        scope: &InventoryScope,
        found: &mut BTreeMap<String, Holding>,
    ) -> Result<bool, CloudError> {
        let tagging = &self.regional(&scope.region).tagging;
        let mut token: Option<String> = None;
        for _ in 0..TAGGING_PAGES {
            let output = tagging
                .get_resources()
                .tag_filters(TagFilter::builder().key(tag_keys::TENANT).values(scope.tenant.as_str()).build())
                .resources_per_page(TAGGING_PAGE)
                .set_pagination_token(token.take())
                .send()
                .await
                .map_err(|e| cloud_error("GetResources", e))?;
            for mapping in output.resource_tag_mapping_list() {
                let Some(arn) = mapping.resource_arn().filter(|a| !a.is_empty()) else { continue };
                let tags = mapping.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
                let holding = Holding {
                    kind: kind_of_arn(arn),
                    id: id_of(arn),
                    arn: arn.to_string(),
                    tags,
                    pending_deletion: false,
                };
                found.insert(holding.arn.clone(), holding);
            }
            match output.pagination_token().filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next.to_string()),
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Roles and instance profiles under the tenant's path, with their tags (listings carry
    /// none). The path is checked here as well as by the service: the emulator's profile
    /// listing ignores the prefix. True when there were more than [`IAM_PER_KIND`].
    async fn iam_under_tenant_path(
        &self,
        scope: &InventoryScope,
        found: &mut BTreeMap<String, Holding>,
    ) -> Result<bool, CloudError> {
        let path = scope.iam_path.as_str();
        let mut truncated = false;
        let mut roles = Vec::new();
        let mut pages = self.iam.list_roles().path_prefix(path).into_paginator().items().send();
        while let Some(role) = pages.next().await {
            let role = role.map_err(|e| cloud_error("ListRoles", e))?;
            if role.path().starts_with(path) {
                if roles.len() == IAM_PER_KIND {
                    truncated = true;
                    break;
                }
                roles.push(role.role_name().to_string());
            }
        }
        for name in roles {
            if let Some(holding) = self.role_holding(&name).await? {
                found.insert(holding.arn.clone(), holding);
            }
        }
        let mut profiles = Vec::new();
        let mut pages = self.iam.list_instance_profiles().path_prefix(path).into_paginator().items().send();
        while let Some(profile) = pages.next().await {
            let profile = profile.map_err(|e| cloud_error("ListInstanceProfiles", e))?;
            if profile.path().starts_with(path) {
                if profiles.len() == IAM_PER_KIND {
                    truncated = true;
                    break;
                }
                profiles.push(profile.instance_profile_name().to_string());
            }
        }
        for name in profiles {
            if let Some(holding) = self.profile_holding(&name).await? {
                found.insert(holding.arn.clone(), holding);
            }
        }
        Ok(truncated)
    }

    async fn role_holding(&self, name: &str) -> Result<Option<Holding>, CloudError> {
        match self.iam.get_role().role_name(name).send().await {
            Ok(output) => Ok(output.role().map(|role| Holding {
                kind: Some(ResourceKind::Role),
                id: name.to_string(),
                arn: role.arn().to_string(),
                tags: role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
                pending_deletion: false,
            })),
            Err(error) if code(&error) == Some("NoSuchEntity") => Ok(None),
            Err(error) => Err(cloud_error("GetRole", error)),
        }
    }

    async fn profile_holding(&self, name: &str) -> Result<Option<Holding>, CloudError> {
        match self.iam.get_instance_profile().instance_profile_name(name).send().await {
            Ok(output) => Ok(output.instance_profile().map(|profile| Holding {
                kind: Some(ResourceKind::InstanceProfile),
                id: name.to_string(),
                arn: profile.arn().to_string(),
                tags: profile.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
                pending_deletion: false,
            })),
            Err(error) if code(&error) == Some("NoSuchEntity") => Ok(None),
            Err(error) => Err(cloud_error("GetInstanceProfile", error)),
        }
    }

    /// Every security group found by tag or named by the record, read from EC2 itself:
    /// the tagging API can go on listing a group for a while after its deletion, and
    /// misses a recorded group that lost its tenant tag. A `group-id` filter (unlike
    /// `GroupIds`) answers without the missing ones instead of failing.
    async fn confirm_security_groups(
        &self,
        scope: &InventoryScope,
        found: &mut BTreeMap<String, Holding>,
    ) -> Result<(), CloudError> {
        let mut arns: BTreeMap<String, String> = found
            .values()
            .filter(|h| h.kind == Some(ResourceKind::SecurityGroup))
            .map(|h| (h.id.clone(), h.arn.clone()))
            .collect();
        for recorded in scope.recorded.iter().filter(|r| r.kind == ResourceKind::SecurityGroup) {
            arns.entry(recorded.id.clone()).or_insert_with(|| recorded.arn.clone());
        }
        let ids: Vec<String> = arns.keys().cloned().collect();
        let ec2 = &self.regional(&scope.region).ec2;
        let mut existing = BTreeMap::new();
        for chunk in ids.chunks(GROUPS_PER_CALL) {
            let filter = Filter::builder().name("group-id").set_values(Some(chunk.to_vec())).build();
            let output = ec2
                .describe_security_groups()
                .filters(filter)
                .send()
                .await
                .map_err(|e| cloud_error("DescribeSecurityGroups", e))?;
            for group in output.security_groups() {
                let Some(id) = group.group_id() else { continue };
                let tags: BTreeMap<String, String> = group
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                    .collect();
                existing.insert(id.to_string(), tags);
            }
        }
        for (id, arn) in arns {
            match existing.remove(&id) {
                Some(tags) => {
                    found.insert(
                        arn.clone(),
                        Holding { kind: Some(ResourceKind::SecurityGroup), id, arn, tags, pending_deletion: false },
                    );
                }
                None => {
                    found.remove(&arn);
                }
            }
        }
        Ok(())
    }

    /// Every key found by tag or named by the record, read from KMS: whether it still
    /// exists, whether it is scheduled for deletion, and (for a recorded key the tagging
    /// API did not return) its tags.
    async fn confirm_keys(
        &self,
        scope: &InventoryScope,
        found: &mut BTreeMap<String, Holding>,
    ) -> Result<(), CloudError> {
        let mut keys: BTreeMap<String, (String, bool)> = found
            .values()
            .filter(|h| h.kind == Some(ResourceKind::Key))
            .map(|h| (h.arn.clone(), (h.id.clone(), true)))
            .collect();
        for recorded in scope.recorded.iter().filter(|r| r.kind == ResourceKind::Key) {
            keys.entry(recorded.arn.clone()).or_insert_with(|| (recorded.id.clone(), false));
        }
        for (arn, (id, tagged)) in keys {
            let Some(key) = self.describe_key(&scope.region, &id).await? else {
                found.remove(&arn);
                continue;
            };
            let pending = matches!(key.key_state(), Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion));
            if tagged {
                if let Some(holding) = found.get_mut(&arn) {
                    holding.pending_deletion = pending;
                }
                continue;
            }
            let tags = self.key_tags(&scope.region, &id).await?;
            found.insert(
                arn.clone(),
                Holding { kind: Some(ResourceKind::Key), id, arn, tags, pending_deletion: pending },
            );
        }
        Ok(())
    }

    /// Recorded roles, instance profiles and buckets not found yet, each read directly.
    async fn look_up_recorded(
        &self,
        scope: &InventoryScope,
        found: &mut BTreeMap<String, Holding>,
    ) -> Result<(), CloudError> {
        for recorded in &scope.recorded {
            if found.contains_key(&recorded.arn) {
                continue;
            }
            let holding = match recorded.kind {
                ResourceKind::Role => self.role_holding(&recorded.id).await?,
                ResourceKind::InstanceProfile => self.profile_holding(&recorded.id).await?,
                ResourceKind::Bucket => self.bucket_holding(&scope.region, &recorded.id, &recorded.arn).await?,
                // Confirmed above, found or not.
                ResourceKind::SecurityGroup | ResourceKind::Key => None,
            };
            if let Some(holding) = holding {
                found.insert(holding.arn.clone(), holding);
            }
        }
        Ok(())
    }

    async fn bucket_holding(&self, region: &str, name: &str, arn: &str) -> Result<Option<Holding>, CloudError> {
        let tags = match self.regional(region).s3.get_bucket_tagging().bucket(name).send().await {
            Ok(output) => output.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
            Err(error) if code(&error) == Some("NoSuchTagSet") => BTreeMap::new(),
            Err(error) if code(&error) == Some("NoSuchBucket") => return Ok(None),
            Err(error) => return Err(cloud_error(&format!("GetBucketTagging {name}"), error)),
        };
        Ok(Some(Holding {
            kind: Some(ResourceKind::Bucket),
            id: name.to_string(),
            arn: arn.to_string(),
            tags,
            pending_deletion: false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_last_part_of_any_arn_and_never_panic() {
        assert_eq!(id_of("arn:aws:ec2:us-east-1:123456789012:security-group/sg-0abc"), "sg-0abc");
        assert_eq!(id_of("arn:aws:s3:::tenancy-dev--data"), "tenancy-dev--data");
        assert_eq!(id_of("arn:aws:logs:us-east-1:1:log-group:/a/b"), "b");
        assert_eq!(id_of(""), "");
        assert_eq!(id_of("/"), "");
    }
}
