//! Log output on stderr, with promslog's keys so log pipelines built for
//! Prometheus's own components read it unchanged: `time`, `level`,
//! `source`, `msg`, then the event's fields. logfmt (`key=value`) or flat
//! JSON lines (`{"time":..,"level":..,"msg":..,"endpoint":..}`).

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// How each line is written. Logging's own type, so that it does not
/// depend on the command line (`--log.format` is turned into it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `key=value` pairs.
    Logfmt,
    /// One flat JSON object.
    Json,
}

/// Installs the global log subscriber (stderr) at `level`: `error`, `warn`,
/// `info`, `debug` (this exporter's events only) or `trace` (everything).
pub fn init(level: &str, format: Format) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // debug is this exporter's own events; other crates' debug (TLS, HTTP
    // client internals) belongs to trace, as promslog users expect.
    let directives = match level {
        "debug" => "info,gong_exporter=debug".to_owned(),
        other => other.to_owned(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(directives).unwrap_or_else(|_| "info".into());
    let result = tracing_subscriber::registry().with(filter).with(LineLayer { format }).try_init();
    if let Err(error) = result {
        eprintln!("warning: logging already initialised: {error}");
    }
}

/// Writes each event as one line.
struct LineLayer {
    format: Format,
}

impl<S: Subscriber> Layer<S> for LineLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        let source = match (metadata.file(), metadata.line()) {
            (Some(file), Some(line)) => format!("{}:{line}", file.rsplit('/').next().unwrap_or(file)),
            _ => metadata.target().to_owned(),
        };
        let time = jiff::Timestamp::now().round(jiff::Unit::Millisecond).unwrap_or_else(|_| jiff::Timestamp::now());
        let line = render(self.format, &time.to_string(), level_name(*metadata.level()), &source, &fields);
        // One write per line, so concurrent events never interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Level names as promslog writes them (slog's, upper case: Prometheus 3
/// logs `level=INFO`); slog has no trace level, so TRACE is this crate's.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// An event's message and other fields, in the order they were written.
#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, FieldValue)>,
}

enum FieldValue {
    Text(String),
    Number(String),
    Bool(bool),
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.pairs.push((field.name(), FieldValue::Text(text)));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.pairs.push((field.name(), FieldValue::Text(value.to_owned())));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pairs.push((field.name(), FieldValue::Number(value.to_string())));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pairs.push((field.name(), FieldValue::Number(value.to_string())));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        let number = if value.is_finite() { value.to_string() } else { format!("\"{value}\"") };
        self.pairs.push((field.name(), FieldValue::Number(number)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pairs.push((field.name(), FieldValue::Bool(value)));
    }
}

fn render(format: Format, time: &str, level: &str, source: &str, fields: &Fields) -> String {
    let mut line = String::with_capacity(128 + fields.message.len());
    match format {
        Format::Logfmt => {
            let _ = write!(line, "time={time} level={level} source={} msg={}", logfmt(source), logfmt(&fields.message));
            for (key, value) in &fields.pairs {
                let value = match value {
                    FieldValue::Text(text) => logfmt(text),
                    FieldValue::Number(number) => number.trim_matches('"').to_owned(),
                    FieldValue::Bool(flag) => flag.to_string(),
                };
                let _ = write!(line, " {key}={value}");
            }
        }
        Format::Json => {
            let json = |text: &str| serde_json::Value::from(text).to_string();
            let _ = write!(
                line,
                "{{\"time\":{},\"level\":{},\"source\":{},\"msg\":{}",
                json(time),
                json(level),
                json(source),
                json(&fields.message)
            );
            for (key, value) in &fields.pairs {
                let value = match value {
                    FieldValue::Text(text) => json(text),
                    FieldValue::Number(number) => number.clone(),
                    FieldValue::Bool(flag) => flag.to_string(),
                };
                let _ = write!(line, ",{}:{value}", json(key));
            }
            line.push('}');
        }
    }
    line.push('\n');
    line
}

/// A logfmt value: bare when it can be, else quoted with `"` and `\`
/// escaped and newlines as `\n`.
fn logfmt(value: &str) -> String {
    let bare = !value.is_empty() && value.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
    if bare {
        return value.to_owned();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            message: "endpoint failed this cycle; keeping \"the\" data".into(),
            pairs: vec![
                ("endpoint", FieldValue::Text("users".into())),
                ("error", FieldValue::Text("Gong said: a=b\nnext".into())),
                ("records", FieldValue::Number("12".into())),
                ("tls", FieldValue::Bool(false)),
            ],
        }
    }

    #[test]
    fn logfmt_lines_use_promslog_keys_and_quote_what_needs_it() {
        let line = render(Format::Logfmt, "2026-11-29T03:00:00Z", level_name(Level::WARN), "cycle.rs:70", &fields());
        assert_eq!(
            line,
            "time=2026-11-29T03:00:00Z level=WARN source=cycle.rs:70 msg=\"endpoint failed this cycle; keeping \\\"the\\\" data\" endpoint=users error=\"Gong said: a=b\\nnext\" records=12 tls=false\n"
        );
    }

    #[test]
    fn json_lines_are_flat_objects_with_promslog_keys() {
        let line = render(Format::Json, "2026-11-29T03:00:00Z", level_name(Level::WARN), "cycle.rs:70", &fields());
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["msg"], "endpoint failed this cycle; keeping \"the\" data");
        assert_eq!((value["level"].as_str(), value["time"].as_str()), (Some("WARN"), Some("2026-11-29T03:00:00Z")));
        assert_eq!((value["endpoint"].as_str(), value["records"].as_u64()), (Some("users"), Some(12)));
        assert_eq!(value["tls"], false);
        assert!(value.get("fields").is_none() && value.get("span").is_none(), "flat: {line}");
    }
}
