//! Gong's JSON answers: a list's page with its `records` block, the
//! workspaces, the coaching data, and the error body. Each page is built
//! from the dataset when it is asked for; nothing else is held as JSON.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Value, json};

use super::dataset::{ACTIVITY_FIELDS, Dataset, DayActivity, SimScorecard, SimUser, call_ids};
use super::faults::Fault;
use super::index::RecordIndex;
use super::query::{self, ParsedQuery, Request};
use super::{Simulator, cursor, days, fnv1a};
use crate::endpoint::Endpoint;

/// An error answer: status, Gong's `errors` message, and for a 429 the
/// `Retry-After` seconds.
#[derive(Debug)]
pub(super) struct Reject(pub(super) StatusCode, pub(super) String, pub(super) Option<u64>);

impl Reject {
    pub(super) fn bad_request(message: String) -> Self {
        Self(StatusCode::BAD_REQUEST, message, None)
    }

    pub(super) fn not_found(message: &str) -> Self {
        Self(StatusCode::NOT_FOUND, message.to_owned(), None)
    }

    /// Gong's error body for this error.
    pub(super) fn into_response(self, request_id: &str) -> Response {
        let Reject(status, message, retry_after) = self;
        let mut response =
            (status, axum::Json(json!({ "requestId": request_id, "errors": [message] }))).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The key of an answer's list of records.
pub(super) fn list_key(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::ActivityAggregate => "usersAggregateActivityStats",
        Endpoint::ActivityDayByDay => "usersDetailedActivities",
        Endpoint::Interaction => "peopleInteractionStats",
        Endpoint::Scorecards => "answeredScorecards",
        Endpoint::Users => "users",
        Endpoint::Workspaces => "workspaces",
        Endpoint::Coaching => "coachingData",
        Endpoint::ScorecardSettings => "scorecards",
    }
}

// Gong's 404 messages: recorded ("No users found corresponding to the
// provided filters", NangoHQ integration-templates gong/syncs/users.ts)
// or as its reference documents them.
fn not_found(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Users => "No users found corresponding to the provided filters",
        Endpoint::ActivityAggregate | Endpoint::ActivityDayByDay | Endpoint::Coaching => "User not found",
        Endpoint::Workspaces => "No workspaces found",
        Endpoint::Interaction => "No stats found for the specified period",
        Endpoint::Scorecards => "Answered scorecards not found",
        Endpoint::ScorecardSettings => "No scorecards found",
    }
}

/// What `users()[user]` did over `range`, as Gong's aggregate counts it:
/// each call once, however many days list it ("The number of calls ...").
/// Fields Gong adds later are summed (their calls are never repeated).
pub(super) fn aggregate_over(dataset: &dyn Dataset, user: usize, range: (Date, Date)) -> DayActivity {
    let user_id = dataset.users()[user].id;
    let mut total = DayActivity::default();
    let mut calls: Vec<std::collections::BTreeSet<u64>> = vec![Default::default(); ACTIVITY_FIELDS.len()];
    for day in days(range) {
        let mut activity = dataset.activity(user, day);
        for (f, count) in activity.counts.iter_mut().enumerate() {
            calls[f].extend(call_ids(user_id, day, f, *count));
            *count = 0;
        }
        total.add(&activity);
    }
    for (count, ids) in total.counts.iter_mut().zip(calls) {
        *count = ids.len() as u32;
    }
    total
}

/// A user's record in an aggregate activity answer: every documented field
/// and any extra one, as counts over the period.
fn aggregate_record(user: &SimUser, total: DayActivity) -> Value {
    let mut stats = serde_json::Map::new();
    for (name, count) in ACTIVITY_FIELDS.iter().zip(total.counts) {
        stats.insert((*name).to_owned(), json!(count));
    }
    for (name, count) in total.extra {
        stats.insert(name, json!(count));
    }
    json!({ "userId": user.id.to_string(), "userEmailAddress": user.email, "userAggregateActivityStats": stats })
}

