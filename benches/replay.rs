//! Replays whole company days against the simulator with late data, with a
//! shifted clock (no waiting), and reports per company day: requests to
//! Gong, cycles, and the largest delay between a late change in the
//! simulator and its appearance in what the exporter publishes. The same
//! days are replayed with `--poll.schedule=fixed` (hourly, every window
//! whole: the schedule before settling) for comparison.
//!
//! ```sh
//! cargo bench --bench replay                 # the runs recorded in BENCHMARKS.md (~4 minutes)
//! cargo bench --bench replay -- --smoke      # seconds: 200 users, 2 days (CI)
//! ```
//!
//! Default flags everywhere (1d,7d,28d; 10,000 requests a day at a 25%
//! share; hourly --poll.interval; settle for 12h every 2h45m), a company of
//! one manager per 8 users and two workspaces, starting empty at the
//! first company midnight. Freshness is measured, not assumed: after every
//! cycle the published 1d activity, interaction and review totals (public
//! reviews per user, withheld ones per scorecard) are compared with what
//! the simulator serves at that instant; a late arrival's
//! delay runs until the first cycle whose published totals match.

use std::sync::Arc;
use std::time::Duration;

use gong_exporter::clock::Clock;
use gong_exporter::collectors::interaction::{InteractionStat, InteractionTable, PersonInteraction};
use gong_exporter::collectors::{CollectorName, Enabled};
use gong_exporter::days::DayStore;
use gong_exporter::endpoint::Endpoint;
use gong_exporter::gong::models::GongId;
use gong_exporter::gong::{ClientOptions, Credentials, GongClient};
use gong_exporter::ledger::Ledger;
use gong_exporter::poller::Schedule;
use gong_exporter::poller::{Poller, PollerSettings};
use gong_exporter::published::Shared;
use gong_exporter::secret::Secret;
use gong_exporter::self_metrics::SelfMetrics;
use gong_exporter::simulator::dataset::{Dataset, GeneratedDataset};
use gong_exporter::simulator::{Simulator, SimulatorOptions, spawn};
use gong_exporter::windows::{Window, company_date, parse_time_zone, start_of_day};
use jiff::civil::{Date, date};
use jiff::{SignedDuration, Timestamp};

const ZONE: &str = "US/Pacific";
/// Requests per second Gong allows (`--gong.rate-limit`'s default).
const GONG_RATE_LIMIT: f64 = 3.0;

struct Run {
    users: usize,
    coaching: bool,
    schedule: Schedule,
    days: i64,
}

