//! Waiting for the lifecycle: polls the tenant, reports each step as it changes, and ends
//! when the tenant is no longer changing.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tenancy_domain::tenant::TenantState;
use tenancy_domain::views::TenantView;
use tokio::time::Instant;

use crate::client::{Client, Failure};
use crate::render::json_name;

/// How often the tenant is read. The lifecycle takes seconds per step; a person watching
/// wants to see a step soon after it happens, and the API is not strained by one read a
/// second.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// What a wait ends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Whatever the operation under way ends in (`active` or `deleted`).
    Settled,
    /// `deleted` (a tenant that is gone altogether counts).
    Deleted,
}

/// What the watcher has already reported.
#[derive(Default)]
struct Seen {
    state: Option<TenantState>,
    steps: BTreeMap<String, (bool, String)>,
    retrying: Option<(String, String)>,
}

impl Seen {
    /// The lines that tell what changed since the last look.
    fn changes(&mut self, tenant: &TenantView) -> Vec<String> {
        let mut lines = Vec::new();
        // The state first while the work goes on, last once it is done, so that the lines
        // read in the order things happened.
        let state_changed = self.state != Some(tenant.state);
        let state_line = format!("tenant {} is {}", tenant.name, tenant.state);
        if state_changed && tenant.state.is_transitional() {
            lines.push(state_line.clone());
        }
        for resource in &tenant.resources {
            let now = (resource.ready, resource.reason.clone());
            if self.steps.get(resource.kind.as_str()) != Some(&now) {
                // Deletion's steps are done when their resource is gone.
                let mark = if resource.ready || resource.reason == "Deleted" { "✓" } else { "…" };
                let mut line = format!("  {mark} {:<16} {}", resource.kind.as_str(), resource.reason);
                if let Some(id) = &resource.id {
                    line.push_str(&format!(" ({id})"));
                }
                if let Some(message) = &resource.message {
                    line.push_str(&format!(": {message}"));
                }
                lines.push(line);
                self.steps.insert(resource.kind.as_str().to_string(), now);
            }
        }
        let retrying = tenant.retrying.as_ref().map(|r| (r.step.to_string(), r.error.clone()));
        if retrying != self.retrying {
            if let Some((step, error)) = &retrying {
                lines.push(format!("  ↻ {step:<16} will be tried again: {error}"));
            }
            self.retrying = retrying;
        }
        if state_changed && !tenant.state.is_transitional() {
            lines.push(state_line);
        }
        self.state = Some(tenant.state);
        lines
    }
}

/// Waits until tenant `name` settles (or, for [`Goal::Deleted`], is deleted), writing a
/// line to `err` for each state and step as it changes; a bar is drawn on the terminal
/// when standard error is one. Returns the tenant as it ended, typed and as the API sent
/// it (`None` when it is gone).
pub async fn wait(
    client: &Client,
    name: &str,
    goal: Goal,
    timeout: Duration,
    err: &mut dyn Write,
) -> Result<Option<(TenantView, serde_json::Value)>, Failure> {
    let deadline = Instant::now() + timeout;
    // Drawn only on a terminal: indicatif hides itself when standard error is not one,
    // and the step lines below are what logs and tests read.
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut seen = Seen::default();
    let outcome = loop {
        let (tenant, body) = match client.get(&format!("/v1/tenants/{}", encode(name)), &[]).await {
            Ok(answer) => (answer.parse::<TenantView>()?, answer.body),
            Err(Failure::Api { status: 404, .. }) if goal == Goal::Deleted && seen.state.is_some() => break Ok(None),
            Err(failure) => break Err(failure),
        };
        for line in seen.changes(&tenant) {
            bar.suspend(|| writeln!(err, "{line}")).ok();
        }
        let ready = tenant.resources.iter().filter(|r| r.ready).count() as u64;
        bar.set_length(tenant.resources.len() as u64);
        bar.set_position(if tenant.state == TenantState::Deleting {
            tenant.resources.len() as u64 - ready
        } else {
            ready
        });
        bar.set_message(format!("{} {}", tenant.name, tenant.state));
        match tenant.state {
            TenantState::Failed => {
                let failure = tenant.failure.clone();
                break Err(Failure::TenantFailed {
                    name: name.to_string(),
                    operation: failure.as_ref().map(|f| json_name(&f.operation)).unwrap_or_else(|| "finish".into()),
                    step: failure.as_ref().map(|f| f.step.to_string()).unwrap_or_else(|| "?".into()),
                    error: failure.map(|f| f.error).unwrap_or_else(|| "the API gave no reason".into()),
                });
            }
            TenantState::Deleted => break Ok(Some((tenant, body))),
            TenantState::Active if goal == Goal::Settled => break Ok(Some((tenant, body))),
            state => {
                if Instant::now() >= deadline {
                    break Err(Failure::WaitTimedOut {
                        name: name.to_string(),
                        state: state.to_string(),
                        seconds: timeout.as_secs(),
                    });
                }
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    };
    bar.finish_and_clear();
    outcome
}

/// A path segment, percent-encoded: a name is never trusted to be URL-safe.
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tenant(state: &str, role: (bool, &str)) -> TenantView {
        serde_json::from_value(json!({
            "id": "6f1c1e0e-8a5e-4b8a-9d8e-1f2a3b4c5d6e", "name": "payments", "infrastructure": "shared-1",
            "environment": "nonprod", "type": "default", "state": state,
            "resources": [
                { "kind": "securityGroup", "id": "sg-1", "ready": true, "reason": "Created", "lastTransitionTime": "2026-01-01T00:00:00Z" },
                { "kind": "role", "ready": role.0, "reason": role.1, "lastTransitionTime": "2026-01-01T00:00:00Z" }
            ],
            "requestedBy": { "id": "anna", "via": "api", "at": "2026-01-01T00:00:00Z" },
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z", "version": 1
        }))
        .unwrap()
    }

    #[test]
    fn each_step_is_reported_once_when_it_changes() {
        let mut seen = Seen::default();
        let first = seen.changes(&tenant("provisioning", (false, "Pending")));
        assert_eq!(first.len(), 3, "{first:?}");
        assert!(first[0].contains("is provisioning"));
        assert!(seen.changes(&tenant("provisioning", (false, "Pending"))).is_empty());
        let next = seen.changes(&tenant("active", (true, "Created")));
        assert_eq!(next.len(), 2, "{next:?}");
        assert!(next[0].contains("✓ role"), "{next:?}");
        assert!(next[1].contains("is active"), "the end comes last: {next:?}");
    }

    #[test]
    fn names_are_encoded_as_one_segment() {
        assert_eq!(encode("payments"), "payments");
        assert_eq!(encode("a/../b c"), "a%2F..%2Fb%20c");
    }
}
