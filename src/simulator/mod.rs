//! A fake Gong API, built from Gong's reference pages and from responses
//! connectors recorded from the real Gong (named where used): Basic or
//! Bearer auth (401), a per-company rate limit (429 + `Retry-After` in whole
//! seconds), date validation (400), opaque cursors bound to the filter, 404
//! for empty periods. Used by `--demo`, `gong-exporter simulate` and the
//! tests, which read its request log.
//!
//! Where it differs from Gong: its cursors never expire (Gong's are signed
//! tokens with an expiry, per `gong-api/NOTES.md`; a query that outlives one
//! is not simulated), and the fault rules ([`faults`]) also send what Gong is
//! not known to send (HTTP-date `Retry-After`, redirects, oversized or
//! endless bodies, endless cursors): those test the exporter's bounds, not a
//! recorded Gong behaviour.

pub mod dataset;
pub mod faults;
mod index;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::secret::Secret;
use dataset::{ACTIVITY_FIELDS, Dataset, DayActivity, SimScorecard};
use faults::{Fault, FaultRule, Faults};
use index::{IndexCache, RecordIndex};

/// Queries whose record indices are kept.
const CACHED_QUERIES: usize = 64;
/// Records those indices may name in all (16 bytes each at most).
const CACHED_RECORDS: usize = 1_000_000;

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// Records per page (Gong: 100).
    pub page_size: usize,
    /// Requests per second before 429 (Gong: 3).
    pub rate_limit: f64,
    /// The company's zone as Gong names it (e.g. `US/Pacific`).
    pub time_zone_name: String,
    pub access_key: String,
    pub access_key_secret: Secret,
    /// Also accepted instead of Basic auth, when set.
    pub bearer_token: Option<Secret>,
    /// Defines the company's "today" (dates after it are rejected).
    pub clock: Clock,
    /// `false` answers `/v2/coaching` with 404, as Gong does for accounts
    /// whose plan lacks coaching.
    pub coaching_enabled: bool,
    /// The API scopes the key holds; `None` is every scope. An endpoint
    /// whose scope is missing answers 401 naming it, as the real Gong does.
    pub scopes: Option<std::collections::BTreeSet<String>>,
}

impl SimulatorOptions {
    /// Gong's defaults with the given zone and demo credentials.
    pub fn new(time_zone_name: &str) -> Self {
        Self {
            page_size: 100,
            rate_limit: 3.0,
            time_zone_name: time_zone_name.to_owned(),
            access_key: "demo".to_owned(),
            access_key_secret: Secret::new("demo"),
            bearer_token: None,
            clock: Clock::system(),
            coaching_enabled: true,
            scopes: None,
        }
    }
}

/// One request the simulator received, for tests.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The JSON body of a POST.
    pub body: Option<Value>,
    /// The `cursor` query parameter of a GET.
    pub cursor: Option<String>,
    /// Every query parameter of a GET.
    pub query: HashMap<String, String>,
    pub status: u16,
    /// When the request arrived.
    pub at: std::time::Instant,
}

/// The data being served and how many times it was replaced: cached
/// indices are positions in one dataset and must never be read against
/// another.
struct Served {
    dataset: Arc<dyn Dataset>,
    generation: u64,
}

/// The simulator's shared state.
pub struct Simulator {
    served: Mutex<Served>,
    options: SimulatorOptions,
    time_zone: TimeZone,
    limiter: DefaultDirectRateLimiter,
    log: Mutex<Vec<RecordedRequest>>,
    index_cache: Mutex<IndexCache>,
    request_counter: AtomicU64,
    /// Requests received and not yet answered.
    in_flight: AtomicU64,
    faults: Faults,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("users", &self.dataset().users().len()).finish_non_exhaustive()
    }
}

/// Which list a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Aggregate,
    DayByDay,
    Interaction,
    Scorecards,
    Users,
    Workspaces,
    Coaching,
}

