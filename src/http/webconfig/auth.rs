//! Basic auth from the web config's `basic_auth_users`: bcrypt hashes,
//! checked one at a time, with a cache of passwords that already passed so
//! that a scrape does not pay for bcrypt each time.
//!
//! Under a flood of wrong credentials: unknown users cost no bcrypt at all
//! (they wait in the same queue for as long as a check would take, the core
//! left free), every check is admitted as one of the highest configured
//! cost, a check is refused at once when the checks already waiting
//! would take more than [`MAX_BCRYPT_WAIT`], and every refusal takes as long
//! as a check of the highest configured cost. Neither how long an answer
//! took nor how a burst of them was answered tells which user names exist.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::config::WebConfig;
use crate::secret::Secret;

/// The work factors accepted. bcrypt allows 4 to 31, but each step doubles
/// the work: cost 14 takes about a second of a core, 31 about a day and a
/// half, long enough for one request to pin a core. exporter-toolkit's users
/// pick 10 to 14 (htpasswd's default is 5, Prometheus's docs show 10).
const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=14;

/// The longest a check may wait for the checks ahead of it: beyond it, a
/// check is refused at once (429) rather than queued, so a flood of wrong
/// passwords cannot hold a valid login past a scrape's timeout.
pub const MAX_BCRYPT_WAIT: Duration = Duration::from_secs(1);

/// Salt and hash of the stand-in checked for unknown users (any valid
/// bcrypt text: no password is meant to match it).
const UNKNOWN_USER_SALT_AND_HASH: &str = "7EqJtq98hPqEX7fNZaFWoO5c2hYS1DSEgZ9fnfY8WT8nvd7MHKgBa";

/// Paths that stay open without credentials: orchestrators probe them and
/// they reveal nothing.
const OPEN_PATHS: [&str; 2] = ["/-/healthy", "/-/ready"];

/// Checked `basic_auth_users`: each user's bcrypt hash.
pub(super) struct Users {
    /// Each user's hash and the bcrypt cost it names.
    pub(super) hashes: BTreeMap<String, (Secret, u32)>,
    /// A hash of the highest cost among `hashes`, which no password
    /// matches: timed once to learn how long a refusal must take.
    pub(super) unknown_user_hash: Secret,
    /// The highest cost in `hashes`: a refusal takes as long as a check of it.
    highest_cost: u32,
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
            let cost = parts.get_cost();
            if !BCRYPT_COSTS.contains(&cost) {
                return Err(format!(
                    "basic_auth_users.{user}: bcrypt cost {cost} is outside {}..={} (each step doubles the work a \
                     login costs; hash the password again with a cost of 10 to 12, e.g. htpasswd -nBC 12 {user})",
                    BCRYPT_COSTS.start(),
                    BCRYPT_COSTS.end()
                ));
            }
            highest_cost = highest_cost.max(cost);
            hashes.insert(user, (Secret::new(hash), cost));
        }
        let unknown_user_hash = Secret::new(format!("$2b${highest_cost:02}${UNKNOWN_USER_SALT_AND_HASH}"));
        Ok(Self { hashes, unknown_user_hash, highest_cost })
    }
}

/// bcrypt checks, one at a time (as exporter-toolkit serialises them): a
/// flood of wrong passwords costs one core, not all of them. Each runs on a
/// thread of its own that nothing waits for: a client that leaves, or a
/// shutdown, does not wait out a hash of a high cost. A check is admitted
/// only while the checks admitted before it would take at most
/// [`MAX_BCRYPT_WAIT`].
#[derive(Debug)]
pub struct BcryptGate {
    slot: Arc<tokio::sync::Semaphore>,
    /// Estimated microseconds of work admitted and not finished.
    admitted: Arc<AtomicU64>,
    /// How long the last check took at each cost, in microseconds (0: none
    /// seen yet).
    took: Arc<[AtomicU64; 32]>,
    /// Hashes running now, and the most ever at once: what the slot
    /// bounds, counted where the work happens (a thread's name outlives
    /// its work, so counting threads overstates it).
    hashing: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Default for BcryptGate {
    fn default() -> Self {
        Self {
            slot: Arc::new(tokio::sync::Semaphore::new(1)),
            admitted: Arc::default(),
            took: Arc::new(std::array::from_fn(|_| AtomicU64::new(0))),
            hashing: Arc::default(),
        }
    }
}

impl BcryptGate {
    /// How long one check at `cost` takes: as last seen at that cost, or
    /// scaled from the nearest cost seen (each step doubles the work); zero
    /// before any check was timed.
    fn estimate(&self, cost: u32) -> Duration {
        let seen = (0..32u32).filter_map(|c| {
            let micros = self.took[c as usize].load(Ordering::Acquire);
            (micros > 0).then_some((c, micros))
        });
        let Some((nearest, micros)) = seen.min_by_key(|(c, _)| c.abs_diff(cost)) else {
            return Duration::ZERO;
        };
        let scaled = if cost >= nearest {
            micros.saturating_mul(1u64.checked_shl(cost - nearest).unwrap_or(u64::MAX))
        } else {
            micros >> (nearest - cost)
        };
        Duration::from_micros(scaled)
    }

