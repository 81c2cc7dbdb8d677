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
mod fullbackup;
mod health;
mod holds;
mod hooks;
mod hostile;
mod hostile_text;
mod hours;
mod https;
#[cfg(feature = "fault-injection")]
mod integrity;
#[cfg(feature = "fault-injection")]
mod journal;
mod links;
mod messages;
mod nginx;
mod pin;
mod policy;
mod proxy;
mod publish;
mod publish_lock;
mod publish_rules;
mod rollout;
#[cfg(all(unix, not(target_os = "macos")))]
mod schedule;
mod selfupdate;
mod serve;
mod sign;
mod timebounds;
mod trust;
mod update;
