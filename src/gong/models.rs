//! Typed shapes of Gong's responses. Unknown fields are ignored (Gong adds
//! fields without notice) and IDs are kept exact: Gong's user IDs exceed 2^53,
//! where a JSON parser that goes through `f64` would silently round them.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

pub use crate::self_metrics::SkipReason;

/// A Gong numeric identifier (users, scorecards, questions, calls). Arrives
/// as a JSON number or a string of up to 20 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GongId(pub u64);

impl fmt::Display for GongId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for GongId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for GongId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = GongId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative 64-bit integer ID, as a number or a string of digits")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GongId, E> {
                Ok(GongId(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<GongId, E> {
                Err(E::custom(MISSING_ID))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GongId, E> {
                u64::try_from(v).map(GongId).map_err(|_| E::custom(format!("negative ID {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<GongId, E> {
                // A float here means the ID was written with a fraction or
                // exponent, or exceeds u64: it cannot be trusted to be exact.
                Err(E::custom(format!("ID {v} is not an exact integer")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GongId, E> {
                let digits = v.trim();
                if digits.is_empty() {
                    return Err(E::custom(MISSING_ID));
                }
                if digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(format!("ID '{v}' is not a string of up to 20 digits")));
                }
                digits.parse().map(GongId).map_err(|_| E::custom(format!("ID '{v}' exceeds 64 bits")))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// A 64-bit hash of `bytes` that is the same in every run, build and
/// platform (FNV-1a; `std`'s hashers are seeded per process or may change
/// between releases): for IDs Gong writes as text, kept-day hashes stored
/// on disk, and the simulator's cursors and call IDs.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    std::hash::Hasher::write(&mut hasher, bytes);
    std::hash::Hasher::finish(&hasher)
}

/// How a null or empty ID reads in an error, so [`Listed`] can tell a
/// record without its ID (skipped) from a malformed answer (an error).
const MISSING_ID: &str = "missing Gong ID (null or empty)";

/// Whether a record failed to parse only because an ID it needs is null,
/// empty or absent.
fn is_missing_id(error: &serde_json::Error) -> bool {
    let message = error.to_string();
    if message.contains(MISSING_ID) {
        return true;
    }
    // serde's "missing field `scorecardId`".
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .is_some_and(|field| field == "id" || field.ends_with("Id"))
}

/// The longest label value a record may carry, in bytes (an email address
/// is at most 254): a longer one (a broken or hostile answer) would make
/// every series of its user that long, so the record is left out.
pub const MAX_LABEL_BYTES: usize = 1024;

/// Records left out of answers, by reason (the `reason` label of
/// `gong_exporter_records_skipped_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipCounts {
    /// An ID the record needs is null, empty or absent.
    pub missing_id: u64,
    /// A label value longer than [`MAX_LABEL_BYTES`].
    pub label_too_long: u64,
    /// A count or score that is negative or not a number.
    pub invalid_number: u64,
    /// The same record (same ID) came again in the same query; the last
    /// one was kept.
    pub duplicate: u64,
}

impl SkipCounts {
    /// `(reason, count)` for each reason, as labelled.
    pub fn by_reason(self) -> [(SkipReason, u64); 4] {
        SkipReason::ALL.map(|reason| (reason, self.get(reason)))
    }

    /// Records left out for `reason`.
    pub fn get(self, reason: SkipReason) -> u64 {
        match reason {
            SkipReason::MissingId => self.missing_id,
            SkipReason::LabelTooLong => self.label_too_long,
            SkipReason::InvalidNumber => self.invalid_number,
            SkipReason::Duplicate => self.duplicate,
        }
    }

    /// Records left out, whatever the reason.
    pub fn total(self) -> u64 {
        self.by_reason().iter().map(|(_, n)| n).sum()
    }

    fn count(&mut self, reason: Unusable) {
        match reason {
            Unusable::LabelTooLong => self.label_too_long += 1,
            Unusable::InvalidNumber => self.invalid_number += 1,
        }
    }
}

impl std::ops::AddAssign for SkipCounts {
    fn add_assign(&mut self, other: Self) {
        self.missing_id += other.missing_id;
        self.label_too_long += other.label_too_long;
        self.invalid_number += other.invalid_number;
        self.duplicate += other.duplicate;
    }
}

/// Why a record that parsed cannot be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    LabelTooLong,
    InvalidNumber,
}

/// What every listed record offers the client: an identity, to drop a
/// record that comes twice in one query, and a check before it is kept.
pub trait Record {
    /// The ID that makes two records the same one; `None` when the record
    /// has none (it is never taken for a duplicate).
    fn key(&self) -> Option<u64>;

    /// Whether the record can be published: label values no longer than
    /// [`MAX_LABEL_BYTES`], and counts and scores (after numbers sent as
    /// strings are read) neither negative nor anything but numbers.
    fn check(&mut self) -> Result<(), Unusable>;
}

/// `Err` when any of `labels` is longer than [`MAX_LABEL_BYTES`].
pub(crate) fn short_labels<'a>(labels: impl IntoIterator<Item = &'a str>) -> Result<(), Unusable> {
    if labels.into_iter().any(|l| l.len() > MAX_LABEL_BYTES) { Err(Unusable::LabelTooLong) } else { Ok(()) }
}

/// `Err` for a negative or non-finite number.
pub(crate) fn valid_number(value: Option<f64>) -> Result<(), Unusable> {
    match value {
        Some(v) if !v.is_finite() || v < 0.0 => Err(Unusable::InvalidNumber),
        _ => Ok(()),
    }
}

/// The records of one page: those that parsed and passed
/// [`Record::check`], and how many were left out and why. One such record
/// must not sink the page (a connector's schema marks `scorecardId` and
/// `questionId` nullable); any other malformation still fails it.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub skipped: SkipCounts,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Self { items: Vec::new(), skipped: SkipCounts::default() }
    }
}

impl<'de, T: serde::de::DeserializeOwned + Record> Deserialize<'de> for Listed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Each record is kept as its raw text first, so one that fails can
        // be judged on its own.
        let raw = Option::<Vec<Box<serde_json::value::RawValue>>>::deserialize(deserializer)?.unwrap_or_default();
        let mut listed = Listed { items: Vec::with_capacity(raw.len()), skipped: SkipCounts::default() };
        for (index, record) in raw.iter().enumerate() {
            match serde_json::from_str::<T>(record.get()) {
                Ok(mut item) => match item.check() {
                    Ok(()) => listed.items.push(item),
                    Err(reason) => listed.skipped.count(reason),
                },
                Err(error) if is_missing_id(&error) => listed.skipped.missing_id += 1,
                Err(error) if error.to_string().contains(INVALID_NUMBER) => listed.skipped.invalid_number += 1,
                // The inner error's position counts from the record's own
                // text: say which record it is.
                Err(error) => return Err(de::Error::custom(format!("record {} of the page: {error}", index + 1))),
            }
        }
        Ok(listed)
    }
}

