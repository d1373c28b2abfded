//! Catalogue buckets: `tenancy-<tenant>--<suffix>`, asked for by a tenant type's plan.
//! Each is encrypted by default with the tenant's key, blocks every form of public access,
//! disables ACLs, refuses plain HTTP and carries the tenant's tags.

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};
use tenancy_domain::boundary::Boundary;
use tenancy_domain::metadata::tag_keys;
use tenancy_domain::plan::{CatalogueResource, bucket_name};
use tenancy_domain::policy;
use tenancy_domain::ports::errors::CloudError;
use tenancy_domain::tenant::{ResourceKind, ResourceRef};

use std::collections::BTreeMap;

use super::AwsCloud;
use crate::errors::{cloud_error, code};

/// A request the SDK refused to build: a bug here, reported like a cloud error.
fn built<T>(what: &str, result: Result<T, aws_sdk_s3::error::BuildError>) -> Result<T, CloudError> {
    result.map_err(|e| CloudError::permanent(format!("{what}: {e}")))
}

impl AwsCloud {
    pub(super) async fn ensure_buckets(&self, boundary: &Boundary) -> Result<Vec<ResourceRef>, CloudError> {
        if boundary.plan.resources.is_empty() {
            return Ok(Vec::new());
        }
        // One look-up of the key for every bucket: each is encrypted with it.
        let key = self
            .describe_key(&boundary.region, &boundary.names.key_alias)
            .await?
            .ok_or_else(|| CloudError::transient("buckets: the tenant key is not visible yet; it is made first"))?;
        let key_arn = key.arn().unwrap_or_default();
        let mut buckets = Vec::new();
        for resource in &boundary.plan.resources {
            let CatalogueResource::Bucket(suffix) = resource;
            buckets.push(self.ensure_bucket(boundary, &bucket_name(&boundary.tenant, suffix), key_arn).await?);
        }
        Ok(buckets)
    }

