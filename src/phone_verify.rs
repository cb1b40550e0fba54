//! Phone numbers proven (issue 20): a number in `people.yaml` is texted a
//! six-digit code, which its person sends back (on `/me`, or by SMS:
//! `VERIFY 123456`), so that a wrong digit in a number shows before the
//! night it matters.
//!
//! The rules ([`start`], [`check`]) are pure: told `now` and the stored row,
//! they say what happens and what row to keep; the store runs them inside
//! one transaction (`Store::change_phone_verification`), so that two
//! entries at once count twice and two daemons send one code.
//!
//! - A code: six digits from the operating system's CSPRNG ([`new_code`]),
//!   kept only as a keyed digest (`Links::phone_code_digest`), compared in
//!   constant time (`Links::phone_code_matches`).
//! - Sent: for a number neither verified nor with a pending code, on the
//!   leading daemon's start and after each reload (`jobs::send_phone_codes`),
//!   or when the person asks (`/me`). At most one code per number an hour
//!   ([`RESEND_AFTER`]), so a number changed back and forth does not spam;
//!   a code counts for [`CODE_LIFETIME`], then the next start, reload or
//!   request sends another.
//! - [`MAX_WRONG`] wrong entries (by the page and by SMS together) lock the
//!   number's verification for [`LOCKED_FOR`]: every entry is refused until
//!   then, the right one too. The pending code stays good after the lock.
//! - Pages never wait for proof: an unverified number is paged like any
//!   other, and shown as unproven.
//!
//! The code goes straight through the SMS channel (`SmsChannel::send_text`),
//! not the outbox: an outbox row keeps its message for the timeline, and
//! the code must not be kept in clear anywhere.

use chrono::Duration;

use crate::domain::time::Instant;
use crate::http::AppState;
use crate::store::{PhoneVerification, StoreError};

/// The digits of a code.
pub const CODE_DIGITS: usize = 6;
/// How long a code counts.
pub const CODE_LIFETIME: Duration = Duration::hours(24);
/// The least time between two codes to one number.
pub const RESEND_AFTER: Duration = Duration::hours(1);
/// Wrong entries that lock a number's verification.
pub const MAX_WRONG: i64 = 3;
/// How long a lock lasts.
pub const LOCKED_FOR: Duration = Duration::hours(1);

/// A new code: [`CODE_DIGITS`] decimal digits, uniform (a 32-bit draw from
/// the operating system, redrawn above the last whole million).
pub fn new_code() -> std::io::Result<String> {
    const RANGE: u32 = 1_000_000;
    const LIMIT: u32 = u32::MAX - u32::MAX % RANGE;
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes)?;
        let n = u32::from_le_bytes(bytes);
        if n < LIMIT {
            return Ok(format!("{:06}", n % RANGE));
        }
    }
}

/// The code in what a person typed: six digits, spaces and dashes ignored.
pub fn code_of(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// An SMS that confirms a number: `VERIFY 123456` (any case, spaces
/// optional). `None`: not about verification; `Some(None)`: `VERIFY`
/// without a code of six digits.
pub fn sms_command(body: &str) -> Option<Option<String>> {
    let text = body.trim();
    let word = text.get(..6)?;
    if !word.eq_ignore_ascii_case("verify") {
        return None;
    }
    Some(code_of(&text[6..]))
}

/// The text that carries a code.
pub fn message(name: &str, code: &str, public_url: Option<&str>) -> String {
    let page = match public_url {
        Some(url) => format!("on {url}/me"),
        None => "on your oncall page (Me)".to_string(),
    };
    format!(
        "oncall: {code} is the code to confirm that this number gets {name}'s pages. \
         Enter it {page} or reply VERIFY {code}. It expires in 24 h."
    )
}

/// What [`start`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// A new code is to go: the row now holds its digest.
    Send,
    /// The number is verified already (since then).
    Verified(Instant),
    /// A code sent earlier still counts (until then).
    Pending { expires: Instant },
    /// A code went less than [`RESEND_AFTER`] ago: the next may go then.
    TooSoon { next: Instant },
}

/// Whether a new code (whose digest is `digest`) goes to `person`'s
/// `phone` at `now`, and the row to keep if so. `asked`: the person asked
/// for it (a pending code does not stop it, the hourly limit does).
pub fn start(
    row: Option<&PhoneVerification>,
    person: &str,
    phone: &str,
    digest: &str,
    now: Instant,
    asked: bool,
) -> (Start, Option<PhoneVerification>) {
    let row = row.cloned().unwrap_or_else(|| PhoneVerification::new(person, phone));
    if let Some(at) = row.verified_at {
        return (Start::Verified(at), None);
    }
    if !asked
        && row.code_digest.is_some()
        && let Some(expires) = row.expires_at
        && now < expires
    {
        return (Start::Pending { expires }, None);
    }
    if let Some(sent) = row.sent_at
        && now < sent + RESEND_AFTER
    {
        return (
            Start::TooSoon {
                next: sent + RESEND_AFTER,
            },
            None,
        );
    }
    let sent = PhoneVerification {
        code_digest: Some(digest.to_string()),
        sent_at: Some(now),
        expires_at: Some(now + CODE_LIFETIME),
        ..row
    };
    (Start::Send, Some(sent))
}

