//! The tenant's security group: members reach each other, nothing else reaches them.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, SecurityGroup, Tag, TagSpecification, UserIdGroupPair,
};
use tenancy_domain::boundary::Boundary;
use tenancy_domain::grant::{Grant, Ports};
use tenancy_domain::metadata::tag_keys;
use tenancy_domain::plan::IngressRule;
use tenancy_domain::ports::errors::CloudError;
use tenancy_domain::tenant::{ResourceKind, ResourceRef};

use super::{AwsCloud, tag_changes};
use crate::errors::{cloud_error, code};

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Descriptions of the rules a tenant type's plan adds start with this, which is how a
/// later run tells them from rules made by hand (those are left alone).
const PLAN_RULE_MARK: &str = "tenancy-plan: ";

/// One CIDR rule: protocol, ports, CIDR.
type RuleKey = (String, i32, i32, String);

fn key_of(rule: &IngressRule) -> RuleKey {
    (rule.protocol.clone(), i32::from(rule.from_port), i32::from(rule.to_port), rule.cidr.clone())
}

/// The plan's rules on the group now.
fn plan_rules_present(group: &SecurityGroup) -> Vec<RuleKey> {
    let marked = |description: Option<&str>| description.is_some_and(|d| d.starts_with(PLAN_RULE_MARK));
    let mut present = Vec::new();
    for permission in group.ip_permissions() {
        let (protocol, from, to) = (
            permission.ip_protocol().unwrap_or_default().to_string(),
            permission.from_port().unwrap_or(-1),
            permission.to_port().unwrap_or(-1),
        );
        let v4 = permission.ip_ranges().iter().filter(|r| marked(r.description())).filter_map(|r| r.cidr_ip());
        let v6 = permission.ipv6_ranges().iter().filter(|r| marked(r.description())).filter_map(|r| r.cidr_ipv6());
        present.extend(v4.chain(v6).map(|cidr| (protocol.clone(), from, to, cidr.to_string())));
    }
    present
}

/// One CIDR rule as EC2 takes it; with a description when authorising.
fn permission(key: &RuleKey, description: Option<&str>) -> IpPermission {
    let (protocol, from, to, cidr) = key;
    let builder = IpPermission::builder().ip_protocol(protocol).from_port(*from).to_port(*to);
    let description = description.map(|d| format!("{PLAN_RULE_MARK}{d}"));
    if cidr.contains(':') {
        builder.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).set_description(description).build()).build()
    } else {
        builder.ip_ranges(IpRange::builder().cidr_ip(cidr).set_description(description).build()).build()
    }
}

