//! Collectors asked once a company day whose answer replaces their part of
//! the snapshot whole (the scorecard questions). The poller runs every one
//! that is on at the end of each cycle and keeps its part under its
//! endpoint, so such a collector is its own file and its registration
//! ([`super::Registration::daily`]): no field in the snapshot, no turn
//! written into the poller.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jiff::civil::Date;
use tokio::time::Instant;

use super::Families;
use crate::endpoint::Endpoint;
use crate::gong::{GongClient, GongError};

/// A part of the snapshot as the encoder sees it, shared between snapshots.
pub type Part = Arc<dyn Families + Send + Sync>;

/// What a daily collector's run came to.
#[derive(Debug)]
pub enum DailyRun {
    /// Asked already today (answered, or refused in a way that repeats).
    NotDue,
    /// The new part, and the records it was built from.
    Fetched { part: Part, records: usize },
    /// Gong refuses this key the endpoint (a scope it lacks): the part is
    /// left out until tomorrow, said on the landing page and in `why`, and
    /// no poll fails, as nothing else depends on it.
    Refused { error: GongError, why: &'static str },
    /// The request failed: the last good part stays; a retriable failure
    /// is asked again next cycle.
    Failed(GongError),
}

/// A future that borrows the collector and the client.
pub type DailyFuture<'a> = Pin<Box<dyn Future<Output = DailyRun> + Send + 'a>>;

/// A collector asked once a company day.
pub trait Daily: fmt::Debug + Send + Sync {
    /// The endpoint it asks: its part's key, and what its outcome is
    /// recorded under.
    fn endpoint(&self) -> Endpoint;

    /// Asks Gong, unless `today` (a company date) was asked already.
    fn run<'a>(&'a mut self, client: &'a GongClient, today: Date, deadline: Instant) -> DailyFuture<'a>;
}
