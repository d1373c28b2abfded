//! The IAM and KMS policy documents of a tenant's boundary.
//!
//! They are domain rules, not adapter details: what a tenant's workloads may touch is
//! the security boundary itself. Every grant is scoped to the tenant by tag (ABAC) or by
//! its own ARN; nothing here is `*` on `*`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::metadata::tag_keys;

/// One extra statement for the tenant role's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatement {
    /// Statement id (letters and digits).
    pub sid: String,
    /// `service:Action` names.
    pub actions: Vec<String>,
    /// ARNs of the tenant's resources, or `*` with `tenant_tag_condition`.
    pub resources: Vec<String>,
    /// Binds the statement to resources tagged with the tenant.
    pub tenant_tag_condition: bool,
}

/// Services that run a tenant's workloads and may assume its role: EC2 instances (through
/// the instance profile) and ECS tasks. Kubernetes pods get the role through IRSA, which
/// needs the cluster's OIDC provider and belongs to the namespace work.
pub const TRUSTED_SERVICES: [&str; 2] = ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"];

/// Actions a tenant's role may take on resources tagged with its tenant. Only actions
/// whose services evaluate `aws:ResourceTag` are listed, so the condition really binds.
pub const TENANT_SCOPED_ACTIONS: [&str; 22] = [
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:DescribeKey",
    "secretsmanager:GetSecretValue",
    "secretsmanager:DescribeSecret",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
];

/// Name of the tenant role's inline policy.
pub const ROLE_POLICY_NAME: &str = "tenancy-tenant-access";

/// What the API's role may do with a tenant role: assume it, with the session tags that
/// name the tenant and the user (`sts:TagSession`), to issue a person's credentials.
pub const ISSUER_ACTIONS: [&str; 2] = ["sts:AssumeRole", "sts:TagSession"];

