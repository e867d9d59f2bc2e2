//! The command line and the offline tools: flags ([`args`]), the subcommands
//! ([`commands`]), the start-up banner, and the tools that work on a cassette
//! directory without serving it (`verify`, `audit`, `diff`, `prune`,
//! `doctor`).

pub mod args;
pub mod audit;
pub mod banner;
pub mod commands;
pub mod diff;
pub mod doctor;
pub mod prune;
pub mod verify;
