//! The engine's leader among several daemons on one database: a lease row
//! (`leader`, migration `0002_leader.sql`) with an expiry on the database
//! server's clock. See `docs/adr/0002-one-leader-by-a-lease-row.md`.
//!
//! The model:
//! - A thread per daemon, with its own connection, takes or renews the lease
//!   every [`RENEW`] for [`TTL`]: one statement that succeeds if the row is
//!   free, expired, or already this daemon's.
//! - The daemon leads while its own monotonic clock says the last successful
//!   renewal, counted from when it was *sent*, is younger than [`TTL`] less a
//!   margin: a daemon cut off from the database stops leading on its own,
//!   before the row expires for the others.
//! - Passes are fenced: the pass's transaction reads the row (`FOR SHARE`) and
//!   does nothing unless this daemon holds it, so a daemon that paused past
//!   its lease cannot claim beside the new leader.
//! - A new leader's first pass makes every claimed, undelivered notification
//!   due at once (the old leader may have died delivering it): pages in flight
//!   at a fail-over are sent again within seconds, not after the claims'
//!   two-minute lease. That is the duplicate bound: at most the messages in
//!   flight at the hand-over, once more each.
//! - On a clean stop the lease is released, and another daemon takes over on
//!   its next renewal.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as Monotonic};

use super::{Conn, Target, with_connection};
use crate::store::StoreError;

/// How long a lease lasts after a renewal.
pub const TTL: Duration = Duration::from_secs(4);

/// How often the lease is renewed (or, by a follower, tried).
pub const RENEW: Duration = Duration::from_secs(1);

/// How much earlier than [`TTL`] a leader stops trusting its lease: for
/// clock rates that differ between the daemon and the server.
const MARGIN: Duration = Duration::from_millis(500);

/// The server's clock in milliseconds.
macro_rules! server_ms {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    };
}

/// Takes the lease if it is free or expired, renews it if it is ours; the
/// term (a new one when taken from another holder) if we hold it after.
const TAKE: &str = concat!(
    "INSERT INTO leader (name, holder, term, expires_at) VALUES ('engine', $1, 1, ",
    server_ms!(),
    " + $2) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
     term = leader.term + CASE WHEN leader.holder = excluded.holder THEN 0 ELSE 1 END \
     WHERE leader.holder = excluded.holder OR leader.expires_at < ",
    server_ms!(),
    " RETURNING term"
);

/// Lets the lease go (a clean stop): expired, so the next to try takes it,
/// with the next term.
const RELEASE: &str = "UPDATE leader SET expires_at = 0 WHERE name = 'engine' AND holder = $1";

/// In a pass's transaction: the term, if this daemon holds the lease now.
pub(super) const FENCE: &str = concat!(
    "SELECT term FROM leader WHERE name = 'engine' AND holder = $1 AND expires_at > ",
    server_ms!(),
    " FOR SHARE"
);

/// In a new leader's first pass: claims of an earlier term are due now.
pub(super) const RELEASE_CLAIMS: &str = "UPDATE notifications SET due_at = $1 WHERE state = 'sending' AND due_at > $1";

/// What the lease thread and the store share.
#[derive(Debug)]
pub(super) struct Shared {
    /// Who this daemon is in the `leader` row.
    pub holder: String,
    /// Until when (this daemon's monotonic clock) it leads; `None`: it
    /// does not.
    until: Mutex<Option<Monotonic>>,
    /// The term of the last pass this daemon ran as leader (0: none yet).
    pub last_term: AtomicI64,
}

impl Shared {
    pub fn leading(&self) -> bool {
        self.until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| Monotonic::now() < until)
    }

    /// The database says otherwise (a fenced pass): stop leading now.
    pub fn lost(&self) {
        *self.until.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// The lease thread of one daemon; dropping it releases the lease.
#[derive(Debug)]
pub(super) struct Lease {
    pub shared: Arc<Shared>,
    stop: Option<std_mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Lease {
    /// Starts competing for the lease; returns once the first try is done
    /// (so a daemon alone on a database leads from its first pass).
    pub fn start(target: Target) -> Result<Lease, StoreError> {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(|e| StoreError::internal_because(format!("no randomness: {e}"), e))?;
        let holder = format!(
            "{}-{}",
            std::process::id(),
            random.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let shared = Arc::new(Shared {
            holder,
            until: Mutex::new(None),
            last_term: AtomicI64::new(0),
        });
        let (stop, stopped) = std_mpsc::channel();
        let (tried, first_try) = std_mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("oncall-pg-lease".to_owned())
            .spawn(move || run(&target, &thread_shared, &stopped, tried))
            .map_err(|e| StoreError::internal_because(format!("cannot start the lease thread: {e}"), e))?;
        let _ = first_try.recv();
        Ok(Lease {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(target: &Target, shared: &Shared, stopped: &std_mpsc::Receiver<()>, tried: std_mpsc::Sender<()>) {
    let mut conn: Option<Conn> = None;
    let mut tried = Some(tried);
    let ttl_ms = i64::try_from(TTL.as_millis()).unwrap_or(i64::MAX);
    let mut was_leading = false;
    loop {
        let sent = Monotonic::now();
        let taken = with_connection(&mut conn, target, |c| {
            Ok(c.query_opt(TAKE, &[&shared.holder, &ttl_ms])?.is_some())
        });
        match taken {
            Ok(true) => {
                *shared.until.lock().unwrap_or_else(PoisonError::into_inner) = Some(sent + TTL - MARGIN);
                if !was_leading {
                    tracing::info!(holder = %shared.holder, "leading: this daemon runs the engine's passes");
                }
                was_leading = true;
            }
            Ok(false) => {
                shared.lost();
                if was_leading {
                    tracing::warn!(holder = %shared.holder, "no longer leading: another daemon holds the lease");
                }
                was_leading = false;
            }
            Err(e) => {
                // The lease ends by itself on our clock if this goes on.
                tracing::warn!(error = %e, "cannot renew the engine's lease");
                conn = None;
            }
        }
        if let Some(tried) = tried.take() {
            let _ = tried.send(());
        }
        match stopped.recv_timeout(RENEW.saturating_sub(sent.elapsed())) {
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    shared.lost();
    if let Some(c) = conn.as_mut() {
        let _ = c.execute(RELEASE, &[&shared.holder]);
    }
}

/// In a pass: whether this daemon may pass now. `false` leaves the pass
/// empty. A new term's first pass releases the claims of the terms before.
pub(super) fn fence(conn: &mut Conn, shared: &Shared, now: i64) -> Result<bool, StoreError> {
    let Some(row) = conn.query_opt(FENCE, &[&shared.holder])? else {
        shared.lost();
        return Ok(false);
    };
    let term: i64 = row.try_get(0)?;
    if shared.last_term.swap(term, Ordering::SeqCst) != term {
        let released = conn.execute(RELEASE_CLAIMS, &[&now])?;
        if released > 0 {
            tracing::warn!(
                term,
                released,
                "taking over: notifications claimed before are due again (at least once)"
            );
        }
    }
    Ok(true)
}
