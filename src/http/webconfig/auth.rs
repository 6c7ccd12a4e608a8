//! Basic auth from the web config's `basic_auth_users`: bcrypt hashes,
//! checked one at a time, with a cache of passwords that already passed so
//! that a scrape does not pay for bcrypt each time.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::config::WebConfig;
use crate::secret::Secret;

/// The work factors bcrypt allows.
const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// Salt and hash of the stand-in checked for unknown users (any valid
/// bcrypt text: no password is meant to match it).
const UNKNOWN_USER_SALT_AND_HASH: &str = "7EqJtq98hPqEX7fNZaFWoO5c2hYS1DSEgZ9fnfY8WT8nvd7MHKgBa";

/// Paths that stay open without credentials: orchestrators probe them and
/// they reveal nothing.
const OPEN_PATHS: [&str; 2] = ["/-/healthy", "/-/ready"];

/// Checked `basic_auth_users`: each user's bcrypt hash.
pub(super) struct Users {
    pub(super) hashes: BTreeMap<String, Secret>,
    /// A hash of the highest cost among `hashes`, checked for an unknown
    /// user so that it costs as long as a known one: a faster answer would
    /// tell which user names exist.
    pub(super) unknown_user_hash: Secret,
}

impl Users {
    /// The users and hashes as listed in the file; an error names the user
    /// whose hash is no bcrypt hash or has a cost bcrypt does not allow.
    pub(super) fn parse(listed: BTreeMap<String, String>) -> Result<Self, String> {
        let mut hashes = BTreeMap::new();
        let mut highest_cost = BCRYPT_COSTS.start().to_owned();
        for (user, hash) in listed {
            let parts = hash
                .parse::<bcrypt::HashParts>()
                .map_err(|e| format!("basic_auth_users.{user}: not a bcrypt hash ({e})"))?;
            if !BCRYPT_COSTS.contains(&parts.get_cost()) {
                return Err(format!(
                    "basic_auth_users.{user}: bcrypt cost {} is outside the {}..={} bcrypt allows",
                    parts.get_cost(),
                    BCRYPT_COSTS.start(),
                    BCRYPT_COSTS.end()
                ));
            }
            highest_cost = highest_cost.max(parts.get_cost());
            hashes.insert(user, Secret::new(hash));
        }
        let unknown_user_hash = Secret::new(format!("$2b${highest_cost:02}${UNKNOWN_USER_SALT_AND_HASH}"));
        Ok(Self { hashes, unknown_user_hash })
    }
}

/// bcrypt checks, one at a time (as exporter-toolkit serialises them): a
/// flood of wrong passwords costs one core, not all of them. Each runs on a
/// thread of its own that nothing waits for: a client that leaves, or a
/// shutdown, does not wait out a hash of a high cost.
#[derive(Debug)]
pub struct BcryptGate {
    slot: Arc<tokio::sync::Semaphore>,
    /// Hashes running now, and the most ever at once: what the slot
    /// bounds, counted where the work happens (a thread's name outlives
    /// its work, so counting threads overstates it).
    hashing: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Default for BcryptGate {
    fn default() -> Self {
        Self { slot: Arc::new(tokio::sync::Semaphore::new(1)), hashing: Arc::default() }
    }
}

impl BcryptGate {
    /// Whether `password` matches `hash`; waits for the one slot first.
    pub async fn verify(&self, password: String, hash: String) -> bool {
        let Ok(slot) = Arc::clone(&self.slot).acquire_owned().await else { return false };
        let (answer, answered) = tokio::sync::oneshot::channel();
        let hashing = Arc::clone(&self.hashing);
        let spawned = std::thread::Builder::new().name("bcrypt".to_owned()).spawn(move || {
            // The slot is held until the hash is done, even if the client
            // left: the next check waits for the core to be free.
            let (now, most) = &*hashing;
            most.fetch_max(now.fetch_add(1, Ordering::AcqRel) + 1, Ordering::AcqRel);
            let matched = bcrypt::verify(password, &hash).unwrap_or(false);
            now.fetch_sub(1, Ordering::AcqRel);
            // Free before answering, so a caller that has its answer finds
            // the core free.
            drop(slot);
            let _ = answer.send(matched);
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

    /// The config in force.
    pub(super) fn current(&self) -> Arc<WebConfig> {
        self.current.load_full()
    }

    /// Puts `config` in force; passwords that passed under the old one
    /// must pass bcrypt again.
    pub(super) fn replace(&self, config: WebConfig) {
        self.verified.lock().expect("auth cache").clear();
        self.current.store(Arc::new(config));
    }

    /// Whether `password` passed bcrypt for `user` against `hash`, the
    /// user's hash now. Compared in constant time: how long a wrong
    /// password takes to refuse must not tell how much of it matched.
    fn remembered(&self, user: &str, hash: &Secret, password: &str) -> bool {
        self.verified
            .lock()
            .expect("auth cache")
            .get(user)
            .is_some_and(|v| hash.constant_time_eq(v.hash.expose()) && v.password.constant_time_eq(password))
    }

    async fn check(&self, config: &WebConfig, user: &str, password: &str) -> bool {
        let known = config.users.hashes.get(user);
        if known.is_some_and(|hash| self.remembered(user, hash, password)) {
            return true;
        }
        let hash = known.unwrap_or(&config.users.unknown_user_hash).expose().to_owned();
        let ok = self.bcrypt.verify(password.to_owned(), hash.clone()).await && known.is_some();
        if ok {
            let verified = Verified { hash: Secret::new(hash), password: Secret::new(password) };
            self.verified.lock().expect("auth cache").insert(user.to_owned(), verified);
        }
        ok
    }
}

/// Middleware: basic auth (when users are configured) and extra headers.
pub async fn guard(State(state): State<Arc<WebState>>, request: Request, next: Next) -> Response {
    let config = state.current();
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
    use crate::http::webconfig::load_for_test as load;

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
        let unknown_user_hash = &c.users.unknown_user_hash;
        let parts: bcrypt::HashParts = unknown_user_hash.expose().parse().unwrap();
        assert_eq!(parts.get_cost(), 6);
        assert!(!bcrypt::verify("pw", unknown_user_hash.expose()).unwrap(), "a valid hash nothing matches");
    }

    #[test]
    fn a_remembered_password_lets_in_only_that_exact_password_under_that_hash() {
        let (hash, newer) = (bcrypt::hash("pw", 4).unwrap(), bcrypt::hash("pw", 4).unwrap());
        let state = WebState::new(load(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap());
        // As a check that passed bcrypt leaves it (no bcrypt here: another
        // test counts the bcrypt threads of this process).
        let verified = Verified { hash: Secret::new(&hash), password: Secret::new("pw") };
        state.verified.lock().unwrap().insert("alice".to_owned(), verified);
        let (hash, newer) = (Secret::new(hash), Secret::new(newer));
        assert!(state.remembered("alice", &hash, "pw"));
        for wrong in ["", "p", "pW", "pw ", "pwpw"] {
            assert!(!state.remembered("alice", &hash, wrong), "{wrong:?}");
        }
        assert!(!state.remembered("bob", &hash, "pw"), "remembered per user");
        assert!(!state.remembered("alice", &newer, "pw"), "only against the hash it passed");
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
        for check in &checks {
            while !check.is_finished() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        let most = gate.hashing.1.load(Ordering::Acquire);
        assert_eq!(most, 1, "at most one hash at a time, and one was seen");
        for check in checks {
            assert!(!check.await.unwrap());
        }
        assert_eq!(gate.slot.available_permits(), 1);
        assert!(gate.verify("pw".to_owned(), hash).await);
    }
}
