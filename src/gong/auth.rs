//! Each request's `Authorization` header, and how it is renewed.
//!
//! Gong's OAuth access tokens expire (`expires_in`, seconds) and its refresh
//! tokens are single use: each refresh returns a new one and the old one is
//! refused with `400 {"error":"invalid_grant"}` (Nango's write-up of Gong's
//! `invalid_grant` errors; dust's `oauth/providers/gong.rs` requires the new
//! `refresh_token` in every answer). So a refresh is done by one task at a
//! time, and the new refresh token is written to disk before the access
//! token it came with is used: a crash in between leaves the newest token on
//! disk. The refresh request is a POST with `grant_type` and `refresh_token`
//! in the query string and the app's client ID and secret as Basic auth
//! (Airbyte's `source-gong` test of Gong's documented refresh, dust's
//! client); Nango sends the same as a form body, which this does not.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::credentials::{Credentials, OAuthApp};
use super::error::GongError;
use crate::endpoint::Endpoint;
use crate::secret::{self, Secret};
use crate::self_metrics::SelfMetrics;

/// The largest token answer read: a few hundred bytes in every recording.
const MAX_TOKEN_ANSWER_BYTES: u64 = 64 * 1024;

/// After Gong refused the refresh token or the app, no refresh is tried
/// again for this long: every request of a cycle would otherwise ask.
const REFUSED_PAUSE: Duration = Duration::from_secs(600);

/// After a refresh failed in a way that may pass (no answer, a 5xx, a 429),
/// requests that waited on it get its error for this long instead of each
/// sending its own: with four queries in flight and retries, a token
/// endpoint that is down was asked two dozen times in a row.
const FAILED_PAUSE: Duration = Duration::from_secs(5);

/// A refresh happens this long before the token expires, at most: requests
/// in flight when it expires would otherwise be refused.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// What goes with one request.
#[derive(Clone)]
pub(super) struct Authorization {
    pub header: HeaderValue,
    /// Where to send it, when the token answer said (`api_base_url_for_customer`).
    pub base_url: Option<Url>,
}

/// The source of each request's credentials.
pub(super) enum Authorizer {
    Fixed(HeaderValue),
    File(FileToken),
    OAuth(Box<Refresher>),
}

impl Authorizer {
    /// `timeout` bounds each token request, as `--gong.timeout` bounds each
    /// API request: a refresh holds every request waiting for its token.
    pub fn new(credentials: &Credentials, self_metrics: std::sync::Arc<SelfMetrics>, timeout: Duration) -> Self {
        match credentials {
            Credentials::Basic { access_key, secret } => Self::Fixed(basic(access_key, secret)),
            Credentials::Bearer(token) => Self::Fixed(bearer(token)),
            Credentials::BearerFile(path) => Self::File(FileToken::new(path.clone())),
            Credentials::OAuth(app) => Self::OAuth(Box::new(Refresher::new(app.clone(), self_metrics, timeout))),
        }
    }

    /// The credentials for the next request, refreshed first when the
    /// access token is about to expire.
    pub async fn current(&self, http: &reqwest::Client, endpoint: Endpoint) -> Result<Authorization, GongError> {
        match self {
            Self::Fixed(header) => Ok(Authorization { header: header.clone(), base_url: None }),
            Self::File(file) => Ok(Authorization { header: file.current(), base_url: None }),
            Self::OAuth(refresher) => refresher.current(http, endpoint).await,
        }
    }

    /// After Gong refused `sent` with a 401: whether other credentials are
    /// now at hand, worth one more try. A file is read again; an OAuth token
    /// is refreshed unless it was itself refreshed after a 401 and has not
    /// worked since (Gong refusing a fresh token is not an expiry).
    pub async fn renew_after_unauthorized(
        &self,
        http: &reqwest::Client,
        endpoint: Endpoint,
        sent: &HeaderValue,
    ) -> Result<bool, GongError> {
        match self {
            Self::Fixed(_) => Ok(false),
            Self::File(file) => Ok(file.reread_after_unauthorized(sent)),
            Self::OAuth(refresher) => refresher.renew_after_unauthorized(http, endpoint, sent).await,
        }
    }

