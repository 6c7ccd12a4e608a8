//! `--web.config.file`, in the format of Prometheus's exporter-toolkit so
//! that files written for node_exporter work here: TLS (optionally requiring
//! client certificates), basic auth with bcrypt hashes, extra response
//! headers. The file and the files it names are re-read when they change,
//! so certificates can rotate without a restart.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::secret::Secret;
use crate::signals::Hangups;

/// Response headers exporter-toolkit allows; the same list here.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// The work factors bcrypt allows.
const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// Salt and hash of the stand-in checked for unknown users (any valid
/// bcrypt text: no password is meant to match it).
const UNKNOWN_USER_SALT_AND_HASH: &str = "7EqJtq98hPqEX7fNZaFWoO5c2hYS1DSEgZ9fnfY8WT8nvd7MHKgBa";

/// Paths that stay open without credentials: orchestrators probe them and
/// they reveal nothing.
const OPEN_PATHS: [&str; 2] = ["/-/healthy", "/-/ready"];

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    http_server_config: Option<HttpFile>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    // Accepted for compatibility with existing files; rustls offers only
    // modern suites and curves, so there is nothing to tune.
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// A web config file that cannot be used; names the key at fault.
#[derive(Debug, thiserror::Error)]
#[error("--web.config.file {path}: {reason}")]
pub struct WebConfigError {
    path: String,
    reason: String,
}

/// How strictly TLS checks client certificates, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ClientCertificates {
    Off,
    CheckedIfGiven,
    Required,
}

/// What a loaded web config does.
#[derive(Clone)]
pub struct WebConfig {
    /// TLS settings; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    users: Arc<BTreeMap<String, Secret>>,
    /// A hash of the highest cost among `users`, checked for an unknown
    /// user so that it costs as long as a known one: a faster answer would
    /// tell which user names exist.
    unknown_user_hash: Secret,
    /// What TLS asks of client certificates.
    client_certificates: ClientCertificates,
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    /// The config file and every file it names, for change detection.
    watched: Vec<PathBuf>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers.len())
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks the file and every file it names.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        Self::parse(path, &read(path)?)
    }

    /// The config `text`, read from `path` (which relative file names
    /// start from).
    fn parse(path: &Path, text: &str) -> Result<Self, WebConfigError> {
        let fail = |reason: String| WebConfigError { path: path.display().to_string(), reason };
        let mut file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| fail(e.to_string()))?
        };
        let mut watched = vec![path.to_path_buf()];
        let base = path.parent().unwrap_or(Path::new("."));

        // Read before the TLS section is consumed below.
        let client_certificates = match file.tls_server_config.as_ref().and_then(|t| t.client_auth_type.as_deref()) {
            Some("RequireAndVerifyClientCert") => ClientCertificates::Required,
            Some("VerifyClientCertIfGiven") => ClientCertificates::CheckedIfGiven,
            _ => ClientCertificates::Off,
        };
        let tls = match file.tls_server_config.take() {
            None => None,
            Some(tls) => Some(Arc::new(tls_config(tls, base, &mut watched).map_err(fail)?)),
        };

        let mut users = BTreeMap::new();
        let mut highest_cost = BCRYPT_COSTS.start().to_owned();
        for (user, hash) in file.basic_auth_users.unwrap_or_default() {
            let parts = hash
                .parse::<bcrypt::HashParts>()
                .map_err(|e| fail(format!("basic_auth_users.{user}: not a bcrypt hash ({e})")))?;
            if !BCRYPT_COSTS.contains(&parts.get_cost()) {
                return Err(fail(format!(
                    "basic_auth_users.{user}: bcrypt cost {} is outside the {}..={} bcrypt allows",
                    parts.get_cost(),
                    BCRYPT_COSTS.start(),
                    BCRYPT_COSTS.end()
                )));
            }
            highest_cost = highest_cost.max(parts.get_cost());
            users.insert(user, Secret::new(hash));
        }
        let unknown_user_hash = Secret::new(format!("$2b${highest_cost:02}${UNKNOWN_USER_SALT_AND_HASH}"));

        let mut headers = Vec::new();
        if let Some(http) = file.http_server_config {
            if http.http2 == Some(false) {
                tracing::warn!("http_server_config.http2: false is ignored; HTTP/2 is offered over TLS as usual");
            }
            for (name, value) in http.headers {
                let Some(allowed) = ALLOWED_HEADERS.iter().find(|h| h.eq_ignore_ascii_case(&name)) else {
                    return Err(fail(format!(
                        "http_server_config.headers.{name}: not allowed; use one of {}",
                        ALLOWED_HEADERS.join(", ")
                    )));
                };
                let value = HeaderValue::from_str(&value)
                    .map_err(|_| fail(format!("http_server_config.headers.{name}: not a valid header value")))?;
                // HeaderName lowercases the name, as HTTP/2 requires.
                headers.push((HeaderName::from_bytes(allowed.as_bytes()).expect("an allowed name is valid"), value));
            }
        }
        Ok(Self {
            tls,
            users: Arc::new(users),
            unknown_user_hash,
            client_certificates,
            headers: Arc::new(headers),
            watched,
        })
    }

    /// Loads the file again while running, refusing what would weaken the
    /// running config unnoticed: an empty file (most often one being
    /// rewritten, and at start it means no auth at all), and a file that
    /// drops every basic-auth user, weakens the client-certificate check,
    /// or turns TLS on or off. Those need a restart.
    pub fn reload(&self, path: &Path) -> Result<Self, WebConfigError> {
        let fail = |reason: &str| WebConfigError { path: path.display().to_string(), reason: reason.to_owned() };
        // Read once: the bytes checked for emptiness are the bytes parsed.
        let text = read(path)?;
        if text.trim().is_empty() {
            return Err(fail("is empty (a file being written?); an empty web config is taken only at start"));
        }
        let new = Self::parse(path, &text)?;
        if self.requires_auth() && !new.requires_auth() {
            return Err(fail("lists no basic_auth_users any more; turning basic auth off needs a restart"));
        }
        if new.client_certificates < self.client_certificates {
            return Err(fail("checks client certificates less strictly than before; that needs a restart"));
        }
        if self.tls.is_some() != new.tls.is_some() {
            return Err(fail("turns TLS on or off, which needs a restart; the previous config is kept whole"));
        }
        Ok(new)
    }

    /// Whether requests need credentials.
    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    fn fingerprint(&self) -> Vec<Option<SystemTime>> {
        self.watched.iter().map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok()).collect()
    }
}