/// What [`check`] made of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checked {
    /// The right code: the number is verified now.
    Verified,
    /// Verified before (then); nothing changed.
    AlreadyVerified(Instant),
    /// Wrong; this many tries left before the lock.
    Wrong { left: i64 },
    /// Wrong, the last try: locked until then.
    LockedNow { until: Instant },
    /// Locked (until then): not even looked at.
    Locked { until: Instant },
    /// The code expired: ask for a new one.
    Expired,
    /// No code was sent to this number.
    NoCode,
}

/// An entry for the row's number at `now`; `matches` says whether the
/// entered code is the one of a digest. The row to keep, if it changes.
pub fn check(
    row: Option<&PhoneVerification>,
    matches: &dyn Fn(&str) -> bool,
    now: Instant,
) -> (Checked, Option<PhoneVerification>) {
    let Some(row) = row else {
        return (Checked::NoCode, None);
    };
    if let Some(at) = row.verified_at {
        return (Checked::AlreadyVerified(at), None);
    }
    if let Some(until) = row.locked_until
        && now < until
    {
        return (Checked::Locked { until }, None);
    }
    let Some(digest) = row.code_digest.as_deref() else {
        return (Checked::NoCode, None);
    };
    if row.expires_at.is_none_or(|expires| now >= expires) {
        return (Checked::Expired, None);
    }
    if matches(digest) {
        let verified = PhoneVerification {
            code_digest: None,
            expires_at: None,
            wrong: 0,
            locked_until: None,
            verified_at: Some(now),
            ..row.clone()
        };
        return (Checked::Verified, Some(verified));
    }
    let wrong = row.wrong + 1;
    if wrong >= MAX_WRONG {
        let until = now + LOCKED_FOR;
        let locked = PhoneVerification {
            wrong: 0,
            locked_until: Some(until),
            ..row.clone()
        };
        return (Checked::LockedNow { until }, Some(locked));
    }
    let counted = PhoneVerification { wrong, ..row.clone() };
    (
        Checked::Wrong {
            left: MAX_WRONG - wrong,
        },
        Some(counted),
    )
}

/// What [`offer`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Offered {
    /// A code was texted.
    Sent,
    /// None was, for this reason.
    Not(Start),
    /// There is no SMS channel to text it with.
    NoSms,
    /// The SMS API refused or failed (the number left out of the message):
    /// the row is as it was, so the next run or request tries again.
    Failed(String),
}

/// Texts a new code to `person`'s `phone` if [`start`] says so.
pub async fn offer(
    state: &AppState,
    person: &str,
    phone: &str,
    now: Instant,
    asked: bool,
) -> Result<Offered, StoreError> {
    let Some(sms) = state.phone_sms.as_ref() else {
        return Ok(Offered::NoSms);
    };
    let code = new_code().map_err(|e| StoreError::internal_because("no randomness for a verification code", e))?;
    let digest = state.links.phone_code_digest(person, phone, &code);
    let (p, n, d) = (person.to_string(), phone.to_string(), digest.clone());
    let before = state
        .store
        .change_phone_verification(
            person.to_string(),
            phone.to_string(),
            Box::new(move |row| start(row, &p, &n, &d, now, asked).1),
        )
        .await?;
    match start(before.as_ref(), person, phone, &digest, now, asked).0 {
        Start::Send => {}
        other => return Ok(Offered::Not(other)),
    }
    let name = state
        .schedule()
        .people
        .get(person)
        .map_or_else(|| person.to_string(), |p| p.name.clone());
    let text = message(&name, &code, state.links.public_url());
    match sms.send_text(phone, &text).await {
        Ok(_) => {
            tracing::info!(person = %person, "phone verification code sent");
            Ok(Offered::Sent)
        }
        Err(e) => {
            let e = e.redact(phone);
            tracing::warn!(person = %person, error = %e, "phone verification code not sent; tried again at the next start, reload or request");
            // Undone, unless something else changed the row since.
            let (d, was) = (digest, before.unwrap_or_else(|| PhoneVerification::new(person, phone)));
            state
                .store
                .change_phone_verification(
                    person.to_string(),
                    phone.to_string(),
                    Box::new(move |row| {
                        (row.and_then(|r| r.code_digest.as_deref()) == Some(d.as_str())).then(|| was.clone())
                    }),
                )
                .await?;
            Ok(Offered::Failed(e.message().to_string()))
        }
    }
}