/// Trust policy of the tenant role: the services that run its workloads and, when the
/// deployment issues credentials (`api_role` is the API function's role ARN), exactly that
/// role, with [`ISSUER_ACTIONS`]. Nothing else may assume it.
pub fn role_trust_policy(api_role: Option<&str>) -> Value {
    let mut statements = vec![json!({
        "Sid": "TenantWorkloads",
        "Effect": "Allow",
        "Principal": { "Service": TRUSTED_SERVICES },
        "Action": "sts:AssumeRole"
    })];
    if let Some(api_role) = api_role {
        statements.push(json!({
            "Sid": "TenancyIssuesCredentials",
            "Effect": "Allow",
            "Principal": { "AWS": api_role },
            "Action": ISSUER_ACTIONS
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Most characters of a role's inline policies, as IAM counts them (whitespace outside
/// strings excluded).
pub const MAX_INLINE_POLICY_CHARS: usize = 10_240;

/// The size of a policy document as IAM counts it: characters, without the whitespace
/// outside strings. serde_json's compact form, which Tenancy sends, has none of that.
pub fn policy_size(document: &Value) -> usize {
    document.to_string().chars().count()
}

/// Inline policy of the tenant role: the listed actions, on resources tagged with this
/// tenant only, then the statements of the tenant type's plan (already validated by
/// [`crate::plan::validate`]), each bound to this account's resources
/// (`aws:ResourceAccount`) and, when it asks for it, to the tenant's tag. The tag condition
/// compares the whole value (`StringEquals`), so tenant `dev` never matches `dev2`'s resources.
pub fn role_access_policy(tenant: &str, account_id: &str, plan_statements: &[PolicyStatement]) -> Value {
    let own_tag = || json!({ "StringEquals": { format!("aws:ResourceTag/{}", tag_keys::TENANT): tenant } });
    let mut statements = vec![json!({
        "Sid": "OwnTenantResourcesOnly",
        "Effect": "Allow",
        "Action": TENANT_SCOPED_ACTIONS,
        "Resource": "*",
        "Condition": own_tag()
    })];
    for extra in plan_statements {
        let resources: Vec<String> = extra.resources.iter().map(|r| r.replace("{account}", account_id)).collect();
        let mut equals = serde_json::Map::new();
        equals.insert("aws:ResourceAccount".into(), Value::from(account_id));
        if extra.tenant_tag_condition {
            equals.insert(format!("aws:ResourceTag/{}", tag_keys::TENANT), Value::from(tenant));
        }
        statements.push(json!({
            "Sid": format!("{PLAN_SID_PREFIX}{}", extra.sid),
            "Effect": "Allow",
            "Action": extra.actions,
            "Resource": resources,
            "Condition": { "StringEquals": equals },
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The inline policy an IAM grant puts on the other tenant's role: `actions` on this
/// account's resources tagged with the granting tenant, and nothing else. The tag condition
/// compares the whole value, as the role's own policy does.
pub fn grant_policy(granting_tenant: &str, account_id: &str, actions: &[&str]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GrantedByTenant",
            "Effect": "Allow",
            "Action": actions,
            "Resource": "*",
            "Condition": { "StringEquals": {
                format!("aws:ResourceTag/{}", tag_keys::TENANT): granting_tenant,
                "aws:ResourceAccount": account_id,
            } }
        }]
    })
}

/// Prefix of the statement ids a plan adds, so that a reader of the policy tells them apart.
pub const PLAN_SID_PREFIX: &str = "TenantType";

/// Key administration actions granted to the account (and so to IAM principals the
/// account's own policies allow): everything but using the key for data.
const KEY_ADMIN_ACTIONS: [&str; 15] = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
];

/// Data actions the tenant role may take with its key, directly or through a service
/// acting for it (S3 reading an SSE-KMS object calls `kms:Decrypt` as the caller).
const KEY_USE_ACTIONS: [&str; 5] =
    ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"];

/// Grant actions the tenant role may take, for AWS services only (EBS, RDS... attaching the key).
const KEY_GRANT_ACTIONS: [&str; 3] = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"];

/// Key policy of the tenant key: the account's admins manage it, the tenant role uses it,
/// and the grants the role creates are limited to AWS services acting for it.
pub fn key_policy(partition: &str, account_id: &str, role_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdminsManage",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:{partition}:iam::{account_id}:root") },
                "Action": KEY_ADMIN_ACTIONS,
                "Resource": "*"
            },
            {
                "Sid": "TenantRoleUses",
                "Effect": "Allow",
                "Principal": { "AWS": role_arn },
                "Action": KEY_USE_ACTIONS,
                "Resource": "*"
            },
            {
                "Sid": "TenantRoleGrantsToAwsServices",
                "Effect": "Allow",
                "Principal": { "AWS": role_arn },
                "Action": KEY_GRANT_ACTIONS,
                "Resource": "*",
                "Condition": { "Bool": { "kms:GrantIsForAWSResource": "true" } }
            }
        ]
    })
}

