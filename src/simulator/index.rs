//! Which records a query answers, kept as positions in the dataset rather
//! than as JSON: the simulator builds each page from the dataset when it is
//! asked for. Finding the records (which users had activity, which reviews
//! match) walks the whole period, so the positions are cached per query; a
//! cycle then asks for every page of the query at the cost of one walk.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use jiff::civil::Date;

use super::dataset::{Dataset, SimScorecard};
use super::query::ParsedQuery;
use super::{Simulator, days};
use crate::endpoint::Endpoint;

/// One query's records, in answer order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordIndex {
    /// Positions in `Dataset::users()`: one record per user.
    Users(Vec<usize>),
    /// Review day and position in that day's `Dataset::scorecards_reviewed_on`.
    Scorecards(Vec<(Date, usize)>),
}

impl RecordIndex {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Users(users) => users.len(),
            Self::Scorecards(cards) => cards.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records of one page; empty past the end (a cursor from before
    /// the data changed can point there).
    pub(crate) fn page(&self, offset: usize, page_size: usize) -> Range<usize> {
        let start = offset.min(self.len());
        start..start.saturating_add(page_size).min(self.len())
    }
}

/// Indices of the most recently asked queries. Bounded both in queries and
/// in records so that many distinct filters cannot grow it without limit; a
/// regular cycle at 10,000 users needs about 200,000 records' worth.
#[derive(Debug)]
pub(crate) struct IndexCache {
    /// Least recently used first.
    entries: VecDeque<(String, Arc<RecordIndex>)>,
    /// Sum of the entries' lengths.
    records: usize,
    max_queries: usize,
    max_records: usize,
}

impl IndexCache {
    pub(crate) fn new(max_queries: usize, max_records: usize) -> Self {
        Self { entries: VecDeque::new(), records: 0, max_queries: max_queries.max(1), max_records }
    }

    pub(crate) fn get(&mut self, key: &str) -> Option<Arc<RecordIndex>> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        let entry = self.entries.remove(at)?;
        let index = Arc::clone(&entry.1);
        self.entries.push_back(entry);
        Some(index)
    }

    /// Keeps `index` under `key`, dropping the least recently used entries
    /// until both bounds hold. An index larger than `max_records` on its own
    /// is still kept (alone): its query's next pages need it.
    pub(crate) fn insert(&mut self, key: String, index: Arc<RecordIndex>) {
        if let Some(at) = self.entries.iter().position(|(k, _)| *k == key) {
            self.remove(at);
        }
        while !self.entries.is_empty()
            && (self.entries.len() >= self.max_queries || self.records + index.len() > self.max_records)
        {
            self.remove(0);
        }
        self.records += index.len();
        self.entries.push_back((key, index));
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.records = 0;
    }

    fn remove(&mut self, at: usize) {
        if let Some((_, index)) = self.entries.remove(at) {
            self.records -= index.len();
        }
    }
}

impl Simulator {
    /// Which records `query` answers, found once per distinct query and
    /// data: a cycle asks for each query once per page.
    pub(super) fn record_index(
        &self,
        dataset: &dyn Dataset,
        generation: u64,
        endpoint: Endpoint,
        query: &ParsedQuery,
    ) -> Arc<RecordIndex> {
        // Late data changes which records a query lists as time passes.
        let key = format!("{generation}|{}|{endpoint:?}|{query:?}", dataset.as_of(query.dates));
        if let Some(hit) = self.index_cache.lock().expect("index cache lock").get(&key) {
            return hit;
        }
        let index = Arc::new(index_records(dataset, endpoint, query));
        self.index_cache.lock().expect("index cache lock").insert(key, Arc::clone(&index));
        index
    }
}

