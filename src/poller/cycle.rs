//! One regular cycle: the endpoints fetched concurrently (the windowed
//! collectors one after another, beside the rest; one rate limiter keeps
//! them all under `--gong.rate-limit` together), then each complete part
//! folded into the snapshot. A part whose pages did not all arrive keeps its
//! last good data. The windowed collectors' steps here are the settling
//! schedule's too.

use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use tokio::time::Instant;

use super::log_failure;
use crate::collectors::activity::{self, ActivityTable, UserAggregateActivity};
use crate::collectors::replace_window;
use crate::collectors::scorecards::PrivateReviews;
use crate::collectors::scorecards::{self, AnsweredScorecard, ScorecardTable};
use crate::collectors::users::{self, GongUser, UserTable};
use crate::collectors::windowed::{WindowAnswer, WindowedStats};
use crate::collectors::{CollectorName, Enabled, WindowedCollector, windowed_on};
use crate::endpoint::Endpoint;
use crate::gong::models::SkipCounts;
use crate::gong::{Fetched, GongClient, GongError};
use crate::self_metrics::PollOutcome;
use crate::snapshot::DataSnapshot;
use crate::windows::{Window, WindowBounds};

/// Results of one cycle, before they are folded into the snapshot.
pub(super) struct CycleResults {
    pub bounds: Vec<WindowBounds>,
    pub time_zone: TimeZone,
    pub activity: EndpointRun<UserAggregateActivity>,
    /// Each windowed collector that is on, and its queries.
    pub windowed: Vec<WindowedRun>,
    pub scorecards: EndpointRun<AnsweredScorecard>,
    pub users: EndpointRun<GongUser>,
}

/// A windowed collector ([`crate::collectors::windowed`]) and its queries.
pub(super) type WindowedRun = (WindowedCollector, EndpointRun<WindowAnswer>);

/// A query's window (`None` for unwindowed endpoints) and outcome.
type QueryResult<T> = (Option<WindowBounds>, Result<Fetched<T>, GongError>);

/// One endpoint's queries in a cycle: per window (or one, unwindowed).
pub(super) struct EndpointRun<T> {
    pub results: Vec<QueryResult<T>>,
    elapsed: Duration,
}

impl<T> EndpointRun<T> {
    /// Runs `query` for each window in turn.
    pub(super) async fn per_window<F, Fut>(bounds: &[WindowBounds], query: F) -> Self
    where
        F: Fn(&WindowBounds) -> Fut,
        Fut: Future<Output = Result<Fetched<T>, GongError>>,
    {
        let started = Instant::now();
        let mut results = Vec::with_capacity(bounds.len());
        for b in bounds {
            results.push((Some(b.clone()), query(b).await));
        }
        Self { results, elapsed: started.elapsed() }
    }

    /// The company zone the first complete query reports.
    pub(super) fn first_zone(&self) -> Option<String> {
        self.results.iter().find_map(|(_, r)| r.as_ref().ok()?.time_zone.clone())
    }

    /// Runs `run` when its collector is `on`; else nothing is asked and
    /// nothing is kept.
    pub(super) async fn when(on: bool, run: impl Future<Output = Self>) -> Self {
        if on { run.await } else { Self { results: Vec::new(), elapsed: Duration::ZERO } }
    }

    /// Runs an unwindowed query.
    pub(super) async fn once(query: impl Future<Output = Result<Fetched<T>, GongError>>) -> Self {
        let started = Instant::now();
        let result = query.await;
        Self { results: vec![(None, result)], elapsed: started.elapsed() }
    }

    /// Hands each complete query's items (with its window, `None` for
    /// unwindowed endpoints) to `publish`, which returns record counts; logs
    /// each failed query, whose part keeps its last good data.
    pub(super) fn settle(
        self,
        endpoint: Endpoint,
        mut publish: impl FnMut(Option<Window>, Vec<T>) -> Vec<(Option<Window>, usize)>,
    ) -> PollOutcome {
        let mut outcome = PollOutcome { elapsed: self.elapsed, ..PollOutcome::success() };
        let (mut skipped, mut skipped_request_id) = (SkipCounts::default(), None);
        for (bounds, result) in self.results {
            let window = bounds.map(|b| b.window);
            match result {
                Ok(fetched) => {
                    skipped += fetched.skipped;
                    skipped_request_id = skipped_request_id.or(fetched.skipped_request_id);
                    outcome.records.extend(publish(window, fetched.items));
                }
                Err(error) => {
                    log_failure(endpoint, window, &error);
                    fail_request(&mut outcome, &error);
                }
            }
        }
        log_skipped(endpoint, skipped, skipped_request_id.as_deref());
        outcome
    }
}

/// One line per endpoint and cycle for records left out of Gong's answers.
pub fn log_skipped(endpoint: Endpoint, skipped: SkipCounts, request_id: Option<&str>) {
    if skipped.total() > 0 {
        tracing::warn!(
            %endpoint,
            missing_id = skipped.missing_id,
            label_too_long = skipped.label_too_long,
            invalid_number = skipped.invalid_number,
            duplicate = skipped.duplicate,
            request_id = request_id.unwrap_or(""),
            "Gong sent records that cannot be published as they are (an ID null or empty, a label over 1024 bytes, a count negative or not a number) or the same record twice (the last kept); the rest was published (gong_exporter_records_skipped_total)"
        );
    }
}

