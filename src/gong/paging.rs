//! How far a query may page: a cursor Gong sent before ends it, and so do
//! far more pages than the records can fill. A hostile or broken answer
//! (a cursor that never ends, an absurd `totalRecords`, pages of one
//! record) would otherwise spend the day's whole request share on one
//! query.

use super::models;
use crate::endpoint::Endpoint;

/// The records one query may page through when Gong announces no total and
/// the company's size is not known yet: the largest company this exporter
/// is sized for. Every list in Gong's reference announces
/// `totalRecords`; one that does not, and whose cursor never ends, would
/// otherwise spend the day's whole share on one query.
const MAX_RECORDS_UNKNOWN_SIZE: u64 = 10_000;

/// The largest total of records a query's answer is believed to announce:
/// five times the largest company this exporter is sized for. A larger one
/// (a hostile or broken answer) is read as this, so the query stops at
/// 1,010 pages.
const MAX_RECORDS_ANNOUNCED: u64 = 5 * MAX_RECORDS_UNKNOWN_SIZE;

/// Answered scorecards one query may hold per user when Gong announces no
/// total: a review a day for each of the longest window's days, three
/// times over.
const REVIEWS_PER_USER: u64 = 100;

/// Records a full page holds (the reference: up to 100 a page). The bound
/// counts pages of at least this size: `currentPageSize` is what one page
/// held, and pages of one record each would multiply the requests a query
/// may send by a hundred.
const DOCUMENTED_PAGE_SIZE: i64 = 100;

/// Ends a query whose paging does not: a cursor Gong sent before (A, B, A,
/// B... would loop for ever), or far more pages than the records can fill:
/// those Gong announced, or, without a total, what the company's users can
/// account for.
#[derive(Debug)]
pub(super) struct PagingGuard {
    seen: std::collections::HashSet<String>,
    /// The largest page so far, or the documented size if larger: the
    /// page size the bound counts in.
    page_size: i64,
    /// Records the query can need: one per known user (100 for answered
    /// scorecards), or [`MAX_RECORDS_UNKNOWN_SIZE`] before the company's
    /// size is known.
    need: u64,
    /// Whether `need` has its headroom built in (100 answered scorecards a
    /// user): then ten pages more bound it, else twice its pages (users
    /// added since the last users list).
    need_has_headroom: bool,
    /// Whether an announced total past `need` is disbelieved: for the
    /// stats once the users are known. The users list itself is what says
    /// how many users there are, so a company that grew is believed.
    capped_by_need: bool,
}

impl PagingGuard {
    /// A guard for a query of `endpoint` in a company of `known_users`
    /// (0: not known yet).
    pub(super) fn new(endpoint: Endpoint, known_users: u64) -> Self {
        let need = match (endpoint, known_users) {
            (_, 0) => MAX_RECORDS_UNKNOWN_SIZE,
            (Endpoint::Scorecards, users) => users.saturating_mul(REVIEWS_PER_USER),
            // One record per user (or per manager, or per workspace).
            (_, users) => users,
        };
        Self {
            seen: std::collections::HashSet::new(),
            page_size: DOCUMENTED_PAGE_SIZE,
            need,
            need_has_headroom: endpoint == Endpoint::Scorecards && known_users > 0,
            capped_by_need: known_users > 0 && endpoint != Endpoint::Users,
        }
    }

