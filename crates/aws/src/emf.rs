//! The [`LifecycleMetrics`] port as CloudWatch Embedded Metric Format: one JSON object a
//! line on stdout, which Lambda sends to CloudWatch Logs, where CloudWatch extracts the
//! metrics (no PutMetricData call, no extra permission, no latency on the worker).
//!
//! Namespace `Tenancy`. Per step run, `StepDuration` (milliseconds) under the dimensions
//! `[Deployment, Operation, Step]` and `[Deployment, Operation, Step, TenantType]`; per
//! operation end, one of `TenantsCreated`, `TenantsUpdated`, `TenantsDeleted` or
//! `TenantsFailed` (count 1) under `[Deployment]` and `[Deployment, TenantType]`. The
//! tenant's name, the step's result and the failed step ride along as properties (for
//! Logs Insights), never as dimensions: a dimension per tenant would be a metric per tenant.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Value, json};
use tenancy_domain::metrics::{OperationReport, StepReport};
use tenancy_domain::ports::LifecycleMetrics;
use tenancy_domain::tenant::Operation;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Tenancy";

/// Writes EMF lines for one deployment.
pub struct EmfMetrics {
    deployment: String,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for EmfMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmfMetrics").field("deployment", &self.deployment).finish_non_exhaustive()
    }
}

impl EmfMetrics {
    /// Lines to stdout, as Lambda wants them.
    pub fn stdout(deployment: impl Into<String>) -> Self {
        Self::to_writer(deployment, Box::new(std::io::stdout()))
    }

    /// Lines to `out`.
    pub fn to_writer(deployment: impl Into<String>, out: Box<dyn Write + Send>) -> Self {
        Self { deployment: deployment.into(), out: Mutex::new(out) }
    }

    /// The line for one step run, stamped `timestamp_ms` (Unix milliseconds).
    pub fn step_line(&self, report: &StepReport, timestamp_ms: i64) -> Value {
        json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [
                        ["Deployment", "Operation", "Step"],
                        ["Deployment", "Operation", "Step", "TenantType"],
                    ],
                    "Metrics": [{ "Name": "StepDuration", "Unit": "Milliseconds" }],
                }],
            },
            "Deployment": self.deployment,
            "Operation": report.operation.as_str(),
            "Step": report.step.as_str(),
            "TenantType": report.tenant_type,
            "StepDuration": report.duration.as_micros() as f64 / 1000.0,
            "tenant": report.tenant,
            "result": report.result.as_str(),
        })
    }

    /// The line for one operation's end, stamped `timestamp_ms`.
    pub fn operation_line(&self, report: &OperationReport, timestamp_ms: i64) -> Value {
        let metric = match (report.failed_at, report.operation) {
            (Some(_), _) => "TenantsFailed",
            (None, Operation::Create) => "TenantsCreated",
            (None, Operation::Update) => "TenantsUpdated",
            (None, Operation::Delete) => "TenantsDeleted",
        };
        let mut line = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Deployment"], ["Deployment", "TenantType"]],
                    "Metrics": [{ "Name": metric, "Unit": "Count" }],
                }],
            },
            "Deployment": self.deployment,
            "TenantType": report.tenant_type,
            "operation": report.operation.as_str(),
            "tenant": report.tenant,
        });
        line[metric] = Value::from(1);
        if let Some(step) = report.failed_at {
            line["failedStep"] = Value::from(step.as_str());
        }
        line
    }

    /// Writes one line whole. A line that cannot be written is dropped: metrics never
    /// fail the work they describe.
    fn emit(&self, line: &Value) {
        let text = format!("{line}\n");
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl LifecycleMetrics for EmfMetrics {
    fn step_ran(&self, report: &StepReport) {
        self.emit(&self.step_line(report, now_ms()));
    }

    fn operation_ended(&self, report: &OperationReport) {
        self.emit(&self.operation_line(report, now_ms()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tenancy_domain::metrics::StepResult;
    use tenancy_domain::tenant::{ResourceKind, Step};

    use super::*;

    fn step_report() -> StepReport {
        StepReport {
            tenant: "dev".into(),
            tenant_type: "default".into(),
            operation: Operation::Create,
            step: Step::Resource(ResourceKind::Role),
            duration: Duration::from_micros(12_500),
            result: StepResult::Succeeded,
        }
    }

    #[test]
    fn a_step_line_is_the_embedded_metric_format_with_its_duration_in_milliseconds() {
        let line = EmfMetrics::stdout("prod").step_line(&step_report(), 1_800_000_000_123);
        assert_eq!(
            line,
            json!({
                "_aws": {
                    "Timestamp": 1_800_000_000_123_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Tenancy",
                        "Dimensions": [
                            ["Deployment", "Operation", "Step"],
                            ["Deployment", "Operation", "Step", "TenantType"]
                        ],
                        "Metrics": [{ "Name": "StepDuration", "Unit": "Milliseconds" }]
                    }]
                },
                "Deployment": "prod", "Operation": "create", "Step": "role", "TenantType": "default",
                "StepDuration": 12.5, "tenant": "dev", "result": "succeeded"
            })
        );
    }

    #[test]
    fn an_operation_line_counts_the_created_deleted_or_failed_tenant() {
        let metrics = EmfMetrics::stdout("prod");
        let mut report = OperationReport {
            tenant: "lab".into(),
            tenant_type: "data-science".into(),
            operation: Operation::Create,
            failed_at: None,
        };
        let created = metrics.operation_line(&report, 7);
        assert_eq!(
            created,
            json!({
                "_aws": {
                    "Timestamp": 7,
                    "CloudWatchMetrics": [{
                        "Namespace": "Tenancy",
                        "Dimensions": [["Deployment"], ["Deployment", "TenantType"]],
                        "Metrics": [{ "Name": "TenantsCreated", "Unit": "Count" }]
                    }]
                },
                "Deployment": "prod", "TenantType": "data-science", "operation": "create", "tenant": "lab",
                "TenantsCreated": 1
            })
        );
        report.operation = Operation::Delete;
        assert_eq!(metrics.operation_line(&report, 7)["TenantsDeleted"], 1);
        report.failed_at = Some(Step::Resource(ResourceKind::Key));
        let failed = metrics.operation_line(&report, 7);
        assert_eq!(failed["TenantsFailed"], 1);
        assert_eq!(failed["failedStep"], "key");
        assert_eq!(failed["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "TenantsFailed");
    }

    /// Every metric a directive names is a number at the top level, and every dimension a
    /// string there: what CloudWatch needs to extract it.
    #[test]
    fn each_line_is_written_whole_on_one_line_and_names_only_values_it_carries() {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let metrics = EmfMetrics::to_writer("local", Box::new(buffer.clone()));
        metrics.step_ran(&step_report());
        metrics.operation_ended(&OperationReport {
            tenant: "dev".into(),
            tenant_type: "default".into(),
            operation: Operation::Create,
            failed_at: None,
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        for line in lines {
            assert!(line["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
            for directive in line["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
                for metric in directive["Metrics"].as_array().unwrap() {
                    assert!(line[metric["Name"].as_str().unwrap()].is_number(), "{line}");
                }
                for set in directive["Dimensions"].as_array().unwrap() {
                    for dimension in set.as_array().unwrap() {
                        assert!(line[dimension.as_str().unwrap()].is_string(), "{line}");
                    }
                }
            }
        }
    }
}
