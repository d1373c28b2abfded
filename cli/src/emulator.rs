//! Creates what the SAM stack creates in AWS, on the local emulator: the table, the bus,
//! the rule that routes request events (with the same pattern as `template.yaml`), and,
//! standing in for the Lambda target, an SQS queue that the local worker polls. Also a
//! demo VPC to put an infrastructure in. Every step is idempotent.

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use tenancy_app::bus::request_rule_pattern;
use tenancy_aws::DynamoStore;

/// Names of the local resources.
#[derive(Debug, Clone)]
pub struct LocalResources {
    /// The deployment, whose tenant-role permissions boundary is created here.
    pub deployment: String,
    /// DynamoDB table.
    pub table: String,
    /// EventBridge bus.
    pub bus: String,
    /// SQS queue standing in for the lifecycle function's rule target.
    pub queue: String,
}

/// What setup made or found.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// URL of the lifecycle queue.
    pub queue_url: String,
    /// Id of the demo VPC.
    pub vpc_id: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Name of the rule that routes lifecycle requests.
pub const REQUEST_RULE: &str = "tenancy-lifecycle-requests";
const DEMO_VPC_NAME: &str = "tenancy-demo";

/// Creates (or finds) everything, and returns the queue and demo VPC.
pub async fn prepare(sdk: &SdkConfig, names: &LocalResources) -> Result<Prepared, BoxError> {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &names.table).create_table().await?;

    let events = aws_sdk_eventbridge::Client::new(sdk);
    if let Err(error) = events.create_event_bus().name(&names.bus).send().await {
        let exists = matches!(&error, aws_sdk_eventbridge::error::SdkError::ServiceError(e)
            if aws_sdk_eventbridge::error::ProvideErrorMetadata::code(e.err()) == Some("ResourceAlreadyExistsException"));
        if !exists {
            return Err(error.into());
        }
    }

    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue_url =
        sqs.create_queue().queue_name(&names.queue).send().await?.queue_url().unwrap_or_default().to_string();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();

    events
        .put_rule()
        .name(REQUEST_RULE)
        .event_bus_name(&names.bus)
        .event_pattern(request_rule_pattern().to_string())
        .send()
        .await?;
    events
        .put_targets()
        .rule(REQUEST_RULE)
        .event_bus_name(&names.bus)
        .targets(aws_sdk_eventbridge::types::Target::builder().id("lifecycle").arn(queue_arn).build()?)
        .send()
        .await?;

    // The permissions boundary of tenant roles, as template.yaml's TenantBoundaryPolicy.
    let iam = aws_sdk_iam::Client::new(sdk);
    let created = iam
        .create_policy()
        .policy_name(tenancy_aws::cloud::tenant_boundary_policy_name(&names.deployment))
        .path("/tenancy/")
        .description("Tenancy: the most any tenant role may ever do")
        .policy_document(tenancy_domain::permissions_boundary::tenant_boundary_policy().to_string())
        .send()
        .await;
    if let Err(error) = created {
        let exists = matches!(&error, aws_sdk_iam::error::SdkError::ServiceError(e)
            if aws_sdk_iam::error::ProvideErrorMetadata::code(e.err()) == Some("EntityAlreadyExists"));
        if !exists {
            return Err(error.into());
        }
    }

    let vpc_id = demo_vpc(&aws_sdk_ec2::Client::new(sdk)).await?;
    Ok(Prepared { queue_url, vpc_id })
}

async fn demo_vpc(ec2: &aws_sdk_ec2::Client) -> Result<String, BoxError> {
    let found =
        ec2.describe_vpcs().filters(Filter::builder().name("tag:Name").values(DEMO_VPC_NAME).build()).send().await?;
    if let Some(id) = found.vpcs().first().and_then(|v| v.vpc_id()) {
        return Ok(id.to_string());
    }
    let created = ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Vpc)
                .tags(Tag::builder().key("Name").value(DEMO_VPC_NAME).build())
                .build(),
        )
        .send()
        .await?;
    Ok(created.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_string())
}
