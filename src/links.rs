//! Signed, expiring action links: "acknowledge alert 42 as alice, until
//! Tuesday 09:00", as a URL a page can carry, so that a responder can act
//! from wherever the page arrived (email, SMS, a push notification's button)
//! without logging in.
//!
//! A [`Claim`] binds an action, an alert, a person and an expiry. Its token
//! is `PAYLOAD.MAC`: the claim as text (`v1`, action, alert id, expiry in
//! Unix seconds, person, one a line), base64url without padding, then
//! HMAC-SHA256 over that base64url text with the installation's link secret,
//! base64url too. The token is the credential: whoever holds it can do that
//! one thing to that one alert, in that person's name, until it expires.
//!
//! Checking a token is a pure function of the token, the secret and `now`
//! (the caller asks the clock): first the shape, then the MAC (compared in
//! constant time), and only then the expiry, so that a forged token is told
//! "bad signature" whatever expiry it claims. A link is valid while
//! `now < expires`.
//!
//! The secret: configured (`link_secret`, `link_secret_file`,
//! `ONCALL_LINK_SECRET`), or else generated once and kept in a file next to
//! the database ([`load_or_create_secret`]), so links survive restarts.
//! Changing the secret invalidates every link already sent.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::domain::alert::AlertId;
use crate::domain::rota::PersonId;
use crate::domain::time::Instant;

/// The version tag of the claim's text; a future format gets another.
const VERSION: &str = "v1";

/// The path under the public URL where links land.
pub const ACT_PATH: &str = "/v1/act/";

/// The path under the public URL where a phone call's webhooks land: the
/// key pressed at `VOICE_PATH{token}`, the call's status at
/// `VOICE_PATH{token}/status`.
pub const VOICE_PATH: &str = "/v1/voice/";

/// The path under the public URL of a test page's confirm link
/// (`PROOF_PATH{token}`), its SMS or call status callback
/// (`PROOF_PATH{token}/status`) and its call's key (`PROOF_PATH{token}/voice`).
pub const PROOF_PATH: &str = "/v1/proofs/";

/// Longest token accepted; real ones are about 80 characters.
const MAX_TOKEN_LEN: usize = 1024;

/// Bytes of randomness in a generated secret.
const GENERATED_SECRET_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of an HMAC-SHA256; a token carries all of them.
const MAC_LEN: usize = 32;

/// Bytes of the MAC a proof token carries: 128 bits, so that its link fits
/// in one SMS segment beside the words.
const PROOF_MAC_LEN: usize = 16;

/// What a link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Acknowledge,
    Resolve,
}

impl Action {
    /// The word in the claim's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Acknowledge => "ack",
            Action::Resolve => "resolve",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        match s {
            "ack" => Some(Action::Acknowledge),
            "resolve" => Some(Action::Resolve),
            _ => None,
        }
    }
}

/// What a valid token allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub action: Action,
    pub alert: AlertId,
    /// Who acts: the id in `people.yaml` the link was made for.
    pub person: PersonId,
    /// The first instant at which the link no longer works.
    pub expires: Instant,
}

/// Why a token is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token at all: cut short, mangled, or of another format.
    #[error("the link is malformed")]
    Malformed,
    /// Well formed, but not signed with this installation's secret: forged,
    /// altered, or made before the secret changed.
    #[error("the link's signature is not valid")]
    BadSignature,
    /// Genuine, but too old.
    #[error("the link expired at {at}")]
    Expired { at: Instant },
}

/// Makes and checks links with one secret.
#[derive(Clone)]
pub struct Links {
    secret: Vec<u8>,
    public_url: Option<String>,
}

