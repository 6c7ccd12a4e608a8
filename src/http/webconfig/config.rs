//! The web config file itself: exporter-toolkit's format, read and checked
//! at start, and read again while running when it (or a file it names)
//! changes or SIGHUP asks for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::auth::{Users, WebState};
use super::tls::{ClientCertificates, TlsFile, tls_config};
use crate::signals::Hangups;

/// Response headers exporter-toolkit allows; the same list here.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

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

/// What a loaded web config does.
#[derive(Clone)]
pub struct WebConfig {
    /// TLS settings; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub(super) users: Arc<Users>,
    /// What TLS asks of client certificates.
    client_certificates: ClientCertificates,
    pub(super) headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    /// The config file and every file it names, for change detection.
    watched: Vec<PathBuf>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.hashes.keys().collect::<Vec<_>>())
            .field("headers", &self.headers.len())
            .finish()
    }
}

impl WebConfig {
    /// Whether TLS refuses a client without a certificate its CA signed.
    pub fn requires_client_certificates(&self) -> bool {
        self.client_certificates == ClientCertificates::Required
    }

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
        let client_certificates = ClientCertificates::of(file.tls_server_config.as_ref());
        let tls = match file.tls_server_config.take() {
            None => None,
            Some(tls) => Some(Arc::new(tls_config(tls, base, &mut watched).map_err(fail)?)),
        };
        let users = Users::parse(file.basic_auth_users.unwrap_or_default()).map_err(fail)?;

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
        Ok(Self { tls, users: Arc::new(users), client_certificates, headers: Arc::new(headers), watched })
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
        !self.users.hashes.is_empty()
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

/// The reloader's half of [`WebState`] (the auth half is in `auth.rs`).
impl WebState {
    /// Re-reads the file when it or a file it names changed, or on each of
    /// `hangups`; on a bad file, logs the reason and keeps the current config.
    pub async fn watch(
        self: Arc<Self>,
        path: PathBuf,
        every: Duration,
        tls: Option<axum_server::tls_rustls::RustlsConfig>,
        mut hangups: Hangups,
    ) {
        let mut fingerprint = self.current().fingerprint();
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            // SIGHUP reloads at once, as Prometheus's own servers do.
            let asked = tokio::select! {
                _ = ticker.tick() => false,
                () = hangups.next() => true,
            };
            let now = self.current().fingerprint();
            if now == fingerprint && !asked {
                continue;
            }
            if asked {
                tracing::info!(path = %path.display(), "SIGHUP: reloading the web config");
            }
            fingerprint = now;
            let reloaded = self.current().reload(&path);
            match reloaded {
                Ok(config) => {
                    // `reload` refused any change of TLS on or off.
                    if let (Some(server), Some(new)) = (&tls, &config.tls) {
                        server.reload_from_config(Arc::clone(new));
                    }
                    fingerprint = config.fingerprint();
                    self.replace(config);
                    tracing::info!(path = %path.display(), "web config reloaded");
                }
                Err(error) => tracing::error!(%error, "web config not reloaded; keeping the previous one"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::webconfig::load_for_test as load;

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

    #[test]
    fn debug_output_hides_hashes() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let c = load(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        assert!(c.requires_auth());
        assert!(!format!("{c:?}").contains(&hash));
    }
}
