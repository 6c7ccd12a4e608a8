//! Collectors whose stats are ratios or averages over a whole window, so
//! each window is asked for whole and its answer replaces that window's
//! table (the interaction stats). Both schedules run every one that is on
//! through the same steps: the fixed one every cycle, the settling one
//! after company midnight and then until nothing changes while yesterday
//! settles (its registration names the re-poll). The snapshot keeps each
//! one's tables under its endpoint, so such a collector is its own file
//! and its registration ([`super::Registration::windowed`]).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::time::Instant;

use super::Families;
use crate::endpoint::Endpoint;
use crate::gong::models::GongId;
use crate::gong::{Fetched, GongClient, GongError};
use crate::windows::{Window, WindowBounds};

/// One window's answer, folded into its collector's tables by
/// [`WindowTables::with`].
pub struct WindowAnswer {
    pub window: Window,
    /// Records the answer held.
    pub records: usize,
    /// Tells a changed answer from the same: the settling schedule re-polls
    /// a window until its answers stop changing.
    pub hash: u64,
    /// The window's table, of the type its collector's tables hold.
    pub table: Box<dyn Any + Send + Sync>,
}

impl fmt::Debug for WindowAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowAnswer").field("window", &self.window).field("records", &self.records).finish()
    }
}

/// A windowed collector's tables, one per window, as the snapshot keeps
/// them: the encoder writes each family once with every window inside.
pub trait WindowTables: Families + Send + Sync {
    /// These tables with `answer`'s window replaced by its table.
    fn with(&self, answer: WindowAnswer) -> Arc<dyn WindowTables>;

    /// The users the tables name: one the users list lacks makes the
    /// settling schedule list the users again.
    fn user_ids(&self) -> Box<dyn Iterator<Item = GongId> + '_>;

    /// The tables as their own type, for a caller that knows it (a
    /// benchmark comparing them with the simulator's data).
    fn as_any(&self) -> &dyn Any;
}

/// A future that borrows the collector and the client.
pub type WindowFuture<'a> = Pin<Box<dyn Future<Output = Result<Fetched<WindowAnswer>, GongError>> + Send + 'a>>;

/// A collector asked per window, each window whole.
pub trait WindowedStats: fmt::Debug + Send + Sync {
    /// The endpoint it asks: its tables' key.
    fn endpoint(&self) -> Endpoint;

    /// Tables holding no window yet.
    fn empty(&self) -> Arc<dyn WindowTables>;

    /// Asks Gong for one window, all pages; the answer is one
    /// [`WindowAnswer`] (skipped records, pages and the zone Gong named
    /// stay beside it).
    fn fetch<'a>(&'a self, client: &'a GongClient, bounds: WindowBounds, deadline: Instant) -> WindowFuture<'a>;
}

/// `fetched`'s items made into the one answer for `window`.
pub fn answer<T>(
    fetched: Fetched<T>,
    window: Window,
    hash: impl FnOnce(&[T]) -> u64,
    table: impl FnOnce(Vec<T>) -> Box<dyn Any + Send + Sync>,
) -> Fetched<WindowAnswer> {
    let Fetched { items, time_zone, pages, skipped, skipped_request_id } = fetched;
    let answer = WindowAnswer { window, records: items.len(), hash: hash(&items), table: table(items) };
    Fetched { items: vec![answer], time_zone, pages, skipped, skipped_request_id }
}