/// Spoils a page's records as a [`Fault::NullIds`], [`Fault::LongLabel`],
/// [`Fault::Numbers`] or [`Fault::DaysOff`] asks.
pub(super) fn spoil(endpoint: Endpoint, records: &mut [Value], fault: &Fault) {
    match fault {
        Fault::NullIds { records: n } => {
            records.iter_mut().take(usize::try_from(*n).unwrap_or(usize::MAX)).for_each(|r| null_id(endpoint, r));
        }
        Fault::LongLabel { bytes, records: n } => {
            let field = match endpoint {
                Endpoint::ActivityAggregate | Endpoint::ActivityDayByDay | Endpoint::Interaction => "/userEmailAddress",
                Endpoint::Users => "/emailAddress",
                Endpoint::Workspaces => "/name",
                Endpoint::Scorecards | Endpoint::ScorecardSettings => "/scorecardName",
                Endpoint::Coaching => "/manager/emailAddress",
            };
            let long = "x".repeat(usize::try_from(*bytes).unwrap_or(0).saturating_sub(12)) + "@example.com";
            for record in records.iter_mut().take(usize::try_from(*n).unwrap_or(usize::MAX)) {
                if let Some(value) = record.pointer_mut(field) {
                    *value = Value::String(long.clone());
                }
            }
        }
        Fault::Numbers { records: n, form } => {
            for record in records.iter_mut().take(usize::try_from(*n).unwrap_or(usize::MAX)) {
                let numbers: Vec<&mut Value> = match endpoint {
                    Endpoint::ActivityAggregate => record
                        .get_mut("userAggregateActivityStats")
                        .and_then(Value::as_object_mut)
                        .map(|stats| stats.values_mut().collect())
                        .unwrap_or_default(),
                    Endpoint::Interaction => record
                        .get_mut("personInteractionStats")
                        .and_then(Value::as_array_mut)
                        .map(|stats| stats.iter_mut().filter_map(|s| s.get_mut("value")).collect())
                        .unwrap_or_default(),
                    Endpoint::Scorecards => record
                        .get_mut("answers")
                        .and_then(Value::as_array_mut)
                        .map(|answers| answers.iter_mut().filter_map(|a| a.get_mut("score")).collect())
                        .unwrap_or_default(),
                    // Lists of call IDs, or no numbers at all.
                    _ => Vec::new(),
                };
                for value in numbers {
                    *value = form.apply(value);
                }
            }
        }
        Fault::DaysOff { days } => {
            let shift = jiff::SignedDuration::from_hours(24 * days);
            let entries = records
                .iter_mut()
                .filter_map(|r| r.get_mut("userDailyActivityStats").and_then(Value::as_array_mut))
                .flatten();
            for entry in entries {
                for field in ["fromDate", "toDate"] {
                    let moved =
                        entry[field].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()).map(|t| t + shift);
                    if let Some(moved) = moved {
                        entry[field] = Value::String(moved.to_string());
                    }
                }
            }
        }
        _ => {}
    }
}

/// Nulls the field holding a record's ID, for [`Fault::NullIds`].
fn null_id(endpoint: Endpoint, record: &mut Value) {
    let field = match endpoint {
        Endpoint::ActivityAggregate | Endpoint::ActivityDayByDay | Endpoint::Interaction => record.get_mut("userId"),
        Endpoint::Users | Endpoint::Workspaces => record.get_mut("id"),
        Endpoint::Scorecards | Endpoint::ScorecardSettings => record.get_mut("scorecardId"),
        Endpoint::Coaching => record.pointer_mut("/directReportsMetrics/0/report/id"),
    };
    if let Some(id) = field {
        *id = Value::Null;
    }
}

impl Simulator {
    /// Gong's answer to a request let through, reading the page `cursor`
    /// points at (which a fault may have changed from the request's).
    pub(super) fn render(&self, request: &Request, cursor: Option<&str>, request_id: &str) -> Result<Value, Reject> {
        match request.endpoint {
            Endpoint::Workspaces => Ok(self.workspaces_answer(request_id)),
            Endpoint::Coaching => self.coaching_answer(&request.params, request_id),
            Endpoint::ScorecardSettings => Ok(self.scorecard_settings_answer(request_id)),
            endpoint => self.page_answer(endpoint, request.filter()?, cursor, request_id),
        }
    }

