//! Metric names from Gong's names: the one rule every family follows
//! (`gong_activity_` + the field in snake_case, and so on), shared by the
//! snapshot (which resolves names once per cycle) and the encoding.

use std::collections::{BTreeMap, BTreeSet};

/// `callsAsHost` -> `gong_activity_calls_as_host`. Acronyms stay together
/// (`callsViaAPI` -> `calls_via_api`); anything outside `[a-z0-9_]` becomes `_`.
pub fn activity_metric_name(gong_field: &str) -> String {
    format!("gong_activity_{}", snake_case(gong_field))
}

/// camelCase or PascalCase to snake_case, safe as a metric name part.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    if trimmed.is_empty() { "unnamed".to_owned() } else { trimmed.to_owned() }
}

/// `callsListenedTo` -> `gong_coaching_calls_listened_to`.
pub fn coaching_metric_name(gong_name: &str) -> String {
    format!("gong_coaching_{}", snake_case(gong_name))
}

/// A Gong field name as HELP text may show it: HELP is not a label value,
/// so a name that is not plainly alphanumeric is not printed.
pub fn help_name(gong_name: &str) -> &str {
    if gong_name.chars().all(|c| c.is_ascii_alphanumeric()) { gong_name } else { "(renamed)" }
}

/// Which Gong name owns each metric family: of several Gong names with the
/// same metric name (`callsAsHost` and `calls_as_host`), the first in name
/// order, so the choice does not depend on which user or window came first.
pub fn family_owners<'a>(
    gong_names: impl IntoIterator<Item = &'a str>,
    metric_name: impl Fn(&str) -> String,
) -> BTreeMap<String, &'a str> {
    let mut owners = BTreeMap::new();
    for name in gong_names.into_iter().collect::<BTreeSet<_>>() {
        owners.entry(metric_name(name)).or_insert(name);
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_gong_name_in_name_order_owns_a_family() {
        let owners = family_owners(["calls_as_host", "callsAsHost", "callsAttended"], activity_metric_name);
        assert_eq!(owners["gong_activity_calls_as_host"], "callsAsHost");
        assert_eq!(owners["gong_activity_calls_attended"], "callsAttended");
        assert_eq!(owners.len(), 2);
    }

    #[test]
    fn gong_field_names_map_to_snake_case_metrics() {
        let cases = [
            ("callsAsHost", "gong_activity_calls_as_host"),
            ("ownCallsListenedTo", "gong_activity_own_calls_listened_to"),
            ("callsMarkedAsFeedbackReceived", "gong_activity_calls_marked_as_feedback_received"),
            ("callsViaAPI", "gong_activity_calls_via_api"),
            ("APICalls", "gong_activity_api_calls"),
            ("calls2Host", "gong_activity_calls2_host"),
            ("weird-name.x", "gong_activity_weird_name_x"),
            ("ünïcode", "gong_activity_n_code"),
            ("", "gong_activity_unnamed"),
        ];
        for (gong, metric) in cases {
            assert_eq!(activity_metric_name(gong), metric, "{gong}");
        }
    }
}
