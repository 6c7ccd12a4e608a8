// Query fragments shared by the dashboards.

import { labelVariable, windowVariable } from "./lib.js";

/** The users selected by the manager and user variables, with their names. */
export const WHO = 'gong:user_info:with_manager{manager_name=~"${manager:regex}", user_name=~"${user:regex}"}';

/** A per-user gauge for the selected window and users, labelled with names. */
export function perUser(metric: string, extra = ""): string {
  return `${metric}{window="$window"${extra}} * on (user_id) group_left (user_name, manager_name) ${WHO}`;
}

/** A team aggregate (recording rule) for the selected window and teams. */
export function team(field: string, window = "$window"): string {
  return `gong:team_activity:sum{field="${field}", window="${window}", manager_name=~"\${manager:regex}"}`;
}

export const managerVariable = labelVariable("manager", "Manager", "label_values(gong:user_info:with_manager, manager_name)");
export const userVariable = labelVariable(
  "user",
  "User",
  'label_values(gong:user_info:with_manager{manager_name=~"${manager:regex}"}, user_name)',
);
export const scorecardVariable = labelVariable("scorecard", "Scorecard", "label_values(gong_scorecard_reviews, scorecard_name)");

export const peopleVariables = [windowVariable, managerVariable, userVariable];
