//! One module per Gong endpoint family, as node_exporter keeps one file per
//! collector: each holds the family's wire types (Gong's answers), its
//! request, the table its answers fold into, and how that table encodes.
//! Adding an endpoint means its variant in [`crate::endpoint`] (its path,
//! which the client and the simulator share), its collector file here and
//! its registration, a simulator route and a test. Two shapes need nothing
//! more, as the poller runs every registered one and the snapshot keeps and
//! encodes their parts: an endpoint asked once a company day whose answer
//! replaces its part whole ([`daily::Daily`], the scorecard questions), and
//! one asked per window, each window whole ([`windowed::WindowedStats`],
//! the interaction stats). The two built from kept days (activity
//! day-by-day and answered scorecards, each a day at a time while
//! yesterday settles, then summed into windows) and the coaching collector
//! (a request per manager) keep their own steps in the poller.
//!
//! The [`REGISTRY`] lists the collectors. The `--[no-]collector.<name>`
//! flags, what the landing page says each endpoint is asked for, the plan's
//! re-poll rows and `gong_exporter_collector_enabled` all come from it, so
//! a collector cannot exist without its switch.
//!
//! What every family shares (the label sets of a user series, the HELP
//! suffix) is in [`labels`]; what every answer shares (IDs, pages, skipped
//! records) stays in [`crate::gong::models`].

pub mod activity;
pub mod coaching;
pub mod counters;
pub mod daily;
pub mod interaction;
pub mod labels;
pub mod scorecard_questions;
pub mod scorecards;
pub mod users;
pub mod windowed;

use std::collections::BTreeSet;
use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;

use crate::endpoint::Endpoint;
use crate::windows::Window;

/// A collector: the `collector` label value and the name in its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CollectorName {
    Activity,
    Interaction,
    Scorecards,
    Users,
    Coaching,
    /// The cumulative counters: no endpoint of their own, they add up what
    /// the activity and scorecards collectors fetch.
    Counters,
}

impl CollectorName {
    /// The `collector` label value, and `<name>` in `--collector.<name>`.
    pub fn as_str(self) -> &'static str {
        self.registration().label
    }

    /// This collector's entry in the [`REGISTRY`].
    pub fn registration(self) -> &'static Registration {
        REGISTRY.iter().find(|r| r.name == self).expect("every collector is registered")
    }
}

impl fmt::Display for CollectorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A collector's entry in the registry.
#[derive(Debug)]
pub struct Registration {
    pub name: CollectorName,
    /// The `collector` label value.
    pub label: &'static str,
    /// `--collector.<name>` and `--no-collector.<name>`, when the operator
    /// may switch it; `None` for a collector the others need.
    pub flags: Option<Flags>,
    /// On unless switched off.
    pub enabled_by_default: bool,
    /// What the day's plan calls its re-poll while yesterday settles
    /// (`--poll.schedule=settling`); `None` when it is not re-polled.
    pub repoll: Option<&'static str>,
    /// Each Gong endpoint it sends requests to, and what it is asked for,
    /// as the landing page says.
    pub roles: &'static [Role],
    /// Its endpoints asked once a company day whose answer replaces their
    /// part whole: the poller runs one of each while the collector is on.
    pub daily: &'static [fn() -> Box<dyn daily::Daily>],
    /// Its endpoint asked per window, each window whole, when it is one.
    pub windowed: Option<&'static dyn windowed::WindowedStats>,
}

impl Registration {
    /// The Gong endpoints it sends requests to, in its roles' order.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.roles.iter().map(|r| r.endpoint).collect()
    }
}

/// What one endpoint feeds and when each schedule asks it.
#[derive(Debug)]
pub struct Role {
    pub endpoint: Endpoint,
    /// Under `--poll.schedule=settling`.
    pub settling: &'static str,
    /// Under `--poll.schedule=fixed`.
    pub fixed: &'static str,
    /// For an endpoint asked once a company day: what the day's plan calls
    /// it in the row of the cycle that asked it.
    pub once_a_day: Option<&'static str>,
}

/// A collector's two switches, spelt as node_exporter spells them.
#[derive(Debug)]
pub struct Flags {
    pub on: &'static str,
    pub off: &'static str,
    /// The `--help` text of the `on` flag.
    pub help: &'static str,
}

/// Workspaces and coaching serve one purpose, in both schedules.
const COACHING_ROLE: &str = "the managers' coaching: once a company day, per workspace and window, top down, each manager an earlier answer did not hold";

