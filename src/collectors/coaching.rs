//! Coaching: what each manager did on each direct report's calls (listened,
//! gave feedback, scored...), from `GET /v2/coaching` per workspace, manager
//! and period, with the workspaces from `GET /v2/workspaces`. Gong lists the
//! call IDs behind each metric; a window counts distinct calls, so the IDs
//! are kept and a window built from kept days is their union. Families are
//! `gong_coaching_<metric in snake_case>{manager_id,...,report_id,...,window}`.
//! When the day's requests run is the poller's concern
//! (`crate::poller`'s coaching collector).

use std::collections::BTreeMap;
use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::MetricType;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use tokio::time::Instant;

use super::Families;
use super::labels::{CACHED, LabelOptions, label};
use crate::endpoint::Endpoint;
use crate::gong::models::{GongId, Listed, Record, Records, Unusable, impl_page, null_as_default, short_labels};
use crate::gong::{Fetched, GongClient, GongError, Query};
use crate::naming::{coaching_metric_name, family_owners, help_name};
use crate::windows::Window;

/// `GET /v2/workspaces`.
pub async fn workspaces(client: &GongClient, deadline: Instant) -> Result<Fetched<Workspace>, GongError> {
    client.fetch_all::<WorkspacesPage>(Endpoint::Workspaces, Query::Get(Vec::new()), deadline).await
}

/// `GET /v2/coaching` for a manager in a workspace over `[from, to)`
/// (ISO-8601 instants). `None` when Gong answers 404, which for this
/// endpoint means the account's plan lacks coaching.
pub async fn fetch(
    client: &GongClient,
    workspace: GongId,
    manager: GongId,
    from: &str,
    to: &str,
    deadline: Instant,
) -> Result<Option<Vec<ManagerCoaching>>, GongError> {
    let params = vec![
        ("workspace-id", workspace.to_string()),
        ("manager-id", manager.to_string()),
        ("from", from.to_owned()),
        ("to", to.to_owned()),
    ];
    let fetched = client.fetch_all::<CoachingPage>(Endpoint::Coaching, Query::Get(params), deadline).await?;
    Ok((fetched.pages > 0).then_some(fetched.items))
}

/// `GET /v2/workspaces`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspacesPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub workspaces: Listed<Workspace>,
}

/// A Gong workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// `GET /v2/coaching` for one manager, workspace and period.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoachingPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub coaching_data: Listed<ManagerCoaching>,
}

/// A manager's coaching of each direct report. Serialised when a day's
/// answers are kept in `--storage.path`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagerCoaching {
    pub manager: Option<CoachingUser>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub direct_reports_metrics: Vec<ReportCoaching>,
}

/// A person in a coaching answer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoachingUser {
    pub id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_address: String,
}

/// What the manager did on one report's calls: metric name (e.g.
/// `callsListenedTo`) to the calls' IDs. The IDs are kept (not only their
/// number) because a window is the union of its days: a call listened to on
/// two days is one call in the window. Kept as a map so a metric Gong adds
/// later is exported by the same rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportCoaching {
    pub report: Option<CoachingUser>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metrics: std::collections::BTreeMap<String, CallIds>,
}

/// The call IDs of a coaching metric; `None` when Gong sent something other
/// than a list (not a count, so not exported). IDs that are not 64-bit
/// integers are kept by a hash of their text: only equality matters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallIds(pub Option<Vec<u64>>);

impl CallIds {
    /// How many calls.
    pub fn count(&self) -> Option<u64> {
        self.0.as_ref().map(|ids| ids.len() as u64)
    }
}

impl Serialize for CallIds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CallIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Id {
            Number(u64),
            Text(String),
            Other(de::IgnoredAny),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            List(Vec<Id>),
            Other(de::IgnoredAny),
        }
        Ok(CallIds(match Shape::deserialize(deserializer)? {
            Shape::List(ids) => Some(
                ids.into_iter()
                    .filter_map(|id| match id {
                        Id::Number(n) => Some(n),
                        Id::Text(t) => Some(t.trim().parse().unwrap_or_else(|_| text_id(&t))),
                        Id::Other(_) => None,
                    })
                    .collect(),
            ),
            Shape::Other(_) => None,
        }))
    }
}

/// A stable 64-bit stand-in for an ID that is not a number.
fn text_id(text: &str) -> u64 {
    crate::gong::models::stable_hash(text.as_bytes())
}

impl Record for Workspace {
    fn key(&self) -> Option<u64> {
        Some(self.id.0)
    }

    fn check(&mut self) -> Result<(), Unusable> {
        short_labels(std::iter::once(self.name.as_str()))
    }
}

impl Record for ManagerCoaching {
    /// None: a query names one manager, whose reports may be split over
    /// pages; taking them for duplicates would drop reports.
    fn key(&self) -> Option<u64> {
        None
    }

    fn check(&mut self) -> Result<(), Unusable> {
        let people = self.manager.iter().chain(self.direct_reports_metrics.iter().filter_map(|r| r.report.as_ref()));
        short_labels(people.map(|p| p.email_address.as_str()))?;
        short_labels(self.direct_reports_metrics.iter().flat_map(|r| r.metrics.keys().map(String::as_str)))
    }
}

