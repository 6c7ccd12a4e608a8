//! The company's time zone, which defines "yesterday": configured with
//! `--gong.timezone`, or learned from the `timeZone` Gong puts in its stats
//! answers and then followed when the company changes it. `backfill` learns
//! it the same way, through [`learn`].

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use tokio::time::Instant;

use crate::collectors::{activity, interaction};
use crate::endpoint::Endpoint;
use crate::gong::{GongClient, GongError};
use crate::windows::{Window, company_date, parse_time_zone, zone_behind_all};

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

/// What a probe at start came to: the endpoint it asked and how that went
/// (for the landing page), and the zone's line when it learned one.
#[derive(Debug)]
pub struct Probed {
    pub learned: Option<String>,
    pub asked: Endpoint,
    pub result: Result<(), String>,
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
pub async fn learn(client: &GongClient, end: Date, days: i64, deadline: Instant) -> (Endpoint, ZoneProbe) {
    let from = end.checked_sub(days.days()).unwrap_or(end);
    let mut last_error = None;
    for endpoint in ZONE_SOURCES {
        let reported = match endpoint {
            Endpoint::Interaction => interaction::reported_zone(client, from, end, deadline).await,
            _ => activity::reported_zone(client, from, end, deadline).await,
        };
        let probe = match reported {
            Ok(Some(name)) => match parse_time_zone(&name) {
                Ok(tz) => ZoneProbe::Learned(tz, name, endpoint),
                Err(_) => ZoneProbe::Unknown(name),
            },
            Ok(None) => ZoneProbe::NoActivity,
            Err(error @ (GongError::MissingScope { .. } | GongError::Forbidden { .. })) => {
                last_error = Some((endpoint, error));
                continue;
            }
            Err(error) => ZoneProbe::Failed(error),
        };
        return (endpoint, probe);
    }
    let (endpoint, error) = last_error.expect("every source was tried");
    (endpoint, ZoneProbe::Failed(error))
}

/// The company's zone as this start knows it: configured, or learned from
/// Gong and then followed. Owns its state; the poller shows what it says
/// on the landing page.
#[derive(Debug)]
pub struct ZoneTracker {
    zone: Option<TimeZone>,
    /// `--gong.timezone` was given: it wins over what Gong names.
    configured: bool,
    warned_mismatch: bool,
    /// The one probe of this start was sent.
    probed: bool,
}

impl ZoneTracker {
    /// A tracker that knows `configured`, or nothing yet.
    pub fn new(configured: Option<TimeZone>) -> Self {
        Self { configured: configured.is_some(), zone: configured, warned_mismatch: false, probed: false }
    }

    /// The zone, once known.
    pub fn zone(&self) -> Option<&TimeZone> {
        self.zone.as_ref()
    }

    /// The landing page's line for a configured zone.
    pub fn configured_description(&self) -> Option<String> {
        let tz = self.zone.as_ref().filter(|_| self.configured)?;
        Some(format!("{}, configured with --gong.timezone", tz.iana_name().unwrap_or("fixed offset")))
    }

    /// Learns the zone if it can, once per start: the probe dates the first
    /// cycle's windows. After it, every stats answer is read for the zone
    /// ([`ZoneTracker::reported`]), so probing again would only ask for the
    /// page the cycle asks for anyway. Returns the landing page's line when
    /// a zone was learned.
    pub async fn probe(
        &mut self,
        client: &GongClient,
        now: Timestamp,
        largest: Window,
        deadline: Instant,
    ) -> Option<Probed> {
        if self.zone.is_some() || std::mem::replace(&mut self.probed, true) {
            return None;
        }
        let (endpoint, probe) = learn(client, probe_today(now), i64::from(largest.days()), deadline).await;
        let mut probed = Probed { learned: None, asked: endpoint, result: Ok(()) };
        match probe {
            ZoneProbe::Learned(tz, name, source) => probed.learned = Some(self.learn(tz, &name, source)),
            ZoneProbe::Unknown(name) => {
                tracing::warn!(zone = %name, "Gong reported a time zone this build does not know; set --gong.timezone")
            }
            ZoneProbe::NoActivity => tracing::warn!(
                "Gong has no activity in the last {largest} to learn the company's time zone from; using UTC-12 dates until it does (set --gong.timezone to avoid this)"
            ),
            ZoneProbe::Failed(error) => {
                tracing::warn!(%error, "cannot learn the company's time zone this cycle");
                probed.result = Err(error.to_string());
            }
        }
        Some(probed)
    }

    /// Takes the zone Gong named in `source`'s answer; the landing page's
    /// line saying where it came from.
    fn learn(&mut self, tz: TimeZone, name: &str, source: Endpoint) -> String {
        tracing::info!(zone = %name, source = %source, "company time zone learned from Gong");
        self.zone = Some(tz);
        format!("{name}, learned from Gong's {source} answer")
    }

    /// Follows the zone Gong names in every stats answer (`source`). Until a
    /// zone is known, the first one named is learned (for the next cycle:
    /// this one's windows are already dated). A learned zone follows Gong
    /// when the company changes it; a configured one wins, with one warning.
    /// Returns the landing page's line when the zone changed.
    pub fn reported(&mut self, name: &str, source: Endpoint) -> Option<String> {
        let reported = parse_time_zone(name).ok()?;
        let Some(current) = &self.zone else {
            return Some(self.learn(reported, name, source));
        };
        if current.iana_name() == reported.iana_name() || current == &reported {
            return None;
        }
        if self.configured {
            if !self.warned_mismatch {
                self.warned_mismatch = true;
                tracing::warn!(
                    configured = current.iana_name().unwrap_or("?"),
                    gong = name,
                    "--gong.timezone differs from the company time zone Gong reports; windows follow --gong.timezone"
                );
            }
            return None;
        }
        tracing::warn!(
            old = current.iana_name().unwrap_or("?"),
            new = name,
            source = %source,
            "Gong reports a new company time zone; next cycle uses it"
        );
        Some(self.learn(reported, name, source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(tracker: &ZoneTracker) -> Option<&str> {
        tracker.zone().and_then(TimeZone::iana_name)
    }

    #[test]
    fn a_learned_zone_follows_gong_and_a_configured_one_wins() {
        let mut learned = ZoneTracker::new(None);
        assert_eq!(learned.reported("Mars/Olympus", Endpoint::Interaction), None, "an unknown name is passed over");
        let line = learned.reported("US/Pacific", Endpoint::ActivityAggregate).unwrap();
        assert_eq!(line, "US/Pacific, learned from Gong's activity_aggregate answer");
        assert_eq!(learned.reported("US/Pacific", Endpoint::Interaction), None, "the same zone changes nothing");
        assert!(learned.reported("Europe/Berlin", Endpoint::Interaction).is_some());
        assert_eq!(named(&learned), Some("Europe/Berlin"));

        let mut configured = ZoneTracker::new(Some(parse_time_zone("Asia/Tokyo").unwrap()));
        assert_eq!(configured.configured_description().unwrap(), "Asia/Tokyo, configured with --gong.timezone");
        assert_eq!(configured.reported("Europe/Berlin", Endpoint::Interaction), None);
        assert!(configured.warned_mismatch, "warned once");
        assert_eq!(named(&configured), Some("Asia/Tokyo"));
        assert!(ZoneTracker::new(None).configured_description().is_none());
    }
}
