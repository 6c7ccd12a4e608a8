//! Gong API client: authentication, rate limiting, retries and pagination,
//! for any page type; each collector ([`crate::collectors`]) asks for its own
//! endpoint's pages through [`GongClient::fetch_all`], and [`models`] holds
//! what every answer shares (IDs, paging, records left out).

mod auth;
mod credentials;
mod error;
pub mod models;

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::Authorizer;
use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jiff::civil::Date;
use reqwest::header::{AUTHORIZATION, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde_json::json;
use tokio::time::Instant;

pub use credentials::{Credentials, GONG_TOKEN_URL, OAuthApp, REFRESH_TOKEN_FILE, encrypted_or_loopback};
pub use error::{ErrorDetail, GongError};
use models::{ErrorBody, Page, Record as _, SkipCounts};

use crate::endpoint::Endpoint;
use crate::self_metrics::{SelfMetrics, SkipReason};

/// How the client talks to Gong.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub base_url: Url,
    pub credentials: Credentials,
    /// Requests per second, all endpoints together.
    pub rate_limit: f64,
    /// Per request, including the body.
    pub timeout: Duration,
    /// Retries of one request after a transient failure.
    pub max_retries: u32,
    /// `--gong.max-response-size`: the largest body read, per page.
    pub max_response_bytes: u64,
    /// First backoff step (doubles per retry, with jitter); [`MIN_BACKOFF`]
    /// (not a flag: tests shorten it).
    pub min_backoff: Duration,
    /// Backoff ceiling; [`MAX_BACKOFF`].
    pub max_backoff: Duration,
}

/// First retry backoff step: half a second, doubling up to a minute, so
/// five retries span about 15 s before jitter, long enough for a Gong blip.
pub const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// Backoff ceiling.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// All pages of one query.
#[derive(Debug)]
pub struct Fetched<T> {
    pub items: Vec<T>,
    /// The company's zone, when the endpoint reports it.
    pub time_zone: Option<String>,
    /// Pages received (0 when Gong answered 404: nothing in the period).
    pub pages: u32,
    /// Records left out, by reason (a null ID, an absurd label, an invalid
    /// number, a duplicate).
    pub skipped: SkipCounts,
    /// Gong's requestId of the first page that had such a record.
    pub skipped_request_id: Option<String>,
}

/// A Gong API client. Cheap to share behind an `Arc`; every request goes
/// through one rate limiter, so concurrent queries together stay under
/// `--gong.rate-limit`.
pub struct GongClient {
    http: reqwest::Client,
    /// Each request's credentials, renewed when they expire or Gong
    /// refuses them.
    auth: Authorizer,
    limiter: DefaultDirectRateLimiter,
    options: ClientOptions,
    self_metrics: Arc<SelfMetrics>,
    /// Requests sent since start, retries included, per endpoint (in
    /// [`Endpoint::ALL`]'s order): the budget reads their sum, the landing
    /// page's plan what a cycle asked of each.
    sent_to: [AtomicU64; Endpoint::ALL.len()],
    /// Users in the last complete users list (0 before one): how many pages
    /// a query whose answers announce no total can need.
    known_users: AtomicU64,
    /// Today's share of the quota, set by the poller as each company day
    /// starts: no request is sent past it, so a runaway cycle is cut off
    /// mid-way, not counted at its end. Kept here, not in the poller, so
    /// that a poller started again after a panic resumes the day's count
    /// instead of granting itself a new allowance.
    budget_day: Mutex<Option<BudgetDay>>,
    /// No request before this instant: Gong's last `Retry-After`. Gong's
    /// limits are per company, so one endpoint's 429 pauses them all.
    paused_until: Mutex<Option<Instant>>,
}

impl fmt::Debug for GongClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GongClient").field("base_url", &self.options.base_url.as_str()).finish_non_exhaustive()
    }
}

/// A company day's request budget: the day, the running total of requests
/// when it began, and how many it allows.
#[derive(Debug, Clone, Copy)]
struct BudgetDay {
    day: Date,
    baseline: u64,
    allowance: u64,
}

