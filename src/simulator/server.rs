//! The HTTP side: one route per Gong endpoint, the auth and scope checks,
//! the rate limit, the fault rules and the request log the tests read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::faults::{self, Fault};
use super::query::Request;
use super::render::{self, Reject};
use super::{Simulator, cursor};
use crate::endpoint::Endpoint;

/// One request the simulator received, for tests.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The JSON body of a POST.
    pub body: Option<Value>,
    /// The `cursor` query parameter of a GET.
    pub cursor: Option<String>,
    /// Every query parameter of a GET.
    pub query: HashMap<String, String>,
    pub status: u16,
    /// When the request arrived.
    pub at: Instant,
}

/// Gong's stats endpoints take their filter as a POST body; the others are
/// GETs with query parameters.
fn takes_body(endpoint: Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::ActivityAggregate | Endpoint::ActivityDayByDay | Endpoint::Interaction | Endpoint::Scorecards
    )
}

/// The route of `endpoint`: its one method, read into a [`Request`].
fn route(endpoint: Endpoint) -> MethodRouter<Arc<Simulator>> {
    if takes_body(endpoint) {
        post(move |State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes| async move {
            sim.handle(Request::post(endpoint, &body), &headers).await
        })
    } else {
        get(
            move |State(sim): State<Arc<Simulator>>,
                  headers: HeaderMap,
                  Query(params): Query<HashMap<String, String>>| async move {
                sim.handle(Request::get(endpoint, params), &headers).await
            },
        )
    }
}

impl Simulator {
    /// The HTTP routes.
    pub fn router(self: Arc<Self>) -> Router {
        Endpoint::ALL
            .into_iter()
            .fold(Router::new(), |router, endpoint| router.route(endpoint.path(), route(endpoint)))
            .route(
                super::TOKEN_PATH,
                post(
                    |State(sim): State<Arc<Simulator>>,
                     headers: HeaderMap,
                     Query(params): Query<HashMap<String, String>>| async move {
                        sim.refresh_token(&headers, params).await
                    },
                ),
            )
            .with_state(self)
    }

    /// Requests being answered right now (e.g. held by a delay fault).
    pub fn pending(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().expect("log lock").clone()
    }

