//! The [`Cloud`] on IAM, EC2, KMS and the Resource Groups Tagging API.
//!
//! EC2, KMS and tagging are regional, so their clients are made per infrastructure
//! region and kept; IAM is global. Every step looks up what exists first (by name, by
//! tag, by IAM path) and makes only the difference.

mod ec2;
mod iam;
mod inventory;
mod kms;
mod s3;
mod sts;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_config::{Region, SdkConfig};
use tokio::sync::OnceCell;

use tenancy_domain::boundary::{Boundary, Remaining};
use tenancy_domain::metadata::tag_keys;
use tenancy_domain::ports::Cloud;
use tenancy_domain::ports::errors::CloudError;
use tenancy_domain::tenant::{ResourceKind, ResourceRef};

use crate::errors::cloud_error;
use crate::lazy::LazyClient;
use crate::metrics::CallCounter;

/// How long a deleted tenant's key can still be recovered (KMS allows 7 to 30 days).
pub const KEY_DELETION_WINDOW_DAYS: i32 = 30;

/// The account a deployment runs in, learnt once from STS.
#[derive(Debug, Clone)]
struct Account {
    id: String,
    partition: String,
}

/// Regional clients.
#[derive(Debug, Clone)]
struct Regional {
    ec2: aws_sdk_ec2::Client,
    kms: aws_sdk_kms::Client,
    s3: aws_sdk_s3::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
}

/// The AWS cloud.
#[derive(Debug)]
pub struct AwsCloud {
    config: SdkConfig,
    counter: CallCounter,
    iam: LazyClient<aws_sdk_iam::Client>,
    sts: LazyClient<aws_sdk_sts::Client>,
    regional: Mutex<HashMap<String, Arc<Regional>>>,
    account: OnceCell<Account>,
    tenant_boundary: Option<String>,
    api_role: Option<String>,
}

/// A resource found by tag, with its tags.
type Tagged = (String, BTreeMap<String, String>);

/// The name of the managed policy every tenant role has as its permissions boundary, under
/// the path `/tenancy/`: `template.yaml` names it so, and the local setup makes it so.
pub fn tenant_boundary_policy_name(deployment: &str) -> String {
    format!("tenancy-{deployment}-tenant-boundary")
}

impl AwsCloud {
    /// The cloud on `config`: each client is built when first used (the regional ones per
    /// region) and counts its calls in `counter`.
    pub fn new(config: &SdkConfig, counter: CallCounter) -> Self {
        let iam = aws_sdk_iam::config::Builder::from(config).interceptor(counter.clone());
        let iam = LazyClient::new(move || aws_sdk_iam::Client::from_conf(iam.build()));
        let sts = aws_sdk_sts::config::Builder::from(config).interceptor(counter.clone());
        let sts = LazyClient::new(move || aws_sdk_sts::Client::from_conf(sts.build()));
        Self {
            config: config.clone(),
            counter,
            iam,
            sts,
            regional: Mutex::default(),
            account: OnceCell::new(),
            tenant_boundary: None,
            api_role: None,
        }
    }

    /// Sets the ARN of the tenant roles' permissions boundary (`TENANCY_TENANT_BOUNDARY_ARN`).
    /// Without one, it is the deployment's policy `/tenancy/tenancy-<deployment>-tenant-boundary`
    /// in this account, as `template.yaml` and the local setup name it.
    pub fn with_tenant_boundary(mut self, arn: Option<String>) -> Self {
        self.tenant_boundary = arn;
        self
    }

    /// Sets the API function's role (`TENANCY_API_ROLE_ARN`): every tenant role's trust
    /// lets it assume the role and tag the session, to issue people's credentials. Without
    /// one (locally), the trust names the workload services only.
    pub fn with_api_role(mut self, arn: Option<String>) -> Self {
        self.api_role = arn;
        self
    }

    /// The account the deployment runs in, as STS says.
    pub async fn account_id(&self) -> Result<String, CloudError> {
        Ok(self.account().await?.id.clone())
    }

    /// The permissions boundary every tenant role must carry.
    async fn tenant_boundary_arn(&self, deployment: &str) -> Result<String, CloudError> {
        if let Some(arn) = &self.tenant_boundary {
            return Ok(arn.clone());
        }
        let account = self.account().await?;
        Ok(format!(
            "arn:{}:iam::{}:policy/tenancy/{}",
            account.partition,
            account.id,
            tenant_boundary_policy_name(deployment)
        ))
    }