    /// One page of a paged list.
    fn page_answer(
        &self,
        endpoint: Endpoint,
        filter: &Value,
        cursor: Option<&str>,
        request_id: &str,
    ) -> Result<Value, Reject> {
        let query = query::parse_filter(endpoint, filter, self.today())?;
        let fingerprint = cursor::fingerprint(endpoint, filter);
        let offset = match cursor {
            None => 0,
            Some(c) => {
                cursor::decode(c, fingerprint).ok_or_else(|| Reject::bad_request("Invalid cursor".to_owned()))?
            }
        };
        let (dataset, generation) = self.served();
        let index = self.record_index(dataset.as_ref(), generation, endpoint, &query);
        if index.is_empty() {
            return Err(Reject::not_found(not_found(endpoint)));
        }
        let page_size = self.options.page_size.max(1);
        let page = self.build_page(dataset.as_ref(), endpoint, &query, &index, index.page(offset, page_size));
        let mut records_block = json!({
            "totalRecords": index.len(),
            "currentPageSize": page.len(),
            "currentPageNumber": offset / page_size,
        });
        if offset.saturating_add(page_size) < index.len() {
            records_block["cursor"] = json!(cursor::encode(fingerprint, offset + page_size));
        }
        let mut answer = json!({ "requestId": request_id, "records": records_block, list_key(endpoint): page });
        if let (Endpoint::ActivityAggregate | Endpoint::Interaction, Some((from, to))) = (endpoint, query.dates) {
            answer["timeZone"] = json!(self.zone_name());
            answer["fromDateTime"] = json!(self.format_instant(crate::windows::start_of_day(from, &self.zone())));
            answer["toDateTime"] = json!(self.format_instant(crate::windows::start_of_day(to, &self.zone())));
        }
        Ok(answer)
    }

    /// The JSON of the records at `positions` of `index`, built from the
    /// dataset now: nothing but the page is ever held as JSON.
    fn build_page(
        &self,
        dataset: &dyn Dataset,
        endpoint: Endpoint,
        query: &ParsedQuery,
        index: &RecordIndex,
        positions: Range<usize>,
    ) -> Vec<Value> {
        match index {
            RecordIndex::Users(users) => {
                users[positions].iter().map(|&user| self.user_record(dataset, endpoint, query, user)).collect()
            }
            RecordIndex::Scorecards(cards) => cards[positions]
                .chunk_by(|a, b| a.0 == b.0)
                .flat_map(|same_day| {
                    // A page's reviews come from one or two days: each
                    // day's reviews are generated once per page.
                    let reviews = dataset.scorecards_reviewed_on(same_day[0].0);
                    same_day.iter().map(|&(_, k)| self.scorecard_json(&reviews[k])).collect::<Vec<_>>()
                })
                .collect(),
        }
    }

    /// The record of `users()[user]` in `endpoint`'s answer to `query`.
    fn user_record(&self, dataset: &dyn Dataset, endpoint: Endpoint, query: &ParsedQuery, user: usize) -> Value {
        let u = &dataset.users()[user];
        match (endpoint, query.dates) {
            (Endpoint::ActivityAggregate, Some(range)) if self.options.aggregate_sums_day_lists => {
                let mut total = DayActivity::default();
                days(range).for_each(|day| total.add(&dataset.activity(user, day)));
                aggregate_record(u, total)
            }
            (Endpoint::ActivityAggregate, Some(range)) => aggregate_record(u, aggregate_over(dataset, user, range)),
            (Endpoint::ActivityDayByDay, Some(range)) => {
                let entries: Vec<Value> =
                    days(range).map(|day| self.day_json(u.id, day, &dataset.activity(user, day))).collect();
                json!({ "userId": u.id.to_string(), "userEmailAddress": u.email, "userDailyActivityStats": entries })
            }
            (Endpoint::Interaction, Some((from, to))) => {
                let stats: Vec<Value> = dataset
                    .interaction(user, from, to)
                    .into_iter()
                    .map(|(name, value)| json!({ "name": name, "value": value }))
                    .collect();
                json!({ "userId": u.id.to_string(), "userEmailAddress": u.email, "personInteractionStats": stats })
            }
            // The other lists index users only for `/v2/users`.
            _ => user_json(u),
        }
    }

