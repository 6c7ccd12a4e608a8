//! Immutable results of the last complete fetch of each endpoint. The poller
//! builds a new [`DataSnapshot`] from the previous one, replacing only the
//! parts whose pages all arrived; the encoding writes it. Each part is a
//! collector's table ([`crate::collectors`]).

use std::sync::Arc;

use crate::collectors::Families;
use crate::collectors::activity::ActivityTable;
use crate::collectors::coaching::CoachingTable;
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
    pub counters: Option<Arc<crate::collectors::counters::CounterTotals>>,
    /// Coaching per manager and report; `None` when not collected.
    pub coaching: Option<Arc<CoachingTable>>,
}

impl DataSnapshot {
    /// Number of per-user and per-scorecard series the snapshot encodes.
    pub fn series_count(&self) -> usize {
        let parts: [Option<&dyn Families>; 6] = [
            Some(&self.activity as &dyn Families),
            Some(&self.interaction as &dyn Families),
            self.scorecards.as_deref().map(|t| t as &dyn Families),
            self.scorecard_questions.as_deref().map(|t| t as &dyn Families),
            self.users.as_deref().map(|t| t as &dyn Families),
            self.coaching.as_deref().map(|t| t as &dyn Families),
        ];
        let counters = self.counters.as_ref().map_or(0, |c| c.series_count());
        parts.into_iter().flatten().map(Families::series).sum::<usize>() + counters
    }
}
