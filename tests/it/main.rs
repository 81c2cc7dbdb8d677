//! The integration suite: one binary that runs the real `launcher` in fresh temp folders, against
//! repositories written by `publish` and served by `launcher serve`, nginx, or read as folders.

mod common;
mod concurrency;
#[cfg(feature = "fault-injection")]
mod crash;
mod demo;
mod faults;
mod hostile;
#[cfg(unix)]
mod https;
#[cfg(unix)]
mod nginx;
#[cfg(unix)]
mod proxy;
mod publish;
mod selfupdate;
mod serve;
mod shortcut;
mod sign;
mod trust;
mod update;
mod windows;