/// `code` entered for `person`'s `phone` at `now` (from `/me` or by SMS).
pub async fn confirm(
    state: &AppState,
    person: &str,
    phone: &str,
    code: &str,
    now: Instant,
) -> Result<Checked, StoreError> {
    let links = state.links.clone();
    let (p, n, c) = (person.to_string(), phone.to_string(), code.to_string());
    let before = state
        .store
        .change_phone_verification(
            person.to_string(),
            phone.to_string(),
            Box::new(move |row| check(row, &|digest| links.phone_code_matches(&p, &n, &c, digest), now).1),
        )
        .await?;
    let matches = |digest: &str| state.links.phone_code_matches(person, phone, code, digest);
    let (checked, _) = check(before.as_ref(), &matches, now);
    tracing::info!(person = %person, outcome = ?checked, "phone verification code entered");
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Instant {
        s.parse().unwrap()
    }

    fn sent(now: Instant) -> PhoneVerification {
        start(None, "alice", "+447700900001", "D", now, false).1.unwrap()
    }

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::BTreeSet<String> = (0..50).map(|_| new_code().unwrap()).collect();
        assert!(
            codes.iter().all(|c| code_of(c).as_deref() == Some(c.as_str())),
            "{codes:?}"
        );
        // 50 draws of a million: a repeat would be a broken generator.
        assert!(codes.len() >= 49, "{codes:?}");
    }

    #[test]
    fn entries_and_sms_commands() {
        assert_eq!(code_of(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(code_of("123-456").as_deref(), Some("123456"));
        for bad in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert_eq!(code_of(bad), None, "{bad:?}");
        }
        assert_eq!(sms_command("VERIFY 123456"), Some(Some("123456".into())));
        assert_eq!(sms_command(" verify123456\n"), Some(Some("123456".into())));
        assert_eq!(sms_command("Verify 12"), Some(None));
        assert_eq!(sms_command("ACK 42"), None);
        assert_eq!(sms_command("123456"), None);
        assert_eq!(sms_command("veri"), None);
        assert_eq!(sms_command("vérify 123456"), None);
    }

    #[test]
    fn a_code_goes_once_until_it_expires_and_at_most_hourly() {
        let t0 = at("2026-06-01T12:00:00Z");
        let row = sent(t0);
        assert_eq!(row.expires_at, Some(t0 + CODE_LIFETIME));
        // Pending: not again, not even after the hour, until it expires.
        let later = t0 + Duration::hours(5);
        assert_eq!(
            start(Some(&row), "alice", "+1", "E", later, false).0,
            Start::Pending {
                expires: t0 + CODE_LIFETIME
            }
        );
        // Asked for: after the hour, yes; within it, no.
        assert_eq!(start(Some(&row), "alice", "+1", "E", later, true).0, Start::Send);
        assert_eq!(
            start(Some(&row), "alice", "+1", "E", t0 + Duration::minutes(59), true).0,
            Start::TooSoon {
                next: t0 + RESEND_AFTER
            }
        );
        // Expired: the next run sends another.
        let (what, new) = start(Some(&row), "alice", "+1", "E", t0 + CODE_LIFETIME, false);
        assert_eq!(what, Start::Send);
        assert_eq!(new.unwrap().code_digest.as_deref(), Some("E"));
    }

    #[test]
    fn three_wrong_entries_lock_for_an_hour_then_the_code_still_works() {
        let t0 = at("2026-06-01T12:00:00Z");
        let right = |d: &str| d == "D";
        let wrong = |_: &str| false;
        let mut row = sent(t0);
        for left in [2, 1] {
            let (what, new) = check(Some(&row), &wrong, t0);
            assert_eq!(what, Checked::Wrong { left });
            row = new.unwrap();
        }
        let (what, new) = check(Some(&row), &wrong, t0);
        let until = t0 + LOCKED_FOR;
        assert_eq!(what, Checked::LockedNow { until });
        row = new.unwrap();
        // Locked: the right code too, and nothing counted.
        assert_eq!(
            check(Some(&row), &right, until - Duration::seconds(1)),
            (Checked::Locked { until }, None)
        );
        let (what, new) = check(Some(&row), &right, until);
        assert_eq!(what, Checked::Verified);
        let row = new.unwrap();
        assert_eq!(row.verified_at, Some(until));
        assert_eq!(row.code_digest, None);
        assert_eq!(check(Some(&row), &right, until).0, Checked::AlreadyVerified(until));
        assert_eq!(
            start(Some(&row), "alice", "+1", "E", until, true).0,
            Start::Verified(until)
        );
    }

    #[test]
    fn an_expired_or_missing_code_is_said_so() {
        let t0 = at("2026-06-01T12:00:00Z");
        let row = sent(t0);
        assert_eq!(
            check(Some(&row), &|_| true, t0 + CODE_LIFETIME),
            (Checked::Expired, None)
        );
        assert_eq!(check(None, &|_| true, t0), (Checked::NoCode, None));
    }
}
