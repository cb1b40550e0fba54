//! The web interface (a placeholder until the skeleton lands).

pub mod timeline;
