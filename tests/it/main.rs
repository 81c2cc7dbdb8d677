//! The integration suite: one binary that runs the real `launcher` in fresh temp folders, against
//! repositories written by `publish` and served by `launcher serve`, nginx, or read as folders.

mod common;
mod concurrency;
#[cfg(feature = "fault-injection")]
mod crash;
mod demo;
mod faults;
mod fleet;
mod fleet_browser;
mod fleet_faults;
mod fleet_load;
mod hostile;
mod https;
mod nginx;
mod proxy;
mod publish;
mod selfupdate;
mod serve;
mod sign;
mod trust;
mod update;