impl List {
    fn key(self) -> &'static str {
        match self {
            Self::Aggregate => "usersAggregateActivityStats",
            Self::DayByDay => "usersDetailedActivities",
            Self::Interaction => "peopleInteractionStats",
            Self::Scorecards => "answeredScorecards",
            Self::Users => "users",
            Self::Workspaces => "workspaces",
            Self::Coaching => "coachingData",
        }
    }

    /// The exporter's name for this list's endpoint, which knows its scope.
    fn endpoint(self) -> crate::endpoint::Endpoint {
        use crate::endpoint::Endpoint;
        match self {
            Self::Aggregate => Endpoint::ActivityAggregate,
            Self::DayByDay => Endpoint::ActivityDayByDay,
            Self::Interaction => Endpoint::Interaction,
            Self::Scorecards => Endpoint::Scorecards,
            Self::Users => Endpoint::Users,
            Self::Workspaces => Endpoint::Workspaces,
            Self::Coaching => Endpoint::Coaching,
        }
    }

    /// Spoils a page's records as a [`Fault::NullIds`], [`Fault::LongLabel`]
    /// or [`Fault::Numbers`] asks.
    fn spoil(self, records: &mut [Value], fault: &Fault) {
        match fault {
            Fault::NullIds { records: n } => {
                records.iter_mut().take(usize::try_from(*n).unwrap_or(usize::MAX)).for_each(|r| self.null_id(r));
            }
            Fault::LongLabel { bytes } => {
                let field = match self {
                    Self::Aggregate | Self::DayByDay | Self::Interaction => "/userEmailAddress",
                    Self::Users => "/emailAddress",
                    Self::Workspaces => "/name",
                    Self::Scorecards => "/scorecardName",
                    Self::Coaching => "/manager/emailAddress",
                };
                let long = "x".repeat(usize::try_from(*bytes).unwrap_or(0).saturating_sub(12)) + "@example.com";
                if let Some(value) = records.first_mut().and_then(|r| r.pointer_mut(field)) {
                    *value = Value::String(long);
                }
            }
            Fault::Numbers { records: n, form } => {
                for record in records.iter_mut().take(usize::try_from(*n).unwrap_or(usize::MAX)) {
                    let numbers: Vec<&mut Value> = match self {
                        Self::Aggregate => record
                            .get_mut("userAggregateActivityStats")
                            .and_then(Value::as_object_mut)
                            .map(|stats| stats.values_mut().collect())
                            .unwrap_or_default(),
                        Self::Interaction => record
                            .get_mut("personInteractionStats")
                            .and_then(Value::as_array_mut)
                            .map(|stats| stats.iter_mut().filter_map(|s| s.get_mut("value")).collect())
                            .unwrap_or_default(),
                        Self::Scorecards => record
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
            _ => {}
        }
    }

    /// The field holding a record's ID, which [`Fault::NullIds`] nulls.
    fn null_id(self, record: &mut Value) {
        let field = match self {
            Self::Aggregate | Self::DayByDay | Self::Interaction => record.get_mut("userId"),
            Self::Users | Self::Workspaces => record.get_mut("id"),
            Self::Scorecards => record.get_mut("scorecardId"),
            Self::Coaching => record.pointer_mut("/directReportsMetrics/0/report/id"),
        };
        if let Some(id) = field {
            *id = Value::Null;
        }
    }

    // Gong's 404 messages: recorded ("No users found corresponding to the
    // provided filters", NangoHQ integration-templates gong/syncs/users.ts)
    // or as its reference documents them.
    fn not_found(self) -> &'static str {
        match self {
            Self::Users => "No users found corresponding to the provided filters",
            Self::Aggregate | Self::DayByDay | Self::Coaching => "User not found",
            Self::Workspaces => "No workspaces found",
            Self::Interaction => "No stats found for the specified period",
            Self::Scorecards => "Answered scorecards not found",
        }
    }
}

/// An error answer: status, Gong's `errors` messages, and for a 429 the
/// `Retry-After` seconds.
struct Reject(StatusCode, String, Option<u64>);

impl Simulator {
    /// A simulator serving `dataset`. Fails on an unknown zone name.
    pub fn new(dataset: Arc<dyn Dataset>, options: SimulatorOptions) -> Result<Arc<Self>, String> {
        let time_zone = crate::windows::parse_time_zone(&options.time_zone_name)?;
        let burst = NonZeroU32::new(options.rate_limit.ceil().clamp(1.0, f64::from(u32::MAX)) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(Duration::from_secs_f64(1.0 / options.rate_limit.max(1e-6)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst);
        Ok(Arc::new(Self {
            served: Mutex::new(Served { dataset, generation: 0 }),
            options,
            time_zone,
            limiter: RateLimiter::direct(quota),
            log: Mutex::new(Vec::new()),
            index_cache: Mutex::new(IndexCache::new(CACHED_QUERIES, CACHED_RECORDS)),
            request_counter: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            faults: Faults::default(),
        }))
    }

    /// Adds a fault rule; it applies to the next matching requests.
    pub fn add_fault(&self, rule: FaultRule) {
        self.faults.add(rule);
    }

    /// Removes every fault rule: the simulator behaves normally again.
    pub fn clear_faults(&self) {
        self.faults.clear();
    }

    /// The data currently served.
    pub fn dataset(&self) -> Arc<dyn Dataset> {
        self.served().0
    }

    /// The data currently served and its generation, read together.
    fn served(&self) -> (Arc<dyn Dataset>, u64) {
        let served = self.served.lock().expect("dataset lock");
        (Arc::clone(&served.dataset), served.generation)
    }

    /// Serves `dataset` from the next request on, as if the company's data
    /// changed in Gong.
    pub fn set_dataset(&self, dataset: Arc<dyn Dataset>) {
        let mut served = self.served.lock().expect("dataset lock");
        served.dataset = dataset;
        served.generation += 1;
        self.index_cache.lock().expect("index cache lock").clear();
    }

    /// Requests being answered right now (e.g. held by a delay fault).
    pub fn pending(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().expect("log lock").clone()
    }

    /// The HTTP routes.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v2/stats/activity/aggregate", post(aggregate))
            .route("/v2/stats/activity/day-by-day", post(day_by_day))
            .route("/v2/stats/interaction", post(interaction))
            .route("/v2/stats/activity/scorecards", post(scorecards))
            .route("/v2/users", get(users))
            .route("/v2/workspaces", get(workspaces))
            .route("/v2/coaching", get(coaching))
            .with_state(self)
    }

    fn today(&self) -> Date {
        crate::windows::company_date(self.options.clock.now(), &self.time_zone)
    }

    fn request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!("sim{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.options.access_key, self.options.access_key_secret.expose()))
        );
        let bearer = self.options.bearer_token.as_ref().map(|t| format!("Bearer {}", t.expose()));
        given == basic || bearer.as_deref() == Some(given)
    }

    async fn handle(
        &self,
        list: List,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        params: HashMap<String, String>,
    ) -> Response {
        let arrived = std::time::Instant::now();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let _answered = InFlight(&self.in_flight);
        let request_id = self.request_id();
        let parsed_body = body.and_then(|b| serde_json::from_slice::<Value>(b).ok());
        let fault = if self.authorized(headers) { self.faults.next(path_of(list)) } else { None };
        if let Some(delay) = fault.as_ref().and_then(Fault::delay) {
            tokio::time::sleep(delay).await;
        }
        let recorded_query = params.clone();
        let response = self.answer_with_fault(fault, list, headers, body, params, &request_id);
        self.log.lock().expect("log lock").push(RecordedRequest {
            method: if body.is_some() { "POST" } else { "GET" }.to_owned(),
            path: path_of(list).to_owned(),
            body: parsed_body,
            cursor: recorded_query.get("cursor").cloned(),
            query: recorded_query,
            status: response.status().as_u16(),
            at: arrived,
        });
        response
    }

    /// The answer to a request, as `fault` (if any) changes it.
    fn answer_with_fault(
        &self,
        fault: Option<Fault>,
        list: List,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        mut params: HashMap<String, String>,
        request_id: &str,
    ) -> Response {
        let json = |page: Value| (StatusCode::OK, axum::Json(page)).into_response();
        let answered = |this: &Self, body: Option<&[u8]>, params: &HashMap<String, String>| {
            this.answer(list, headers, body, params, request_id)
        };
        match fault {
            Some(Fault::Status { status, retry_after_seconds }) => {
                let retry_after = retry_after_seconds.map(HeaderValue::from);
                self.injected_status(status, retry_after, request_id)
            }
            Some(Fault::RetryAfterDate { status, seconds }) => {
                let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
                let date = jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&at).ok();
                self.injected_status(status, date.and_then(|d| HeaderValue::from_str(&d).ok()), request_id)
            }
            Some(Fault::Malformed) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"requestId\":\"{request_id}\",\"records\":{{\"totalRecords\":3,"),
            )
                .into_response(),
            Some(Fault::WrongShape) => {
                json(json!({ "requestId": request_id, list.key(): [{ "userId": { "nested": true }, "id": [1] }] }))
            }
            Some(Fault::Redirect { status, location }) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
                (status, [(header::LOCATION, location)]).into_response()
            }
            Some(Fault::Oversized { bytes }) => {
                let head = format!("{{\"requestId\":\"{request_id}\",\"records\":{{\"totalRecords\":0}}");
                padded(faults::Padding::sized(head, "}", bytes))
            }
            Some(Fault::Endless) => padded(faults::Padding::endless(format!("{{\"requestId\":\"{request_id}\""))),
            Some(Fault::EndlessCursor { alternate }) => {
                // Answered as the first page, whatever cursor came.
                let body = rewrite_cursor(body, &mut params, |_| None);
                match answered(self, body.as_deref(), &params) {
                    Ok(mut page) => {
                        let n = self.request_counter.load(Ordering::Relaxed);
                        let next =
                            if alternate { ["A", "B"][(n % 2) as usize].to_owned() } else { format!("endless-{n}") };
                        page["records"]["cursor"] = json!(next);
                        json(page)
                    }
                    Err(reject) => self.reject_response(reject, request_id),
                }
            }
            Some(Fault::RepeatRecords { records }) => {
                let body = rewrite_cursor(body, &mut params, |cursor| {
                    cursor.map(|c| shift_cursor(&c, usize::try_from(records).unwrap_or(usize::MAX)).unwrap_or(c))
                });
                answered(self, body.as_deref(), &params).map_or_else(|r| self.reject_response(r, request_id), json)
            }
            Some(fault @ (Fault::NullIds { .. } | Fault::LongLabel { .. } | Fault::Numbers { .. })) => {
                match answered(self, body, &params) {
                    Ok(mut page) => {
                        if let Some(Value::Array(items)) = page.get_mut(list.key()) {
                            list.spoil(items, &fault);
                        }
                        json(page)
                    }
                    Err(reject) => self.reject_response(reject, request_id),
                }
            }
            Some(Fault::Delay { .. }) | None => {
                answered(self, body, &params).map_or_else(|r| self.reject_response(r, request_id), json)
            }
        }
    }

    /// An injected error status with Gong's error body.
    fn injected_status(&self, status: u16, retry_after: Option<HeaderValue>, request_id: &str) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response =
            (status, axum::Json(json!({ "requestId": request_id, "errors": ["Injected fault"] }))).into_response();
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }

    fn reject_response(&self, Reject(status, message, retry_after): Reject, request_id: &str) -> Response {
        let mut response =
            (status, axum::Json(json!({ "requestId": request_id, "errors": [message] }))).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    fn answer(
        &self,
        list: List,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        params: &HashMap<String, String>,
        request_id: &str,
    ) -> Result<Value, Reject> {
        if !self.authorized(headers) {
            return Err(Reject(StatusCode::UNAUTHORIZED, "Access denied".to_owned(), None));
        }
        let scope = list.endpoint().scope();
        if self.options.scopes.as_ref().is_some_and(|held| !held.contains(scope)) {
            // As recorded from the real Gong (NangoHQ integration-templates,
            // integrations/gong/tests/get-stats-*.test.json): 401, not 403.
            return Err(Reject(
                StatusCode::UNAUTHORIZED,
                format!("You don't have permission to use '{scope}' in your app."),
                None,
            ));
        }
        if let Err(not_until) = self.limiter.check() {
            // Whole seconds, rounded up, as Gong documents; measured by this
            // check (checking again would spend a slot that came free).
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            let message = "API request limit exceeded".to_owned();
            return Err(Reject(StatusCode::TOO_MANY_REQUESTS, message, Some(wait.as_secs() + 1)));
        }
        match list {
            List::Workspaces => return Ok(self.workspaces_answer(request_id)),
            List::Coaching => return self.coaching_answer(params, request_id),
            _ => {}
        }
        let cursor_param = params.get("cursor").map(String::as_str);
        let (filter, cursor) = match body {
            Some(bytes) => {
                let body: Value = serde_json::from_slice(bytes)
                    .map_err(|e| Reject(StatusCode::BAD_REQUEST, format!("Malformed request body: {e}"), None))?;
                let filter = body.get("filter").cloned().unwrap_or(Value::Null);
                let cursor = body.get("cursor").and_then(Value::as_str).map(str::to_owned);
                (filter, cursor)
            }
            None => (Value::Null, cursor_param.map(str::to_owned)),
        };
        let query = self.parse_filter(list, &filter)?;
        let fingerprint = dataset_hash(&format!("{list:?}{filter}"));
        let offset = match cursor.as_deref() {
            None => 0,
            Some(c) => decode_cursor(c, fingerprint)
                .ok_or_else(|| Reject(StatusCode::BAD_REQUEST, "Invalid cursor".to_owned(), None))?,
        };
        let (dataset, generation) = self.served();
        let index = self.record_index(dataset.as_ref(), generation, list, &query);
        if index.is_empty() {
            return Err(Reject(StatusCode::NOT_FOUND, list.not_found().to_owned(), None));
        }
        let page_size = self.options.page_size.max(1);
        let page = self.build_page(dataset.as_ref(), list, &query, &index, index.page(offset, page_size));
        let mut records_block = json!({
            "totalRecords": index.len(),
            "currentPageSize": page.len(),
            "currentPageNumber": offset / page_size,
        });
        if offset.saturating_add(page_size) < index.len() {
            records_block["cursor"] = json!(encode_cursor(fingerprint, offset + page_size));
        }
        let mut answer = json!({ "requestId": request_id, "records": records_block, list.key(): page });
        if let (List::Aggregate | List::Interaction, Some((from, to))) = (list, query.dates) {
            answer["timeZone"] = json!(self.options.time_zone_name);
            answer["fromDateTime"] = json!(self.format_instant(crate::windows::start_of_day(from, &self.time_zone)));
            answer["toDateTime"] = json!(self.format_instant(crate::windows::start_of_day(to, &self.time_zone)));
        }
        Ok(answer)
    }

    fn parse_filter(&self, list: List, filter: &Value) -> Result<ParsedQuery, Reject> {
        let bad = |m: String| Reject(StatusCode::BAD_REQUEST, m, None);
        let today = self.today();
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
        match list {
            List::Users | List::Workspaces | List::Coaching => Ok(ParsedQuery::default()),
            List::Scorecards => {
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
                        return Err(bad(format!(
                            "filter.reviewMethod '{other}' is not one of AUTOMATIC, MANUAL, BOTH"
                        )));
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
            List::Aggregate | List::DayByDay | List::Interaction => {
                if !filter.is_object() {
                    return Err(bad("filter is required".to_owned()));
                }
                let from = date_field("fromDate", true)?;
                let to = date_field("toDate", true)?;
                Ok(ParsedQuery { dates: range(from, to, "filter")?, user_ids: ids("userIds"), ..Default::default() })
            }
        }
    }

    /// Which records `query` answers, found once per distinct query and
    /// data: a cycle asks for each query once per page.
    fn record_index(
        &self,
        dataset: &dyn Dataset,
        generation: u64,
        list: List,
        query: &ParsedQuery,
    ) -> Arc<RecordIndex> {
        // Late data changes which records a query lists as time passes.
        let key = format!("{generation}|{}|{list:?}|{query:?}", dataset.as_of(query.dates));
        if let Some(hit) = self.index_cache.lock().expect("index cache lock").get(&key) {
            return hit;
        }
        let index = Arc::new(index_records(dataset, list, query));
        self.index_cache.lock().expect("index cache lock").insert(key, Arc::clone(&index));
        index
    }

    /// The JSON of the records at `positions` of `index`, built from the
    /// dataset now: nothing but the page is ever held as JSON.
    fn build_page(
        &self,
        dataset: &dyn Dataset,
        list: List,
        query: &ParsedQuery,
        index: &RecordIndex,
        positions: Range<usize>,
    ) -> Vec<Value> {
        match index {
            RecordIndex::Users(users) => {
                users[positions].iter().map(|&user| self.user_record(dataset, list, query, user)).collect()
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

    /// The record of `users()[user]` in `list`'s answer to `query`.
    fn user_record(&self, dataset: &dyn Dataset, list: List, query: &ParsedQuery, user: usize) -> Value {
        let u = &dataset.users()[user];
        match (list, query.dates) {
            (List::Aggregate, Some(range)) => {
                let mut total = DayActivity::default();
                for day in days(range) {
                    total.add(&dataset.activity(user, day));
                }
                let mut stats = serde_json::Map::new();
                for (name, count) in ACTIVITY_FIELDS.iter().zip(total.counts) {
                    stats.insert((*name).to_owned(), json!(count));
                }
                for (name, count) in total.extra {
                    stats.insert(name, json!(count));
                }
                json!({ "userId": u.id.to_string(), "userEmailAddress": u.email, "userAggregateActivityStats": stats })
            }
            (List::DayByDay, Some(range)) => {
                let entries: Vec<Value> =
                    days(range).map(|day| self.day_json(u.id, day, &dataset.activity(user, day))).collect();
                json!({ "userId": u.id.to_string(), "userEmailAddress": u.email, "userDailyActivityStats": entries })
            }
            (List::Interaction, Some((from, to))) => {
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

    /// `GET /v2/coaching`: what the manager did on each direct report's
    /// calls on the company days inside `[from, to)`.
    fn coaching_answer(&self, params: &HashMap<String, String>, request_id: &str) -> Result<Value, Reject> {
        let bad = |m: String| Reject(StatusCode::BAD_REQUEST, m, None);
        let id = |name: &str| -> Result<u64, Reject> {
            let v = params.get(name).ok_or_else(|| bad(format!("{name} is required")))?;
            v.parse().map_err(|_| bad(format!("{name} '{v}' is not a number")))
        };
        let instant = |name: &str| -> Result<Timestamp, Reject> {
            let v = params.get(name).ok_or_else(|| bad(format!("{name} is required")))?;
            v.parse()
                .map_err(|_| bad(format!("{name} '{v}' is not an ISO-8601 date-time, e.g. 2018-02-18T02:30:00-07:00")))
        };
        let (workspace, manager_id) = (id("workspace-id")?, id("manager-id")?);
        let (from, to) = (instant("from")?, instant("to")?);
        if from >= to {
            return Err(bad(format!("from {from} must be before to {to}")));
        }
        if !self.options.coaching_enabled {
            return Err(Reject(StatusCode::NOT_FOUND, "Coaching is not enabled for this company".to_owned(), None));
        }
        let dataset = self.dataset();
        if !dataset.workspaces().iter().any(|(w, _)| *w == workspace) {
            return Err(Reject(StatusCode::NOT_FOUND, "Workspace not found".to_owned(), None));
        }
        let users = dataset.users();
        let Some(manager) = users.iter().position(|u| u.id == manager_id) else {
            return Err(Reject(StatusCode::NOT_FOUND, "User not found".to_owned(), None));
        };
        // Company days wholly inside [from, to).
        let starts = |day: Date| crate::windows::start_of_day(day, &self.time_zone);
        let days: Vec<Date> =
            std::iter::successors(Some(crate::windows::company_date(from, &self.time_zone)), |d| d.tomorrow().ok())
                .take_while(|d| d.tomorrow().is_ok_and(|next| starts(next) <= to))
                .filter(|d| starts(*d) >= from)
                .collect();
        let person = |u: &dataset::SimUser| {
            json!({ "id": u.id.to_string(), "emailAddress": u.email, "firstName": u.first_name,
                    "lastName": u.last_name, "title": u.title })
        };
        let reports: Vec<Value> =
            users
                .iter()
                .enumerate()
                .filter(|(_, u)| u.manager_id == Some(manager_id))
                .map(|(r, u)| {
                    // A call belongs to one day, so its ID depends on the day:
                    // a window's list is the union of its days' lists.
                    let mut calls: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
                    for day in &days {
                        for (name, count) in dataset.coaching(manager, r, *day) {
                            let ids = calls.entry(name.clone()).or_default();
                            ids.extend((0..count).map(|k| {
                                (dataset_hash(&format!("{manager_id}{}{name}{k}{day}", u.id)) >> 2).to_string()
                            }));
                        }
                    }
                    let metrics: serde_json::Map<String, Value> =
                        calls.into_iter().map(|(name, ids)| (name, json!(ids))).collect();
                    json!({ "report": person(u), "metrics": metrics })
                })
                .collect();
        Ok(json!({
            "requestId": request_id,
            "coachingData": [{ "manager": person(&users[manager]), "directReportsMetrics": reports }],
        }))
    }

    fn format_instant(&self, t: Timestamp) -> String {
        crate::windows::iso_instant(t, &self.time_zone)
    }

    fn day_json(&self, user_id: u64, day: Date, activity: &DayActivity) -> Value {
        let mut entry = serde_json::Map::new();
        for (f, (name, count)) in ACTIVITY_FIELDS.iter().zip(activity.counts).enumerate() {
            let ids: Vec<String> =
                (0..count).map(|k| (dataset_hash(&format!("{user_id}{day}{f}{k}")) >> 2).to_string()).collect();
            entry.insert((*name).to_owned(), json!(ids));
        }
        for (k, (name, count)) in activity.extra.iter().enumerate() {
            let ids: Vec<String> =
                (0..*count).map(|i| (dataset_hash(&format!("{user_id}{day}x{k}{i}")) >> 2).to_string()).collect();
            entry.insert(name.clone(), json!(ids));
        }
        let start = crate::windows::start_of_day(day, &self.time_zone);
        let end = crate::windows::start_of_day(day.tomorrow().unwrap_or(day), &self.time_zone);
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
        json!({
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
            "visibilityType": "PUBLIC",
            "answers": answers,
        })
    }
}

/// Decrements the in-flight count when a request is answered or dropped.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct ParsedQuery {
    dates: Option<(Date, Date)>,
    review_method: Option<&'static str>,
    /// Sorted, so that equal filters give equal cache keys.
    user_ids: Option<BTreeSet<String>>,
    scorecard_ids: Option<BTreeSet<String>>,
}

fn path_of(list: List) -> &'static str {
    match list {
        List::Aggregate => "/v2/stats/activity/aggregate",
        List::DayByDay => "/v2/stats/activity/day-by-day",
        List::Interaction => "/v2/stats/interaction",
        List::Scorecards => "/v2/stats/activity/scorecards",
        List::Users => "/v2/users",
        List::Workspaces => "/v2/workspaces",
        List::Coaching => "/v2/coaching",
    }
}

/// The days of `[from, to)`.
fn days((from, to): (Date, Date)) -> impl Iterator<Item = Date> {
    crate::windows::days_of(from, to)
}

/// Which records `list` answers to `q`, in Gong's order: users in the
/// dataset's order, reviews by day then in the day's order.
fn index_records(dataset: &dyn Dataset, list: List, q: &ParsedQuery) -> RecordIndex {
    let users = dataset.users();
    let wanted = |id: u64| q.user_ids.as_ref().is_none_or(|ids| ids.contains(&id.to_string()));
    let users_where = |keep: &dyn Fn(usize) -> bool| -> Vec<usize> {
        users.iter().enumerate().filter(|(i, u)| wanted(u.id) && keep(*i)).map(|(i, _)| i).collect()
    };
    let had_activity = |user: usize, range: (Date, Date)| days(range).any(|d| !dataset.activity(user, d).is_empty());
    let none = RecordIndex::Users(Vec::new());
    match (list, q.dates) {
        (List::Users, _) => RecordIndex::Users((0..users.len()).collect()),
        (List::Aggregate, Some(range)) => {
            // Every active user is listed, idle ones with zeros, unless
            // nobody did anything in the period: then Gong answers 404.
            let active = users_where(&|i| users[i].active);
            let anyone_active = active.iter().any(|&i| had_activity(i, range));
            if anyone_active { RecordIndex::Users(active) } else { none }
        }
        (List::DayByDay, Some(range)) => RecordIndex::Users(users_where(&|i| had_activity(i, range))),
        (List::Interaction, Some((from, to))) => {
            RecordIndex::Users(users_where(&|i| !dataset.interaction(i, from, to).is_empty()))
        }
        (List::Scorecards, Some(range)) => {
            let method = q.review_method.unwrap_or("MANUAL");
            let matches = |s: &SimScorecard| {
                (method == "BOTH" || s.review_method() == method)
                    && wanted(s.reviewed_user_id)
                    && q.scorecard_ids.as_ref().is_none_or(|ids| ids.contains(&s.scorecard_id.to_string()))
            };
            RecordIndex::Scorecards(
                days(range)
                    .flat_map(|day| {
                        let reviews = dataset.scorecards_reviewed_on(day);
                        let positions: Vec<usize> =
                            reviews.iter().enumerate().filter(|(_, s)| matches(s)).map(|(k, _)| k).collect();
                        positions.into_iter().map(move |k| (day, k))
                    })
                    .collect(),
            )
        }
        _ => none,
    }
}

fn user_json(u: &dataset::SimUser) -> Value {
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

/// Strictly `YYYY-MM-DD`, as Gong documents.
fn parse_gong_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape.then(|| s.parse().ok()).flatten()
}

fn dataset_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn encode_cursor(fingerprint: u64, offset: usize) -> String {
    let payload = format!("{fingerprint:016x}.{offset}");
    let check = dataset_hash(&format!("sim-secret{payload}"));
    URL_SAFE_NO_PAD.encode(format!("{payload}.{check:016x}"))
}

/// The same query's cursor, `back` records earlier.
fn shift_cursor(cursor: &str, back: usize) -> Option<String> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (payload, _) = text.rsplit_once('.')?;
    let (fingerprint, offset) = payload.split_once('.')?;
    let fingerprint = u64::from_str_radix(fingerprint, 16).ok()?;
    Some(encode_cursor(fingerprint, offset.parse::<usize>().ok()?.saturating_sub(back)))
}

/// The request with its cursor replaced by `change(cursor)` (removed on
/// `None`): a POST's new body, or a GET's `params` changed in place.
fn rewrite_cursor(
    body: Option<&[u8]>,
    params: &mut HashMap<String, String>,
    change: impl FnOnce(Option<String>) -> Option<String>,
) -> Option<Vec<u8>> {
    match body {
        Some(bytes) => {
            let mut body: Value = serde_json::from_slice(bytes).ok()?;
            let cursor = body.get("cursor").and_then(Value::as_str).map(str::to_owned);
            match (change(cursor), body.as_object_mut()) {
                (Some(c), Some(object)) => object.insert("cursor".to_owned(), json!(c)),
                (None, Some(object)) => object.remove("cursor"),
                _ => None,
            };
            Some(body.to_string().into_bytes())
        }
        None => {
            match change(params.remove("cursor")) {
                Some(c) => params.insert("cursor".to_owned(), c),
                None => None,
            };
            None
        }
    }
}

/// A 200 with a streamed JSON body.
fn padded(body: faults::Padding) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], axum::body::Body::new(body)).into_response()
}

fn decode_cursor(cursor: &str, fingerprint: u64) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (payload, check) = text.rsplit_once('.')?;
    if format!("{:016x}", dataset_hash(&format!("sim-secret{payload}"))) != check {
        return None;
    }
    let (fp, offset) = payload.split_once('.')?;
    (fp == format!("{fingerprint:016x}")).then(|| offset.parse().ok()).flatten()
}

