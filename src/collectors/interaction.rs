//! Interaction stats: how each user talks on calls (talk ratio, longest
//! monologue, patience...), from `POST /v2/stats/interaction`. They are
//! ratios and averages over a whole window, so they cannot be summed from
//! days: every window is asked for whole. The six stats Gong documents get
//! their own family (`gong_interaction_talk_ratio`...); any other is
//! `gong_interaction_stat{stat="<name as Gong wrote it>"}`.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use jiff::civil::Date;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use serde::Deserialize;
use tokio::time::Instant;

use super::labels::{CACHED, LabelOptions, UserSeries};
use super::windowed::{self, WindowFuture, WindowTables, WindowedStats};
use super::{Families, Windowed, replace_window};
use crate::endpoint::Endpoint;
use crate::gong::models::{
    GongId, Listed, Record, Records, Unusable, impl_page, lenient_number, null_as_default, short_labels, valid_number,
};
use crate::gong::{Fetched, GongClient, GongError, Query};
use crate::windows::{Window, WindowBounds};

/// `POST /v2/stats/interaction` for `[from, to)`, all pages.
pub async fn fetch(
    client: &GongClient,
    from: Date,
    to: Date,
    deadline: Instant,
) -> Result<Fetched<PersonInteraction>, GongError> {
    client.fetch_all::<InteractionPage>(Endpoint::Interaction, Query::dates(from, to), deadline).await
}

/// The interaction collector as both schedules run it: each window asked
/// whole, its answer replacing that window's table.
#[derive(Debug)]
pub struct InteractionStats;

impl WindowedStats for InteractionStats {
    fn endpoint(&self) -> Endpoint {
        Endpoint::Interaction
    }

    fn empty(&self) -> Arc<dyn WindowTables> {
        Arc::new(Vec::<Arc<InteractionTable>>::new())
    }

    fn fetch<'a>(&'a self, client: &'a GongClient, bounds: WindowBounds, deadline: Instant) -> WindowFuture<'a> {
        Box::pin(async move {
            let fetched = fetch(client, bounds.from, bounds.to, deadline).await?;
            let window = bounds.window;
            Ok(windowed::answer(fetched, window, answer_hash, |people| {
                Box::new(InteractionTable::build(window, people))
            }))
        })
    }
}

/// A hash of an interaction answer, to tell a changed answer from the same.
fn answer_hash(people: &[PersonInteraction]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for person in people {
        person.user_id.hash(&mut hasher);
        for stat in &person.person_interaction_stats {
            stat.name.hash(&mut hasher);
            stat.value.map(f64::to_bits).hash(&mut hasher);
        }
    }
    hasher.finish()
}

impl WindowTables for Vec<Arc<InteractionTable>> {
    fn with(&self, answer: windowed::WindowAnswer) -> Arc<dyn WindowTables> {
        let table = answer.table.downcast::<InteractionTable>().expect("an interaction answer holds its table");
        let mut tables = self.clone();
        replace_window(&mut tables, *table);
        Arc::new(tables)
    }