    fn regional(&self, region: &str) -> Arc<Regional> {
        let mut cache = self.regional.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .entry(region.to_string())
            .or_insert_with(|| {
                let region = Region::new(region.to_string());
                Arc::new(Regional {
                    ec2: aws_sdk_ec2::Client::from_conf(
                        aws_sdk_ec2::config::Builder::from(&self.config)
                            .region(region.clone())
                            .interceptor(self.counter.clone())
                            .build(),
                    ),
                    kms: aws_sdk_kms::Client::from_conf(
                        aws_sdk_kms::config::Builder::from(&self.config)
                            .region(region.clone())
                            .interceptor(self.counter.clone())
                            .build(),
                    ),
                    s3: aws_sdk_s3::Client::from_conf(
                        aws_sdk_s3::config::Builder::from(&self.config)
                            .region(region.clone())
                            // An emulator on an address has no per-bucket host names.
                            .force_path_style(self.config.endpoint_url().is_some())
                            .interceptor(self.counter.clone())
                            .build(),
                    ),
                    tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
                        aws_sdk_resourcegroupstagging::config::Builder::from(&self.config)
                            .region(region)
                            .interceptor(self.counter.clone())
                            .build(),
                    ),
                })
            })
            .clone()
    }

    async fn account(&self) -> Result<&Account, CloudError> {
        self.account
            .get_or_try_init(|| async {
                let identity =
                    self.sts.get_caller_identity().send().await.map_err(|e| cloud_error("GetCallerIdentity", e))?;
                let id = identity.account().unwrap_or_default().to_string();
                let partition = identity.arn().and_then(|arn| arn.split(':').nth(1)).unwrap_or("aws").to_string();
                Ok(Account { id, partition })
            })
            .await
    }

    /// ARNs of resources of `resource_type` (e.g. `ec2:security-group`, `kms:key`) tagged
    /// `key=value` in `region`, each with all its tags.
    async fn tagged(
        &self,
        region: &str,
        resource_type: Option<&str>,
        key: &str,
        value: &str,
    ) -> Result<Vec<Tagged>, CloudError> {
        let tagging = &self.regional(region).tagging;
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = tagging
                .get_resources()
                .set_resource_type_filters(resource_type.map(|t| vec![t.to_string()]))
                .tag_filters(aws_sdk_resourcegroupstagging::types::TagFilter::builder().key(key).values(value).build())
                .set_pagination_token(token.take().filter(|t| !t.is_empty()))
                .send()
                .await
                .map_err(|e| cloud_error("GetResources", e))?;
            arns.extend(output.resource_tag_mapping_list().iter().filter_map(|mapping| {
                let tags = mapping.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
                mapping.resource_arn().map(|arn| (arn.to_string(), tags))
            }));
            match output.pagination_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
        Ok(arns)
    }
}

/// The tags to add (missing or different) and the keys to remove, given what a resource has.
fn tag_changes(boundary: &Boundary, current: &BTreeMap<String, String>) -> (BTreeMap<String, String>, Vec<String>) {
    let add = boundary
        .tags
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = boundary.removed_tag_keys.iter().filter(|k| current.contains_key(*k)).cloned().collect();
    (add, remove)
}

use tenancy_domain::grant::{Grant, GrantKind};

#[async_trait]
impl Cloud for AwsCloud {
    async fn ensure(&self, kind: ResourceKind, boundary: &Boundary) -> Result<Vec<ResourceRef>, CloudError> {
        let one = match kind {
            ResourceKind::SecurityGroup => self.ensure_security_group(boundary).await,
            ResourceKind::Role => self.ensure_role(boundary).await,
            ResourceKind::InstanceProfile => self.ensure_instance_profile(boundary).await,
            ResourceKind::Key => self.ensure_key(boundary).await,
            ResourceKind::Bucket => return self.ensure_buckets(boundary).await,
        };
        one.map(|resource| vec![resource])
    }

    async fn remove(&self, kind: ResourceKind, boundary: &Boundary) -> Result<(), CloudError> {
        match kind {
            ResourceKind::SecurityGroup => self.remove_security_groups(boundary).await,
            ResourceKind::Role => self.remove_roles(boundary).await,
            ResourceKind::InstanceProfile => self.remove_instance_profiles(boundary).await,
            ResourceKind::Key => self.remove_keys(boundary).await,
            ResourceKind::Bucket => self.remove_buckets(boundary).await,
        }
    }

    async fn apply_grant(&self, grant: &Grant, granter: &Boundary, grantee: &Boundary) -> Result<(), CloudError> {
        match &grant.kind {
            GrantKind::Network { protocol, ports } => {
                self.apply_network_grant(grant, protocol, *ports, granter, grantee).await
            }
            GrantKind::Iam { area, access } => {
                let Some(actions) = tenancy_domain::grant::iam_actions(area, *access) else {
                    return Err(CloudError::permanent(format!(
                        "grant {}: no {access:?} actions for '{area}'",
                        grant.id
                    )));
                };
                self.apply_iam_grant(grant, &actions, granter, grantee).await
            }
        }
    }

