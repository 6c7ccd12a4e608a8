//! HTTP endpoints: `/metrics` (or `--web.telemetry-path`), `/`, `/-/healthy`,
//! `/-/ready`, and the web config (TLS, basic auth) in front of them. The
//! end of the data flow: handlers only read what the poller published.

pub mod listener;
pub mod webconfig;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http_body::Frame;

use crate::encoding::openmetrics_to_text;
use crate::endpoint::Endpoint;
use crate::gzip::Inflate;
use crate::published::Shared;

/// The content type Prometheus negotiates for OpenMetrics.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The Prometheus text format, for every client that does not ask for
/// OpenMetrics.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A response body sent as a list of shared byte chunks: the big pre-encoded
/// data part is reference-counted, never copied per scrape.
struct Chunks(VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.get_mut().0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0.iter().map(|c| c.len() as u64).sum())
    }
}

/// Bytes of decompressed body per frame for a client without gzip: enough
/// to keep the socket busy, small enough that 50 such scrapes at once hold
/// a few megabytes, not 50 bodies.
const INFLATE_CHUNK: usize = 64 * 1024;

/// A body for a client that does not accept gzip: the compressed data
/// decompressed a chunk per frame as the client reads (hyper asks for the
/// next frame only once the last was written), then the live tail.
struct Inflating {
    data: Inflate,
    tail: Option<Bytes>,
    /// Bytes still to send, for an exact `Content-Length`.
    remaining: u64,
}

impl http_body::Body for Inflating {
    type Data = Bytes;
    type Error = flate2::DecompressError;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let chunk = match this.data.next_chunk(INFLATE_CHUNK) {
            Ok(Some(chunk)) => chunk,
            Ok(None) => match this.tail.take() {
                Some(tail) => tail,
                None => return Poll::Ready(None),
            },
            Err(error) => {
                tracing::error!(%error, "the published exposition did not decompress; this scrape ends short");
                return Poll::Ready(Some(Err(error)));
            }
        };
        this.remaining = this.remaining.saturating_sub(chunk.len() as u64);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0 && self.tail.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    telemetry_path: Arc<str>,
}

/// The exporter's routes.
pub fn app(shared: Arc<Shared>, telemetry_path: &str) -> Router {
    let state = AppState { shared, telemetry_path: Arc::from(telemetry_path) };
    Router::new()
        .route(telemetry_path, get(metrics))
        .route("/", get(landing))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let exposition = state.shared.exposition.load_full();
    let mut own = String::with_capacity(4096);
    state.shared.self_metrics.encode(&mut own).expect("writing to a String cannot fail");
    let openmetrics = wants_openmetrics(&headers);
    let (content_type, data, own) = if openmetrics {
        own.push_str("# EOF\n");
        (OPENMETRICS_CONTENT_TYPE, &exposition.data_gzip, own)
    } else {
        // The first text-format scrape after a publish converts and
        // compresses the whole exposition (about a second at 10,000 users):
        // on a blocking thread, so neither this nor a concurrent scrape
        // stalls an async worker (the rest wait there for the same result).
        let building = Arc::clone(&exposition);
        if !exposition.has_text()
            && tokio::task::spawn_blocking(move || {
                building.text_gzip();
            })
            .await
            .is_err()
        {
            return (StatusCode::INTERNAL_SERVER_ERROR, "converting to the text format failed\n").into_response();
        }
        (TEXT_CONTENT_TYPE, exposition.text_gzip(), openmetrics_to_text(&own))
    };
    if accepts_gzip(&headers) {
        // One gzip member: the data compressed once per publish, then the
        // few live self-metrics stored uncompressed and the trailer.
        let body = Chunks(VecDeque::from(data.finish(own.as_bytes())));
        return (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_ENCODING, "gzip"),
                (header::VARY, "Accept, Accept-Encoding"),
            ],
            Body::new(body),
        )
            .into_response();
    }
    let body =
        Inflating { data: data.inflate(), remaining: data.data_len() + own.len() as u64, tail: Some(Bytes::from(own)) };
    ([(header::CONTENT_TYPE, content_type), (header::VARY, "Accept, Accept-Encoding")], Body::new(body)).into_response()
}