    fn workspaces_answer(&self, request_id: &str) -> Value {
        let workspaces: Vec<Value> = self
            .dataset()
            .workspaces()
            .into_iter()
            .map(|(id, name)| json!({ "id": id.to_string(), "name": name, "description": null }))
            .collect();
        json!({ "requestId": request_id, "workspaces": workspaces })
    }

    /// `GET /v2/settings/scorecards`: one page, IDs and ranges as strings
    /// and the fields the exporter does not read, as NangoHQ's recording of
    /// the real Gong has them (integrations/gong/tests/get-scorecard.test.json).
    fn scorecard_settings_answer(&self, request_id: &str) -> Value {
        let workspace = self.dataset().workspaces().first().map_or(0, |(id, _)| *id);
        let scorecards: Vec<Value> = self
            .dataset()
            .scorecard_settings()
            .into_iter()
            .map(|s| {
                let questions: Vec<Value> = s
                    .questions
                    .iter()
                    .map(|q| {
                        json!({
                            "questionId": q.question_id.to_string(),
                            "questionRevisionId": (q.question_id / 3).to_string(),
                            "questionText": q.text,
                            "isOverall": q.is_overall,
                            "updaterUserId": "-1",
                            "answerGuide": null,
                            "minRange": q.range.map(|(min, _)| min.to_string()),
                            "maxRange": q.range.map(|(_, max)| max.to_string()),
                            "questionType": if q.range.is_some() { "RANGE" } else { "OPEN" },
                            "answerOptions": [],
                        })
                    })
                    .collect();
                json!({
                    "scorecardId": s.scorecard_id.to_string(),
                    "scorecardName": s.scorecard_name,
                    "workspaceId": workspace.to_string(),
                    "enabled": true,
                    "updaterUserId": "-1",
                    "reviewMethod": "MANUAL",
                    "questions": questions,
                })
            })
            .collect();
        json!({ "requestId": request_id, "scorecards": scorecards })
    }

    /// `GET /v2/coaching`: what the manager did on each direct report's
    /// calls on the company days inside `[from, to)`.
    fn coaching_answer(&self, params: &HashMap<String, String>, request_id: &str) -> Result<Value, Reject> {
        let asked = query::parse_coaching(params)?;
        if !self.options.coaching_enabled {
            return Err(Reject::not_found("Coaching is not enabled for this company"));
        }
        let dataset = self.dataset();
        if !dataset.workspaces().iter().any(|(w, _)| *w == asked.workspace_id) {
            return Err(Reject::not_found("Workspace not found"));
        }
        let users = dataset.users();
        let manager_id = asked.manager_id;
        let Some(manager) = users.iter().position(|u| u.id == manager_id) else {
            return Err(Reject::not_found("User not found"));
        };
        // Company days wholly inside [from, to).
        let starts = |day: Date| crate::windows::start_of_day(day, &self.zone());
        let days: Vec<Date> =
            std::iter::successors(Some(crate::windows::company_date(asked.from, &self.zone())), |d| d.tomorrow().ok())
                .take_while(|d| d.tomorrow().is_ok_and(|next| starts(next) <= asked.to))
                .filter(|d| starts(*d) >= asked.from)
                .collect();
        let person = |u: &SimUser| {
            json!({ "id": u.id.to_string(), "emailAddress": u.email, "firstName": u.first_name,
                    "lastName": u.last_name, "title": u.title })
        };
        let item = |manager: usize| {
            let manager_id = users[manager].id;
            let reports: Vec<Value> = users
                .iter()
                .enumerate()
                .filter(|(_, u)| u.manager_id == Some(manager_id))
                .map(|(r, u)| {
                    // A window's list is the union of its days' lists: a call
                    // the manager acted on over two days is listed once.
                    let mut calls: BTreeMap<String, std::collections::BTreeSet<u64>> = BTreeMap::new();
                    for day in &days {
                        for (name, ids) in dataset.coaching(manager, r, *day) {
                            calls.entry(name).or_default().extend(ids);
                        }
                    }
                    let metrics: serde_json::Map<String, Value> = calls
                        .into_iter()
                        .map(|(name, ids)| (name, json!(ids.iter().map(u64::to_string).collect::<Vec<_>>())))
                        .collect();
                    json!({ "report": person(u), "metrics": metrics })
                })
                .collect();
            json!({ "manager": person(&users[manager]), "directReportsMetrics": reports })
        };
        // Gong's reference calls the answer "a list, in which each item
        // specifies one manager's coaching data", and a public script reads
        // several managers out of one answer for one manager-id: the asked
        // manager comes first, then every manager below, top down.
        let mut listed = vec![manager];
        if self.options.coaching_lists_managers_below {
            let mut reports_of: HashMap<u64, Vec<usize>> = HashMap::new();
            for (i, u) in users.iter().enumerate() {
                if let Some(m) = u.manager_id {
                    reports_of.entry(m).or_default().push(i);
                }
            }
            let mut next = 0;
            while let Some(&above) = listed.get(next) {
                next += 1;
                let below = reports_of.get(&users[above].id).into_iter().flatten();
                let managers_below: Vec<usize> = below
                    .filter(|&&r| reports_of.contains_key(&users[r].id) && !listed.contains(&r))
                    .copied()
                    .collect();
                listed.extend(managers_below);
            }
        }
        let data: Vec<Value> = listed.into_iter().map(item).collect();
        Ok(json!({ "requestId": request_id, "coachingData": data }))
    }

