//! What the worker reports about provisioning, for dashboards and alarms: how each step
//! went and how long it took, and how each operation ended. The [`LifecycleMetrics`] port
//! receives the reports; the adapter decides the format (CloudWatch's Embedded Metric
//! Format in Lambda, nothing locally, a recording in tests).

use std::time::Duration;

use crate::tenant::{Operation, Step};

/// How one run of a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// It made (or removed) what it had to.
    Succeeded,
    /// It failed for good; the tenant is failed at this step.
    Failed,
    /// A passing fault; it will be tried again.
    Retrying,
}

impl StepResult {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Retrying => "retrying",
        }
    }
}

/// One run of one step for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// The tenant.
    pub tenant: String,
    /// Its type (`default` or a plugin's).
    pub tenant_type: String,
    /// The operation the step was part of.
    pub operation: Operation,
    /// The step.
    pub step: Step,
    /// How long it ran (monotonic time, retries within the run not included).
    pub duration: Duration,
    /// How it went.
    pub result: StepResult,
}

/// An operation that reached its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationReport {
    /// The tenant.
    pub tenant: String,
    /// Its type.
    pub tenant_type: String,
    /// The operation.
    pub operation: Operation,
    /// `None` when it succeeded; the step that failed it otherwise.
    pub failed_at: Option<Step>,
}
