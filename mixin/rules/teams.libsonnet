// Team aggregates for the dashboards and the coaching alerts.
{
  prometheusRules+:: {
    groups+: [{
      name: 'gong-teams',
      rules: [
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
          expr: |||
            quantile without (weeks_ago) (0.5,
                 label_replace(gong:team_coaching_activity:7d offset 1w, "weeks_ago", "1", "", "")
              or label_replace(gong:team_coaching_activity:7d offset 2w, "weeks_ago", "2", "", "")
              or label_replace(gong:team_coaching_activity:7d offset 3w, "weeks_ago", "3", "", "")
            )
          |||,
        },
        {
          record: 'gong:team_coaching_activity:7d:baseline_weeks',
          expr: |||
            count without (weeks_ago) (
                 label_replace(gong:team_coaching_activity:7d offset 1w, "weeks_ago", "1", "", "")
              or label_replace(gong:team_coaching_activity:7d offset 2w, "weeks_ago", "2", "", "")
              or label_replace(gong:team_coaching_activity:7d offset 3w, "weeks_ago", "3", "", "")
            )
          |||,
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
          expr: |||
            quantile without (weeks_ago) (0.5,
                 label_replace(gong:manager_coaching:7d offset 1w, "weeks_ago", "1", "", "")
              or label_replace(gong:manager_coaching:7d offset 2w, "weeks_ago", "2", "", "")
              or label_replace(gong:manager_coaching:7d offset 3w, "weeks_ago", "3", "", "")
            )
          |||,
        },
        {
          record: 'gong:manager_coaching:7d:baseline_weeks',
          expr: |||
            count without (weeks_ago) (
                 label_replace(gong:manager_coaching:7d offset 1w, "weeks_ago", "1", "", "")
              or label_replace(gong:manager_coaching:7d offset 2w, "weeks_ago", "2", "", "")
              or label_replace(gong:manager_coaching:7d offset 3w, "weeks_ago", "3", "", "")
            )
          |||,
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
          expr: |||
            quantile without (weeks_ago) (0.5,
                 label_replace(gong:user_call_activity:7d offset 1w, "weeks_ago", "1", "", "")
              or label_replace(gong:user_call_activity:7d offset 2w, "weeks_ago", "2", "", "")
              or label_replace(gong:user_call_activity:7d offset 3w, "weeks_ago", "3", "", "")
            )
          |||,
        },
        {
          record: 'gong:user_call_activity:7d:baseline_min',
          expr: |||
            min without (weeks_ago) (
                 label_replace(gong:user_call_activity:7d offset 1w, "weeks_ago", "1", "", "")
              or label_replace(gong:user_call_activity:7d offset 2w, "weeks_ago", "2", "", "")
              or label_replace(gong:user_call_activity:7d offset 3w, "weeks_ago", "3", "", "")
            )
          |||,
        },
        {
          record: 'gong:user_call_activity:7d:baseline_weeks',
          expr: |||
            count without (weeks_ago) (
                 label_replace(gong:user_call_activity:7d offset 1w, "weeks_ago", "1", "", "")
              or label_replace(gong:user_call_activity:7d offset 2w, "weeks_ago", "2", "", "")
              or label_replace(gong:user_call_activity:7d offset 3w, "weeks_ago", "3", "", "")
            )
          |||,
        },
      ],
    }],
  },
}