/// Whether the client prefers OpenMetrics, as client_golang (expfmt)
/// negotiates: `Accept`'s media ranges in order of quality (ties in the
/// order listed); the first that is OpenMetrics (version 1.0.0, 0.0.1 or
/// none) or `text/plain` (version 0.0.4 or none) decides. Wildcards and
/// other types are passed over; without a match, the text format. A
/// quality of 0 is "not acceptable" and passed over too (client_golang
/// would take it).
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    let mut ranges: Vec<(f32, bool)> = Vec::new();
    for item in headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut q, mut version) = (1.0_f32, "");
        for param in parts {
            match param.split_once('=').map(|(k, v)| (k.trim(), v.trim().trim_matches('"'))) {
                Some(("q", value)) => q = value.parse().unwrap_or(1.0),
                Some(("version", value)) => version = value,
                _ => {}
            }
        }
        let openmetrics = match media.as_str() {
            "application/openmetrics-text" if matches!(version, "" | "1.0.0" | "0.0.1") => true,
            "text/plain" if matches!(version, "" | "0.0.4") => false,
            _ => continue,
        };
        if q > 0.0 {
            ranges.push((q, openmetrics));
        }
    }
    // Stable: equal qualities keep the order listed.
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges.first().is_some_and(|(_, openmetrics)| *openmetrics)
}

/// Whether the client listed gzip in `Accept-Encoding` (and not with q=0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let zero_q = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero_q
        },
    )
}

/// Healthy while the poller beats: a process whose poller died serves the
/// last data for ever, and an orchestrator should restart it.
async fn healthy(State(state): State<AppState>) -> (StatusCode, String) {
    let age = state.shared.heartbeat_age();
    if age > crate::published::HEARTBEAT_STALE {
        let message = format!(
            "Unhealthy: the background poller has not run for {}s (see the log); restart the exporter\n",
            age.as_secs()
        );
        return (StatusCode::SERVICE_UNAVAILABLE, message);
    }
    (StatusCode::OK, "Healthy\n".to_owned())
}

async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.shared.is_ready() {
        (StatusCode::OK, "Ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Not ready: the first poll cycle has not finished\n")
    }
}

