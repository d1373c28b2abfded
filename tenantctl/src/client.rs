//! The HTTP API, as tenantctl calls it: one request at a time, with a timeout, the bearer
//! token, and every way it can go wrong turned into a [`Failure`] with its exit code.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tenancy_domain::views::ProblemBody;

/// Exit codes, as `--help` and the README list them.
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// An answer tenantctl could not read, or a local problem.
    pub const LOCAL: u8 = 1;
    /// A command, flag or value is wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// The API refused the request (4xx).
    pub const REFUSED: u8 = 3;
    /// The API failed (5xx).
    pub const SERVER: u8 = 4;
    /// The API could not be reached or did not answer in time.
    pub const UNREACHABLE: u8 = 5;
    /// A tenant waited for failed.
    pub const TENANT_FAILED: u8 = 6;
    /// A wait ran out of time while the tenant was still changing.
    pub const WAIT_TIMED_OUT: u8 = 7;
}

/// Why a command did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The API answered with an error (its problem document, or one made from the status
    /// when the body was not one).
    Api {
        /// The status.
        status: u16,
        /// What it said.
        problem: ProblemBody,
    },
    /// No answer: the connection failed or the request timed out.
    Unreachable(String),
    /// An answer that is not what the API answers (not JSON, or another shape).
    Unreadable(String),
    /// A local problem (the environment, the terminal).
    Local(String),
    /// The tenant's operation failed.
    TenantFailed {
        /// The tenant.
        name: String,
        /// The operation.
        operation: String,
        /// The step that failed.
        step: String,
        /// The cloud's error.
        error: String,
    },
    /// The tenant was still changing when the wait ran out.
    WaitTimedOut {
        /// The tenant.
        name: String,
        /// Its state then.
        state: String,
        /// How long was waited, in seconds.
        seconds: u64,
    },
}

impl Failure {
    /// The process's exit code for it.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Api { status, .. } if *status >= 500 => exit::SERVER,
            Self::Api { .. } => exit::REFUSED,
            Self::Unreachable(_) => exit::UNREACHABLE,
            Self::Unreadable(_) | Self::Local(_) => exit::LOCAL,
            Self::TenantFailed { .. } => exit::TENANT_FAILED,
            Self::WaitTimedOut { .. } => exit::WAIT_TIMED_OUT,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api { status, problem } => {
                let title = if problem.title.is_empty() { "The API refused the request" } else { &problem.title };
                write!(f, "error: {title} ({status})")?;
                if !problem.detail.is_empty() {
                    write!(f, "\n  {}", problem.detail)?;
                }
                if *status == 401 {
                    write!(f, "\n  hint: pass --token or set TENANCY_TOKEN (locally: tenantctl dev token --admin)")?;
                }
                Ok(())
            }
            Self::Unreachable(why) => write!(f, "error: the API could not be reached: {why}"),
            Self::Unreadable(why) => write!(f, "error: the API's answer could not be read: {why}"),
            Self::Local(why) => write!(f, "error: {why}"),
            Self::TenantFailed { name, operation, step, error } => {
                write!(f, "error: tenant '{name}' failed to {operation} at step '{step}'\n  {error}")?;
                write!(f, "\n  hint: fix the cause, then `tenantctl tenant retry {name} --wait`, or delete it")
            }
            Self::WaitTimedOut { name, state, seconds } => write!(
                f,
                "error: tenant '{name}' is still {state} after {seconds} s\n  hint: `tenantctl tenant wait {name}` waits again"
            ),
        }
    }
}

/// One answer of the API.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body as JSON (`Null` when empty).
    pub body: Value,
}

impl Answer {
    /// The body as `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        T::deserialize(&self.body).map_err(|e| Failure::Unreadable(format!("{e} (is tenantctl older than the API?)")))
    }
}