/// The file's text, or an error naming it.
fn read(path: &Path) -> Result<String, WebConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| WebConfigError { path: path.display().to_string(), reason: format!("cannot read it: {e}") })
}

fn tls_config(tls: TlsFile, base: &Path, watched: &mut Vec<PathBuf>) -> Result<rustls::ServerConfig, String> {
    if tls.cipher_suites.is_some() || tls.curve_preferences.is_some() || tls.prefer_server_cipher_suites.is_some() {
        tracing::warn!(
            "tls_server_config: cipher_suites, curve_preferences and prefer_server_cipher_suites are ignored; rustls offers only modern suites"
        );
    }
    let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
    let cert_file = resolve(tls.cert_file.ok_or("tls_server_config.cert_file is required")?);
    let key_file = resolve(tls.key_file.ok_or("tls_server_config.key_file is required")?);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("tls_server_config.cert_file {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("tls_server_config.cert_file {}: no certificate in it", cert_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| format!("tls_server_config.key_file {}: {e}", key_file.display()))?;
    watched.extend([cert_file.clone(), key_file.clone()]);

    let versions: Vec<&'static rustls::SupportedProtocolVersion> = {
        let parse = |key: &str, v: &Option<String>, default: u8| match v.as_deref() {
            None | Some("") => Ok(default),
            Some("TLS12") => Ok(12),
            Some("TLS13") => Ok(13),
            Some("TLS10" | "TLS11") => {
                Err(format!("tls_server_config.{key}: TLS 1.0 and 1.1 are not supported; use TLS12 or TLS13"))
            }
            Some(other) => Err(format!("tls_server_config.{key}: '{other}' is not TLS12 or TLS13")),
        };
        let (min, max) = (parse("min_version", &tls.min_version, 12)?, parse("max_version", &tls.max_version, 13)?);
        if min > max {
            return Err("tls_server_config: min_version is above max_version".to_owned());
        }
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, p)| p)
            .collect()
    };

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let auth_type = tls.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match auth_type {
        "" | "NoClientCert" => builder.with_no_client_auth(),
        "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven" => {
            let ca_file = resolve(tls.client_ca_file.ok_or_else(|| {
                format!("tls_server_config.client_ca_file is required with client_auth_type {auth_type}")
            })?);
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(&ca_file)
                .map_err(|e| format!("tls_server_config.client_ca_file {}: {e}", ca_file.display()))?
            {
                let cert = cert.map_err(|e| format!("tls_server_config.client_ca_file {}: {e}", ca_file.display()))?;
                roots.add(cert).map_err(|e| format!("tls_server_config.client_ca_file {}: {e}", ca_file.display()))?;
            }
            watched.push(ca_file);
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier =
                if auth_type == "VerifyClientCertIfGiven" { verifier.allow_unauthenticated() } else { verifier };
            builder.with_client_cert_verifier(
                verifier.build().map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?,
            )
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(format!(
                "tls_server_config.client_auth_type {auth_type} (unverified client certificates) is not supported; use RequireAndVerifyClientCert or VerifyClientCertIfGiven with client_ca_file"
            ));
        }
        other => return Err(format!("tls_server_config.client_auth_type: unknown value '{other}'")),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: certificate and key do not match or are unusable: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// bcrypt checks, one at a time (as exporter-toolkit serialises them): a
/// flood of wrong passwords costs one core, not all of them. Each runs on a
/// thread of its own that nothing waits for: a client that leaves, or a
/// shutdown, does not wait out a hash of a high cost.
#[derive(Debug)]
pub struct BcryptGate {
    slot: Arc<tokio::sync::Semaphore>,
}

impl Default for BcryptGate {
    fn default() -> Self {
        Self { slot: Arc::new(tokio::sync::Semaphore::new(1)) }
    }
}

impl BcryptGate {
    /// Whether `password` matches `hash`; waits for the one slot first.
    pub async fn verify(&self, password: String, hash: String) -> bool {
        let Ok(slot) = Arc::clone(&self.slot).acquire_owned().await else { return false };
        let (answer, answered) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new().name("bcrypt".to_owned()).spawn(move || {
            // The slot is held until the hash is done, even if the client
            // left: the next check waits for the core to be free.
            let _slot = slot;
            let _ = answer.send(bcrypt::verify(password, &hash).unwrap_or(false));
        });
        spawned.is_ok() && answered.await.unwrap_or(false)
    }
}

/// A password that passed bcrypt, and the hash it passed against: it is
/// taken again only while the user's hash is still that one, so a check
/// that finishes after a reload cannot keep an old password valid.
struct Verified {
    hash: Secret,
    password: Secret,
}

/// The current web config, shared by the auth middleware and the reloader.
pub struct WebState {
    current: ArcSwap<WebConfig>,
    bcrypt: BcryptGate,
    /// Passwords that already passed bcrypt, per user: bcrypt costs tens of
    /// milliseconds, too much for every scrape.
    verified: Mutex<HashMap<String, Verified>>,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState").field("current", &self.current.load()).finish_non_exhaustive()
    }
}

