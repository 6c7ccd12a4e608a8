//! `--web.config.file`: TLS with certificates generated here, certificate
//! rotation, client certificates, basic auth, headers, reload.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;
use gong_exporter::http::webconfig::WebConfig;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A self-signed certificate and key for localhost, as PEM.
fn self_signed(name: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    // Rename over the old file, as certificate managers do.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    path.display().to_string()
}

async fn start_with(dir: &Path) -> ExporterGuard {
    let path = dir.join("web.yml");
    let mut config = demo_config(5);
    config.web_config = Some((path.clone(), WebConfig::load(&path).unwrap()));
    start_exporter(config).await
}

fn client_trusting(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_metrics_and_picks_up_a_rotated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed("first");
    write(dir.path(), "cert.pem", &cert);
    write(dir.path(), "key.pem", &key);
    // Relative paths resolve against the config file's directory.
    write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: TLS12\n",
    );
    let exporter = start_with(dir.path()).await;
    let port = exporter.local_addr().port();
    let https = format!("https://localhost:{port}/metrics");

    // As Prometheus asks: OpenMetrics.
    let response =
        client_trusting(&cert).get(&https).header("accept", "application/openmetrics-text").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().ends_with("# EOF\n"));
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await;
    assert!(plain.is_err(), "plain HTTP is not served on a TLS port");

    let (new_cert, new_key) = self_signed("second");
    write(dir.path(), "key.pem", &new_key);
    write(dir.path(), "cert.pem", &new_cert);
    eventually("the rotated certificate", async || {
        client_trusting(&new_cert).get(&https).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(client_trusting(&cert).get(&https).send().await.is_err(), "old certificate no longer served");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_signed_by_the_ca_are_required() {
    let dir = tempfile::tempdir().unwrap();
    let (server_cert, server_key) = self_signed("server");
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let client_key = KeyPair::generate().unwrap();
    let client_cert =
        CertificateParams::new(vec!["prometheus".to_owned()]).unwrap().signed_by(&client_key, &issuer).unwrap();
    write(dir.path(), "cert.pem", &server_cert);
    write(dir.path(), "key.pem", &server_key);
    write(dir.path(), "ca.pem", &ca_cert.pem());
    write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
    );
    let exporter = start_with(dir.path()).await;
    let url = format!("https://localhost:{}/metrics", exporter.local_addr().port());

    assert!(client_trusting(&server_cert).get(&url).send().await.is_err(), "no client certificate: refused");
    let identity =
        reqwest::Identity::from_pem(format!("{}{}", client_cert.pem(), client_key.serialize_pem()).as_bytes()).unwrap();
    let with_cert = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(server_cert.as_bytes()).unwrap()])
        .identity(identity)
        .build()
        .unwrap();
    assert_eq!(with_cert.get(&url).send().await.unwrap().status(), 200);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_accepts_and_rejects_and_follows_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let alice = bcrypt::hash("alice-password", 4).unwrap();
    write(
        dir.path(),
        "web.yml",
        &format!("basic_auth_users:\n  alice: '{alice}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"),
    );
    let exporter = start_with(dir.path()).await;
    let base = format!("http://{}", exporter.local_addr());
    let client = reqwest::Client::new();
    let get = async |path: &str, user: Option<(&str, &str)>| {
        let request = client.get(format!("{base}{path}"));
        let request = match user {
            Some((u, p)) => request.basic_auth(u, Some(p)),
            None => request,
        };
        request.send().await.unwrap()
    };

    let denied = get("/metrics", None).await;
    assert_eq!(denied.status(), 401);
    assert_eq!(denied.headers()["www-authenticate"], "Basic realm=\"gong-exporter\"");
    assert_eq!(get("/metrics", Some(("alice", "wrong"))).await.status(), 401);
    assert_eq!(get("/metrics", Some(("mallory", "alice-password"))).await.status(), 401);
    assert_eq!(get("/", None).await.status(), 401, "the landing page is protected too");
    let ok = get("/metrics", Some(("alice", "alice-password"))).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-frame-options"], "deny");
    // A second request hits the verified-password cache.
    assert_eq!(get("/metrics", Some(("alice", "alice-password"))).await.status(), 200);
    // Orchestrators probe health without credentials.
    assert_eq!(get("/-/healthy", None).await.status(), 200);

    let bob = bcrypt::hash("bob-password", 4).unwrap();
    write(dir.path(), "web.yml", &format!("basic_auth_users:\n  bob: '{bob}'\n"));
    eventually("bob to be let in", async || get("/metrics", Some(("bob", "bob-password"))).await.status() == 200).await;
    assert_eq!(get("/metrics", Some(("alice", "alice-password"))).await.status(), 401, "alice removed, cache cleared");

    // A broken file is not applied: bob keeps access.
    write(dir.path(), "web.yml", "basic_auth_users:\n  bob: not-a-hash\n");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get("/metrics", Some(("bob", "bob-password"))).await.status(), 200);
    exporter.shutdown().await;
}