    /// A request with the current credentials succeeded.
    pub fn worked(&self) {
        if let Self::OAuth(refresher) = self {
            refresher.worked();
        }
    }
}

fn header(value: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("Invalid"));
    // Kept out of `Debug` output and HTTP/2 header tables.
    value.set_sensitive(true);
    value
}

/// `Basic base64(user:secret)`.
fn basic(user: &str, secret: &Secret) -> HeaderValue {
    use base64::Engine as _;
    let pair = format!("{user}:{}", secret.expose());
    header(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)))
}

fn bearer(token: &Secret) -> HeaderValue {
    header(&format!("Bearer {}", token.expose()))
}

/// What identifies a file's version without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&meta),
    })
}

/// A bearer token kept in a file by someone else. Checked before each
/// request (one `stat`), read again when it changed: a Kubernetes secret's
/// update swaps a symlink, which changes the inode.
pub(super) struct FileToken {
    path: PathBuf,
    state: Mutex<FileState>,
}

struct FileState {
    header: HeaderValue,
    stamp: Option<Stamp>,
}

impl FileToken {
    fn new(path: PathBuf) -> Self {
        // Read once at start by the configuration, which refuses a bad
        // file; read here again to own the value.
        // Stamped before it is read: a change in between is read again.
        let stamp = stamp(&path);
        let header = match secret::read_file(&path) {
            Ok(token) => bearer(&token),
            Err(_) => HeaderValue::from_static("Invalid"),
        };
        let state = Mutex::new(FileState { header, stamp });
        Self { path, state }
    }

    fn current(&self) -> HeaderValue {
        let mut state = self.state.lock().expect("token file lock");
        let now = stamp(&self.path);
        if now != state.stamp {
            state.stamp = now;
            self.reread(&mut state);
        }
        state.header.clone()
    }

    fn reread_after_unauthorized(&self, sent: &HeaderValue) -> bool {
        let mut state = self.state.lock().expect("token file lock");
        state.stamp = stamp(&self.path);
        self.reread(&mut state);
        state.header != sent
    }

    /// Reads the file; a file that cannot be used keeps the last good token
    /// (the next change is read again).
    fn reread(&self, state: &mut FileState) {
        match secret::read_file(&self.path) {
            Ok(token) => {
                let header = bearer(&token);
                if header != state.header {
                    tracing::info!(path = %self.path.display(), "read a new bearer token from --gong.bearer-token-file");
                }
                state.header = header;
            }
            Err(error) => tracing::warn!(
                path = %self.path.display(),
                err = %error,
                "--gong.bearer-token-file changed but cannot be used: the last token read stays in use"
            ),
        }
    }
}

/// The refresh token kept under `--storage.path`, with the one the operator
/// gave that it descends from: a restart with the same flags uses the kept
/// one (the given one was used up), a restart with a new one given (the app
/// authorized again) uses that instead.
#[derive(Serialize, Deserialize)]
struct KeptRefreshToken {
    given: String,
    refresh_token: String,
}

/// The rotated refresh token of an answer, read on its own and kept before
/// anything else of the answer is checked: Gong has used up the old one.
#[derive(Deserialize)]
struct Rotated {
    refresh_token: Option<String>,
}

/// Gong's answer to a refresh.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// Seconds (a number or a string of one); when absent the token is
    /// renewed after a 401 only.
    #[serde(default, deserialize_with = "crate::gong::models::lenient_number")]
    expires_in: Option<f64>,
    api_base_url_for_customer: Option<String>,
}

/// The lifetimes an answer may give, so that `expires_in: 0` does not
/// refresh before every request (at most one a second) and a huge one
/// cannot overflow a clock.
const LIFETIMES: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(7 * 24 * 3600));

/// Gong's (OAuth's) error answer.
#[derive(Deserialize, Default)]
struct TokenError {
    error: Option<String>,
    error_description: Option<String>,
}

/// Why a refresh failed, and whether asking again may help.
#[derive(Clone)]
struct Failed {
    retriable: bool,
    reason: String,
}

