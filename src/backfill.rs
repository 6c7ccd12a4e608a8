//! `gong-exporter backfill`: past company days as timestamped OpenMetrics,
//! for `promtool tsdb create-blocks-from openmetrics`.
//!
//! Each day is turned into the snapshot the live exporter would have shown
//! the morning after (the `1d` gauges, the cumulative counters so far, the
//! users) and encoded by the same code as `/metrics`, so names, labels and
//! escaping match what Prometheus scrapes. Samples are stamped with the start
//! of the next company day. OpenMetrics wants each family, and each series
//! within it, written together; days arrive one after another, so samples
//! go to one scratch file per family and are regrouped by series at the end.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use tokio::time::Instant;

use crate::collectors::activity::{self, ActivityTable};
use crate::collectors::counters::{CounterTotals, activity_days, review_day};
use crate::collectors::interaction::{self, InteractionTable};
use crate::collectors::scorecards::{self, AnsweredScorecard, ScorecardTable};
use crate::collectors::users::{self, UserTable};
use crate::collectors::windowed::WindowTables;
pub use crate::config::BackfillConfig;
use crate::days::{DayActivity, distinct_calls};
use crate::encoding::encode_snapshot;
use crate::endpoint::Endpoint;
use crate::gong::models::GongId;
use crate::gong::{GongClient, GongError};
use crate::ledger::{CHUNK_DAYS, chunks};
use crate::poller::log_skipped;
use crate::poller::zone::{self, ZoneProbe};
use crate::self_metrics::SelfMetrics;
use crate::snapshot::DataSnapshot;
use crate::windows::{Window, company_date, start_of_day, window_bounds};

/// A backfill is a batch job: it waits out even an hours-long Retry-After
/// (a spent daily quota) instead of giving up.
const PATIENCE: Duration = Duration::from_secs(36 * 3600);

/// Why a backfill stopped. Nothing is written to `--output` then.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("{0}")]
    Gong(#[from] GongError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("Gong reported no activity to learn the company's time zone from: set --gong.timezone (e.g. US/Pacific)")]
    UnknownTimeZone,
    #[error("Gong reported the time zone '{0}', which this build does not know: set --gong.timezone")]
    UnsupportedTimeZone(String),
    #[error("--to {to} is after the company's today ({today} in {zone}): days are written once they are over")]
    Future { to: Date, today: Date, zone: String },
    #[error("cannot write '{path}': {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("--label {name}: gong-exporter already writes a '{name}' label (on {metric}); give the label another name")]
    LabelClash { name: String, metric: String },
}

/// What a backfill wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillSummary {
    pub days: usize,
    pub samples: u64,
    pub requests: u64,
}

