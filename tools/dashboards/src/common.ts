// Query fragments shared by the dashboards.
//
// Variables select by ID (manager_id, user_id, scorecard_id) and show names
// as their text: a name never goes through a regex, so quotes, backslashes,
// parentheses and "(none)" cannot break a query. Every query is limited to
// one exporter (the job and instance variables, added by lib.ts), so two
// scrapes of the same data are never added up or joined twice.

import { idVariable, labelVariable, TARGET, windowVariable } from "./lib.js";

/** The users selected by the manager and user variables, with their names. */
export const WHO = 'gong:user_info:with_manager{manager_id=~"$manager", user_id=~"$user"}';

/** A per-user gauge for the selected window and users, labelled with names. */
export function perUser(metric: string, extra = ""): string {
  return `${metric}{window="$window"${extra}} * on (user_id) group_left (user_name, manager_name) ${WHO}`;
}

/** A team aggregate (recording rule) for the selected window and teams. */
export function team(field: string, window = "$window"): string {
  return `gong:team_activity:sum{field="${field}", window="${window}", manager_id=~"$manager"}`;
}

/**
 * A recorded series in a panel over time. Backfilled rule history
 * (scripts/backfill) is one sample every 2 hours, which Prometheus's
 * 5-minute lookback would show as dots; live rules run far more often.
 */
export function overTime(selector: string): string {
  return `last_over_time(${selector}[2h])`;
}

// Managers with a team; the value is the ID, the text the name (the name is
// the last label, so the text runs to the closing brace whatever it holds).
export const managerVariable = idVariable(
  "manager",
  "Manager",
  `query_result(gong:manager_info{${TARGET}} and on (manager_id) gong:team_members:count{${TARGET}})`,
  "manager_id",
  "manager_name",
);
export const userVariable = idVariable(
  "user",
  "User",
  `query_result(gong:user_info:with_manager{${TARGET}, manager_id=~"$manager"})`,
  "user_id",
  "user_name",
);
export const scorecardVariable = idVariable(
  "scorecard",
  "Scorecard",
  `query_result(max by (scorecard_id, scorecard_name) (gong_scorecard_reviews{${TARGET}}))`,
  "scorecard_id",
  "scorecard_name",
);
export const methodVariable = labelVariable("method", "Review method", `label_values(gong_scorecard_reviews{${TARGET}}, review_method)`);

export const peopleVariables = [windowVariable, managerVariable, userVariable];

/**
 * What a panel built on Prometheus's history says: a new install has none
 * until it has scraped for a while, unless the history was backfilled.
 */
export const NEEDS_HISTORY =
  "Needs history in Prometheus: a new install shows little until it has scraped for the range shown (baselines: three weeks), unless past days were loaded with scripts/backfill (README, Backfill). The demo stack loads four weeks.";