    fn request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!("sim{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.options.access_key, self.options.access_key_secret.expose()))
        );
        let bearer = self.options.bearer_token.as_ref().map(|t| format!("Bearer {}", t.expose()));
        let issued = given.strip_prefix("Bearer ").zip(self.oauth.as_ref()).is_some_and(|(t, o)| o.accepts(t));
        given == basic || bearer.as_deref() == Some(given) || issued
    }

    /// `POST /oauth2/generate-customer-token`: 404 without an OAuth app.
    /// Fault rules on its path, or on every path: a delay holds it (a
    /// token endpoint that hangs); a status answers it instead, and a
    /// malformed answer is a 200 cut short, neither using the refresh token
    /// (an outage, or a proxy in front of it); other faults, which shape
    /// API pages, do not apply to it and are ignored.
    async fn refresh_token(&self, headers: &HeaderMap, params: HashMap<String, String>) -> Response {
        let arrived = Instant::now();
        let fault = self.faults.next(super::TOKEN_PATH);
        if let Some(delay) = fault.as_ref().and_then(Fault::delay) {
            tokio::time::sleep(delay).await;
        }
        let response = match (&self.oauth, fault) {
            (None, _) => StatusCode::NOT_FOUND.into_response(),
            // Plain text, as an outage or a proxy answers: no claim about
            // the body of Gong's own token errors.
            (Some(_), Some(Fault::Status { status, retry_after_seconds })) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let mut response = (status, "injected fault").into_response();
                if let Some(seconds) = retry_after_seconds {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
            (Some(_), Some(Fault::Malformed)) => {
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"access_token\":\"").into_response()
            }
            (Some(issuer), _) => issuer.refresh(headers, &params),
        };
        self.log.lock().expect("log lock").push(RecordedRequest {
            method: "POST".to_owned(),
            path: super::TOKEN_PATH.to_owned(),
            body: None,
            cursor: None,
            query: params,
            status: response.status().as_u16(),
            at: arrived,
        });
        response
    }

    async fn handle(&self, request: Request, headers: &HeaderMap) -> Response {
        let arrived = Instant::now();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let _answered = InFlight(&self.in_flight);
        let request_id = self.request_id();
        let authorized = self.authorized(headers);
        // Fault rules count and hit authorized requests only.
        let fault = if authorized { self.faults.next(request.endpoint.path()) } else { None };
        if let Some(delay) = fault.as_ref().and_then(Fault::delay) {
            tokio::time::sleep(delay).await;
        }
        let response = self.answer_with_fault(fault, &request, authorized, &request_id);
        let Request { endpoint, body, params, .. } = request;
        self.log.lock().expect("log lock").push(RecordedRequest {
            method: if body.is_some() { "POST" } else { "GET" }.to_owned(),
            path: endpoint.path().to_owned(),
            body: body.and_then(Result::ok),
            cursor: params.get("cursor").cloned(),
            query: params,
            status: response.status().as_u16(),
            at: arrived,
        });
        response
    }

    /// The answer to a request, as `fault` (if any) changes it.
    fn answer_with_fault(
        &self,
        fault: Option<Fault>,
        request: &Request,
        authorized: bool,
        request_id: &str,
    ) -> Response {
        let json = |page: Value| (StatusCode::OK, axum::Json(page)).into_response();
        let answered = |cursor: Option<&str>| self.answer(request, cursor, authorized, request_id);
        let or_reject = |answer: Result<Value, Reject>| answer.map_or_else(|r| r.into_response(request_id), json);
        match fault {
            Some(Fault::Status { status, retry_after_seconds }) => {
                let retry_after = retry_after_seconds.map(HeaderValue::from);
                injected_status(status, retry_after, request_id)
            }
            Some(Fault::RetryAfterDate { status, seconds }) => {
                let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
                let date = jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&at).ok();
                injected_status(status, date.and_then(|d| HeaderValue::from_str(&d).ok()), request_id)
            }
            Some(Fault::Malformed) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"requestId\":\"{request_id}\",\"records\":{{\"totalRecords\":3,"),
            )
                .into_response(),
            Some(Fault::WrongShape) => json(json!({
                "requestId": request_id,
                render::list_key(request.endpoint): [{ "userId": { "nested": true }, "id": [1] }],
            })),
            Some(Fault::Redirect { status, location }) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
                (status, [(header::LOCATION, location)]).into_response()
            }
            Some(Fault::Oversized { bytes }) => {
                let head = format!("{{\"requestId\":\"{request_id}\",\"records\":{{\"totalRecords\":0}}");
                padded(faults::Padding::sized(head, "}", bytes))
            }
            Some(Fault::Endless) => padded(faults::Padding::endless(format!("{{\"requestId\":\"{request_id}\""))),
            Some(Fault::EndlessCursor { alternate, without_total }) => {
                // Answered as the first page, whatever cursor came.
                let answer = answered(None).map(|mut page| {
                    let n = self.request_counter.load(Ordering::Relaxed);
                    let next = if alternate { ["A", "B"][(n % 2) as usize].to_owned() } else { format!("endless-{n}") };
                    page["records"]["cursor"] = json!(next);
                    if without_total && let Some(records) = page["records"].as_object_mut() {
                        records.remove("totalRecords");
                    }
                    page
                });
                or_reject(answer)
            }
            Some(Fault::RepeatRecords { records }) => {
                let back = usize::try_from(records).unwrap_or(usize::MAX);
                let shifted = request.cursor.as_deref().map(|c| cursor::shift(c, back).unwrap_or_else(|| c.to_owned()));
                or_reject(answered(shifted.as_deref()))
            }
            Some(
                fault @ (Fault::NullIds { .. }
                | Fault::LongLabel { .. }
                | Fault::Numbers { .. }
                | Fault::DaysOff { .. }),
            ) => {
                let answer = answered(request.cursor.as_deref()).map(|mut page| {
                    if let Some(Value::Array(items)) = page.get_mut(render::list_key(request.endpoint)) {
                        render::spoil(request.endpoint, items, &fault);
                    }
                    page
                });
                or_reject(answer)
            }
            Some(Fault::Delay { .. }) | None => or_reject(answered(request.cursor.as_deref())),
        }
    }

    /// Gong's answer to `request` at `cursor`, once auth, scope and the
    /// rate limit let it through.
    pub(super) fn answer(
        &self,
        request: &Request,
        cursor: Option<&str>,
        authorized: bool,
        request_id: &str,
    ) -> Result<Value, Reject> {
        if !authorized {
            return Err(Reject(StatusCode::UNAUTHORIZED, "Access denied".to_owned(), None));
        }
        let scope = request.endpoint.scope();
        if self.options.scopes.as_ref().is_some_and(|held| !held.contains(scope)) {
            // As recorded from the real Gong (NangoHQ integration-templates,
            // integrations/gong/tests/get-stats-*.test.json): 401, not 403.
            return Err(Reject(
                StatusCode::UNAUTHORIZED,
                format!("You don't have permission to use '{scope}' in your app."),
                None,
            ));
        }
        if let Err(not_until) = self.limiter.check() {
            // Whole seconds, rounded up, as Gong documents; measured by this
            // check (checking again would spend a slot that came free).
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            let message = "API request limit exceeded".to_owned();
            return Err(Reject(StatusCode::TOO_MANY_REQUESTS, message, Some(wait.as_secs() + 1)));
        }
        self.render(request, cursor, request_id)
    }
}

