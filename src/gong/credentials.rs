//! How the client authenticates to Gong. The client owns this type: the
//! command line only decides which variant to build from flags, env vars
//! and files; [`super::auth`] turns it into each request's header.

use std::path::PathBuf;

use reqwest::Url;

use crate::secret::Secret;

/// Gong's token endpoint: one URL for the code exchange and the refresh.
/// Evidence: Nango's `providers.yaml` (`gong-oauth`), n8n's
/// `GongOAuth2Api.credentials.ts` and dust's `oauth/providers/gong.rs`.
pub const GONG_TOKEN_URL: &str = "https://app.gong.io/oauth2/generate-customer-token";

/// Whether secrets may be sent to `url`: https, or plain http to this
/// machine alone (the simulator).
pub fn encrypted_or_loopback(url: &Url) -> bool {
    let loopback = url.host_str().is_some_and(|host| {
        host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

/// Name of the file under `--storage.path` that keeps the refresh token
/// each refresh returns.
pub const REFRESH_TOKEN_FILE: &str = "oauth-refresh-token.json";

/// How the exporter authenticates to Gong.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `Authorization: Basic base64(key:secret)`.
    Basic { access_key: String, secret: Secret },
    /// `Authorization: Bearer <token>`, fixed for the process's life.
    Bearer(Secret),
    /// A bearer token in a file that something else renews (a sidecar, an
    /// operator): read again when the file changes and after a 401, as
    /// Prometheus reads its `credentials_file`.
    BearerFile(PathBuf),
    /// An OAuth app's refresh token: the exporter gets its own access
    /// tokens and keeps each rotated refresh token.
    OAuth(OAuthApp),
}

/// What refreshing Gong's OAuth tokens takes.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    /// The refresh token the operator gave; a newer one kept in
    /// `state_file` wins while it descends from this one.
    pub refresh_token: Secret,
    /// Where the rotated refresh token is kept (`--storage.path`).
    pub state_file: PathBuf,
    /// Whether the answer's `api_base_url_for_customer` sets where requests
    /// go (`--gong.base-url` not given).
    pub follow_base_url: bool,
}