    /// Whether the work already admitted would keep a new check waiting
    /// longer than [`MAX_BCRYPT_WAIT`].
    fn over_bound(&self) -> bool {
        self.admitted.load(Ordering::Acquire) > MAX_BCRYPT_WAIT.as_micros() as u64
    }

    /// Times a check of `hash` (at `cost`) that no password matches, off the
    /// slot, on a thread of its own: the handle lets the start wait for it,
    /// so that how long a refusal must take is known before the first one.
    fn calibrate(&self, hash: String, cost: u32) -> Option<std::thread::JoinHandle<()>> {
        let took = Arc::clone(&self.took);
        std::thread::Builder::new()
            .name("bcrypt-calibrate".to_owned())
            .spawn(move || {
                let started = Instant::now();
                let _ = bcrypt::verify("", &hash);
                took[cost as usize].store(started.elapsed().as_micros().max(1) as u64, Ordering::Release);
            })
            .ok()
    }

    /// Admits a check as long as one at `cost` takes, unless the work
    /// admitted before it is over the bound; then waits for the slot. The
    /// admission counts until the returned turn is dropped, also when the
    /// caller is dropped while it waits (a client that left): work admitted
    /// and never subtracted would keep every later login refused.
    async fn turn(&self, cost: u32) -> Option<Turn> {
        let micros = self.estimate(cost).as_micros() as u64;
        if self.admitted.fetch_add(micros, Ordering::AcqRel) > MAX_BCRYPT_WAIT.as_micros() as u64 {
            self.admitted.fetch_sub(micros, Ordering::AcqRel);
            return None;
        }
        let admission = Admission { admitted: Arc::clone(&self.admitted), micros };
        let slot = Arc::clone(&self.slot).acquire_owned().await.ok()?;
        Some(Turn { _slot: slot, _admission: admission })
    }

    /// Queues as a check at `cost` would, and holds the slot as long as one
    /// takes, without hashing: a burst of logins for an unknown name is
    /// admitted, queued and refused at once just as one for a known name
    /// is, while the core stays free. `None`, at once, past the bound.
    pub async fn stand_in(&self, cost: u32) -> Option<()> {
        let took = self.estimate(cost);
        let turn = self.turn(cost).await?;
        let (done, finished) = tokio::sync::oneshot::channel();
        // Its own task, as a hash has its own thread: a client that leaves
        // does not free the slot sooner than a hash would.
        tokio::spawn(async move {
            tokio::time::sleep(took).await;
            drop(turn);
            let _ = done.send(());
        });
        let _ = finished.await;
        Some(())
    }

    /// Whether `password` matches `hash` (of `cost`), after the checks
    /// admitted before it; `None`, at once, when they would take longer
    /// than [`MAX_BCRYPT_WAIT`]. It is admitted as a check of `admit_as`
    /// (the highest configured cost), and holds the slot as long as one
    /// takes: a cheaper hash admitted or held at its own cost would let
    /// logins for its user get fewer 429s than ones for an unknown name,
    /// in a burst or spaced out, telling the names apart.
    pub async fn verify(&self, password: String, hash: String, cost: u32, admit_as: u32) -> Option<bool> {
        let admit_as = admit_as.max(cost);
        // A hash at `admit_as` holds the slot for what it takes itself.
        let hold = if cost < admit_as { self.estimate(admit_as) } else { Duration::ZERO };
        let turn = self.turn(admit_as).await?;
        let (answer, answered) = tokio::sync::oneshot::channel();
        let (hashing, took) = (Arc::clone(&self.hashing), Arc::clone(&self.took));
        let spawned = std::thread::Builder::new().name("bcrypt".to_owned()).spawn(move || {
            // The slot is held until the hash is done, even if the client
            // left: the next check waits for the core to be free.
            let (now, most) = &*hashing;
            most.fetch_max(now.fetch_add(1, Ordering::AcqRel) + 1, Ordering::AcqRel);
            let started = Instant::now();
            let matched = bcrypt::verify(password, &hash).unwrap_or(false);
            took[cost as usize].store(started.elapsed().as_micros().max(1) as u64, Ordering::Release);
            now.fetch_sub(1, Ordering::AcqRel);
            if let Err((_, turn, _)) = answer.send((matched, turn, started)) {
                // The client left: the rest of the hold is waited here.
                std::thread::sleep(hold.saturating_sub(started.elapsed()));
                drop(turn);
            }
        });
        if spawned.is_err() {
            // The closure, and the turn with it, was dropped.
            return Some(false);
        }
        let (matched, turn, started) = answered.await.ok()?;
        let rest = hold.saturating_sub(started.elapsed());
        if rest.is_zero() {
            // Free before answering, so a caller that has its answer finds
            // the slot free.
            drop(turn);
        } else {
            // The core is free; the slot stays taken for the rest of a
            // check at `admit_as`, on a task of its own as a stand-in's is.
            tokio::spawn(async move {
                tokio::time::sleep(rest).await;
                drop(turn);
            });
        }
        Some(matched)
    }
}

/// Work admitted to the gate, counted until dropped.
#[derive(Debug)]
struct Admission {
    admitted: Arc<AtomicU64>,
    micros: u64,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.admitted.fetch_sub(self.micros, Ordering::AcqRel);
    }
}

