//! Paging cursors: opaque to the client, bound to the query that made them
//! (another filter's cursor is answered 400) and checked so
//! that an edited one is rejected. They hold the next page's offset and
//! never expire.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::fnv1a;
use crate::endpoint::Endpoint;

/// What a cursor is bound to: the endpoint and its filter.
pub(super) fn fingerprint(endpoint: Endpoint, filter: &Value) -> u64 {
    fnv1a(&format!("{}{filter}", endpoint.as_str()))
}

/// The cursor of the page at `offset` of the query `fingerprint` names.
pub(super) fn encode(fingerprint: u64, offset: usize) -> String {
    let payload = format!("{fingerprint:016x}.{offset}");
    URL_SAFE_NO_PAD.encode(format!("{payload}.{:016x}", check(&payload)))
}

/// The offset `cursor` points at, if it is intact and belongs to the query
/// `fingerprint` names.
pub(super) fn decode(cursor: &str, fingerprint: u64) -> Option<usize> {
    let (payload, given_check) = split(cursor)?;
    if format!("{:016x}", check(&payload)) != given_check {
        return None;
    }
    let (fp, offset) = payload.split_once('.')?;
    (fp == format!("{fingerprint:016x}")).then(|| offset.parse().ok()).flatten()
}

/// The same query's cursor, `back` records earlier.
pub(super) fn shift(cursor: &str, back: usize) -> Option<String> {
    let (payload, _) = split(cursor)?;
    let (fingerprint, offset) = payload.split_once('.')?;
    let fingerprint = u64::from_str_radix(fingerprint, 16).ok()?;
    Some(encode(fingerprint, offset.parse::<usize>().ok()?.saturating_sub(back)))
}

/// A cursor's payload and check, as text.
fn split(cursor: &str) -> Option<(String, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (payload, check) = text.rsplit_once('.')?;
    Some((payload.to_owned(), check.to_owned()))
}

/// The check that makes an edited cursor invalid; the prefix stands in for
/// the signing key a real server would hold.
fn check(payload: &str) -> u64 {
    fnv1a(&format!("sim-secret{payload}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cursor_reads_back_only_for_its_own_query_and_unedited() {
        let filter = json!({ "fromDate": "2024-01-01", "toDate": "2024-01-08" });
        let fp = fingerprint(Endpoint::ActivityAggregate, &filter);
        let cursor = encode(fp, 200);
        assert_eq!(decode(&cursor, fp), Some(200));
        assert_eq!(decode(&cursor, fingerprint(Endpoint::Interaction, &filter)), None);
        let (payload, check) = split(&cursor).unwrap();
        let edited = URL_SAFE_NO_PAD.encode(format!("{}.{check}", payload.replace(".200", ".300")));
        assert_eq!(decode(&edited, fp), None);
        assert_eq!(decode("not a cursor", fp), None);
        assert_eq!(shift(&cursor, 30).and_then(|c| decode(&c, fp)), Some(170));
        assert_eq!(shift(&cursor, 500).and_then(|c| decode(&c, fp)), Some(0));
    }
}
