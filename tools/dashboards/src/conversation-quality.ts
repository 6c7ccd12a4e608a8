import { bars, dashboard, histogram, row, stat, table } from "./lib.js";
import type { Look } from "./lib.js";
import { peopleVariables, perUser, WHO } from "./common.js";

// Target bands commonly used for Gong's interaction stats: the colour is
// green inside the band, yellow near it, red far from it.
const STATS: Array<[string, string, Look]> = [
  ["gong_interaction_talk_ratio", "Talk ratio", { unit: "percentunit", min: 0, max: 1, steps: ["yellow", [0.35, "green"], [0.55, "yellow"], [0.65, "red"]], description: "Share of call time the rep talked. Top performers talk 40-50% on discovery calls." }],
  ["gong_interaction_longest_monologue_seconds", "Longest monologue", { unit: "s", steps: ["green", [150, "yellow"], [240, "red"]], description: "Longest stretch the rep talked without interruption; beyond 2.5 minutes customers disengage." }],
  ["gong_interaction_longest_customer_story_seconds", "Longest customer story", { unit: "s", steps: ["red", [30, "yellow"], [60, "green"]], description: "Longest stretch a customer talked; longer stories mean better discovery." }],
  ["gong_interaction_interactivity", "Interactivity", { min: 0, max: 10, steps: ["red", [3, "yellow"], [5, "green"]], description: "Gong's 0-10 score of how often the speaker changes." }],
  ["gong_interaction_patience_seconds", "Patience", { unit: "s", decimals: 2, steps: ["red", [0.6, "green"], [1.5, "yellow"]], description: "Average pause before the rep answers a customer." }],
  ["gong_interaction_question_rate", "Question rate", { unit: "short", decimals: 1, steps: ["red", [6, "yellow"], [11, "green"], [18, "yellow"]], description: "Questions the rep asked per hour of call." }],
];

export default dashboard({
  uid: "gong-conversation-quality",
  title: "Gong: conversation quality",
  description: "Talk ratio, longest monologue, longest customer story, interactivity, patience and question rate per user and team, from gong-exporter. Gong computes interaction stats only for calls with Whisper turned on: users without it do not appear. Needs alerts/gong-recording.yml.",
  variables: peopleVariables,
  sections: [
    row("Median of the selected users, $window (calls with Whisper turned on only)"),
    ...STATS.map(([metric, title, look]) => stat(title, { expr: `quantile(0.5, ${perUser(metric)})` }, look)),
    row("Per user, $window"),
    ...STATS.map(([metric, title, look]) =>
      bars(title, [{ expr: `sort_desc(${perUser(metric)})`, legend: "{{user_name}}" }], look, 8, 12),
    ),
    row("Per team (average of its users), $window"),
    ...STATS.slice(0, 3).map(([metric, title, look]) =>
      bars(`${title} by team`, [{ expr: `avg by (manager_name) (${perUser(metric)})`, legend: "{{manager_name}}" }], look),
    ),
    row("Distributions across the selected users, $window"),
    ...STATS.slice(0, 3).map(([metric, title, look]) => histogram(title, { expr: perUser(metric), legend: "{{user_name}}" }, look)),
    row("All stats per user"),
    table(
      "Interaction stats per user",
      [
        ...STATS.map(([metric, title, look]) => ({ expr: `max by (user_name, manager_name) (${perUser(metric)})`, legend: title, unit: look.unit })),
      ],
      ["user_name", "manager_name"],
      {},
      24,
      12,
    ),
    table(
      "Other interaction stats Gong reports",
      [{ expr: `max by (user_name, stat) (gong_interaction_stat{window="$window"} * on (user_id) group_left (user_name, manager_name) ${WHO})`, legend: "Value" }],
      ["user_name", "stat"],
      {},
      24,
      8,
    ),
  ],
});