async fn aggregate(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    sim.handle(List::Aggregate, &headers, Some(&body), HashMap::new()).await
}

async fn day_by_day(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    sim.handle(List::DayByDay, &headers, Some(&body), HashMap::new()).await
}

async fn interaction(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    sim.handle(List::Interaction, &headers, Some(&body), HashMap::new()).await
}

async fn scorecards(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    sim.handle(List::Scorecards, &headers, Some(&body), HashMap::new()).await
}

async fn users(
    State(sim): State<Arc<Simulator>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    sim.handle(List::Users, &headers, None, params).await
}

async fn workspaces(
    State(sim): State<Arc<Simulator>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    sim.handle(List::Workspaces, &headers, None, params).await
}

async fn coaching(
    State(sim): State<Arc<Simulator>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    sim.handle(List::Coaching, &headers, None, params).await
}

/// A simulator serving on a socket.
#[derive(Debug)]
pub struct RunningSimulator {
    pub addr: SocketAddr,
    pub simulator: Arc<Simulator>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSimulator {
    /// `http://addr`, for `--gong.base-url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `simulator` on `addr` (port 0 picks a free one) in a background task.
pub async fn spawn(simulator: Arc<Simulator>, addr: SocketAddr) -> std::io::Result<RunningSimulator> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = Arc::clone(&simulator).router();
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "simulator server failed");
        }
    });
    Ok(RunningSimulator { addr, simulator, task })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use std::collections::HashSet;
    use tower::ServiceExt;

    fn sim(users: usize, page_size: usize, rate: f64) -> Arc<Simulator> {
        let tz = TimeZone::get("US/Pacific").unwrap();
        let mut options = SimulatorOptions::new("US/Pacific");
        options.page_size = page_size;
        options.rate_limit = rate;
        Simulator::new(Arc::new(dataset::GeneratedDataset::new(users, tz)), options).unwrap()
    }

    fn auth() -> String {
        format!("Basic {}", STANDARD.encode("demo:demo"))
    }

    async fn post(sim: &Arc<Simulator>, path: &str, body: Value, authz: &str) -> (StatusCode, HeaderMap, Value) {
        let request = Request::post(path)
            .header(header::AUTHORIZATION, authz)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = Arc::clone(sim).router().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn yesterday_filter(sim: &Simulator) -> Value {
        let today = sim.today();
        json!({ "filter": { "fromDate": today.checked_sub(7.days()).unwrap().to_string(), "toDate": today.to_string() } })
    }

    #[tokio::test]
    async fn pages_follow_cursor_to_the_end() {
        let sim = sim(250, 100, 1000.0);
        let mut body = yesterday_filter(&sim);
        let mut seen = Vec::new();
        loop {
            let (status, _, page) = post(&sim, "/v2/stats/activity/aggregate", body.clone(), &auth()).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert_eq!(page["timeZone"], "US/Pacific");
            seen.extend(page["usersAggregateActivityStats"].as_array().unwrap().iter().map(|u| u["userId"].clone()));
            match page["records"]["cursor"].as_str() {
                Some(c) => body["cursor"] = json!(c),
                None => break,
            }
        }
        let active = sim.dataset().users().iter().filter(|u| u.active).count();
        assert_eq!(seen.len(), active);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), active, "no user on two pages");
    }

    #[tokio::test]
    async fn cursor_bound_to_filter_and_tamper_proof() {
        let sim = sim(250, 100, 1000.0);
        let (_, _, page) = post(&sim, "/v2/stats/activity/aggregate", yesterday_filter(&sim), &auth()).await;
        let cursor = page["records"]["cursor"].as_str().unwrap().to_owned();
        let mut other = yesterday_filter(&sim);
        other["filter"]["fromDate"] = json!(sim.today().checked_sub(3.days()).unwrap().to_string());
        other["cursor"] = json!(cursor);
        let (status, _, _) = post(&sim, "/v2/stats/activity/aggregate", other, &auth()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let mut forged = yesterday_filter(&sim);
        forged["cursor"] = json!(encode_cursor(1, 100).replace('A', "B"));
        let (status, _, _) = post(&sim, "/v2/stats/activity/aggregate", forged, &auth()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn rejects_bad_credentials_dates_and_methods() {
        let sim = sim(10, 100, 1000.0);
        let (status, _, body) = post(&sim, "/v2/users", json!({}), "Basic bm9wZTpub3Bl").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        let (status, _, body) = post(&sim, "/v2/stats/interaction", yesterday_filter(&sim), "Basic bm9wZTpub3Bl").await;
        assert_eq!((status, body["errors"][0].as_str()), (StatusCode::UNAUTHORIZED, Some("Access denied")));
        let tomorrow = sim.today().tomorrow().unwrap().to_string();
        for filter in [
            json!({ "fromDate": "2024-13-01", "toDate": "2024-12-02" }),
            json!({ "fromDate": "2024/01/01", "toDate": "2024-12-02" }),
            json!({ "fromDate": "2024-01-05", "toDate": "2024-01-05" }),
            json!({ "fromDate": "2024-01-05", "toDate": tomorrow }),
            json!({ "toDate": "2024-01-05" }),
        ] {
            let (status, _, body) =
                post(&sim, "/v2/stats/activity/aggregate", json!({ "filter": filter }), &auth()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{filter} -> {body}");
            assert!(body["requestId"].is_string() && body["errors"][0].is_string());
        }
        let (status, _, _) =
            post(&sim, "/v2/stats/activity/scorecards", json!({ "filter": { "reviewMethod": "SOMETIMES" } }), &auth())
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn empty_period_is_404() {
        let tz = TimeZone::get("UTC").unwrap();
        let data = dataset::FixtureDataset {
            users: dataset::GeneratedDataset::new(3, tz).users().to_vec(),
            ..Default::default()
        };
        let sim = Simulator::new(Arc::new(data), SimulatorOptions::new("UTC")).unwrap();
        let (status, _, body) = post(&sim, "/v2/stats/activity/aggregate", yesterday_filter(&sim), &auth()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["errors"][0], "User not found");
        let (status, _, _) =
            post(&sim, "/v2/stats/activity/scorecards", json!({ "filter": { "reviewMethod": "BOTH" } }), &auth()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn over_the_rate_limit_answers_429_with_retry_after() {
        let sim = sim(5, 100, 3.0);
        let mut statuses = Vec::new();
        let mut retry_after = None;
        for _ in 0..6 {
            let (status, headers, _) = post(&sim, "/v2/stats/interaction", yesterday_filter(&sim), &auth()).await;
            statuses.push(status);
            if status == StatusCode::TOO_MANY_REQUESTS {
                retry_after = headers.get(header::RETRY_AFTER).cloned();
            }
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 3, "{statuses:?}");
        let seconds: u64 = retry_after.expect("Retry-After on 429").to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&seconds), "{seconds}");
    }

    /// Every record of a query at once, computed the way the simulator did
    /// before it built pages on demand: the reference pages must match.
    fn whole_list(sim: &Simulator, list: List, q: &ParsedQuery) -> Vec<Value> {
        let dataset = sim.dataset();
        let users = dataset.users();
        let wanted = |id: u64| q.user_ids.as_ref().is_none_or(|ids| ids.contains(&id.to_string()));
        match (list, q.dates) {
            (List::Users, _) => users.iter().map(user_json).collect(),
            (List::Aggregate, Some(range)) => {
                let mut any_activity = false;
                let rows: Vec<Value> = users
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| u.active && wanted(u.id))
                    .map(|(i, u)| {
                        let mut total = DayActivity::default();
                        for day in days(range) {
                            total.add(&dataset.activity(i, day));
                        }
                        any_activity |= !total.is_empty();
                        let mut stats = serde_json::Map::new();
                        for (name, count) in ACTIVITY_FIELDS.iter().zip(total.counts) {
                            stats.insert((*name).to_owned(), json!(count));
                        }
                        for (name, count) in total.extra {
                            stats.insert(name, json!(count));
                        }
                        json!({ "userId": u.id.to_string(), "userEmailAddress": u.email, "userAggregateActivityStats": stats })
                    })
                    .collect();
                if any_activity { rows } else { Vec::new() }
            }
            (List::DayByDay, Some(range)) => users
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
            (List::Interaction, Some((from, to))) => users
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
            (List::Scorecards, Some(range)) => {
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

    /// The simulator's answer to one page of `list` (no HTTP, so that
    /// floats are compared exactly).
    fn ask(sim: &Simulator, list: List, body: &Value, cursor: Option<&str>) -> Result<Value, (StatusCode, String)> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&auth()).unwrap());
        let answer = if list == List::Users {
            let params: HashMap<String, String> =
                cursor.map(|c| ("cursor".to_owned(), c.to_owned())).into_iter().collect();
            sim.answer(list, &headers, None, &params, "test")
        } else {
            let mut body = body.clone();
            if let Some(c) = cursor {
                body["cursor"] = json!(c);
            }
            sim.answer(list, &headers, Some(body.to_string().as_bytes()), &HashMap::new(), "test")
        };
        answer.map_err(|Reject(status, message, _)| (status, message))
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
            |sim: &Simulator| ask(sim, List::Scorecards, &body, None).unwrap()["records"]["totalRecords"].as_u64();
        let early = total(&sim);
        // The same query three hours later: the reviews indexed late are in.
        clock.set(midnight + 3.hours());
        assert!(total(&sim) > early, "{:?} then {:?}", early, total(&sim));
    }

    #[test]
    fn pages_concatenate_to_the_whole_list() {
        let sim = sim(60, 7, 1e6);
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
            (List::Users, Value::Null),
            (List::Aggregate, period(json!({}))),
            (List::Aggregate, period(json!({ "userIds": some_users }))),
            (List::Aggregate, period(json!({ "userIds": idle_users }))),
            (List::DayByDay, period(json!({}))),
            (List::DayByDay, period(json!({ "userIds": some_users }))),
            (List::DayByDay, period(json!({ "userIds": idle_users }))),
            (List::Interaction, period(json!({}))),
            (List::Interaction, period(json!({ "userIds": some_users }))),
            (List::Interaction, period(json!({ "userIds": idle_users }))),
            (List::Scorecards, reviews(json!({}))),
            (List::Scorecards, reviews(json!({ "reviewMethod": "BOTH" }))),
            (List::Scorecards, reviews(json!({ "reviewMethod": "AUTOMATIC" }))),
            (List::Scorecards, reviews(json!({ "reviewMethod": "BOTH", "reviewedUserIds": some_users }))),
            (
                List::Scorecards,
                reviews(json!({ "reviewMethod": "BOTH", "scorecardIds": [dataset::SCORECARDS[1].0.to_string()] })),
            ),
            (List::Scorecards, reviews(json!({ "reviewedUserIds": idle_users }))),
        ];
        for (list, body) in cases {
            let case = format!("{list:?} {body}");
            let Ok(query) = sim.parse_filter(list, &body["filter"]) else { panic!("{case}: rejected filter") };
            let expected = whole_list(&sim, list, &query);
            let mut pages = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                match ask(&sim, list, &body, cursor.as_deref()) {
                    Ok(page) => {
                        assert_eq!(page["records"]["totalRecords"], expected.len(), "{case}");
                        assert_eq!(page["records"]["currentPageNumber"], pages.len(), "{case}");
                        let records = page[list.key()].as_array().unwrap().clone();
                        assert_eq!(page["records"]["currentPageSize"], records.len(), "{case}");
                        pages.push(records);
                        match page["records"]["cursor"].as_str() {
                            Some(c) => cursor = Some(c.to_owned()),
                            None => break,
                        }
                    }
                    Err((status, message)) => {
                        assert!(expected.is_empty() && pages.is_empty(), "{case}: {status} {message}");
                        assert_eq!((status, message.as_str()), (StatusCode::NOT_FOUND, list.not_found()), "{case}");
                        break;
                    }
                }
            }
            assert_eq!(pages.len(), expected.len().div_ceil(7), "{case}");
            assert_eq!(pages.concat(), expected, "{case}");
        }
        // The cases test what they mean to: unfiltered lists span pages,
        // filtered ones keep some records, the idle users' lists are empty.
        let total = |list: List, body: &Value| {
            ask(&sim, list, body, None).map_or(0, |p| p["records"]["totalRecords"].as_u64().unwrap())
        };
        for list in [List::Users, List::Aggregate, List::DayByDay, List::Interaction] {
            let body = if list == List::Users { Value::Null } else { period(json!({})) };
            assert!(total(list, &body) > 7, "{list:?}");
            if list != List::Users {
                assert!(total(list, &period(json!({ "userIds": some_users }))) > 0, "{list:?}");
                assert_eq!(total(list, &period(json!({ "userIds": idle_users }))), 0, "{list:?}");
            }
        }
        for method in ["MANUAL", "AUTOMATIC", "BOTH"] {
            assert!(total(List::Scorecards, &reviews(json!({ "reviewMethod": method }))) > 7, "{method}");
        }
        assert!(
            total(List::Scorecards, &reviews(json!({ "reviewMethod": "BOTH", "reviewedUserIds": some_users }))) > 0
        );
        assert_eq!(total(List::Scorecards, &reviews(json!({ "reviewedUserIds": idle_users }))), 0);
    }

    #[test]
    fn gong_dates_are_strict() {
        assert_eq!(parse_gong_date("2024-02-29"), Some(jiff::civil::date(2024, 2, 29)));
        for bad in ["2023-02-29", "20240229", "2024-2-29", "2024-02-29T00:00", ""] {
            assert_eq!(parse_gong_date(bad), None, "{bad}");
        }
    }
}