fn group_tags(group: &SecurityGroup) -> BTreeMap<String, String> {
    group
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

/// True when the group's ingress admits the group itself on every protocol.
fn admits_itself(group: &SecurityGroup) -> bool {
    let id = group.group_id();
    group
        .ip_permissions()
        .iter()
        .any(|p| p.ip_protocol() == Some("-1") && p.user_id_group_pairs().iter().any(|pair| pair.group_id() == id))
}

impl AwsCloud {
    async fn find_security_group(&self, boundary: &Boundary) -> Result<Option<SecurityGroup>, CloudError> {
        let output = self
            .regional(&boundary.region)
            .ec2
            .describe_security_groups()
            .filters(filter("vpc-id", &boundary.vpc_id))
            .filters(filter("group-name", &boundary.names.security_group))
            .send()
            .await
            .map_err(|e| cloud_error("DescribeSecurityGroups", e))?;
        Ok(output.security_groups().first().cloned())
    }

    pub(super) async fn ensure_security_group(&self, boundary: &Boundary) -> Result<ResourceRef, CloudError> {
        let ec2 = &self.regional(&boundary.region).ec2;
        let group = match self.find_security_group(boundary).await? {
            Some(group) => group,
            None => self.create_security_group(boundary).await?,
        };
        let group_id = group.group_id().unwrap_or_default().to_string();
        // A group of the tenant's name that this deployment did not make for this tenant
        // is never adopted (nor opened, nor re-tagged).
        if !boundary.owns(&group_tags(&group)) {
            return Err(CloudError::permanent(format!(
                "a security group named '{}' ({group_id}) exists in {} but was not made by this deployment ('{}') \
                 for this tenant (its {} and {} tags say otherwise): it is not adopted; remove it and retry",
                boundary.names.security_group,
                boundary.vpc_id,
                boundary.deployment,
                tag_keys::DEPLOYMENT,
                tag_keys::TENANT_ID
            )));
        }

        if !admits_itself(&group) {
            let rule = IpPermission::builder()
                .ip_protocol("-1")
                .user_id_group_pairs(
                    UserIdGroupPair::builder()
                        .group_id(&group_id)
                        .description("members of the tenant reach each other")
                        .build(),
                )
                .build();
            let result = ec2.authorize_security_group_ingress().group_id(&group_id).ip_permissions(rule).send().await;
            match result {
                Ok(_) => {}
                Err(error) if code(&error) == Some("InvalidPermission.Duplicate") => {}
                Err(error) => return Err(cloud_error("AuthorizeSecurityGroupIngress", error)),
            }
        }

        self.reconcile_plan_rules(&group, &boundary.plan.ingress_rules, &boundary.region).await?;

        let (add, remove) = tag_changes(boundary, &group_tags(&group));
        if !add.is_empty() {
            ec2.create_tags()
                .resources(&group_id)
                .set_tags(Some(add.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
                .send()
                .await
                .map_err(|e| cloud_error("CreateTags", e))?;
        }
        if !remove.is_empty() {
            ec2.delete_tags()
                .resources(&group_id)
                .set_tags(Some(remove.iter().map(|k| Tag::builder().key(k).build()).collect()))
                .send()
                .await
                .map_err(|e| cloud_error("DeleteTags", e))?;
        }

        let account = self.account().await?;
        let owner = group.owner_id().unwrap_or(&account.id);
        let arn = format!("arn:{}:ec2:{}:{owner}:security-group/{group_id}", account.partition, boundary.region);
        Ok(ResourceRef { kind: ResourceKind::SecurityGroup, id: group_id, arn })
    }

    /// Makes the plan's CIDR rules exactly those on the group: adds the missing ones, and
    /// revokes the ones an earlier plan added that the current one no longer has.
    async fn reconcile_plan_rules(
        &self,
        group: &SecurityGroup,
        wanted: &[IngressRule],
        region: &str,
    ) -> Result<(), CloudError> {
        let ec2 = &self.regional(region).ec2;
        let group_id = group.group_id().unwrap_or_default();
        let present = plan_rules_present(group);
        let wanted_keys: Vec<RuleKey> = wanted.iter().map(key_of).collect();
        let missing: Vec<IpPermission> = wanted
            .iter()
            .filter(|rule| !present.contains(&key_of(rule)))
            .map(|rule| permission(&key_of(rule), Some(&rule.description)))
            .collect();
        let stale: Vec<IpPermission> =
            present.iter().filter(|key| !wanted_keys.contains(key)).map(|key| permission(key, None)).collect();
        if !missing.is_empty() {
            match ec2
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(missing))
                .send()
                .await
            {
                Ok(_) => {}
                Err(error) if code(&error) == Some("InvalidPermission.Duplicate") => {}
                Err(error) => return Err(cloud_error("AuthorizeSecurityGroupIngress", error)),
            }
        }
        if !stale.is_empty() {
            match ec2.revoke_security_group_ingress().group_id(group_id).set_ip_permissions(Some(stale)).send().await {
                Ok(_) => {}
                Err(error) if code(&error) == Some("InvalidPermission.NotFound") => {}
                Err(error) => return Err(cloud_error("RevokeSecurityGroupIngress", error)),
            }
        }
        Ok(())
    }

    /// Creates the group, tagged at creation. Returns it as created (no rules, every tag),
    /// so that the caller needs no second look; if another worker created it meanwhile,
    /// returns theirs.
    async fn create_security_group(&self, boundary: &Boundary) -> Result<SecurityGroup, CloudError> {
        let tags: Vec<Tag> = boundary.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let created = self
            .regional(&boundary.region)
            .ec2
            .create_security_group()
            .group_name(&boundary.names.security_group)
            .description(format!("Tenancy tenant {}: members reach each other only", boundary.tenant))
            .vpc_id(&boundary.vpc_id)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .set_tags(Some(tags.clone()))
                    .build(),
            )
            .send()
            .await;
        match created {
            Ok(output) => Ok(SecurityGroup::builder()
                .set_group_id(output.group_id().map(str::to_string))
                .group_name(&boundary.names.security_group)
                .vpc_id(&boundary.vpc_id)
                .set_tags(Some(tags))
                .build()),
            // Another worker created it between our look and our create: use theirs.
            Err(error) if code(&error) == Some("InvalidGroup.Duplicate") => self
                .find_security_group(boundary)
                .await?
                .ok_or_else(|| CloudError::transient("CreateSecurityGroup: the group exists but is not visible yet")),
            Err(error) => Err(cloud_error("CreateSecurityGroup", error)),
        }
    }

    /// Removes the tenant's groups: the one of its name in its VPC, any tagged with its id,
    /// and any its record names; each only if its record names it or it carries this
    /// deployment's tag and this tenant's id. A group merely tagged with the tenant's name
    /// (in another VPC, by someone else) is left alone and reported.
    pub(super) async fn remove_security_groups(&self, boundary: &Boundary) -> Result<(), CloudError> {
        let ec2 = &self.regional(&boundary.region).ec2;
        let mut candidates: Vec<(String, BTreeMap<String, String>)> = Vec::new();
        if let Some(group) = self.find_security_group(boundary).await? {
            candidates.push((group.group_id().unwrap_or_default().to_string(), group_tags(&group)));
        }
        let tenant_id = boundary.tenant_id.to_string();
        for (arn, tags) in
            self.tagged(&boundary.region, Some("ec2:security-group"), tag_keys::TENANT_ID, &tenant_id).await?
        {
            let id = arn.rsplit('/').next().unwrap_or_default().to_string();
            if !id.is_empty() && !candidates.iter().any(|(known, _)| *known == id) {
                candidates.push((id, tags));
            }
        }
        for (id, tags) in candidates {
            if !boundary.may_remove(&id, None, &tags) {
                tracing::warn!(group = %id, "security group not made by this deployment for this tenant; left alone");
                continue;
            }
            match ec2.delete_security_group().group_id(&id).send().await {
                Ok(_) => {}
                Err(error) if code(&error) == Some("InvalidGroup.NotFound") => {}
                Err(error) => return Err(cloud_error(&format!("DeleteSecurityGroup {id}"), error)),
            }
        }
        Ok(())
    }
}

/// The group rules a grant made: those whose source pair carries the grant's name as its
/// description, or (when the other tenant's group is known) those from that group on the
/// grant's protocol and ports. Each as the permission that revokes it.
fn grant_rules(
    group: &SecurityGroup,
    grant: &Grant,
    protocol: &str,
    ports: Ports,
    source: Option<&str>,
) -> Vec<IpPermission> {
    let name = grant.cloud_name();
    let mut found = Vec::new();
    for permission in group.ip_permissions() {
        let (rule_protocol, from, to) =
            (permission.ip_protocol().unwrap_or_default(), permission.from_port(), permission.to_port());
        let same_ports =
            rule_protocol == protocol && from == Some(i32::from(ports.from)) && to == Some(i32::from(ports.to));
        for pair in permission.user_id_group_pairs() {
            let named = pair.description() == Some(name.as_str());
            let from_source = same_ports && source.is_some() && pair.group_id() == source;
            if named || from_source {
                found.push(
                    IpPermission::builder()
                        .ip_protocol(rule_protocol)
                        .set_from_port(from)
                        .set_to_port(to)
                        // The pair as described: AWS matches on the group alone; moto (the
                        // emulator) compares the whole pair, description and user id
                        // included, and with the group alone the rule stayed.
                        .user_id_group_pairs(pair.clone())
                        .build(),
                );
            }
        }
    }
    found
}

impl AwsCloud {
    /// The tenant's own group, as the boundary names it, if this deployment made it for
    /// this tenant. `None` when there is none; an error naming it when it is someone else's.
    async fn owned_group(&self, boundary: &Boundary) -> Result<Option<SecurityGroup>, CloudError> {
        let Some(group) = self.find_security_group(boundary).await? else { return Ok(None) };
        if !boundary.owns(&group_tags(&group)) {
            return Err(CloudError::permanent(format!(
                "the security group named '{}' ({}) was not made by this deployment for tenant '{}'; grants leave it alone",
                boundary.names.security_group,
                group.group_id().unwrap_or_default(),
                boundary.tenant
            )));
        }
        Ok(Some(group))
    }

    /// A network grant: an ingress rule on the granting tenant's group whose source is the
    /// other tenant's group, described with the grant's name. A rule already there is
    /// success.
    pub(super) async fn apply_network_grant(
        &self,
        grant: &Grant,
        protocol: &str,
        ports: Ports,
        granter: &Boundary,
        grantee: &Boundary,
    ) -> Result<(), CloudError> {
        // Both groups are made when their tenant is provisioned; a grant is only given
        // between active tenants, so a missing group is the tag index or a deletion racing.
        let missing =
            |tenant: &str| CloudError::transient(format!("the security group of tenant '{tenant}' is not there"));
        let group = self.owned_group(granter).await?.ok_or_else(|| missing(granter.tenant.as_str()))?;
        let source = self.owned_group(grantee).await?.ok_or_else(|| missing(grantee.tenant.as_str()))?;
        let source_id = source.group_id().unwrap_or_default();
        if !grant_rules(&group, grant, protocol, ports, Some(source_id)).is_empty() {
            return Ok(());
        }
        let rule = IpPermission::builder()
            .ip_protocol(protocol)
            .from_port(i32::from(ports.from))
            .to_port(i32::from(ports.to))
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(source_id).description(grant.cloud_name()).build())
            .build();
        let ec2 = &self.regional(&granter.region).ec2;
        match ec2
            .authorize_security_group_ingress()
            .group_id(group.group_id().unwrap_or_default())
            .ip_permissions(rule)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if code(&error) == Some("InvalidPermission.Duplicate") => Ok(()),
            Err(error) => Err(cloud_error("AuthorizeSecurityGroupIngress", error)),
        }
    }

    /// Takes a network grant's rules off the granting tenant's group. No group, no rule,
    /// or a rule revoked meanwhile is success.
    pub(super) async fn revoke_network_grant(
        &self,
        grant: &Grant,
        protocol: &str,
        ports: Ports,
        granter: &Boundary,
        grantee: Option<&Boundary>,
    ) -> Result<(), CloudError> {
        let Some(group) = self.owned_group(granter).await? else { return Ok(()) };
        let source = match grantee {
            Some(grantee) => self.find_security_group(grantee).await?.and_then(|g| g.group_id().map(str::to_string)),
            None => None,
        };
        let rules = grant_rules(&group, grant, protocol, ports, source.as_deref());
        if rules.is_empty() {
            return Ok(());
        }
        let ec2 = &self.regional(&granter.region).ec2;
        match ec2
            .revoke_security_group_ingress()
            .group_id(group.group_id().unwrap_or_default())
            .set_ip_permissions(Some(rules))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if code(&error) == Some("InvalidPermission.NotFound") => Ok(()),
            Err(error) => Err(cloud_error("RevokeSecurityGroupIngress", error)),
        }
    }
}

