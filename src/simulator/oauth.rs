//! Gong's OAuth token endpoint, for refreshing only (no authorization code
//! flow: a refresh token is given to the simulator as it starts).
//!
//! As the evidence shows Gong's: `POST /oauth2/generate-customer-token`
//! with `grant_type=refresh_token` and `refresh_token` in the query string
//! and the app's client ID and secret as Basic auth (Airbyte's
//! `source-gong` test of Gong's documented refresh, dust's
//! `oauth/providers/gong.rs`); the answer carries `access_token`,
//! `refresh_token`, `expires_in` in seconds and `api_base_url_for_customer`
//! (Nango's `providers.yaml` and proxy tests). Refresh tokens are single
//! use: a used one gets `400 {"error":"invalid_grant"}` (Nango's write-up
//! of Gong's `invalid_grant` errors). Where it differs from Gong: `scope`
//! and `token_type` are written as third-party mocks write them, and access
//! tokens expire exactly when `expires_in` says.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::secret::Secret;

/// The token endpoint's path, as in [`crate::gong::GONG_TOKEN_URL`].
pub const TOKEN_PATH: &str = "/oauth2/generate-customer-token";

/// An OAuth app the simulator accepts.
#[derive(Debug, Clone)]
pub struct SimulatedOAuthApp {
    pub client_id: String,
    pub client_secret: Secret,
    /// The refresh token authorizing the app gave.
    pub refresh_token: Secret,
    /// `expires_in` of each access token.
    pub access_token_lifetime: Duration,
}

/// Tokens issued and still valid.
#[derive(Default)]
pub(super) struct Issued {
    refresh_tokens: HashSet<String>,
    access_tokens: HashMap<String, Instant>,
    count: u64,
}

pub(super) struct TokenIssuer {
    app: SimulatedOAuthApp,
    issued: Mutex<Issued>,
}

impl TokenIssuer {
    pub fn new(app: SimulatedOAuthApp) -> Self {
        let mut issued = Issued::default();
        issued.refresh_tokens.insert(app.refresh_token.expose().to_owned());
        Self { app, issued: Mutex::new(issued) }
    }

    /// Whether `token` is an access token issued and not expired.
    pub fn accepts(&self, token: &str) -> bool {
        self.issued.lock().expect("tokens lock").access_tokens.get(token).is_some_and(|until| Instant::now() < *until)
    }

    /// Every access token issued so far stops working (expired early, or
    /// revoked in Gong).
    pub fn revoke_access_tokens(&self) {
        self.issued.lock().expect("tokens lock").access_tokens.clear();
    }

    /// A new access token, as an operator's own refresh would get.
    pub fn issue_access_token(&self) -> String {
        let mut issued = self.issued.lock().expect("tokens lock");
        issued.count += 1;
        let token = format!("sim-access-{}-{}", issued.count, fastrand::u64(..));
        issued.access_tokens.insert(token.clone(), Instant::now() + self.app.access_token_lifetime);
        token
    }

    /// The answer to a refresh; `host` is where the request came to, named
    /// back as the company's API address.
    pub fn refresh(&self, headers: &HeaderMap, params: &HashMap<String, String>) -> Response {
        let client =
            format!("Basic {}", STANDARD.encode(format!("{}:{}", self.app.client_id, self.app.client_secret.expose())));
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if given != Some(client.as_str()) {
            return error(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed");
        }
        if params.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant_type must be refresh_token");
        }
        let mut issued = self.issued.lock().expect("tokens lock");
        let Some(old) = params.get("refresh_token").filter(|t| issued.refresh_tokens.contains(*t)) else {
            return error(StatusCode::BAD_REQUEST, "invalid_grant", "Token has been expired or revoked.");
        };
        issued.refresh_tokens.remove(&old.clone());
        issued.count += 1;
        let n = issued.count;
        let refresh_token = format!("sim-refresh-{n}-{}", fastrand::u64(..));
        let access_token = format!("sim-access-{n}-{}", fastrand::u64(..));
        issued.refresh_tokens.insert(refresh_token.clone());
        issued.access_tokens.insert(access_token.clone(), Instant::now() + self.app.access_token_lifetime);
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        axum::Json(json!({
            "access_token": access_token,
            "refresh_token": refresh_token,
            "scope": scopes(),
            "token_type": "bearer",
            "expires_in": self.app.access_token_lifetime.as_secs(),
            "api_base_url_for_customer": format!("http://{host}"),
        }))
        .into_response()
    }
}

/// Every scope the simulated endpoints need, space-separated as OAuth
/// writes scopes.
fn scopes() -> String {
    let mut scopes: Vec<&str> = crate::endpoint::Endpoint::ALL.iter().map(|e| e.scope()).collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes.join(" ")
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (status, axum::Json(json!({ "error": code, "error_description": description }))).into_response()
}
