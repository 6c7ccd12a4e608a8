import { bars, dashboard, row, stat, table, timeseries, windowVariable } from "./lib.js";
import { managerVariable, methodVariable, NEEDS_HISTORY, overTime, scorecardVariable, userVariable, WHO } from "./common.js";

const SC = 'scorecard_id=~"$scorecard"';
const named = (idLabel: string) =>
  `on (${idLabel}) group_left (user_name, manager_name) label_replace(${WHO}, "${idLabel}", "$1", "user_id", "(.+)")`;

/** A per-user gauge for the selected managers only (users with a team). */
const managers = (metric: string) =>
  `sort_desc(${metric}{window="$window"} * on (user_id) group_left (manager_name) label_replace(gong:manager_info{manager_id=~"$manager"} and on (manager_id) gong:team_members:count, "user_id", "$1", "manager_id", "(.+)"))`;

const byManager = 'on (manager_id) group_left (manager_name) gong:manager_info{manager_id=~"$manager"}';
/** byManager for a panel over time: the names are recorded too. */
const byManagerOverTime = `on (manager_id) group_left (manager_name) ${overTime('gong:manager_info{manager_id=~"$manager"}')}`;
const teamCoaching = `${overTime("gong:team_coaching:7d")} * ${byManagerOverTime}`;
/** A coaching-endpoint metric per manager (summed over reports), for the selected window and managers. */
const coached = (metric: string) => `sort_desc(sum by (manager_id) (gong_coaching_${metric}{window="$window"}) * ${byManager})`;

/** A scorecard metric per question, for the selected window and scorecards. */
const perQuestion = (metric: string) => `sum by (scorecard_name, scorecard_id, question_id) (${metric}{window="$window", ${SC}})`;
const AVERAGE = `${perQuestion("gong_scorecard_question_score_points")} / ${perQuestion("gong_scorecard_question_score_answers")}`;
const NOT_APPLICABLE = perQuestion("gong_scorecard_question_not_applicable");
const score = (bound: "min" | "max") => `max by (scorecard_id, question_id) (gong_scorecard_question_score_${bound})`;
/**
 * The question's text from Gong's scorecard settings, or "question <ID>"
 * where they are missing (a key without api:settings:scorecards:read).
 */
const withText = (expr: string) =>
  `(${expr}) * on (scorecard_id, question_id) group_left (question) max by (scorecard_id, question_id, question) (gong_scorecard_question_info) or on (scorecard_id, question_id) label_replace(${expr}, "question", "question $1", "question_id", "(.+)")`;