impl_page!(WorkspacesPage, Workspace, workspaces);
impl_page!(CoachingPage, ManagerCoaching, coaching_data);

/// A coaching metric as Gong names it and the family it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoachingMetric {
    /// e.g. `callsListenedTo`.
    pub gong_name: String,
    /// e.g. `gong_coaching_calls_listened_to`.
    pub metric: String,
}

/// What one manager did on one report's calls in one window and workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct CoachingRow {
    pub window: Window,
    pub workspace_id: GongId,
    pub manager_id: GongId,
    pub manager_email: String,
    pub report_id: GongId,
    pub report_email: String,
    /// `(index into CoachingTable::metrics, calls)`.
    pub values: Vec<(u16, u64)>,
}

/// One `GET /v2/coaching` answer and what it was asked for.
#[derive(Debug, Clone)]
pub struct CoachingAnswer {
    pub window: Window,
    pub workspace_id: GongId,
    pub data: Vec<ManagerCoaching>,
}

/// Coaching of every manager's reports, per window and workspace.
#[derive(Debug, Clone, Default)]
pub struct CoachingTable {
    /// Every metric seen, sorted by family name.
    pub metrics: Vec<CoachingMetric>,
    pub rows: Vec<CoachingRow>,
}

impl CoachingTable {
    /// Builds the table. Emails come from Gong's answer, else from `users`;
    /// a `(window, workspace, manager, report)` Gong lists twice keeps its
    /// first entry, and of two metric names with the same snake_case form
    /// the first in name order owns the family.
    pub fn build(answers: Vec<CoachingAnswer>, users: Option<&super::users::UserTable>) -> Self {
        let email_of: std::collections::HashMap<GongId, &str> =
            users.map(|t| t.users.iter().map(|u| (u.id, u.email.as_str())).collect()).unwrap_or_default();
        let email = |person: &CoachingUser| {
            if person.email_address.is_empty() {
                email_of.get(&person.id).copied().unwrap_or_default().to_owned()
            } else {
                person.email_address.clone()
            }
        };
        let counted = answers
            .iter()
            .flat_map(|a| a.data.iter())
            .flat_map(|data| data.direct_reports_metrics.iter())
            .flat_map(|report| report.metrics.iter().filter(|(_, ids)| ids.0.is_some()).map(|(n, _)| n.as_str()));
        let metrics: Vec<CoachingMetric> = family_owners(counted, coaching_metric_name)
            .into_iter()
            .map(|(metric, gong_name)| CoachingMetric { gong_name: gong_name.to_owned(), metric })
            .collect();
        let index: BTreeMap<&str, u16> =
            metrics.iter().enumerate().map(|(i, m)| (m.gong_name.as_str(), i as u16)).collect();
        let mut seen = std::collections::HashSet::new();
        let mut rows = Vec::new();
        for answer in &answers {
            for data in &answer.data {
                let Some(manager) = &data.manager else { continue };
                for report in &data.direct_reports_metrics {
                    let Some(person) = &report.report else { continue };
                    if !seen.insert((answer.window, answer.workspace_id, manager.id, person.id)) {
                        continue;
                    }
                    let mut values: Vec<(u16, u64)> = report
                        .metrics
                        .iter()
                        .filter_map(|(name, ids)| Some((*index.get(name.as_str())?, ids.count()?)))
                        .collect();
                    values.sort_by_key(|(i, _)| *i);
                    rows.push(CoachingRow {
                        window: answer.window,
                        workspace_id: answer.workspace_id,
                        manager_id: manager.id,
                        manager_email: email(manager),
                        report_id: person.id,
                        report_email: email(person),
                        values,
                    });
                }
            }
        }
        Self { metrics, rows }
    }
}

impl Families for CoachingTable {
    fn encode(&self, labels: &LabelOptions, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let table = self;
        for (index, metric) in table.metrics.iter().enumerate() {
            let index = index as u16;
            let shown = help_name(&metric.gong_name);
            let help = format!(
                "Calls of the report on which the manager did `{shown}` in the window, from Gong's coaching endpoint (collected once a day). {CACHED}"
            );
            let mut family = encoder.encode_descriptor(&metric.metric, &help, None, MetricType::Gauge)?;
            for row in &table.rows {
                let Ok(at) = row.values.binary_search_by_key(&index, |(i, _)| *i) else {
                    continue;
                };
                family
                    .encode_family(&CoachingSeries { row, include_email: labels.include_email })?
                    .encode_gauge(&row.values[at].1)?;
            }
        }
        Ok(())
    }

    fn series(&self) -> usize {
        self.rows.iter().map(|r| r.values.len()).sum()
    }
}

/// `{manager_id, manager_email, report_id, report_email, workspace_id, window}`.
struct CoachingSeries<'a> {
    row: &'a CoachingRow,
    include_email: bool,
}

impl EncodeLabelSet for CoachingSeries<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        let r = self.row;
        label(encoder, "manager_id", r.manager_id)?;
        if self.include_email {
            label(encoder, "manager_email", r.manager_email.as_str())?;
        }
        label(encoder, "report_id", r.report_id)?;
        if self.include_email {
            label(encoder, "report_email", r.report_email.as_str())?;
        }
        label(encoder, "workspace_id", r.workspace_id)?;
        label(encoder, "window", r.window)
    }
}
