//! placeholder
use super::Ctx;
pub fn run(_c: &Ctx, _a: crate::cli::PromoteArgs) -> anyhow::Result<i32> { anyhow::bail!("x") }