impl fmt::Debug for Links {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Links")
            .field("secret", &"(hidden)")
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl Links {
    /// `public_url` is where the daemon is reachable from outside, e.g.
    /// `https://oncall.example.com` (a trailing `/` is ignored); without one
    /// [`Links::url`] makes no URLs, but tokens still work.
    pub fn new(secret: Vec<u8>, public_url: Option<String>) -> Links {
        let public_url = public_url.map(|u| u.trim_end_matches('/').to_string());
        Links { secret, public_url }
    }

    /// The public URL, without a trailing `/`.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// The link for a claim: `PUBLIC_URL/v1/act/TOKEN`; `None` without a
    /// public URL.
    pub fn url(&self, action: Action, alert: AlertId, person: &str, expires: Instant) -> Option<String> {
        let base = self.public_url.as_deref()?;
        Some(format!(
            "{base}{ACT_PATH}{}",
            self.token(action, alert, person, expires)
        ))
    }

    /// The token for a claim (URL-safe: `A-Z a-z 0-9 - _ .`).
    pub fn token(&self, action: Action, alert: AlertId, person: &str, expires: Instant) -> String {
        let text = format!(
            "{VERSION}\n{}\n{alert}\n{}\n{person}",
            action.as_str(),
            expires.timestamp()
        );
        let payload = URL_SAFE_NO_PAD.encode(text);
        let mac = self.mac(&payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// Checks a token at `now`: its shape, its signature (constant time),
    /// then its expiry.
    pub fn verify(&self, token: &str, now: Instant) -> Result<Claim, LinkError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(LinkError::Malformed);
        }
        let (payload, signature) = token.split_once('.').ok_or(LinkError::Malformed)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| LinkError::Malformed)?;
        let text = URL_SAFE_NO_PAD.decode(payload).map_err(|_| LinkError::Malformed)?;
        if text.is_empty() || signature.len() != MAC_LEN {
            return Err(LinkError::Malformed);
        }
        self.mac(payload)
            .verify_slice(&signature)
            .map_err(|_| LinkError::BadSignature)?;
        // Signed by us, so the text is ours; still parsed with care, as a
        // secret shared with another version might sign something else.
        let claim = parse_claim(&text).ok_or(LinkError::Malformed)?;
        if now >= claim.expires {
            return Err(LinkError::Expired { at: claim.expires });
        }
        Ok(claim)
    }

    /// The secret token of a calendar feed (`subject`: `person:alice` or
    /// `team:payments`): the same as long as the secret is, so a
    /// subscribed calendar keeps working; a new link secret revokes every
    /// feed URL.
    pub fn calendar_token(&self, subject: &str) -> String {
        self.standing_token("calendar", subject)
    }

    /// Whether `token` is `subject`'s calendar token (constant time).
    pub fn calendar_token_ok(&self, subject: &str, token: &str) -> bool {
        self.standing_token_ok("calendar", subject, token)
    }

    /// The secret token of a person's status page (`/status?person=...`),
    /// which lets the page act for them; revoked with the link secret.
    pub fn status_token(&self, person: &str) -> String {
        self.standing_token("status", person)
    }

    /// Whether `token` is `person`'s status page token (constant time).
    pub fn status_token_ok(&self, person: &str, token: &str) -> bool {
        self.standing_token_ok("status", person, token)
    }

    /// The CSRF token of web session `session` (its secret id): the forms
    /// of that session's pages carry it; not stored, made again to check.
    pub fn csrf_token(&self, session: &str) -> String {
        self.standing_token("csrf", session)
    }

    /// What the store keeps of a phone verification code: an HMAC under the
    /// link secret of the person, the number and the code, so that a copy
    /// of the database alone cannot be tried against every six-digit code.
    pub fn phone_code_digest(&self, person: &str, phone: &str, code: &str) -> String {
        self.standing_token("phone-code", &format!("{person}\n{phone}\n{code}"))
    }

    /// Whether `code` is the one whose digest is `digest` (constant time).
    pub fn phone_code_matches(&self, person: &str, phone: &str, code: &str, digest: &str) -> bool {
        use subtle::ConstantTimeEq;
        let want = self.phone_code_digest(person, phone, code);
        want.len() == digest.len() && bool::from(want.as_bytes().ct_eq(digest.as_bytes()))
    }

