//! The integration tests: one binary, compiled once.

mod cli;
mod crash;
mod daemon;
mod expand;
mod properties;
mod store;
mod support;
mod tidy;
mod validation;