/// A check's turn: the slot, and its admitted work, both given back when
/// it is dropped.
#[derive(Debug)]
struct Turn {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _admission: Admission,
}

/// What a check of credentials found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Allowed,
    Refused,
    /// Too many checks waiting: refused at once, without checking.
    Busy,
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
        let bcrypt = BcryptGate::default();
        // Waited for at start (a second at most, at the highest cost
        // allowed): before it, refusals could not be padded to a check's
        // length nor work be bounded. A reload keeps the timings it has.
        if let Some(timing) = calibrate(&bcrypt, &config) {
            let _ = timing.join();
        }
        Arc::new(Self { current: ArcSwap::from_pointee(config), bcrypt, verified: Mutex::new(HashMap::new()) })
    }

    /// The config in force.
    pub(super) fn current(&self) -> Arc<WebConfig> {
        self.current.load_full()
    }

    /// Puts `config` in force; passwords that passed under the old one
    /// must pass bcrypt again.
    pub(super) fn replace(&self, config: WebConfig) {
        let _ = calibrate(&self.bcrypt, &config);
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

    /// Checks `user`'s `password`. An unknown user costs no bcrypt but
    /// queues as a check would; every refusal takes as long as a check of
    /// the highest configured cost, so neither an unknown user nor a known
    /// one with a cheaper hash answers sooner. Too many checks waiting
    /// refuses at once, whoever asks.
    async fn check(&self, config: &WebConfig, user: &str, password: &str) -> Access {
        let started = Instant::now();
        let users = &config.users;
        let known = users.hashes.get(user);
        if known.is_some_and(|(hash, _)| self.remembered(user, hash, password)) {
            return Access::Allowed;
        }
        if self.bcrypt.over_bound() {
            return Access::Busy;
        }
        if let Some((hash, cost)) = known {
            match self.bcrypt.verify(password.to_owned(), hash.expose().to_owned(), *cost, users.highest_cost).await {
                Some(true) => {
                    let verified = Verified { hash: hash.clone(), password: Secret::new(password) };
                    self.verified.lock().expect("auth cache").insert(user.to_owned(), verified);
                    return Access::Allowed;
                }
                Some(false) => {}
                None => return Access::Busy,
            }
        } else if self.bcrypt.stand_in(users.highest_cost).await.is_none() {
            return Access::Busy;
        }
        tokio::time::sleep_until((started + self.bcrypt.estimate(users.highest_cost)).into()).await;
        Access::Refused
    }
}

