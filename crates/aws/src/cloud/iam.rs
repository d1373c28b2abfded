//! The tenant's IAM role (with its inline ABAC policy) and instance profile, both under
//! the tenant's own path `/tenancy/<tenant>/`.

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use tenancy_domain::boundary::Boundary;
use tenancy_domain::metadata::tag_keys;
use tenancy_domain::policy;
use tenancy_domain::ports::errors::CloudError;
use tenancy_domain::tenant::{ResourceKind, ResourceRef};

use super::{AwsCloud, tag_changes};
use crate::errors::{cloud_error, code};

const NO_SUCH_ENTITY: Option<&str> = Some("NoSuchEntity");
const ALREADY_EXISTS: Option<&str> = Some("EntityAlreadyExists");

fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

/// A name collision with an entity this deployment did not make for this tenant is
/// refused, never adopted: its path and its `tenancy:deployment` and `tenancy:tenant-id`
/// tags must all say it is ours.
fn check_ours(
    kind: &str,
    name: &str,
    path: &str,
    tags: &BTreeMap<String, String>,
    boundary: &Boundary,
) -> Result<(), CloudError> {
    if path != boundary.names.iam_path {
        return Err(CloudError::permanent(format!(
            "an IAM {kind} named '{name}' exists at path '{path}', not '{}': it was not made by Tenancy; \
             rename or remove it",
            boundary.names.iam_path
        )));
    }
    if !boundary.owns(tags) {
        return Err(CloudError::permanent(format!(
            "an IAM {kind} named '{name}' exists but was not made by this deployment ('{}') for this tenant \
             (its {} and {} tags say otherwise): it is not adopted; remove it or choose another tenant name",
            boundary.deployment,
            tag_keys::DEPLOYMENT,
            tag_keys::TENANT_ID
        )));
    }
    Ok(())
}