impl WebState {
    /// State holding `config`.
    pub fn new(config: WebConfig) -> Arc<Self> {
        Arc::new(Self {
            current: ArcSwap::from_pointee(config),
            bcrypt: BcryptGate::default(),
            verified: Mutex::new(HashMap::new()),
        })
    }

    async fn check(&self, config: &WebConfig, user: &str, password: &str) -> bool {
        let known = config.users.get(user);
        // Compared in constant time: how long a wrong password takes to
        // refuse must not tell how much of it matched a remembered one.
        let cached = self.verified.lock().expect("auth cache").get(user).is_some_and(|v| {
            known.is_some_and(|hash| hash.constant_time_eq(v.hash.expose())) && v.password.constant_time_eq(password)
        });
        if cached {
            return true;
        }
        let hash = known.unwrap_or(&config.unknown_user_hash).expose().to_owned();
        let ok = self.bcrypt.verify(password.to_owned(), hash.clone()).await && known.is_some();
        if ok {
            let verified = Verified { hash: Secret::new(hash), password: Secret::new(password) };
            self.verified.lock().expect("auth cache").insert(user.to_owned(), verified);
        }
        ok
    }

    /// Re-reads the file when it or a file it names changed; on a bad file,
    /// logs the reason and keeps the current config.
    pub async fn watch(
        self: Arc<Self>,
        path: PathBuf,
        every: Duration,
        tls: Option<axum_server::tls_rustls::RustlsConfig>,
    ) {
        let mut fingerprint = self.current.load().fingerprint();
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut hangups = Hangups::listen();
        loop {
            // SIGHUP reloads at once, as Prometheus's own servers do.
            let asked = tokio::select! {
                _ = ticker.tick() => false,
                () = hangups.next() => true,
            };
            let now = self.current.load().fingerprint();
            if now == fingerprint && !asked {
                continue;
            }
            if asked {
                tracing::info!(path = %path.display(), "SIGHUP: reloading the web config");
            }
            fingerprint = now;
            let reloaded = self.current.load().reload(&path);
            match reloaded {
                Ok(config) => {
                    // `reload` refused any change of TLS on or off.
                    if let (Some(server), Some(new)) = (&tls, &config.tls) {
                        server.reload_from_config(Arc::clone(new));
                    }
                    self.verified.lock().expect("auth cache").clear();
                    fingerprint = config.fingerprint();
                    self.current.store(Arc::new(config));
                    tracing::info!(path = %path.display(), "web config reloaded");
                }
                Err(error) => tracing::error!(%error, "web config not reloaded; keeping the previous one"),
            }
        }
    }
}

