//! `launcher shortcut [--desktop] [--start-menu] [--name NAME] [--icon FILE] [--remove]`: a shortcut
//! that starts this launcher with its ini (the file format and places are in `crate::shortcut`).

use super::client::load_config;
use super::Ctx;
use crate::error::{code, Failure};
use crate::shortcut::{self, Place, Shortcut};
use anyhow::Context;
use std::path::{Path, PathBuf};

pub struct Args {
    pub desktop: bool,
    pub start_menu: bool,
    pub name: Option<String>,
    pub icon: Option<PathBuf>,
    pub remove: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let config = load_config(ctx)?;
    let ini = std::path::absolute(&config.file)
        .with_context(|| format!("cannot resolve `{}`", config.file.display()))?;
    let exe = std::env::current_exe().context("cannot find the launcher's own executable")?;
    let name = match args.name {
        Some(n) => n,
        None => exe
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "launcher".into()),
    };
    let mut places = Vec::new();
    if args.desktop || !args.start_menu {
        places.push(Place::Desktop);
    }
    if args.start_menu {
        places.push(Place::StartMenu);
    }
    let usage =
        |e: shortcut::ShortcutError| anyhow::Error::new(Failure::new(code::USAGE, e.to_string()));
    shortcut::check_name(&name).map_err(usage)?;
    for place in places {
        let dir = shortcut::folder(place).map_err(usage)?;
        if args.remove {
            if shortcut::remove(&dir, &name, &ini)? {
                ctx.reporter.info(format!(
                    "Removed the {} shortcut `{}`",
                    place.label(),
                    shortcut::file_in(&dir, &name).display()
                ));
            } else {
                ctx.reporter
                    .info(format!("There is no {} shortcut `{name}`", place.label()));
            }
            continue;
        }
        let icon = match &args.icon {
            Some(i) => Some(
                std::path::absolute(i)
                    .with_context(|| format!("cannot resolve the icon `{}`", i.display()))?,
            ),
            None => app_executable(&config.dir, config.executable.as_deref()),
        };
        if let Some(i) = icon.as_ref().filter(|i| !i.is_file()) {
            if args.icon.is_some() {
                return Err(Failure::new(
                    code::USAGE,
                    format!("the icon `{}` does not exist", i.display()),
                )
                .into());
            }
        }
        let working_dir = ini.parent().unwrap_or(Path::new(".")).to_path_buf();
        let s = Shortcut {
            name: name.clone(),
            target: exe.clone(),
            ini: ini.clone(),
            working_dir,
            icon: icon.filter(|i| i.is_file()),
        };
        fs_create(&dir)?;
        let path = shortcut::place(&dir, &s)
            .with_context(|| format!("cannot write the {} shortcut", place.label()))?;
        ctx.reporter.info(format!(
            "Wrote the {} shortcut `{}`",
            place.label(),
            path.display()
        ));
    }
    Ok(code::OK)
}

fn fs_create(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the folder `{}`", dir.display()))
}

/// The app's executable: `Executable` from the ini, or the one the installed release names.
fn app_executable(dir: &Path, executable: Option<&str>) -> Option<PathBuf> {
    if let Some(e) = executable {
        return Some(dir.join(e));
    }
    let layout = crate::state::Layout::new(dir);
    let state = crate::state::State::load(&layout).ok()??;
    let exe = state.installed?.executable;
    Some(crate::fsutil::native(dir, &exe))
}