/// A policy document as IAM returns it: URL-encoded (RFC 3986, so `+` is itself).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escaped = (bytes[at] == b'%')
            .then(|| bytes.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl AwsCloud {
    pub(super) async fn ensure_role(&self, boundary: &Boundary) -> Result<ResourceRef, CloudError> {
        let name = &boundary.names.role;
        let permissions_boundary = self.tenant_boundary_arn(&boundary.deployment).await?;
        let trust = policy::role_trust_policy(self.api_role.as_deref());
        let role = match self.iam.get_role().role_name(name).send().await {
            Ok(output) => output.role().cloned(),
            Err(error) if code(&error) == NO_SUCH_ENTITY => None,
            Err(error) => return Err(cloud_error("GetRole", error)),
        };
        let role = match role {
            Some(role) => role,
            None => {
                let created = self
                    .iam
                    .create_role()
                    .role_name(name)
                    .path(&boundary.names.iam_path)
                    .description(format!("Workloads of Tenancy tenant {}", boundary.tenant))
                    .assume_role_policy_document(trust.to_string())
                    .permissions_boundary(&permissions_boundary)
                    .set_tags(Some(iam_tags(&boundary.tags)))
                    .send()
                    .await;
                match created {
                    Ok(output) => output.role().cloned(),
                    Err(error) if code(&error) == ALREADY_EXISTS => self
                        .iam
                        .get_role()
                        .role_name(name)
                        .send()
                        .await
                        .map_err(|e| cloud_error("GetRole", e))?
                        .role()
                        .cloned(),
                    Err(error) => return Err(cloud_error("CreateRole", error)),
                }
                .ok_or_else(|| CloudError::permanent("CreateRole: no role in the answer"))?
            }
        };
        check_ours("role", name, role.path(), &tag_map(role.tags()), boundary)?;
        // The boundary is what holds in AWS whatever the role's own policy says: a role
        // without it (or with another) is never used.
        let carried = role.permissions_boundary().and_then(|b| b.permissions_boundary_arn());
        if carried != Some(permissions_boundary.as_str()) {
            return Err(CloudError::permanent(format!(
                "the IAM role '{name}' has the permissions boundary {}, not {permissions_boundary}: a tenant role \
                 is used only with the tenant boundary; put it back (iam put-role-permissions-boundary) and retry",
                carried.unwrap_or("(none)")
            )));
        }

        // The trust as the deployment wants it now: a role made before the API's role was
        // set (or with another) is brought in step; one that already is costs no call.
        let stored = role.assume_role_policy_document().map(|document| {
            let decoded = percent_decode(document);
            serde_json::from_str::<serde_json::Value>(&decoded).unwrap_or(serde_json::Value::String(decoded))
        });
        if stored.as_ref() != Some(&trust) {
            self.iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(trust.to_string())
                .send()
                .await
                .map_err(|e| cloud_error("UpdateAssumeRolePolicy", e))?;
        }

        // Written every time: it is one call, it repairs any drift in the document, and it
        // carries the tenant type's statements as the latest plan has them.
        let account = self.account().await?;
        let document =
            policy::role_access_policy(boundary.tenant.as_str(), &account.id, &boundary.plan.policy_statements);
        self.iam
            .put_role_policy()
            .role_name(name)
            .policy_name(policy::ROLE_POLICY_NAME)
            .policy_document(document.to_string())
            .send()
            .await
            .map_err(|e| cloud_error("PutRolePolicy", e))?;

        let (add, remove) = tag_changes(boundary, &tag_map(role.tags()));
        if !add.is_empty() {
            self.iam
                .tag_role()
                .role_name(name)
                .set_tags(Some(iam_tags(&add)))
                .send()
                .await
                .map_err(|e| cloud_error("TagRole", e))?;
        }
        if !remove.is_empty() {
            self.iam
                .untag_role()
                .role_name(name)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| cloud_error("UntagRole", e))?;
        }
        Ok(ResourceRef { kind: ResourceKind::Role, id: name.clone(), arn: role.arn().to_string() })
    }

    pub(super) async fn ensure_instance_profile(&self, boundary: &Boundary) -> Result<ResourceRef, CloudError> {
        let name = &boundary.names.instance_profile;
        let profile = match self.iam.get_instance_profile().instance_profile_name(name).send().await {
            Ok(output) => output.instance_profile().cloned(),
            Err(error) if code(&error) == NO_SUCH_ENTITY => None,
            Err(error) => return Err(cloud_error("GetInstanceProfile", error)),
        };
        let profile = match profile {
            Some(profile) => profile,
            None => {
                let created = self
                    .iam
                    .create_instance_profile()
                    .instance_profile_name(name)
                    .path(&boundary.names.iam_path)
                    .set_tags(Some(iam_tags(&boundary.tags)))
                    .send()
                    .await;
                match created {
                    Ok(output) => output.instance_profile().cloned(),
                    Err(error) if code(&error) == ALREADY_EXISTS => self
                        .iam
                        .get_instance_profile()
                        .instance_profile_name(name)
                        .send()
                        .await
                        .map_err(|e| cloud_error("GetInstanceProfile", e))?
                        .instance_profile()
                        .cloned(),
                    Err(error) => return Err(cloud_error("CreateInstanceProfile", error)),
                }
                .ok_or_else(|| CloudError::permanent("CreateInstanceProfile: no profile in the answer"))?
            }
        };
        check_ours("instance profile", name, profile.path(), &tag_map(profile.tags()), boundary)?;

        // A profile holds one role: any other role in it was put there by someone else,
        // and the tenant's workloads would run as it.
        if let Some(other) = profile.roles().iter().find(|r| r.role_name() != boundary.names.role) {
            return Err(CloudError::permanent(format!(
                "the instance profile '{name}' holds the role '{}', which is not the tenant's: remove it from the \
                 profile and retry",
                other.role_name()
            )));
        }
        if profile.roles().is_empty() {
            let added = self
                .iam
                .add_role_to_instance_profile()
                .instance_profile_name(name)
                .role_name(&boundary.names.role)
                .send()
                .await;
            match added {
                Ok(_) => {}
                // Another worker added ours between the look and the call: the next run
                // checks which role the profile holds.
                Err(error) if code(&error) == Some("LimitExceeded") => {
                    return Err(CloudError::transient("AddRoleToInstanceProfile: the profile was filled meanwhile"));
                }
                Err(error) => return Err(cloud_error("AddRoleToInstanceProfile", error)),
            }
        }

        let (add, remove) = tag_changes(boundary, &tag_map(profile.tags()));
        if !add.is_empty() {
            self.iam
                .tag_instance_profile()
                .instance_profile_name(name)
                .set_tags(Some(iam_tags(&add)))
                .send()
                .await
                .map_err(|e| cloud_error("TagInstanceProfile", e))?;
        }
        if !remove.is_empty() {
            self.iam
                .untag_instance_profile()
                .instance_profile_name(name)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| cloud_error("UntagInstanceProfile", e))?;
        }
        Ok(ResourceRef { kind: ResourceKind::InstanceProfile, id: name.clone(), arn: profile.arn().to_string() })
    }

    /// Names of the entities of `kind` under the tenant's path, and the derived name.
    async fn iam_names(&self, boundary: &Boundary, kind: ResourceKind) -> Result<Vec<String>, CloudError> {
        let derived = if kind == ResourceKind::Role { &boundary.names.role } else { &boundary.names.instance_profile };
        let mut names = vec![derived.clone()];
        for (found, _) in self.iam_under_path(boundary, &[kind]).await? {
            if !names.contains(&found.id) {
                names.push(found.id);
            }
        }
        Ok(names)
    }

    /// The roles and instance profiles (as `kinds` asks) under the tenant's IAM path, with
    /// their tags. The path is checked here as well as by the service: a listing that
    /// ignored the prefix must never make another tenant's entities look like this
    /// tenant's (the emulator's profile listing does).
    pub(super) async fn iam_under_path(
        &self,
        boundary: &Boundary,
        kinds: &[ResourceKind],
    ) -> Result<Vec<(ResourceRef, BTreeMap<String, String>)>, CloudError> {
        let path = &boundary.names.iam_path;
        let mut found = Vec::new();
        if kinds.contains(&ResourceKind::Role) {
            self.roles_under(path, &mut found).await?;
        }
        if kinds.contains(&ResourceKind::InstanceProfile) {
            self.profiles_under(path, &mut found).await?;
        }
        Ok(found)
    }

    async fn roles_under(
        &self,
        path: &str,
        found: &mut Vec<(ResourceRef, BTreeMap<String, String>)>,
    ) -> Result<(), CloudError> {
        let mut roles = self.iam.list_roles().path_prefix(path).into_paginator().items().send();
        let mut names = Vec::new();
        while let Some(role) = roles.next().await {
            let role = role.map_err(|e| cloud_error("ListRoles", e))?;
            if role.path().starts_with(path) {
                names.push(role.role_name().to_string());
            }
        }
        // Listings carry no tags; each role is read for them.
        for name in names {
            match self.iam.get_role().role_name(&name).send().await {
                Ok(output) => {
                    if let Some(role) = output.role() {
                        let reference =
                            ResourceRef { kind: ResourceKind::Role, id: name.clone(), arn: role.arn().into() };
                        found.push((reference, tag_map(role.tags())));
                    }
                }
                Err(error) if code(&error) == NO_SUCH_ENTITY => {}
                Err(error) => return Err(cloud_error("GetRole", error)),
            }
        }
        Ok(())
    }

    async fn profiles_under(
        &self,
        path: &str,
        found: &mut Vec<(ResourceRef, BTreeMap<String, String>)>,
    ) -> Result<(), CloudError> {
        let mut profiles = self.iam.list_instance_profiles().path_prefix(path).into_paginator().items().send();
        let mut names = Vec::new();
        while let Some(profile) = profiles.next().await {
            let profile = profile.map_err(|e| cloud_error("ListInstanceProfiles", e))?;
            if profile.path().starts_with(path) {
                names.push(profile.instance_profile_name().to_string());
            }
        }
        for name in names {
            match self.iam.get_instance_profile().instance_profile_name(&name).send().await {
                Ok(output) => {
                    if let Some(profile) = output.instance_profile() {
                        let reference = ResourceRef {
                            kind: ResourceKind::InstanceProfile,
                            id: name.clone(),
                            arn: profile.arn().into(),
                        };
                        found.push((reference, tag_map(profile.tags())));
                    }
                }
                Err(error) if code(&error) == NO_SUCH_ENTITY => {}
                Err(error) => return Err(cloud_error("GetInstanceProfile", error)),
            }
        }
        Ok(())
    }

    pub(super) async fn remove_instance_profiles(&self, boundary: &Boundary) -> Result<(), CloudError> {
        for name in self.iam_names(boundary, ResourceKind::InstanceProfile).await? {
            let profile = match self.iam.get_instance_profile().instance_profile_name(&name).send().await {
                Ok(output) => output.instance_profile().cloned(),
                Err(error) if code(&error) == NO_SUCH_ENTITY => continue,
                Err(error) => return Err(cloud_error("GetInstanceProfile", error)),
            };
            let Some(profile) = profile else { continue };
            // Only this deployment's, for this tenant: anything else is left for the report.
            // Names are not identities (a look-alike can be made after ours is gone): IAM
            // entities are removed only when their tags say they are this tenant's.
            if !boundary.owns(&tag_map(profile.tags())) {
                tracing::warn!(profile = %name, "instance profile not made by this deployment for this tenant; left alone");
                continue;
            }
            for role in profile.roles() {
                let removed = self
                    .iam
                    .remove_role_from_instance_profile()
                    .instance_profile_name(&name)
                    .role_name(role.role_name())
                    .send()
                    .await;
                match removed {
                    Ok(_) => {}
                    Err(error) if code(&error) == NO_SUCH_ENTITY => {}
                    Err(error) => return Err(cloud_error("RemoveRoleFromInstanceProfile", error)),
                }
            }
            match self.iam.delete_instance_profile().instance_profile_name(&name).send().await {
                Ok(_) => {}
                Err(error) if code(&error) == NO_SUCH_ENTITY => {}
                Err(error) => return Err(cloud_error("DeleteInstanceProfile", error)),
            }
        }
        Ok(())
    }

    pub(super) async fn remove_roles(&self, boundary: &Boundary) -> Result<(), CloudError> {
        for name in self.iam_names(boundary, ResourceKind::Role).await? {
            let role = match self.iam.get_role().role_name(&name).send().await {
                Ok(output) => output.role().cloned(),
                Err(error) if code(&error) == NO_SUCH_ENTITY => continue,
                Err(error) => return Err(cloud_error("GetRole", error)),
            };
            let Some(role) = role else { continue };
            if !boundary.owns(&tag_map(role.tags())) {
                tracing::warn!(role = %name, "role not made by this deployment for this tenant; left alone");
                continue;
            }
            // A role can only go once it holds no policies and sits in no profile.
            let profiles = match self.iam.list_instance_profiles_for_role().role_name(&name).send().await {
                Ok(output) => output.instance_profiles().to_vec(),
                Err(error) if code(&error) == NO_SUCH_ENTITY => continue,
                Err(error) => return Err(cloud_error("ListInstanceProfilesForRole", error)),
            };
            for profile in profiles {
                // Only from the tenant's own profile: a profile someone else made keeps the
                // role, and the deletion below fails, naming it.
                let owned = match self
                    .iam
                    .get_instance_profile()
                    .instance_profile_name(profile.instance_profile_name())
                    .send()
                    .await
                {
                    Ok(output) => output.instance_profile().is_some_and(|p| boundary.owns(&tag_map(p.tags()))),
                    Err(error) if code(&error) == NO_SUCH_ENTITY => continue,
                    Err(error) => return Err(cloud_error("GetInstanceProfile", error)),
                };
                if !owned {
                    return Err(CloudError::permanent(format!(
                        "the role '{name}' is in the instance profile '{}', which this deployment did not make for \
                         this tenant: remove it from there and retry",
                        profile.instance_profile_name()
                    )));
                }
                self.iam
                    .remove_role_from_instance_profile()
                    .instance_profile_name(profile.instance_profile_name())
                    .role_name(&name)
                    .send()
                    .await
                    .map_err(|e| cloud_error("RemoveRoleFromInstanceProfile", e))?;
            }
            // A role that never existed (a tenant that failed before its role) or is
            // already gone is done; not every IAM implementation says so at the first call.
            let inline = match self.iam.list_role_policies().role_name(&name).send().await {
                Ok(output) => output,
                Err(error) if code(&error) == NO_SUCH_ENTITY => continue,
                Err(error) => return Err(cloud_error("ListRolePolicies", error)),
            };
            for policy_name in inline.policy_names() {
                self.iam
                    .delete_role_policy()
                    .role_name(&name)
                    .policy_name(policy_name)
                    .send()
                    .await
                    .map_err(|e| cloud_error("DeleteRolePolicy", e))?;
            }
            let attached = match self.iam.list_attached_role_policies().role_name(&name).send().await {
                Ok(output) => output,
                Err(error) if code(&error) == NO_SUCH_ENTITY => continue,
                Err(error) => return Err(cloud_error("ListAttachedRolePolicies", error)),
            };
            for policy in attached.attached_policies() {
                self.iam
                    .detach_role_policy()
                    .role_name(&name)
                    .set_policy_arn(policy.policy_arn().map(str::to_string))
                    .send()
                    .await
                    .map_err(|e| cloud_error("DetachRolePolicy", e))?;
            }
            match self.iam.delete_role().role_name(&name).send().await {
                Ok(_) => {}
                Err(error) if code(&error) == NO_SUCH_ENTITY => {}
                Err(error) => return Err(cloud_error("DeleteRole", error)),
            }
        }
        Ok(())
    }
}