/// The request of one query, repeated with a cursor for each page.
pub enum Query {
    /// A POST's `filter` object.
    Post(serde_json::Value),
    /// Query parameters.
    Get(Vec<(&'static str, String)>),
}

impl Query {
    /// The stats endpoints' filter for the company days `[from, to)`.
    pub fn dates(from: Date, to: Date) -> Self {
        Self::Post(json!({ "fromDate": from.to_string(), "toDate": to.to_string() }))
    }
}

impl GongClient {
    /// Builds a client; fails only if the TLS backend cannot initialise.
    pub fn new(options: ClientOptions, self_metrics: Arc<SelfMetrics>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("gong-exporter/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.timeout)
            // A redirected POST would be re-sent as a GET and its answer
            // taken for data; Gong's API does not redirect, so a redirect
            // means a wrong base URL or a proxy: fail, naming where to.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let auth = Authorizer::new(&options.credentials, Arc::clone(&self_metrics), options.timeout);
        Ok(Self {
            http,
            auth,
            limiter: RateLimiter::direct(quota(options.rate_limit)),
            options,
            self_metrics,
            sent_to: Default::default(),
            known_users: AtomicU64::new(0),
            budget_day: Mutex::new(None),
            paused_until: Mutex::new(None),
        })
    }

    /// Company day `day` began when [`GongClient::requests_sent`] read
    /// `baseline`: no request is sent once it reaches `baseline +
    /// allowance`; each one after fails with [`GongError::BudgetSpent`].
    pub fn start_budget_day(&self, day: Date, baseline: u64, allowance: u64) {
        *self.budget_day.lock().expect("budget lock") = Some(BudgetDay { day, baseline, allowance });
    }

    /// What [`GongClient::start_budget_day`] said last.
    pub fn budget_day(&self) -> Option<(Date, u64)> {
        self.budget_day.lock().expect("budget lock").map(|b| (b.day, b.baseline))
    }

    /// Requests sent since start, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.sent_to.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    /// Requests sent to `endpoint` since start, retries included.
    pub fn requests_sent_to(&self, endpoint: Endpoint) -> u64 {
        self.sent_to[endpoint.index()].load(Ordering::Relaxed)
    }

    /// Every page of one query to `endpoint`, each record checked once
    /// (records left out are counted by reason), a record that comes again
    /// replacing the first. Each collector asks through this with its own
    /// page type. `pages` is 0 when Gong answered 404: nothing found.
    pub async fn fetch_all<P: Page>(
        &self,
        endpoint: Endpoint,
        query: Query,
        deadline: Instant,
    ) -> Result<Fetched<P::Item>, GongError> {
        let mut fetched = Fetched {
            items: Vec::new(),
            time_zone: None,
            pages: 0,
            skipped: SkipCounts::default(),
            skipped_request_id: None,
        };
        let mut cursor: Option<String> = None;
        let mut paging = PagingGuard::new(endpoint, self.known_users.load(Ordering::Acquire));
        // Each key's place in `items`: a record that comes again (data
        // shifting between pages) replaces the first, as the later answer.
        let mut places: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
        loop {
            let Some(page) = self.fetch_page_with_retries::<P>(endpoint, &query, cursor.as_deref(), deadline).await?
            else {
                break;
            };
            fetched.pages += 1;
            if fetched.time_zone.is_none() {
                fetched.time_zone = page.time_zone().map(str::to_owned);
            }
            let next = page.records().cursor.clone().filter(|c| !c.is_empty());
            let request_id = page.request_id().map(str::to_owned);
            if let Some(next) = &next
                && let Err(reason) = paging.next_page(next, page.records(), fetched.pages)
            {
                return Err(GongError::Paging {
                    endpoint,
                    reason,
                    detail: ErrorDetail { request_id, messages: vec![] },
                });
            }
            let mut listed = page.into_listed();
            for item in listed.items {
                match item.key().map(|key| places.entry(key)) {
                    Some(std::collections::hash_map::Entry::Occupied(place)) => {
                        fetched.items[*place.get()] = item;
                        listed.skipped.duplicate += 1;
                    }
                    Some(std::collections::hash_map::Entry::Vacant(place)) => {
                        place.insert(fetched.items.len());
                        fetched.items.push(item);
                    }
                    None => fetched.items.push(item),
                }
            }
            if listed.skipped.total() > 0 {
                for (reason, count) in listed.skipped.by_reason() {
                    if count > 0 {
                        self.self_metrics.records_skipped(endpoint, reason, count);
                    }
                }
                fetched.skipped += listed.skipped;
                fetched.skipped_request_id = fetched.skipped_request_id.or(request_id);
            }
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // Most of an answer unusable hides every user it drops behind a
        // successful poll; one or two bad records in a small answer are
        // just that, skipped and counted.
        let skipped = fetched.skipped.total() - fetched.skipped.duplicate;
        let received = fetched.items.len() as u64 + skipped;
        if skipped >= MOSTLY_SKIPPED_MIN && skipped * 2 > received {
            let reason = fetched.skipped.by_reason().into_iter().filter(|(r, _)| *r != SkipReason::Duplicate);
            let reason = reason.max_by_key(|(_, n)| *n).map_or("unknown", |(r, _)| r.as_str());
            return Err(GongError::MostlySkipped {
                endpoint,
                skipped,
                received,
                reason,
                detail: ErrorDetail { request_id: fetched.skipped_request_id, messages: vec![] },
            });
        }
        if endpoint == Endpoint::Users {
            // What bounds the paging of later queries without a total.
            self.known_users.store(fetched.items.len() as u64, Ordering::Release);
        }
        Ok(fetched)
    }

    /// The company's zone as the first page of `query` names it (the stats
    /// answers that carry `timeZone`); `None` when Gong answers 404, which
    /// carries no zone. One request.
    pub async fn first_page_zone<P: Page>(
        &self,
        endpoint: Endpoint,
        query: &Query,
        deadline: Instant,
    ) -> Result<Option<String>, GongError> {
        let page = self.fetch_page_with_retries::<P>(endpoint, query, None, deadline).await?;
        Ok(page.and_then(|p| p.time_zone().map(str::to_owned)))
    }

    /// One page (the first when `cursor` is `None`), retried on transient
    /// failures; `Ok(None)` is Gong's 404.
    pub async fn fetch_page_with_retries<P: Page>(
        &self,
        endpoint: Endpoint,
        query: &Query,
        cursor: Option<&str>,
        deadline: Instant,
    ) -> Result<Option<P>, GongError> {
        // backon's own jitter only adds to the step; full jitter (a uniform
        // wait between zero and the step) spreads retries better.
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.options.min_backoff)
            .with_max_delay(self.options.max_backoff)
            .with_max_times(self.options.max_retries as usize);
        let result = (|| self.fetch_page_renewing::<P>(endpoint, query, cursor, deadline))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(GongError::is_retriable)
            .adjust(|error, backoff| {
                // Retries stay bounded by --gong.max-retries either way.
                let wait = backoff.map(|step| retry_wait(error, step))?;
                // A wait past the deadline would stall the cycle: give up now.
                (Instant::now() + wait <= deadline).then_some(wait)
            })
            .notify(|error, wait| {
                let reason = error.retry_reason().unwrap_or("other");
                self.self_metrics.retried(endpoint, reason);
                tracing::warn!(%endpoint, reason, retry_in = ?wait, error = %error, "retrying Gong request");
            })
            .await;
        match result {
            Err(GongError::RateLimited { endpoint, retry_after: Some(retry_after), detail })
                if Instant::now() + retry_after > deadline =>
            {
                Err(GongError::RetryAfterTooLong {
                    endpoint,
                    retry_after,
                    time_left: deadline.saturating_duration_since(Instant::now()),
                    detail,
                })
            }
            other => other,
        }
    }

    /// One attempt at one page, sent once more at once when a 401 renewed
    /// the credentials: that resend is not one of `--gong.max-retries`,
    /// which are for Gong's and the network's failures (with none left, a
    /// renewal ended the query while saying it would try again).
    async fn fetch_page_renewing<P: Page>(
        &self,
        endpoint: Endpoint,
        query: &Query,
        cursor: Option<&str>,
        deadline: Instant,
    ) -> Result<Option<P>, GongError> {
        match self.fetch_page::<P>(endpoint, query, cursor, deadline).await {
            Err(renewed @ GongError::Renewed { .. }) => {
                self.self_metrics.retried(endpoint, "credentials_renewed");
                tracing::info!(%endpoint, error = %renewed, "sending the request again with the renewed credentials");
                self.fetch_page::<P>(endpoint, query, cursor, deadline).await
            }
            other => other,
        }
    }

    /// One attempt at one page. `Ok(None)` is Gong's 404: nothing found.
    async fn fetch_page<P: Page>(
        &self,
        endpoint: Endpoint,
        query: &Query,
        cursor: Option<&str>,
        deadline: Instant,
    ) -> Result<Option<P>, GongError> {
        self.wait_for_slot(endpoint, deadline).await?;
        let auth = self.auth.current(&self.http, endpoint).await.inspect_err(|e| {
            if let Some(reason) = e.auth_failure() {
                self.self_metrics.auth_failed(endpoint, reason);
            }
        })?;
        self.count_within_budget(endpoint)?;
        let url = self.url(auth.base_url.as_ref(), endpoint);
        let request = self.request(url.clone(), query, cursor);
        let started = Instant::now();
        let limit = self.options.max_response_bytes;
        let outcome = async {
            let mut response =
                request.header(AUTHORIZATION, auth.header.clone()).timeout(self.options.timeout).send().await?;
            let status = response.status();
            let retry_after = response.headers().get(RETRY_AFTER).and_then(parse_retry_after);
            let location = response.headers().get(LOCATION).map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
            let body = read_capped(&mut response, limit).await?;
            Ok::<_, ReadError>((status, retry_after, location, body))
        }
        .await;
        let elapsed = started.elapsed();
        let (status, retry_after, location, body) = match outcome {
            Ok(parts) => parts,
            Err(ReadError::TooLarge) => {
                self.self_metrics.request_finished(endpoint, "too_large", elapsed);
                return Err(GongError::TooLarge { endpoint, limit });
            }
            Err(ReadError::Http(error)) if error.is_timeout() => {
                self.self_metrics.request_finished(endpoint, "timeout", elapsed);
                return Err(GongError::Timeout { endpoint, timeout: self.options.timeout });
            }
            Err(ReadError::Http(error)) => {
                self.self_metrics.request_finished(endpoint, "connect", elapsed);
                return Err(GongError::Connect { endpoint, reason: error_chain(&error) });
            }
        };
        self.self_metrics.request_finished(endpoint, status.as_str(), elapsed);
        // Per request, for --log.level debug: what was asked and answered
        // (never the headers, which carry the credentials).
        tracing::debug!(
            %endpoint,
            code = status.as_u16(),
            bytes = body.len(),
            seconds = elapsed.as_secs_f64(),
            "Gong answered"
        );

        if status.is_success() {
            self.auth.worked();
            return serde_json::from_slice::<P>(&body).map(Some).map_err(|e| {
                let (reason, detail) = (e.to_string(), error_detail(&body));
                match e.classify() {
                    serde_json::error::Category::Data => GongError::Shape { endpoint, reason, detail },
                    _ => GongError::Decode { endpoint, reason, detail },
                }
            });
        }
        if status.is_redirection() {
            return Err(GongError::Redirected {
                endpoint,
                status: status.as_u16(),
                location: location.unwrap_or_else(|| "(no Location header)".to_owned()),
            });
        }
        let detail = error_detail(&body);
        let error = match status {
            // Gong's "nothing found" is its JSON error object; any other 404
            // (HTML, a proxy, a doubled /v2) must not pass for empty data.
            StatusCode::NOT_FOUND if is_gong_error_object(&body) => return Ok(None),
            StatusCode::NOT_FOUND => GongError::NotFound { endpoint, url: url.to_string() },
            StatusCode::UNAUTHORIZED if names_a_permission(&detail) => {
                GongError::MissingScope { endpoint, status: status.as_u16(), detail }
            }
            StatusCode::UNAUTHORIZED => {
                match self.auth.renew_after_unauthorized(&self.http, endpoint, &auth.header).await {
                    Ok(true) => return Err(GongError::Renewed { endpoint, detail }),
                    Ok(false) => GongError::Unauthorized { endpoint, detail },
                    // Counted below, as any refusal.
                    Err(refresh_failed) => refresh_failed,
                }
            }
            StatusCode::FORBIDDEN if names_a_permission(&detail) => {
                GongError::MissingScope { endpoint, status: status.as_u16(), detail }
            }
            StatusCode::FORBIDDEN => GongError::Forbidden { endpoint, detail },
            StatusCode::TOO_MANY_REQUESTS => {
                if let Some(wait) = retry_after {
                    self.pause_until(Instant::now() + wait);
                }
                GongError::RateLimited { endpoint, retry_after, detail }
            }
            s if s.is_server_error() => GongError::Server { endpoint, status: s.as_u16(), detail },
            s => GongError::Rejected { endpoint, status: s.as_u16(), detail },
        };
        if let Some(reason) = error.auth_failure() {
            self.self_metrics.auth_failed(endpoint, reason);
        }
        Err(error)
    }

    /// The request of `query` at `cursor`, without its credentials.
    fn request(&self, mut url: Url, query: &Query, cursor: Option<&str>) -> reqwest::RequestBuilder {
        match query {
            Query::Post(filter) => {
                let mut body = json!({ "filter": filter });
                if let Some(cursor) = cursor {
                    body["cursor"] = json!(cursor);
                }
                self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string())
            }
            Query::Get(params) => {
                if !params.is_empty() || cursor.is_some() {
                    let mut pairs = url.query_pairs_mut();
                    for (key, value) in params {
                        pairs.append_pair(key, value);
                    }
                    if let Some(cursor) = cursor {
                        pairs.append_pair("cursor", cursor);
                    }
                }
                self.http.get(url)
            }
        }
    }

    /// Counts a request about to be sent, or refuses it once today's
    /// allowance is spent. Under the budget's lock: concurrent queries
    /// cannot together pass the allowance.
    fn count_within_budget(&self, endpoint: Endpoint) -> Result<(), GongError> {
        let budget = self.budget_day.lock().expect("budget lock");
        let sent = self.requests_sent();
        if let Some(b) = *budget
            && sent >= b.baseline.saturating_add(b.allowance)
        {
            return Err(GongError::BudgetSpent { endpoint, allowance: b.allowance });
        }
        self.sent_to[endpoint.index()].fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn pause_until(&self, until: Instant) {
        let mut paused = self.paused_until.lock().expect("pause lock");
        *paused = Some(paused.map_or(until, |p| p.max(until)));
    }

    /// Waits for a limiter slot outside any pause Gong asked for. A 429 on
    /// one endpoint may arrive while another waits for its slot: the pause
    /// is checked again once the slot is granted, so no request leaves
    /// inside a `Retry-After`. Gives up at once (sending nothing) when the
    /// pause outlasts `deadline`.
    async fn wait_for_slot(&self, endpoint: Endpoint, deadline: Instant) -> Result<(), GongError> {
        loop {
            self.wait_out_pause(endpoint, deadline).await?;
            self.limiter.until_ready().await;
            let paused = self.paused_until.lock().expect("pause lock").is_some_and(|until| until > Instant::now());
            if !paused {
                return Ok(());
            }
        }
    }

    /// Waits out a pause Gong asked for, or gives up at once when it
    /// outlasts `deadline`.
    async fn wait_out_pause(&self, endpoint: Endpoint, deadline: Instant) -> Result<(), GongError> {
        let until = *self.paused_until.lock().expect("pause lock");
        let Some(until) = until.filter(|u| *u > Instant::now()) else {
            return Ok(());
        };
        if until > deadline {
            let now = Instant::now();
            return Err(GongError::RetryAfterTooLong {
                endpoint,
                retry_after: until - now,
                time_left: deadline.saturating_duration_since(now),
                detail: ErrorDetail::default(),
            });
        }
        tokio::time::sleep_until(until).await;
        Ok(())
    }

    /// `endpoint` under `base_url` (the token answer's), else under
    /// `--gong.base-url`.
    fn url(&self, base_url: Option<&Url>, endpoint: Endpoint) -> Url {
        let mut url = base_url.unwrap_or(&self.options.base_url).clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{}", endpoint.path()));
        url
    }
}

/// Why a body was not read whole.
enum ReadError {
    Http(reqwest::Error),
    /// Longer than `--gong.max-response-size`.
    TooLarge,
}

impl From<reqwest::Error> for ReadError {
    fn from(error: reqwest::Error) -> Self {
        Self::Http(error)
    }
}

/// Reads `response`'s body, at most `limit` bytes: a longer one (announced
/// or streamed) stops as soon as it passes the limit, so an endless body
/// costs `limit` bytes of memory, not everything until the timeout.
async fn read_capped(response: &mut reqwest::Response, limit: u64) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|announced| announced > limit) {
        return Err(ReadError::TooLarge);
    }
    let announced = response.content_length().unwrap_or(0).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The records one query may page through when Gong announces no total and
/// the company's size is not known yet: the largest company this exporter
/// is sized for. Every list in Gong's reference announces
/// `totalRecords`; one that does not, and whose cursor never ends, would
/// otherwise spend the day's whole share on one query.
const MAX_RECORDS_UNKNOWN_SIZE: u64 = 10_000;

/// The largest total of records a query's answer is believed to announce:
/// five times the largest company this exporter is sized for. A larger one
/// (a hostile or broken answer) is read as this, so the query stops at
/// 1,010 pages.
const MAX_RECORDS_ANNOUNCED: u64 = 5 * MAX_RECORDS_UNKNOWN_SIZE;

/// Answered scorecards one query may hold per user when Gong announces no
/// total: a review a day for each of the longest window's days, three
/// times over.
const REVIEWS_PER_USER: u64 = 100;

/// Unusable records from which an answer that is more than half unusable
/// fails its poll instead of being published.
const MOSTLY_SKIPPED_MIN: u64 = 3;

/// Records a full page holds (the reference: up to 100 a page). The bound
/// counts pages of at least this size: `currentPageSize` is what one page
/// held, and pages of one record each would multiply the requests a query
/// may send by a hundred.
const DOCUMENTED_PAGE_SIZE: i64 = 100;

/// Ends a query whose paging does not: a cursor Gong sent before (A, B, A,
/// B... would loop for ever), or far more pages than the records can fill:
/// those Gong announced, or, without a total, what the company's users can
/// account for.
#[derive(Debug)]
struct PagingGuard {
    seen: std::collections::HashSet<String>,
    /// The largest page so far, or the documented size if larger: the
    /// page size the bound counts in.
    page_size: i64,
    /// Records the query can need: one per known user (100 for answered
    /// scorecards), or [`MAX_RECORDS_UNKNOWN_SIZE`] before the company's
    /// size is known.
    need: u64,
    /// Whether `need` has its headroom built in (100 answered scorecards a
    /// user): then ten pages more bound it, else twice its pages (users
    /// added since the last users list).
    need_has_headroom: bool,
    /// Whether an announced total past `need` is disbelieved: for the
    /// stats once the users are known. The users list itself is what says
    /// how many users there are, so a company that grew is believed.
    capped_by_need: bool,
}

impl PagingGuard {
    /// A guard for a query of `endpoint` in a company of `known_users`
    /// (0: not known yet).
    fn new(endpoint: Endpoint, known_users: u64) -> Self {
        let need = match (endpoint, known_users) {
            (_, 0) => MAX_RECORDS_UNKNOWN_SIZE,
            (Endpoint::Scorecards, users) => users.saturating_mul(REVIEWS_PER_USER),
            // One record per user (or per manager, or per workspace).
            (_, users) => users,
        };
        Self {
            seen: std::collections::HashSet::new(),
            page_size: DOCUMENTED_PAGE_SIZE,
            need,
            need_has_headroom: endpoint == Endpoint::Scorecards && known_users > 0,
            capped_by_need: known_users > 0 && endpoint != Endpoint::Users,
        }
    }

    /// Page `pages` (1-based) came with `next` and `records`: may the
    /// query go on to `next`?
    fn next_page(&mut self, next: &str, records: &models::Records, pages: u32) -> Result<(), String> {
        if !self.seen.insert(next.to_owned()) {
            return Err(format!("page {pages} names a cursor Gong already sent on this query"));
        }
        self.page_size = self.page_size.max(records.current_page_size.unwrap_or(0));
        let page_size = self.page_size;
        let pages_of = |records: u64| records.div_ceil(page_size.unsigned_abs());
        let need_bound = match self.need_has_headroom {
            true => pages_of(self.need).saturating_add(10),
            false => pages_of(self.need).saturating_mul(2).saturating_add(10),
        };
        // An announced total: twice the pages it fills, and ten more
        // (records added while paging shift a few, never this many), up to
        // a total no company this exporter is sized for has. Past what the
        // users can need, or past that ceiling, it is a hostile or broken
        // answer: believed, it would let the query run on until the day's
        // share is spent.
        let announced = records.total_records.and_then(|total| u64::try_from(total).ok());
        let announced_bound =
            |total: u64| pages_of(total.min(MAX_RECORDS_ANNOUNCED)).saturating_mul(2).saturating_add(10);
        let bound = match announced {
            None => need_bound,
            Some(total) if self.capped_by_need => announced_bound(total).min(need_bound),
            Some(total) => announced_bound(total),
        };
        if u64::from(pages) < bound {
            return Ok(());
        }
        // Said only when the query stops, not formatted for every page.
        let expected = match announced {
            None => format!(
                "Gong announced no total, and the company's users fill {} pages of {page_size}",
                pages_of(self.need)
            ),
            Some(total) if self.capped_by_need && need_bound < announced_bound(total) => format!(
                "Gong announced {total} records, more than the company's users can need ({} at {page_size} a page)",
                self.need
            ),
            Some(total) if total > MAX_RECORDS_ANNOUNCED => {
                format!("Gong announced {total} records, past the {MAX_RECORDS_ANNOUNCED} believed")
            }
            Some(total) => format!("Gong announced {total} records of {page_size} a page"),
        };
        Err(format!("{pages} pages and still a cursor, though {expected}"))
    }
}

/// Gong counts requests per second; a burst of one spaces requests evenly so
/// that no one-second window holds more than the limit. Spacing is 1% wider
/// than exact, so network jitter cannot push a fourth request into a second.
fn quota(rate_per_second: f64) -> Quota {
    let period = Duration::from_secs_f64(1.01 / rate_per_second.max(1e-6));
    Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX)).allow_burst(NonZeroU32::MIN)
}

