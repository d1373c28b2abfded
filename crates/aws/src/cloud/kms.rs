//! The tenant's KMS key and its alias `alias/tenancy/<tenant>`.

use std::collections::BTreeMap;

use aws_sdk_kms::types::{KeyMetadata, KeyState, Tag};
use tenancy_domain::boundary::Boundary;
use tenancy_domain::metadata::tag_keys;
use tenancy_domain::policy;
use tenancy_domain::ports::errors::CloudError;
use tenancy_domain::tenant::{ResourceKind, ResourceRef};

use super::{AwsCloud, KEY_DELETION_WINDOW_DAYS, tag_changes};
use crate::errors::{cloud_error, code};

/// The key id in a key ARN (`arn:...:key/<id>`), or the id itself. KMS takes either, but
/// some implementations of it (the emulator) take only ids, so ids are used throughout.
fn key_id(arn_or_id: &str) -> &str {
    arn_or_id.rsplit('/').next().unwrap_or(arn_or_id)
}

fn usable(key: &KeyMetadata) -> bool {
    !matches!(key.key_state(), Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion))
}

impl AwsCloud {
    pub(super) async fn describe_key(&self, region: &str, key_id: &str) -> Result<Option<KeyMetadata>, CloudError> {
        let key_id = if key_id.starts_with("alias/") { key_id } else { self::key_id(key_id) };
        match self.regional(region).kms.describe_key().key_id(key_id).send().await {
            Ok(output) => Ok(output.key_metadata().cloned()),
            Err(error) if code(&error) == Some("NotFoundException") => Ok(None),
            Err(error) => Err(cloud_error("DescribeKey", error)),
        }
    }

    pub(super) async fn key_is_pending_deletion(&self, region: &str, arn: &str) -> Result<bool, CloudError> {
        Ok(self.describe_key(region, arn).await?.is_none_or(|key| !usable(&key)))
    }