    fn format_instant(&self, t: Timestamp) -> String {
        crate::windows::iso_instant(t, &self.zone())
    }

    fn day_json(&self, user_id: u64, day: Date, activity: &DayActivity) -> Value {
        let mut entry = serde_json::Map::new();
        for (f, (name, count)) in ACTIVITY_FIELDS.iter().zip(activity.counts).enumerate() {
            let ids: Vec<String> = call_ids(user_id, day, f, count).map(|id| id.to_string()).collect();
            entry.insert((*name).to_owned(), json!(ids));
        }
        for (k, (name, count)) in activity.extra.iter().enumerate() {
            let ids: Vec<String> =
                (0..*count).map(|i| (fnv1a(&format!("{user_id}{day}x{k}{i}")) >> 2).to_string()).collect();
            entry.insert(name.clone(), json!(ids));
        }
        let start = crate::windows::start_of_day(day, &self.zone());
        let end = crate::windows::start_of_day(day.tomorrow().unwrap_or(day), &self.zone());
        entry.insert("fromDate".to_owned(), json!(start.to_string()));
        entry.insert("toDate".to_owned(), json!(end.to_string()));
        Value::Object(entry)
    }

    fn scorecard_json(&self, s: &SimScorecard) -> Value {
        let answers: Vec<Value> = s
            .answers
            .iter()
            .map(|a| {
                json!({
                    "questionId": a.question_id,
                    "questionRevisionId": a.question_id + 1,
                    "isOverall": a.is_overall,
                    "score": a.score,
                    "answerText": a.score.map(|_| "Solid call."),
                    "notApplicable": a.not_applicable,
                    "selectedOptions": null,
                })
            })
            .collect();
        let mut review = json!({
            "answeredScorecardId": s.answered_scorecard_id,
            "scorecardId": s.scorecard_id,
            "scorecardName": s.scorecard_name,
            "callId": s.call_id,
            "callStartTime": self.format_instant(s.call_start),
            "reviewedUserId": s.reviewed_user_id,
            "reviewerUserId": s.reviewer_user_id,
            "reviewMethod": s.review_method(),
            "editorUserId": null,
            "reviewTime": self.format_instant(s.review_time),
            "answers": answers,
        });
        if let Some(visibility) = s.visibility {
            review["visibilityType"] = json!(visibility);
        }
        review
    }
}

