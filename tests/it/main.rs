//! The integration tests: one binary, compiled once.

mod announce;
mod calendar;
mod cli;
mod crash;
mod daemon;
mod deploy;
mod expand;
mod ledger;
mod links;
mod notify;
mod openapi;
mod overrides;
mod pagerduty_client;
mod paging;
mod paging_daemon;
mod pay;
mod properties;
mod real_alertmanager;
mod real_prometheus;
mod reload;
mod shadow;
mod status_page;
mod store;
mod support;
mod tidy;
mod validation;
