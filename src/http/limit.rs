//! Rate limits on the intake, two kinds, each a token bucket:
//!
//! - [`Limiter`], per team: filled at `per_second` up to `burst`, one token
//!   a request. A request with none left is answered 429 with `Retry-After`
//!   (Alertmanager, Grafana and PagerDuty's clients retry on 429), before
//!   its body is read. Keyed by team, after the key was checked: a team's
//!   current and next key share one (a rotation does not double the rate),
//!   and requests with unknown keys make no buckets.
//! - [`Guesses`], per client: the wrong integration keys a client may send
//!   ([`GUESS_BURST`], one more every [`GUESS_EVERY`]), so that keys cannot
//!   be guessed at the rate the daemon answers.
//!
//! A [`Limiter`] keyed by person also bounds test pages
//! ([`Limiter::test_pages`]): each sends an SMS, a call and more, which
//! cost money and wake a phone, so a token (or a session) may not send them
//! as fast as it can ask.
//!
//! Time comes from the daemon's clock, so tests step it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::Duration;

use crate::domain::time::Instant;
use crate::settings::RateLimit;

pub struct Limiter {
    limit: RateLimit,
    /// (tokens left, when counted), by team. The lock is held for a few
    /// arithmetic operations, never across an await.
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Test pages a person may be sent at once...
pub const TEST_PAGE_BURST: u32 = 3;
/// ...and how often one more after that, in seconds.
pub const TEST_PAGE_EVERY: u32 = 60;

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Test pages, keyed by person: [`TEST_PAGE_BURST`] at once, then one
    /// every [`TEST_PAGE_EVERY`] seconds, whoever asks for them.
    pub fn test_pages() -> Limiter {
        Limiter::new(RateLimit {
            per_second: 1.0 / f64::from(TEST_PAGE_EVERY),
            burst: TEST_PAGE_BURST,
        })
    }

    /// Takes a token for `team` at `now`; or, if there is none, says in how
    /// many whole seconds there will be one.
    pub fn take(&self, team: &str, now: Instant) -> Result<(), u64> {
        let burst = f64::from(self.limit.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = buckets.entry(team.to_string()).or_insert((burst, now));
        // A clock that went back refills nothing.
        let elapsed = (now - *at).num_milliseconds().max(0) as f64 / 1000.0;
        *tokens = (*tokens + elapsed * self.limit.per_second).min(burst);
        *at = now.max(*at);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.limit.per_second;
            Err((wait.ceil() as u64).max(1))
        }
    }
}

/// Wrong integration keys a client may send at once...
pub const GUESS_BURST: u32 = 20;
/// ...and how often it may send one more after that.
pub const GUESS_EVERY: Duration = Duration::seconds(6);
/// The most clients remembered; past it, clients whose budget is whole are
/// forgotten to make room, and a client that finds no room is not counted.
const MAX_CLIENTS: usize = 100_000;
/// The most teams remembered for one client (each client's `teams` in [`Guesses`]).
const MAX_TEAMS: usize = 64;

/// The failure budget of integration keys, per client (its IP address; an
/// IPv6 client by its /64, which one host can fill with addresses).
///
/// While a client has budget left every key it sends is checked, and each
/// wrong one spends some. Once its budget is spent, its keys are no longer
/// checked against every team's: only against the keys of the teams it
/// sent a right key for before (so a sender that knows its key is not
/// slowed by a neighbour guessing, or by an old key it still sends); any
/// other key is answered 429 with `Retry-After`, right or wrong, so that
/// guessing learns nothing faster than the budget comes back.
///
/// Behind a reverse proxy every client has the proxy's address, and shares
/// its budget: the right keys still go through, guesses through the proxy
/// are slowed together.
pub struct Guesses {
    /// By client: (failures left, when counted, teams it sent a right key
    /// for). The lock is held for a few operations, never across an await.
    clients: Mutex<HashMap<IpAddr, Client>>,
}

struct Client {
    left: f64,
    at: Instant,
    teams: Vec<String>,
}

impl Client {
    fn new(now: Instant) -> Client {
        Client {
            left: f64::from(GUESS_BURST),
            at: now,
            teams: Vec::new(),
        }
    }

    /// Counts the budget come back since it was last counted.
    fn refill(&mut self, now: Instant) {
        // A clock that went back refills nothing.
        let elapsed = (now - self.at).num_milliseconds().max(0) as f64;
        let every = GUESS_EVERY.num_milliseconds() as f64;
        self.left = (self.left + elapsed / every).min(f64::from(GUESS_BURST));
        self.at = now.max(self.at);
    }

    /// Whole seconds until one more failure is allowed.
    fn wait(&self) -> u64 {
        let seconds = (1.0 - self.left) * GUESS_EVERY.num_milliseconds() as f64 / 1000.0;
        (seconds.ceil() as u64).max(1)
    }
}