/// Every collector; the settling schedule re-polls (and its plan lists)
/// them in this order.
pub const REGISTRY: [Registration; 6] = [
    Registration {
        name: CollectorName::Activity,
        label: "activity",
        flags: Some(Flags {
            on: "collector.activity",
            off: "no-collector.activity",
            help: "Collect each user's activity (calls hosted and attended, listening, feedback, comments, scorecards, shares) per window from Gong's activity stats.",
        }),
        enabled_by_default: true,
        repoll: Some("yesterday's activity (day-by-day)"),
        daily: &[],
        windowed: None,
        roles: &[
            Role {
                endpoint: Endpoint::ActivityAggregate,
                settling: "once a day from the settle point, checks the activity windows built from day-by-day",
                fixed: "the activity windows: every window, every cycle",
                once_a_day: None,
            },
            Role {
                endpoint: Endpoint::ActivityDayByDay,
                settling: "the activity windows and counters: every window's days after company midnight, then yesterday until it settles",
                fixed: "the activity counters: the company days completed, after midnight",
                once_a_day: None,
            },
        ],
    },
    Registration {
        name: CollectorName::Scorecards,
        label: "scorecards",
        flags: Some(Flags {
            on: "collector.scorecards",
            off: "no-collector.scorecards",
            help: "Collect answered scorecards: reviews per scorecard, rep and reviewer, and scores per question, per window.",
        }),
        enabled_by_default: true,
        repoll: Some("yesterday's answered scorecards"),
        daily: &[|| Box::new(scorecard_questions::QuestionsSchedule::default())],
        windowed: None,
        roles: &[
            Role {
                endpoint: Endpoint::Scorecards,
                settling: "the scorecard windows and counters: every window's days after company midnight, then yesterday until it settles",
                fixed: "the scorecard windows and counters: the largest window, every cycle",
                once_a_day: None,
            },
            Role {
                endpoint: Endpoint::ScorecardSettings,
                settling: "scorecard questions by name and score range: once a company day",
                fixed: "scorecard questions by name and score range: once a company day",
                once_a_day: Some("scorecard questions"),
            },
        ],
    },
    Registration {
        name: CollectorName::Interaction,
        label: "interaction",
        flags: Some(Flags {
            on: "collector.interaction",
            off: "no-collector.interaction",
            help: "Collect each user's interaction stats (talk ratio, longest monologue and customer story, interactivity, patience, question rate) per window.",
        }),
        enabled_by_default: true,
        repoll: Some("interaction stats of every window"),
        daily: &[],
        windowed: Some(&interaction::InteractionStats),
        roles: &[Role {
            endpoint: Endpoint::Interaction,
            settling: "the interaction windows: each whole window after company midnight, then again until yesterday settles",
            fixed: "the interaction windows: every window, every cycle",
            once_a_day: None,
        }],
    },
    // The coaching collector asks for each manager's coaching, and the users
    // say who the managers are: users cannot be switched off.
    Registration {
        name: CollectorName::Users,
        label: "users",
        flags: None,
        enabled_by_default: true,
        repoll: None,
        daily: &[],
        windowed: None,
        roles: &[Role {
            endpoint: Endpoint::Users,
            settling: "names and managers: once a company day, and again when an answer names a user it lacks",
            fixed: "names and managers: every cycle",
            once_a_day: None,
        }],
    },
    Registration {
        name: CollectorName::Coaching,
        label: "coaching",
        flags: Some(Flags {
            on: "collector.coaching",
            off: "no-collector.coaching",
            help: "Collect manager coaching from Gong's coaching endpoint, once a day: one request per workspace x manager x window. `--no-collector.coaching` (or `=false`) turns it off, as node_exporter spells collector switches.",
        }),
        enabled_by_default: true,
        repoll: None,
        daily: &[],
        windowed: None,
        roles: &[
            Role {
                endpoint: Endpoint::Workspaces,
                settling: COACHING_ROLE,
                fixed: COACHING_ROLE,
                once_a_day: Some("workspaces"),
            },
            Role {
                endpoint: Endpoint::Coaching,
                settling: COACHING_ROLE,
                fixed: COACHING_ROLE,
                once_a_day: Some("managers' coaching"),
            },
        ],
    },
    // Counts what activity and scorecards fetch: with either off, its part
    // of the counters stays away too.
    Registration {
        name: CollectorName::Counters,
        label: "counters",
        flags: Some(Flags {
            on: "collector.counters",
            off: "no-collector.counters",
            help: "Serve the cumulative counters (`*_cumulative_total`): each completed company day's activity and reviews added once, for increase() over any range. Needs the activity or scorecards collector for its part.",
        }),
        enabled_by_default: true,
        repoll: None,
        daily: &[],
        windowed: None,
        roles: &[],
    },
];

