//! `launcher`: a self-updating application launcher.
//!
//! The library holds everything; `main.rs` only parses arguments and maps errors to exit codes. The flow
//! of a launch (DESIGN.md) is a chain of plain functions over plain data:
//! `config` → `source` → `manifest` (+ `sign`) → `scan` → `plan` → `stage` → `apply` → `launch`,
//! driven by `update`. The publisher's side is `publish` and `serve`.

pub mod apply;
pub mod backup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod error;
pub mod fsutil;
pub mod launch;
pub mod lock;
pub mod manifest;
pub mod paths;
pub mod plan;
pub mod progress;
pub mod publish;
pub mod repo;
pub mod rollback;
pub mod scan;
pub mod selfupdate;
pub mod serve;
pub mod shortcut;
pub mod sign;
pub mod source;
pub mod stage;
pub mod state;
pub mod update;
pub mod version;