/// How long to wait before retrying after `error`, the backoff being at
/// `step`: the step with full jitter, or Gong's `Retry-After` when it says
/// longer. A `Retry-After` of 0 or a date in the past never means at once:
/// a Gong (or proxy) answering that to every request would otherwise get
/// every retry back to back.
fn retry_wait(error: &GongError, step: Duration) -> Duration {
    match error {
        GongError::RateLimited { retry_after: Some(retry_after), .. } => (*retry_after).max(step),
        // Nothing to wait for: the credentials are new.
        GongError::Renewed { .. } => Duration::ZERO,
        _ => step.mul_f64(fastrand::f64()),
    }
}

/// The longest pause a `Retry-After` can impose: a day, past which Gong's
/// daily quota has renewed. A larger value (a broken or hostile answer)
/// would otherwise stop polling for good, or overflow an `Instant`.
pub const MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After` as seconds or as an HTTP-date (RFC 9110), capped at
/// [`MAX_PAUSE`] (logged); a date in the past is no wait.
fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    let wait = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(text).ok()?.timestamp();
            Duration::try_from(at.duration_since(jiff::Timestamp::now())).unwrap_or(Duration::ZERO)
        }
    };
    if wait > MAX_PAUSE {
        tracing::warn!(retry_after = text, capped_to = ?MAX_PAUSE, "Gong's Retry-After is longer than a day; waiting a day at most");
        return Some(MAX_PAUSE);
    }
    Some(wait)
}

fn error_detail(body: &[u8]) -> ErrorDetail {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => ErrorDetail { request_id: parsed.request_id, messages: parsed.errors },
        // A truncated or garbled body often still starts with the requestId,
        // which is what Gong support needs.
        Err(_) => ErrorDetail { request_id: scan_request_id(body), messages: Vec::new() },
    }
}

/// Whether `body` is Gong's JSON error object (`requestId` and `errors`),
/// as its documented 404s ("No stats found for the specified period") are.
fn is_gong_error_object(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorBody>(body).is_ok_and(|parsed| parsed.request_id.is_some())
}

/// Whether Gong's 401 message is about a scope ("You don't have permission
/// to use 'api:stats:interaction' in your app.") rather than the key.
fn names_a_permission(detail: &ErrorDetail) -> bool {
    detail.messages.iter().any(|m| m.to_ascii_lowercase().contains("permission"))
}

fn scan_request_id(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body.get(..body.len().min(4096))?).ok()?;
    let after_key = &text[text.find("\"requestId\"")? + "\"requestId\"".len()..];
    let value = after_key.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let id = &value[..value.find('"')?];
    (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| id.to_owned())
}

/// reqwest's top-level message ("error sending request") hides the cause.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_spaces_requests_evenly() {
        let q = quota(3.0);
        assert_eq!(q.burst_size().get(), 1);
        assert_eq!(q.replenish_interval(), Duration::from_secs_f64(1.01 / 3.0));
    }

    #[test]
    fn a_retry_after_of_zero_still_waits_the_backoff() {
        let limited = |seconds| GongError::RateLimited {
            endpoint: Endpoint::Users,
            retry_after: Some(Duration::from_secs(seconds)),
            detail: Default::default(),
        };
        let step = Duration::from_secs(2);
        assert_eq!(retry_wait(&limited(0), step), step, "Retry-After: 0 (or a past date) waits the backoff step");
        assert_eq!(retry_wait(&limited(30), step), Duration::from_secs(30), "a longer Retry-After wins");
        let other = GongError::Timeout { endpoint: Endpoint::Users, timeout: Duration::from_secs(1) };
        assert!(retry_wait(&other, step) <= step, "other errors: the step with jitter");
    }

    #[test]
    fn retry_after_is_integer_seconds() {
        assert_eq!(parse_retry_after(&HeaderValue::from_static("7")), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(&HeaderValue::from_static(" 3600 ")), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("soon")), None);
    }

    #[test]
    fn retry_after_is_capped_and_may_be_an_http_date() {
        for huge in ["18446744073709551615", "1000000000000", "86401"] {
            assert_eq!(parse_retry_after(&HeaderValue::from_str(huge).unwrap()), Some(MAX_PAUSE), "{huge}");
        }
        let in_a_minute = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(61);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&in_a_minute).unwrap();
        let wait = parse_retry_after(&HeaderValue::from_str(&date).unwrap()).unwrap();
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(61), "{date}: {wait:?}");
        let past = HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
    }

    #[test]
    fn paging_ends_at_a_repeated_cursor_or_far_past_the_announced_total() {
        let records = |total: Option<i64>| models::Records {
            total_records: total,
            current_page_size: Some(100),
            ..Default::default()
        };
        let mut guard = PagingGuard::new(Endpoint::Users, 0);
        assert!(guard.next_page("A", &records(Some(250)), 1).is_ok());
        assert!(guard.next_page("B", &records(Some(250)), 2).is_ok());
        let error = guard.next_page("A", &records(Some(250)), 3).unwrap_err();
        assert!(error.contains("already sent"), "{error}");

        // 250 records fill 3 pages: 16 is the bound (2 x 3 + 10).
        let mut guard = PagingGuard::new(Endpoint::Users, 0);
        for page in 1..16 {
            assert!(guard.next_page(&format!("c{page}"), &records(Some(250)), page).is_ok(), "page {page}");
        }
        let error = guard.next_page("c16", &records(Some(250)), 16).unwrap_err();
        assert!(error.contains("announced 250 records"), "{error}");
    }

    #[test]
    fn without_a_total_paging_is_bounded_by_the_users_the_company_has() {
        let no_total = models::Records { total_records: None, current_page_size: Some(100), ..Default::default() };
        // (endpoint, users known, the first page refused): 2 x pages + 10,
        // or pages + 10 where the need has its headroom built in.
        for (endpoint, users, refused) in [
            (Endpoint::Interaction, 40, 12),
            (Endpoint::ActivityDayByDay, 1_000, 30),
            (Endpoint::Scorecards, 40, 40 + 10),
            // Before the first users list: 10,000 records.
            (Endpoint::Users, 0, 210),
        ] {
            let mut guard = PagingGuard::new(endpoint, users);
            for page in 1..refused {
                assert!(guard.next_page(&format!("c{page}"), &no_total, page).is_ok(), "{endpoint:?} page {page}");
            }
            let error = guard.next_page("last", &no_total, refused).unwrap_err();
            assert!(error.contains("announced no total"), "{error}");
        }
    }

    /// Pages of one record each (a hostile `currentPageSize`) made the
    /// bound a hundred times larger, and an announced total of a billion
    /// let a query run until the day's share was spent.
    #[test]
    fn tiny_pages_and_absurd_totals_do_not_raise_the_bound() {
        let tiny = models::Records { total_records: None, current_page_size: Some(1), ..Default::default() };
        let absurd =
            models::Records { total_records: Some(1_000_000_000), current_page_size: Some(100), ..Default::default() };
        // 40 users: 4,000 answered scorecards at most, 40 pages of 100.
        for records in [tiny, absurd] {
            let mut guard = PagingGuard::new(Endpoint::Scorecards, 40);
            for page in 1..50 {
                assert!(guard.next_page(&format!("c{page}"), &records, page).is_ok(), "page {page}");
            }
            let error = guard.next_page("last", &records, 50).unwrap_err();
            assert!(
                error.contains("announced no total") || error.contains("more than the company's users can need"),
                "{error}"
            );
        }
    }

    /// Before the first users list an absurd total was believed whole (the
    /// users query then ran until the share was spent); a company that grew
    /// past its last users list must still be listed whole.
    #[test]
    fn the_users_list_believes_a_grown_company_but_not_an_absurd_total() {
        let total =
            |n: i64| models::Records { total_records: Some(n), current_page_size: Some(100), ..Default::default() };
        let run = |known: u64, records: models::Records| {
            let mut guard = PagingGuard::new(Endpoint::Users, known);
            (1..).find(|&page| guard.next_page(&format!("c{page}"), &records, page).is_err()).unwrap()
        };
        assert_eq!(run(0, total(1_000_000_000)), 1_010, "50,000 records believed at most");
        assert_eq!(run(1_000, total(3_000)), 70, "3,000 users when 1,000 were known: 2 x 30 + 10");
        let mut guard = PagingGuard::new(Endpoint::Users, 0);
        let error = (1..1_011).find_map(|page| guard.next_page(&format!("c{page}"), &total(1_000_000_000), page).err());
        assert!(error.unwrap().contains("past the 50000 believed"));
    }

    #[test]
    fn request_id_is_recovered_from_truncated_bodies() {
        let d = error_detail(br#"{"requestId": "4al018gz","records":{"totalRecords":3,"#);
        assert_eq!(d.request_id.as_deref(), Some("4al018gz"));
        assert_eq!(error_detail(br#"{"requestId":"<script>","#).request_id, None);
    }

    #[test]
    fn only_gong_error_objects_are_gong_404s() {
        assert!(is_gong_error_object(
            br#"{"requestId":"4al018gz","errors":["No stats found for the specified period"]}"#
        ));
        assert!(!is_gong_error_object(b"<html><body>Not Found</body></html>"));
        assert!(!is_gong_error_object(
            br#"{"timestamp":"2024-01-01","status":404,"error":"Not Found","path":"/v2/v2/users"}"#
        ));
        assert!(!is_gong_error_object(b""));
    }

    #[test]
    fn a_401_naming_a_permission_is_a_scope_error() {
        let scope = error_detail(
            br#"{"requestId":"x1","errors":["You don't have permission to use 'api:stats:interaction' in your app."]}"#,
        );
        assert!(names_a_permission(&scope));
        assert!(!names_a_permission(&error_detail(br#"{"requestId":"x2","errors":["Access denied"]}"#)));
        assert!(!names_a_permission(&error_detail(b"")));
    }

    #[test]
    fn error_detail_survives_non_json_bodies() {
        assert_eq!(error_detail(b"<html>bad gateway</html>"), ErrorDetail::default());
        let d = error_detail(br#"{"requestId":"abc","errors":["No stats found"]}"#);
        assert_eq!(d.request_id.as_deref(), Some("abc"));
        assert_eq!(d.messages, ["No stats found"]);
    }
}