/// A windowed collector ([`windowed`]) as the registry lists it.
#[derive(Debug, Clone, Copy)]
pub struct WindowedCollector {
    pub name: CollectorName,
    pub stats: &'static dyn windowed::WindowedStats,
}

/// The windowed collectors that are on, in the registry's order.
pub fn windowed_on(enabled: &Enabled) -> impl Iterator<Item = WindowedCollector> + '_ {
    REGISTRY
        .iter()
        .filter(|r| enabled.contains(r.name))
        .filter_map(|r| Some(WindowedCollector { name: r.name, stats: r.windowed? }))
}

/// The registration of the collector that asks `endpoint`.
pub fn owner(endpoint: Endpoint) -> Option<&'static Registration> {
    REGISTRY.iter().find(|r| r.roles.iter().any(|role| role.endpoint == endpoint))
}

/// The collectors the settling schedule re-polls while yesterday settles,
/// in the registry's order.
pub fn repolled() -> impl Iterator<Item = CollectorName> {
    REGISTRY.iter().filter(|r| r.repoll.is_some()).map(|r| r.name)
}

/// The collectors that are on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enabled(BTreeSet<CollectorName>);

impl Default for Enabled {
    /// Every collector on by default.
    fn default() -> Self {
        Self(REGISTRY.iter().filter(|r| r.enabled_by_default).map(|r| r.name).collect())
    }
}

impl Enabled {
    /// Whether `collector` is on.
    pub fn contains(&self, collector: CollectorName) -> bool {
        self.0.contains(&collector)
    }

    /// Switches `collector` on or off.
    pub fn set(&mut self, collector: CollectorName, on: bool) {
        if on {
            self.0.insert(collector);
        } else {
            self.0.remove(&collector);
        }
    }
}

/// The flags of every switchable collector, generated from the
/// [`REGISTRY`] (flattened into the exporter's flags).
#[derive(Debug, Clone, Default)]
pub struct CollectorFlags {
    pub enabled: Enabled,
}

impl clap::FromArgMatches for CollectorFlags {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for registration in &REGISTRY {
            let Some(flags) = &registration.flags else { continue };
            // The two flags override each other, so at most one is set:
            // the last given wins, as node_exporter's kingpin flags do.
            let on = matches.get_one::<bool>(flags.on).copied().unwrap_or(registration.enabled_by_default);
            let off = matches.get_flag(flags.off);
            self.enabled.set(registration.name, on && !off);
        }
        Ok(())
    }
}

