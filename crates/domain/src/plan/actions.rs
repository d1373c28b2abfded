//! Which IAM actions a plan may grant.
//!
//! An allow-list derived from AWS's IAM reference (the generated catalogue): an action must
//! be one of a catalogue service's actions, its access levels must all be Read, List or
//! Write (never Permissions management or Tagging), and it must not be one of the Write
//! actions that change a boundary ([`BOUNDARY_PATTERNS`], [`BOUNDARY_ACTIONS`]). A wildcard
//! is expanded against the catalogue, as IAM would, and refused if it reaches nothing or
//! reaches any refused action.

use super::catalogue::{FORBIDDEN_SERVICES, IamAction, catalogue};

/// Substrings of Write action names that change a boundary: who may reach a resource
/// (security groups, network ACLs, grants, sharing, public access, resource policies,
/// permissions, ACLs, ownership), how it is protected (encryption), what the tag condition
/// sees (tags), where traffic goes (ingress, egress, routes, gateways, peering, endpoints,
/// Verified Access, VPN, public addresses and pools, IPAM and BYOIP), where data is copied to (replication, notifications,
/// logging, inventory, exports, subscriptions, destinations, deliveries, data syncs,
/// replicas, cross-account links, traffic mirrors, flow logs), attributes that carry any
/// of these (queue and topic policies, snapshot and image sharing, instance groups), how
/// data is protected (KMS keys, security configurations), and who acts or may sign in
/// (authorizations, ABAC, IAM roles and instance profiles, activations, bearer tokens,
/// federation, Identity Center, presigned URLs, account- and organization-wide settings and
/// defaults, the serial console).
/// Matched case-sensitively on the name as IAM writes it (`PutBucketAcl`,
/// `AuthorizeSecurityGroupIngress`).
pub const BOUNDARY_PATTERNS: [&str; 56] = [
    "SecurityGroup",
    "NetworkAcl",
    "Grant",
    "Share",
    "Sharing",
    "PublicAccess",
    "Policy",
    "Policies",
    "Permission",
    "Acl",
    "Encryption",
    "OwnershipControls",
    "Ownership",
    "Tag",
    "Ingress",
    "Egress",
    "Route",
    "Gateway",
    "Peering",
    "VpcEndpoint",
    "Endpoint",
    "VerifiedAccess",
    "Public",
    "Byoip",
    "Ipam",
    "Vpn",
    "Replica",
    "DataSync",
    "Deliver",
    "Link",
    "Notification",
    "Logging",
    "Inventory",
    "Export",
    "Subscri",
    "Destination",
    "TrafficMirror",
    "FlowLogs",
    "Attribute",
    "Abac",
    "Iam",
    "Presigned",
    "Address",
    "Account",
    "SerialConsole",
    "Default",
    "ServiceSetting",
    "Organization",
    "Role",
    "Activation",
    "BearerToken",
    "Federate",
    "IdentityCenter",
    "Authoriz",
    "KmsKey",
    "SecurityConfiguration",
];

/// Write actions refused by name, whose attributes carry resource policies or groups. Most
/// are caught by [`BOUNDARY_PATTERNS`] too; they are listed so that the rule says so even if
/// a pattern changes.
pub const BOUNDARY_ACTIONS: [&str; 8] = [
    "sqs:SetQueueAttributes",
    "sns:SetTopicAttributes",
    "sns:SetSubscriptionAttributes",
    "ec2:ModifySnapshotAttribute",
    "ec2:ModifyImageAttribute",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:CreateNetworkInterfacePermission",
];

type Broken = (&'static str, String);

/// Why a catalogue action may not be granted, or `None` when it may.
pub fn refused_because(action: &IamAction) -> Option<&'static str> {
    if action.flags.chars().any(|c| !matches!(c, 'R' | 'L' | 'W')) {
        return Some("its access level includes Permissions management or Tagging");
    }
    if !action.flags.contains('W') {
        return None;
    }
    let named = BOUNDARY_ACTIONS.iter().any(|full| {
        full.split_once(':').is_some_and(|(service, name)| service == action.service && name == action.name)
    });
    if named || BOUNDARY_PATTERNS.iter().any(|pattern| action.name.contains(pattern)) {
        return Some("it changes a boundary (access, sharing, policies, encryption, tags or network paths)");
    }
    None
}

