//! The integration suite: one binary that runs the real `launcher` in fresh temp folders, against
//! repositories written by `publish` and served by `launcher serve`, nginx, or read as folders.

// The package's dependencies are the library's; the suite drives the binary and uses few of them.
#![allow(unused_crate_dependencies)]

mod common;
mod concurrency;
#[cfg(feature = "fault-injection")]
mod crash;
mod demo;
mod faults;
// Modules under `cfg(unix)` are not yet ported to Windows (they use Unix modes, mounts, links, peer tools
// or shell scripts as the app); see the portable helpers at the top of common.rs.
#[cfg(unix)]
mod fleet;
#[cfg(unix)]
mod fleet_browser;
#[cfg(unix)]
mod fleet_faults;
#[cfg(unix)]
mod fleet_load;
#[cfg(unix)]
mod fullbackup;
#[cfg(unix)]
mod health;
#[cfg(unix)]
mod holds;
#[cfg(unix)]
mod hooks;
mod hostile;
#[cfg(unix)]
mod hostile_text;
#[cfg(unix)]
mod hours;
#[cfg(unix)]
mod https;
#[cfg(all(unix, feature = "fault-injection"))]
mod integrity;
#[cfg(all(unix, feature = "fault-injection"))]
mod journal;
#[cfg(unix)]
mod links;
#[cfg(unix)]
mod messages;
#[cfg(unix)]
mod nginx;
#[cfg(unix)]
mod pin;
#[cfg(unix)]
mod policy;
#[cfg(unix)]
mod proxy;
mod publish;
#[cfg(unix)]
mod publish_lock;
#[cfg(unix)]
mod publish_rules;
#[cfg(unix)]
mod rollout;
#[cfg(all(unix, not(target_os = "macos")))]
mod schedule;
mod selfupdate;
mod serve;
mod shortcut;
mod sign;
#[cfg(unix)]
mod timebounds;
mod trust;
mod update;
mod windows;
