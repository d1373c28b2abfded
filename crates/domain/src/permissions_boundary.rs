//! The permissions boundary every tenant role carries: the most a tenant's workloads may
//! ever do in AWS, whatever the role's own policy (and so any tenant type's plan) says.
//! It is the AWS-side half of the rule that a tenant can change nothing about its own
//! boundary; [`crate::plan`] is the half in code.
//!
//! `template.yaml` declares the same document as `TenantBoundaryPolicy`; the local setup
//! creates it on the emulator from here, and a test keeps the two in step.

use serde_json::{Value, json};

/// Services a tenant role may use at all, each with all its actions before the denials
/// below. They are the services of the plan catalogue and those of Tenancy's own
/// tenant-scoped statement.
pub const ALLOWED_SERVICES: [&str; 13] = [
    "s3",
    "ec2",
    "sagemaker",
    "glue",
    "athena",
    "dynamodb",
    "sqs",
    "sns",
    "logs",
    "cloudwatch",
    "secretsmanager",
    "ssm",
    "ecr",
];

/// What a tenant role may do with KMS: use keys for data, and let AWS services use them.
pub const KEY_USE: [&str; 8] = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RevokeGrant",
];

/// Services denied outright: identity, credentials, the organization, the account.
/// Credentials for a tenant are issued by Tenancy assuming the tenant role, which asks
/// nothing of the role's own permissions (`sts:GetCallerIdentity` needs none).
pub const DENIED_SERVICES: [&str; 4] = ["iam:*", "sts:*", "organizations:*", "account:*"];

/// Writes within the allowed services that would change a tenant's boundary: network
/// rules, resource policies, sharing, ACLs, public access, encryption and ownership
/// settings, and where data may be sent to another account.
pub const BOUNDARY_CHANGES: [&str; 56] = [
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:ModifySecurityGroupRules",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup",
    "ec2:CreateNetworkAcl",
    "ec2:CreateNetworkAclEntry",
    "ec2:DeleteNetworkAcl",
    "ec2:DeleteNetworkAclEntry",
    "ec2:ReplaceNetworkAclAssociation",
    "ec2:ReplaceNetworkAclEntry",
    "ec2:ModifySnapshotAttribute",
    "ec2:ModifyImageAttribute",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:CreateTags",
    "ec2:DeleteTags",
    "kms:PutKeyPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutAccountPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketTagging",
    "s3:PutReplicationConfiguration",
    "s3:PutBucketNotification",
    "s3:PutAccessPointPolicy",
    "s3:CreateAccessPoint",
    "sqs:AddPermission",
    "sqs:RemovePermission",
    "sqs:SetQueueAttributes",
    "sns:AddPermission",
    "sns:RemovePermission",
    "sns:SetTopicAttributes",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:DeleteResourcePolicy",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
    "ecr:PutRegistryPolicy",
    "glue:PutResourcePolicy",
    "glue:DeleteResourcePolicy",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
    "logs:PutResourcePolicy",
    "logs:DeleteResourcePolicy",
    "logs:PutDestinationPolicy",
    "logs:PutSubscriptionFilter",
];

/// Tagging actions of the allowed services: denied whenever they touch a `tenancy:` key,
/// so that no workload re-tags a resource into (or out of) a tenant.
pub const TAGGING: [&str; 28] = [
    "kms:TagResource",
    "kms:UntagResource",
    "s3:PutObjectTagging",
    "s3:DeleteObjectTagging",
    "sqs:TagQueue",
    "sqs:UntagQueue",
    "sns:TagResource",
    "sns:UntagResource",
    "dynamodb:TagResource",
    "dynamodb:UntagResource",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "ssm:AddTagsToResource",
    "ssm:RemoveTagsFromResource",
    "logs:TagResource",
    "logs:UntagResource",
    "logs:TagLogGroup",
    "logs:UntagLogGroup",
    "sagemaker:AddTags",
    "sagemaker:DeleteTags",
    "glue:TagResource",
    "glue:UntagResource",
    "athena:TagResource",
    "athena:UntagResource",
    "ecr:TagResource",
    "ecr:UntagResource",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
];

