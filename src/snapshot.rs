//! Immutable results of the last complete fetch of each endpoint. The poller
//! builds a new [`DataSnapshot`] from the previous one, replacing only the
//! parts whose pages all arrived; the encoding writes it. Each part is a
//! collector's table ([`crate::collectors`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::collectors::Families;
use crate::collectors::activity::ActivityTable;
use crate::collectors::coaching::CoachingTable;
use crate::collectors::counters::{CounterFamilies, CounterTotals};
use crate::collectors::daily::Part;
use crate::collectors::scorecards::ScorecardTable;
use crate::collectors::users::UserTable;
use crate::collectors::windowed::WindowTables;
use crate::endpoint::Endpoint;

/// Everything `/metrics` shows about Gong's data.
#[derive(Debug, Clone, Default)]
pub struct DataSnapshot {
    /// Aggregate activity per window, smallest window first.
    pub activity: Vec<Arc<ActivityTable>>,
    /// The tables of the collectors asked per window, each window whole
    /// ([`crate::collectors::windowed`]), by the endpoint they ask.
    pub windowed: BTreeMap<Endpoint, Arc<dyn WindowTables>>,
    pub scorecards: Option<Arc<ScorecardTable>>,
    /// The parts of the collectors asked once a company day
    /// ([`crate::collectors::daily`]), by the endpoint they ask; absent
    /// until fetched, or while Gong refuses it.
    pub daily: BTreeMap<Endpoint, Part>,
    pub users: Option<Arc<UserTable>>,
    /// Cumulative counters; `None` until counting has begun.
    pub counters: Option<Arc<CounterTotals>>,
    /// Coaching per manager and report; `None` when not collected.
    pub coaching: Option<Arc<CoachingTable>>,
}

impl DataSnapshot {
    /// Hands `visit` each part that has something to encode, in the order
    /// `/metrics` lists their families. This is the one list of the parts:
    /// the encoder and the series count both walk it, so a new part cannot
    /// be counted and not encoded, or the other way round.
    pub fn each_part<E>(&self, mut visit: impl FnMut(&dyn Families) -> Result<(), E>) -> Result<(), E> {
        visit(&self.activity)?;
        for tables in self.windowed.values() {
            visit(tables.as_ref())?;
        }
        if let Some(scorecards) = &self.scorecards {
            visit(scorecards.as_ref())?;
        }
        for part in self.daily.values() {
            visit(part.as_ref())?;
        }
        if let Some(users) = &self.users {
            visit(users.as_ref())?;
        }
        if let Some(totals) = &self.counters {
            visit(&CounterFamilies { totals, activity: &self.activity })?;
        }
        if let Some(coaching) = &self.coaching {
            visit(coaching.as_ref())?;
        }
        Ok(())
    }

    /// Number of per-user and per-scorecard series the snapshot encodes.
    pub fn series_count(&self) -> usize {
        let mut series = 0;
        let _: Result<(), std::convert::Infallible> = self.each_part(|part| {
            series += part.series();
            Ok(())
        });
        series
    }
}