/// Gets access tokens from an OAuth app's refresh token.
pub(super) struct Refresher {
    app: OAuthApp,
    /// Counts a rotated refresh token that could not be kept.
    self_metrics: std::sync::Arc<SelfMetrics>,
    /// Of each token request.
    timeout: Duration,
    /// An async lock: one refresh at a time, the others wait for its token.
    state: tokio::sync::Mutex<TokenState>,
    /// The current token came from a refresh after a 401 and no request
    /// has worked with it yet. Outside the lock: a success must clear it
    /// even while a refresh holds the lock.
    renewed_after_401: AtomicBool,
}

struct TokenState {
    refresh_token: Secret,
    access: Option<Access>,
    /// The last failed refresh, repeated without asking until the instant.
    failed: Option<(Instant, Failed)>,
}

struct Access {
    authorization: Authorization,
    renew_at: Option<Instant>,
}

impl Refresher {
    fn new(app: OAuthApp, self_metrics: std::sync::Arc<SelfMetrics>, timeout: Duration) -> Self {
        let refresh_token = kept_refresh_token(&app.state_file, &app.refresh_token);
        let state = TokenState { refresh_token, access: None, failed: None };
        let renewed_after_401 = AtomicBool::new(false);
        Self { app, self_metrics, timeout, state: tokio::sync::Mutex::new(state), renewed_after_401 }
    }