/// exporter-toolkit's landing page keeps to a little inline CSS and no
/// external assets (the page must work air-gapped and behind auth).
const LANDING_STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;margin:0 1.5em 2em;color:#1f2328;max-width:80em}\
header{background:#e6522c;color:#fff;margin:0 -1.5em 1em;padding:.6em 1.5em}header h1{margin:0;font-size:1.4em}\
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f6f8fa}td.n{text-align:right}.ok{color:#1a7f37}.failed{color:#cf222e}.muted{color:#656d76}\
.demo{background:#fff8c5;border:1px solid #d4a72c;padding:.5em}time{white-space:nowrap}";

async fn landing(State(state): State<AppState>) -> Html<String> {
    let status = state.shared.status();
    let zone = state.shared.time_zone();
    let time = |t: Option<jiff::Timestamp>| time_html(t, zone.as_ref().map(|(tz, _)| tz));
    let mut rows = String::new();
    // `/v2/workspaces` is part of the coaching collector, whose row it shares.
    for endpoint in Endpoint::ALL.into_iter().filter(|e| *e != Endpoint::Workspaces) {
        let s = status.get(&endpoint).cloned().unwrap_or_default();
        let result = match (s.last_attempt, s.ok) {
            (None, _) => "<span class=\"muted\">not asked yet</span>",
            (Some(_), true) => "<span class=\"ok\">ok</span>",
            (Some(_), false) => "<span class=\"failed\">failed</span>",
        };
        rows.push_str(&format!(
            "<tr><td>{endpoint}</td><td>{}</td><td>{}</td><td>{result}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
            escape_html(&s.role),
            time(s.last_attempt),
            time(s.last_success),
            s.records.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            escape_html(s.error.as_deref().unwrap_or("")),
        ));
    }
    let path = escape_html(&state.telemetry_path);
    let demo = if state.shared.is_demo() {
        "<p class=\"demo\"><strong>Demo mode: every number here comes from the built-in Gong simulator, not from Gong.</strong></p>\n"
    } else {
        ""
    };
    let plan = plan_section(
        state.shared.plan(),
        state.shared.self_metrics.budget_allowance(),
        zone.as_ref().map(|(tz, _)| tz),
    );
    let (zone_line, times_in) = match &zone {
        Some((_, line)) => (escape_html(line), "the company's zone (UTC on hover)"),
        None => (
            "not known: no Gong answer has named it and --gong.timezone is unset, so requests are dated in UTC-12 and the counters and coaching wait; set --gong.timezone".to_owned(),
            "UTC",
        ),
    };
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>gong-exporter</title>\n\
         <style>{LANDING_STYLE}</style></head>\n<body>\n\
         <header><h1>gong-exporter</h1></header>\n{demo}<p>Prometheus exporter for the Gong.io Stats API. Version {version} (revision {revision}). Gong is polled in the background; scrapes read the cache.</p>\n\
         <ul><li><a href=\"{path}\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li><li><a href=\"/-/ready\">Readiness</a></li></ul>\n\
         <p>Company time zone: {zone_line}. Times below are in {times_in}.</p>\n\
         <h2>Gong endpoints</h2>\n<table>\n\
         <tr><th>Endpoint</th><th>Asked for</th><th>Last attempt</th><th>Result</th><th>Last success</th><th>Records</th><th>Last error</th></tr>\n\
         {rows}</table>\n{plan}</body></html>\n",
        version = crate::VERSION,
        revision = crate::REVISION,
    ))
}

/// A time in the company's zone, with UTC in its title (shown on hover);
/// in UTC while the zone is not known.
fn time_html(t: Option<jiff::Timestamp>, tz: Option<&jiff::tz::TimeZone>) -> String {
    let Some(t) = t.and_then(|t| t.round(jiff::Unit::Second).ok()) else {
        return "<span class=\"muted\">never</span>".to_owned();
    };
    match tz {
        Some(tz) => {
            let local = t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string();
            format!("<time datetime=\"{t}\" title=\"{t}\">{}</time>", escape_html(&local))
        }
        None => format!("<time datetime=\"{t}\">{t}</time>"),
    }
}

