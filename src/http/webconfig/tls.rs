//! The web config's `tls_server_config`: certificates, protocol versions and
//! client-certificate checks, as a rustls server config.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// `tls_server_config` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TlsFile {
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

/// How strictly TLS checks client certificates, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum ClientCertificates {
    Off,
    CheckedIfGiven,
    Required,
}

impl ClientCertificates {
    /// What `tls` (if any) asks of client certificates.
    pub(super) fn of(tls: Option<&TlsFile>) -> Self {
        match tls.and_then(|t| t.client_auth_type.as_deref()) {
            Some("RequireAndVerifyClientCert") => Self::Required,
            Some("VerifyClientCertIfGiven") => Self::CheckedIfGiven,
            _ => Self::Off,
        }
    }
}

/// The rustls config `tls` describes; file names are relative to `base`,
/// and every file read is added to `watched`.
pub(super) fn tls_config(
    tls: TlsFile,
    base: &Path,
    watched: &mut Vec<PathBuf>,
) -> Result<rustls::ServerConfig, String> {
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

    let versions = protocol_versions(tls.min_version.as_deref(), tls.max_version.as_deref())?;
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

/// The versions from `min_version` to `max_version` (TLS 1.2 and 1.3 when
/// not given); rustls has nothing older.
fn protocol_versions(
    min_version: Option<&str>,
    max_version: Option<&str>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let parse = |key: &str, v: Option<&str>, default: u8| match v {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some("TLS10" | "TLS11") => {
            Err(format!("tls_server_config.{key}: TLS 1.0 and 1.1 are not supported; use TLS12 or TLS13"))
        }
        Some(other) => Err(format!("tls_server_config.{key}: '{other}' is not TLS12 or TLS13")),
    };
    let (min, max) = (parse("min_version", min_version, 12)?, parse("max_version", max_version, 13)?);
    if min > max {
        return Err("tls_server_config: min_version is above max_version".to_owned());
    }
    Ok([(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, p)| p)
        .collect())
}
