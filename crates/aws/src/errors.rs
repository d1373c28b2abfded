//! Turning SDK errors into the words a person reads in a tenant's status.

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use tenancy_domain::ports::CloudError;

/// The error code of an SDK error, when the service sent one.
pub fn code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// `<operation>: <code>: <message>`, with the whole error chain when the service said nothing.
pub fn cloud_error<E>(operation: &str, error: SdkError<E, HttpResponse>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let said = match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            Some(match err.code() {
                Some(code) => format!("{code}: {}", err.message().unwrap_or("no message")),
                None => {
                    let raw = service.raw();
                    let body = raw.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
                    let body: String = body.chars().take(200).collect();
                    format!("HTTP {} without an error code: {body}", raw.status().as_u16())
                }
            })
        }
        _ => None,
    };
    CloudError(format!("{operation}: {}", said.unwrap_or_else(|| DisplayErrorContext(&error).to_string())))
}
