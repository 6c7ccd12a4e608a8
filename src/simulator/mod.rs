//! A fake Gong API, built from Gong's reference pages and from responses
//! connectors recorded from the real Gong (named where used). It exists so
//! that `--demo`, `gong-exporter simulate` and the tests can run the
//! exporter against something that answers as Gong does, without an
//! account, and so that the tests can read what the exporter asked for (its
//! request log).
//!
//! Gong's recorded or documented behaviour: Basic or Bearer auth (401), a
//! per-company rate limit (429 + `Retry-After` in whole seconds), date
//! validation (400), opaque cursors bound to the filter, 404 for empty
//! periods.
//!
//! Where it differs from Gong: its cursors never expire (Gong's are opaque
//! tokens that may; a query that outlives one is not simulated), and the
//! fault rules ([`faults`]) also send what Gong is not known to send
//! (HTTP-date `Retry-After`, redirects, oversized or endless bodies, endless
//! cursors): those test the exporter's bounds, not a recorded Gong behaviour.
//!
//! The parts: `server` receives requests (routes, auth, rate limit, request
//! log, faults), `query` reads their bodies and parameters, `index` finds
//! the records a query answers, `cursor` pages through them and `render`
//! writes Gong's JSON.

mod cursor;
pub mod dataset;
pub mod faults;
mod index;
mod oauth;
mod query;
mod render;
mod server;

use std::num::NonZeroU32;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::clock::Clock;
use crate::secret::Secret;
use dataset::Dataset;
use faults::{FaultRule, Faults};
use index::IndexCache;

pub use oauth::{SimulatedOAuthApp, TOKEN_PATH};
pub use server::{RecordedRequest, RunningSimulator, spawn};

/// Queries whose record indices are kept.
const CACHED_QUERIES: usize = 64;
/// Records those indices may name in all (16 bytes each at most).
const CACHED_RECORDS: usize = 1_000_000;

/// Zone of the simulated company in `--demo`, and of `simulate` when its
/// `--timezone` has no name, named as Gong names it.
pub const DEMO_TIME_ZONE: &str = "US/Pacific";

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
    /// `true` lists, in one `/v2/coaching` answer, the asked manager and
    /// every manager below (as the evidence suggests Gong does); `false`
    /// the asked manager alone (what Gong's reference does not rule out).
    pub coaching_lists_managers_below: bool,
    /// `true` makes the aggregate sum the days' list lengths (a call on two
    /// days counted twice) instead of counting calls as the reference
    /// describes: the other way Gong might count, for the exporter's daily
    /// check against the aggregate.
    pub aggregate_sums_day_lists: bool,
    /// The API scopes the key holds; `None` is every scope. An endpoint
    /// whose scope is missing answers 401 naming it, as the real Gong does.
    pub scopes: Option<std::collections::BTreeSet<String>>,
    /// An OAuth app whose refresh token the token endpoint takes; its
    /// access tokens are accepted as Bearer auth until they expire.
    pub oauth: Option<SimulatedOAuthApp>,
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
            coaching_lists_managers_below: true,
            aggregate_sums_day_lists: false,
            scopes: None,
            oauth: None,
        }
    }
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
    /// The company's zone: its name as answers carry it, and the zone
    /// days are dated in. A company can change it ([`Simulator::set_time_zone`]).
    time_zone: Mutex<(String, TimeZone)>,
    limiter: DefaultDirectRateLimiter,
    log: Mutex<Vec<RecordedRequest>>,
    index_cache: Mutex<IndexCache>,
    request_counter: AtomicU64,
    /// Requests received and not yet answered.
    in_flight: AtomicU64,
    faults: Faults,
    oauth: Option<oauth::TokenIssuer>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("users", &self.dataset().users().len()).finish_non_exhaustive()
    }
}

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
            oauth: options.oauth.clone().map(oauth::TokenIssuer::new),
            time_zone: Mutex::new((options.time_zone_name.clone(), time_zone)),
            served: Mutex::new(Served { dataset, generation: 0 }),
            options,
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

    /// Every OAuth access token issued so far stops working, as when Gong
    /// expires or revokes them early. No-op without an OAuth app.
    pub fn revoke_access_tokens(&self) {
        if let Some(issuer) = &self.oauth {
            issuer.revoke_access_tokens();
        }
    }

    /// A new OAuth access token (as an operator's own refresh would get),
    /// or `None` without an OAuth app.
    pub fn issue_access_token(&self) -> Option<String> {
        self.oauth.as_ref().map(oauth::TokenIssuer::issue_access_token)
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

    /// The company's current day: later dates are rejected.
    fn today(&self) -> Date {
        crate::windows::company_date(self.options.clock.now(), &self.zone())
    }

    /// The zone days are dated in.
    fn zone(&self) -> TimeZone {
        self.time_zone.lock().expect("zone lock").1.clone()
    }

    /// The zone's name as Gong's answers carry it.
    fn zone_name(&self) -> String {
        self.time_zone.lock().expect("zone lock").0.clone()
    }

    /// The company moves to another zone (Gong's company settings): answers
    /// name it and date days in it from the next request on. Fails on an
    /// unknown zone name.
    pub fn set_time_zone(&self, name: &str) -> Result<(), String> {
        let zone = crate::windows::parse_time_zone(name)?;
        *self.time_zone.lock().expect("zone lock") = (name.to_owned(), zone);
        self.index_cache.lock().expect("index cache lock").clear();
        Ok(())
    }
}

/// The days of `[from, to)`.
fn days((from, to): (Date, Date)) -> impl Iterator<Item = Date> {
    crate::windows::days_of(from, to)
}

/// Cursors and call IDs must be the same for the same input in every run
/// and on every platform: the client's stable hash.
fn fnv1a(s: &str) -> u64 {
    crate::gong::models::stable_hash(s.as_bytes())
}

#[cfg(test)]
mod testing {
    use std::sync::Arc;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use jiff::tz::TimeZone;

    use super::dataset::GeneratedDataset;
    use super::{Simulator, SimulatorOptions};

    /// A simulator of `users` generated users.
    pub(super) fn simulator(users: usize, page_size: usize, rate_limit: f64) -> Arc<Simulator> {
        let tz = TimeZone::get("US/Pacific").unwrap();
        let mut options = SimulatorOptions::new("US/Pacific");
        options.page_size = page_size;
        options.rate_limit = rate_limit;
        Simulator::new(Arc::new(GeneratedDataset::new(users, tz)), options).unwrap()
    }

    /// The demo credentials' `Authorization` header.
    pub(super) fn demo_auth() -> String {
        format!("Basic {}", STANDARD.encode("demo:demo"))
    }
}
