//! Fault injection: make the simulator fail the way Gong sometimes does.
//!
//! A rule hits requests to one path (or every path) starting at the Nth
//! matching request, for a number of requests or for good. Rules load from a
//! JSON file (`gong-exporter simulate --faults FILE`) or are added by tests.

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

/// What a hit request gets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// An error status with Gong's error body, and `Retry-After` if given
    /// (a spent daily quota is a 429 with a Retry-After of hours).
    Status { status: u16, retry_after_seconds: Option<u64> },
    /// A 200 whose body is not valid JSON.
    Malformed,
    /// A 200 with valid JSON of the wrong shape.
    WrongShape,
    /// Waits this long before answering normally (past the client timeout,
    /// this is a hang).
    Delay { millis: u64 },
    /// A normal answer whose first `records` records carry `null` where
    /// their ID belongs (`userId`, `id`, `scorecardId`, a coaching report's
    /// `id`): connectors that read the real Gong type these as nullable.
    NullIds { records: u64 },
    /// A redirect (`status` 301, 302, 307 or 308) to `location`, as a proxy
    /// or a wrong base URL answers.
    Redirect { status: u16, location: String },
    /// A 200 whose JSON body is `bytes` long (padded with whitespace), sent
    /// in chunks without a `Content-Length`.
    Oversized { bytes: u64 },
    /// A 200 whose body never ends.
    Endless,
    /// A normal first page whose cursor never ends: a new one every page,
    /// or (`alternate`) two that take turns, A, B, A, B; with
    /// `without_total`, no page announces `totalRecords`.
    EndlessCursor {
        alternate: bool,
        #[serde(default)]
        without_total: bool,
    },
    /// The page starts `records` records before where its cursor points,
    /// so the last records of the page before come again (as when users
    /// are added while a client pages).
    RepeatRecords { records: u64 },
    /// The label text (an email address, a scorecard's name) of the first
    /// `records` records (one when not given) is `bytes` long.
    LongLabel {
        bytes: u64,
        #[serde(default = "one")]
        records: u64,
    },
    /// The first `records` records carry their numbers (activity counts,
    /// interaction values, scores) in another `form`.
    Numbers { records: u64, form: NumberForm },
    /// Day-by-day entries dated `days` days off the days asked (their
    /// `fromDate`/`toDate` moved), as an answer computed for another range
    /// or in another zone reads. No recorded Gong answer shows it; the
    /// client checks each entry's own dates because the reference gives
    /// them, and this is what that check is for.
    DaysOff { days: i64 },
    /// A `Retry-After` sent as an HTTP-date this many seconds from now,
    /// with `status`. Gong documents whole seconds; RFC 9110 allows either
    /// form, and a proxy in front of Gong may send a date.
    RetryAfterDate { status: u16, seconds: i64 },
}

/// How [`Fault::Numbers`] writes a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberForm {
    /// `"12"` for 12.
    DigitString,
    /// `-12` for 12 (`-1` for 0).
    Negative,
    /// `"n/a"`.
    Text,
}

impl NumberForm {
    /// `value` (a JSON number) in this form.
    pub fn apply(self, value: &serde_json::Value) -> serde_json::Value {
        let Some(n) = value.as_f64() else { return value.clone() };
        match self {
            Self::DigitString => serde_json::Value::String(value.to_string()),
            Self::Negative => serde_json::json!(if n == 0.0 { -1.0 } else { -n }),
            Self::Text => serde_json::Value::String("n/a".to_owned()),
        }
    }
}

/// A body of whitespace after `head`: `left` bytes of it then `tail`, or
/// (with `left` `None`) for ever. JSON allows whitespace between tokens, so
/// a finite one is valid JSON.
pub struct Padding {
    head: Option<axum::body::Bytes>,
    left: Option<u64>,
    tail: Option<axum::body::Bytes>,
}

/// One chunk of padding.
const PADDING_CHUNK: usize = 64 * 1024;

impl Padding {
    /// `head`, whitespace up to `total` bytes in all, then `tail`.
    pub fn sized(head: String, tail: &'static str, total: u64) -> Self {
        let left = total.saturating_sub((head.len() + tail.len()) as u64);
        Self { head: Some(head.into()), left: Some(left), tail: Some(tail.into()) }
    }

    /// `head`, then whitespace for ever.
    pub fn endless(head: String) -> Self {
        Self { head: Some(head.into()), left: None, tail: None }
    }
}

