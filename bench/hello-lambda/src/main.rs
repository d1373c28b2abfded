//! Hello, world, as a Lambda function: the runtime client, one handler, nothing else. What
//! `scripts/coldstart.sh` compares the API and lifecycle functions with.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "statusCode": 200, "body": "{\"status\":\"ok\"}" }))
    }))
    .await
}
