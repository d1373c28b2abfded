//! Hello, world, as a Lambda function on a current-thread tokio runtime, the one the API and
//! lifecycle functions use: `scripts/coldstart.sh` reports it beside `hello-lambda` (the
//! runtime's documented `#[tokio::main]`), so that the cost of that choice is visible.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "statusCode": 200, "body": "{\"status\":\"ok\"}" }))
    }))
    .await
}