    async fn current(&self, http: &reqwest::Client, endpoint: Endpoint) -> Result<Authorization, GongError> {
        let mut state = self.state.lock().await;
        if let Some(access) = &state.access
            && access.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(access.authorization.clone());
        }
        self.refresh(http, endpoint, &mut state).await
    }

    async fn renew_after_unauthorized(
        &self,
        http: &reqwest::Client,
        endpoint: Endpoint,
        sent: &HeaderValue,
    ) -> Result<bool, GongError> {
        let mut state = self.state.lock().await;
        let current = state.access.as_ref().map(|a| &a.authorization.header);
        if current.is_some_and(|c| c != sent) {
            // Another request refreshed while this one was refused.
            return Ok(true);
        }
        if self.renewed_after_401.load(Ordering::Acquire) {
            return Ok(false);
        }
        // The refused token is no use: until a refresh works, requests get
        // the refresh's failure instead of being sent with it (each a 401
        // from Gong, and a request of the day's share).
        state.access = None;
        self.refresh(http, endpoint, &mut state).await?;
        self.renewed_after_401.store(true, Ordering::Release);
        Ok(true)
    }

    fn worked(&self) {
        self.renewed_after_401.store(false, Ordering::Release);
    }

    /// A refresh, unless the last one failed less than [`REFUSED_PAUSE`]
    /// (Gong refused it) or [`FAILED_PAUSE`] (it may pass) ago: then that
    /// failure again, without asking. A failure is remembered.
    async fn refresh(
        &self,
        http: &reqwest::Client,
        endpoint: Endpoint,
        state: &mut TokenState,
    ) -> Result<Authorization, GongError> {
        if let Some((until, Failed { retriable, reason })) = &state.failed
            && Instant::now() < *until
        {
            return Err(GongError::TokenRefresh { endpoint, retriable: *retriable, reason: reason.clone() });
        }
        self.ask(http, state).await.map_err(|failed| {
            let pause = if failed.retriable { FAILED_PAUSE } else { REFUSED_PAUSE };
            state.failed = Some((Instant::now() + pause, failed.clone()));
            GongError::TokenRefresh { endpoint, retriable: failed.retriable, reason: failed.reason }
        })
    }

    /// One refresh request and what its answer changes.
    async fn ask(&self, http: &reqwest::Client, state: &mut TokenState) -> Result<Authorization, Failed> {
        let failed = |retriable: bool, reason: String| Failed { retriable, reason };
        let mut url = self.app.token_url.clone();
        url.query_pairs_mut()
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", state.refresh_token.expose());
        let client = basic(&self.app.client_id, &self.app.client_secret);
        let started = Instant::now();
        let mut response = http
            .post(url)
            .header(AUTHORIZATION, client)
            .timeout(self.timeout)
            .send()
            .await
            // reqwest's error names the URL, which now holds the refresh token.
            .map_err(|e| e.without_url())
            .map_err(|e| failed(true, format!("cannot reach {}: {e}", self.app.token_url)))?;
        let status = response.status();
        let body = super::response::read_capped(&mut response, MAX_TOKEN_ANSWER_BYTES).await.map_err(|e| match e {
            super::response::ReadError::TooLarge => {
                failed(false, format!("the token answer is larger than {MAX_TOKEN_ANSWER_BYTES} bytes"))
            }
            // The request's timeout covers the body too.
            super::response::ReadError::Http(e) => failed(true, e.without_url().to_string()),
        })?;
        tracing::debug!(
            code = status.as_u16(),
            seconds = started.elapsed().as_secs_f64(),
            "Gong's token endpoint answered"
        );
        if !status.is_success() {
            let error: TokenError = serde_json::from_slice(&body).unwrap_or_default();
            let said = [error.error.as_deref(), error.error_description.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            let said = if said.is_empty() { String::new() } else { format!(" ({said})") };
            return Err(if error.error.as_deref() == Some("invalid_grant") {
                failed(
                    false,
                    format!(
                        "Gong refused the refresh token{said}: Gong's refresh tokens are single use, so another process may have used it (a second exporter, a script, or a copy of the storage folder), or the app's access was revoked; authorize the app again and give the new refresh token"
                    ),
                )
            } else if status == StatusCode::UNAUTHORIZED || error.error.as_deref() == Some("invalid_client") {
                failed(
                    false,
                    format!(
                        "Gong refused the OAuth app's client ID or secret ({}){said}: check GONG_OAUTH_CLIENT_ID and GONG_OAUTH_CLIENT_SECRET",
                        status.as_u16()
                    ),
                )
            } else {
                let passes = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                failed(passes, format!("{} answered {}{said}", self.app.token_url, status.as_u16()))
            });
        }
        // Kept first: whatever else the answer holds, the old token is gone.
        if let Ok(Rotated { refresh_token: Some(rotated) }) = serde_json::from_slice(&body)
            && !rotated.is_empty()
        {
            state.refresh_token = Secret::new(rotated);
            self.keep(&state.refresh_token);
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| failed(false, format!("the token answer is not what Gong sends: {e}")))?;
        let base_url = match answer.api_base_url_for_customer.as_deref() {
            Some(given) if self.app.follow_base_url => {
                Some(api_base_url(given).map_err(|reason| failed(false, reason))?)
            }
            _ => None,
        };
        let renew_at = answer.expires_in.map(|seconds| {
            let lifetime = Duration::from_secs_f64(seconds.clamp(LIFETIMES.0.as_secs_f64(), LIFETIMES.1.as_secs_f64()));
            started + lifetime.saturating_sub(MAX_REFRESH_MARGIN.min(lifetime / 4))
        });
        let authorization = Authorization { header: bearer(&Secret::new(answer.access_token)), base_url };
        tracing::info!(expires_in = answer.expires_in, "refreshed the OAuth access token");
        state.access = Some(Access { authorization: authorization.clone(), renew_at });
        Ok(authorization)
    }

    /// Writes the rotated refresh token; a failed write is logged and the
    /// token kept in memory (it still works until the next restart).
    fn keep(&self, refresh_token: &Secret) {
        let kept = KeptRefreshToken {
            given: self.app.refresh_token.expose().to_owned(),
            refresh_token: refresh_token.expose().to_owned(),
        };
        let bytes = serde_json::to_vec(&kept).expect("two strings serialize");
        if let Err(e) = crate::storage::write_private_atomically(&self.app.state_file, &bytes) {
            self.self_metrics.storage_error("oauth");
            tracing::error!(
                path = %self.app.state_file.display(),
                err = %e,
                "cannot keep the refresh token Gong just gave: after a restart the exporter will hold a used one and Gong will refuse it; fix --storage.path"
            );
        }
    }
}