/// Fetches `[from, to)` from Gong and writes the OpenMetrics file. Progress
/// goes to stderr, one line per chunk of days.
pub async fn run(config: BackfillConfig) -> Result<BackfillSummary, BackfillError> {
    let client = GongClient::new(config.client.clone(), Arc::new(SelfMetrics::new()))?;
    let deadline = || Instant::now() + PATIENCE;
    let tz = match &config.time_zone {
        Some(tz) => tz.clone(),
        None => learn_time_zone(&client, config.to, deadline()).await?,
    };
    let today = company_date(Timestamp::now(), &tz);
    if config.to > today {
        return Err(BackfillError::Future {
            to: config.to,
            today,
            zone: tz.iana_name().unwrap_or("the company zone").to_owned(),
        });
    }
    let users: Arc<UserTable> = Arc::new(UserTable::build(users::fetch(&client, deadline()).await?.items));
    // The first day's largest window reaches back before --from.
    let largest = config.windows.iter().map(Window::days).max().unwrap_or(1);
    let fetch_from = config.from.checked_sub(i64::from(largest - 1).days()).unwrap_or(config.from);
    let chunk_list = chunks(fetch_from, config.to, CHUNK_DAYS);
    let days = chunks(config.from, config.to, 1).len();
    announce(&config, &tz, &users, chunk_list.len(), days);

    let mut writer = FamilyWriter::create(&config.output, &config.labels)?;
    let mut history =
        History { days: VecDeque::new(), keep: largest as usize, totals: Arc::new(CounterTotals::default()) };
    for (index, (from, to)) in chunk_list.iter().copied().enumerate() {
        let activity = activity::day_by_day(&client, from, to, &tz, deadline()).await?;
        log_skipped(Endpoint::ActivityDayByDay, activity.skipped, activity.skipped_request_id.as_deref());
        let activity = activity.items;
        let mut by_day: BTreeMap<Date, DayRecord> = BTreeMap::new();
        for (date, user, day) in activity_days(&activity, from, to, &tz) {
            let record = by_day.entry(date).or_default();
            record.activity.insert(user.user_id, day.calls.clone());
            record.emails.insert(user.user_id, user.user_email_address.clone());
        }
        let reviews = scorecards::fetch(&client, from, to, config.private_reviews, deadline()).await?;
        log_skipped(Endpoint::Scorecards, reviews.skipped, reviews.skipped_request_id.as_deref());
        for review in reviews.items {
            if let Some(date) = review_day(&review, &tz) {
                by_day.entry(date).or_default().reviews.push(review);
            }
        }
        for day in chunks(from, to, 1).into_iter().map(|(d, _)| d) {
            let record = by_day.remove(&day).unwrap_or_default();
            let counted = day >= config.from;
            history.push(day, record, counted);
            if !counted {
                continue;
            }
            let next = day.tomorrow().unwrap_or(day);
            let interaction = if config.interaction {
                Some(Arc::new(InteractionTable::build(
                    Window::from_days(1).expect("one day is a window"),
                    interaction::fetch(&client, day, next, deadline()).await?.items,
                )))
            } else {
                None
            };
            let snapshot = history.snapshot(&config.windows, next, &tz, &users, interaction);
            let text = encode_snapshot(Arc::new(snapshot), config.include_user_email);
            writer.add_day(&text, start_of_day(next, &tz).as_second())?;
        }
        tracing::info!(
            %from,
            %to,
            chunk = index + 1,
            chunks = chunk_list.len(),
            requests_total = client.requests_sent(),
            "backfill: chunk fetched"
        );
    }
    let samples = writer.finish(&config.output)?;
    tracing::info!(samples, file = %config.output.display(), "backfill: file written");
    Ok(BackfillSummary { days, samples, requests: client.requests_sent() })
}

/// The plan, logged before the first request of the range.
fn announce(config: &BackfillConfig, tz: &TimeZone, users: &UserTable, chunks: usize, days: usize) {
    let pages_per_query = users.users.len().div_ceil(100).max(1) as u64;
    let estimate =
        chunks as u64 * 2 * pages_per_query + if config.interaction { days as u64 * pages_per_query } else { 0 };
    // Through the log, so --log.format json keeps every line JSON.
    tracing::info!(
        days,
        from = %config.from,
        to = %config.to,
        zone = tz.iana_name().unwrap_or("company zone"),
        users = users.users.len(),
        requests_estimate = estimate,
        minutes_estimate = (estimate as f64 / config.client.rate_limit / 60.0).round(),
        rate_limit = config.client.rate_limit,
        "backfill: plan"
    );
}

/// One company day of Gong data: each user's day-by-day calls (and email)
/// and the reviews published that day.
#[derive(Debug, Default)]
struct DayRecord {
    activity: DayActivity,
    emails: BTreeMap<GongId, String>,
    reviews: Vec<AnsweredScorecard>,
}

/// The days a window can reach (the largest window's worth) and the
/// cumulative totals since `--from`.
struct History {
    days: VecDeque<(Date, DayRecord)>,
    keep: usize,
    /// Shared with each day's snapshot only while it is encoded, so adding
    /// the next day changes it in place instead of copying it.
    totals: Arc<CounterTotals>,
}

impl History {
    /// Adds a day; `counted` days also go into the cumulative totals.
    fn push(&mut self, day: Date, record: DayRecord, counted: bool) {
        if counted {
            let totals = Arc::make_mut(&mut self.totals);
            for (user, calls) in &record.activity {
                let email = record.emails.get(user).map_or("", String::as_str);
                totals.add_counts(*user, email, calls.counts());
            }
            for review in &record.reviews {
                totals.add_review(review);
            }
        }
        self.days.push_back((day, record));
        while self.days.len() > self.keep {
            self.days.pop_front();
        }
    }