    /// A token that does not expire, for `subject` in `purpose` (so one
    /// purpose's token never opens another's).
    fn standing_token(&self, purpose: &str, subject: &str) -> String {
        let mac = self.mac(&format!("{purpose}\n{subject}")).finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&mac[..24])
    }

    fn standing_token_ok(&self, purpose: &str, subject: &str, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        let want = self.standing_token(purpose, subject);
        want.len() == token.len() && bool::from(want.as_bytes().ct_eq(token.as_bytes()))
    }

    /// The token of a phone call's webhooks: whom the call is for and about
    /// which alerts, signed like an action link's (`voice`, the person and
    /// the alerts, one a line, base64url, then the MAC). It is not the
    /// credential (Twilio's signature is: see `http/voice.rs`), but a
    /// request whose token this secret did not make is refused all the same.
    pub fn voice_token(&self, person: &str, alerts: &[AlertId]) -> String {
        let ids: Vec<String> = alerts.iter().map(|a| a.to_string()).collect();
        let payload = URL_SAFE_NO_PAD.encode(format!("voice\n{person}\n{}", ids.join(",")));
        let mac = self.mac(&payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// The person and alerts of a voice token this secret made (MAC
    /// checked first, in constant time).
    pub fn voice_claim(&self, token: &str) -> Option<(String, Vec<AlertId>)> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (payload, mac) = token.split_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        self.mac(payload).verify_slice(&mac).ok()?;
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let mut lines = text.split('\n');
        if lines.next()? != "voice" {
            return None;
        }
        let person = lines.next()?.to_string();
        let alerts = lines
            .next()?
            .split(',')
            .map(|id| id.parse().ok())
            .collect::<Option<Vec<AlertId>>>()?;
        if lines.next().is_some() || alerts.is_empty() {
            return None;
        }
        Some((person, alerts))
    }

    /// The token of a test page's proof (`proof`, the id and the expiry,
    /// one a line, base64url, then the first 16 bytes of the MAC): the
    /// confirm link at `PUBLIC_URL/v1/proofs/TOKEN`, and the provider's
    /// callbacks under it. Signed like an action link, so nobody confirms
    /// a method they did not receive the test on; short (about 50
    /// characters, a 128-bit MAC), so that the link fits in the test SMS.
    pub fn proof_token(&self, proof: i64, expires: Instant) -> String {
        let payload = URL_SAFE_NO_PAD.encode(format!("proof\n{proof}\n{}", expires.timestamp()));
        let mac = self.mac(&payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&mac[..PROOF_MAC_LEN]))
    }

    /// The proof of a proof token this secret made (MAC checked first, in
    /// constant time), unless it expired at `now`.
    pub fn proof_claim(&self, token: &str, now: Instant) -> Result<i64, LinkError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(LinkError::Malformed);
        }
        let (payload, mac) = token.split_once('.').ok_or(LinkError::Malformed)?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| LinkError::Malformed)?;
        if mac.len() != PROOF_MAC_LEN {
            return Err(LinkError::Malformed);
        }
        self.mac(payload)
            .verify_truncated_left(&mac)
            .map_err(|_| LinkError::BadSignature)?;
        let text = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|t| String::from_utf8(t).ok())
            .ok_or(LinkError::Malformed)?;
        let mut lines = text.split('\n');
        if lines.next() != Some("proof") {
            return Err(LinkError::Malformed);
        }
        let proof: i64 = lines.next().and_then(|p| p.parse().ok()).ok_or(LinkError::Malformed)?;
        let expires = lines
            .next()
            .and_then(|e| e.parse::<i64>().ok())
            .and_then(|e| chrono::DateTime::from_timestamp(e, 0))
            .ok_or(LinkError::Malformed)?;
        if lines.next().is_some() {
            return Err(LinkError::Malformed);
        }
        if now >= expires {
            return Err(LinkError::Expired { at: expires });
        }
        Ok(proof)
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        // HMAC takes keys of any length.
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(payload.as_bytes());
        mac
    }
}

/// What tells one token from every other: its MAC (the part after the
/// `.`), for recording that a verified token was used.
pub fn link_id(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(_, mac)| mac)
}

fn parse_claim(text: &[u8]) -> Option<Claim> {
    let text = std::str::from_utf8(text).ok()?;
    let mut fields = text.splitn(5, '\n');
    if fields.next()? != VERSION {
        return None;
    }
    let action = Action::parse(fields.next()?)?;
    let alert = fields.next()?.parse().ok()?;
    let expires = DateTime::from_timestamp(fields.next()?.parse().ok()?, 0)?;
    let person = fields.next()?;
    if person.is_empty() {
        return None;
    }
    Some(Claim {
        action,
        alert,
        person: person.to_string(),
        expires,
    })
}

/// Where the generated secret of the database at `database` is kept:
/// `<database>.link-secret`.
pub fn secret_path(database: &Path) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push(".link-secret");
    PathBuf::from(path)
}

/// A new secret: 32 bytes from the operating system's random source, as 64
/// hex digits (so the file that keeps it can also be given as
/// `link_secret_file`, whose text is the secret).
pub fn generate_secret() -> io::Result<Vec<u8>> {
    let mut bytes = [0u8; GENERATED_SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into_bytes())
}