/// How a client is counted: an IPv4 address (or one mapped into IPv6) as
/// itself, an IPv6 one by its /64.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

impl Default for Guesses {
    fn default() -> Guesses {
        Guesses::new()
    }
}

impl Guesses {
    pub fn new() -> Guesses {
        Guesses {
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, ip: IpAddr, now: Instant, f: impl FnOnce(&mut Client) -> T) -> Option<T> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let client = client_of(ip);
        if !clients.contains_key(&client) && clients.len() >= MAX_CLIENTS {
            clients.retain(|_, c| {
                c.refill(now);
                c.left < f64::from(GUESS_BURST)
            });
            if clients.len() >= MAX_CLIENTS {
                return None;
            }
        }
        let entry = clients.entry(client).or_insert_with(|| Client::new(now));
        entry.refill(now);
        Some(f(entry))
    }

    /// `None` while `ip` may have its keys checked; else the teams whose
    /// keys it may still send, and in how many whole seconds one more
    /// failure is allowed.
    pub fn spent(&self, ip: IpAddr, now: Instant) -> Option<(Vec<String>, u64)> {
        self.with(ip, now, |c| (c.left < 1.0).then(|| (c.teams.clone(), c.wait())))
            .flatten()
    }

    /// `ip` sent a wrong key at `now`; `true` if that spent its budget.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> bool {
        self.with(ip, now, |c| {
            c.left = (c.left - 1.0).max(0.0);
            c.left < 1.0
        })
        .unwrap_or(false)
    }

    /// `ip` sent `team`'s key at `now`.
    pub fn succeeded(&self, ip: IpAddr, team: &str, now: Instant) {
        self.with(ip, now, |c| {
            if !c.teams.iter().any(|t| t == team) && c.teams.len() < MAX_TEAMS {
                c.teams.push(team.to_string());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};

    fn t0() -> Instant {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        });
        let now = t0();
        for _ in 0..3 {
            assert_eq!(limiter.take("payments", now), Ok(()));
        }
        assert_eq!(limiter.take("payments", now), Err(1));
        // Another team has its own bucket.
        assert_eq!(limiter.take("platform", now), Ok(()));
        // Half a second gives one token back (2 a second).
        let later = now + Duration::milliseconds(500);
        assert_eq!(limiter.take("payments", later), Ok(()));
        assert_eq!(limiter.take("payments", later), Err(1));
        // A long quiet spell refills up to the burst, not beyond.
        let much_later = later + Duration::hours(1);
        for _ in 0..3 {
            assert_eq!(limiter.take("payments", much_later), Ok(()));
        }
        assert!(limiter.take("payments", much_later).is_err());
    }

    #[test]
    fn guesses_are_counted_per_client_and_come_back() {
        let guesses = Guesses::new();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let now = t0();
        guesses.succeeded(a, "payments", now);
        for i in 1..=GUESS_BURST {
            assert_eq!(guesses.spent(a, now), None, "{i}");
            assert_eq!(guesses.failed(a, now), i == GUESS_BURST, "{i}");
        }
        assert_eq!(guesses.spent(a, now), Some((vec!["payments".to_string()], 6)));
        assert_eq!(guesses.spent(b, now), None, "another client has its own");
        let later = now + GUESS_EVERY;
        assert_eq!(guesses.spent(a, later), None);
        assert!(guesses.failed(a, later));
        assert_eq!(guesses.spent(a, later).map(|s| s.1), Some(6));
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let guesses = Guesses::new();
        let now = t0();
        for i in 0..GUESS_BURST {
            let ip: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            guesses.failed(ip, now);
        }
        assert!(guesses.spent("2001:db8:1:2:ffff::1".parse().unwrap(), now).is_some());
        assert!(guesses.spent("2001:db8:1:3::1".parse().unwrap(), now).is_none());
        // An IPv4 address mapped into IPv6 is the IPv4 client.
        for _ in 0..GUESS_BURST {
            guesses.failed("198.51.100.7".parse().unwrap(), now);
        }
        assert!(guesses.spent("::ffff:198.51.100.7".parse().unwrap(), now).is_some());
    }

    #[test]
    fn retry_after_covers_a_slow_rate() {
        let limiter = Limiter::new(RateLimit {
            per_second: 0.1,
            burst: 1,
        });
        assert_eq!(limiter.take("t", t0()), Ok(()));
        assert_eq!(limiter.take("t", t0()), Err(10));
        assert_eq!(limiter.take("t", t0() + Duration::seconds(4)), Err(6));
        // A clock that goes back neither refills nor breaks the bucket.
        assert_eq!(limiter.take("t", t0() - Duration::seconds(60)), Err(6));
        assert_eq!(limiter.take("t", t0() + Duration::seconds(10)), Ok(()));
    }
}
