//! Turning SDK errors into the words a person reads in a tenant's status.

use std::fmt::Debug;

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tenancy_domain::ports::CloudError;

/// The error code of an SDK error, when the service sent one.
pub fn code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// `<operation>: <code>: <message>`, with the whole error chain when the service said nothing.
pub fn cloud_error<E, R>(operation: &str, error: SdkError<E, R>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let said = match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            err.code().map(|code| format!("{code}: {}", err.message().unwrap_or("no message")))
        }
        _ => None,
    };
    CloudError(format!("{operation}: {}", said.unwrap_or_else(|| DisplayErrorContext(&error).to_string())))
}