/// The boundary document.
pub fn tenant_boundary_policy() -> Value {
    let mut allowed: Vec<String> = ALLOWED_SERVICES.iter().map(|s| format!("{s}:*")).collect();
    allowed.extend(KEY_USE.iter().map(|a| a.to_string()));
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "MostATenantMayDo", "Effect": "Allow", "Action": allowed, "Resource": "*" },
            { "Sid": "NoIdentityOrAccount", "Effect": "Deny", "Action": DENIED_SERVICES, "Resource": "*" },
            { "Sid": "NoBoundaryChanges", "Effect": "Deny", "Action": BOUNDARY_CHANGES.to_vec(), "Resource": "*" },
            {
                "Sid": "KeyGrantsOnlyForAwsServices",
                "Effect": "Deny",
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": { "Bool": { "kms:GrantIsForAWSResource": "false" } }
            },
            {
                "Sid": "NoTenancyTags",
                "Effect": "Deny",
                "Action": TAGGING.to_vec(),
                "Resource": "*",
                "Condition": { "ForAnyValue:StringLike": { "aws:TagKeys": ["tenancy:*"] } }
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../../template.yaml");

    /// The template's TenantBoundaryPolicy, from its header to the next resource.
    fn template_boundary() -> &'static str {
        let start = TEMPLATE.find("  TenantBoundaryPolicy:").expect("template.yaml declares TenantBoundaryPolicy");
        let rest = &TEMPLATE[start + 1..];
        let end = rest.find("\n  # ").map_or(rest.len(), |e| e);
        &rest[..end]
    }

    #[test]
    fn the_template_declares_the_same_boundary() {
        let declared = template_boundary();
        let doc = tenant_boundary_policy();
        for statement in doc["Statement"].as_array().unwrap() {
            let actions = match &statement["Action"] {
                Value::String(one) => vec![one.clone()],
                Value::Array(all) => all.iter().map(|a| a.as_str().unwrap().to_string()).collect(),
                _ => unreachable!(),
            };
            for action in actions {
                assert!(declared.contains(&format!("- {action}\n")), "template.yaml's boundary lacks {action}");
            }
            assert!(declared.contains(statement["Sid"].as_str().unwrap()));
        }
        assert!(declared.contains("kms:GrantIsForAWSResource"));
        assert!(declared.contains("tenancy:*"));
        let listed = declared.lines().filter(|l| l.trim_start().starts_with("- ") && !l.contains("Sid:")).count();
        let in_code = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Action"].as_array().map_or(1, Vec::len))
            .sum::<usize>();
        assert_eq!(listed, in_code, "template.yaml lists exactly the boundary's actions");
    }

    #[test]
    fn the_boundary_allows_exactly_the_plan_catalogue_services() {
        // One list in two places (the generated table and this boundary): kept equal here.
        let catalogue = crate::plan::catalogue::catalogue();
        for service in ALLOWED_SERVICES {
            assert!(catalogue.has_service(service), "{service} is allowed by the boundary but not in the catalogue");
        }
        let named: Vec<&str> = include_str!("plan/iam-catalogue.tsv")
            .lines()
            .find_map(|line| line.strip_prefix("# services: "))
            .expect("the table names its services")
            .split_whitespace()
            .collect();
        assert_eq!(named, ALLOWED_SERVICES, "the boundary and the catalogue list the same services");
    }

    #[test]
    fn the_boundary_denies_identity_and_every_boundary_change() {
        let doc = tenant_boundary_policy();
        let denied: Vec<&str> = doc["Statement"][1]["Action"]
            .as_array()
            .unwrap()
            .iter()
            .chain(doc["Statement"][2]["Action"].as_array().unwrap())
            .map(|a| a.as_str().unwrap())
            .collect();
        for action in ["iam:*", "sts:*", "s3:PutBucketPolicy", "ec2:AuthorizeSecurityGroupIngress", "kms:PutKeyPolicy"]
        {
            assert!(denied.contains(&action), "{action}");
        }
        assert_eq!(doc["Statement"][0]["Effect"], "Allow");
        assert!(!doc.to_string().contains("\"*:*\"") && !doc["Statement"][0]["Action"].to_string().contains("\"*\""));
    }
}
