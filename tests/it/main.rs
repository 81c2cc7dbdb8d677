//! The integration suite: one binary that runs the real `launcher` in fresh temp folders, against
//! repositories written by `publish` and served by `launcher serve`, nginx, or read as folders.

mod common;
mod publish;
mod nginx;
mod serve;
mod sign;
mod update;
mod selfupdate;
#[cfg(feature = "fault-injection")]
mod crash;
mod faults;
mod concurrency;
mod trust;
mod hostile;
mod https;
mod proxy;