impl AwsCloud {
    /// An IAM grant: an inline policy named after the grant on the other tenant's role,
    /// allowing the area's actions on resources tagged with the granting tenant. Written
    /// every time (one call; it repairs drift).
    pub(super) async fn apply_iam_grant(
        &self,
        grant: &tenancy_domain::grant::Grant,
        actions: &[&str],
        granter: &Boundary,
        grantee: &Boundary,
    ) -> Result<(), CloudError> {
        let name = &grantee.names.role;
        let role = match self.iam.get_role().role_name(name).send().await {
            Ok(output) => output.role().cloned(),
            Err(error) if code(&error) == NO_SUCH_ENTITY => None,
            Err(error) => return Err(cloud_error("GetRole", error)),
        };
        let Some(role) = role else {
            return Err(CloudError::transient(format!("the role of tenant '{}' is not there", grantee.tenant)));
        };
        check_ours("role", name, role.path(), &tag_map(role.tags()), grantee)?;
        let account = self.account().await?;
        let document = policy::grant_policy(granter.tenant.as_str(), &account.id, actions);
        self.iam
            .put_role_policy()
            .role_name(name)
            .policy_name(grant.cloud_name())
            .policy_document(document.to_string())
            .send()
            .await
            .map_err(|e| cloud_error("PutRolePolicy", e))?;
        Ok(())
    }

    /// Takes an IAM grant's policy off the other tenant's role. No role (the tenant is
    /// gone: its role went with its inline policies) or no policy is success.
    pub(super) async fn revoke_iam_grant(
        &self,
        grant: &tenancy_domain::grant::Grant,
        grantee: Option<&Boundary>,
    ) -> Result<(), CloudError> {
        let Some(grantee) = grantee else { return Ok(()) };
        match self.iam.delete_role_policy().role_name(&grantee.names.role).policy_name(grant.cloud_name()).send().await
        {
            Ok(_) => Ok(()),
            Err(error) if code(&error) == NO_SUCH_ENTITY => Ok(()),
            Err(error) => Err(cloud_error("DeleteRolePolicy", error)),
        }
    }
}
