//! Logging: one JSON object a line in Lambda (CloudWatch Logs Insights reads its fields
//! without parsing), plain text elsewhere.
//!
//! Each JSON line carries, at its top level, the fields of every span it was logged in,
//! outermost first, then its own: the entry points open a span per request or event
//! (`request_id`, and for the lifecycle function `event_id` and `detail_type`), the worker
//! one per tenant run (`tenant`, `operation`) and one per step (`step`), so every line
//! says which request, tenant and step it is about. tracing-subscriber's own JSON format
//! nests span fields under `span`/`spans`, which Logs Insights can only reach by index;
//! flat keys are queried as `fields request_id, tenant, step`.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Starts logging: flat JSON lines in Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), plain text
/// elsewhere. The level comes from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        json_subscriber(std::io::stdout).with_env_filter(filter).try_init()
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init()
    };
    // Already initialised (several entry points in one test process) is fine.
    let _ = result;
}

/// The JSON subscriber's builder, writing to `writer` (stdout in Lambda; a buffer in tests).
pub fn json_subscriber<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<JsonFields, FlatJson, tracing::level_filters::LevelFilter, W>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt().fmt_fields(JsonFields::new()).event_format(FlatJson).with_writer(writer)
}

/// The event format: `level`, the fields of the spans around the event (outer first; an
/// inner span's field of the same name wins), then the event's own fields and `message`.
/// Lambda stamps each line with its time, so the line carries none.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut line = Map::new();
        line.insert("level".into(), Value::from(event.metadata().level().as_str()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                // With JsonFields, a span's recorded fields are kept as one JSON object.
                let Some(fields) = extensions.get::<FormattedFields<N>>() else { continue };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&fields.fields) {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields into the line, each as the JSON type closest to it.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn every_line_is_one_json_object_with_the_fields_of_its_spans_at_the_top() {
        let captured = Captured::default();
        let subscriber = json_subscriber(captured.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("invocation", request_id = "c6af9ac6-7b61", event_id = "e-1");
            let _request = request.enter();
            tracing::info!("outside any tenant");
            let tenant = tracing::info_span!("tenant", tenant = "dev", operation = "create");
            let _tenant = tenant.enter();
            let step = tracing::info_span!("step", step = "role");
            let _step = step.enter();
            tracing::warn!(attempt = 2_u32, retried = true, error = %"throttled", "passing fault");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(
            lines[0],
            serde_json::json!({
                "level": "INFO", "request_id": "c6af9ac6-7b61", "event_id": "e-1", "message": "outside any tenant"
            })
        );
        assert_eq!(
            lines[1],
            serde_json::json!({
                "level": "WARN", "request_id": "c6af9ac6-7b61", "event_id": "e-1", "tenant": "dev",
                "operation": "create", "step": "role", "attempt": 2, "retried": true, "error": "throttled",
                "message": "passing fault"
            })
        );
    }
}