/// Whether `name` matches the IAM action pattern `pattern`: ASCII case-insensitive, `*` any
/// run (also empty), `?` exactly one character. Linear in practice, never exponential.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    if p.iter().filter(|&&c| c != b'*').count() > n.len() {
        return false; // more characters to match than the name has
    }
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&n[ni])) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

fn is_service_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn is_action_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '*' || c == '?'
}

/// The catalogue actions an action string names: one, or a wildcard's expansion. Only for
/// strings that passed [`check_action`]'s grammar.
pub fn expand(service: &str, pattern: &str) -> Vec<&'static IamAction> {
    catalogue().actions.iter().filter(|a| a.service == service && glob_matches(pattern, a.name)).collect()
}

/// Checks one `service:Action` string of a statement.
pub fn check_action(raw: &str) -> Result<(), Broken> {
    let (service, name) = raw.split_once(':').unwrap_or((raw, ""));
    let action = raw.escape_debug(); // as quoted in a refusal: control characters shown, not sent
    if service.contains(['*', '?']) {
        return Err(("no-wildcard-actions", format!("'{action}' must name one service, without wildcards")));
    }
    if FORBIDDEN_SERVICES.contains(&service.to_ascii_lowercase().as_str()) {
        return Err((
            "no-identity-actions",
            format!("'{action}': plans may grant nothing in {}", FORBIDDEN_SERVICES.join(", ")),
        ));
    }
    let grammar = !service.is_empty()
        && !name.is_empty()
        && service.chars().all(is_service_char)
        && name.chars().all(is_action_char);
    if !grammar {
        return Err((
            "action-not-allowed",
            format!("'{action}' is not a service:Action name (lowercase service, letters, digits, * and ?)"),
        ));
    }
    let catalogue = catalogue();
    if !catalogue.has_service(service) {
        return Err((
            "action-not-allowed",
            format!("'{action}': plans may use only {}", catalogue.services.join(", ")),
        ));
    }
    let matched = expand(service, name);
    let wildcard = name.contains(['*', '?']);
    if matched.is_empty() {
        let what = if wildcard { "matches no action" } else { "is not an action" };
        return Err(("action-not-allowed", format!("'{action}' {what} of {service} in IAM's reference")));
    }
    for found in matched {
        if let Some(why) = refused_because(found) {
            let reach = if wildcard {
                format!("'{action}' reaches '{service}:{}'", found.name)
            } else {
                format!("'{service}:{}'", found.name)
            };
            return Err(("action-not-allowed", format!("{reach}, which a plan may not grant: {why}")));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Actions that must be refused, with their rule.
    pub(crate) const HOSTILE_ACTIONS: [(&str, &str); 63] = [
        ("*", "no-wildcard-actions"),
        ("*:*", "no-wildcard-actions"),
        ("*:GetObject", "no-wildcard-actions"),
        ("s?:GetObject", "no-wildcard-actions"),
        ("s3*:GetObject", "no-wildcard-actions"),
        ("iam:*", "no-identity-actions"),
        ("iam:PassRole", "no-identity-actions"),
        ("iam:CreateUser", "no-identity-actions"),
        ("IAM:CreateUser", "no-identity-actions"),
        ("sts:AssumeRole", "no-identity-actions"),
        ("sts:*", "no-identity-actions"),
        ("organizations:ListAccounts", "no-identity-actions"),
        ("account:PutAlternateContact", "no-identity-actions"),
        ("s3:*", "action-not-allowed"),
        ("s3:Put*", "action-not-allowed"),
        ("s3:PutBucket*", "action-not-allowed"),
        ("s3:*Policy", "action-not-allowed"),
        ("s3:PutBucketPolicy", "action-not-allowed"),
        ("s3:putbucketpolicy", "action-not-allowed"),
        ("s3:PUTBUCKETPOLICY", "action-not-allowed"),
        ("s3:PutBucketPolic?", "action-not-allowed"),
        ("s3:DeleteBucketPolicy", "action-not-allowed"),
        ("s3:PutBucketAcl", "action-not-allowed"),
        ("s3:PutObjectAcl", "action-not-allowed"),
        ("s3:PutBucketPublicAccessBlock", "action-not-allowed"),
        ("s3:PutAccountPublicAccessBlock", "action-not-allowed"),
        ("s3:PutEncryptionConfiguration", "action-not-allowed"),
        ("s3:PutBucketOwnershipControls", "action-not-allowed"),
        ("s3:PutReplicationConfiguration", "action-not-allowed"),
        ("s3:PutBucketNotification", "action-not-allowed"),
        ("s3:PutObjectTagging", "action-not-allowed"),
        ("ec2:AuthorizeSecurityGroupIngress", "action-not-allowed"),
        ("ec2:AuthorizeSecurityGroupEgress", "action-not-allowed"),
        ("ec2:RevokeSecurityGroupIngress", "action-not-allowed"),
        ("ec2:Authorize*", "action-not-allowed"),
        ("ec2:CreateTags", "action-not-allowed"),
        ("ec2:DeleteTags", "action-not-allowed"),
        ("ec2:CreateNetworkAclEntry", "action-not-allowed"),
        ("ec2:ReplaceNetworkAclEntry", "action-not-allowed"),
        ("ec2:ModifySnapshotAttribute", "action-not-allowed"),
        ("ec2:ModifyImageAttribute", "action-not-allowed"),
        ("ec2:ModifyInstanceAttribute", "action-not-allowed"),
        ("ec2:ModifyNetworkInterfaceAttribute", "action-not-allowed"),
        ("ec2:CreateNetworkInterfacePermission", "action-not-allowed"),
        ("ec2:AttachInternetGateway", "action-not-allowed"),
        ("ec2:CreateRoute", "action-not-allowed"),
        ("ec2:CreateVpcPeeringConnection", "action-not-allowed"),
        ("ec2:Modify*", "action-not-allowed"),
        ("sqs:AddPermission", "action-not-allowed"),
        ("sqs:SetQueueAttributes", "action-not-allowed"),
        ("sqs:*", "action-not-allowed"),
        ("sns:SetTopicAttributes", "action-not-allowed"),
        ("sns:SetSubscriptionAttributes", "action-not-allowed"),
        ("sns:AddPermission", "action-not-allowed"),
        ("ram:CreateResourceShare", "action-not-allowed"),
        // glue:GetDataPreviewStatement is Permissions management in IAM's reference.
        ("glue:Get*", "action-not-allowed"),
        ("kms:CreateGrant", "action-not-allowed"),
        ("kms:PutKeyPolicy", "action-not-allowed"),
        ("kms:Decrypt", "action-not-allowed"),
        ("secretsmanager:PutResourcePolicy", "action-not-allowed"),
        ("ecr:SetRepositoryPolicy", "action-not-allowed"),
        ("logs:PutResourcePolicy", "action-not-allowed"),
        ("dynamodb:PutResourcePolicy", "action-not-allowed"),
    ];

    /// Malformed action strings: all refused, by grammar or as unknown.
    pub(crate) const MALFORMED_ACTIONS: [&str; 26] = [
        "",
        ":",
        "s3:",
        ":GetObject",
        " s3:GetObject",
        "s3:GetObject ",
        "s3 :GetObject",
        "s3: GetObject",
        "s3:Get Object",
        "s3:GetObject\n",
        "s3:\tGetObject",
        "S3:GetObject",
        "s3:Get:Object",
        "s3::GetObject",
        "s3:GetObject:",
        "s3_x:GetObject",
        "s3:Get-Object",
        "s3:GetÖbject",
        "ｓ3:GetObject",
        "s3:GetObject\u{200b}",
        "s3:NotAnAction",
        "s3:GetObjectt",
        "s3:Nothing*",
        "s3:?",
        "s3-object-lambda:GetObject",
        "lambda:InvokeFunction",
    ];

    #[test]
    fn hostile_actions_are_refused_with_their_rule() {
        for (action, rule) in HOSTILE_ACTIONS {
            let refused = check_action(action).expect_err(action);
            assert_eq!(refused.0, rule, "{action}: {}", refused.1);
        }
        for action in MALFORMED_ACTIONS {
            let refused = check_action(action).expect_err(action);
            assert_eq!(refused.0, "action-not-allowed", "{action:?}: {}", refused.1);
        }
    }

    #[test]
    fn every_identity_service_action_is_refused() {
        for service in FORBIDDEN_SERVICES {
            for name in ["*", "Get*", "CreateUser", "AssumeRole", "ListAccounts", "x"] {
                let action = format!("{service}:{name}");
                assert_eq!(check_action(&action).unwrap_err().0, "no-identity-actions", "{action}");
            }
        }
    }

    #[test]
    fn ordinary_actions_and_safe_wildcards_pass() {
        for action in [
            "s3:GetObject",
            "s3:getobject",
            "s3:PutObject",
            "s3:ListBucket",
            "s3:DeleteObject",
            "s3:?etObject",
            "s3:GetObjectVersion",
            "s3:List*",
            "sagemaker:CreateTrainingJob",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:Describe*",
            "glue:GetDatabase",
            "glue:GetTable",
            "athena:StartQueryExecution",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "sqs:SendMessage",
            "sqs:ReceiveMessage",
            "sns:Publish",
            "logs:PutLogEvents",
            "cloudwatch:PutMetricData",
            "secretsmanager:GetSecretValue",
            "ssm:GetParameter",
            "ecr:BatchGetImage",
        ] {
            check_action(action).unwrap_or_else(|e| panic!("{action}: {e:?}"));
        }
    }

    #[test]
    fn s3_get_star_reaches_only_allowed_actions() {
        // Every s3 Get action is Read (GetBucketPolicy reads the policy, it does not change
        // it), so `s3:Get*` passes; this test notices if AWS adds one that is not.
        let gets = expand("s3", "Get*");
        assert!(gets.len() > 30, "{}", gets.len());
        for action in &gets {
            assert_eq!(refused_because(action), None, "{action:?}");
        }
        check_action("s3:Get*").unwrap();
    }

    #[test]
    fn glob_matching_is_case_insensitive_and_total() {
        assert!(glob_matches("Get*", "GetObject"));
        assert!(glob_matches("get*", "GetObject"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("?etObject", "GetObject"));
        assert!(!glob_matches("?etObject", "etObject"));
        assert!(glob_matches("*Bucket*Policy", "PutBucketPolicy"));
        assert!(!glob_matches("*Policy", "PutBucketPolicyStatus"));
        assert!(glob_matches("a*b*c", "aXbYbZc"));
        assert!(!glob_matches("", "x"));
        assert!(!glob_matches(&"*a".repeat(100), &"a".repeat(99)));
    }

    /// For a reviewer: the Write actions of s3, ec2, sqs and sns that the rule lets through.
    /// Run `cargo test -p tenancy-domain --lib allowed_write_actions -- --nocapture` to read
    /// them. The assertions pin the ones that must never be among them.
    #[test]
    fn allowed_write_actions_for_review() {
        let mut allowed = Vec::new();
        for service in ["s3", "ec2", "sqs", "sns"] {
            let writes: Vec<&str> = catalogue()
                .actions_of(service)
                .filter(|a| a.flags.contains('W') && refused_because(a).is_none())
                .map(|a| a.name)
                .collect();
            println!("{service} ({} Write actions allowed): {}", writes.len(), writes.join(" "));
            allowed.extend(writes.into_iter().map(|name| format!("{service}:{name}")));
        }
        for (must_not, _) in HOSTILE_ACTIONS {
            assert!(!allowed.iter().any(|a| a.eq_ignore_ascii_case(must_not)), "{must_not}");
        }
        for must_not in BOUNDARY_ACTIONS {
            assert!(!allowed.iter().any(|a| a == must_not), "{must_not}");
        }
        for action in &allowed {
            for word in ["Policy", "Acl", "Grant", "Share", "SecurityGroup", "Tag", "Permission", "Attribute"] {
                assert!(!action.contains(word), "{action}");
            }
        }
        for must in ["s3:PutObject", "s3:DeleteObject", "sqs:SendMessage", "sns:Publish", "ec2:RunInstances"] {
            assert!(allowed.iter().any(|a| a == must), "{must}");
        }
        // Nothing with Permissions management or Tagging access passes, in any service.
        for action in &catalogue().actions {
            if action.flags.contains(['P', 'T']) {
                assert!(refused_because(action).is_some(), "{action:?}");
            }
        }
    }
}