    async fn revoke_grant(
        &self,
        grant: &Grant,
        granter: &Boundary,
        grantee: Option<&Boundary>,
    ) -> Result<(), CloudError> {
        match &grant.kind {
            GrantKind::Network { protocol, ports } => {
                self.revoke_network_grant(grant, protocol, *ports, granter, grantee).await
            }
            GrantKind::Iam { .. } => self.revoke_iam_grant(grant, grantee).await,
        }
    }

    async fn remaining(&self, boundary: &Boundary) -> Result<Remaining, CloudError> {
        let mut remaining = Remaining::default();
        for (found, tags) in self.iam_under_path(boundary, &[ResourceKind::Role, ResourceKind::InstanceProfile]).await?
        {
            sort(&mut remaining, boundary, found, &tags);
        }
        // Anything in the region still tagged with the tenant's name, of any type: what
        // this deployment made is not gone yet; anything else is named, never touched.
        let arns = self.tagged(&boundary.region, None, tag_keys::TENANT, boundary.tenant.as_str()).await?;
        for (arn, tags) in arns {
            if arn.contains(":kms:") && self.key_is_pending_deletion(&boundary.region, &arn).await? {
                continue;
            }
            // IAM entities are the tenant's only under its path (listed above); one tagged
            // elsewhere, or any type Tenancy does not make, is never this deployment's.
            let Some(kind) = kind_of_arn(&arn) else {
                if !boundary.belongs_to_another_deployment(&tags) && !remaining.foreign.contains(&arn) {
                    remaining.foreign.push(arn);
                }
                continue;
            };
            let id = arn.rsplit(['/', ':']).next().unwrap_or(&arn).to_string();
            sort(&mut remaining, boundary, ResourceRef { kind, id, arn }, &tags);
        }
        Ok(remaining)
    }
}

/// The kind of resource Tenancy makes that a tagged ARN names, by its service and
/// resource type exactly: anything else (an instance, a volume, a KMS alias, an S3 object)
/// is not one of the tenant's kinds.
fn kind_of_arn(arn: &str) -> Option<ResourceKind> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some(service), Some(_region), Some(_account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    match service {
        "kms" if resource.starts_with("key/") => Some(ResourceKind::Key),
        "s3" if !resource.is_empty() && !resource.contains('/') => Some(ResourceKind::Bucket),
        "ec2" if resource.starts_with("security-group/") => Some(ResourceKind::SecurityGroup),
        _ => None,
    }
}

/// Files a resource still present after a deletion: this deployment's (not gone yet),
/// another deployment's (not ours to see), or foreign (reported).
fn sort(remaining: &mut Remaining, boundary: &Boundary, found: ResourceRef, tags: &BTreeMap<String, String>) {
    // Groups and keys have ids AWS never reuses, so the record names them for sure; roles,
    // profiles and buckets are named by their names, which others can take.
    let by_id = matches!(found.kind, ResourceKind::SecurityGroup | ResourceKind::Key)
        && boundary.may_remove(&found.id, Some(&found.arn), tags);
    if by_id || boundary.owns(tags) {
        if !remaining.owned.iter().any(|r| r.arn == found.arn) {
            remaining.owned.push(found);
        }
    } else if !boundary.belongs_to_another_deployment(tags) && !remaining.foreign.contains(&found.arn) {
        remaining.foreign.push(found.arn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_kinds_tenancy_makes_are_labelled_by_their_arn() {
        let cases = [
            ("arn:aws:ec2:us-east-1:123456789012:security-group/sg-0abc", Some(ResourceKind::SecurityGroup)),
            ("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", Some(ResourceKind::Key)),
            ("arn:aws:s3:::tenancy-dev--data", Some(ResourceKind::Bucket)),
            ("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", None),
            ("arn:aws:ec2:us-east-1:123456789012:volume/vol-0abc", None),
            ("arn:aws:kms:us-east-1:123456789012:alias/tenancy/dev", None),
            ("arn:aws:s3:::tenancy-dev--data/object", None),
            ("arn:aws:sqs:us-east-1:123456789012:queue", None),
            ("arn:aws:iam::123456789012:role/tenancy/dev", None),
            ("not-an-arn", None),
            ("", None),
        ];
        for (arn, kind) in cases {
            assert_eq!(kind_of_arn(arn), kind, "{arn}");
        }
    }
}