/// The secret kept at `path`, created (mode 0600) on first use. The file is
/// written under another name and renamed into place, so a crash never
/// leaves a half-written secret. Called with the database locked, so no
/// other daemon races for it.
pub fn load_or_create_secret(path: &Path) -> io::Result<Vec<u8>> {
    match crate::secret_file::read(path) {
        Ok(secret) => {
            if secret.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is empty: delete it to have a new secret made (links already sent stop working)",
                        path.display()
                    ),
                ));
            }
            Ok(secret.as_bytes().to_vec())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let secret = generate_secret()?;
            let mut partial = path.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            {
                use std::os::unix::fs::OpenOptionsExt;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&partial)?;
                file.write_all(&secret)?;
                file.write_all(b"\n")?;
                file.sync_all()?;
            }
            std::fs::rename(&partial, path)?;
            // The rename is durable once the folder is.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn t(s: &str) -> Instant {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn links() -> Links {
        Links::new(b"test-secret-0123456789abcdef0123".to_vec(), None)
    }

    const NOW: &str = "2026-06-01T12:00:00Z";
    const EXPIRES: &str = "2026-06-02T12:00:00Z";

    fn alice_ack() -> String {
        links().token(Action::Acknowledge, 42, "alice", t(EXPIRES))
    }

    /// The token with its claim text replaced by `edit(text)`, re-encoded
    /// but keeping the old MAC.
    fn tampered(token: &str, edit: impl Fn(&str) -> String) -> String {
        let (payload, mac) = token.split_once('.').unwrap();
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        format!("{}.{mac}", URL_SAFE_NO_PAD.encode(edit(&text)))
    }

    #[test]
    fn round_trip() {
        let l = links();
        for (action, alert, person) in [
            (Action::Acknowledge, 42, "alice"),
            (Action::Resolve, 1, "bob"),
            (Action::Resolve, i64::MAX, "o'brien <x>&\"y\""),
        ] {
            let token = l.token(action, alert, person, t(EXPIRES));
            assert!(
                token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
                "{token}"
            );
            assert_eq!(
                l.verify(&token, t(NOW)),
                Ok(Claim {
                    action,
                    alert,
                    person: person.to_string(),
                    expires: t(EXPIRES)
                })
            );
        }
    }

    #[test]
    fn proof_tokens_round_trip_and_refuse_forgery_expiry_and_other_tokens() {
        let l = links();
        let token = l.proof_token(7, t(EXPIRES));
        assert!(token.len() < 60, "{token}");
        assert_eq!(l.proof_claim(&token, t(NOW)), Ok(7));
        assert_eq!(
            l.proof_claim(&token, t(EXPIRES)),
            Err(LinkError::Expired { at: t(EXPIRES) })
        );
        let other = Links::new(b"another-secret".to_vec(), None);
        assert_eq!(other.proof_claim(&token, t(NOW)), Err(LinkError::BadSignature));
        // Another proof's id under the same MAC.
        let (_, mac) = token.split_once('.').unwrap();
        let text = format!("proof\n8\n{}", t(EXPIRES).timestamp());
        let forged = format!("{}.{mac}", URL_SAFE_NO_PAD.encode(text));
        assert_eq!(l.proof_claim(&forged, t(NOW)), Err(LinkError::BadSignature));
        // An action link or a call's token is no proof token, and the reverse.
        assert_eq!(l.proof_claim(&alice_ack(), t(NOW)), Err(LinkError::Malformed));
        assert_eq!(
            l.proof_claim(&l.voice_token("alice", &[42]), t(NOW)),
            Err(LinkError::Malformed)
        );
        assert!(l.verify(&token, t(NOW)).is_err());
        assert!(l.voice_claim(&token).is_none());
        assert_eq!(l.proof_claim("x", t(NOW)), Err(LinkError::Malformed));
    }

    #[test]
    fn urls_need_a_public_url() {
        let secret = b"s".to_vec();
        assert_eq!(
            Links::new(secret.clone(), None).url(Action::Acknowledge, 42, "alice", t(EXPIRES)),
            None
        );
        let l = Links::new(secret, Some("https://oncall.example.com/".into()));
        assert_eq!(l.public_url(), Some("https://oncall.example.com"));
        let url = l.url(Action::Acknowledge, 42, "alice", t(EXPIRES)).unwrap();
        let token = url.strip_prefix("https://oncall.example.com/v1/act/").unwrap();
        assert_eq!(l.verify(token, t(NOW)).unwrap().alert, 42);
    }

    #[test]
    fn tampering_with_any_field_breaks_the_signature() {
        let token = alice_ack();
        type Edit = fn(&str) -> String;
        let edits: [(&str, Edit); 5] = [
            ("action", |s| s.replace("\nack\n", "\nresolve\n")),
            ("alert", |s| s.replace("\n42\n", "\n43\n")),
            ("person", |s| s.replace("alice", "mallory")),
            ("expiry", |s| {
                let old = t(EXPIRES).timestamp();
                s.replace(&old.to_string(), &(old + 86_400).to_string())
            }),
            ("version", |s| s.replace("v1\n", "v2\n")),
        ];
        for (field, edit) in edits {
            let forged = tampered(&token, edit);
            assert_ne!(forged, token, "{field}: the edit changed nothing");
            assert_eq!(links().verify(&forged, t(NOW)), Err(LinkError::BadSignature), "{field}");
        }
        // The MAC itself: every position flipped in turn.
        let (payload, mac) = token.split_once('.').unwrap();
        let raw = URL_SAFE_NO_PAD.decode(mac).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 1;
            let forged = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&bad));
            assert_eq!(
                links().verify(&forged, t(NOW)),
                Err(LinkError::BadSignature),
                "byte {i}"
            );
        }
        // A truncated MAC is not even a token.
        let short = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&raw[..16]));
        assert_eq!(links().verify(&short, t(NOW)), Err(LinkError::Malformed));
    }

    #[test]
    fn another_secret_does_not_verify() {
        let other = Links::new(b"another-secret-0123456789abcdef".to_vec(), None);
        assert_eq!(other.verify(&alice_ack(), t(NOW)), Err(LinkError::BadSignature));
    }

    #[test]
    fn expiry_boundary() {
        let token = alice_ack();
        let expires = t(EXPIRES);
        assert!(links().verify(&token, expires - Duration::seconds(1)).is_ok());
        assert_eq!(links().verify(&token, expires), Err(LinkError::Expired { at: expires }));
        assert_eq!(
            links().verify(&token, expires + Duration::days(400)),
            Err(LinkError::Expired { at: expires })
        );
        // Sub-second parts of the expiry are dropped: tokens carry seconds.
        let precise = Utc.timestamp_opt(expires.timestamp(), 999_000_000).unwrap();
        let token = links().token(Action::Acknowledge, 42, "alice", precise);
        assert_eq!(links().verify(&token, expires), Err(LinkError::Expired { at: expires }));
    }

    #[test]
    fn a_forged_expired_token_is_a_bad_signature_not_expired() {
        let forged = tampered(&alice_ack(), |s| s.replace("alice", "mallory"));
        assert_eq!(
            links().verify(&forged, t(EXPIRES) + Duration::days(1)),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens() {
        let token = alice_ack();
        let (payload, mac) = token.split_once('.').unwrap();
        for bad in [
            String::new(),
            ".".into(),
            payload.to_string(),
            format!("{payload}.{mac}.x"),
            format!("{payload}.{mac}="),
            format!("{payload}!.{mac}"),
            format!("{payload}.{mac}%"),
            "a".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert_eq!(links().verify(&bad, t(NOW)), Err(LinkError::Malformed), "{bad:?}");
        }
        // Well signed but not a claim (a secret shared with something else).
        let l = links();
        for text in [
            "v1\nack\n42\n1780000000",
            "v1\nack\nx\n1780000000\nalice",
            "v1\nack\n42\n1780000000\n",
        ] {
            let payload = URL_SAFE_NO_PAD.encode(text);
            let mac = URL_SAFE_NO_PAD.encode(l.mac(&payload).finalize().into_bytes());
            assert_eq!(
                l.verify(&format!("{payload}.{mac}"), t(NOW)),
                Err(LinkError::Malformed),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_secret_is_generated_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("oncall-links-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = secret_path(&dir.join("oncall.db"));
        assert_eq!(path, dir.join("oncall.db.link-secret"));
        let first = load_or_create_secret(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert!(first.iter().all(u8::is_ascii_hexdigit));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create_secret(&path).unwrap(), first);
        assert_ne!(generate_secret().unwrap(), first);
        std::fs::write(&path, "\n").unwrap();
        let err = load_or_create_secret(&path).unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