/// Times the stand-in hash of `config`'s highest cost, when it has users.
fn calibrate(gate: &BcryptGate, config: &WebConfig) -> Option<std::thread::JoinHandle<()>> {
    if config.users.hashes.is_empty() {
        return None;
    }
    gate.calibrate(config.users.unknown_user_hash.expose().to_owned(), config.users.highest_cost)
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
        let access = match credentials.as_deref().and_then(|c| c.split_once(':')) {
            Some((user, password)) => state.check(&config, user, password).await,
            None => Access::Refused,
        };
        if access == Access::Busy {
            let mut response =
                (StatusCode::TOO_MANY_REQUESTS, "Too many logins being checked; retry in a second\n").into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            add_headers(&mut response, &config);
            return response;
        }
        if access == Access::Refused {
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
    fn hash_costs_outside_4_to_14_are_refused_at_start_naming_user_and_cost() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        for (cost, ok) in [("03", false), ("04", true), ("14", true), ("15", false), ("31", false), ("99", false)] {
            let with_cost = format!("{}{cost}{}", &hash[..4], &hash[6..]);
            let loaded = load(&format!("basic_auth_users:\n  alice: '{with_cost}'\n"));
            assert_eq!(loaded.is_ok(), ok, "cost {cost}: {loaded:?}");
            if let Err(error) = loaded {
                let cost = cost.trim_start_matches('0');
                assert!(
                    error.contains(&format!("basic_auth_users.alice: bcrypt cost {cost} is outside 4..=14")),
                    "{error}"
                );
            }
        }
    }

    #[test]
    fn the_stand_in_hash_has_the_highest_cost_of_the_known_ones() {
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
                tokio::spawn(async move { gate.verify("wrong".to_owned(), hash, 8, 8).await })
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
            assert_eq!(check.await.unwrap(), Some(false));
        }
        assert_eq!(gate.slot.available_permits(), 1);
        assert_eq!(gate.admitted.load(Ordering::Acquire), 0, "finished work is no longer counted");
        assert_eq!(gate.verify("pw".to_owned(), hash, 8, 8).await, Some(true));
    }

    #[tokio::test]
    async fn a_check_that_would_wait_over_a_second_is_refused_at_once() {
        let gate = Arc::new(BcryptGate::default());
        let hash = bcrypt::hash("pw", 10).unwrap();
        // As if a check at cost 10 took 0.6 s: two admitted make 1.2 s of
        // work ahead of a third.
        gate.took[10].store(600_000, Ordering::Release);
        let running: Vec<_> = (0..2)
            .map(|_| {
                let (gate, hash) = (Arc::clone(&gate), hash.clone());
                tokio::spawn(async move { gate.verify("wrong".to_owned(), hash, 10, 10).await })
            })
            .collect();
        while gate.admitted.load(Ordering::Acquire) < 1_200_000 {
            tokio::task::yield_now().await;
        }
        assert!(gate.over_bound());
        assert_eq!(gate.verify("pw".to_owned(), hash.clone(), 10, 10).await, None, "refused without a hash");
        for check in running {
            assert_eq!(check.await.unwrap(), Some(false));
        }
        assert!(!gate.over_bound());
        assert_eq!(gate.verify("pw".to_owned(), hash, 10, 10).await, Some(true), "admitted again");
    }

    /// A cheap hash holds the slot as long as a check at the highest cost
    /// does: logins spaced out for its user queue later ones exactly as
    /// logins for an unknown name (whose stand-in holds it that long) do.
    #[tokio::test]
    async fn a_cheap_hash_holds_the_slot_as_long_as_the_costliest_check() {
        let gate = BcryptGate::default();
        gate.took[10].store(400_000, Ordering::Release);
        let hash = bcrypt::hash("pw", 4).unwrap();
        let started = Instant::now();
        assert_eq!(gate.verify("pw".to_owned(), hash, 4, 10).await, Some(true));
        assert!(started.elapsed() < Duration::from_millis(300), "the answer does not wait: {:?}", started.elapsed());
        assert_eq!(gate.slot.available_permits(), 0, "the slot is still taken");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(gate.slot.available_permits(), 1);
        assert_eq!(gate.admitted.load(Ordering::Acquire), 0);
    }

    /// A check admitted and then dropped while it waited for the slot (its
    /// client left) never gave its work back: past a second of such work,
    /// every later login was refused until a restart.
    #[tokio::test]
    async fn a_check_dropped_while_it_waits_gives_its_admitted_work_back() {
        let gate = Arc::new(BcryptGate::default());
        gate.took[10].store(300_000, Ordering::Release);
        let hash = bcrypt::hash("pw", 4).unwrap();
        let held = Arc::clone(&gate.slot).acquire_owned().await.unwrap();
        let waiting = [
            tokio::spawn({
                let gate = Arc::clone(&gate);
                async move { gate.verify("pw".to_owned(), hash, 4, 10).await }
            }),
            tokio::spawn({
                let gate = Arc::clone(&gate);
                async move { gate.stand_in(10).await.map(|()| false) }
            }),
        ];
        while gate.admitted.load(Ordering::Acquire) < 600_000 {
            tokio::task::yield_now().await;
        }
        for check in &waiting {
            check.abort();
        }
        for check in waiting {
            assert!(check.await.unwrap_err().is_cancelled());
        }
        assert_eq!(gate.admitted.load(Ordering::Acquire), 0, "nothing stays admitted");
        drop(held);
        assert_eq!(gate.slot.available_permits(), 1);
    }

    #[test]
    fn a_cost_not_seen_yet_is_estimated_from_the_nearest_seen() {
        let gate = BcryptGate::default();
        assert_eq!(gate.estimate(10), Duration::ZERO, "nothing timed yet");
        gate.took[8].store(1_000, Ordering::Release);
        assert_eq!(gate.estimate(8), Duration::from_micros(1_000));
        assert_eq!(gate.estimate(10), Duration::from_micros(4_000));
        assert_eq!(gate.estimate(6), Duration::from_micros(250));
    }

    #[tokio::test]
    async fn an_unknown_user_costs_no_bcrypt_and_is_refused_no_sooner_than_a_known_one() {
        let (cheap, dear) = (bcrypt::hash("pw", 4).unwrap(), bcrypt::hash("pw", 9).unwrap());
        let config = load(&format!("basic_auth_users:\n  a: '{cheap}'\n  b: '{dear}'\n")).unwrap();
        let state = WebState::new(config);
        let config = state.current();
        assert!(
            state.bcrypt.took[9].load(Ordering::Acquire) > 0,
            "the stand-in of cost 9 is timed before the start ends"
        );
        let floor = state.bcrypt.estimate(9);
        for (user, password) in [("nobody", "pw"), ("a", "wrong")] {
            let started = Instant::now();
            assert_eq!(state.check(&config, user, password).await, Access::Refused);
            assert!(started.elapsed() >= floor, "{user}: {:?} < {floor:?}", started.elapsed());
        }
        assert_eq!(state.bcrypt.hashing.1.load(Ordering::Acquire), 1, "only the known user's check hashed");
        assert_eq!(state.check(&config, "a", "pw").await, Access::Allowed);
    }

    /// A burst of wrong logins for a name that exists filled the queue and
    /// got 429s, while one for a name that does not never did: the burst's
    /// answers told the names apart. Unknown names now queue as checks.
    #[tokio::test]
    async fn a_burst_for_an_unknown_name_queues_and_is_refused_at_once_as_for_a_known_one() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let state = WebState::new(load(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap());
        let config = state.current();
        // As if a check took 0.3 s: four are admitted (0, 0.3, 0.6 and 0.9 s
        // ahead of them), the fifth would wait past the bound.
        state.bcrypt.took[4].store(300_000, Ordering::Release);
        let burst: Vec<_> = (0..8)
            .map(|_| {
                let (state, config) = (Arc::clone(&state), Arc::clone(&config));
                tokio::spawn(async move { state.check(&config, "nobody", "pw").await })
            })
            .collect();
        let mut answers = Vec::new();
        for check in burst {
            answers.push(check.await.unwrap());
        }
        let busy = answers.iter().filter(|a| **a == Access::Busy).count();
        assert_eq!((busy, answers.len() - busy), (4, 4), "{answers:?}");
        assert!(answers.iter().all(|a| *a != Access::Allowed));
        assert_eq!(state.bcrypt.hashing.1.load(Ordering::Acquire), 0, "the core was left free");
        assert_eq!(state.bcrypt.admitted.load(Ordering::Acquire), 0, "their work is no longer counted");
        assert_eq!(state.bcrypt.slot.available_permits(), 1);
    }

    /// Through the middleware: while the admitted work is over the bound,
    /// a known and an unknown user alike get 429 with Retry-After at once
    /// (no bcrypt), and once it drains they get their usual answers.
    #[tokio::test]
    async fn past_the_bound_every_login_gets_429_at_once_then_the_usual_answer() {
        use axum::body::Body;
        use tower::ServiceExt as _;
        let hash = bcrypt::hash("pw", 4).unwrap();
        let state = WebState::new(load(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap());
        let app = axum::Router::new()
            .route("/metrics", axum::routing::get(|| async { "data" }))
            .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), guard));
        let login = |user: &str, password: &str| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Request::get("/metrics")
                .header(header::AUTHORIZATION, format!("Basic {encoded}"))
                .body(Body::empty())
                .unwrap()
        };
        // As if checks worth two seconds were admitted and still running.
        state.bcrypt.admitted.store(2_000_000, Ordering::Release);
        for (user, password) in [("alice", "pw"), ("nobody", "pw")] {
            let response = app.clone().oneshot(login(user, password)).await.unwrap();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{user}");
            assert_eq!(response.headers()[header::RETRY_AFTER], "1", "{user}");
        }
        assert_eq!(state.bcrypt.hashing.1.load(Ordering::Acquire), 0, "no hash was run");
        state.bcrypt.admitted.store(0, Ordering::Release);
        assert_eq!(app.clone().oneshot(login("alice", "pw")).await.unwrap().status(), StatusCode::OK);
        assert_eq!(app.oneshot(login("nobody", "pw")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
}
