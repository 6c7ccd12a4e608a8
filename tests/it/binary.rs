//! The real `gong-exporter` binary: demo mode, flag errors, credentials and
//! secrets, signals.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_gong-exporter");

/// A running binary whose stderr is collected line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
        for var in ["GONG_ACCESS_KEY", "GONG_ACCESS_KEY_SECRET", "GONG_BEARER_TOKEN", "GONG_TIMEZONE", "GONG_BASE_URL"]
        {
            command.env_remove(var);
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, seen: Vec::new() }
    }

    /// Waits for a log line containing `needle`.
    fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!("no log line with {needle:?}; saw:\n{}", self.seen.join("\n"));
    }

    fn listening_addr(&mut self) -> SocketAddr {
        let line = self.wait_for_line("gong-exporter listening");
        // logfmt: `addr=127.0.0.1:N`; JSON: `"addr":"[::1]:N"`.
        let (_, after) = line
            .split_once("addr=")
            .or_else(|| line.split_once("\"addr\":\""))
            .unwrap_or_else(|| panic!("no address in {line}"));
        let addr: String = after.chars().take_while(|c| !c.is_whitespace() && *c != '"').collect();
        addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"))
    }

    fn all_output(&mut self) -> String {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    /// Sends SIGTERM and returns the exit status and how long exiting took.
    fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(started.elapsed() < Duration::from_secs(10), "did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_to_exit(args: &[&str]) -> (i32, String) {
    run_to_exit_with(args, &[])
}

/// [`run_to_exit`] with `env` set.
fn run_to_exit_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(BIN)
        .args(args)
        .env_remove("GONG_ACCESS_KEY")
        .env_remove("GONG_ACCESS_KEY_SECRET")
        .env_remove("GONG_BEARER_TOKEN")
        .env_remove("WEB_LISTEN_ADDRESS")
        .env_remove("WEB_CONFIG_FILE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8(output.stderr).unwrap())
}

#[test]
fn bad_flags_exit_2_with_one_line_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--demo", "--stats.windows", "1d,12h"], "--stats.windows"),
        (&["--demo", "--gong.timezone", "Mars/Olympus"], "--gong.timezone"),
        (&["--demo", "--poll.interval", "0s"], "--poll.interval"),
        (&["--demo", "--gong.base-url", "api.gong.io"], "--gong.base-url"),
        // A pasted `.../v2` would send every request to /v2/v2/...
        (
            &["--demo", "--gong.base-url", "https://api.gong.io/v2"],
            "pass the API root alone, e.g. 'https://api.gong.io'",
        ),
        (&["--demo", "--no-such-flag"], "--no-such-flag"),
        // A tracing filter would read it as a target and log nothing.
        (&["--demo", "--log.level", "foo"], "--log.level"),
        (&[], "GONG_ACCESS_KEY"),
        (&["--gong.access-key", "k"], "GONG_ACCESS_KEY_SECRET"),
        (&["--demo", "--web.config.file", "/nonexistent/web.yml"], "--web.config.file /nonexistent/web.yml"),
        (&["--demo", "--counters.start-date", "2024-01-01"], "--storage.path"),
        (&["--demo", "--counters.start-date", "01/02/2024"], "--counters.start-date"),
        (&["--demo", "--collector.coaching=maybe"], "--collector.coaching"),
        (
            &["backfill", "--from", "2024-02-01", "--to", "2024-01-01", "--output", "x.om", "--gong.bearer-token", "t"],
            "--from 2024-02-01 must be before --to 2024-01-01",
        ),
        (&["backfill", "--from", "2024-01-01", "--to", "2999-01-01", "--output", "x.om"], "--to"),
        (&["backfill", "--from", "2024-01-01", "--to", "2024-01-31", "--output", "x.om"], "GONG_ACCESS_KEY"),
        // clap's own detail lines, folded into the one line.
        (&["--demo", "--poll.schedule", "hourly"], "[possible values: settling, fixed]"),
        (&["backfill", "--from", "2024-01-01"], "were not provided: --to <DATE>; --output <FILE>"),
        (&["--demo", "--poll.schedul", "fixed"], "a similar argument exists: '--poll.schedule'"),
        (&["--demo", "--gong.max-response-size", "64 furlongs"], "--gong.max-response-size"),
        (&["--demo", "--gong.max-response-size", "0"], "must be larger than zero"),
        (&["--demo", "--web.max-connections", "0"], "--web.max-connections"),
        (&["--demo", "--web.idle-timeout", "0s"], "--web.idle-timeout"),
        // Read with the other flags, before anything starts.
        (&["simulate", "--faults", "/nonexistent/faults.json"], "cannot read --faults '/nonexistent/faults.json'"),
    ];
    for (args, named) in cases {
        exits_2_with_one_line_naming(args, named);
    }
}

