//! The integration tests: one binary, compiled once.

mod cli;
mod expand;
mod properties;
mod support;
mod tidy;
mod validation;
