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
