//! Turning SDK errors into the words a person reads in a tenant's status, and telling a
//! passing fault (retried) from a permanent one (which fails the tenant).

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use tenancy_domain::ports::errors::CloudError;

/// The error code of an SDK error, when the service sent one.
pub fn code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// Codes AWS services send when they throttle a caller. IAM says `Throttling`, EC2
/// `RequestLimitExceeded`, KMS and most JSON services `ThrottlingException`, S3 `SlowDown`.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "EC2ThrottledException",
    "ProvisionedThroughputExceededException",
    "PriorRequestNotComplete",
];

/// Codes that mean "not now" rather than "never": the service failed inside, or the
/// entity a call needs is not visible yet right after its creation (IAM, EC2 and KMS are
/// eventually consistent), or a change is still in flight. A resource that stays in one
/// of these states is bounded by the lifecycle's retry deadline, which then fails it.
const PASSING: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "KMSInternalException",
    "DependencyTimeoutException",
    "RequestTimeout",
    "RequestTimeoutException",
    "IDPCommunicationError",
    "ConcurrentModification",
    "ConcurrentModificationException",
    "OperationAborted",
    // Eventual consistency: visible to one endpoint, not yet to the next.
    "NoSuchEntity",
    "InvalidGroup.NotFound",
    "InvalidGroupId.NotFound",
    "NotFoundException",
    "NoSuchBucket",
    // A security group still attached to a network interface that is going away.
    "DependencyViolation",
];

/// True when the error is a fault that passes: throttling, a 5xx, a time-out, a dropped
/// connection, or one of the [`PASSING`] codes.
pub fn is_transient<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            status >= 500 || status == 429 || THROTTLING.contains(&code) || PASSING.contains(&code)
        }
        _ => false,
    }
}

/// `<operation>: <code>: <message>`, with the whole error chain when the service said
/// nothing, classified as passing or permanent.
pub fn cloud_error<E>(operation: &str, error: SdkError<E, HttpResponse>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = is_transient(&error);
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
    let message = format!("{operation}: {}", said.unwrap_or_else(|| DisplayErrorContext(&error).to_string()));
    CloudError { message, transient }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::create_role::CreateRoleError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn answered(status: u16, code: &str) -> SdkError<CreateRoleError, HttpResponse> {
        let error = CreateRoleError::generic(ErrorMetadata::builder().code(code).message("said the service").build());
        let raw = Response::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(error, raw)
    }

    #[test]
    fn throttling_server_faults_and_eventual_consistency_are_passing_faults() {
        let passing = [
            (400, "Throttling"),
            (503, "RequestLimitExceeded"),
            (400, "ThrottlingException"),
            (503, "SlowDown"),
            (500, "InternalFailure"),
            (500, "AnythingAtAll"),
            (429, "TooManyRequestsException"),
            (404, "NoSuchEntity"),
            (400, "InvalidGroup.NotFound"),
            (400, "DependencyViolation"),
            (409, "ConcurrentModification"),
        ];
        for (status, code) in passing {
            let error = cloud_error("CreateRole", answered(status, code));
            assert!(error.transient, "{status} {code}");
            assert_eq!(error.message, format!("CreateRole: {code}: said the service"));
        }
        let timeout: SdkError<CreateRoleError, HttpResponse> = SdkError::timeout_error("no answer in time");
        assert!(cloud_error("CreateRole", timeout).transient);
    }

    #[test]
    fn refusals_are_permanent() {
        for (status, code) in [
            (403, "AccessDenied"),
            (400, "MalformedPolicyDocument"),
            (409, "LimitExceeded"),
            (400, "ValidationError"),
            (400, "InvalidParameterValue"),
        ] {
            assert!(!cloud_error("CreateRole", answered(status, code)).transient, "{status} {code}");
        }
    }
}
