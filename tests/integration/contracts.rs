//! The contract suites of `tenancy_domain::contract`, run against the real adapters on
//! the emulator: the same cases the in-memory adapters pass in the domain's unit tests.

use aws_config::SdkConfig;
use tenancy_aws::config::AwsSettings;
use tenancy_aws::dynamodb::DynamoStore;
use tenancy_domain::boundary::Boundary;
use tenancy_domain::contract;
use tenancy_domain::infrastructure::Infrastructure;
use tenancy_tests::{Harness, Options, unique};

async fn sdk() -> SdkConfig {
    let endpoint = std::env::var("TENANCY_AWS_ENDPOINT").expect("the emulator's endpoint");
    AwsSettings { endpoint: Some(endpoint), region: "us-east-1".into() }.load().await
}

#[tokio::test]
async fn the_dynamodb_store_keeps_the_store_contract() {
    let sdk = sdk().await;
    contract::store_contract(|| async {
        // A table of its own for each case: every case starts from an empty store.
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), format!("contract-{}", unique("")));
        store.create_table().await.expect("table created");
        store
    })
    .await;
}

#[tokio::test]
async fn the_aws_cloud_keeps_the_cloud_contract() {
    let h = Harness::with(Options { run_worker: false, ..Options::default() }).await;
    let infrastructure = Infrastructure {
        vpc_id: h.vpc_id.clone(),
        cidr_blocks: vec!["10.0.0.0/16".into()],
        ..contract::infrastructure("nonprod")
    };
    let tenant = contract::tenant(&unique("contract"), "nonprod", contract::T0);
    let boundary = Boundary::of(&tenant, &infrastructure, &h.app.settings.deployment);
    contract::cloud_contract(h.app.cloud.as_ref(), &boundary).await;
    h.stop().await;
}