impl http_body::Body for Padding {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        static SPACES: [u8; PADDING_CHUNK] = [b' '; PADDING_CHUNK];
        let this = self.get_mut();
        let chunk = if let Some(head) = this.head.take() {
            Some(head)
        } else {
            match &mut this.left {
                Some(0) => this.tail.take(),
                Some(left) => {
                    let n = (*left).min(PADDING_CHUNK as u64);
                    *left -= n;
                    Some(axum::body::Bytes::from_static(&SPACES[..n as usize]))
                }
                None => Some(axum::body::Bytes::from_static(&SPACES)),
            }
        };
        std::task::Poll::Ready(chunk.map(|c| Ok(http_body::Frame::data(c))))
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Path such as `/v2/users`; absent means every path.
    #[serde(default)]
    pub path: Option<String>,
    /// First matching request (1-based) that is hit.
    #[serde(default = "one")]
    pub from_request: u64,
    /// How many matching requests are hit; absent means all from then on.
    #[serde(default)]
    pub times: Option<u64>,
    pub fault: Fault,
}

fn one() -> u64 {
    1
}

impl FaultRule {
    /// A rule hitting every request to `path` from the first on.
    pub fn always(path: Option<&str>, fault: Fault) -> Self {
        Self { path: path.map(str::to_owned), from_request: 1, times: None, fault }
    }

    /// A rule hitting only the `n`th request (1-based) to `path`.
    pub fn nth(path: Option<&str>, n: u64, fault: Fault) -> Self {
        Self { path: path.map(str::to_owned), from_request: n, times: Some(1), fault }
    }
}

/// Active rules and how many matching requests each has seen.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<(FaultRule, u64)>>,
}

impl Faults {
    /// Parses a JSON array of rules.
    pub fn parse(json: &str) -> Result<Vec<FaultRule>, String> {
        serde_json::from_str(json).map_err(|e| format!("fault rules: {e}"))
    }

    /// Adds a rule.
    pub fn add(&self, rule: FaultRule) {
        self.rules.lock().expect("faults lock").push((rule, 0));
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.rules.lock().expect("faults lock").clear();
    }

    /// The fault for this request to `path`, if a rule hits it. Every
    /// matching rule counts the request; the first one that hits wins.
    pub fn next(&self, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().expect("faults lock");
        let mut hit = None;
        for (rule, seen) in rules.iter_mut() {
            if rule.path.as_deref().is_some_and(|p| p != path) {
                continue;
            }
            *seen += 1;
            let after_start = *seen >= rule.from_request;
            let within = rule.times.is_none_or(|t| *seen < rule.from_request + t);
            if hit.is_none() && after_start && within {
                hit = Some(rule.fault.clone());
            }
        }
        hit
    }
}

impl Fault {
    /// The delay of a `Delay` fault.
    pub fn delay(&self) -> Option<Duration> {
        match self {
            Self::Delay { millis } => Some(Duration::from_millis(*millis)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_and_from_nth_rules() {
        let faults = Faults::default();
        faults.add(FaultRule::nth(Some("/a"), 2, Fault::Malformed));
        faults.add(FaultRule { path: None, from_request: 4, times: None, fault: Fault::Delay { millis: 5 } });
        let hits: Vec<_> = (0..5).map(|_| faults.next("/a")).collect();
        assert_eq!(
            hits,
            [None, Some(Fault::Malformed), None, Some(Fault::Delay { millis: 5 }), Some(Fault::Delay { millis: 5 })]
        );
        assert_eq!(faults.next("/b"), Some(Fault::Delay { millis: 5 }), "the global rule counts /b too");
    }

    #[test]
    fn padding_is_exactly_as_long_as_asked_and_valid_json() {
        use http_body_util::BodyExt as _;
        let body = Padding::sized("{\"requestId\":\"x\"".to_owned(), "}", 200_000);
        let bytes = block_on(body.collect()).expect("padding never fails").to_bytes();
        assert_eq!(bytes.len(), 200_000);
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parsed["requestId"], "x");
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn number_forms() {
        let twelve = serde_json::json!(12);
        assert_eq!(NumberForm::DigitString.apply(&twelve), serde_json::json!("12"));
        assert_eq!(NumberForm::Negative.apply(&twelve), serde_json::json!(-12.0));
        assert_eq!(NumberForm::Negative.apply(&serde_json::json!(0)), serde_json::json!(-1.0));
        assert_eq!(NumberForm::Text.apply(&twelve), serde_json::json!("n/a"));
        assert_eq!(NumberForm::Text.apply(&serde_json::Value::Null), serde_json::Value::Null, "null stays null");
    }

    #[test]
    fn rules_parse_from_json_and_reject_typos() {
        let rules = Faults::parse(
            r#"[{"path":"/v2/users","from_request":2,"times":3,"fault":{"kind":"status","status":500,"retry_after_seconds":null}},
                {"fault":{"kind":"status","status":429,"retry_after_seconds":7200}}]"#,
        )
        .unwrap();
        assert_eq!(rules[1].fault, Fault::Status { status: 429, retry_after_seconds: Some(7200) });
        assert!(Faults::parse(r#"[{"fault":{"kind":"status","statuss":500}}]"#).is_err());
    }
}
