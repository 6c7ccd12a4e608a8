//! The company's time zone, which defines "yesterday": configured with
//! `--gong.timezone`, or learned from the `timeZone` Gong puts in its stats
//! answers and then followed when the company changes it. `backfill` learns
//! it the same way, through [`learn`].

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use tokio::time::Instant;

use super::Poller;
use crate::collectors::{activity, interaction};
use crate::endpoint::Endpoint;
use crate::gong::{GongClient, GongError};
use crate::windows::{company_date, parse_time_zone, zone_behind_all};

/// What one probe for the company's zone found.
#[derive(Debug)]
pub enum ZoneProbe {
    /// The zone, the name Gong gave it, and the endpoint that said so.
    Learned(TimeZone, String, Endpoint),
    /// Gong has no activity in the probed period, so no answer named a zone.
    NoActivity,
    /// Gong named a zone this build does not know.
    Unknown(String),
    Failed(GongError),
}

/// The last day of a probe may be at most the company's today, which is
/// unknown: today in UTC-12 is never after it anywhere, so Gong never
/// rejects the dates with a 400.
pub fn probe_today(now: Timestamp) -> Date {
    company_date(now, &zone_behind_all())
}

/// The stats answers that carry `timeZone`, in the order they are asked.
const ZONE_SOURCES: [Endpoint; 2] = [Endpoint::ActivityAggregate, Endpoint::Interaction];

/// Learns the company's zone with one request: the first page of the `days`
/// before `end` (the period likeliest to hold records) of the first
/// endpoint the key may read. A key without the aggregate scope falls
/// through to the interaction endpoint.
pub async fn learn(client: &GongClient, end: Date, days: i64, deadline: Instant) -> ZoneProbe {
    let from = end.checked_sub(days.days()).unwrap_or(end);
    let mut last_error = None;
    for endpoint in ZONE_SOURCES {
        let reported = match endpoint {
            Endpoint::Interaction => interaction::reported_zone(client, from, end, deadline).await,
            _ => activity::reported_zone(client, from, end, deadline).await,
        };
        match reported {
            Ok(Some(name)) => {
                return match parse_time_zone(&name) {
                    Ok(tz) => ZoneProbe::Learned(tz, name, endpoint),
                    Err(_) => ZoneProbe::Unknown(name),
                };
            }
            Ok(None) => return ZoneProbe::NoActivity,
            Err(error @ GongError::MissingScope { .. }) => last_error = Some(error),
            Err(error) => return ZoneProbe::Failed(error),
        }
    }
    ZoneProbe::Failed(last_error.expect("every source was tried"))
}

impl Poller {
    /// Learns the zone if it can, once per start: the probe dates the first
    /// cycle's windows. After it, every stats answer is read for the zone
    /// ([`Poller::check_reported_zone`]), so probing again would only ask
    /// for the page the cycle asks for anyway.
    pub(super) async fn probe_time_zone(&mut self, deadline: Instant) {
        if std::mem::replace(&mut self.zone_probed, true) {
            return;
        }
        let largest = *self.settings.largest_window();
        let end = probe_today(self.settings.clock.now());
        match learn(&self.client, end, i64::from(largest.days()), deadline).await {
            ZoneProbe::Learned(tz, name, source) => self.learn_zone(tz, &name, source),
            ZoneProbe::Unknown(name) => {
                tracing::warn!(zone = %name, "Gong reported a time zone this build does not know; set --gong.timezone")
            }
            ZoneProbe::NoActivity => tracing::warn!(
                "Gong has no activity in the last {largest} to learn the company's time zone from; using UTC-12 dates until it does (set --gong.timezone to avoid this)"
            ),
            ZoneProbe::Failed(error) => tracing::warn!(%error, "cannot learn the company's time zone this cycle"),
        }
    }

    /// Takes the zone Gong named in `source`'s answer, and says where it
    /// came from in the log and on the landing page.
    fn learn_zone(&mut self, tz: TimeZone, name: &str, source: Endpoint) {
        tracing::info!(zone = %name, source = %source, "company time zone learned from Gong");
        self.shared.set_time_zone(format!("{name}, learned from Gong's {source} answer"));
        self.time_zone = Some(tz);
    }

    /// Follows the zone Gong names in every stats answer (`source`). Until a
    /// zone is known, the first one named is learned (for the next cycle:
    /// this one's windows are already dated). A learned zone follows Gong
    /// when the company changes it; a configured one wins, with one warning.
    pub(super) fn check_reported_zone(&mut self, name: &str, source: Endpoint) {
        let Ok(reported) = parse_time_zone(name) else {
            return;
        };
        let Some(current) = &self.time_zone else {
            self.learn_zone(reported, name, source);
            return;
        };
        if current.iana_name() == reported.iana_name() || current == &reported {
            return;
        }
        if self.settings.time_zone.is_some() {
            if !self.warned_zone_mismatch {
                self.warned_zone_mismatch = true;
                tracing::warn!(
                    configured = current.iana_name().unwrap_or("?"),
                    gong = name,
                    "--gong.timezone differs from the company time zone Gong reports; windows follow --gong.timezone"
                );
            }
        } else {
            tracing::warn!(
                old = current.iana_name().unwrap_or("?"),
                new = name,
                source = %source,
                "Gong reports a new company time zone; next cycle uses it"
            );
            self.learn_zone(reported, name, source);
        }
    }
}
