// Coaching and activity alerts, on the recording rules of
// rules/teams.libsonnet.
{
  local runbook(anchor) = $._config.runbookURLBase + '#' + anchor,

  prometheusAlerts+:: {
    groups+: [{
      name: 'gong-coaching',
      rules: [
        // Under half the usual level, against a usual level of at least 10
        // coaching acts a week (the baseline exists only with all three
        // weeks present), for teams of two or more, never raised on a (UTC)
        // weekend. The 7-day window already contains the quiet weekend, and
        // a one- or two-day holiday removes at most 40% of a week, so
        // neither fires it. The signal is Gong's coaching data where the
        // coaching collector has three weeks of it, else the activity stats
        // (gong:team_coaching:7d in alerts/gong-recording.yml).
        {
          alert: 'GongCoachingActivityDrop',
          expr: |||
            (
              gong:team_coaching:7d < %(coachingDropRatio)g * gong:team_coaching:7d:baseline
            )
            and on (job, instance, manager_id) gong:team_coaching:7d:baseline >= %(coachingBaselineMin)g
            and on (job, instance, manager_id) gong:team_members:count >= 2
            unless on () (day_of_week() == 0 or day_of_week() == 6)
          ||| % $._config,
          'for': '6h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: "Coaching activity of {{ with printf `gong_user_info{user_id=\"%s\"}` $labels.manager_id | query }}{{ . | first | label \"user_name\" }}{{ else }}manager {{ $labels.manager_id }}{{ end }}'s team dropped by more than half",
            description: "The team of manager {{ $labels.manager_id }} logged {{ $value | printf \"%.0f\" }} coaching acts ({{ if eq $labels.signal \"coaching_endpoint\" }}calls of direct reports the manager listened to, attended, commented on, gave feedback on or scored, from Gong's coaching data{{ else }}feedback given, others' calls listened to, scorecards filled, comments{{ end }}) in the last 7 days, against a usual {{ with printf `gong:team_coaching:7d:baseline{manager_id=\"%s\"}` $labels.manager_id | query }}{{ . | first | value | printf \"%.0f\" }}{{ end }} (median of the same 7 days 1, 2 and 3 weeks earlier).",
            runbook_url: runbook('gongcoachingactivitydrop'),
          },
        },
        // A rep whose calls were steady (each of the last three weeks at
        // least half the median, median at least 5) is under a quarter of it.
        {
          alert: 'GongRepActivityDrop',
          expr: |||
            (
              gong:user_call_activity:7d < %(repDropRatio)g * gong:user_call_activity:7d:baseline
            )
            and on (job, instance, user_id) gong:user_call_activity:7d:baseline >= %(repBaselineMin)g
            and on (job, instance, user_id) gong:user_call_activity:7d:baseline_weeks == 3
            and on (job, instance, user_id) gong:user_call_activity:7d:baseline_min >= 0.5 * gong:user_call_activity:7d:baseline
            and on (job, instance, user_id) gong_user_info{active="true"}
            unless on () (day_of_week() == 0 or day_of_week() == 6)
          ||| % $._config,
          'for': '12h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: '{{ with printf `gong_user_info{user_id="%s"}` $labels.user_id | query }}{{ . | first | label "user_name" }}{{ else }}User {{ $labels.user_id }}{{ end }} has gone quiet on calls',
            description: 'User {{ $labels.user_id }} hosted or attended {{ $value | printf "%.0f" }} calls in the last 7 days, against a steady {{ with printf `gong:user_call_activity:7d:baseline{user_id="%s"}` $labels.user_id | query }}{{ . | first | value | printf "%.0f" }}{{ end }} a week over the three weeks before.',
            runbook_url: runbook('gongrepactivitydrop'),
          },
        },
      ],
    }],
  },
}