    fn user_ids(&self) -> Box<dyn Iterator<Item = GongId> + '_> {
        Box::new(self.iter().flat_map(|t| t.rows.iter().map(|r| r.user_id)))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The company's zone as Gong names it, from the first page of an
/// interaction query for `[from, to)`; `None` when that period is empty
/// (Gong's 404 carries no zone). One request.
pub async fn reported_zone(
    client: &GongClient,
    from: Date,
    to: Date,
    deadline: Instant,
) -> Result<Option<String>, GongError> {
    client.first_page_zone::<InteractionPage>(Endpoint::Interaction, &Query::dates(from, to), deadline).await
}

/// Interaction stats with their own family: Gong's name, metric base name
/// (before any unit suffix), unit, and meaning.
pub const KNOWN_INTERACTION_STATS: [(&str, &str, Option<Unit>, &str); 6] = [
    ("Talk Ratio", "gong_interaction_talk_ratio", None, "Share of call time the user talked (0-1)"),
    (
        "Longest Monologue",
        "gong_interaction_longest_monologue",
        Some(Unit::Seconds),
        "Longest uninterrupted stretch the user talked",
    ),
    (
        "Longest Customer Story",
        "gong_interaction_longest_customer_story",
        Some(Unit::Seconds),
        "Longest uninterrupted stretch a customer talked on the user's calls",
    ),
    (
        "Interactivity",
        "gong_interaction_interactivity",
        None,
        "How often the speaker changed on the user's calls (Gong's 0-10 score)",
    ),
    ("Patience", "gong_interaction_patience", Some(Unit::Seconds), "Average pause before the user answered a customer"),
    ("Question Rate", "gong_interaction_question_rate", None, "Questions the user asked per hour of call"),
];

/// Which family an interaction stat named `name` belongs to.
pub fn interaction_metric(name: &str) -> InteractionKey {
    KNOWN_INTERACTION_STATS
        .iter()
        .position(|(gong, ..)| gong.eq_ignore_ascii_case(name.trim()))
        .map_or_else(|| InteractionKey::Other(name.to_owned()), InteractionKey::Known)
}

/// Where an interaction stat goes: a dedicated family or the catch-all.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum InteractionKey {
    /// Index into [`KNOWN_INTERACTION_STATS`].
    Known(usize),
    /// `gong_interaction_stat{stat="<name>"}`.
    Other(String),
}

/// One page of `POST /v2/stats/interaction`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub people_interaction_stats: Listed<PersonInteraction>,
    pub time_zone: Option<String>,
}

/// One user's interaction stats for the requested period.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonInteraction {
    pub user_id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_email_address: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub person_interaction_stats: Vec<InteractionStat>,
}

/// One named interaction stat ("Talk Ratio", "Patience", ...).
#[derive(Debug, Clone, Deserialize)]
pub struct InteractionStat {
    pub name: String,
    /// `None` when Gong sends `null` (no calls to measure).
    #[serde(default, deserialize_with = "lenient_number")]
    pub value: Option<f64>,
}

impl Record for PersonInteraction {
    fn key(&self) -> Option<u64> {
        Some(self.user_id.0)
    }

    fn check(&mut self) -> Result<(), Unusable> {
        short_labels(std::iter::once(self.user_email_address.as_str()))?;
        short_labels(self.person_interaction_stats.iter().map(|s| s.name.as_str()))?;
        self.person_interaction_stats.iter().try_for_each(|s| valid_number(s.value))
    }
}

impl_page!(InteractionPage, PersonInteraction, people_interaction_stats, tz = time_zone);

/// One user's interaction stats.
#[derive(Debug, Clone)]
pub struct InteractionRow {
    pub user_id: GongId,
    pub email: String,
    pub stats: Vec<(InteractionKey, f64)>,
}

/// `peopleInteractionStats` for one window.
#[derive(Debug, Clone)]
pub struct InteractionTable {
    pub window: Window,
    pub rows: Vec<InteractionRow>,
}

impl Windowed for InteractionTable {
    fn window(&self) -> Window {
        self.window
    }
}

impl InteractionTable {
    /// Builds the table; `null` values are skipped, and a stat Gong repeats
    /// for a user keeps its first value so no series is written twice.
    pub fn build(window: Window, people: Vec<PersonInteraction>) -> Self {
        let rows = people
            .into_iter()
            .map(|person| {
                let mut stats: Vec<(InteractionKey, f64)> = Vec::with_capacity(person.person_interaction_stats.len());
                for stat in person.person_interaction_stats {
                    let (Some(value), key) = (stat.value, interaction_metric(&stat.name)) else {
                        continue;
                    };
                    if !stats.iter().any(|(k, _)| *k == key) {
                        stats.push((key, value));
                    }
                }
                InteractionRow { user_id: person.user_id, email: person.user_email_address, stats }
            })
            .collect();
        Self { window, rows }
    }
}