    /// What the live exporter would have shown the morning of `next`: each
    /// window's activity from its days (each call once, however many days
    /// list it, as in Gong's aggregate), reviews placed in windows by their day,
    /// interaction for `1d` only (ratios of a period are not sums of days).
    fn snapshot(
        &self,
        windows: &[Window],
        next: Date,
        tz: &TimeZone,
        users: &Arc<UserTable>,
        interaction: Option<Arc<InteractionTable>>,
    ) -> DataSnapshot {
        let activity = windows
            .iter()
            .map(|w| {
                let skip = self.days.len().saturating_sub(w.days() as usize);
                let recent = self.days.iter().skip(skip).map(|(_, r)| r);
                Arc::new(activity_window(*w, recent))
            })
            .collect();
        // Reviews of the kept days, borrowed: each lands in the windows
        // that hold its day.
        let reviews = self.days.iter().flat_map(|(_, r)| &r.reviews);
        let bounds: Vec<_> = windows.iter().map(|w| window_bounds(w, next, tz)).collect();
        DataSnapshot {
            activity,
            windowed: interaction
                .map(|table| (Endpoint::Interaction, Arc::new(vec![table]) as Arc<dyn WindowTables>))
                .into_iter()
                .collect(),
            scorecards: Some(Arc::new(ScorecardTable::build(reviews, &bounds, tz))),
            users: Some(Arc::clone(users)),
            counters: Some(Arc::clone(&self.totals)),
            // The rest is not history: scorecard questions are settings (the
            // live exporter serves today's), and coaching costs a request
            // per manager and day, left to the live collector.
            ..DataSnapshot::default()
        }
    }
}

async fn learn_time_zone(client: &GongClient, to: Date, deadline: Instant) -> Result<TimeZone, BackfillError> {
    let end = to.min(zone::probe_today(Timestamp::now()));
    match zone::learn(client, end, 28, deadline).await.1 {
        ZoneProbe::Learned(tz, ..) => Ok(tz),
        ZoneProbe::NoActivity => Err(BackfillError::UnknownTimeZone),
        ZoneProbe::Unknown(name) => Err(BackfillError::UnsupportedTimeZone(name)),
        ZoneProbe::Failed(error) => Err(error.into()),
    }
}

/// A window's activity table from its days of day-by-day calls (each user's
/// latest email: days come in time order), counted by the same code as the
/// live windows.
fn activity_window<'a>(window: Window, days: impl Iterator<Item = &'a DayRecord> + Clone) -> ActivityTable {
    let mut email_of: BTreeMap<GongId, &str> = BTreeMap::new();
    for (user, email) in days.clone().flat_map(|d| &d.emails) {
        if !email.is_empty() {
            email_of.insert(*user, email);
        }
    }
    let rows = distinct_calls(days.map(|d| &d.activity))
        .into_iter()
        .map(|(user_id, counts)| {
            let values = counts.into_iter().map(|(field, count)| (field, count as f64)).collect();
            (user_id, email_of.get(&user_id).copied().unwrap_or_default(), values)
        })
        .collect();
    ActivityTable::from_counts(window, rows)
}

/// Collects timestamped samples per family in scratch files beside the
/// output, then writes the families whole.
struct FamilyWriter {
    scratch: PathBuf,
    /// Family name to its `# TYPE/UNIT/HELP` lines and scratch file, in
    /// order of first appearance.
    families: Vec<(String, String, BufWriter<File>)>,
    /// Family name to its slot in `families` (and scratch file name).
    index: HashMap<String, usize>,
    /// `--label`s, rendered (`job="gong-exporter",instance="..."`), added
    /// to every sample so the history joins the live series.
    extra_labels: String,
    /// `{name="` and `,name="` of each `--label`, to find one a sample
    /// already has.
    extra_label_starts: Vec<(String, [String; 2])>,
}

