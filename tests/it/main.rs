//! The integration tests: one binary, compiled once.

mod cli;
mod daemon;
mod expand;
mod properties;
mod store;
mod support;
mod tidy;
mod validation;