/// A client of one API.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of the API at `base` (`http://host:port`), sending `token`, giving each
    /// request `timeout`.
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Result<Self, Failure> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("tenantctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Local(format!("cannot set up HTTP: {e}")))?;
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::Local(format!("the API URL '{base}' must start with http:// or https://")));
        }
        Ok(Self { http, base, token: token.filter(|t| !t.trim().is_empty()) })
    }

    /// `GET path?query`.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Answer, Failure> {
        self.send(Method::GET, path, query, None::<&()>, &[]).await
    }

    /// Sends a request; a non-2xx answer is a [`Failure::Api`].
    pub async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        headers: &[(HeaderName, String)],
    ) -> Result<Answer, Failure> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.trim());
        }
        for (name, value) in headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| Failure::Local(format!("'{value}' cannot be sent as the {name} header")))?;
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| Failure::Unreachable(describe(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| Failure::Unreachable(describe(&e)))?;
        if !status.is_success() {
            return Err(Failure::Api { status: status.as_u16(), problem: problem(status, &bytes) });
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| Failure::Unreadable(format!("not JSON: {e}")))?
        };
        Ok(Answer { status, headers, body })
    }
}

/// The problem an error answer carries, or one made from its status when it carries none
/// (a proxy's HTML page, an empty body).
fn problem(status: StatusCode, body: &[u8]) -> ProblemBody {
    match serde_json::from_slice::<ProblemBody>(body) {
        Ok(problem) if !problem.title.is_empty() => problem,
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().filter(|c| !c.is_control()).take(200).collect();
            ProblemBody {
                kind: String::new(),
                title: status.canonical_reason().unwrap_or("Error").to_string(),
                status: status.as_u16(),
                detail: text,
                extra: Default::default(),
            }
        }
    }
}

/// A transport error in a person's words: reqwest's own text, with what caused it (the
/// top-level message alone often says only "error sending request").
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() { "the request timed out".to_string() } else { error.to_string() };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_own_exit_code() {
        let api = |status| Failure::Api { status, problem: problem(StatusCode::from_u16(status).unwrap(), b"") };
        assert_eq!(api(404).exit_code(), exit::REFUSED);
        assert_eq!(api(409).exit_code(), exit::REFUSED);
        assert_eq!(api(500).exit_code(), exit::SERVER);
        assert_eq!(api(503).exit_code(), exit::SERVER);
        assert_eq!(Failure::Unreachable("refused".into()).exit_code(), exit::UNREACHABLE);
        let failed = Failure::TenantFailed {
            name: "t".into(),
            operation: "create".into(),
            step: "role".into(),
            error: "no".into(),
        };
        assert_eq!(failed.exit_code(), exit::TENANT_FAILED);
        let codes = [
            exit::OK,
            exit::LOCAL,
            exit::USAGE,
            exit::REFUSED,
            exit::SERVER,
            exit::UNREACHABLE,
            exit::TENANT_FAILED,
            exit::WAIT_TIMED_OUT,
        ];
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), codes.len());
    }

    #[test]
    fn a_problem_document_prints_its_title_and_detail() {
        let body =
            br#"{"type":"urn:tenancy:problem:not-found","title":"Not found","status":404,"detail":"no tenant 'x'"}"#;
        let failure = Failure::Api { status: 404, problem: problem(StatusCode::NOT_FOUND, body) };
        assert_eq!(failure.to_string(), "error: Not found (404)\n  no tenant 'x'");
    }

    #[test]
    fn an_answer_that_is_no_problem_document_still_prints_plainly() {
        let failure = Failure::Api {
            status: 502,
            problem: problem(StatusCode::BAD_GATEWAY, b"<html>\n<body>Bad gateway</body></html>"),
        };
        let text = failure.to_string();
        assert!(text.starts_with("error: Bad Gateway (502)\n  <html>"), "{text}");
        assert!(!text.contains("ProblemBody"), "no Debug output: {text}");
    }

    #[test]
    fn a_refused_token_comes_with_a_hint() {
        let body = br#"{"title":"Authentication required","status":401,"detail":"send a bearer token"}"#;
        let failure = Failure::Api { status: 401, problem: problem(StatusCode::UNAUTHORIZED, body) };
        assert!(failure.to_string().contains("TENANCY_TOKEN"));
    }
}
