//! Test pages and the proofs they leave (issue 20): the values the store
//! keeps for "contact methods proven". A test page sends one notification
//! of kind `test` through the outbox to each destination of a person; its
//! [`Proof`] says what became of it: sent (the notification's state),
//! delivered (the provider's status callback, or its acceptance where that
//! is all it says), confirmed by the person. [`Confirmed`] is the last
//! confirmation per person, method and destination, which `oncall check`,
//! the person's page and the drill report read. A method is paged whether
//! or not it is proven: these rows only inform.

use crate::domain::paging::Method;
use crate::domain::time::Instant;

/// A test page to send: to `person`, one notification per target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTest {
    pub person: String,
    /// `api` (the shared token) or the person who asked.
    pub by: String,
    pub targets: Vec<(Method, String)>,
}

/// A test page as stored, with its proofs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestPage {
    pub id: i64,
    pub person: String,
    pub by: String,
    pub requested_at: Instant,
    pub proofs: Vec<Proof>,
}

/// One destination's test: what the outbox and the provider said, and the
/// person's confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub id: i64,
    pub test: i64,
    pub person: String,
    pub method: Method,
    pub destination: String,
    /// The outbox row's state: `pending`, `sending`, `sent`, `failed`.
    pub state: String,
    pub sent_at: Option<Instant>,
    pub error: Option<String>,
    pub delivered_at: Option<Instant>,
    /// The provider's last word (`delivered`, `undelivered`, `completed`,
    /// `no-answer`, ...).
    pub status: Option<String>,
    pub confirmed_at: Option<Instant>,
    /// `link`, `key` or `reply`.
    pub confirmed_by: Option<String>,
}

impl Proof {
    /// When it was delivered: the provider's status callback; for email
    /// (accepted by the SMTP server), push (ntfy) and webhooks (a 2xx),
    /// the acceptance is all the provider says, so it is the sending.
    pub fn delivered(&self) -> Option<Instant> {
        match self.method {
            Method::Sms | Method::Voice => self.delivered_at,
            Method::Email | Method::Push | Method::Webhook => {
                self.delivered_at.or(self.sent_at.filter(|_| self.state == "sent"))
            }
        }
    }
}

/// What a provider or the person said of a proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofEvent {
    /// The provider delivered it (the status it said).
    Delivered(String),
    /// The provider could not (`undelivered`, `failed`, `no-answer`, ...).
    NotDelivered(String),
    /// The person confirmed it (how: `link`, `key`, `reply`). A proof is
    /// confirmed once: a second confirmation changes nothing.
    Confirmed(&'static str),
}

/// The last confirmed test of a person's destination by a method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmed {
    pub person: String,
    pub method: Method,
    pub destination: String,
    pub at: Instant,
}

/// When `person`'s `method` to `destination` was last confirmed, if ever.
pub fn last_confirmed(confirmed: &[Confirmed], person: &str, method: Method, destination: &str) -> Option<Instant> {
    confirmed
        .iter()
        .filter(|c| c.person == person && c.method == method && c.destination == destination)
        .map(|c| c.at)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Instant {
        s.parse().unwrap()
    }

    fn proof(method: Method, state: &str) -> Proof {
        Proof {
            id: 1,
            test: 1,
            person: "alice".into(),
            method,
            destination: "x".into(),
            state: state.into(),
            sent_at: Some(at("2026-06-01T12:00:00Z")),
            error: None,
            delivered_at: None,
            status: None,
            confirmed_at: None,
            confirmed_by: None,
        }
    }

    #[test]
    fn accepted_is_delivered_only_where_that_is_all_a_provider_says() {
        for m in [Method::Email, Method::Push, Method::Webhook] {
            assert_eq!(proof(m, "sent").delivered(), Some(at("2026-06-01T12:00:00Z")), "{m}");
            assert_eq!(proof(m, "failed").delivered(), None, "{m}");
        }
        for m in [Method::Sms, Method::Voice] {
            assert_eq!(proof(m, "sent").delivered(), None, "{m}");
            let mut p = proof(m, "sent");
            p.delivered_at = Some(at("2026-06-01T12:00:05Z"));
            assert_eq!(p.delivered(), Some(at("2026-06-01T12:00:05Z")), "{m}");
        }
    }

    #[test]
    fn the_last_confirmation_is_per_person_method_and_destination() {
        let c = |person: &str, method, destination: &str, t: &str| Confirmed {
            person: person.into(),
            method,
            destination: destination.into(),
            at: at(t),
        };
        let all = [
            c("alice", Method::Sms, "+1", "2026-01-01T00:00:00Z"),
            c("alice", Method::Sms, "+1", "2026-03-01T00:00:00Z"),
            c("alice", Method::Sms, "+2", "2026-05-01T00:00:00Z"),
            c("bob", Method::Sms, "+1", "2026-06-01T00:00:00Z"),
        ];
        assert_eq!(
            last_confirmed(&all, "alice", Method::Sms, "+1"),
            Some(at("2026-03-01T00:00:00Z"))
        );
        assert_eq!(last_confirmed(&all, "alice", Method::Voice, "+1"), None);
        assert_eq!(last_confirmed(&all, "carol", Method::Sms, "+1"), None);
    }
}
