//! The Gong endpoints the exporter polls: the `endpoint` label value, the
//! path and the scope each needs. Its own module because the client, the
//! poller, the self-metrics and the landing page all name endpoints, and
//! none of them should have to import another to do so.

use std::fmt;

/// The Gong endpoints the exporter polls; the `endpoint` label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    ActivityAggregate,
    ActivityDayByDay,
    Interaction,
    Scorecards,
    Users,
    Workspaces,
    Coaching,
    ScorecardSettings,
}

impl Endpoint {
    /// Every endpoint, in polling order.
    pub const ALL: [Endpoint; 8] = [
        Self::ActivityAggregate,
        Self::Interaction,
        Self::Scorecards,
        Self::ScorecardSettings,
        Self::Users,
        Self::ActivityDayByDay,
        Self::Workspaces,
        Self::Coaching,
    ];

    /// Its place in [`Endpoint::ALL`], for tables indexed by endpoint.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|e| *e == self).expect("every endpoint is in ALL")
    }

    /// The `endpoint` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActivityAggregate => "activity_aggregate",
            Self::ActivityDayByDay => "activity_day_by_day",
            Self::Interaction => "interaction",
            Self::Scorecards => "scorecards",
            Self::Users => "users",
            Self::Workspaces => "workspaces",
            Self::Coaching => "coaching",
            Self::ScorecardSettings => "scorecard_settings",
        }
    }

    /// Path below the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::ActivityAggregate => "/v2/stats/activity/aggregate",
            Self::ActivityDayByDay => "/v2/stats/activity/day-by-day",
            Self::Interaction => "/v2/stats/interaction",
            Self::Scorecards => "/v2/stats/activity/scorecards",
            Self::Users => "/v2/users",
            Self::Workspaces => "/v2/workspaces",
            Self::Coaching => "/v2/coaching",
            Self::ScorecardSettings => "/v2/settings/scorecards",
        }
    }

    /// The API key scope the endpoint needs.
    pub fn scope(self) -> &'static str {
        match self {
            Self::ActivityAggregate => "api:stats:user-actions",
            Self::ActivityDayByDay => "api:stats:user-actions:detailed",
            Self::Interaction => "api:stats:interaction",
            Self::Scorecards => "api:stats:scorecards",
            Self::Users => "api:users:read",
            Self::Workspaces => "api:workspaces:read",
            Self::Coaching => "api:coaching:read",
            Self::ScorecardSettings => "api:settings:scorecards:read",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