#[async_trait::async_trait]
impl tenancy_domain::ports::Vpcs for AwsCloud {
    async fn cidr_blocks(&self, region: &str, vpc_id: &str) -> Result<Option<Vec<String>>, CloudError> {
        let described = self.regional(region).ec2.describe_vpcs().vpc_ids(vpc_id).send().await;
        let output = match described {
            Ok(output) => output,
            Err(error) if code(&error) == Some("InvalidVpcID.NotFound") => return Ok(None),
            Err(error) => return Err(cloud_error("DescribeVpcs", error)),
        };
        let Some(vpc) = output.vpcs().iter().find(|v| v.vpc_id() == Some(vpc_id)) else { return Ok(None) };
        // Only associated blocks: a block being disassociated no longer routes to the VPC.
        let v4 = vpc
            .cidr_block_association_set()
            .iter()
            .filter(|a| a.cidr_block_state().and_then(|s| s.state()).is_some_and(|s| s.as_str() == "associated"))
            .filter_map(|a| a.cidr_block().map(str::to_string));
        let v6 = vpc
            .ipv6_cidr_block_association_set()
            .iter()
            .filter(|a| a.ipv6_cidr_block_state().and_then(|s| s.state()).is_some_and(|s| s.as_str() == "associated"))
            .filter_map(|a| a.ipv6_cidr_block().map(str::to_string));
        let mut blocks: Vec<String> = v4.chain(v6).collect();
        if blocks.is_empty()
            && let Some(primary) = vpc.cidr_block()
        {
            blocks.push(primary.to_string());
        }
        Ok(Some(blocks))
    }
}