impl Families for Vec<Arc<InteractionTable>> {
    fn encode(&self, labels: &LabelOptions, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let tables = self;
        if tables.is_empty() {
            return Ok(());
        }
        for (index, (gong_name, metric, unit, meaning)) in KNOWN_INTERACTION_STATS.iter().enumerate() {
            let key = InteractionKey::Known(index);
            let present = tables.iter().any(|t| t.rows.iter().any(|r| r.stats.iter().any(|(k, _)| *k == key)));
            if !present {
                continue;
            }
            let help = format!("{meaning}, from Gong's interaction stat '{gong_name}', in the window. {CACHED}");
            let mut family = encoder.encode_descriptor(metric, &help, unit.as_ref(), MetricType::Gauge)?;
            for table in tables {
                for row in &table.rows {
                    for (_, value) in row.stats.iter().filter(|(k, _)| *k == key) {
                        let labels = UserSeries {
                            user_id: row.user_id,
                            email: labels.email(&row.email),
                            window: Some(table.window),
                            stat: None,
                        };
                        family.encode_family(&labels)?.encode_gauge(value)?;
                    }
                }
            }
        }
        let others: BTreeSet<&str> = tables
            .iter()
            .flat_map(|t| t.rows.iter())
            .flat_map(|r| r.stats.iter())
            .filter_map(|(k, _)| match k {
                InteractionKey::Other(name) => Some(name.as_str()),
                InteractionKey::Known(_) => None,
            })
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        let help = format!("Any other Gong interaction stat, by the name Gong gives it, in the window. {CACHED}");
        let mut family = encoder.encode_descriptor("gong_interaction_stat", &help, None, MetricType::Gauge)?;
        for table in tables {
            for row in &table.rows {
                for (key, value) in &row.stats {
                    if let InteractionKey::Other(name) = key {
                        let labels = UserSeries {
                            user_id: row.user_id,
                            email: labels.email(&row.email),
                            window: Some(table.window),
                            stat: Some(name),
                        };
                        family.encode_family(&labels)?.encode_gauge(value)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn series(&self) -> usize {
        self.iter().map(|t| t.rows.iter().map(|r| r.stats.len()).sum::<usize>()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window's answer replaces that window's table and no other; the
    /// tables stay smallest window first, and name their users.
    #[test]
    fn an_answer_replaces_its_window_only() {
        let person = |id: u64, ratio: f64| PersonInteraction {
            user_id: GongId(id),
            user_email_address: String::new(),
            person_interaction_stats: vec![InteractionStat { name: "Talk Ratio".into(), value: Some(ratio) }],
        };
        let week = Window::from_days(7).unwrap();
        let fetched = |people: Vec<PersonInteraction>| Fetched {
            items: people,
            time_zone: None,
            pages: 1,
            skipped: Default::default(),
            skipped_request_id: None,
        };
        let answer = |window, people| {
            let mut fetched = windowed::answer(fetched(people), window, answer_hash, |people| {
                Box::new(InteractionTable::build(window, people))
            });
            fetched.items.pop().unwrap()
        };
        let tables = InteractionStats.empty();
        let tables = tables.with(answer(week, vec![person(1, 0.5)]));
        let tables = tables.with(answer(Window::ONE_DAY, vec![person(2, 0.4)]));
        let first = answer(Window::ONE_DAY, vec![person(3, 0.3), person(4, 0.2)]);
        assert_eq!(first.records, 2);
        let tables = tables.with(first);
        let typed = tables.as_any().downcast_ref::<Vec<Arc<InteractionTable>>>().unwrap();
        assert_eq!(typed.iter().map(|t| t.window).collect::<Vec<_>>(), [Window::ONE_DAY, week]);
        assert_eq!(tables.user_ids().collect::<Vec<_>>(), [GongId(3), GongId(4), GongId(1)], "the 1d replaced");
        assert_ne!(answer_hash(&[person(1, 0.5)]), answer_hash(&[person(1, 0.6)]), "a changed value is a change");
    }

    #[test]
    fn interaction_names_map_to_families() {
        assert_eq!(interaction_metric("Talk Ratio"), InteractionKey::Known(0));
        assert_eq!(interaction_metric("Question Rate"), InteractionKey::Known(5));
        assert_eq!(interaction_metric("Filler Words"), InteractionKey::Other("Filler Words".into()));
    }
}