/// Which records `endpoint` answers to `q`, in Gong's order: users in the
/// dataset's order, reviews by day then in the day's order.
fn index_records(dataset: &dyn Dataset, endpoint: Endpoint, q: &ParsedQuery) -> RecordIndex {
    let users = dataset.users();
    let wanted = |id: u64| q.user_ids.as_ref().is_none_or(|ids| ids.contains(&id.to_string()));
    let users_where = |keep: &dyn Fn(usize) -> bool| -> Vec<usize> {
        users.iter().enumerate().filter(|(i, u)| wanted(u.id) && keep(*i)).map(|(i, _)| i).collect()
    };
    let had_activity = |user: usize, range: (Date, Date)| days(range).any(|d| !dataset.activity(user, d).is_empty());
    let none = RecordIndex::Users(Vec::new());
    match (endpoint, q.dates) {
        (Endpoint::Users, _) => RecordIndex::Users((0..users.len()).collect()),
        (Endpoint::ActivityAggregate, Some(range)) => {
            // Every active user is listed, idle ones with zeros, unless
            // nobody did anything in the period: then Gong answers 404.
            let active = users_where(&|i| users[i].active);
            let anyone_active = active.iter().any(|&i| had_activity(i, range));
            if anyone_active { RecordIndex::Users(active) } else { none }
        }
        (Endpoint::ActivityDayByDay, Some(range)) => RecordIndex::Users(users_where(&|i| had_activity(i, range))),
        (Endpoint::Interaction, Some((from, to))) => {
            RecordIndex::Users(users_where(&|i| !dataset.interaction(i, from, to).is_empty()))
        }
        (Endpoint::Scorecards, Some(range)) => {
            let method = q.review_method.unwrap_or("MANUAL");
            let matches = |s: &SimScorecard| {
                (method == "BOTH" || s.review_method() == method)
                    && wanted(s.reviewed_user_id)
                    && q.scorecard_ids.as_ref().is_none_or(|ids| ids.contains(&s.scorecard_id.to_string()))
            };
            RecordIndex::Scorecards(
                days(range)
                    .flat_map(|day| {
                        let reviews = dataset.scorecards_reviewed_on(day);
                        let positions: Vec<usize> =
                            reviews.iter().enumerate().filter(|(_, s)| matches(s)).map(|(k, _)| k).collect();
                        positions.into_iter().map(move |k| (day, k))
                    })
                    .collect(),
            )
        }
        _ => none,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(n: usize) -> Arc<RecordIndex> {
        Arc::new(RecordIndex::Users((0..n).collect()))
    }

    #[test]
    fn pages_stop_at_the_end() {
        let index = users(250);
        assert_eq!(index.page(0, 100), 0..100);
        assert_eq!(index.page(200, 100), 200..250);
        assert_eq!(index.page(300, 100), 250..250);
        assert_eq!(index.page(usize::MAX, usize::MAX), 250..250);
    }

    #[test]
    fn cache_drops_least_recently_used_within_both_bounds() {
        let mut cache = IndexCache::new(3, 100);
        cache.insert("a".to_owned(), users(10));
        cache.insert("b".to_owned(), users(10));
        cache.insert("c".to_owned(), users(10));
        assert!(cache.get("a").is_some(), "a is now the most recent");
        cache.insert("d".to_owned(), users(10));
        assert!(cache.get("b").is_none(), "b was the least recently used of three");
        assert!(cache.get("a").is_some() && cache.get("c").is_some() && cache.get("d").is_some());

        cache.insert("big".to_owned(), users(85));
        assert_eq!(cache.records, 95);
        assert!(cache.get("c").is_none() && cache.get("a").is_none(), "over 100 records: oldest dropped");
        assert!(cache.get("d").is_some());

        cache.insert("huge".to_owned(), users(500));
        assert_eq!((cache.entries.len(), cache.records), (1, 500), "kept alone");
        cache.insert("huge".to_owned(), users(20));
        assert_eq!((cache.entries.len(), cache.records), (1, 20), "replaced, not duplicated");
        cache.clear();
        assert_eq!((cache.entries.len(), cache.records), (0, 0));
    }
}