/// An injected error status with Gong's error body.
fn injected_status(status: u16, retry_after: Option<HeaderValue>, request_id: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response =
        (status, axum::Json(json!({ "requestId": request_id, "errors": ["Injected fault"] }))).into_response();
    if let Some(value) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A 200 with a streamed JSON body.
fn padded(body: faults::Padding) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], axum::body::Body::new(body)).into_response()
}

/// Decrements the in-flight count when a request is answered or dropped.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A simulator serving on a socket.
#[derive(Debug)]
pub struct RunningSimulator {
    pub addr: SocketAddr,
    pub simulator: Arc<Simulator>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSimulator {
    /// `http://addr`, for `--gong.base-url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `simulator` on `addr` (port 0 picks a free one) in a background task.
pub async fn spawn(simulator: Arc<Simulator>, addr: SocketAddr) -> std::io::Result<RunningSimulator> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = Arc::clone(&simulator).router();
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "simulator server failed");
        }
    });
    Ok(RunningSimulator { addr, simulator, task })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use axum::body::Body;
    use axum::http::Request as HttpRequest;
    use http_body_util::BodyExt;
    use jiff::ToSpan;
    use jiff::tz::TimeZone;
    use tower::ServiceExt;

    use super::*;
    use crate::simulator::dataset::{self, Dataset};
    use crate::simulator::testing::{demo_auth, simulator};
    use crate::simulator::{SimulatorOptions, cursor};

    async fn post(sim: &Arc<Simulator>, path: &str, body: Value, authz: &str) -> (StatusCode, HeaderMap, Value) {
        let request = HttpRequest::post(path)
            .header(header::AUTHORIZATION, authz)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = Arc::clone(sim).router().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn yesterday_filter(sim: &Simulator) -> Value {
        let today = sim.today();
        json!({ "filter": { "fromDate": today.checked_sub(7.days()).unwrap().to_string(), "toDate": today.to_string() } })
    }

    #[tokio::test]
    async fn pages_follow_cursor_to_the_end() {
        let sim = simulator(250, 100, 1000.0);
        let mut body = yesterday_filter(&sim);
        let mut seen = Vec::new();
        loop {
            let (status, _, page) = post(&sim, "/v2/stats/activity/aggregate", body.clone(), &demo_auth()).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert_eq!(page["timeZone"], "US/Pacific");
            seen.extend(page["usersAggregateActivityStats"].as_array().unwrap().iter().map(|u| u["userId"].clone()));
            match page["records"]["cursor"].as_str() {
                Some(c) => body["cursor"] = json!(c),
                None => break,
            }
        }
        let active = sim.dataset().users().iter().filter(|u| u.active).count();
        assert_eq!(seen.len(), active);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), active, "no user on two pages");
    }

    #[tokio::test]
    async fn cursor_bound_to_filter_and_tamper_proof() {
        let sim = simulator(250, 100, 1000.0);
        let (_, _, page) = post(&sim, "/v2/stats/activity/aggregate", yesterday_filter(&sim), &demo_auth()).await;
        let cursor = page["records"]["cursor"].as_str().unwrap().to_owned();
        let mut other = yesterday_filter(&sim);
        other["filter"]["fromDate"] = json!(sim.today().checked_sub(3.days()).unwrap().to_string());
        other["cursor"] = json!(cursor);
        let (status, _, _) = post(&sim, "/v2/stats/activity/aggregate", other, &demo_auth()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let mut forged = yesterday_filter(&sim);
        forged["cursor"] = json!(cursor::encode(1, 100).replace('A', "B"));
        let (status, _, _) = post(&sim, "/v2/stats/activity/aggregate", forged, &demo_auth()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn rejects_bad_credentials_dates_and_methods() {
        let sim = simulator(10, 100, 1000.0);
        let (status, _, body) = post(&sim, "/v2/users", json!({}), "Basic bm9wZTpub3Bl").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        let (status, _, body) = post(&sim, "/v2/stats/interaction", yesterday_filter(&sim), "Basic bm9wZTpub3Bl").await;
        assert_eq!((status, body["errors"][0].as_str()), (StatusCode::UNAUTHORIZED, Some("Access denied")));
        let tomorrow = sim.today().tomorrow().unwrap().to_string();
        for filter in [
            json!({ "fromDate": "2024-13-01", "toDate": "2024-12-02" }),
            json!({ "fromDate": "2024/01/01", "toDate": "2024-12-02" }),
            json!({ "fromDate": "2024-01-05", "toDate": "2024-01-05" }),
            json!({ "fromDate": "2024-01-05", "toDate": tomorrow }),
            json!({ "toDate": "2024-01-05" }),
        ] {
            let (status, _, body) =
                post(&sim, "/v2/stats/activity/aggregate", json!({ "filter": filter }), &demo_auth()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{filter} -> {body}");
            assert!(body["requestId"].is_string() && body["errors"][0].is_string());
        }
        let (status, _, _) = post(
            &sim,
            "/v2/stats/activity/scorecards",
            json!({ "filter": { "reviewMethod": "SOMETIMES" } }),
            &demo_auth(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn empty_period_is_404() {
        let tz = TimeZone::get("UTC").unwrap();
        let data = dataset::FixtureDataset {
            users: dataset::GeneratedDataset::new(3, tz).users().to_vec(),
            ..Default::default()
        };
        let sim = Simulator::new(Arc::new(data), SimulatorOptions::new("UTC")).unwrap();
        let (status, _, body) = post(&sim, "/v2/stats/activity/aggregate", yesterday_filter(&sim), &demo_auth()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["errors"][0], "User not found");
        let (status, _, _) =
            post(&sim, "/v2/stats/activity/scorecards", json!({ "filter": { "reviewMethod": "BOTH" } }), &demo_auth())
                .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn over_the_rate_limit_answers_429_with_retry_after() {
        let sim = simulator(5, 100, 3.0);
        let mut statuses = Vec::new();
        let mut retry_after = None;
        for _ in 0..6 {
            let (status, headers, _) = post(&sim, "/v2/stats/interaction", yesterday_filter(&sim), &demo_auth()).await;
            statuses.push(status);
            if status == StatusCode::TOO_MANY_REQUESTS {
                retry_after = headers.get(header::RETRY_AFTER).cloned();
            }
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 3, "{statuses:?}");
        let seconds: u64 = retry_after.expect("Retry-After on 429").to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&seconds), "{seconds}");
    }
}