    /// Page `pages` (1-based) came with `next` and `records`: may the
    /// query go on to `next`?
    pub(super) fn next_page(&mut self, next: &str, records: &models::Records, pages: u32) -> Result<(), String> {
        if !self.seen.insert(next.to_owned()) {
            return Err(format!("page {pages} names a cursor Gong already sent on this query"));
        }
        self.page_size = self.page_size.max(records.current_page_size.unwrap_or(0));
        let page_size = self.page_size;
        let pages_of = |records: u64| records.div_ceil(page_size.unsigned_abs());
        let need_bound = match self.need_has_headroom {
            true => pages_of(self.need).saturating_add(10),
            false => pages_of(self.need).saturating_mul(2).saturating_add(10),
        };
        // An announced total: twice the pages it fills, and ten more
        // (records added while paging shift a few, never this many), up to
        // a total no company this exporter is sized for has. Past what the
        // users can need, or past that ceiling, it is a hostile or broken
        // answer: believed, it would let the query run on until the day's
        // share is spent.
        let announced = records.total_records.and_then(|total| u64::try_from(total).ok());
        let announced_bound =
            |total: u64| pages_of(total.min(MAX_RECORDS_ANNOUNCED)).saturating_mul(2).saturating_add(10);
        let bound = match announced {
            None => need_bound,
            Some(total) if self.capped_by_need => announced_bound(total).min(need_bound),
            Some(total) => announced_bound(total),
        };
        if u64::from(pages) < bound {
            return Ok(());
        }
        // Said only when the query stops, not formatted for every page.
        let expected = match announced {
            None => format!(
                "Gong announced no total, and the company's users fill {} pages of {page_size}",
                pages_of(self.need)
            ),
            Some(total) if self.capped_by_need && need_bound < announced_bound(total) => format!(
                "Gong announced {total} records, more than the company's users can need ({} at {page_size} a page)",
                self.need
            ),
            Some(total) if total > MAX_RECORDS_ANNOUNCED => {
                format!("Gong announced {total} records, past the {MAX_RECORDS_ANNOUNCED} believed")
            }
            Some(total) => format!("Gong announced {total} records of {page_size} a page"),
        };
        Err(format!("{pages} pages and still a cursor, though {expected}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_ends_at_a_repeated_cursor_or_far_past_the_announced_total() {
        let records = |total: Option<i64>| models::Records {
            total_records: total,
            current_page_size: Some(100),
            ..Default::default()
        };
        let mut guard = PagingGuard::new(Endpoint::Users, 0);
        assert!(guard.next_page("A", &records(Some(250)), 1).is_ok());
        assert!(guard.next_page("B", &records(Some(250)), 2).is_ok());
        let error = guard.next_page("A", &records(Some(250)), 3).unwrap_err();
        assert!(error.contains("already sent"), "{error}");

        // 250 records fill 3 pages: 16 is the bound (2 x 3 + 10).
        let mut guard = PagingGuard::new(Endpoint::Users, 0);
        for page in 1..16 {
            assert!(guard.next_page(&format!("c{page}"), &records(Some(250)), page).is_ok(), "page {page}");
        }
        let error = guard.next_page("c16", &records(Some(250)), 16).unwrap_err();
        assert!(error.contains("announced 250 records"), "{error}");
    }

    #[test]
    fn without_a_total_paging_is_bounded_by_the_users_the_company_has() {
        let no_total = models::Records { total_records: None, current_page_size: Some(100), ..Default::default() };
        // (endpoint, users known, the first page refused): 2 x pages + 10,
        // or pages + 10 where the need has its headroom built in.
        for (endpoint, users, refused) in [
            (Endpoint::Interaction, 40, 12),
            (Endpoint::ActivityDayByDay, 1_000, 30),
            (Endpoint::Scorecards, 40, 40 + 10),
            // Before the first users list: 10,000 records.
            (Endpoint::Users, 0, 210),
        ] {
            let mut guard = PagingGuard::new(endpoint, users);
            for page in 1..refused {
                assert!(guard.next_page(&format!("c{page}"), &no_total, page).is_ok(), "{endpoint:?} page {page}");
            }
            let error = guard.next_page("last", &no_total, refused).unwrap_err();
            assert!(error.contains("announced no total"), "{error}");
        }
    }

    /// Pages of one record each (a hostile `currentPageSize`) made the
    /// bound a hundred times larger, and an announced total of a billion
    /// let a query run until the day's share was spent.
    #[test]
    fn tiny_pages_and_absurd_totals_do_not_raise_the_bound() {
        let tiny = models::Records { total_records: None, current_page_size: Some(1), ..Default::default() };
        let absurd =
            models::Records { total_records: Some(1_000_000_000), current_page_size: Some(100), ..Default::default() };
        // 40 users: 4,000 answered scorecards at most, 40 pages of 100.
        for records in [tiny, absurd] {
            let mut guard = PagingGuard::new(Endpoint::Scorecards, 40);
            for page in 1..50 {
                assert!(guard.next_page(&format!("c{page}"), &records, page).is_ok(), "page {page}");
            }
            let error = guard.next_page("last", &records, 50).unwrap_err();
            assert!(
                error.contains("announced no total") || error.contains("more than the company's users can need"),
                "{error}"
            );
        }
    }

    /// Before the first users list an absurd total was believed whole (the
    /// users query then ran until the share was spent); a company that grew
    /// past its last users list must still be listed whole.
    #[test]
    fn the_users_list_believes_a_grown_company_but_not_an_absurd_total() {
        let total =
            |n: i64| models::Records { total_records: Some(n), current_page_size: Some(100), ..Default::default() };
        let run = |known: u64, records: models::Records| {
            let mut guard = PagingGuard::new(Endpoint::Users, known);
            (1..).find(|&page| guard.next_page(&format!("c{page}"), &records, page).is_err()).unwrap()
        };
        assert_eq!(run(0, total(1_000_000_000)), 1_010, "50,000 records believed at most");
        assert_eq!(run(1_000, total(3_000)), 70, "3,000 users when 1,000 were known: 2 x 30 + 10");
        let mut guard = PagingGuard::new(Endpoint::Users, 0);
        let error = (1..1_011).find_map(|page| guard.next_page(&format!("c{page}"), &total(1_000_000_000), page).err());
        assert!(error.unwrap().contains("past the 50000 believed"));
    }
}
