//! placeholder
use super::Ctx;
pub fn run(_c: &Ctx, _k: bool) -> anyhow::Result<i32> { anyhow::bail!("demo") }
