//! Immutable results of the last complete fetch of each endpoint. The poller
//! builds a new [`DataSnapshot`] from the previous one, replacing only the
//! parts whose pages all arrived; the encoding writes it. Each part is a
//! collector's table ([`crate::collectors`]).

use std::sync::Arc;

use crate::collectors::Families;
use crate::collectors::activity::ActivityTable;
use crate::collectors::coaching::CoachingTable;
use crate::collectors::counters::{CounterFamilies, CounterTotals};
use crate::collectors::interaction::InteractionTable;
use crate::collectors::scorecard_questions::QuestionTable;
use crate::collectors::scorecards::ScorecardTable;
use crate::collectors::users::UserTable;

/// Everything `/metrics` shows about Gong's data.
#[derive(Debug, Clone, Default)]
pub struct DataSnapshot {
    /// Aggregate activity per window, smallest window first.
    pub activity: Vec<Arc<ActivityTable>>,
    /// Interaction stats per window, smallest window first.
    pub interaction: Vec<Arc<InteractionTable>>,
    pub scorecards: Option<Arc<ScorecardTable>>,
    /// Every scorecard's questions; `None` until fetched, or without the
    /// settings scope.
    pub scorecard_questions: Option<Arc<QuestionTable>>,
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
        visit(&self.interaction)?;
        let tables: [Option<&dyn Families>; 3] = [
            self.scorecards.as_deref().map(|t| t as &dyn Families),
            self.scorecard_questions.as_deref().map(|t| t as &dyn Families),
            self.users.as_deref().map(|t| t as &dyn Families),
        ];
        for table in tables.into_iter().flatten() {
            visit(table)?;
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