/// How a value that is not a number reads in an error, so [`Listed`] can
/// count its record as [`Unusable::InvalidNumber`].
const INVALID_NUMBER: &str = "not a number";

/// A number, or a string holding one (`"12"`: read as 12), or `null`
/// (`None`); anything else is an error [`Listed`] counts as an invalid
/// number.
pub(crate) fn lenient_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Number(f64),
        Text(String),
        Other(Option<de::IgnoredAny>),
    }
    match Given::deserialize(deserializer)? {
        Given::Number(n) => Ok(Some(n)),
        Given::Text(text) => text.trim().parse::<f64>().map(Some).map_err(|_| {
            de::Error::custom(format!("{INVALID_NUMBER}: '{}'", text.chars().take(40).collect::<String>()))
        }),
        Given::Other(None) => Ok(None),
        Given::Other(Some(_)) => Err(de::Error::custom(INVALID_NUMBER)),
    }
}

/// Treats an explicit JSON `null` like a missing field.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Gong's paging block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Records {
    pub total_records: Option<i64>,
    pub current_page_size: Option<i64>,
    pub current_page_number: Option<i64>,
    /// Present only when more pages follow.
    pub cursor: Option<String>,
}

/// Gong's error body: `{"requestId": "...", "errors": ["..."]}`. Every field
/// optional because it is parsed from whatever a failing response holds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<String>,
}