#[derive(Default)]
struct DayReport {
    requests: u64,
    cycles: u32,
    /// Largest delay of a late arrival until a matching publish.
    max_delay: Option<SignedDuration>,
    mismatched_cycles: u32,
    /// Largest delay of a hosted call Gong processed days late, until the
    /// published 7d hosted calls matched again.
    max_days_late_delay: Option<SignedDuration>,
    left_out: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let runs = if smoke {
        vec![
            Run { users: 200, coaching: true, schedule: Schedule::Settling, days: 2 },
            Run { users: 200, coaching: true, schedule: Schedule::Fixed, days: 1 },
        ]
    } else {
        vec![
            Run { users: 100, coaching: true, schedule: Schedule::Settling, days: 30 },
            Run { users: 100, coaching: true, schedule: Schedule::Fixed, days: 2 },
            Run { users: 1000, coaching: true, schedule: Schedule::Settling, days: 30 },
            Run { users: 1000, coaching: true, schedule: Schedule::Fixed, days: 2 },
            Run { users: 1000, coaching: false, schedule: Schedule::Settling, days: 2 },
            Run { users: 10_000, coaching: false, schedule: Schedule::Settling, days: 3 },
            Run { users: 10_000, coaching: false, schedule: Schedule::Fixed, days: 2 },
            Run { users: 10_000, coaching: true, schedule: Schedule::Settling, days: 2 },
        ]
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for run in runs {
        runtime.block_on(replay(&run));
    }
}

async fn replay(run: &Run) {
    let tz = parse_time_zone(ZONE).unwrap();
    // A Monday, so the steady-state days include whole work weeks.
    let first_day: Date = date(2026, 9, 28);
    let clock = Clock::system();
    let start = start_of_day(first_day, &tz) + SignedDuration::from_secs(120);
    clock.freeze(start);
    let dataset =
        Arc::new(GeneratedDataset::new(run.users, tz.clone()).with_late_data(clock.clone()).with_workspaces(2));
    let mut options = SimulatorOptions::new(ZONE);
    options.rate_limit = 1_000_000.0;
    options.clock = clock.clone();
    let simulator = Simulator::new(Arc::clone(&dataset) as Arc<dyn Dataset>, options).unwrap();
    let running = spawn(Arc::clone(&simulator), "127.0.0.1:0".parse().unwrap()).await.unwrap();

    let metrics = Arc::new(SelfMetrics::new());
    let shared = Shared::new(Arc::clone(&metrics));
    let client = GongClient::new(
        ClientOptions {
            base_url: running.base_url().parse().unwrap(),
            credentials: Credentials::Basic { access_key: "demo".into(), secret: Secret::new("demo") },
            rate_limit: 1_000_000.0,
            timeout: Duration::from_secs(120),
            max_retries: 2,
            max_response_bytes: 64 << 20,
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
        },
        Arc::clone(&metrics),
    )
    .unwrap();
    let settings = PollerSettings {
        windows: ["1d", "7d", "28d"].iter().map(|w| w.parse::<Window>().unwrap()).collect(),
        daily_limit: 10_000,
        budget_share: 0.25,
        time_zone: None,
        poll_interval: Duration::from_secs(3600),
        schedule: run.schedule,
        settle_for: Duration::from_secs(12 * 3600),
        settle_interval: Duration::from_secs(2 * 3600 + 45 * 60),
        include_user_email: true,
        clock: clock.clone(),
        collectors: {
            let mut on = Enabled::default();
            on.set(CollectorName::Coaching, run.coaching);
            on
        },
        private_reviews: Default::default(),
    };
    let mut poller = Poller::new(
        Arc::new(client),
        settings,
        Arc::clone(&shared),
        Ledger::open(None, None, jiff::Timestamp::now()).unwrap(),
        DayStore::in_memory(),
    );

    let end = start_of_day(first_day.checked_add(jiff::Span::new().days(run.days)).unwrap(), &tz);
    let mut reports: Vec<(Date, DayReport)> = Vec::new();
    let mut at = start;
    // Late arrivals of the day that just ended, not yet seen published.
    let mut pending: Vec<Timestamp> = Vec::new();
    // Hosted calls processed days late, during the run, not yet published.
    let mut days_late: Vec<Timestamp> =
        days_from(first_day.checked_sub(jiff::Span::new().days(7)).unwrap(), run.days + 7)
            .flat_map(|day| dataset.very_late_arrivals(day))
            .filter(|a| *a > start && *a < end)
            .collect();
    days_late.sort_unstable();
    while at < end {
        clock.freeze(at);
        let today = company_date(at, &tz);
        if reports.last().is_none_or(|(d, _)| *d != today) {
            let yesterday = today.yesterday().unwrap();
            pending = dataset.late_arrivals(yesterday).into_iter().filter(|a| *a > at).collect();
            if std::env::var_os("REPLAY_DEBUG").is_some() {
                eprintln!("{today}: {} late arrivals after {at}", pending.len());
            }
            reports.push((today, DayReport::default()));
        }
        let sent_before = poller.requests_sent();
        let next = poller.cycle().await;
        let cost = poller.requests_sent() - sent_before;
        let published_at = at + SignedDuration::from_secs_f64(cost as f64 / GONG_RATE_LIMIT);
        let report = &mut reports.last_mut().unwrap().1;
        report.requests += cost;
        report.cycles += 1;
        report.left_out.clone_from(&poller.plan().left_out);
        // What the simulator serves now: every arrival up to the cycle's
        // start is in it; were they all published?
        if published_matches(&shared, dataset.as_ref(), today) {
            for arrival in pending.iter().filter(|a| **a <= at) {
                let delay = published_at.duration_since(*arrival);
                report.max_delay = Some(report.max_delay.map_or(delay, |d| d.max(delay)));
            }
            pending.retain(|a| *a > at);
        } else {
            report.mismatched_cycles += 1;
        }
        if published_week_matches(&shared, dataset.as_ref(), today) {
            for arrival in days_late.iter().filter(|a| **a <= at) {
                let delay = published_at.duration_since(*arrival);
                report.max_days_late_delay = Some(report.max_days_late_delay.map_or(delay, |d| d.max(delay)));
            }
            days_late.retain(|a| *a > at);
        }
        at = next.max(at + SignedDuration::from_secs(60));
    }
    let label = format!(
        "{} users, coaching {}, --poll.schedule={}",
        run.users,
        if run.coaching { "on" } else { "off" },
        match run.schedule {
            Schedule::Settling => "settling",
            Schedule::Fixed => "fixed (hourly, every window whole)",
        }
    );
    println!("\n## {label}\n");
    println!(
        "| company day | requests | cycles | largest delay of a late change | of a call days late (7d) | cycles not matching Gong | left out |"
    );
    println!("|---|---|---|---|---|---|---|");
    let minutes = |d: Option<SignedDuration>| d.map_or("none".to_owned(), |d| format!("{}m", d.as_secs() / 60));
    for (day, r) in &reports {
        println!(
            "| {day} ({:?}) | {} | {} | {} | {} | {} | {} |",
            day.weekday(),
            r.requests,
            r.cycles,
            minutes(r.max_delay),
            minutes(r.max_days_late_delay),
            r.mismatched_cycles,
            r.left_out.join("; ")
        );
    }
    if !pending.is_empty() {
        println!("\n{} late arrivals of the last day were never seen published", pending.len());
    }
    if !days_late.is_empty() {
        println!("\n{} calls processed days late were not yet published when the run ended", days_late.len());
    }
}

/// `n` days from `first`.
fn days_from(first: Date, n: i64) -> impl Iterator<Item = Date> {
    gong_exporter::windows::days_of(first, first.checked_add(jiff::Span::new().days(n)).unwrap())
}

/// Whether the published 7d hosted calls equal what the simulator serves
/// for the 7 days before `today` (hosted calls happen once per call, so
/// the days' sum is the window's count).
fn published_week_matches(shared: &Shared, dataset: &GeneratedDataset, today: Date) -> bool {
    let snapshot = &shared.exposition.load().snapshot;
    let Some(week) = snapshot.activity.iter().find(|t| t.window == Window::from_days(7).unwrap()) else {
        return false;
    };
    let published: f64 = match week.fields.iter().position(|f| f.gong_name == "callsAsHost") {
        Some(field) => week
            .rows
            .iter()
            .flat_map(|r| r.values.iter().filter(|(f, _)| usize::from(*f) == field).map(|(_, v)| *v))
            .sum(),
        None => 0.0,
    };
    let from = today.checked_sub(jiff::Span::new().days(7)).unwrap();
    let served: u32 = days_from(from, 7)
        .flat_map(|day| (0..dataset.users().len()).map(move |u| dataset.activity(u, day).counts[0]))
        .sum();
    published == f64::from(served)
}

/// Whether the published 1d activity, interaction and review totals equal
/// what the simulator serves for yesterday at the clock's now.
fn published_matches(shared: &Shared, dataset: &GeneratedDataset, today: Date) -> bool {
    let yesterday = today.yesterday().unwrap();
    let snapshot = &shared.exposition.load().snapshot;
    let activity: f64 = snapshot
        .activity
        .iter()
        .filter(|t| t.window == Window::ONE_DAY)
        .flat_map(|t| t.rows.iter().flat_map(|r| r.values.iter().map(|(_, v)| *v)))
        .sum();
    let interaction_tables = snapshot.windowed.get(&Endpoint::Interaction).map(|t| t.as_any());
    let interaction: f64 = interaction_tables
        .and_then(|t| t.downcast_ref::<Vec<Arc<InteractionTable>>>())
        .into_iter()
        .flatten()
        .filter(|t| t.window == Window::ONE_DAY)
        .flat_map(|t| t.rows.iter().flat_map(|r| r.stats.iter().map(|(_, v)| *v)))
        .sum();
    let reviews: u64 = snapshot
        .scorecards
        .iter()
        .flat_map(|t| t.windows.iter().filter(|w| w.window == Window::ONE_DAY))
        .map(|w| w.reviews.values().sum::<u64>() + w.not_public.values().sum::<u64>())
        .sum();
    let users = dataset.users().len();
    let true_activity: f64 = (0..users)
        .map(|u| {
            let a = dataset.activity(u, yesterday);
            a.counts.iter().map(|c| f64::from(*c)).sum::<f64>()
        })
        .sum();
    // Through the exporter's own table, which maps Gong's stats to families.
    let people: Vec<PersonInteraction> = (0..users)
        .map(|u| PersonInteraction {
            user_id: GongId(dataset.users()[u].id),
            user_email_address: dataset.users()[u].email.clone(),
            person_interaction_stats: dataset
                .interaction(u, yesterday, today)
                .into_iter()
                .map(|(name, value)| InteractionStat { name, value: Some(value) })
                .collect(),
        })
        .filter(|p| !p.person_interaction_stats.is_empty())
        .collect();
    let true_interaction: f64 = InteractionTable::build(Window::ONE_DAY, people)
        .rows
        .iter()
        .flat_map(|r| r.stats.iter().map(|(_, v)| *v))
        .sum();
    let true_reviews = dataset.scorecards_reviewed_on(yesterday).len() as u64;
    let matches = activity == true_activity && (interaction - true_interaction).abs() < 1e-6 && reviews == true_reviews;
    if !matches && std::env::var_os("REPLAY_DEBUG").is_some() {
        eprintln!(
            "mismatch: activity {activity} vs {true_activity}, interaction {interaction} vs {true_interaction}, reviews {reviews} vs {true_reviews}"
        );
    }
    matches
}
