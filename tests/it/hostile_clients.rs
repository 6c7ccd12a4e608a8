//! Hostile clients on our port: slow and idle connections (slowloris),
//! plain and TLS, are closed and capped, and scrapes still get through.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;
use gong_exporter::http::webconfig::WebConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Slow clients opened: three times the connection cap.
const SLOW_CLIENTS: usize = 3 * MAX_CONNECTIONS;
const MAX_CONNECTIONS: usize = 64;

/// This process's descriptors that are TCP sockets on `port` (listening
/// there, or connected to or from it): the exporter's, and the test's
/// clients of it. Every other test in this process opens and closes
/// descriptors of its own meanwhile: the process's total would count them.
fn descriptors_on(port: u16) -> usize {
    let sockets: HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| Some(target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned()))
        .collect();
    let port_of = |address: &str| address.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    let mut found = 0;
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        for fields in text.lines().skip(1).map(|l| l.split_whitespace().collect::<Vec<_>>()) {
            let on_port = port_of(fields[1]) == Some(port) || port_of(fields[2]) == Some(port);
            if on_port && sockets.contains(fields[9]) {
                found += 1;
            }
        }
    }
    found
}

fn self_signed() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

/// Opens `SLOW_CLIENTS` connections that each send the start of `opening`
/// and stall; then checks that a real client still gets through, that the
/// exporter never holds more than the cap, and that every stalled
/// connection is closed by the exporter within the idle timeout.
async fn slow_clients_are_capped_and_closed(dir: &Path, tls: bool) {
    let mut config = demo_config(5);
    config.max_connections = MAX_CONNECTIONS;
    config.idle_timeout = Duration::from_secs(1);
    let (cert, key) = self_signed();
    if tls {
        std::fs::write(dir.join("cert.pem"), &cert).unwrap();
        std::fs::write(dir.join("key.pem"), &key).unwrap();
        std::fs::write(dir.join("web.yml"), "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n")
            .unwrap();
        let path = dir.join("web.yml");
        config.web_config = Some((path.clone(), WebConfig::load(&path).unwrap()));
    }
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.as_bytes()).unwrap()])
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let url = |path: &str| {
        if tls { format!("https://localhost:{}{path}", addr.port()) } else { format!("http://{addr}{path}") }
    };
    let before = descriptors_on(addr.port());

    // Half a request's headers, or half a TLS ClientHello record header.
    let opening: &[u8] = if tls { b"\x16\x03\x01" } else { b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " };
    let mut slow = Vec::with_capacity(SLOW_CLIENTS);
    for _ in 0..SLOW_CLIENTS {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(opening).await.unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = descriptors_on(addr.port()).saturating_sub(before);
    assert!(held >= SLOW_CLIENTS, "{held} descriptors: our own {SLOW_CLIENTS} clients' ends are counted");
    // Our clients' ends, plus at most the cap on the exporter's side (and
    // a few of its own).
    assert!(held <= SLOW_CLIENTS + MAX_CONNECTIONS + 8, "{held} descriptors for {SLOW_CLIENTS} slow clients");

    if !tls {
        // A keep-alive connection idle after its request is closed too.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut answer = vec![0u8; 4096];
        let n = idle.read(&mut answer).await.unwrap();
        assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer[..n]));
        let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut answer)).await;
        assert!(matches!(closed, Ok(Ok(0) | Err(_))), "an idle keep-alive connection stays open: {closed:?}");
    }
    let started = Instant::now();
    let healthy = client.get(url("/-/healthy")).send().await.expect("/-/healthy answers while slow clients wait");
    assert_eq!(healthy.status(), 200);
    let scrape = client.get(url("/metrics")).send().await.expect("/metrics answers while slow clients wait");
    assert_eq!(scrape.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(15), "scrapes took {:?}", started.elapsed());

    // Every stalled connection was closed by the exporter: a read ends
    // (EOF or reset) instead of waiting for ever.
    for (n, stream) in slow.iter_mut().enumerate() {
        let mut buf = [0u8; 256];
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "slow connection {n} of {SLOW_CLIENTS} still open");
    }
    exporter.shutdown().await;
}

/// Plain, then TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_on_plain_http_and_tls_is_capped_and_closed() {
    for tls in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        slow_clients_are_capped_and_closed(dir.path(), tls).await;
    }
}

/// Every way a reload could quietly weaken the running web config keeps the
/// previous one: an emptied file, an invalid one, a deleted one, one that
/// drops every user. A real change still applies, and the scheme name is
/// case-insensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_never_turns_basic_auth_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    // One user per bad file below, each checked for the first time after
    // it: a password remembered from before cannot pass for the kept config.
    let hash = bcrypt::hash("pw", 4).unwrap();
    let users: String = (0..5).map(|i| format!("  user{i}: '{hash}'\n")).collect();
    std::fs::write(&path, format!("basic_auth_users:\n{users}")).unwrap();
    let mut config = demo_config(5);
    config.web_config = Some((path.clone(), WebConfig::load(&path).unwrap()));
    config.web_config_check = Duration::from_millis(50);
    let exporter = start_exporter(config).await;
    let url = format!("http://{}/metrics", exporter.local_addr());
    let client = reqwest::Client::new();
    let status = |user: &'static str, password: &'static str| {
        let request = client.get(&url).basic_auth(user, Some(password));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let anonymous = || async { reqwest::get(&url).await.unwrap().status().as_u16() };
    assert_eq!(anonymous().await, 401);

    let bad_files: [(&str, Option<&str>); 5] = [
        ("emptied", Some("")),
        ("blank", Some("\n  \n")),
        ("invalid", Some("basic_auth_users: [\n")),
        ("without users", Some("basic_auth_users: {}\n")),
        ("deleted", None),
    ];
    for (user, (what, text)) in ["user0", "user1", "user2", "user3", "user4"].into_iter().zip(bad_files) {
        match text {
            Some(text) => std::fs::write(&path, text).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
        // Several checks of the file pass.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(anonymous().await, 401, "{what} file: auth must stay on");
        assert_eq!(status(user, "pw").await, 200, "{what} file: the previous users stay");
        assert_eq!(status(user, "wrong").await, 401, "{what} file: and their passwords");
    }

    let bob = bcrypt::hash("bob-pw", 4).unwrap();
    std::fs::write(&path, format!("basic_auth_users:\n  bob: '{bob}'\n")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while status("bob", "bob-pw").await != 200 {
        assert!(Instant::now() < deadline, "a valid change was never applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status("user0", "pw").await, 401, "user0 is gone, remembered password or not");
    // `basic` as well as `Basic` (RFC 9110: schemes are case-insensitive).
    let lower = client
        .get(&url)
        .header("authorization", format!("basic {}", base64_of("bob:bob-pw")))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(lower, 200);
    exporter.shutdown().await;
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
