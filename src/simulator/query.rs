//! What a request asks for: its body parsed once, its cursor found, and its
//! filter or query parameters validated as Gong validates them (400 with
//! Gong's message otherwise).

use std::collections::{BTreeSet, HashMap};

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde_json::Value;

use super::render::Reject;
use crate::endpoint::Endpoint;

/// What a missing filter reads as.
static NO_FILTER: Value = Value::Null;

/// One request as received, read once.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) endpoint: Endpoint,
    /// A POST's body: its JSON, or why it is not JSON (answered with 400
    /// once auth and the rate limit let the request through).
    pub(super) body: Option<Result<Value, String>>,
    /// A GET's query parameters.
    pub(super) params: HashMap<String, String>,
    /// The body's `cursor` (POST) or the `cursor` parameter (GET).
    pub(super) cursor: Option<String>,
}

impl Request {
    /// A POST to `endpoint` with `body`.
    pub(super) fn post(endpoint: Endpoint, body: &[u8]) -> Self {
        let body = serde_json::from_slice::<Value>(body).map_err(|e| e.to_string());
        let cursor = body.as_ref().ok().and_then(|b| b.get("cursor")).and_then(Value::as_str).map(str::to_owned);
        Self { endpoint, body: Some(body), params: HashMap::new(), cursor }
    }

    /// A GET of `endpoint` with query `params`.
    pub(super) fn get(endpoint: Endpoint, params: HashMap<String, String>) -> Self {
        let cursor = params.get("cursor").cloned();
        Self { endpoint, body: None, params, cursor }
    }

    /// The body's `filter`, `null` when absent or for a GET.
    pub(super) fn filter(&self) -> Result<&Value, Reject> {
        match &self.body {
            None => Ok(&NO_FILTER),
            Some(Ok(body)) => Ok(body.get("filter").unwrap_or(&NO_FILTER)),
            Some(Err(e)) => Err(Reject::bad_request(format!("Malformed request body: {e}"))),
        }
    }
}

/// A list's filter, validated.
#[derive(Debug, Default)]
pub(super) struct ParsedQuery {
    pub(super) dates: Option<(Date, Date)>,
    pub(super) review_method: Option<&'static str>,
    /// Sorted, so that equal filters give equal cache keys.
    pub(super) user_ids: Option<BTreeSet<String>>,
    pub(super) scorecard_ids: Option<BTreeSet<String>>,
}

/// `filter` of a request to `endpoint`, validated against the company's
/// `today`.
pub(super) fn parse_filter(endpoint: Endpoint, filter: &Value, today: Date) -> Result<ParsedQuery, Reject> {
    let bad = Reject::bad_request;
    let date_field = |name: &str, required: bool| -> Result<Option<Date>, Reject> {
        match filter.get(name) {
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(bad(format!("filter.{name} is required"))),
            Some(v) => {
                let s = v.as_str().unwrap_or_default();
                let day = parse_gong_date(s)
                    .ok_or_else(|| bad(format!("filter.{name} '{s}' is not a date in the format YYYY-MM-DD")))?;
                if day > today {
                    return Err(bad(format!("filter.{name} {day} is after the current day {today}")));
                }
                Ok(Some(day))
            }
        }
    };
    let ids = |name: &str| -> Option<BTreeSet<String>> {
        filter.get(name)?.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
    };
    let range = |from: Option<Date>, to: Option<Date>, what: &str| -> Result<Option<(Date, Date)>, Reject> {
        match (from, to) {
            (Some(f), Some(t)) if f >= t => {
                Err(bad(format!("{what}: the from date {f} must be before the to date {t}")))
            }
            (Some(f), Some(t)) => Ok(Some((f, t))),
            _ => Ok(None),
        }
    };
    match endpoint {
        Endpoint::Users | Endpoint::Workspaces | Endpoint::Coaching | Endpoint::ScorecardSettings => {
            Ok(ParsedQuery::default())
        }
        Endpoint::Scorecards => {
            if !filter.is_object() {
                return Err(bad("filter is required".to_owned()));
            }
            let from = date_field("reviewFromDate", false)?;
            let to = date_field("reviewToDate", false)?;
            date_field("callFromDate", false)?;
            date_field("callToDate", false)?;
            let method = match filter.get("reviewMethod").and_then(Value::as_str) {
                None | Some("MANUAL") => "MANUAL",
                Some("AUTOMATIC") => "AUTOMATIC",
                Some("BOTH") => "BOTH",
                Some(other) => {
                    return Err(bad(format!("filter.reviewMethod '{other}' is not one of AUTOMATIC, MANUAL, BOTH")));
                }
            };
            // Unbounded review dates mean "all time"; a year is all the
            // simulated company has.
            let from = from.unwrap_or_else(|| today.checked_sub(365.days()).unwrap_or(today));
            let to = to.unwrap_or(today);
            let dates = range(Some(from), Some(to), "review dates")?;
            Ok(ParsedQuery {
                dates,
                review_method: Some(method),
                user_ids: ids("reviewedUserIds"),
                scorecard_ids: ids("scorecardIds"),
            })
        }
        Endpoint::ActivityAggregate | Endpoint::ActivityDayByDay | Endpoint::Interaction => {
            if !filter.is_object() {
                return Err(bad("filter is required".to_owned()));
            }
            let from = date_field("fromDate", true)?;
            let to = date_field("toDate", true)?;
            Ok(ParsedQuery { dates: range(from, to, "filter")?, user_ids: ids("userIds"), ..Default::default() })
        }
    }
}

/// The query parameters of `GET /v2/coaching`, validated.
#[derive(Debug)]
pub(super) struct CoachingQuery {
    pub(super) workspace_id: u64,
    pub(super) manager_id: u64,
    pub(super) from: Timestamp,
    pub(super) to: Timestamp,
}

pub(super) fn parse_coaching(params: &HashMap<String, String>) -> Result<CoachingQuery, Reject> {
    let bad = Reject::bad_request;
    let id = |name: &str| -> Result<u64, Reject> {
        let v = params.get(name).ok_or_else(|| bad(format!("{name} is required")))?;
        v.parse().map_err(|_| bad(format!("{name} '{v}' is not a number")))
    };
    let instant = |name: &str| -> Result<Timestamp, Reject> {
        let v = params.get(name).ok_or_else(|| bad(format!("{name} is required")))?;
        v.parse().map_err(|_| bad(format!("{name} '{v}' is not an ISO-8601 date-time, e.g. 2018-02-18T02:30:00-07:00")))
    };
    let (workspace_id, manager_id) = (id("workspace-id")?, id("manager-id")?);
    let (from, to) = (instant("from")?, instant("to")?);
    if from >= to {
        return Err(bad(format!("from {from} must be before to {to}")));
    }
    Ok(CoachingQuery { workspace_id, manager_id, from, to })
}

/// Strictly `YYYY-MM-DD`, as Gong documents.
fn parse_gong_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape.then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gong_dates_are_strict() {
        assert_eq!(parse_gong_date("2024-02-29"), Some(jiff::civil::date(2024, 2, 29)));
        for bad in ["2023-02-29", "20240229", "2024-2-29", "2024-02-29T00:00", ""] {
            assert_eq!(parse_gong_date(bad), None, "{bad}");
        }
    }
}
