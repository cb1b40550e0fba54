//! The on-call ledger as the engine writes it and the store reads it back:
//! who was on call on which rota (to the last quarter hour), and the pages
//! they received. Pay for a past month is computed from it.

use crate::domain::alert::AlertId;
use crate::domain::time::{Instant, Span};

/// One piece of someone's time on call, as the ledger recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRow {
    pub team: String,
    pub rota: String,
    pub person: String,
    pub span: Span,
    /// Filled in after a stretch the daemon was down, from the rotas as
    /// configured when it came back.
    pub reconstructed: bool,
    /// `Some`: `person` was shadowing this person (learning, not on call).
    pub shadow_of: Option<String>,
}

/// A page someone received (the first notice of an alert that reached them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerPage {
    pub alert: AlertId,
    pub person: String,
    pub at: Instant,
    pub severity: String,
    /// When the alert was acknowledged, and by whom (anyone).
    pub acknowledged_at: Option<Instant>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<Instant>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    pub rows: Vec<LedgerRow>,
    pub pages: Vec<LedgerPage>,
    /// Since when the daemon has recorded (`None`: not at all yet). Time
    /// before it is not in `rows`: the daemon did not exist yet.
    pub recorded_from: Option<Instant>,
    /// How far the daemon has recorded (`None`: not at all yet). Time after
    /// it is not in `rows` yet, whatever happened.
    pub recorded_until: Option<Instant>,
}
