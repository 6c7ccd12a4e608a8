// Team aggregates for the dashboards and the coaching alerts, in groups
// ordered so that each rule reads only rules of earlier groups: backfill
// (scripts/backfill) records history group by group, each group seeing the
// ones before it, and tests/it/mixin.rs checks the order.
{
  // `aggregation` over the same series 1, 2 and 3 weeks ago, each week a
  // `weeks_ago` label. last_over_time: backfilled rule history is one sample
  // every _config.historySampleInterval, which a plain offset would miss.
  local pastWeeks(aggregation, series) =
    aggregation + '\n'
    + std.join('\n', [
      '  %s label_replace(last_over_time(%s[%s] offset %dw), "weeks_ago", "%d", "", "")'
      % [if weeks == 1 then '  ' else 'or', series, $._config.historySampleInterval, weeks, weeks]
      for weeks in [1, 2, 3]
    ])
    + '\n)\n',

  local groups = [
    { name: 'gong-people', records: ['gong:manager_info', 'gong:user_coaching_activity:7d', 'gong:manager_coaching:7d', 'gong:user_call_activity:7d'] },
    { name: 'gong-people-joined', records: ['gong:user_info:with_manager', 'gong:manager_coaching:7d:baseline', 'gong:manager_coaching:7d:baseline_weeks', 'gong:user_call_activity:7d:baseline', 'gong:user_call_activity:7d:baseline_min', 'gong:user_call_activity:7d:baseline_weeks'] },
    { name: 'gong-teams', records: ['gong:team_activity:sum', 'gong:team_members:count'] },
    { name: 'gong-team-coaching-activity', records: ['gong:team_coaching_activity:7d'] },
    { name: 'gong-team-coaching-activity-baseline', records: ['gong:team_coaching_activity:7d:baseline', 'gong:team_coaching_activity:7d:baseline_weeks'] },
    { name: 'gong-team-coaching', records: ['gong:team_coaching:7d', 'gong:team_coaching:7d:baseline'] },
  ],

  local rules = [
    // Every user as a potential manager: manager_id and manager_name, for
    // looking up a manager's name.
    {
      record: 'gong:manager_info',
      expr: |||
        max by (job, instance, manager_id, manager_name) (
          label_replace(
            label_replace(gong_user_info, "manager_id", "$1", "user_id", "(.+)"),
            "manager_name", "$1", "user_name", "(.*)"
          )
        )
      |||,
    },
    // gong_user_info plus the name of the user's manager; users at the top
    // of the org (no manager) get manager_name "(none)".
    {
      record: 'gong:user_info:with_manager',
      expr: |||
        (gong_user_info * on (job, instance, manager_id) group_left (manager_name) gong:manager_info)
        or
        label_replace(gong_user_info{manager_id=""}, "manager_name", "(none)", "", "")
      |||,
    },
    // Every aggregate-activity gauge summed over each manager's direct
    // reports, per window; `field` is the metric name without gong_activity_.
    {
      record: 'gong:team_activity:sum',
      expr: |||
        sum by (job, instance, manager_id, manager_name, window, field) (
          label_replace({__name__=~"gong_activity_.+", window!=""}, "field", "$1", "__name__", "gong_activity_(.+)")
            * on (job, instance, user_id) group_left (manager_id, manager_name)
          gong:user_info:with_manager
        )
      |||,
    },
    // Active direct reports per manager.
    {
      record: 'gong:team_members:count',
      expr: 'count by (job, instance, manager_id, manager_name) (gong:user_info:with_manager{active="true"})',
    },
    // Coaching acts per user over the last 7 days: feedback given, others'
    // calls listened to, scorecards filled, calls commented on.
    {
      record: 'gong:user_coaching_activity:7d',
      expr: |||
        sum by (job, instance, user_id) (
          {__name__=~"gong_activity_(calls_gave_feedback|others_calls_listened_to|calls_scorecards_filled|calls_comments_given)", window="7d"}
        )
      |||,
    },
    // A manager's team coaching activity: the manager's own plus that of
    // their direct reports (peer coaching counts).
    // A union, not a sum of two sides, so that a team whose reports have
    // no series yet still counts its manager.
    {
      record: 'gong:team_coaching_activity:7d',
      expr: |||
        sum by (job, instance, manager_id) (
            (gong:user_coaching_activity:7d * on (job, instance, user_id) group_left (manager_id) gong_user_info{manager_id!=""})
          or
            (
              label_replace(gong:user_coaching_activity:7d, "manager_id", "$1", "user_id", "(.+)")
              and on (job, instance, manager_id) gong:team_members:count
            )
        )
      |||,
    },
    // Usual level: the median of the same 7-day value 1, 2 and 3 weeks ago,
    // and how many of those weeks exist (new teams have fewer).
    {
      record: 'gong:team_coaching_activity:7d:baseline',
      expr: pastWeeks('quantile without (weeks_ago) (0.5,', 'gong:team_coaching_activity:7d'),
    },
    {
      record: 'gong:team_coaching_activity:7d:baseline_weeks',
      expr: pastWeeks('count without (weeks_ago) (', 'gong:team_coaching_activity:7d'),
    },
    // Gong's coaching endpoint, where the coaching collector runs: what a
    // manager did on direct reports' calls (listened, attended, commented,
    // gave feedback, scored) over 7 days, and its usual level.
    {
      record: 'gong:manager_coaching:7d',
      expr: 'sum by (job, instance, manager_id) ({__name__=~"gong_coaching_.+", window="7d"})',
    },
    {
      record: 'gong:manager_coaching:7d:baseline',
      expr: pastWeeks('quantile without (weeks_ago) (0.5,', 'gong:manager_coaching:7d'),
    },
    {
      record: 'gong:manager_coaching:7d:baseline_weeks',
      expr: pastWeeks('count without (weeks_ago) (', 'gong:manager_coaching:7d'),
    },
    // What the coaching alert compares, per manager (label `signal`): the
    // coaching endpoint once it has three weeks of history, else the
    // activity stats. A value and its baseline always come from the same
    // signal, so the switch between them never looks like a drop.
    {
      record: 'gong:team_coaching:7d',
      expr: |||
        (
          label_replace(gong:manager_coaching:7d, "signal", "coaching_endpoint", "", "")
          and on (job, instance, manager_id) (gong:manager_coaching:7d:baseline_weeks == 3)
        )
        or on (job, instance, manager_id)
        label_replace(gong:team_coaching_activity:7d, "signal", "activity", "", "")
      |||,
    },
    {
      record: 'gong:team_coaching:7d:baseline',
      expr: |||
        (
          label_replace(gong:manager_coaching:7d:baseline, "signal", "coaching_endpoint", "", "")
          and on (job, instance, manager_id) (gong:manager_coaching:7d:baseline_weeks == 3)
        )
        or on (job, instance, manager_id)
        (
          label_replace(gong:team_coaching_activity:7d:baseline, "signal", "activity", "", "")
          and on (job, instance, manager_id) (gong:team_coaching_activity:7d:baseline_weeks == 3)
        )
      |||,
    },
    // Calls a user hosted or attended over the last 7 days, and the same
    // 1, 2 and 3 weeks ago: median, lowest, and weeks present.
    {
      record: 'gong:user_call_activity:7d',
      expr: 'sum by (job, instance, user_id) ({__name__=~"gong_activity_(calls_as_host|calls_attended)", window="7d"})',
    },
    {
      record: 'gong:user_call_activity:7d:baseline',
      expr: pastWeeks('quantile without (weeks_ago) (0.5,', 'gong:user_call_activity:7d'),
    },
    {
      record: 'gong:user_call_activity:7d:baseline_min',
      expr: pastWeeks('min without (weeks_ago) (', 'gong:user_call_activity:7d'),
    },
    {
      record: 'gong:user_call_activity:7d:baseline_weeks',
      expr: pastWeeks('count without (weeks_ago) (', 'gong:user_call_activity:7d'),
    },
  ],

  assert std.sort([r.record for r in rules]) == std.sort(std.flattenArrays([g.records for g in groups]))
         : 'every recording rule in exactly one group',

  prometheusRules+:: {
    groups+: [
      { name: g.name, rules: [r for r in rules if std.member(g.records, r.record)] }
      for g in groups
    ],
  },
}
