// What an installation may change without editing a rule: the scrape job,
// where the runbook lives, and the alerts' thresholds. Override in your own
// jsonnet: (import 'gong-exporter-mixin/mixin.libsonnet') + { _config+:: { ... } }.
{
  _config+:: {
    // Selects gong-exporter's scrape job. Used by one recording rule
    // (gong_exporter:up); every alert about the exporter reads that rule.
    gongExporterSelector: 'job="gong-exporter"',

    // Each alert's runbook_url is this plus '#' and the alert's name in
    // lower case.
    runbookURLBase: 'https://github.com/gong-exporter/gong-exporter/blob/main/docs/runbook.md',

    // GongExporterDataStale: the settling schedule fetches after each
    // company midnight, so a day plus two hours of margin.
    dataStaleHours: 26,
    // GongExporterDailyBudgetHigh: share of the day's budget used.
    dailyBudgetRatio: 0.9,
    // GongExporterCountersBehind: a day is counted after it settles, the
    // morning after it ends.
    countersBehindHours: 40,
    // GongExporterPollerStopped: the poller beats every 10 s; five minutes
    // without a beat is thirty missed.
    pollerStoppedSeconds: 300,

    // GongCoachingActivityDrop: under this share of the usual level, when
    // the usual level is at least coachingBaselineMin acts a week.
    coachingDropRatio: 0.5,
    coachingBaselineMin: 10,
    // GongRepActivityDrop: under this share of a steady rep's usual calls,
    // when the usual level is at least repBaselineMin calls a week.
    repDropRatio: 0.25,
    repBaselineMin: 5,

    // The longest gap between two samples of a recorded series: the
    // baselines look this far back from each week ago. scripts/backfill
    // records rule history every 2 hours; live rules run far more often.
    historySampleInterval: '2h',
  },
}
