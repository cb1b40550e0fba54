//! `oncall`: an on-call scheduling and paging daemon.
//!
//! See `ARCHITECTURE.md` for the map. In short: [`config`] reads the rota files
//! into [`domain`] values; [`domain`] answers who is on call when, as pure
//! functions of those values and a given instant; [`cli`] wires the commands.

pub mod app;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod drill;
pub mod engine;
pub mod html;
pub mod http;
pub mod import;
pub mod intake;
pub mod jobs;
pub mod links;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod payroll;
pub mod phone_verify;
pub mod secret_file;
pub mod settings;
pub mod store;
pub mod testpage;
pub mod web;
