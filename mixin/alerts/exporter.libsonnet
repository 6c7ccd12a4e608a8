// Health of gong-exporter itself: scrapes, polls, data age, quota, the
// poller. Its first rule is the only place the scrape job is selected.
{
  local runbook(anchor) = $._config.runbookURLBase + '#' + anchor,

  prometheusAlerts+:: {
    groups+: [{
      name: 'gong-exporter',
      rules: [
        // The one rule that selects gong-exporter's scrape job
        // (_config.gongExporterSelector); every other rule reads this one.
        {
          record: 'gong_exporter:up',
          expr: 'up{%s}' % $._config.gongExporterSelector,
        },
        {
          alert: 'GongExporterDown',
          expr: 'gong_exporter:up == 0',
          'for': '5m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'gong-exporter {{ $labels.instance }} is down',
            description: 'Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for 5 minutes.',
            runbook_url: runbook('gongexporterdown'),
          },
        },
        // No target at all (removed from service discovery, a relabelling
        // mistake, the Service deleted): GongExporterDown cannot fire then.
        {
          alert: 'GongExporterAbsent',
          expr: 'absent(gong_exporter:up)',
          'for': '15m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'Prometheus has no gong-exporter target',
            description: 'No target of the gong-exporter scrape job has existed for 15 minutes: check the scrape config or service discovery (the job selector: gongExporterSelector in mixin/config.libsonnet, the gong_exporter:up rule).',
            runbook_url: runbook('gongexporterabsent'),
          },
        },
        // Two hourly cycles: one failure is retried by the next cycle.
        {
          alert: 'GongExporterPollFailing',
          expr: 'gong_exporter_poll_success == 0',
          'for': '2h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'gong-exporter cannot fetch {{ $labels.endpoint }} from Gong',
            description: 'The last cycles of {{ $labels.instance }} failed to fetch {{ $labels.endpoint }} for over 2 hours; its metrics show the last good data. The landing page (/) shows the error.',
            runbook_url: runbook('gongexporterpollfailing'),
          },
        },
        // The cycle after midnight always runs, so data older than a day and
        // two hours means yesterday was missed.
        {
          alert: 'GongExporterDataStale',
          expr: 'time() - gong_exporter_last_success_timestamp_seconds > %d * 3600' % $._config.dataStaleHours,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'Gong {{ $labels.endpoint }} data on {{ $labels.instance }} is {{ $value | humanizeDuration }} old',
            description: 'The last complete fetch of {{ $labels.endpoint }} was {{ $value | humanizeDuration }} ago; dashboards show stale numbers.',
            runbook_url: runbook('gongexporterdatastale'),
          },
        },
        // Occasional 429s are retried; a cycle given up for a Retry-After
        // (daily quota spent), or a stream of 429s, is not normal.
        {
          alert: 'GongExporterRateLimited',
          expr: |||
            sum by (job, instance) (increase(gong_exporter_cycles_abandoned_total[3h])) > 0
            or
            sum by (job, instance) (increase(gong_exporter_api_requests_total{code="429"}[1h])) > 10
          |||,
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Gong is throttling gong-exporter {{ $labels.instance }}',
            description: "{{ $value | printf \"%.0f\" }} throttled requests or abandoned endpoint cycles recently: Gong's per-second limit or the company's daily quota of 10,000 requests is being hit.",
            runbook_url: runbook('gongexporterratelimited'),
          },
        },
        {
          alert: 'GongExporterDailyBudgetHigh',
          expr: 'gong_exporter_api_requests_today / gong_exporter_api_requests_daily_budget > %g' % $._config.dailyBudgetRatio,
          'for': '15m',
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: 'gong-exporter {{ $labels.instance }} used {{ $value | humanizePercentage }} of its daily Gong budget',
            description: 'The exporter has used {{ $value | humanizePercentage }} of --gong.daily-limit x --gong.budget-share today; it spaces cycles further apart until midnight (company time).',
            runbook_url: runbook('gongexporterdailybudgethigh'),
          },
        },
        // reason="credentials": a 401 without a permission message (wrong or
        // revoked key). reason="scope": Gong's 401 (or 403) "You don't have
        // permission to use '<scope>' in your app" (the OAuth app lacks that
        // endpoint's scope). reason="forbidden": a 403 naming no scope (a
        // revoked token, an IP outside the trusted ones, or a scope).
        // A plan-gated collector Gong refuses is switched off and has no
        // poll_success series, so it does not fire this.
        {
          alert: 'GongExporterAuthFailing',
          expr: |||
            sum by (job, instance, endpoint, reason) (increase(gong_exporter_api_auth_failures_total[2h])) > 0
            and on (job, instance, endpoint)
            gong_exporter_poll_success == 0
          |||,
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'Gong refuses {{ $labels.endpoint }} to {{ $labels.instance }}: {{ if eq $labels.reason "scope" }}missing API scope{{ else if eq $labels.reason "forbidden" }}forbidden (403){{ else if eq $labels.reason "token_refresh" }}OAuth refresh refused{{ else }}credentials rejected{{ end }}',
            description: "{{ $value | printf \"%.0f\" }} requests to {{ $labels.endpoint }} were refused in the last 2 hours and the endpoint is failing: {{ if eq $labels.reason \"scope\" }}the OAuth app lacks the endpoint's scope (the log and the landing page name it); an admin grants it to the app in Gong.{{ else if eq $labels.reason \"forbidden\" }}a 403 naming no scope: a revoked or expired key or token, a request from outside the trusted IPs set in Gong, or a missing scope.{{ else if eq $labels.reason \"token_refresh\" }}no OAuth access token could be had: Gong refused the refresh token (single use: used elsewhere, or the app's access revoked) or the app's client ID and secret; the log says which.{{ else }}the access key and secret (or bearer token) are wrong or revoked.{{ end }}",
            runbook_url: runbook('gongexporterauthfailing'),
          },
        },
        // A day is counted once it has settled: 12 hours after the company
        // midnight that ends it (--poll.settle-for, settling schedule), or
        // two minutes after it (fixed). So this age stays under 36 hours;
        // four hours of grace cover a slow catch-up. Raise it with
        // --poll.settle-for.
        {
          alert: 'GongExporterCountersBehind',
          expr: 'time() - gong_exporter_counted_until_timestamp_seconds > %d * 3600' % $._config.countersBehindHours,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'gong-exporter {{ $labels.instance }} {{ $labels.counters }} counters are behind',
            description: 'The {{ $labels.counters }} cumulative counters of {{ $labels.instance }} stop at a day that began {{ $value | humanizeDuration }} ago; increase() over recent days reads low until they catch up.',
            runbook_url: runbook('gongexportercountersbehind'),
          },
        },
        // No Gong answer has named the company's zone and --gong.timezone is
        // unset: requests are dated in UTC-12 (never "in the future" for
        // Gong) and the counters and coaching wait. The first cycle learns
        // it within minutes when Gong names it; an hour is long enough.
        {
          alert: 'GongExporterTimeZoneUnknown',
          expr: 'gong_exporter_time_zone_known == 0',
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: "gong-exporter {{ $labels.instance }} does not know the company's time zone",
            description: "No Gong answer to {{ $labels.instance }} has named the company's time zone and --gong.timezone is unset: windows are dated in UTC-12, and the cumulative counters and coaching do not start. Set --gong.timezone.",
            runbook_url: runbook('gongexportertimezoneunknown'),
          },
        },
        // A live poller beats every 10 s, in a cycle or between cycles; it
        // is restarted within seconds after a panic. A beat 5 minutes old
        // means it is not running (and /-/healthy already fails).
        {
          alert: 'GongExporterPollerStopped',
          expr: 'time() - gong_exporter_poller_heartbeat_timestamp_seconds > %d' % $._config.pollerStoppedSeconds,
          'for': '5m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'gong-exporter {{ $labels.instance }} has stopped polling Gong',
            description: 'The background poller of {{ $labels.instance }} last ran {{ $value | humanizeDuration }} ago: /metrics keeps serving the last data it published, which no longer changes.',
            runbook_url: runbook('gongexporterpollerstopped'),
          },
        },
        // Writes under --storage.path fail (a full or read-only disk): kept
        // days wait in memory and a restart would fetch them again; the
        // counters hold. Each cycle writes again, and cycles may be an hour
        // apart: a second failure within two hours is no passing hiccup.
        // The OAuth refresh token is written once per refresh (a day apart,
        // or more): one failure is enough, since a restart would then hold
        // a token Gong refuses.
        {
          alert: 'GongExporterStorageFailing',
          expr: 'increase(gong_exporter_storage_errors_total{file!="oauth"}[2h]) > 1.5 or increase(gong_exporter_storage_errors_total{file="oauth"}[2h]) > 0',
          'for': '5m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'gong-exporter {{ $labels.instance }} cannot write its {{ $labels.file }} under --storage.path',
            description: 'Writes of {{ $labels.file }} by {{ $labels.instance }} keep failing (a full or read-only disk): {{ if eq $labels.file "oauth" }}the refresh token Gong rotated is in memory only, and after a restart Gong would refuse the used one.{{ else }}kept days stay in memory and a restart would fetch them from Gong again; the cumulative counters do not advance.{{ end }} The log says which file.',
            runbook_url: runbook('gongexporterstoragefailing'),
          },
        },
        // A panic in the poller: it was started again, but a bug hit.
        {
          alert: 'GongExporterPollerRestarted',
          expr: 'increase(gong_exporter_poller_restarts_total[1h]) > 0',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'gong-exporter {{ $labels.instance }} poller stopped unexpectedly and was restarted',
            description: "The background poller of {{ $labels.instance }} stopped {{ $value | printf \"%.0f\" }} times in the last hour (a panic) and was started again; the log line 'stopped unexpectedly' says where.",
            runbook_url: runbook('gongexporterpollerrestarted'),
          },
        },
      ],
    }],
  },
}