fn user_json(u: &SimUser) -> Value {
    json!({
        "id": u.id.to_string(),
        "emailAddress": u.email,
        "created": "2021-03-01T09:00:00-08:00",
        "active": u.active,
        "emailAliases": [],
        "trustedEmailAddress": u.email,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "title": u.title,
        "phoneNumber": null,
        "extension": null,
        "personalMeetingUrls": [],
        "settings": { "webConferencesRecorded": true, "telephonyCallsImported": false },
        "managerId": u.manager_id.map(|m| m.to_string()),
        "meetingConsentPageUrl": null,
        "spokenLanguages": [{ "language": "en-US", "primary": true }],
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jiff::ToSpan;
    use jiff::tz::TimeZone;

    use super::*;
    use crate::clock::Clock;
    use crate::simulator::testing::simulator;
    use crate::simulator::{SimulatorOptions, dataset};

    /// Every record of a query at once, computed the way the simulator did
    /// before it built pages on demand: the reference pages must match.
    fn whole_list(sim: &Simulator, endpoint: Endpoint, q: &ParsedQuery) -> Vec<Value> {
        let dataset = sim.dataset();
        let users = dataset.users();
        let wanted = |id: u64| q.user_ids.as_ref().is_none_or(|ids| ids.contains(&id.to_string()));
        match (endpoint, q.dates) {
            (Endpoint::Users, _) => users.iter().map(user_json).collect(),
            (Endpoint::ActivityAggregate, Some(range)) => {
                let mut any_activity = false;
                let rows: Vec<Value> = users
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| u.active && wanted(u.id))
                    .map(|(i, u)| {
                        let total = aggregate_over(&*dataset, i, range);
                        any_activity |= !total.is_empty();
                        aggregate_record(u, total)
                    })
                    .collect();
                if any_activity { rows } else { Vec::new() }
            }
            (Endpoint::ActivityDayByDay, Some(range)) => users
                .iter()
                .enumerate()
                .filter(|(_, u)| wanted(u.id))
                .filter_map(|(i, u)| {
                    let daily: Vec<(Date, DayActivity)> = days(range).map(|d| (d, dataset.activity(i, d))).collect();
                    if daily.iter().all(|(_, a)| a.is_empty()) {
                        return None;
                    }
                    let entries: Vec<Value> = daily.iter().map(|(d, a)| sim.day_json(u.id, *d, a)).collect();
                    Some(json!({ "userId": u.id.to_string(), "userEmailAddress": u.email, "userDailyActivityStats": entries }))
                })
                .collect(),
            (Endpoint::Interaction, Some((from, to))) => users
                .iter()
                .enumerate()
                .filter(|(_, u)| wanted(u.id))
                .filter_map(|(i, u)| {
                    let stats = dataset.interaction(i, from, to);
                    (!stats.is_empty()).then(|| {
                        let stats: Vec<Value> =
                            stats.into_iter().map(|(name, value)| json!({ "name": name, "value": value })).collect();
                        json!({ "userId": u.id.to_string(), "userEmailAddress": u.email, "personInteractionStats": stats })
                    })
                })
                .collect(),
            (Endpoint::Scorecards, Some(range)) => {
                let method = q.review_method.unwrap_or("MANUAL");
                days(range)
                    .flat_map(|d| dataset.scorecards_reviewed_on(d))
                    .filter(|s| method == "BOTH" || s.review_method() == method)
                    .filter(|s| wanted(s.reviewed_user_id))
                    .filter(|s| q.scorecard_ids.as_ref().is_none_or(|ids| ids.contains(&s.scorecard_id.to_string())))
                    .map(|s| sim.scorecard_json(&s))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// The simulator's answer to one page of `endpoint` (no HTTP, so that
    /// floats are compared exactly).
    fn ask(
        sim: &Simulator,
        endpoint: Endpoint,
        body: &Value,
        cursor: Option<&str>,
    ) -> Result<Value, (StatusCode, String)> {
        let request = if endpoint == Endpoint::Users {
            Request::get(endpoint, cursor.map(|c| ("cursor".to_owned(), c.to_owned())).into_iter().collect())
        } else {
            let mut body = body.clone();
            if let Some(c) = cursor {
                body["cursor"] = json!(c);
            }
            Request::post(endpoint, body.to_string().as_bytes())
        };
        sim.answer(&request, request.cursor.as_deref(), true, "test")
            .map_err(|Reject(status, message, _)| (status, message))
    }

    #[test]
    fn a_repeated_query_sees_late_data_arrive() {
        let tz = TimeZone::get("US/Pacific").unwrap();
        let clock = Clock::system();
        let yesterday = jiff::civil::date(2024, 6, 4);
        let midnight = crate::windows::start_of_day(yesterday.tomorrow().unwrap(), &tz);
        clock.set(midnight + 5.minutes());
        let mut options = SimulatorOptions::new("US/Pacific");
        options.rate_limit = 1e6;
        options.clock = clock.clone();
        let data = dataset::GeneratedDataset::new(300, tz).with_late_data(clock.clone());
        let sim = Simulator::new(Arc::new(data), options).unwrap();
        let body = json!({ "filter": { "reviewFromDate": yesterday.to_string(), "reviewToDate": sim.today().to_string(), "reviewMethod": "BOTH" } });
        let total =
            |sim: &Simulator| ask(sim, Endpoint::Scorecards, &body, None).unwrap()["records"]["totalRecords"].as_u64();
        let early = total(&sim);
        // The same query three hours later: the reviews indexed late are in.
        clock.set(midnight + 3.hours());
        assert!(total(&sim) > early, "{:?} then {:?}", early, total(&sim));
    }

    #[test]
    fn pages_concatenate_to_the_whole_list() {
        let sim = simulator(60, 7, 1e6);
        let today = sim.today();
        let ago = |n: i64| today.checked_sub(n.days()).unwrap().to_string();
        let users = sim.dataset().users().to_vec();
        let ids = |positions: &[usize]| -> Value {
            positions.iter().map(|&i| json!(users[i].id.to_string())).chain([json!("1")]).collect()
        };
        let period = |extra: Value| {
            let mut filter = json!({ "fromDate": ago(10), "toDate": ago(0) });
            filter.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            json!({ "filter": filter })
        };
        let reviews = |extra: Value| {
            let mut filter = json!({ "reviewFromDate": ago(10), "reviewToDate": ago(0) });
            filter.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            json!({ "filter": filter })
        };
        // 10 and 21 are idle, 22 deactivated, 1 to 7 managers.
        let some_users = ids(&[1, 3, 9, 10, 22, 30, 41, 58]);
        let idle_users = ids(&[10, 21, 22]);
        let cases = [
            (Endpoint::Users, Value::Null),
            (Endpoint::ActivityAggregate, period(json!({}))),
            (Endpoint::ActivityAggregate, period(json!({ "userIds": some_users }))),
            (Endpoint::ActivityAggregate, period(json!({ "userIds": idle_users }))),
            (Endpoint::ActivityDayByDay, period(json!({}))),
            (Endpoint::ActivityDayByDay, period(json!({ "userIds": some_users }))),
            (Endpoint::ActivityDayByDay, period(json!({ "userIds": idle_users }))),
            (Endpoint::Interaction, period(json!({}))),
            (Endpoint::Interaction, period(json!({ "userIds": some_users }))),
            (Endpoint::Interaction, period(json!({ "userIds": idle_users }))),
            (Endpoint::Scorecards, reviews(json!({}))),
            (Endpoint::Scorecards, reviews(json!({ "reviewMethod": "BOTH" }))),
            (Endpoint::Scorecards, reviews(json!({ "reviewMethod": "AUTOMATIC" }))),
            (Endpoint::Scorecards, reviews(json!({ "reviewMethod": "BOTH", "reviewedUserIds": some_users }))),
            (
                Endpoint::Scorecards,
                reviews(json!({ "reviewMethod": "BOTH", "scorecardIds": [dataset::SCORECARDS[1].0.to_string()] })),
            ),
            (Endpoint::Scorecards, reviews(json!({ "reviewedUserIds": idle_users }))),
        ];
        for (endpoint, body) in cases {
            let case = format!("{endpoint:?} {body}");
            let Ok(query) = query::parse_filter(endpoint, &body["filter"], sim.today()) else {
                panic!("{case}: rejected filter")
            };
            let expected = whole_list(&sim, endpoint, &query);
            let mut pages = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                match ask(&sim, endpoint, &body, cursor.as_deref()) {
                    Ok(page) => {
                        assert_eq!(page["records"]["totalRecords"], expected.len(), "{case}");
                        assert_eq!(page["records"]["currentPageNumber"], pages.len(), "{case}");
                        let records = page[list_key(endpoint)].as_array().unwrap().clone();
                        assert_eq!(page["records"]["currentPageSize"], records.len(), "{case}");
                        pages.push(records);
                        match page["records"]["cursor"].as_str() {
                            Some(c) => cursor = Some(c.to_owned()),
                            None => break,
                        }
                    }
                    Err((status, message)) => {
                        assert!(expected.is_empty() && pages.is_empty(), "{case}: {status} {message}");
                        assert_eq!((status, message.as_str()), (StatusCode::NOT_FOUND, not_found(endpoint)), "{case}");
                        break;
                    }
                }
            }
            assert_eq!(pages.len(), expected.len().div_ceil(7), "{case}");
            assert_eq!(pages.concat(), expected, "{case}");
        }
        // The cases test what they mean to: unfiltered lists span pages,
        // filtered ones keep some records, the idle users' lists are empty.
        let total = |endpoint: Endpoint, body: &Value| {
            ask(&sim, endpoint, body, None).map_or(0, |p| p["records"]["totalRecords"].as_u64().unwrap())
        };
        for endpoint in
            [Endpoint::Users, Endpoint::ActivityAggregate, Endpoint::ActivityDayByDay, Endpoint::Interaction]
        {
            let body = if endpoint == Endpoint::Users { Value::Null } else { period(json!({})) };
            assert!(total(endpoint, &body) > 7, "{endpoint:?}");
            if endpoint != Endpoint::Users {
                assert!(total(endpoint, &period(json!({ "userIds": some_users }))) > 0, "{endpoint:?}");
                assert_eq!(total(endpoint, &period(json!({ "userIds": idle_users }))), 0, "{endpoint:?}");
            }
        }
        for method in ["MANUAL", "AUTOMATIC", "BOTH"] {
            assert!(total(Endpoint::Scorecards, &reviews(json!({ "reviewMethod": method }))) > 7, "{method}");
        }
        assert!(
            total(Endpoint::Scorecards, &reviews(json!({ "reviewMethod": "BOTH", "reviewedUserIds": some_users }))) > 0
        );
        assert_eq!(total(Endpoint::Scorecards, &reviews(json!({ "reviewedUserIds": idle_users }))), 0);
    }

    /// The generated company acts on some calls again on later days: the
    /// days' lists hold more entries than the aggregate has calls, which is
    /// what windows built from days must not sum.
    #[test]
    fn day_lists_repeat_calls_the_aggregate_counts_once() {
        let tz = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        let data = dataset::GeneratedDataset::new(40, tz);
        let range = (jiff::civil::date(2026, 11, 2), jiff::civil::date(2026, 11, 30));
        let field = dataset::field_index("othersCallsListenedTo").unwrap();
        let hosted = dataset::field_index("callsAsHost").unwrap();
        let (mut listed, mut calls, mut hosted_listed, mut hosted_calls) = (0, 0, 0, 0);
        for user in 0..40 {
            let total = aggregate_over(&data, user, range);
            calls += total.counts[field];
            hosted_calls += total.counts[hosted];
            for day in days(range) {
                listed += data.activity(user, day).counts[field];
                hosted_listed += data.activity(user, day).counts[hosted];
            }
        }
        assert!(calls > 0 && listed > calls + calls / 10, "listed {listed}, distinct {calls}");
        assert_eq!(hosted_listed, hosted_calls, "a call is hosted once");
    }
}
