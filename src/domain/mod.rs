//! The pure core: rotas, hand-offs, layers, overrides and who is on call when.
//!
//! Nothing here does I/O or reads the clock: every function that needs the
//! time takes it as a value. `tests/it/tidy.rs` checks this.

pub mod alert;
pub mod compare;
pub mod contact;
pub mod escalation;
pub mod handoff;
pub mod heartbeat;
pub mod paging;
pub mod pay;
pub mod rota;
pub mod rule_grammar;
pub mod schedule;
pub mod severity;
pub mod time;
pub mod window;
