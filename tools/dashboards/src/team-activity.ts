import { bars, dashboard, row, stat, table, timeseries } from "./lib.js";
import { NEEDS_HISTORY, WHO, overTime, peopleVariables, perUser, team } from "./common.js";

const FIELDS: Array<[string, string]> = [
  ["calls_as_host", "Calls hosted"],
  ["calls_attended", "Calls attended"],
  ["own_calls_listened_to", "Own calls listened to"],
  ["others_calls_listened_to", "Others' calls listened to"],
  ["calls_gave_feedback", "Feedback given"],
  ["calls_received_feedback", "Feedback received"],
  ["calls_requested_feedback", "Feedback requested"],
  ["calls_comments_given", "Comments given"],
  ["calls_comments_received", "Comments received"],
  ["calls_scorecards_filled", "Scorecards filled"],
  ["calls_scorecards_received", "Scorecards received"],
  ["calls_shared_internally", "Shared internally"],
  ["calls_shared_externally", "Shared externally"],
];

const total = (field: string) => `sum(${team(field)})`;
/**
 * A team's count over the dashboard's time range, from the counters; the
 * team names as recorded at the range's end, which may be in backfilled
 * history.
 */
const overRange = (field: string) =>
  `sum by (manager_name) (increase(gong_activity_${field}_cumulative_total[$__range]) * on (user_id) group_left (manager_name) ${overTime(WHO)})`;
const perDay = (field: string) =>
  `sum by (window) (gong:team_activity:sum{field="${field}", manager_id=~"$manager"})` +
  ` / on (window) ((gong_exporter_window_end_timestamp_seconds - gong_exporter_window_start_timestamp_seconds) / 86400)`;

export default dashboard({
  uid: "gong-team-activity",
  title: "Gong: team activity",
  description: "Calls hosted and attended, listening, feedback, comments, scorecards and shares per team and user, from gong-exporter. Needs alerts/gong-recording.yml.",
  variables: peopleVariables,
  sections: [
    row("Selected teams, $window"),
    stat("Calls hosted", { expr: total("calls_as_host") }),
    stat("Calls attended", { expr: total("calls_attended") }),
    stat("Others' calls listened to", { expr: total("others_calls_listened_to") }),
    stat("Feedback given", { expr: total("calls_gave_feedback") }),
    stat("Comments given", { expr: total("calls_comments_given") }),
    stat("Scorecards filled", { expr: total("calls_scorecards_filled") }),
    bars("Calls hosted by team", [{ expr: `sum by (manager_name) (${team("calls_as_host")})`, legend: "{{manager_name}}" }]),
    bars("Others' calls listened to by team", [{ expr: `sum by (manager_name) (${team("others_calls_listened_to")})`, legend: "{{manager_name}}" }]),
    bars("Feedback given by team", [{ expr: `sum by (manager_name) (${team("calls_gave_feedback")})`, legend: "{{manager_name}}" }]),

    row("Per day, in each window served (add 1d and 28d with --stats.windows to compare)"),
    bars("Calls hosted per day", [{ expr: perDay("calls_as_host"), legend: "{{window}}" }], { decimals: 1 }),
    bars("Others' calls listened to per day", [{ expr: perDay("others_calls_listened_to"), legend: "{{window}}" }], { decimals: 1 }),
    bars("Feedback given per day", [{ expr: perDay("calls_gave_feedback"), legend: "{{window}}" }], { decimals: 1 }),
    timeseries(
      "Calls hosted over time, by team (7 days)",
      [{ expr: `sum by (manager_name) (${overTime(team("calls_as_host", "7d"))})`, legend: "{{manager_name}}" }],
      { description: NEEDS_HISTORY },
      24,
    ),

    row("Over the dashboard's time range (cumulative counters; a day counts after its midnight)"),
    bars("Calls hosted by team", [{ expr: overRange("calls_as_host"), legend: "{{manager_name}}" }], { decimals: 0, description: NEEDS_HISTORY }),
    bars("Others' calls listened to by team", [{ expr: overRange("others_calls_listened_to"), legend: "{{manager_name}}" }], { decimals: 0, description: NEEDS_HISTORY }),
    bars("Feedback given by team", [{ expr: overRange("calls_gave_feedback"), legend: "{{manager_name}}" }], { decimals: 0, description: NEEDS_HISTORY }),

    row("Leaderboards, $window"),
    bars("Most calls hosted", [{ expr: `topk(10, ${perUser("gong_activity_calls_as_host")})`, legend: "{{user_name}}" }]),
    bars("Most others' calls listened to", [{ expr: `topk(10, ${perUser("gong_activity_others_calls_listened_to")})`, legend: "{{user_name}}" }]),
    bars("Most feedback given", [{ expr: `topk(10, ${perUser("gong_activity_calls_gave_feedback")})`, legend: "{{user_name}}" }]),
    bars(
      "Fewest calls hosted (active users)",
      [{ expr: `bottomk(10, ${perUser("gong_activity_calls_as_host")} and on (user_id) gong_user_info{active="true"})`, legend: "{{user_name}}" }],
      { steps: ["red", [3, "yellow"], [10, "green"]] },
    ),
    bars(
      "Least feedback received (active users)",
      [{ expr: `bottomk(10, ${perUser("gong_activity_calls_received_feedback")} and on (user_id) gong_user_info{active="true"})`, legend: "{{user_name}}" }],
      { steps: ["red", [1, "yellow"], [3, "green"]] },
    ),
    bars("Most calls shared", [{ expr: `topk(10, ${perUser("gong_activity_calls_shared_internally")} + on (user_id) group_left gong_activity_calls_shared_externally{window="$window"})`, legend: "{{user_name}}" }]),

    row("Per user, $window"),
    table(
      "Activity per user",
      FIELDS.map(([field, title]) => ({ expr: `max by (user_name, manager_name) (${perUser(`gong_activity_${field}`)})`, legend: title })),
      ["user_name", "manager_name"],
      {},
      24,
      14,
    ),
  ],
});
