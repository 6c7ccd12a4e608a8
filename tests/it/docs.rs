//! The user's docs against what they describe: README's alert table is the
//! rules' alerts, docs/flags.md is the command line as clap defines it, and
//! the README stays a guide a newcomer reads from the top. The generated
//! parts sit between markers; `GONG_EXPORTER_BLESS=1 cargo test --test it
//! docs::` writes them.

use clap::CommandFactory as _;
use gong_exporter::cli::Cli;
use serde_yaml_ng::Value;

use crate::common::grafana::repo_path;

/// Replaces what sits between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
/// in `file` with `generated`, when blessing; otherwise fails when it
/// differs.
fn check_generated(file: &str, name: &str, generated: &str) {
    let path = repo_path(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = (format!("<!-- {name}:begin -->\n"), format!("<!-- {name}:end -->"));
    let start = text.find(&begin).unwrap_or_else(|| panic!("{file}: no {begin:?}")) + begin.len();
    let stop = start + text[start..].find(&end).unwrap_or_else(|| panic!("{file}: no {end:?}"));
    if text[start..stop] == *generated {
        return;
    }
    if std::env::var_os("GONG_EXPORTER_BLESS").is_some() {
        std::fs::write(&path, format!("{}{generated}{}", &text[..start], &text[stop..])).unwrap();
        return;
    }
    panic!(
        "{file}'s {name} section is out of date: run GONG_EXPORTER_BLESS=1 cargo test --test it docs:: and commit\nwant:\n{generated}\nhave:\n{}",
        &text[start..stop]
    );
}

fn cell(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

/// One row per alert of `alerts/*.yml`, files in name order, alerts in file
/// order.
fn alert_table() -> String {
    let mut files: Vec<_> = std::fs::read_dir(repo_path("alerts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    let mut table = String::from("| Alert | Severity | For | Summary |\n|---|---|---|---|\n");
    for file in files {
        let rules: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for group in rules["groups"].as_sequence().unwrap() {
            for rule in group["rules"].as_sequence().unwrap() {
                let Some(alert) = rule["alert"].as_str() else { continue };
                let text = |v: &Value| v.as_str().map_or_else(|| "-".to_owned(), cell);
                table.push_str(&format!(
                    "| {alert} | {} | {} | {} |\n",
                    text(&rule["labels"]["severity"]),
                    text(&rule["for"]),
                    text(&rule["annotations"]["summary"]),
                ));
            }
        }
    }
    table
}

/// The flags of `command` as a table: flag, env var, default, help.
fn flag_table(command: &clap::Command) -> String {
    let mut table = String::from("| Flag | Env | Default | Meaning |\n|---|---|---|---|\n");
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        let env = arg.get_env().map(|e| format!("`{}`", e.to_string_lossy())).unwrap_or_default();
        let defaults: Vec<_> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        let default = if defaults.is_empty() || defaults == ["false"] {
            String::new()
        } else {
            format!("`{}`", defaults.join(","))
        };
        let help = arg.get_long_help().or(arg.get_help()).map(|h| cell(&h.to_string())).unwrap_or_default();
        table.push_str(&format!("| `--{long}` | {env} | {default} | {help} |\n"));
    }
    table
}

/// Every flag of the exporter and of each subcommand.
fn flags_reference() -> String {
    let cli = Cli::command();
    let mut text = format!("### gong-exporter\n\n{}", flag_table(&cli));
    for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
        let about = sub.get_about().map(|a| cell(&a.to_string())).unwrap_or_default();
        text.push_str(&format!("\n### gong-exporter {}\n\n{about}\n\n{}", sub.get_name(), flag_table(sub)));
    }
    text
}

#[test]
fn the_readme_alert_table_is_the_rules_alerts() {
    let table = alert_table();
    assert!(table.lines().count() > 10, "alerts found: {table}");
    check_generated("README.md", "alerts", &table);
}

#[test]
fn the_flags_reference_is_the_command_line() {
    let reference = flags_reference();
    for flag in ["--web.listen-address", "--gong.base-url", "--collector.coaching", "--output", "--url"] {
        assert!(reference.contains(&format!("`{flag}`")), "{flag} in {reference}");
    }
    check_generated("docs/flags.md", "flags", &reference);
}

/// Backticked words of a table cell.
fn quoted(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// README's short flag table is written by hand (a few flags, grouped):
/// each flag it names exists, with the env var and the default it shows.
#[test]
fn the_readme_flag_table_names_real_flags_with_their_env_and_default() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let command = Cli::command();
    let arg = |long: &str| {
        command
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .unwrap_or_else(|| panic!("README's flag table names --{long}, which gong-exporter does not have"))
    };
    let start = readme.find("| flag | env | default | what for |").expect("README's flag table");
    let rows: Vec<&str> = readme[start..].lines().skip(2).take_while(|l| l.starts_with('|')).collect();
    assert!(rows.len() >= 10, "{rows:?}");
    let mut checked = 0;
    for row in rows {
        let cells: Vec<&str> = row.trim().trim_matches('|').split('|').map(str::trim).collect();
        let [flags, env, default, what] = cells[..] else { panic!("four cells: {row}") };
        let mut longs = Vec::new();
        for flag in quoted(flags) {
            match flag.strip_prefix("--") {
                // `--[no-]collector.NAME`: the names are listed in the last cell.
                Some("[no-]collector.NAME") => longs.extend(quoted(what).iter().map(|n| format!("collector.{n}"))),
                Some(long) => longs.push(long.to_owned()),
                // `.client-secret`: the group of the flag before it.
                None => {
                    let group = longs.last().and_then(|l: &String| l.rsplit_once('.')).expect("a group").0.to_owned();
                    longs.push(format!("{group}{flag}"));
                }
            }
        }
        let (envs, defaults) = (quoted(env), quoted(default));
        for (i, long) in longs.iter().enumerate() {
            let arg = arg(long);
            // A row that shows no env var is a flag without one.
            assert_eq!(arg.get_env().map(|e| e.to_string_lossy()).as_deref(), envs.get(i).copied(), "--{long}'s env");
            let real: Vec<_> = arg.get_default_values().iter().map(|v| v.to_string_lossy()).collect();
            if !real.is_empty()
                && real != ["false"]
                && let Some(shown) = defaults.get(i.min(defaults.len().saturating_sub(1)))
            {
                assert_eq!(real.join(","), *shown, "--{long}'s default in README");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} flags checked");
}

/// The thresholds an installation sets in the mixin's `_config`, as the
/// runbook states them: the runbook is written by hand, so a changed
/// default fails here until its section says the new number.
#[test]
fn the_runbook_states_the_thresholds_the_mixin_config_sets() {
    let config = std::fs::read_to_string(repo_path("mixin/config.libsonnet")).unwrap();
    let number = |key: &str| -> f64 {
        let line = config.lines().find_map(|l| l.trim().strip_prefix(&format!("{key}: "))).expect(key);
        line.trim_end_matches(',').parse().unwrap_or_else(|_| panic!("{key}: {line}"))
    };
    let share = |ratio: f64| match ratio {
        0.5 => "half".to_owned(),
        0.25 => "a quarter".to_owned(),
        other => format!("{}%", other * 100.0),
    };
    let runbook = std::fs::read_to_string(repo_path("docs/runbook.md")).unwrap();
    let section = |alert: &str| -> &str {
        let start = runbook.find(&format!("## {alert}\n")).unwrap_or_else(|| panic!("runbook: no section {alert}"));
        let rest = &runbook[start + 3..];
        &rest[..rest.find("\n## ").unwrap_or(rest.len())]
    };
    for (alert, said) in [
        ("GongExporterDataStale", format!("over {} hours", number("dataStaleHours"))),
        ("GongExporterDailyBudgetHigh", format!("over {:.0}%", number("dailyBudgetRatio") * 100.0)),
        ("GongExporterCountersBehind", format!("over {} hours", number("countersBehindHours"))),
        ("GongExporterPollerStopped", format!("over {} minutes", number("pollerStoppedSeconds") / 60.0)),
        ("GongCoachingActivityDrop", format!("less than {} its usual", share(number("coachingDropRatio")))),
        ("GongCoachingActivityDrop", format!("at least {} acts a week", number("coachingBaselineMin"))),
        ("GongRepActivityDrop", format!("under {} of that level", share(number("repDropRatio")))),
        ("GongRepActivityDrop", format!("at least {} a week", number("repBaselineMin"))),
    ] {
        let text = section(alert).split_whitespace().collect::<Vec<_>>().join(" ");
        let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains(&said), "runbook's {alert} section should say {said:?}: {text}");
    }
}

/// A newcomer's first screen has the two commands; the rest is a guide,
/// not design notes.
#[test]
fn the_readme_is_a_short_guide_with_the_two_commands_first() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    assert!(readme.lines().count() <= 400, "README is {} lines; design notes go in docs/", readme.lines().count());
    let first_screen: String = readme.lines().take(40).collect::<Vec<_>>().join("\n");
    for command in ["cargo run --release -- --demo", "scripts/test"] {
        assert!(first_screen.contains(command), "{command} in the first 40 lines");
    }
    let headings: Vec<&str> = readme.lines().filter(|l| l.starts_with("## ")).collect();
    let order = [
        "## Quick start",
        "## Install",
        "## Configuration",
        "## Dashboards and alerts",
        "## Backfill",
        "## Troubleshooting",
    ];
    assert_eq!(headings, order, "the guide's sections, in order");
    for link in readme.split("](").skip(1).filter_map(|l| l.split(')').next()) {
        let file = link.split('#').next().unwrap();
        if !file.is_empty() && !file.contains("://") {
            assert!(repo_path(file).exists(), "README links to {file}, which does not exist");
        }
    }
}

/// The series each collector costs per user, as docs/metrics.md's table says
/// and `--no-collector.NAME` saves: the demo company of 1,000 users, once
/// the coaching collector has published, with the default window and with
/// three. The defaults stay within 50 series per user. The simulated days move with the
/// calendar, so a row may drift by 10% before the table must be written
/// again (`GONG_EXPORTER_BLESS=1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_series_per_user_table_is_what_the_demo_serves() {
    use crate::common::{demo_config, start_exporter, wait_for_metrics};
    use gong_exporter::windows::Window;
    const USERS: f64 = 1000.0;
    /// Series per user the defaults may serve: a 1,000-rep company then
    /// takes a third of a default Mimir tenant (150,000 series).
    const DEFAULT_BUDGET: f64 = 50.0;
    // (collector, what it serves, the flag that removes it, which samples)
    type Group = (&'static str, &'static str, &'static str, fn(&str) -> bool);
    let groups: [Group; 6] = [
        ("activity", "`gong_activity_*` per window", "`--no-collector.activity`", |n| {
            n.starts_with("gong_activity_") && !n.ends_with("_cumulative_total")
        }),
        ("interaction", "`gong_interaction_*` per window", "`--no-collector.interaction`", |n| {
            n.starts_with("gong_interaction_")
        }),
        ("scorecards", "`gong_scorecard_*` per window", "`--no-collector.scorecards`", |n| {
            n.starts_with("gong_scorecard_") && !n.ends_with("_cumulative_total")
        }),
        ("counters", "`*_cumulative_total`", "`--no-collector.counters`", |n| n.ends_with("_cumulative_total")),
        ("coaching", "`gong_coaching_*` per window", "`--no-collector.coaching`", |n| n.starts_with("gong_coaching_")),
        ("users", "`gong_user_info`", "(always on)", |n| n == "gong_user_info"),
    ];
    // Series per user of each group: the defaults, then three windows.
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for windows in [None, Some(["1d", "7d", "28d"])] {
        let mut config = demo_config(USERS as u32);
        if let Some(windows) = windows {
            config.poller.windows = windows.iter().map(|w| w.parse::<Window>().unwrap()).collect();
        }
        let exporter = start_exporter(config).await;
        let m = wait_for_metrics(exporter.local_addr(), "coaching series", |m| {
            m.text.lines().any(|l| l.starts_with("gong_coaching_"))
        })
        .await;
        exporter.shutdown().await;
        let names: Vec<&str> = m
            .text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split(['{', ' ']).next().unwrap())
            .collect();
        let mut column: Vec<f64> =
            groups.iter().map(|(_, _, _, of)| names.iter().filter(|n| of(n)).count() as f64 / USERS).collect();
        assert!(column.iter().all(|n| *n > 0.0), "every collector serves series: {column:?}");
        column.push(column.iter().sum());
        columns.push(column);
    }
    let (default, three) = (&columns[0], &columns[1]);
    assert!(
        default[groups.len()] <= DEFAULT_BUDGET,
        "the defaults serve {:.1} series per user, over the budget of {DEFAULT_BUDGET}",
        default[groups.len()]
    );
    let mut table = String::from(
        "| Collector | Serves | Series per user, default (`7d`) | with `--stats.windows=1d,7d,28d` | Off with |\n|---|---|---|---|---|\n",
    );
    for (i, (collector, serves, flag, _)) in groups.iter().enumerate() {
        table.push_str(&format!("| {collector} | {serves} | {:.1} | {:.1} | {flag} |\n", default[i], three[i]));
    }
    let n = groups.len();
    table.push_str(&format!("| all | | **{:.1}** | **{:.1}** | |\n", default[n], three[n]));

    let path = repo_path("docs/metrics.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- series:begin -->\n", "<!-- series:end -->");
    let start = text.find(begin).expect("docs/metrics.md: no series table markers") + begin.len();
    let stop = start + text[start..].find(end).unwrap();
    let committed: Vec<f64> = text[start..stop]
        .lines()
        .skip(2)
        .flat_map(|l| [3, 4].map(|cell| l.split('|').nth(cell)))
        .filter_map(|c| c?.trim().trim_matches('*').parse().ok())
        .collect();
    let measured: Vec<f64> = default.iter().zip(three).flat_map(|(d, t)| [*d, *t]).collect();
    let close = committed.len() == measured.len()
        && committed.iter().zip(&measured).all(|(c, m)| (c - m).abs() <= 0.1 * m.max(1.0));
    if std::env::var_os("GONG_EXPORTER_BLESS").is_some() {
        std::fs::write(&path, format!("{}{table}{}", &text[..start], &text[stop..])).unwrap();
    } else {
        assert!(
            close,
            "docs/metrics.md's series table is out of date: run GONG_EXPORTER_BLESS=1 cargo test --test it docs::\n{table}"
        );
    }
}