/// Marks the endpoint failed by a request to Gong.
pub(super) fn fail_request(outcome: &mut PollOutcome, error: &GongError) {
    outcome.fail(error, matches!(error, GongError::RetryAfterTooLong { .. }));
}

/// What a fixed cycle asks of Gong: every window of the collectors that
/// are on, whole.
pub(super) struct CycleRequest<'a> {
    pub client: &'a GongClient,
    /// Every window, dated in `time_zone`.
    pub bounds: Vec<WindowBounds>,
    pub time_zone: TimeZone,
    pub collectors: &'a Enabled,
    pub private_reviews: PrivateReviews,
    pub deadline: Instant,
}

/// Fetches every endpoint of the collectors that are on, for every window,
/// concurrently.
pub(super) async fn fetch(request: CycleRequest<'_>) -> CycleResults {
    let CycleRequest { client, bounds, time_zone, collectors, private_reviews, deadline } = request;
    let largest = bounds.iter().max_by_key(|b| b.window.days()).expect("at least one window");
    let on = |c| collectors.contains(c);
    let activity = EndpointRun::when(
        on(CollectorName::Activity),
        EndpointRun::per_window(&bounds, |b| activity::aggregate(client, b.from, b.to, deadline)),
    );
    let windowed = fetch_windowed(client, windowed_on(collectors), &bounds, deadline);
    // Once for the largest window: smaller windows are cut from it by each
    // review's time.
    let scorecards = EndpointRun::when(
        on(CollectorName::Scorecards),
        EndpointRun::once(scorecards::fetch(client, largest.from, largest.to, private_reviews, deadline)),
    );
    let users = EndpointRun::once(users::fetch(client, deadline));
    let (activity, windowed, scorecards, users) = tokio::join!(activity, windowed, scorecards, users);
    CycleResults { bounds, time_zone, activity, windowed, scorecards, users }
}

impl CycleResults {
    /// The company zone the first complete stats answer names, and the
    /// endpoint that named it.
    pub(super) fn reported_zone(&self) -> Option<(String, Endpoint)> {
        let windowed = self.windowed.iter().map(|(collector, run)| (collector.stats.endpoint(), run.first_zone()));
        std::iter::once((Endpoint::ActivityAggregate, self.activity.first_zone()))
            .chain(windowed)
            .find_map(|(endpoint, zone)| Some((zone?, endpoint)))
    }

    /// Folds the complete parts into `snapshot`; returns each endpoint's
    /// outcome, to be recorded once the snapshot is published.
    pub(super) fn fold_into(self, snapshot: &mut DataSnapshot) -> Vec<(Endpoint, PollOutcome)> {
        let CycleResults { bounds, time_zone, activity, windowed, scorecards, users } = self;
        let outcome = activity.settle(Endpoint::ActivityAggregate, |window, items| {
            let records = vec![(window, items.len())];
            replace_window(&mut snapshot.activity, ActivityTable::build(window.expect("windowed"), items));
            records
        });
        let mut outcomes = vec![(Endpoint::ActivityAggregate, outcome)];
        for (collector, run) in windowed {
            let outcome = run.settle(collector.stats.endpoint(), |_, answers| {
                keep_windows(snapshot, collector.stats, answers, |_, _| {})
            });
            outcomes.push((collector.stats.endpoint(), outcome));
        }
        let outcome = scorecards.settle(Endpoint::Scorecards, |_, items| {
            let table = ScorecardTable::build(&items, &bounds, &time_zone);
            let records = table.reviews_per_window().map(|(window, reviews)| (Some(window), reviews)).collect();
            snapshot.scorecards = Some(Arc::new(table));
            records
        });
        outcomes.push((Endpoint::Scorecards, outcome));
        outcomes.push((Endpoint::Users, keep_users(snapshot, users)));
        outcomes
    }
}

/// Runs each windowed collector's queries, window by window, one
/// collector after another.
pub(super) async fn fetch_windowed(
    client: &GongClient,
    collectors: impl Iterator<Item = WindowedCollector>,
    bounds: &[WindowBounds],
    deadline: Instant,
) -> Vec<WindowedRun> {
    let mut runs = Vec::new();
    for collector in collectors {
        let run = EndpointRun::per_window(bounds, |b| collector.stats.fetch(client, b.clone(), deadline)).await;
        runs.push((collector, run));
    }
    runs
}

/// Folds a query's answers (one: its window's) into `collector`'s tables,
/// handing `seen` each answer's window and hash; returns their record
/// counts.
pub(super) fn keep_windows(
    snapshot: &mut DataSnapshot,
    collector: &dyn WindowedStats,
    answers: Vec<WindowAnswer>,
    mut seen: impl FnMut(Window, u64),
) -> Vec<(Option<Window>, usize)> {
    let endpoint = collector.endpoint();
    let mut records = Vec::with_capacity(answers.len());
    for answer in answers {
        records.push((Some(answer.window), answer.records));
        seen(answer.window, answer.hash);
        let tables = snapshot.windowed.get(&endpoint).cloned().unwrap_or_else(|| collector.empty());
        snapshot.windowed.insert(endpoint, tables.with(answer));
    }
    records
}

/// Replaces the user table when the whole list arrived.
pub(super) fn keep_users(snapshot: &mut DataSnapshot, users: EndpointRun<GongUser>) -> PollOutcome {
    users.settle(Endpoint::Users, |window, items| {
        let table = UserTable::build(items);
        let records = vec![(window, table.users.len())];
        snapshot.users = Some(Arc::new(table));
        records
    })
}
