//! `launcher`: a self-updating application launcher.
//!
//! The library holds everything; `main.rs` only parses arguments and maps errors to exit codes. The flow
//! of a launch (DESIGN.md) is a chain of plain functions over plain data:
//! `config` → `source` → `manifest` (+ `sign`) → `scan` → `plan` → `stage` → `apply` → `launch`.
//! The publisher's side is `publish` and `serve`.

pub mod cli;
pub mod commands;
pub mod error;
pub mod fsutil;
pub mod manifest;
pub mod paths;
pub mod progress;
pub mod publish;
pub mod repo;
pub mod serve;
pub mod sign;
pub mod version;
