//! Gong API client: authentication, rate limiting, retries and pagination,
//! for any page type; each collector ([`crate::collectors`]) asks for its own
//! endpoint's pages through [`GongClient::fetch_all`], and [`models`] holds
//! what every answer shares (IDs, paging, records left out). Beside the
//! client: `auth` and `credentials` (keys, OAuth), `error` (what went
//! wrong and whether to retry), `paging` (how far a query may page) and
//! `response` (reading an answer: size cap, `Retry-After`, error bodies).

mod auth;
mod credentials;
mod error;
pub mod models;
mod paging;
mod response;

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::Authorizer;
use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jiff::civil::Date;
use reqwest::header::{AUTHORIZATION, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde_json::json;
use tokio::time::Instant;

pub use credentials::{Credentials, GONG_TOKEN_URL, OAuthApp, REFRESH_TOKEN_FILE, encrypted_or_loopback};
pub use error::{ErrorDetail, GongError};
use models::{Page, Record as _, SkipCounts};
use paging::PagingGuard;
pub use response::MAX_PAUSE;
use response::{
    ReadError, error_chain, error_detail, is_gong_error_object, names_a_permission, parse_retry_after, read_capped,
};

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

/// Unusable records from which an answer that is more than half unusable
/// fails its poll instead of being published.
const MOSTLY_SKIPPED_MIN: u64 = 3;

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
}