impl FamilyWriter {
    fn create(output: &Path, labels: &[(String, String)]) -> Result<Self, BackfillError> {
        let scratch = PathBuf::from(format!("{}.parts", output.display()));
        let io = |source| BackfillError::Io { path: scratch.clone(), source };
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(io)?;
        }
        std::fs::create_dir_all(&scratch).map_err(io)?;
        let extra_labels = labels
            .iter()
            .map(|(name, value)| {
                let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                format!("{name}=\"{escaped}\"")
            })
            .collect::<Vec<_>>()
            .join(",");
        let extra_label_starts =
            labels.iter().map(|(name, _)| (name.clone(), [format!("{{{name}=\""), format!(",{name}=\"")])).collect();
        Ok(Self { scratch, families: Vec::new(), index: HashMap::new(), extra_labels, extra_label_starts })
    }

    /// Adds one day's exposition (no timestamps, no `# EOF`) at `timestamp`.
    fn add_day(&mut self, exposition: &str, timestamp: i64) -> Result<(), BackfillError> {
        // prometheus-client writes HELP, then TYPE, then UNIT.
        let mut help = "";
        let mut current: Option<usize> = None;
        for line in exposition.lines() {
            if line.starts_with("# HELP ") {
                help = line;
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or_default();
                let slot = match self.index.get(name) {
                    Some(slot) => *slot,
                    None => {
                        let path = self.scratch.join(format!("{}.part", self.families.len()));
                        let file =
                            File::create(&path).map_err(|source| BackfillError::Io { path: path.clone(), source })?;
                        let header = if help.is_empty() { format!("{line}\n") } else { format!("{help}\n{line}\n") };
                        self.families.push((name.to_owned(), header, BufWriter::new(file)));
                        self.index.insert(name.to_owned(), self.families.len() - 1);
                        self.families.len() - 1
                    }
                };
                current = Some(slot);
                help = "";
            } else if line.starts_with("# UNIT ") {
                if let Some(slot) = current
                    && !self.families[slot].1.contains("# UNIT ")
                {
                    self.families[slot].1.push_str(line);
                    self.families[slot].1.push('\n');
                }
            } else if let Some(slot) = current
                && !line.starts_with('#')
            {
                // A value holds no unescaped quote, so `,name="` can only
                // start a label.
                if let Some((name, _)) =
                    self.extra_label_starts.iter().find(|(_, starts)| starts.iter().any(|start| line.contains(start)))
                {
                    let metric = line.split(['{', ' ']).next().unwrap_or_default().to_owned();
                    return Err(BackfillError::LabelClash { name: name.clone(), metric });
                }
                let file = &mut self.families[slot].2;
                let written = match (self.extra_labels.as_str(), line.find(['{', ' '])) {
                    ("", _) | (_, None) => writeln!(file, "{line} {timestamp}"),
                    (extra, Some(at)) if line[at..].starts_with('{') => {
                        writeln!(file, "{}{{{extra},{} {timestamp}", &line[..at], &line[at + 1..])
                    }
                    (extra, Some(at)) => writeln!(file, "{}{{{extra}}}{} {timestamp}", &line[..at], &line[at..]),
                };
                written.map_err(|source| BackfillError::Io { path: self.scratch.clone(), source })?;
            }
        }
        Ok(())
    }

    /// Writes every family, its series grouped and in time order, then
    /// `# EOF`, to a temporary file renamed over `output`. Returns samples.
    fn finish(mut self, output: &Path) -> Result<u64, BackfillError> {
        let temp = PathBuf::from(format!("{}.tmp", output.display()));
        let result = self.write_grouped(&temp).and_then(|samples| {
            std::fs::rename(&temp, output)
                .map(|()| samples)
                .map_err(|source| BackfillError::Io { path: output.to_owned(), source })
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    fn write_grouped(&mut self, temp: &Path) -> Result<u64, BackfillError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| BackfillError::Io { path, source }
        };
        let mut out = BufWriter::new(File::create(temp).map_err(io(temp))?);
        let mut samples = 0u64;
        for (slot, (_, header, scratch)) in std::mem::take(&mut self.families).into_iter().enumerate() {
            let path = self.scratch.join(format!("{slot}.part"));
            scratch.into_inner().map_err(|e| e.into_error()).map_err(io(&path))?;
            out.write_all(header.as_bytes()).map_err(io(temp))?;
            // Series in order of first appearance; a series' samples were
            // appended day by day, so they are already in time order.
            let mut groups: Vec<Vec<String>> = Vec::new();
            let mut slot_of: HashMap<String, usize> = HashMap::new();
            for line in BufReader::new(File::open(&path).map_err(io(&path))?).lines() {
                let line = line.map_err(io(&path))?;
                // `series value timestamp`: label values may hold spaces.
                let Some(series) = line.rsplitn(3, ' ').nth(2) else {
                    continue;
                };
                let group = match slot_of.get(series) {
                    Some(group) => *group,
                    None => {
                        slot_of.insert(series.to_owned(), groups.len());
                        groups.push(Vec::new());
                        groups.len() - 1
                    }
                };
                groups[group].push(line);
            }
            for line in groups.iter().flatten() {
                writeln!(out, "{line}").map_err(io(temp))?;
                samples += 1;
            }
        }
        out.write_all(b"# EOF\n").map_err(io(temp))?;
        let file = out.into_inner().map_err(|e| e.into_error()).map_err(io(temp))?;
        file.sync_all().map_err(io(temp))?;
        Ok(samples)
    }
}

impl Drop for FamilyWriter {
    /// Scratch files go whether the backfill finished or failed.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