    /// The tags of a key.
    pub(super) async fn key_tags(&self, region: &str, key_id: &str) -> Result<BTreeMap<String, String>, CloudError> {
        let output = self
            .regional(region)
            .kms
            .list_resource_tags()
            .key_id(self::key_id(key_id))
            .send()
            .await
            .map_err(|e| cloud_error("ListResourceTags", e))?;
        Ok(output.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())).collect())
    }

    /// This incarnation's usable key: the one its alias names, or else one tagged with its
    /// id (a worker that died between creating the key and its alias left it so). A key
    /// behind the alias that this deployment did not make for this tenant is never adopted:
    /// the step fails, naming it.
    async fn find_key(&self, boundary: &Boundary) -> Result<(Option<KeyMetadata>, bool), CloudError> {
        if let Some(key) = self.describe_key(&boundary.region, &boundary.names.key_alias).await?
            && usable(&key)
        {
            let tags = self.key_tags(&boundary.region, key.key_id()).await?;
            if !boundary.owns(&tags) {
                return Err(CloudError::permanent(format!(
                    "the alias {} names the key {}, which this deployment ('{}') did not make for this tenant \
                     (its {} and {} tags say otherwise): it is not adopted; remove the alias and retry",
                    boundary.names.key_alias,
                    key.key_id(),
                    boundary.deployment,
                    tag_keys::DEPLOYMENT,
                    tag_keys::TENANT_ID
                )));
            }
            return Ok((Some(key), true));
        }
        let tenant_id = boundary.tenant_id.to_string();
        for (arn, tags) in self.tagged(&boundary.region, Some("kms:key"), tag_keys::TENANT_ID, &tenant_id).await? {
            if !boundary.owns(&tags) {
                continue;
            }
            if let Some(key) = self.describe_key(&boundary.region, &arn).await?
                && usable(&key)
            {
                return Ok((Some(key), false));
            }
        }
        Ok((None, false))
    }

    pub(super) async fn ensure_key(&self, boundary: &Boundary) -> Result<ResourceRef, CloudError> {
        let kms = &self.regional(&boundary.region).kms;
        let (key, aliased) = self.find_key(boundary).await?;
        let created = key.is_none();
        let key = match key {
            Some(key) => key,
            None => {
                let account = self.account().await?;
                let role_arn = format!(
                    "arn:{}:iam::{}:role{}{}",
                    account.partition, account.id, boundary.names.iam_path, boundary.names.role
                );
                let tags = boundary
                    .tags
                    .iter()
                    .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build())
                    .collect::<Result<Vec<_>, _>>();
                let created = kms
                    .create_key()
                    .description(format!("Tenancy tenant {}", boundary.tenant))
                    .policy(policy::key_policy(&account.partition, &account.id, &role_arn).to_string())
                    .set_tags(tags.ok())
                    .send()
                    .await
                    .map_err(|e| cloud_error("CreateKey", e))?;
                let key = created
                    .key_metadata()
                    .cloned()
                    .ok_or_else(|| CloudError::permanent("CreateKey: no key in the answer"))?;
                kms.enable_key_rotation()
                    .key_id(key.key_id())
                    .send()
                    .await
                    .map_err(|e| cloud_error("EnableKeyRotation", e))?;
                key
            }
        };
        let key_id = key.key_id().to_string();

        if !aliased {
            // The alias may still name an earlier incarnation's key, pending deletion.
            match kms.create_alias().alias_name(&boundary.names.key_alias).target_key_id(&key_id).send().await {
                Ok(_) => {}
                Err(error) if code(&error) == Some("AlreadyExistsException") => {
                    kms.update_alias()
                        .alias_name(&boundary.names.key_alias)
                        .target_key_id(&key_id)
                        .send()
                        .await
                        .map_err(|e| cloud_error("UpdateAlias", e))?;
                }
                Err(error) => return Err(cloud_error("CreateAlias", error)),
            }
        }

        // A key created just now carries every tag already.
        if created {
            return Ok(ResourceRef {
                kind: ResourceKind::Key,
                id: key_id,
                arn: key.arn().unwrap_or_default().to_string(),
            });
        }
        let current = self.key_tags(&boundary.region, &key_id).await?;
        let (add, remove) = tag_changes(boundary, &current);
        if !add.is_empty() {
            let tags =
                add.iter().map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build()).collect::<Result<Vec<_>, _>>();
            kms.tag_resource()
                .key_id(&key_id)
                .set_tags(tags.ok())
                .send()
                .await
                .map_err(|e| cloud_error("TagResource", e))?;
        }
        if !remove.is_empty() {
            kms.untag_resource()
                .key_id(&key_id)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| cloud_error("UntagResource", e))?;
        }
        Ok(ResourceRef { kind: ResourceKind::Key, id: key_id, arn: key.arn().unwrap_or_default().to_string() })
    }

    pub(super) async fn remove_keys(&self, boundary: &Boundary) -> Result<(), CloudError> {
        let kms = &self.regional(&boundary.region).kms;
        // Candidates: the key behind the alias, and every key tagged with the tenant.
        let mut candidates: Vec<(String, Option<BTreeMap<String, String>>)> = Vec::new();
        let aliased = self.describe_key(&boundary.region, &boundary.names.key_alias).await?;
        if let Some(key) = &aliased {
            candidates.push((key.key_id().to_string(), None));
        }
        for (arn, tags) in
            self.tagged(&boundary.region, Some("kms:key"), tag_keys::TENANT, boundary.tenant.as_str()).await?
        {
            let id = key_id(&arn).to_string();
            if !candidates.iter().any(|(known, _)| *known == id) {
                candidates.push((id, Some(tags)));
            }
        }
        let mut removable = Vec::new();
        for (id, tags) in candidates {
            let tags = match tags {
                Some(tags) => tags,
                None => self.key_tags(&boundary.region, &id).await?,
            };
            if boundary.may_remove(&id, None, &tags) {
                removable.push(id);
            } else {
                tracing::warn!(key = %id, "key not made by this deployment for this tenant; left alone");
            }
        }
        // The alias goes only when it names one of this tenant's keys (or nothing usable):
        // an alias someone pointed at their own key is theirs.
        let alias_is_ours = aliased.as_ref().is_none_or(|key| removable.iter().any(|id| id == key.key_id()));
        if alias_is_ours {
            match kms.delete_alias().alias_name(&boundary.names.key_alias).send().await {
                Ok(_) => {}
                Err(error) if code(&error) == Some("NotFoundException") => {}
                Err(error) => return Err(cloud_error("DeleteAlias", error)),
            }
        }
        for key in removable {
            if self.key_is_pending_deletion(&boundary.region, &key).await? {
                continue;
            }
            let scheduled =
                kms.schedule_key_deletion().key_id(&key).pending_window_in_days(KEY_DELETION_WINDOW_DAYS).send().await;
            match scheduled {
                Ok(_) => {}
                Err(error) if matches!(code(&error), Some("KMSInvalidStateException" | "NotFoundException")) => {}
                Err(error) => return Err(cloud_error("ScheduleKeyDeletion", error)),
            }
        }
        Ok(())
    }
}
