//! `launcher serve`.
use super::Ctx;
use std::path::Path;
pub fn run(_ctx: &Ctx, _repo: &Path, _listen: &str) -> anyhow::Result<i32> {
    anyhow::bail!("serve is being built")
}