/// Today's polling plan: cycles that ran, cycles to come with the requests
/// they are expected to cost, and what the budget left out.
fn plan_section(plan: Option<crate::published::Plan>, allowance: u64, tz: Option<&jiff::tz::TimeZone>) -> String {
    let Some(plan) = plan else {
        return String::new();
    };
    let mut rows = String::new();
    for (cycles, state) in [(&plan.done, "ran"), (&plan.future, "planned")] {
        for cycle in cycles {
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{state}</td><td>{}</td><td class=\"n\">{}</td></tr>\n",
                time_html(Some(cycle.at), tz),
                escape_html(&cycle.what),
                cycle.requests
            ));
        }
    }
    let planned: u64 = plan.future.iter().map(|c| c.requests).sum();
    let left_out: String =
        plan.left_out.iter().map(|what| format!("<li>Left out: {}</li>\n", escape_html(what))).collect();
    format!(
        "<h2>Today's plan (company day {day})</h2>\n<p>Sent in today's cycles: {sent}; still planned (every re-poll as if its answer changed): {planned}; \
         daily budget share: {allowance}.</p>\n<ul>{left_out}</ul>\n<table>\n\
         <tr><th>Time</th><th>State</th><th>Fetches</th><th>Requests</th></tr>\n{rows}</table>\n",
        day = plan.day.map(|d| d.to_string()).unwrap_or_default(),
        sent = plan.sent(),
    )
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gzip::GzipHead;
    use crate::published::Exposition;
    use crate::self_metrics::{PollOutcome, SelfMetrics};
    use axum::http::Request;
    use http_body_util::BodyExt;
    use std::time::Duration;
    use tower::ServiceExt;

    /// What Prometheus 2.x sends.
    const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        headers
    }

    #[test]
    fn openmetrics_only_for_clients_that_ask_for_it_first() {
        assert!(wants_openmetrics(&accept(PROMETHEUS_ACCEPT)));
        assert!(wants_openmetrics(&accept("application/openmetrics-text; version=1.0.0")));
        // Wildcards are passed over, as client_golang does.
        assert!(wants_openmetrics(&accept("*/*;q=1, application/openmetrics-text;q=0.5")));
        assert!(wants_openmetrics(&accept("application/openmetrics-text;version=0.0.1")));
        for text in [
            "text/plain;version=0.0.4",
            "*/*",
            "text/plain, application/openmetrics-text;q=0.5",
            // A tie goes to the one listed first.
            "text/plain;q=0.5, application/openmetrics-text;q=0.5",
            "application/openmetrics-text;q=0",
            // A version this exporter does not write.
            "application/openmetrics-text;version=2.0.0",
            "application/json",
        ] {
            assert!(!wants_openmetrics(&accept(text)), "{text}");
        }
        assert!(!wants_openmetrics(&HeaderMap::new()), "no Accept: the text format, as client_golang");
    }

    #[tokio::test]
    async fn healthy_follows_the_pollers_heartbeat() {
        let shared = Shared::new(Arc::new(SelfMetrics::new()));
        let status = |shared: &Arc<Shared>| {
            let app = app(Arc::clone(shared), "/metrics");
            async move {
                let response = app.oneshot(Request::get("/-/healthy").body(Body::empty()).unwrap()).await.unwrap();
                let code = response.status();
                let text =
                    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
                (code, text)
            }
        };
        assert_eq!(status(&shared).await.0, StatusCode::OK, "a new exporter");
        shared.set_heartbeat_age(Duration::from_secs(60));
        assert_eq!(status(&shared).await.0, StatusCode::OK, "a beat a minute ago");
        shared.set_heartbeat_age(Duration::from_secs(180));
        let (code, text) = status(&shared).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("has not run for 180s"), "{text}");
        shared.beat();
        assert_eq!(status(&shared).await.0, StatusCode::OK, "beating again");
    }

    #[tokio::test]
    async fn text_format_clients_get_0_0_4_with_counters_named_in_full() {
        let shared = Shared::new(Arc::new(SelfMetrics::new()));
        publish_one_series(&shared);
        let app = app(shared, "/metrics");
        for gzip in [false, true] {
            let mut request = Request::get("/metrics").header(header::ACCEPT, "text/plain;version=0.0.4");
            if gzip {
                request = request.header(header::ACCEPT_ENCODING, "gzip");
            }
            let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(response.headers()[header::CONTENT_TYPE], TEXT_CONTENT_TYPE);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body = if gzip {
                let mut out = String::new();
                std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out).unwrap();
                out
            } else {
                String::from_utf8(bytes.to_vec()).unwrap()
            };
            assert!(body.starts_with("# HELP gong_x x.\n# TYPE gong_x gauge\ngong_x 1\n"), "{body}");
            assert!(body.contains("# TYPE gong_exporter_api_requests_total counter\n"), "{body}");
            assert!(body.contains("# HELP gong_exporter_api_requests_total "), "{body}");
            assert!(!body.contains("# EOF") && !body.contains("# UNIT"), "{body}");
        }
    }

    fn publish_one_series(shared: &Shared) {
        let data_gzip = GzipHead::new(b"# HELP gong_x x.\n# TYPE gong_x gauge\ngong_x 1\n");
        shared.exposition.store(Arc::new(Exposition::from_parts(data_gzip, 1, Default::default())));
    }

    async fn get(app: Router, path: &str) -> (StatusCode, String, String) {
        let (status, content_type, _, body) = get_with(app, path, None).await;
        (status, content_type, String::from_utf8(body).unwrap())
    }

    async fn get_with(app: Router, path: &str, accept: Option<&str>) -> (StatusCode, String, Option<String>, Vec<u8>) {
        // As Prometheus asks.
        let mut request = Request::get(path).header(header::ACCEPT, PROMETHEUS_ACCEPT);
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT_ENCODING, accept);
        }
        let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let content_type =
            response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let encoding = response.headers().get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, encoding, body.to_vec())
    }

    #[tokio::test]
    async fn a_client_without_gzip_gets_the_body_in_bounded_frames_with_its_exact_length() {
        // Several megabytes, so the body spans many decompressed frames.
        let data: String =
            (0..120_000).map(|i| format!("gong_x{{user_id=\"{}\"}} {}\n", i * 7919 % 100_003, i % 97)).collect();
        let shared = Shared::new(Arc::new(SelfMetrics::new()));
        let exposition = format!("# HELP gong_x x.\n# TYPE gong_x gauge\n{data}");
        shared.exposition.store(Arc::new(Exposition::from_parts(
            GzipHead::new(exposition.as_bytes()),
            1,
            Default::default(),
        )));
        let app = app(shared, "/metrics");
        for accept in [PROMETHEUS_ACCEPT, "text/plain"] {
            let request = Request::get("/metrics").header(header::ACCEPT, accept).body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.headers().get(header::CONTENT_ENCODING), None);
            let mut body = response.into_body();
            let length = http_body::Body::size_hint(&body).exact().expect("an exact length");
            let mut received = Vec::new();
            let mut frames = 0;
            while let Some(frame) = body.frame().await {
                let chunk = frame.unwrap().into_data().unwrap();
                assert!(chunk.len() <= INFLATE_CHUNK, "{} bytes in one frame", chunk.len());
                received.extend_from_slice(&chunk);
                frames += 1;
            }
            assert_eq!(received.len() as u64, length, "{accept}");
            assert!(frames > exposition.len() / INFLATE_CHUNK, "{frames} frames");
            let text = String::from_utf8(received).unwrap();
            assert!(text.starts_with(&exposition), "{accept}: the data first, unchanged");
            assert!(text[exposition.len()..].contains("gong_exporter_api_requests_total"), "then the self-metrics");
        }
    }

    #[tokio::test]
    async fn gzip_when_accepted_decodes_to_the_plain_body() {
        let shared = Shared::new(Arc::new(SelfMetrics::new()));
        publish_one_series(&shared);
        let app = app(shared, "/metrics");
        let (_, _, encoding, plain) = get_with(app.clone(), "/metrics", None).await;
        assert_eq!(encoding, None);
        for accept in ["gzip", "gzip, deflate", "br;q=1.0, gzip;q=0.8", "*"] {
            let (status, _, encoding, body) = get_with(app.clone(), "/metrics", Some(accept)).await;
            assert_eq!((status, encoding.as_deref()), (StatusCode::OK, Some("gzip")), "{accept}");
            let mut decoded = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&body[..]), &mut decoded).unwrap();
            // Self-metrics (request counts, durations) are identical between
            // the two scrapes: nothing polls here.
            assert_eq!(String::from_utf8(decoded).unwrap(), String::from_utf8(plain.clone()).unwrap());
        }
        for refuse in ["identity", "gzip;q=0", "deflate"] {
            assert_eq!(get_with(app.clone(), "/metrics", Some(refuse)).await.2, None, "{refuse}");
        }
    }

    #[tokio::test]
    async fn gzip_is_one_member_that_single_member_readers_decode_whole() {
        let shared = Shared::new(Arc::new(SelfMetrics::new()));
        publish_one_series(&shared);
        let app = app(shared, "/metrics");
        let (_, _, _, plain) = get_with(app.clone(), "/metrics", None).await;
        let (_, _, encoding, body) = get_with(app, "/metrics", Some("gzip")).await;
        assert_eq!(encoding.as_deref(), Some("gzip"));
        // A reader that stops after the first member (as curl --compressed
        // does) gets the whole exposition, `# EOF` included.
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut decoded).unwrap();
        assert_eq!(decoded, plain);
        assert!(String::from_utf8(decoded).unwrap().ends_with("# EOF\n"));
        assert_eq!(body.windows(3).filter(|w| *w == [0x1f, 0x8b, 8]).count(), 1, "one gzip header");
    }

    #[tokio::test]
    async fn ready_flips_after_first_cycle_and_health_is_always_ok() {
        let shared = Shared::new(Arc::new(SelfMetrics::new()));
        let app = app(Arc::clone(&shared), "/metrics");
        assert_eq!(get(app.clone(), "/-/ready").await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(get(app.clone(), "/-/healthy").await.0, StatusCode::OK);
        shared.set_ready();
        assert_eq!(get(app, "/-/ready").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn metrics_serve_published_bytes_then_self_metrics_then_eof() {
        let shared = Shared::new(Arc::new(SelfMetrics::new()));
        publish_one_series(&shared);
        let (status, content_type, body) = get(app(shared, "/custom"), "/custom").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, OPENMETRICS_CONTENT_TYPE);
        assert!(body.starts_with("# HELP gong_x x.\n"), "{body}");
        assert!(body.contains("gong_exporter_build_info{version=\""), "{body}");
        assert!(body.ends_with("# EOF\n"));
        assert_eq!(body.matches("# EOF").count(), 1);
    }

    #[tokio::test]
    async fn landing_page_lists_endpoints_and_escapes_errors() {
        let shared = Shared::new(Arc::new(SelfMetrics::new()));
        shared.record(
            Endpoint::Users,
            PollOutcome { ok: false, error: Some("<script>x</script>".into()), ..Default::default() },
        );
        let (status, content_type, body) = get(app(shared, "/metrics"), "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/html"));
        assert!(body.contains("href=\"/metrics\""));
        assert!(body.contains(crate::VERSION) && body.contains(crate::REVISION));
        for endpoint in Endpoint::ALL.into_iter().filter(|e| *e != Endpoint::Workspaces) {
            assert!(body.contains(&format!("<td>{endpoint}</td>")), "{endpoint}");
        }
        assert!(!body.contains("<td>workspaces</td>"), "part of the coaching row");
        assert!(body.contains("&lt;script&gt;") && !body.contains("<script>"));
        assert!(body.contains("failed"));
        assert!(body.contains("not asked yet"), "an endpoint never asked says so");
        assert!(!body.contains("http://") && !body.contains("https://"), "no external assets");
    }

    /// Times are the company's, as the plan's company day is; UTC stays on
    /// hover. Each row says what its endpoint is asked for.
    #[tokio::test]
    async fn landing_page_shows_times_in_the_company_zone_and_each_endpoints_role() {
        let shared = Shared::new(Arc::new(SelfMetrics::new()));
        let (status, _, body) = get(app(Arc::clone(&shared), "/metrics"), "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("Times below are in UTC"), "zone unknown");
        shared.set_time_zone(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap(), "Asia/Tokyo, configured".into());
        shared.set_role(Endpoint::Users, "names and managers".into());
        shared.record(Endpoint::Users, PollOutcome { ok: true, ..Default::default() });
        let (_, _, body) = get(app(shared, "/metrics"), "/").await;
        let row = body.lines().find(|l| l.starts_with("<tr><td>users</td>")).expect("a users row");
        assert!(row.contains("<td>names and managers</td>"), "{row}");
        assert!(row.contains(" JST</time>") && row.contains("Z\" title=\""), "Tokyo time, UTC on hover: {row}");
        assert!(row.contains("<td class=\"n\">0</td>"), "a successful poll's record count: {row}");
    }
}