impl clap::Args for CollectorFlags {
    fn augment_args(mut command: clap::Command) -> clap::Command {
        for registration in &REGISTRY {
            let Some(flags) = &registration.flags else { continue };
            command = command
                .arg(
                    clap::Arg::new(flags.on)
                        .long(flags.on)
                        .help(flags.help)
                        .value_parser(clap::value_parser!(bool))
                        .action(clap::ArgAction::Set)
                        .num_args(0..=1)
                        .require_equals(true)
                        .default_value(if registration.enabled_by_default { "true" } else { "false" })
                        .default_missing_value("true")
                        .overrides_with(flags.off),
                )
                .arg(
                    clap::Arg::new(flags.off)
                        .long(flags.off)
                        .help(format!("Turns the {} collector off.", registration.label))
                        .action(clap::ArgAction::SetTrue)
                        .overrides_with(flags.on),
                );
        }
        command
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

/// What every collector's part of a snapshot offers the encoder.
pub trait Families: fmt::Debug {
    /// Writes its metric families, each once (OpenMetrics forbids a family
    /// appearing twice), with every window's series inside.
    fn encode(&self, labels: &labels::LabelOptions, encoder: &mut DescriptorEncoder) -> fmt::Result;

    /// How many series [`Families::encode`] writes.
    fn series(&self) -> usize;
}

/// Replaces the table of its window in `tables`, smallest window first.
pub fn replace_window<T: Windowed>(tables: &mut Vec<std::sync::Arc<T>>, table: T) {
    tables.retain(|t| t.window() != table.window());
    tables.push(std::sync::Arc::new(table));
    tables.sort_by_key(|t| t.window());
}

/// A table that belongs to one window.
pub trait Windowed {
    /// The window the table covers.
    fn window(&self) -> Window;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The landing page names each endpoint's role from here: every role
    /// says something in both schedules, and every endpoint has one role.
    #[test]
    fn every_registered_endpoint_has_a_role_in_both_schedules() {
        for registration in &REGISTRY {
            for role in registration.roles {
                assert!(!role.settling.is_empty() && !role.fixed.is_empty(), "{:?}", role.endpoint);
            }
        }
        for endpoint in Endpoint::ALL {
            assert_eq!(REGISTRY.iter().filter(|r| r.endpoints().contains(&endpoint)).count(), 1, "{endpoint:?}");
        }
    }
    /// A daily collector's part is kept under its endpoint, and the plan
    /// names it: the endpoint is its own registration's, with a name for
    /// the plan.
    #[test]
    fn each_daily_collector_asks_an_endpoint_its_registration_names_for_the_plan() {
        let mut daily = 0;
        for registration in &REGISTRY {
            for new in registration.daily {
                let endpoint = new().endpoint();
                let role = registration.roles.iter().find(|r| r.endpoint == endpoint);
                assert!(role.is_some_and(|r| r.once_a_day.is_some()), "{endpoint:?} in {}", registration.label);
                daily += 1;
            }
        }
        assert!(daily > 0, "the scorecard questions, at least");
    }

    /// A windowed collector's tables are keyed by its endpoint and fold
    /// only its own answers: the endpoint is its registration's (one
    /// collector each), and the settling schedule re-polls it.
    #[test]
    fn each_windowed_collector_is_its_registrations() {
        let windowed: Vec<_> = REGISTRY.iter().filter_map(|r| r.windowed.map(|w| (r, w))).collect();
        for (registration, collector) in &windowed {
            assert!(registration.endpoints().contains(&collector.endpoint()), "{}", registration.label);
            assert!(registration.repoll.is_some(), "the settling schedule re-polls it while yesterday settles");
        }
        assert!(!windowed.is_empty(), "the interaction stats, at least");
    }

    use clap::{Args as _, FromArgMatches as _};

    fn parse(args: &[&str]) -> Enabled {
        let command = CollectorFlags::augment_args(clap::Command::new("t"));
        let matches = command.try_get_matches_from(std::iter::once("t").chain(args.iter().copied())).unwrap();
        CollectorFlags::from_arg_matches(&matches).unwrap().enabled
    }

    #[test]
    fn every_collector_is_registered_once_and_names_its_endpoints() {
        let names: BTreeSet<_> = REGISTRY.iter().map(|r| r.name).collect();
        assert_eq!(names.len(), REGISTRY.len());
        let endpoints: Vec<_> = REGISTRY.iter().flat_map(|r| r.endpoints()).collect();
        let distinct: BTreeSet<_> = endpoints.iter().collect();
        assert_eq!(distinct.len(), endpoints.len(), "an endpoint belongs to one collector");
        assert_eq!(distinct.len(), Endpoint::ALL.len(), "every endpoint belongs to a collector");
    }

    #[test]
    fn every_collector_but_users_can_be_switched_off() {
        let off: Vec<String> = REGISTRY.iter().filter_map(|r| r.flags.as_ref()).map(|f| f.off.to_owned()).collect();
        assert_eq!(
            off,
            [
                "no-collector.activity",
                "no-collector.scorecards",
                "no-collector.interaction",
                "no-collector.coaching",
                "no-collector.counters"
            ]
        );
        let args: Vec<String> = off.iter().map(|f| format!("--{f}")).collect();
        let enabled = parse(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let on: Vec<_> = REGISTRY.iter().map(|r| r.name).filter(|c| enabled.contains(*c)).collect();
        assert_eq!(on, [CollectorName::Users], "the users are what every other collector labels by");
    }

    #[test]
    fn the_flags_come_from_the_registry_and_the_last_one_given_wins() {
        assert!(parse(&[]).contains(CollectorName::Coaching));
        assert!(!parse(&["--no-collector.coaching"]).contains(CollectorName::Coaching));
        assert!(!parse(&["--collector.coaching=false"]).contains(CollectorName::Coaching));
        assert!(parse(&["--no-collector.coaching", "--collector.coaching"]).contains(CollectorName::Coaching));
        assert!(!parse(&["--collector.coaching", "--no-collector.coaching"]).contains(CollectorName::Coaching));
        assert!(parse(&["--no-collector.coaching"]).contains(CollectorName::Activity), "the others stay on");
    }
}
