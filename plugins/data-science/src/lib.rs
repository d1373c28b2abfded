//! The `data-science` tenant type.
// The bindings wit-bindgen generates for WIT functions take many arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({ path: "../wit/v1.1", world: "tenant-type" });

use tenancy::plugin::host::log;
use tenancy::plugin::types::{CatalogueResource, IngressRule, PolicyStatement};

struct DataScience;

impl Guest for DataScience {
    fn validate(_tenant: Tenant) -> Result<(), String> {
        Ok(())
    }

    fn on_create(tenant: Tenant) -> Result<Plan, String> {
        log(&format!("data-science plan for {}", tenant.name));
        let own = |pattern: &str| format!("arn:aws:s3:::tenancy-{}--{pattern}", tenant.name);
        Ok(Plan {
            tags: vec![("workload".into(), "data-science".into())],
            policy_statements: vec![
                PolicyStatement {
                    sid: "DataBucket".into(),
                    actions: vec!["s3:GetObject".into(), "s3:PutObject".into(), "s3:ListBucket".into()],
                    resources: vec![own("data"), own("data/*")],
                    tenant_tag_condition: false,
                },
                PolicyStatement {
                    sid: "SageMakerAndGlue".into(),
                    actions: vec![
                        "sagemaker:CreateTrainingJob".into(),
                        "sagemaker:DescribeTrainingJob".into(),
                        "glue:GetDatabase".into(),
                        "glue:GetTable".into(),
                    ],
                    resources: vec!["*".into()],
                    tenant_tag_condition: true,
                },
            ],
            ingress_rules: vec![IngressRule {
                protocol: "tcp".into(),
                from_port: 8888,
                to_port: 8888,
                cidr: "{vpc}".into(),
                description: "Jupyter from the VPC".into(),
            }],
            default_settings: vec![("notebook-instance-type".into(), "ml.m5.xlarge".into())],
            resources: vec![CatalogueResource::Bucket("data".into())],
        })
    }

    fn on_delete(_tenant: Tenant) -> Result<(), String> {
        Ok(())
    }

    fn on_grant_access(_tenant: Tenant, _grant: Grant) -> Decision {
        Decision::Allow
    }
}

export!(DataScience);