export default dashboard({
  uid: "gong-coaching-scorecards",
  title: "Gong: coaching and scorecards",
  description: "Coaching by managers, scorecard reviews given and received, scores per scorecard, rep and question, from gong-exporter. Needs alerts/gong-recording.yml.",
  variables: [windowVariable, managerVariable, userVariable, scorecardVariable, methodVariable],
  sections: [
    row("Team coaching (what GongCoachingActivityDrop watches)"),
    timeseries(
      "Team coaching acts, last 7 days, vs usual",
      [
        { expr: teamCoaching, legend: "{{manager_name}} ({{signal}})" },
        { expr: `${overTime("gong:team_coaching:7d:baseline")} * ${byManagerOverTime}`, legend: "{{manager_name}} usual ({{signal}})" },
      ],
      { description: "signal=coaching_endpoint: calls of direct reports the manager listened to, attended, commented on, gave feedback on or scored (Gong's coaching data, once it has three weeks of history). signal=activity: feedback given, others' calls listened to, scorecards filled and comments by the manager and direct reports. Usual = median of the same 7 days 1-3 weeks earlier. " + NEEDS_HISTORY },
      24,
    ),
    bars("Manual reviews given by reviewer, $window", [{ expr: `sort_desc(sum by (reviewer_user_id) (gong_scorecard_reviews_given{window="$window", ${SC}}) * ${named("reviewer_user_id")})`, legend: "{{user_name}}" }]),
    bars("Reviews received per rep, $window", [{ expr: `sort_desc(sum by (reviewed_user_id) (gong_scorecard_reviews{window="$window", review_method=~"$method", ${SC}}) * ${named("reviewed_user_id")})`, legend: "{{user_name}}" }]),
    bars("Manual vs automatic reviews, $window", [{ expr: `sum by (review_method) (gong_scorecard_reviews{window="$window", ${SC}})`, legend: "{{review_method}}" }], {}, 8, 10),

    row("Scores, $window"),
    stat("Reviews", { expr: `sum(gong_scorecard_reviews{window="$window", review_method=~"$method", ${SC}})` }),
    stat("Average overall score", { expr: `sum(gong_scorecard_overall_score_points{window="$window", ${SC}}) / sum(gong_scorecard_overall_score_answers{window="$window", ${SC}})` }, { decimals: 2, steps: ["red", [3, "yellow"], [4, "green"]] }),
    stat("Questions marked not applicable", { expr: `sum(gong_scorecard_question_not_applicable{window="$window", ${SC}}) / (sum(gong_scorecard_question_score_answers{window="$window", ${SC}}) + sum(gong_scorecard_question_not_applicable{window="$window", ${SC}}))` }, { unit: "percentunit", steps: ["green", [0.2, "yellow"], [0.4, "red"]] }),
    bars(
      "Average overall score per scorecard",
      [{ expr: `sum by (scorecard_name) (gong_scorecard_overall_score_points{window="$window", ${SC}}) / sum by (scorecard_name) (gong_scorecard_overall_score_answers{window="$window", ${SC}})`, legend: "{{scorecard_name}}" }],
      { decimals: 2, min: 0, steps: ["red", [3, "yellow"], [4, "green"]] },
      12,
      8,
    ),
    bars(
      "Average overall score per rep",
      [{ expr: `sort_desc((sum by (reviewed_user_id) (gong_scorecard_overall_score_points{window="$window", ${SC}}) / sum by (reviewed_user_id) (gong_scorecard_overall_score_answers{window="$window", ${SC}})) * ${named("reviewed_user_id")})`, legend: "{{user_name}}" }],
      { decimals: 2, min: 0, steps: ["red", [3, "yellow"], [4, "green"]] },
      12,
      12,
    ),
    table(
      "Questions: average score, as a share of the question's range, and not-applicable rate",
      [
        { expr: withText(AVERAGE), legend: "Average score" },
        {
          expr: withText(`(${AVERAGE} - on (scorecard_id, question_id) ${score("min")}) / on (scorecard_id, question_id) (${score("max")} - ${score("min")})`),
          legend: "Average, share of range",
          unit: "percentunit",
        },
        { expr: withText(perQuestion("gong_scorecard_question_score_answers")), legend: "Scored answers" },
        { expr: withText(`${NOT_APPLICABLE} / (${perQuestion("gong_scorecard_question_score_answers")} + ${NOT_APPLICABLE})`), legend: "Not applicable", unit: "percentunit" },
      ],
      ["scorecard_name", "question"],
      {
        decimals: 2,
        description: "Question text and score range come from Gong's scorecard settings (scope api:settings:scorecards:read, fetched once a day): without them the question's ID stands in and the share of range is empty. Scores of different scales (1-5, 0-50) compare as a share of each question's range.",
      },
      12,
      12,
    ),

    row("Gong coaching data per manager, $window (collected once a day; empty without the coaching collector)"),
    // Gong's own metric names (callsListenedTo, callsManagerAttended, ...),
    // as a public script reading real /v2/coaching answers uses them.
    bars("Reports' calls listened to", [{ expr: coached("calls_listened_to"), legend: "{{manager_name}}" }]),
    bars("Reports' calls attended", [{ expr: coached("calls_manager_attended"), legend: "{{manager_name}}" }]),
    bars("Reports' calls commented on", [{ expr: coached("calls_manager_commented_on"), legend: "{{manager_name}}" }]),
    bars("Reports' calls with feedback", [{ expr: coached("calls_with_feedback"), legend: "{{manager_name}}" }]),
    bars("Reports' calls with a scorecard filled", [{ expr: coached("calls_with_scorecard_filled"), legend: "{{manager_name}}" }]),
    stat(
      "Coaching collector",
      { expr: "max(gong_exporter_collector_enabled{collector=\"coaching\"})" },
      { mappings: [[0, "off", "red"], [1, "on", "green"]], steps: ["red", [1, "green"]], description: "Off by --collector.coaching=false, or for the day because Gong refused coaching (plan or scope)." },
      8,
      10,
    ),
    table(
      "Per report",
      [
        { expr: `sum by (manager_id, report_id) ({__name__=~"gong_coaching_.+", window="$window"}) * ${byManager} * on (report_id) group_left (user_name) label_replace(gong_user_info, "report_id", "$1", "user_id", "(.+)")`, legend: "Coaching acts" },
      ],
      ["manager_name", "user_name"],
      {},
      24,
      10,
    ),

    row("Coaching activity per manager, $window"),
    bars("Others' calls listened to", [{ expr: managers("gong_activity_others_calls_listened_to"), legend: "{{manager_name}}" }]),
    bars("Feedback given", [{ expr: managers("gong_activity_calls_gave_feedback"), legend: "{{manager_name}}" }]),
    bars("Comments given", [{ expr: managers("gong_activity_calls_comments_given"), legend: "{{manager_name}}" }]),
  ],
});