/// Bucket policy of a catalogue bucket: no request over plain HTTP. Public access is
/// blocked by the bucket's public access block, and access is granted by the tenant role's
/// own policy, so this document only denies.
pub fn bucket_policy(partition: &str, bucket: &str) -> Value {
    let arn = format!("arn:{partition}:s3:::{bucket}");
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(doc: &Value) -> Vec<Value> {
        doc["Statement"].as_array().unwrap().clone()
    }

    #[test]
    fn no_policy_grants_every_action() {
        for doc in [
            role_trust_policy(None),
            role_trust_policy(Some("arn:aws:iam::123456789012:role/tenancy-prod-api")),
            role_access_policy("dev", "123456789012", &[]),
            key_policy("aws", "123456789012", "arn:r"),
        ] {
            for statement in statements(&doc) {
                let actions = match &statement["Action"] {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
                    other => panic!("unexpected {other}"),
                };
                for action in actions {
                    assert!(action != "*" && !action.ends_with(":*"), "{action} in {doc}");
                }
            }
        }
    }

    #[test]
    fn the_trust_names_the_api_role_only_when_there_is_one() {
        assert_eq!(statements(&role_trust_policy(None)).len(), 1);
        let api = "arn:aws:iam::123456789012:role/tenancy-prod-api";
        let trust = role_trust_policy(Some(api));
        let issuer = &statements(&trust)[1];
        assert_eq!(issuer["Principal"], json!({ "AWS": api }));
        assert_eq!(issuer["Action"], json!(["sts:AssumeRole", "sts:TagSession"]));
    }

    #[test]
    fn the_role_policy_binds_every_grant_to_the_tenant_tag_exactly() {
        let doc = role_access_policy("dev", "123456789012", &[]);
        for statement in statements(&doc) {
            let condition = &statement["Condition"]["StringEquals"]["aws:ResourceTag/tenancy:tenant"];
            assert_eq!(condition, "dev");
        }
        assert!(!doc.to_string().contains("dev*"));
    }

    #[test]
    fn the_key_policy_names_only_the_tenant_role_as_user() {
        let doc = key_policy("aws", "123456789012", "arn:aws:iam::123456789012:role/tenancy/dev/tenancy-dev");
        let users = &statements(&doc)[1]["Principal"]["AWS"];
        assert_eq!(users, "arn:aws:iam::123456789012:role/tenancy/dev/tenancy-dev");
    }

    #[test]
    fn plan_statements_follow_the_built_in_one_with_the_account_filled_in() {
        let extra = [
            PolicyStatement {
                sid: "Lake".into(),
                actions: vec!["glue:GetTable".into()],
                resources: vec!["arn:aws:glue:eu-west-1:{account}:table/tenancy-dev--lake/*".into()],
                tenant_tag_condition: false,
            },
            PolicyStatement {
                sid: "Train".into(),
                actions: vec!["sagemaker:CreateTrainingJob".into()],
                resources: vec!["*".into()],
                tenant_tag_condition: true,
            },
        ];
        let doc = role_access_policy("dev", "123456789012", &extra);
        let all = statements(&doc);
        assert_eq!(all.len(), 3);
        assert_eq!(all[1]["Sid"], "TenantTypeLake");
        assert_eq!(all[1]["Resource"][0], "arn:aws:glue:eu-west-1:123456789012:table/tenancy-dev--lake/*");
        assert_eq!(all[1]["Condition"], json!({ "StringEquals": { "aws:ResourceAccount": "123456789012" } }));
        assert_eq!(
            all[2]["Condition"],
            json!({ "StringEquals": {
                "aws:ResourceAccount": "123456789012",
                "aws:ResourceTag/tenancy:tenant": "dev",
            } })
        );
    }

    #[test]
    fn every_plan_statement_is_bound_to_the_account() {
        let extra: Vec<PolicyStatement> = (0..3)
            .map(|i| PolicyStatement {
                sid: format!("S{i}"),
                actions: vec!["s3:GetObject".into()],
                resources: vec!["arn:aws:s3:::tenancy-dev--data/*".into()],
                tenant_tag_condition: i % 2 == 0,
            })
            .collect();
        let doc = role_access_policy("dev", "210987654321", &extra);
        for statement in &statements(&doc)[1..] {
            assert_eq!(statement["Condition"]["StringEquals"]["aws:ResourceAccount"], "210987654321", "{statement}");
        }
    }

    #[test]
    fn the_policy_size_counts_characters_of_the_compact_form() {
        assert_eq!(policy_size(&json!({ "a": "b c" })), r#"{"a":"b c"}"#.len());
        assert_eq!(policy_size(&json!({ "a": "é" })), 9);
        let base = policy_size(&role_access_policy("dev", "123456789012", &[]));
        assert!(base < MAX_INLINE_POLICY_CHARS / 4, "{base}");
    }
}