    async fn ensure_bucket(&self, boundary: &Boundary, name: &str, key_arn: &str) -> Result<ResourceRef, CloudError> {
        let s3 = &self.regional(&boundary.region).s3;

        match s3.head_bucket().bucket(name).send().await {
            Ok(_) => {
                // It exists in this account: adopted only if this deployment made it for
                // this tenant. A bucket someone else made under the tenant's name could
                // carry replication or notifications Tenancy does not reset.
                let tags = self.bucket_tags(&boundary.region, name).await?;
                if !boundary.owns(&tags) {
                    return Err(CloudError::permanent(format!(
                        "a bucket named {name} exists but was not made by this deployment ('{}') for this tenant \
                         (its {} and {} tags say otherwise): it is not adopted; remove it and retry",
                        boundary.deployment,
                        tag_keys::DEPLOYMENT,
                        tag_keys::TENANT_ID
                    )));
                }
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {
                let mut create = s3.create_bucket().bucket(name);
                // us-east-1 is S3's default location and refuses to be named.
                if boundary.region != "us-east-1" {
                    create = create.create_bucket_configuration(
                        CreateBucketConfiguration::builder()
                            .location_constraint(BucketLocationConstraint::from(boundary.region.as_str()))
                            .build(),
                    );
                }
                match create.send().await {
                    Ok(_) => {
                        // Tagged at once: until then a crash would leave a bucket that a
                        // later run refuses to adopt.
                        self.tag_bucket(boundary, name).await?;
                    }
                    Err(error) if code(&error) == Some("BucketAlreadyOwnedByYou") => {
                        let tags = self.bucket_tags(&boundary.region, name).await?;
                        if !boundary.owns(&tags) {
                            return Err(CloudError::permanent(format!(
                                "the bucket {name} was made meanwhile, not by this deployment for this tenant: \
                                 it is not adopted"
                            )));
                        }
                    }
                    Err(error) if code(&error) == Some("BucketAlreadyExists") => {
                        return Err(CloudError::permanent(format!(
                            "CreateBucket: the name {name} is taken in another AWS account (bucket names are \
                             global); ask for another bucket suffix in the tenant type"
                        )));
                    }
                    Err(error) => return Err(cloud_error("CreateBucket", error)),
                }
            }
            // A 403 here means another account owns the name.
            Err(error) => return Err(cloud_error(&format!("HeadBucket {name} (owned by another account?)"), error)),
        }

        // Every setting is written on every run: a handful of calls that repair any drift.
        let block_all = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(block_all)
            .send()
            .await
            .map_err(|e| cloud_error("PutPublicAccessBlock", e))?;

        let by_default = built(
            "encryption",
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(key_arn)
                .build(),
        )?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(true)
            .build();
        let encryption = built("encryption", ServerSideEncryptionConfiguration::builder().rules(rule).build())?;
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(encryption)
            .send()
            .await
            .map_err(|e| cloud_error("PutBucketEncryption", e))?;

        let owner_enforced = built(
            "ownership",
            OwnershipControlsRule::builder().object_ownership(ObjectOwnership::BucketOwnerEnforced).build(),
        )?;
        s3.put_bucket_ownership_controls()
            .bucket(name)
            .ownership_controls(built("ownership", OwnershipControls::builder().rules(owner_enforced).build())?)
            .send()
            .await
            .map_err(|e| cloud_error("PutBucketOwnershipControls", e))?;

        let account = self.account().await?;
        s3.put_bucket_policy()
            .bucket(name)
            .policy(policy::bucket_policy(&account.partition, name).to_string())
            .send()
            .await
            .map_err(|e| cloud_error("PutBucketPolicy", e))?;

        self.tag_bucket(boundary, name).await?;

        let arn = format!("arn:{}:s3:::{name}", account.partition);
        Ok(ResourceRef { kind: ResourceKind::Bucket, id: name.to_string(), arn })
    }

    /// Writes the tenant's tags on a bucket. S3 replaces the whole tag set, so keys the
    /// tenant dropped go with it.
    async fn tag_bucket(&self, boundary: &Boundary, name: &str) -> Result<(), CloudError> {
        let tags = boundary
            .tags
            .iter()
            .map(|(k, v)| built("tags", Tag::builder().key(k).value(v).build()))
            .collect::<Result<Vec<_>, _>>()?;
        self.regional(&boundary.region)
            .s3
            .put_bucket_tagging()
            .bucket(name)
            .tagging(built("tags", Tagging::builder().set_tag_set(Some(tags)).build())?)
            .send()
            .await
            .map_err(|e| cloud_error("PutBucketTagging", e))?;
        Ok(())
    }

    /// A bucket's tags; none when it has no tag set.
    async fn bucket_tags(&self, region: &str, name: &str) -> Result<BTreeMap<String, String>, CloudError> {
        match self.regional(region).s3.get_bucket_tagging().bucket(name).send().await {
            Ok(output) => Ok(output.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
            Err(error) if code(&error) == Some("NoSuchTagSet") => Ok(BTreeMap::new()),
            Err(error) => Err(cloud_error(&format!("GetBucketTagging {name}"), error)),
        }
    }

    /// Removes every bucket of the tenant, emptied first: by name (the `tenancy-<tenant>--`
    /// prefix, which no other tenant's names can start with) and by tag.
    pub(super) async fn remove_buckets(&self, boundary: &Boundary) -> Result<(), CloudError> {
        let s3 = &self.regional(&boundary.region).s3;
        let prefix = bucket_name(&boundary.tenant, "");
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = s3
                .list_buckets()
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| cloud_error("ListBuckets", e))?;
            // Filtered here too: not every S3 implementation honours the prefix.
            names.extend(
                output.buckets().iter().filter_map(|b| b.name()).filter(|n| n.starts_with(&prefix)).map(str::to_string),
            );
            match output.continuation_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
        for (arn, _) in
            self.tagged(&boundary.region, Some("s3:bucket"), tag_keys::TENANT, boundary.tenant.as_str()).await?
        {
            let name = arn.rsplit(':').next().unwrap_or_default().to_string();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        for name in names {
            let tags = match self.bucket_tags(&boundary.region, &name).await {
                Ok(tags) => tags,
                Err(error) if error.message.contains("NoSuchBucket") => continue,
                Err(error) => return Err(error),
            };
            // Bucket names are not identities: removed only when tagged as this tenant's.
            if !boundary.owns(&tags) {
                tracing::warn!(bucket = %name, "bucket not made by this deployment for this tenant; left alone");
                continue;
            }
            self.empty_bucket(&boundary.region, &name).await?;
            match s3.delete_bucket().bucket(&name).send().await {
                Ok(_) => {}
                Err(error) if code(&error) == Some("NoSuchBucket") => {}
                Err(error) => return Err(cloud_error(&format!("DeleteBucket {name}"), error)),
            }
        }
        Ok(())
    }

    /// Deletes every object version and delete marker: deleting the tenant terminates its
    /// data too (the key, pending deletion, is the last way back).
    async fn empty_bucket(&self, region: &str, name: &str) -> Result<(), CloudError> {
        let s3 = &self.regional(region).s3;
        loop {
            let listed = match s3.list_object_versions().bucket(name).max_keys(1000).send().await {
                Ok(listed) => listed,
                Err(error) if code(&error) == Some("NoSuchBucket") => return Ok(()),
                Err(error) => return Err(cloud_error(&format!("ListObjectVersions {name}"), error)),
            };
            let versions = listed.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = listed.delete_markers().iter().map(|m| (m.key(), m.version_id()));
            let objects = versions
                .chain(markers)
                .filter_map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .set_key(key.map(str::to_string))
                        .set_version_id(version.map(str::to_string))
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            if objects.is_empty() {
                return Ok(());
            }
            let delete = built("delete", Delete::builder().set_objects(Some(objects)).quiet(true).build())?;
            let output = s3
                .delete_objects()
                .bucket(name)
                .delete(delete)
                .send()
                .await
                .map_err(|e| cloud_error(&format!("DeleteObjects {name}"), e))?;
            if let Some(error) = output.errors().first() {
                return Err(CloudError::permanent(format!(
                    "DeleteObjects {name}: {} on {}: {}",
                    error.code().unwrap_or("error"),
                    error.key().unwrap_or("?"),
                    error.message().unwrap_or("no message")
                )));
            }
        }
    }
}