/// Middleware: basic auth (when users are configured) and extra headers.
pub async fn guard(State(state): State<Arc<WebState>>, request: Request, next: Next) -> Response {
    let config = state.current.load_full();
    if config.requires_auth() && !OPEN_PATHS.contains(&request.uri().path()) {
        let credentials = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            // The scheme name is case-insensitive (RFC 9110).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, b)| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
            .and_then(|raw| String::from_utf8(raw).ok());
        let allowed = match credentials.as_deref().and_then(|c| c.split_once(':')) {
            Some((user, password)) => state.check(&config, user, password).await,
            None => false,
        };
        if !allowed {
            let mut response = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"gong-exporter\""));
            add_headers(&mut response, &config);
            return response;
        }
    }
    let mut response = next.run(request).await;
    add_headers(&mut response, &config);
    response
}

fn add_headers(response: &mut Response, config: &WebConfig) {
    for (name, value) in config.headers.iter() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<WebConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, yaml).unwrap();
        WebConfig::load(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn empty_file_means_plain_http_without_auth() {
        let c = load("").unwrap();
        assert!(c.tls.is_none() && !c.requires_auth());
    }

    #[test]
    fn bad_files_name_the_offending_key() {
        let cases = [
            ("basic_auth_user:\n  a: x\n", "basic_auth_user"),
            ("tls_server_config:\n  cert_flie: a\n", "cert_flie"),
            ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice"),
            ("http_server_config:\n  headers:\n    Server: x\n", "http_server_config.headers.Server"),
            ("tls_server_config:\n  key_file: k.pem\n", "tls_server_config.cert_file"),
            (
                "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n",
                "tls_server_config.cert_file /nonexistent/c.pem",
            ),
        ];
        for (yaml, key) in cases {
            let err = load(yaml).unwrap_err();
            assert!(err.contains(key), "{yaml:?}: {err}");
            assert!(err.starts_with("--web.config.file "), "{err}");
        }
    }

    #[test]
    fn hash_costs_outside_bcrypts_range_are_refused_at_start() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        for (cost, ok) in [("03", false), ("04", true), ("31", true), ("32", false), ("99", false)] {
            let with_cost = format!("{}{cost}{}", &hash[..4], &hash[6..]);
            let loaded = load(&format!("basic_auth_users:\n  alice: '{with_cost}'\n"));
            assert_eq!(loaded.is_ok(), ok, "cost {cost}: {loaded:?}");
            if let Err(error) = loaded {
                assert!(error.contains("basic_auth_users.alice: bcrypt cost"), "{error}");
            }
        }
    }

    #[test]
    fn an_unknown_user_is_checked_at_the_highest_cost_of_the_known_ones() {
        let (cheap, dear) = (bcrypt::hash("pw", 4).unwrap(), bcrypt::hash("pw", 6).unwrap());
        let c = load(&format!("basic_auth_users:\n  a: '{cheap}'\n  b: '{dear}'\n")).unwrap();
        let parts: bcrypt::HashParts = c.unknown_user_hash.expose().parse().unwrap();
        assert_eq!(parts.get_cost(), 6);
        assert!(!bcrypt::verify("pw", c.unknown_user_hash.expose()).unwrap(), "a valid hash nothing matches");
    }

    #[test]
    fn a_reload_that_would_weaken_the_running_config_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        let hash = bcrypt::hash("pw", 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        let running = WebConfig::load(&path).unwrap();
        for (text, why) in [
            ("", "is empty"),
            ("  \n", "is empty"),
            ("basic_auth_users: {}\n", "turning basic auth off needs a restart"),
            ("http_server_config:\n  headers:\n    X-Frame-Options: deny\n", "turning basic auth off"),
        ] {
            std::fs::write(&path, text).unwrap();
            let error = running.reload(&path).unwrap_err().to_string();
            assert!(error.contains(why), "{text:?}: {error}");
        }
        let bob = bcrypt::hash("pw2", 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  bob: '{bob}'\n")).unwrap();
        assert!(running.reload(&path).is_ok(), "other users are a change, not a weakening");
    }

    #[test]
    fn a_reload_that_checks_client_certificates_less_strictly_or_drops_tls_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        std::fs::write(dir.path().join("c.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("k.pem"), key.serialize_pem()).unwrap();
        let path = dir.path().join("web.yml");
        let tls = |auth: &str| {
            format!(
                "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_ca_file: c.pem\n  client_auth_type: {auth}\n"
            )
        };
        std::fs::write(&path, tls("RequireAndVerifyClientCert")).unwrap();
        let running = WebConfig::load(&path).unwrap();
        for (text, why) in [
            (tls("VerifyClientCertIfGiven"), "less strictly"),
            (tls("NoClientCert"), "less strictly"),
            ("http_server_config:\n  headers:\n    X-Frame-Options: deny\n".to_owned(), "less strictly"),
        ] {
            std::fs::write(&path, &text).unwrap();
            let error = running.reload(&path).unwrap_err().to_string();
            assert!(error.contains(why), "{text:?}: {error}");
        }
        std::fs::write(&path, tls("RequireAndVerifyClientCert")).unwrap();
        assert!(running.reload(&path).is_ok(), "the same strictness reloads (certificate rotation)");

        std::fs::write(&path, "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n").unwrap();
        let plain_tls = WebConfig::load(&path).unwrap();
        std::fs::write(&path, "# no TLS\n").unwrap();
        let error = plain_tls.reload(&path).unwrap_err().to_string();
        assert!(error.contains("turns TLS on or off"), "{error}");
    }

    #[tokio::test]
    async fn bcrypt_checks_run_one_at_a_time() {
        let gate = Arc::new(BcryptGate::default());
        let hash = bcrypt::hash("pw", 8).unwrap();
        let checks: Vec<_> = (0..4)
            .map(|_| {
                let (gate, hash) = (Arc::clone(&gate), hash.clone());
                tokio::spawn(async move { gate.verify("wrong".to_owned(), hash).await })
            })
            .collect();
        // The threads hashing right now, sampled while the four run.
        let hashing = || {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.trim() == "bcrypt")
                .count()
        };
        let mut most = 0;
        while checks.iter().any(|c| !c.is_finished()) {
            most = most.max(hashing());
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert_eq!(most, 1, "at most one hash at a time, and one was seen");
        for check in checks {
            assert!(!check.await.unwrap());
        }
        assert_eq!(gate.slot.available_permits(), 1);
        assert!(gate.verify("pw".to_owned(), hash).await);
    }

    #[test]
    fn debug_output_hides_hashes() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let c = load(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        assert!(c.requires_auth());
        assert!(!format!("{c:?}").contains(&hash));
    }
}
