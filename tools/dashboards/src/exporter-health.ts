import { bars, dashboard, row, stat, table, timeseries } from "./lib.js";


export default dashboard({
  uid: "gong-exporter-health",
  title: "Gong: exporter health",
  description: "Is gong-exporter fetching Gong's data: poll results, data age, API requests, retries, rate limiting, daily budget and data windows.",
  variables: [],
  time: "now-24h",
  sections: [
    row("Polling"),
    bars(
      "Last cycle per endpoint",
      [{ expr: `min by (endpoint) (gong_exporter_poll_success)`, legend: "{{endpoint}}" }],
      { min: 0, max: 1, steps: ["red", [1, "green"]], mappings: [[0, "failing", "red"], [1, "ok", "green"]] },
      8,
      8,
    ),
    bars(
      "Age of the data per endpoint",
      [{ expr: `time() - max by (endpoint) (gong_exporter_last_success_timestamp_seconds)`, legend: "{{endpoint}}" }],
      { unit: "s", steps: ["green", [7200, "yellow"], [93600, "red"]], description: "Time since the endpoint was last fetched completely; GongExporterDataStale fires past 26 hours." },
      8,
      8,
    ),
    stat(
      "Daily budget used",
      { expr: `max(gong_exporter_api_requests_today / gong_exporter_api_requests_daily_budget)` },
      { unit: "percentunit", min: 0, max: 1, steps: ["green", [0.8, "yellow"], [0.9, "red"]], description: "Requests sent today (company time) against --gong.daily-limit x --gong.budget-share." },
      4,
      8,
    ),
    stat(
      "Next cycle in",
      { expr: `max(gong_exporter_next_cycle_timestamp_seconds) - time()` },
      { unit: "s", steps: ["green", [7200, "yellow"]], description: "Later than --poll.interval when the daily budget requires." },
      4,
      8,
    ),
    timeseries("Poll duration per endpoint", [{ expr: `max by (endpoint) (gong_exporter_poll_duration_seconds)`, legend: "{{endpoint}}" }], { unit: "s" }),
    timeseries(
      "Cycles skipped and abandoned",
      [
        { expr: `sum(increase(gong_exporter_cycles_skipped_total[$__range]))`, legend: "skipped (previous cycle still running)" },
        { expr: `sum by (endpoint) (increase(gong_exporter_cycles_abandoned_total[1h]))`, legend: "abandoned for Retry-After: {{endpoint}}" },
      ],
    ),

    row("Gong API"),
    timeseries("Requests by HTTP status", [{ expr: `sum by (code) (rate(gong_exporter_api_requests_total[$__rate_interval]))`, legend: "{{code}}" }], { unit: "reqps" }),
    timeseries("Retries by reason", [{ expr: `sum by (reason) (increase(gong_exporter_api_retries_total[$__rate_interval]))`, legend: "{{reason}}" }]),
    timeseries(
      "Throttled (429) requests",
      [{ expr: `sum by (endpoint) (increase(gong_exporter_api_requests_total{code="429"}[$__rate_interval]))`, legend: "{{endpoint}}" }],
      { steps: ["green", [1, "yellow"]] },
    ),
    timeseries(
      "Request duration p95",
      [{ expr: `histogram_quantile(0.95, sum by (endpoint, le) (rate(gong_exporter_api_request_duration_seconds_bucket[$__rate_interval])))`, legend: "{{endpoint}}" }],
      { unit: "s" },
    ),
    timeseries("Requests today against the budget", [
      { expr: `max(gong_exporter_api_requests_today)`, legend: "sent today" },
      { expr: `max(gong_exporter_api_requests_daily_budget)`, legend: "daily budget" },
    ]),

    row("Data"),
    table(
      "Windows (company time zone)",
      [
        { expr: `max by (window) (gong_exporter_window_start_timestamp_seconds) * 1000`, legend: "Start" },
        { expr: `max by (window) (gong_exporter_window_end_timestamp_seconds) * 1000`, legend: "End (exclusive)" },
      ],
      ["window"],
      { unit: "dateTimeAsIso" },
      12,
      6,
    ),
    table(
      "Records in the last complete answer",
      [{ expr: `max by (endpoint, window) (gong_exporter_records)`, legend: "Records" }],
      ["endpoint", "window"],
      {},
      12,
      6,
    ),
    table(
      "Cumulative counters complete until",
      [{ expr: `max by (counters) (gong_exporter_counted_until_timestamp_seconds) * 1000`, legend: "Every day before" }],
      ["counters"],
      { unit: "dateTimeAsIso", description: "Start of the first company day not yet added to the *_cumulative_total counters; normally today's midnight." },
      12,
      4,
    ),
    table("Build", [{ expr: `max by (instance, version) (gong_exporter_build_info)`, legend: "Up" }], ["instance", "version"], {}, 12, 4),
  ],
});