/// Running with `args` exits 2 with one error line that contains `named`.
fn exits_2_with_one_line_naming(args: &[&str], named: &str) {
    let (code, stderr) = run_to_exit(args);
    assert_eq!(code, 2, "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: one line, got {stderr:?}");
    let error = fatal_error(stderr.trim_end()).unwrap_or_else(|| panic!("{args:?}: not an error line: {stderr}"));
    assert!(error.contains(named), "{args:?}: {stderr}");
}

/// The error a fatal line reports: a plain `error: ` line where the flags
/// did not parse, otherwise a logfmt log line at ERROR with the error in
/// `err` (the default --log.format).
fn fatal_error(line: &str) -> Option<String> {
    if let Some(plain) = line.strip_prefix("error: ") {
        return Some(plain.to_owned());
    }
    if !line.contains(" level=ERROR ") {
        return None;
    }
    let quoted = &line[line.find(" err=\"")? + 6..];
    let end = quoted.find("\" exit_code=")?;
    Some(quoted[..end].replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// With `--log.format json`, an error found once the flags parsed is a
/// JSON log line: level, message, the error and the exit code. Where the
/// flags did not parse, the format is not known: a plain line.
#[test]
fn fatal_errors_are_log_lines_in_the_chosen_format() {
    let (code, stderr) = run_to_exit(&["--demo", "--log.format", "json", "--web.config.file", "/nonexistent/web.yml"]);
    assert_eq!(code, 2, "{stderr}");
    let line: serde_json::Value = serde_json::from_str(stderr.trim_end()).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(line["level"], "ERROR", "{line}");
    assert_eq!(line["msg"], "invalid configuration", "{line}");
    assert!(line["err"].as_str().unwrap().contains("--web.config.file /nonexistent/web.yml"), "{line}");
    assert_eq!(line["exit_code"], 2, "{line}");
    let (code, stderr) = run_to_exit(&["--demo", "--log.format", "json", "--no-such-flag"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains("--no-such-flag"), "{stderr}");
}

#[test]
fn a_faults_file_that_is_not_fault_rules_fails_at_start_as_a_bad_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faults.json");
    std::fs::write(&path, b"[{\"fault\": \"meteor\"}]").unwrap();
    let path = path.to_str().unwrap();
    exits_2_with_one_line_naming(&["simulate", "--faults", path], &format!("--faults '{path}'"));
}

#[test]
fn an_unusable_storage_path_fails_at_start_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the state directory should be.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let (code, stderr) = run_to_exit(&["--demo", "--storage.path", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--storage.path") && stderr.contains("writable"), "{stderr}");
}

#[test]
fn bad_web_config_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(&path, "tls_server_config:\n  cert_file: c.pem\n  key_flie: k.pem\n").unwrap();
    exits_2_with_one_line_naming(&["--demo", "--web.config.file", path.to_str().unwrap()], "key_flie");
}

#[test]
fn help_and_version_exit_0() {
    let output = Command::new(BIN).arg("--version").output().unwrap();
    assert!(output.status.success());
    let version = String::from_utf8(output.stdout).unwrap();
    assert!(version.starts_with(&format!("gong-exporter {} (revision ", env!("CARGO_PKG_VERSION"))), "{version}");
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in
        ["--gong.base-url", "--stats.windows", "--poll.interval", "--web.listen-address", "[env: GONG_TIMEZONE="]
    {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_serves_full_metrics_and_stops_on_sigterm() {
    let mut exporter =
        Running::start(&["--demo", "--web.listen-address", "127.0.0.1:0", "--gong.rate-limit", "50"], &[]);
    let addr = exporter.listening_addr();
    let started = Instant::now();
    wait_ready(addr).await;
    let ready_after = started.elapsed();
    let m = scrape(addr).await;
    // The settling schedule builds activity windows from day-by-day.
    for endpoint in ["activity_day_by_day", "interaction", "scorecards", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
    }
    assert_eq!(m.matching("gong_user_info", &[]).len(), 40);
    // One window by default.
    assert!(m.matching("gong_activity_calls_as_host", &[("window", "7d")]).len() > 30);
    assert!(m.matching("gong_activity_calls_as_host", &[]).iter().all(|s| s.labels["window"] == "7d"));
    assert!(!m.matching("gong_scorecard_reviews", &[("window", "7d")]).is_empty());
    assert!(!m.matching("gong_interaction_talk_ratio", &[("window", "7d")]).is_empty());
    assert_eq!(m.matching("gong_exporter_build_info", &[]).len(), 1);
    assert!(ready_after < Duration::from_secs(10), "ready after {ready_after:?}");
    exporter.wait_for_line("company time zone learned from Gong");
    // Simulated data says so: in the log, on the landing page, in a metric.
    assert!(exporter.all_output().contains("demo mode: every number this exporter serves is simulated"));
    assert_eq!(m.value("gong_exporter_demo", &[]), 1.0);
    let (_, landing) = http_get(addr, "/").await;
    assert!(landing.contains("Demo mode: every number here comes from the built-in Gong simulator"), "{landing}");
    // Every row true in the default schedule: the aggregate was asked for
    // the zone (not "never"), day-by-day's records are the users it listed.
    let row = |endpoint: &str| {
        let start = format!("<tr><td>{endpoint}</td>");
        landing
            .lines()
            .find(|l| l.starts_with(&start))
            .unwrap_or_else(|| panic!("no {endpoint} row: {landing}"))
            .to_owned()
    };
    let aggregate = row("activity_aggregate");
    assert!(
        aggregate.contains("learns the company&#39;s zone") || aggregate.contains("learns the company's zone"),
        "{aggregate}"
    );
    assert!(aggregate.contains("class=\"ok\"") && !aggregate.contains("never"), "the zone probe asked it: {aggregate}");
    let day_by_day = row("activity_day_by_day");
    let records: usize =
        day_by_day.split("<td class=\"n\">").nth(1).and_then(|r| r.split('<').next()).unwrap().parse().unwrap();
    assert!(records > 30, "{day_by_day}");
    assert!(landing.contains(" PST</time>") || landing.contains(" PDT</time>"), "company times (US/Pacific)");
    // The first cycle's row in the plan names the once-a-day endpoints its
    // request count includes (coaching runs after the first publish).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, landing) = http_get(addr, "/").await;
        let ran = landing.lines().find(|l| l.contains("<td>ran</td>")).unwrap_or_default().to_owned();
        if ran.contains("scorecard questions, workspaces, managers' coaching") {
            break;
        }
        assert!(Instant::now() < deadline, "the ran row names what it asked: {ran}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (status, took) = exporter.terminate();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_logged_with_what_to_check_and_never_leak_at_trace_level() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let secret = "s3cr3t-value-that-must-not-leak";
    let url = sim.base_url();
    let mut exporter = Running::start(
        &[
            "--web.listen-address",
            "127.0.0.1:0",
            "--gong.base-url",
            &url,
            "--log.level",
            "trace",
            "--log.format",
            "json",
        ],
        &[("GONG_ACCESS_KEY", "demo"), ("GONG_ACCESS_KEY_SECRET", secret)],
    );
    let addr = exporter.listening_addr();
    wait_ready(addr).await;
    let line = exporter.wait_for_line("(401)");
    assert!(line.contains("GONG_ACCESS_KEY / GONG_ACCESS_KEY_SECRET"), "{line}");
    assert!(serde_json::from_str::<serde_json::Value>(&line).is_ok(), "--log.format json: {line}");
    let m = scrape(addr).await;
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "users")]), 0.0);
    assert_eq!(http_get(addr, "/-/healthy").await.0, 200);
    let (_, landing) = http_get(addr, "/").await;
    let output = exporter.all_output();
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("demo:{secret}"));
    for leak in [secret, basic.as_str()] {
        assert!(!output.contains(leak), "secret in logs");
        assert!(!m.text.contains(leak), "secret in metrics");
        assert!(!landing.contains(leak), "secret on the landing page");
    }
    assert!(output.contains("\"level\":\"TRACE\"") || output.contains("\"level\":\"DEBUG\""), "trace logging was on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_cycle_exits_within_five_seconds() {
    use gong_exporter::simulator::faults::{Fault, FaultRule};
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    // Every request hangs for a minute: the cycle is stuck mid-flight.
    sim.simulator.add_fault(FaultRule::always(None, Fault::Delay { millis: 60_000 }));
    let url = sim.base_url();
    let mut exporter = Running::start(
        &["--web.listen-address", "127.0.0.1:0", "--gong.base-url", &url, "--gong.timeout", "60s"],
        &[("GONG_ACCESS_KEY", "demo"), ("GONG_ACCESS_KEY_SECRET", "demo")],
    );
    let addr = exporter.listening_addr();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.simulator.pending() == 0 {
        assert!(Instant::now() < deadline, "no request reached the simulator");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(http_get(addr, "/-/ready").await.0, 503, "still in the first cycle");
    let (status, took) = exporter.terminate();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_subcommand_writes_the_file_and_reports_progress() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    // A record without its ID is left out of the history, and said so.
    use gong_exporter::simulator::faults::{Fault, FaultRule};
    sim.simulator.add_fault(FaultRule::nth(Some("/v2/stats/activity/day-by-day"), 1, Fault::NullIds { records: 1 }));
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("history.om");
    let (from, to) = (cal.days_ago(40).to_string(), cal.today.to_string());
    let base_url = sim.base_url();
    let args = [
        "backfill",
        "--gong.base-url",
        &base_url,
        "--gong.rate-limit",
        "1000",
        "--from",
        &from,
        "--to",
        &to,
        // One day per window: no lead days before --from (a 28d window
        // would fetch 27 more, a third chunk).
        "--stats.windows",
        "1d",
        "--output",
        output.to_str().unwrap(),
    ];
    let out = tokio::task::spawn_blocking({
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        move || {
            Command::new(BIN)
                .args(&args)
                .env("GONG_ACCESS_KEY", "demo")
                .env("GONG_ACCESS_KEY_SECRET", "demo")
                .env_remove("GONG_TIMEZONE")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // 40 days: two chunks of up to 31 days, one progress line each.
    assert!(
        stderr.contains("backfill: plan") && stderr.contains("days=40") && stderr.contains("zone=Asia/Tokyo"),
        "{stderr}"
    );
    assert!(stderr.contains("chunk=1 chunks=2") && stderr.contains("chunk=2 chunks=2"), "{stderr}");
    assert!(stderr.contains("an ID null or empty") && stderr.contains("missing_id=1"), "{stderr}");
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(text.ends_with("# EOF\n") && text.contains("gong_activity_calls_as_host_cumulative_total{"));
    assert!(!dir.path().join("history.om.parts").exists(), "scratch files removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_subcommand_exits_0_for_a_healthy_exporter_and_1_otherwise() {
    let mut exporter = Running::start(&["--demo", "--web.listen-address", "127.0.0.1:0"], &[]);
    let addr = exporter.listening_addr();
    let healthy = format!("http://{addr}/-/healthy");
    let check = |url: String| {
        tokio::task::spawn_blocking(move || run_to_exit(&["healthcheck", "--url", &url, "--timeout", "2s"]))
    };
    let (code, stderr) = check(healthy).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = check(format!("http://{addr}/no-such-page")).await.unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    let (status, _) = exporter.terminate();
    assert!(status.success());
    let (code, stderr) = check(format!("http://{addr}/-/healthy")).await.unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains("did not answer"), "{stderr}");
}

/// A container's health check runs with the exporter's environment and no
/// flags: moved to another port, or serving TLS, it must stay healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_without_url_follows_the_listen_address_and_tls_of_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["gong-exporter.monitoring.svc".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.self_signed(&key).unwrap().pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n").unwrap();
    let web = web.to_str().unwrap();
    let mut exporter = Running::start(&["--demo"], &[("WEB_LISTEN_ADDRESS", "127.0.0.1:0"), ("WEB_CONFIG_FILE", web)]);
    let addr = exporter.listening_addr().to_string();
    let check = |env: Vec<(&'static str, String)>| {
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            run_to_exit_with(&["healthcheck", "--timeout", "5s"], &env)
        })
    };
    let both = vec![("WEB_LISTEN_ADDRESS", addr.clone()), ("WEB_CONFIG_FILE", web.to_owned())];
    let (code, stderr) = check(both).await.unwrap();
    assert_eq!(code, 0, "TLS on the exporter's port: {stderr}");
    let (code, stderr) = check(vec![("WEB_LISTEN_ADDRESS", addr.clone())]).await.unwrap();
    assert_eq!(code, 1, "plain HTTP to a TLS port is not healthy");
    assert!(stderr.contains(&format!("http://{addr}/-/healthy")), "names what it asked: {stderr}");
    let (code, stderr) = check(vec![]).await.unwrap();
    assert_eq!(code, 1, "nothing on the default port");
    assert!(stderr.contains("http://localhost:9863/-/healthy"), "{stderr}");
    // The same as flags.
    let flags = ["healthcheck", "--timeout", "5s", "--web.listen-address", &addr, "--web.config.file", web];
    let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    let (code, stderr) = tokio::task::spawn_blocking(move || {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        run_to_exit(&flags)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "TLS on the exporter's port, named by flags: {stderr}");
    let (status, _) = exporter.terminate();
    assert!(status.success());
    // A web config that requires client certificates: the check has none,
    // and says so instead of a handshake error.
    let mtls = dir.path().join("mtls.yml");
    std::fs::write(
        &mtls,
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_ca_file: cert.pem\n  client_auth_type: RequireAndVerifyClientCert\n",
    )
    .unwrap();
    let (code, stderr) = check(vec![("WEB_CONFIG_FILE", mtls.to_str().unwrap().to_owned())]).await.unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("requires client certificates") && stderr.contains("TCP check"), "{stderr}");
}

/// `:PORT` is every interface, IPv6 and IPv4, as Go exporters' `:PORT`;
/// `[::1]:PORT` serves IPv6 loopback alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_addresses_serve_ipv6_and_ipv4() {
    let mut exporter =
        Running::start(&["--demo", "--web.listen-address", ":0", "--web.listen-address", "[::1]:0"], &[]);
    let any = exporter.listening_addr();
    let loopback6 = exporter.listening_addr();
    assert_eq!(any.ip(), std::net::Ipv6Addr::UNSPECIFIED, "{any}");
    assert_eq!(loopback6.ip(), std::net::Ipv6Addr::LOCALHOST, "{loopback6}");
    let port = any.port();
    for addr in
        [SocketAddr::from(([127, 0, 0, 1], port)), SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)), loopback6]
    {
        let (status, body) = http_get(addr, "/-/healthy").await;
        assert_eq!(status, 200, "{addr}: {body}");
    }
    let v4 = SocketAddr::from(([127, 0, 0, 1], loopback6.port()));
    assert!(std::net::TcpStream::connect_timeout(&v4, Duration::from_secs(2)).is_err(), "[::1] is IPv6 only");
    let (status, _) = exporter.terminate();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_web_config_and_never_kills_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "# no TLS, no auth yet\n").unwrap();
    for web_config in [None, Some(web.to_str().unwrap())] {
        let mut args = vec!["--demo", "--web.listen-address", "127.0.0.1:0"];
        args.extend(web_config.iter().flat_map(|path| ["--web.config.file", *path]));
        let mut exporter = Running::start(&args, &[]);
        let addr = exporter.listening_addr();
        wait_ready(addr).await;
        let hup = Command::new("kill").args(["-HUP", &exporter.child.id().to_string()]).status().unwrap();
        assert!(hup.success());
        match web_config {
            None => {
                exporter.wait_for_line("SIGHUP: no --web.config.file to reload");
            }
            Some(_) => {
                exporter.wait_for_line("SIGHUP: reloading the web config");
                exporter.wait_for_line("web config reloaded");
                // A change the file watch cannot see (the old modification
                // time put back) is applied by the SIGHUP alone.
                let modified = std::fs::metadata(&web).unwrap().modified().unwrap();
                let hash = bcrypt::hash("pw", 4).unwrap();
                std::fs::write(&web, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
                std::fs::File::options().write(true).open(&web).unwrap().set_modified(modified).unwrap();
                let hup = Command::new("kill").args(["-HUP", &exporter.child.id().to_string()]).status().unwrap();
                assert!(hup.success());
                let deadline = Instant::now() + Duration::from_secs(3);
                while http_get(addr, "/metrics").await.0 != 401 {
                    assert!(Instant::now() < deadline, "SIGHUP did not apply the new users");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        assert!(exporter.child.try_wait().unwrap().is_none(), "{web_config:?}: SIGHUP killed the exporter");
        assert_eq!(http_get(addr, "/-/healthy").await.0, 200);
        let (status, _) = exporter.terminate();
        assert!(status.success());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_level_shows_this_exporters_events_not_its_libraries() {
    fn names(dir: &std::path::Path, out: &mut std::collections::BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                names(&path, out);
            } else {
                out.insert(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut ours = std::collections::BTreeSet::new();
    names(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut ours);
    let mut exporter = Running::start(&["--demo", "--web.listen-address", "127.0.0.1:0", "--log.level", "debug"], &[]);
    let addr = exporter.listening_addr();
    wait_ready(addr).await;
    let _ = scrape(addr).await;
    let output = exporter.all_output();
    let debug: Vec<&str> = output.lines().filter(|l| l.contains("level=DEBUG")).collect();
    assert!(debug.iter().any(|l| l.contains("Gong answered")), "the exporter's own debug events show:\n{output}");
    for line in &debug {
        let source = line.split("source=").nth(1).and_then(|s| s.split([':', ' ']).next()).unwrap_or("");
        assert!(ours.contains(source), "a library's debug event at --log.level debug: {line}");
    }
    let (status, _) = exporter.terminate();
    assert!(status.success());
}

/// A bcrypt check of a costly hash, whose client left, does not hold up
/// SIGTERM: checks run on threads nothing waits for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_does_not_wait_for_a_costly_bcrypt_check() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    // Cost 14, the highest accepted: a second or more of hashing per
    // check. No password matches it; a wrong one is checked in full all
    // the same.
    let hash = "$2b$14$7EqJtq98hPqEX7fNZaFWoO5c2hYS1DSEgZ9fnfY8WT8nvd7MHKgBa";
    std::fs::write(&web, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    let mut exporter = Running::start(
        &["--demo", "--web.listen-address", "127.0.0.1:0", "--web.config.file", web.to_str().unwrap()],
        &[],
    );
    let addr = exporter.listening_addr();
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let gave_up = client.get(format!("http://{addr}/metrics")).basic_auth("alice", Some("wrong")).send().await;
    assert!(gave_up.is_err(), "the check outlasts the client's 300 ms");
    let (status, took) = exporter.terminate();
    assert!(status.success());
    assert!(took < Duration::from_secs(3), "SIGTERM took {took:?}");
}

/// Warnings found while loading the web config at start are logged: logging
/// starts before the file is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_from_loading_the_web_config_at_start_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
    )
    .unwrap();
    let mut exporter = Running::start(
        &["--demo", "--web.listen-address", "127.0.0.1:0", "--web.config.file", web.to_str().unwrap()],
        &[],
    );
    let warning = exporter.wait_for_line("cipher_suites");
    assert!(warning.contains("level=WARN") && warning.contains("ignored"), "{warning}");
    exporter.listening_addr();
    let (status, _) = exporter.terminate();
    assert!(status.success());
}

/// A second exporter on a --storage.path in use stops at start: exit 1 and
/// one line naming the directory (the first keeps running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_exporter_on_the_same_storage_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().to_str().unwrap();
    let mut first = Running::start(&["--demo", "--web.listen-address", "127.0.0.1:0", "--storage.path", storage], &[]);
    first.listening_addr();
    let (code, stderr) = run_to_exit(&["--demo", "--web.listen-address", "127.0.0.1:0", "--storage.path", storage]);
    assert_eq!(code, 1, "{stderr}");
    let last = fatal_error(stderr.trim_end().lines().last().unwrap_or_default()).unwrap_or_default();
    assert!(last.starts_with("another gong-exporter is using --storage.path") && last.contains(storage), "{stderr}");
    assert!(first.child.try_wait().unwrap().is_none(), "the first exporter keeps running");
    let (status, _) = first.terminate();
    assert!(status.success());
}

/// A company whose zone no Gong answer names (here: no activity, so every
/// stats answer is Gong's 404 without `timeZone`) and no --gong.timezone:
/// every cycle says so in the log, the self-metric reads 0 and the landing
/// page tells the operator to set the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_nobody_names_is_said_every_cycle_in_the_log_the_metric_and_the_page() {
    let cal = Calendar::now();
    let mut quiet = fixture(&cal);
    quiet.activity.clear();
    quiet.interaction.clear();
    let sim = start_simulator(quiet, 100, 1000.0).await;
    let base_url = sim.base_url();
    let (addr, warnings, exporter) = tokio::task::spawn_blocking(move || {
        let args = [
            "--gong.base-url",
            &base_url,
            "--gong.rate-limit",
            "1000",
            "--poll.interval",
            "300ms",
            "--no-collector.coaching",
            "--web.listen-address",
            "127.0.0.1:0",
        ];
        let mut exporter = Running::start(&args, &[("GONG_ACCESS_KEY", "demo"), ("GONG_ACCESS_KEY_SECRET", "demo")]);
        let addr = exporter.listening_addr();
        for _ in 0..3 {
            exporter.wait_for_line("the company's time zone is not known");
        }
        let warnings = exporter.seen.iter().filter(|l| l.contains("time zone is not known")).count();
        (addr, warnings, exporter)
    })
    .await
    .unwrap();
    assert!(warnings >= 3, "a warning every cycle");
    let cycles = requests_to(&sim, "/v2/users").len();
    assert!(warnings <= cycles, "one warning a cycle: {warnings} in {cycles} cycles");
    let metrics = scrape(addr).await;
    assert_eq!(metrics.value("gong_exporter_time_zone_known", &[]), 0.0);
    let (_, page) = http_get(addr, "/").await;
    assert!(page.contains("--gong.timezone is unset"), "{page}");
    drop(exporter);
}

/// OAuth from the command line, as an operator runs it: the simulator's
/// token endpoint (`simulate --oauth-refresh-token`), the exporter given
/// the app through env vars and no `--gong.base-url`. It refreshes, keeps
/// the rotated token under `--storage.path`, and polls the address the
/// token answer names (the default, Gong's global address, is never
/// reached: every endpoint succeeds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_from_the_command_line_refreshes_keeps_the_rotated_token_and_follows_the_company_address() {
    let mut sim = Running::start(
        &["simulate", "--listen", "127.0.0.1:0", "--access-key", "app", "--oauth-refresh-token", "r0"],
        &[("GONG_ACCESS_KEY_SECRET", "app-secret")],
    );
    let line = sim.wait_for_line("Gong simulator listening");
    let (_, after) = line.split_once("addr=").unwrap();
    let sim_addr: String = after.chars().take_while(|c| !c.is_whitespace()).collect();
    let storage = tempfile::tempdir().unwrap();
    let token_url = format!("http://{sim_addr}/oauth2/generate-customer-token");
    let mut exporter = Running::start(
        &[
            "--gong.oauth.token-url",
            &token_url,
            "--storage.path",
            storage.path().to_str().unwrap(),
            "--gong.timezone",
            "US/Pacific",
            "--no-collector.coaching",
            "--web.listen-address",
            "127.0.0.1:0",
        ],
        &[
            ("GONG_OAUTH_CLIENT_ID", "app"),
            ("GONG_OAUTH_CLIENT_SECRET", "app-secret"),
            ("GONG_OAUTH_REFRESH_TOKEN", "r0"),
        ],
    );
    let addr = exporter.listening_addr();
    exporter.wait_for_line("refreshed the OAuth access token");
    let polled = |body: &str| {
        ["users", "activity_day_by_day", "interaction", "scorecards"]
            .iter()
            .all(|e| body.contains(&format!("gong_exporter_poll_success{{endpoint=\"{e}\"}} 1")))
    };
    let mut metrics = String::new();
    for _ in 0..200 {
        metrics = http_get(addr, "/metrics").await.1;
        if polled(&metrics) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(polled(&metrics), "never polled; log:\n{}", exporter.all_output());
    assert!(metrics.contains("gong_user_info{"));
    let kept = std::fs::read_to_string(storage.path().join("oauth-refresh-token.json")).unwrap();
    assert!(kept.contains("\"given\":\"r0\"") && !kept.contains("\"refresh_token\":\"r0\""), "rotated: {kept}");
    let output = exporter.all_output();
    assert!(!output.contains("app-secret") && !output.contains("sim-refresh"), "no secret in the log");
    exporter.terminate();
    sim.terminate();
}