/// The refresh token to start with: the kept one when it descends from the
/// one given, else the one given.
fn kept_refresh_token(path: &Path, given: &Secret) -> Secret {
    // Read as the kept days are: a FIFO or a link to a device in its place
    // must not hang the start or fill the memory.
    let bytes = match crate::storage::read(path) {
        Ok(crate::storage::Read::Bytes(bytes)) => bytes,
        Ok(crate::storage::Read::Missing) => return given.clone(),
        Ok(crate::storage::Read::Unusable(reason)) => {
            let _ = crate::storage::move_aside(
                path,
                &reason,
                "the kept refresh token is not a file this exporter wrote; moved it aside, using the one given",
            );
            return given.clone();
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), err = %e, "the kept refresh token cannot be read: using the one given");
            return given.clone();
        }
    };
    match serde_json::from_slice::<KeptRefreshToken>(&bytes) {
        Ok(kept) if given.constant_time_eq(&kept.given) => Secret::new(kept.refresh_token),
        Ok(_) => {
            tracing::info!(path = %path.display(), "a new refresh token was given: it replaces the one kept");
            given.clone()
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), err = %e, "the kept refresh token cannot be read: using the one given");
            given.clone()
        }
    }
}

/// `api_base_url_for_customer`, checked before a token is sent there: an
/// https URL with a host and no path (plain http only to this machine,
/// for the simulator).
fn api_base_url(given: &str) -> Result<Url, String> {
    let url =
        Url::parse(given).map_err(|e| format!("the token answer's api_base_url_for_customer is not a URL ({e})"))?;
    if !super::credentials::encrypted_or_loopback(&url)
        || url.host().is_none()
        || url.path() != "/"
        || !url.username().is_empty()
        || url.query().is_some()
    {
        return Err(format!(
            "the token answer names '{given}' as this company's API address, which is not an https URL with a host alone: no token is sent there; set --gong.base-url to the address Gong's API settings page shows"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_gong_names_must_be_https_with_a_host_alone() {
        assert_eq!(api_base_url("https://company-17.api.gong.io").unwrap().as_str(), "https://company-17.api.gong.io/");
        assert!(api_base_url("http://127.0.0.1:8080").is_ok());
        for bad in ["http://evil.example", "https://x.api.gong.io/v2", "https://u:p@x.io", "ftp://x.io", "nonsense"] {
            assert!(api_base_url(bad).is_err(), "{bad}");
        }
    }

    /// A refresher of refresh token `r0` against `token` served on
    /// loopback at `/token`, keeping its state in the returned folder.
    async fn refresher_at(token: axum::Router, follow_base_url: bool) -> (Refresher, tempfile::TempDir) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, token).await });
        let dir = tempfile::tempdir().unwrap();
        let app = OAuthApp {
            token_url: url.parse().unwrap(),
            client_id: "id".into(),
            client_secret: Secret::new("s"),
            refresh_token: Secret::new("r0"),
            state_file: dir.path().join("kept.json"),
            follow_base_url,
        };
        (Refresher::new(app, std::sync::Arc::new(SelfMetrics::new()), Duration::from_secs(5)), dir)
    }

    /// Gong has used up the old token when it answers: the new one is kept
    /// even when the rest of the answer is refused.
    #[tokio::test]
    async fn a_rotated_token_is_kept_before_the_answer_is_checked() {
        use axum::routing::post;
        let answer = r#"{"access_token":"a","refresh_token":"r1","expires_in":"86400","api_base_url_for_customer":"http://evil.example"}"#;
        let (refresher, dir) =
            refresher_at(axum::Router::new().route("/token", post(move || async move { answer })), true).await;
        let error = refresher.current(&reqwest::Client::new(), Endpoint::Users).await.err().unwrap();
        assert!(error.to_string().contains("not an https URL"), "{error}");
        assert_eq!(kept_refresh_token(&dir.path().join("kept.json"), &Secret::new("r0")).expose(), "r1");
    }

    /// A token Gong refused is not sent again while the refresh that should
    /// replace it fails: the refresh's failure is returned instead.
    #[tokio::test]
    async fn a_refused_token_is_not_used_while_its_refresh_fails() {
        use axum::routing::post;
        use std::sync::atomic::AtomicUsize;
        let asked = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&asked);
        let token = axum::Router::new().route(
            "/token",
            post(move || {
                let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    match first {
                        true => (StatusCode::OK, r#"{"access_token":"a","refresh_token":"r1","expires_in":"86400"}"#),
                        false => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                    }
                }
            }),
        );
        let (refresher, _dir) = refresher_at(token, false).await;
        let http = reqwest::Client::new();
        let refused = refresher.current(&http, Endpoint::Users).await.unwrap();
        assert!(refresher.renew_after_unauthorized(&http, Endpoint::Users, &refused.header).await.is_err());
        let error = refresher.current(&http, Endpoint::Users).await.err().expect("not the refused token");
        assert!(error.is_retriable(), "{error}");
        assert_eq!(asked.load(Ordering::SeqCst), 2, "the failure is shared, not asked again");
    }

    /// A token endpoint that is down was asked again by every request that
    /// waited on the failed refresh (two dozen in a row with four queries
    /// and their retries); a 429 from it paused every request ten minutes.
    #[tokio::test]
    async fn a_refresh_that_may_pass_is_not_asked_again_at_once_and_stays_retriable() {
        use axum::routing::post;
        use std::sync::atomic::AtomicUsize;
        for status in [StatusCode::SERVICE_UNAVAILABLE, StatusCode::TOO_MANY_REQUESTS] {
            let asked = std::sync::Arc::new(AtomicUsize::new(0));
            let counter = std::sync::Arc::clone(&asked);
            let app = axum::Router::new().route(
                "/token",
                post(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move { (status, "busy") }
                }),
            );
            let (refresher, _dir) = refresher_at(app, false).await;
            let http = reqwest::Client::new();
            for _ in 0..4 {
                let error = refresher.current(&http, Endpoint::Users).await.err().unwrap();
                assert!(error.is_retriable(), "{status}: {error}");
            }
            assert_eq!(asked.load(Ordering::SeqCst), 1, "{status}: asked once within the pause");
        }
    }

    #[test]
    fn a_kept_token_is_used_only_while_it_descends_from_the_one_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.json");
        let given = Secret::new("r0");
        assert_eq!(kept_refresh_token(&path, &given).expose(), "r0", "nothing kept yet");
        std::fs::write(&path, r#"{"given":"r0","refresh_token":"r7"}"#).unwrap();
        assert_eq!(kept_refresh_token(&path, &given).expose(), "r7");
        assert_eq!(kept_refresh_token(&path, &Secret::new("new")).expose(), "new", "the app authorized again");
        std::fs::write(&path, "{").unwrap();
        assert_eq!(kept_refresh_token(&path, &given).expose(), "r0");
    }

    /// A FIFO in the kept token's place hung the start (a blocking open);
    /// a link to /dev/zero was read until memory ran out.
    #[test]
    fn a_kept_token_that_is_no_regular_file_is_moved_aside_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let given = Secret::new("r0");
        let fifo = dir.path().join("fifo.json");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert_eq!(kept_refresh_token(&fifo, &given).expose(), "r0");
        assert!(!fifo.exists(), "moved aside");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert_eq!(kept_refresh_token(&link, &given).expose(), "r0");
        assert!(std::fs::symlink_metadata(&link).is_err(), "moved aside");
    }

    #[test]
    fn a_token_file_is_read_again_when_it_changes_and_a_bad_one_keeps_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "one\n").unwrap();
        let file = FileToken::new(path.clone());
        assert_eq!(file.current(), "Bearer one");
        // Replaced the way Kubernetes does: a new file renamed over it.
        std::fs::write(dir.path().join("next"), "two").unwrap();
        std::fs::rename(dir.path().join("next"), &path).unwrap();
        assert_eq!(file.current(), "Bearer two");
        std::fs::write(dir.path().join("next"), "").unwrap();
        std::fs::rename(dir.path().join("next"), &path).unwrap();
        assert_eq!(file.current(), "Bearer two", "an empty file keeps the last token");
        assert!(!file.reread_after_unauthorized(&HeaderValue::from_static("Bearer two")), "nothing new to try");
        std::fs::write(&path, "three").unwrap();
        assert!(file.reread_after_unauthorized(&HeaderValue::from_static("Bearer two")));
    }
}