/// A page of any paginated Gong list.
pub trait Page: serde::de::DeserializeOwned + Send + 'static {
    /// The listed item.
    type Item: Record + Send + 'static;
    /// Paging block.
    fn records(&self) -> &Records;
    /// Gong's request reference.
    fn request_id(&self) -> Option<&str>;
    /// The company's zone when the endpoint reports it.
    fn time_zone(&self) -> Option<&str> {
        None
    }
    /// The listed items.
    fn into_listed(self) -> Listed<Self::Item>;
}

/// Implements [`Page`] for a page type: its paging block, its request ID,
/// its list field, and (`tz = field`) the field that names the company's zone.
macro_rules! impl_page {
    ($page:ty, $item:ty, $field:ident $(, tz = $tz:ident)?) => {
        impl $crate::gong::models::Page for $page {
            type Item = $item;
            fn records(&self) -> &$crate::gong::models::Records {
                &self.records
            }
            fn request_id(&self) -> Option<&str> {
                self.request_id.as_deref()
            }
            $(fn time_zone(&self) -> Option<&str> {
                self.$tz.as_deref()
            })?
            fn into_listed(self) -> $crate::gong::models::Listed<$item> {
                self.$field
            }
        }
    };
}
pub(crate) use impl_page;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::activity::{AggregateActivityPage, DayByDayPage};
    use crate::collectors::coaching::{CallIds, CoachingPage, WorkspacesPage};
    use crate::collectors::interaction::InteractionPage;
    use crate::collectors::scorecards::AnsweredScorecardsPage;
    use crate::collectors::users::UsersPage;
    use proptest::prelude::*;

    #[test]
    fn ids_above_2_pow_53_stay_exact_as_numbers_and_strings() {
        let from_number: GongId = serde_json::from_str("6843152929075440037").unwrap();
        let from_string: GongId = serde_json::from_str("\"6843152929075440037\"").unwrap();
        assert_eq!(from_number, GongId(6_843_152_929_075_440_037));
        assert_eq!(from_number, from_string);
        assert_eq!(from_number.to_string(), "6843152929075440037");
        let max: GongId = serde_json::from_str("\"18446744073709551615\"").unwrap();
        assert_eq!(max.0, u64::MAX);
    }

    #[test]
    fn a_record_without_its_id_is_left_out_and_counted_the_rest_kept() {
        let page: AnsweredScorecardsPage = serde_json::from_str(
            r#"{"requestId":"r1","records":{"totalRecords":4},"answeredScorecards":[
                {"scorecardId":"11","reviewMethod":"MANUAL","answers":[{"questionId":5,"score":3}]},
                {"scorecardId":null,"answers":[]},
                {"scorecardId":"","answers":[]},
                {"scorecardId":12,"answers":[{"questionId":null,"score":1}]},
                {"answers":[]}
            ]}"#,
        )
        .unwrap();
        let listed = page.into_listed();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].scorecard_id, GongId(11));
        assert_eq!(listed.skipped.missing_id, 4);
        let users: UsersPage =
            serde_json::from_str(r#"{"users":[{"id":null,"emailAddress":"a@x"},{"id":"7"}]}"#).unwrap();
        let users = users.into_listed();
        assert_eq!((users.items.len(), users.skipped.missing_id), (1, 1));
    }

    #[test]
    fn numbers_follow_one_rule_digit_strings_read_negatives_and_text_skipped() {
        let page: InteractionPage = serde_json::from_str(
            r#"{"peopleInteractionStats":[
                {"userId":1,"personInteractionStats":[{"name":"Talk Ratio","value":"0.5"}]},
                {"userId":2,"personInteractionStats":[{"name":"Talk Ratio","value":-0.5}]},
                {"userId":3,"personInteractionStats":[{"name":"Talk Ratio","value":"n/a"}]},
                {"userId":4,"personInteractionStats":[{"name":"Talk Ratio","value":null}]},
                {"userId":5,"personInteractionStats":[{"name":"Talk Ratio","value":true}]}
            ]}"#,
        )
        .unwrap();
        let listed = page.into_listed();
        let kept: Vec<_> = listed.items.iter().map(|p| (p.user_id.0, p.person_interaction_stats[0].value)).collect();
        assert_eq!(kept, [(1, Some(0.5)), (4, None)]);
        assert_eq!(listed.skipped.invalid_number, 3);

        let page: AggregateActivityPage = serde_json::from_str(
            r#"{"usersAggregateActivityStats":[
                {"userId":1,"userAggregateActivityStats":{"callsAsHost":"12","callIds":[1,2]}},
                {"userId":2,"userAggregateActivityStats":{"callsAsHost":-1}},
                {"userId":3,"userAggregateActivityStats":{"callsAsHost":"lots"}}
            ]}"#,
        )
        .unwrap();
        let listed = page.into_listed();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].user_aggregate_activity_stats["callsAsHost"].as_f64(), Some(12.0));
        assert_eq!(listed.skipped.invalid_number, 2);

        let page: AnsweredScorecardsPage = serde_json::from_str(
            r#"{"answeredScorecards":[
                {"scorecardId":1,"answers":[{"questionId":1,"score":"4"}]},
                {"scorecardId":2,"answers":[{"questionId":1,"score":-4}]}
            ]}"#,
        )
        .unwrap();
        let listed = page.into_listed();
        assert_eq!(listed.items[0].answers[0].score, Some(4.0));
        assert_eq!(listed.skipped.invalid_number, 1);
    }

    #[test]
    fn a_label_past_the_limit_skips_its_record() {
        let long = "x".repeat(MAX_LABEL_BYTES + 1);
        let at_limit = "y".repeat(MAX_LABEL_BYTES);
        let page: UsersPage = serde_json::from_str(&format!(
            r#"{{"users":[{{"id":1,"emailAddress":"{long}"}},{{"id":2,"title":"{at_limit}"}},{{"id":3,"firstName":"{long}"}}]}}"#
        ))
        .unwrap();
        let listed = page.into_listed();
        assert_eq!(listed.items.iter().map(|u| u.id.0).collect::<Vec<_>>(), [2]);
        assert_eq!(listed.skipped.label_too_long, 2);
    }

    #[test]
    fn any_other_malformed_record_still_fails_the_page() {
        let error = serde_json::from_str::<UsersPage>(r#"{"users":[{"id":"7"},{"id":"12a"}]}"#).unwrap_err();
        assert!(error.to_string().starts_with("record 2 of the page: ID '12a'"), "{error}");
        for bad in [r#"{"users":[{"id":"7"},{"id":"12a"}]}"#, r#"{"users":[{"id":-3}]}"#, r#"{"users":{"id":1}}"#] {
            assert!(serde_json::from_str::<UsersPage>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inexact_or_malformed_ids_are_rejected() {
        for bad in ["1.5", "6.8e18", "-1", "\"12a\"", "\"\"", "\"18446744073709551616\"", "null", "true"] {
            assert!(serde_json::from_str::<GongId>(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn aggregate_page_ignores_unknown_fields_and_keeps_new_counters() {
        let page: AggregateActivityPage = serde_json::from_str(
            r#"{"requestId":"r1","records":{"totalRecords":1,"currentPageSize":1,"currentPageNumber":0},
                "usersAggregateActivityStats":[{"userId":"9007199254740993","userEmailAddress":"a@x.io",
                  "userAggregateActivityStats":{"callsAsHost":3,"callsBrandNew":7},"surprise":1}],
                "timeZone":"US/Pacific","newTopLevel":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(page.time_zone(), Some("US/Pacific"));
        assert!(page.records.cursor.is_none());
        let user = &page.users_aggregate_activity_stats.items[0];
        assert_eq!(user.user_id, GongId(9_007_199_254_740_993));
        assert_eq!(user.user_aggregate_activity_stats["callsBrandNew"], 7);
    }

    #[test]
    fn nulls_become_defaults() {
        let page: UsersPage = serde_json::from_str(
            r#"{"requestId":null,"records":null,"users":[{"id":1,"emailAddress":null,"firstName":null,
                "lastName":"Ng","title":null,"managerId":null,"active":null}]}"#,
        )
        .unwrap();
        let u = &page.users.items[0];
        assert_eq!((u.email_address.as_str(), u.title.as_str(), u.active), ("", "", false));
        assert_eq!(u.manager_id, None);
    }

    #[test]
    fn coaching_counts_call_ids_per_metric_including_new_ones() {
        let page: CoachingPage = serde_json::from_str(
            r#"{"requestId":"r","coachingData":[{"manager":{"id":"12345678901234567890","emailAddress":"m@x.io",
                  "firstName":"M","title":null},
                "directReportsMetrics":[{"report":{"id":9007199254740993,"emailAddress":"r@x.io"},
                  "metrics":{"callsListenedTo":["1","2",3],"callsScored":[],"callsNewThing":["ab-4"],"note":"x"}}]}]}"#,
        )
        .unwrap();
        let data = &page.coaching_data.items[0];
        assert_eq!(data.manager.as_ref().unwrap().id, GongId(12_345_678_901_234_567_890));
        let report = &data.direct_reports_metrics[0];
        assert_eq!(report.report.as_ref().unwrap().email_address, "r@x.io");
        let counts: Vec<_> = report.metrics.iter().filter_map(|(k, v)| Some((k.as_str(), v.count()?))).collect();
        assert_eq!(counts, [("callsListenedTo", 3), ("callsNewThing", 1), ("callsScored", 0)]);
        // The IDs themselves are kept: a window is the union of its days.
        assert_eq!(report.metrics["callsListenedTo"].0.as_deref(), Some(&[1, 2, 3][..]));
        let text = &report.metrics["callsNewThing"];
        assert_eq!(text, &serde_json::from_str::<CallIds>(r#"["ab-4"]"#).unwrap(), "a text ID is stable");
        assert_eq!(report.metrics["note"], CallIds(None));
    }

    #[test]
    fn scorecard_ids_may_be_numbers_or_strings() {
        let page: AnsweredScorecardsPage = serde_json::from_str(
            r#"{"answeredScorecards":[{"answeredScorecardId":1,"scorecardId":"6843152929075440037",
                "scorecardName":"Q\"1\" café","callId":7782342274025938001,"reviewedUserId":"234599484848423",
                "reviewerUserId":null,"reviewMethod":"AUTOMATIC","reviewTime":"2024-01-17T16:20:05-03:00",
                "answers":[{"questionId":5,"isOverall":true,"score":4,"notApplicable":false},
                           {"questionId":6,"isOverall":false,"score":null,"notApplicable":true}]}]}"#,
        )
        .unwrap();
        let s = &page.answered_scorecards.items[0];
        assert_eq!(s.scorecard_id, GongId(6_843_152_929_075_440_037));
        assert_eq!(s.call_id, Some(GongId(7_782_342_274_025_938_001)));
        assert_eq!(s.reviewer_user_id, None);
        assert_eq!(s.answers[1].score, None);
    }

    fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            "[a-zA-Z0-9 \"\\\\]{0,12}".prop_map(serde_json::Value::from),
        ];
        let keys = prop_oneof![
            Just("records".to_owned()),
            Just("cursor".to_owned()),
            Just("userId".to_owned()),
            Just("users".to_owned()),
            Just("id".to_owned()),
            Just("usersAggregateActivityStats".to_owned()),
            Just("userAggregateActivityStats".to_owned()),
            Just("peopleInteractionStats".to_owned()),
            Just("personInteractionStats".to_owned()),
            Just("answeredScorecards".to_owned()),
            Just("answers".to_owned()),
            Just("scorecardId".to_owned()),
            Just("questionId".to_owned()),
            Just("name".to_owned()),
            Just("value".to_owned()),
            "[a-z]{1,6}",
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(keys.clone(), inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever Gong sends, decoding returns Ok or Err: it never panics.
        #[test]
        fn decoders_never_panic_on_arbitrary_json(value in arbitrary_json()) {
            let bytes = serde_json::to_vec(&value).unwrap();
            let _ = serde_json::from_slice::<AggregateActivityPage>(&bytes);
            let _ = serde_json::from_slice::<InteractionPage>(&bytes);
            let _ = serde_json::from_slice::<AnsweredScorecardsPage>(&bytes);
            let _ = serde_json::from_slice::<UsersPage>(&bytes);
            let _ = serde_json::from_slice::<DayByDayPage>(&bytes);
            let _ = serde_json::from_slice::<CoachingPage>(&bytes);
            let _ = serde_json::from_slice::<WorkspacesPage>(&bytes);
            let _ = serde_json::from_slice::<ErrorBody>(&bytes);
        }

        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = serde_json::from_slice::<AggregateActivityPage>(&bytes);
            let _ = serde_json::from_slice::<UsersPage>(&bytes);
        }
    }
}
