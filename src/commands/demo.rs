//! `launcher demo`: a self-contained walkthrough on loopback, from a fresh clone, with nothing to set up.
//!
//! It makes a signing key, publishes the sample app from `assets/` as 1.0.0 signed with it, serves the repository with `launcher serve` on a
//! free loopback port, installs and launches it through the launcher, publishes 2.0.0 (one file changed,
//! one added, one removed), launches again, and shows each step: files changed, bytes downloaded, the
//! backup folder and the app's own output. Every step runs the real binary as a child process, exactly
//! as a user or IT would. The temp folder is removed at the end unless `--keep`.

use super::Ctx;
use crate::error::code;
use anyhow::{bail, Context};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The sample app: from the source tree when run from a clone, else the copy embedded in the binary.
fn sample_app(dest: &Path) -> anyhow::Result<()> {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-app");
    if tree.is_dir() {
        copy_tree(&tree, dest)
    } else {
        for (rel, bytes, exec) in EMBEDDED {
            let p = dest.join(rel);
            std::fs::create_dir_all(p.parent().unwrap_or(dest))?;
            std::fs::write(&p, bytes).with_context(|| format!("cannot write `{}`", p.display()))?;
            crate::fsutil::set_executable(&p, *exec)?;
        }
        Ok(())
    }
}

const EMBEDDED: &[(&str, &[u8], bool)] = &[
    (
        "bin/demo",
        include_bytes!("../../assets/demo-app/bin/demo"),
        true,
    ),
    (
        "bin/demo.cmd",
        include_bytes!("../../assets/demo-app/bin/demo.cmd"),
        false,
    ),
    (
        "VERSION",
        include_bytes!("../../assets/demo-app/VERSION"),
        false,
    ),
    (
        "data/config.txt",
        include_bytes!("../../assets/demo-app/data/config.txt"),
        false,
    ),
    (
        "data/old-notes.txt",
        include_bytes!("../../assets/demo-app/data/old-notes.txt"),
        false,
    ),
    (
        "data/catalog.dat",
        include_bytes!("../../assets/demo-app/data/catalog.dat"),
        false,
    ),
    (
        "docs/README.txt",
        include_bytes!("../../assets/demo-app/docs/README.txt"),
        false,
    ),
];

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for e in walkdir::WalkDir::new(from).min_depth(1) {
        let e = e?;
        let rel = e.path().strip_prefix(from)?;
        let dst = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst)?;
        } else {
            if let Some(p) = dst.parent() {
                std::fs::create_dir_all(p)?;
            }
            std::fs::copy(e.path(), &dst)
                .with_context(|| format!("cannot copy `{}`", e.path().display()))?;
        }
    }
    Ok(())
}

struct ServerChild(Child);

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Demo {
    exe: PathBuf,
    root: PathBuf,
}

impl Demo {
    fn step(&self, title: &str) {
        println!("\n=== {title}");
    }

    /// Runs the launcher with `args`, shows the command and its output, and returns its exit code.
    fn launcher(&self, args: &[&str]) -> anyhow::Result<i32> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.replace(&*self.root.to_string_lossy(), "$DEMO"))
            .collect();
        println!("$ launcher {}", shown.join(" "));
        let out = Command::new(&self.exe)
            .args(args)
            .current_dir(&self.root)
            .env_remove("LAUNCHER_CONFIG")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run `{}`", self.exe.display()))?;
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            println!("  | {line}");
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            println!("  > {line}");
        }
        Ok(out.status.code().unwrap_or(-1))
    }

    fn must(&self, args: &[&str]) -> anyhow::Result<()> {
        let c = self.launcher(args)?;
        if c != 0 {
            bail!("`launcher {}` exited with {c}", args.join(" "));
        }
        Ok(())
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            e.path()
                .strip_prefix(dir)
                .ok()
                .map(|p| p.display().to_string())
        })
        .collect();
    v.sort();
    v
}

pub fn run(_ctx: &Ctx, keep: bool) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("cannot find the launcher's own path")?;
    let tmp = tempfile::Builder::new()
        .prefix("launcher-demo-")
        .tempdir()
        .context("cannot create a temp folder")?;
    let root = tmp.path().to_path_buf();
    let d = Demo {
        exe,
        root: root.clone(),
    };
    let platform = crate::repo::current_platform();
    let exe_rel = if cfg!(windows) {
        "bin/demo.cmd"
    } else {
        "bin/demo"
    };
    println!(
        "launcher demo: everything happens under {} and on 127.0.0.1 only",
        root.display()
    );

    d.step("1. The publisher makes a signing key once, and publishes release 1.0.0 signed with it");
    let (secret, public) = (root.join("demo.key"), root.join("demo.pub"));
    let (secrets, publics) = (
        secret.to_string_lossy().into_owned(),
        public.to_string_lossy().into_owned(),
    );
    d.must(&["keygen", "--secret-key", &secrets, "--public-key", &publics])?;
    // The key is the last line of a minisign public key file, as `keygen` also prints it.
    let public_key = std::fs::read_to_string(&public)
        .with_context(|| format!("cannot read the public key `{}`", public.display()))?
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
        .with_context(|| format!("the public key file `{}` is empty", public.display()))?;
    let v1 = root.join("release-1.0.0");
    sample_app(&v1)?;
    std::fs::write(v1.join("VERSION"), "1.0.0\n")?;
    let repo = root.join("repo");
    let (v1s, repos) = (
        v1.to_string_lossy().into_owned(),
        repo.to_string_lossy().into_owned(),
    );
    d.must(&[
        "--no-progress",
        "publish",
        "--source",
        &v1s,
        "--repo",
        &repos,
        "--product",
        "demo",
        "--version",
        "1.0.0",
        "--executable",
        exe_rel,
        "--secret-key",
        &secrets,
    ])?;

    d.step("2. `launcher serve` serves the repository on a free loopback port");
    let mut child = Command::new(&d.exe)
        .args(["serve", "--repo", &repos, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .context("cannot start `launcher serve`")?;
    let stdout = child
        .stdout
        .take()
        .context("no stdout from `launcher serve`")?;
    let server = ServerChild(child);
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .context("`launcher serve` printed nothing")?;
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(str::to_string)
        .with_context(|| format!("`launcher serve` printed no URL: {first:?}"))?;
    println!("  serving at {url}");

    d.step("3. IT deploys the launcher with a launcher.ini that trusts only that key; the first start installs 1.0.0 and launches it");
    let client = root.join("client");
    std::fs::create_dir_all(&client)?;
    let ini = client.join("launcher.ini");
    std::fs::write(
        &ini,
        format!("[Update]\nServer = {url}\nProduct = demo\nChannel = stable\nPlatform = {platform}\nPublicKey = {public_key}\n\n[App]\nDir = app\n"),
    )?;
    println!(
        "{}",
        std::fs::read_to_string(&ini)?
            .lines()
            .map(|l| format!("  launcher.ini: {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let inis = ini.to_string_lossy().into_owned();
    d.must(&[
        "--no-progress",
        "--config",
        &inis,
        "report.pdf",
        "--from-demo",
    ])?;
    println!(
        "  installed files: {}",
        listing(&client.join("app"))
            .into_iter()
            .filter(|p| !p.starts_with(".launcher"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    d.step(
        "4. A second start: nothing changed, so nothing is downloaded and the app starts at once",
    );
    d.must(&["--no-progress", "--config", &inis, "--second-start"])?;

    d.step("5. The publisher publishes 2.0.0, signed: config.txt changed, new-feature.txt added, old-notes.txt removed");
    let v2 = root.join("release-2.0.0");
    sample_app(&v2)?;
    std::fs::write(v2.join("VERSION"), "2.0.0\n")?;
    std::fs::write(
        v2.join("data/config.txt"),
        "greeting = Hello from release 2\ncolour = green\n",
    )?;
    std::fs::write(v2.join("data/new-feature.txt"), "Something new in 2.0.0\n")?;
    std::fs::remove_file(v2.join("data/old-notes.txt"))?;
    let v2s = v2.to_string_lossy().into_owned();
    d.must(&[
        "--no-progress",
        "publish",
        "--source",
        &v2s,
        "--repo",
        &repos,
        "--product",
        "demo",
        "--version",
        "2.0.0",
        "--executable",
        exe_rel,
        "--secret-key",
        &secrets,
    ])?;
    let c = d.launcher(&["--config", &inis, "check"])?;
    println!("  (`check` exit code {c}: 10 means an update is available)");

    d.step("6. The next start updates to 2.0.0 (only what changed), keeps a backup, and launches");
    d.must(&["--no-progress", "--config", &inis])?;
    let bkp = client.join("app/bkp.001");
    println!(
        "  backup folder {}: {}",
        bkp.display(),
        listing(&bkp).join(", ")
    );

    d.step("7. IT looks at the install");
    d.must(&["--config", &inis, "status"])?;

    d.step("8. Rollback restores 1.0.0 and holds it until a release newer than 2.0.0 appears");
    d.must(&["--no-progress", "--config", &inis, "rollback"])?;
    d.must(&["--no-progress", "--config", &inis, "--after-rollback"])?;

    drop(server);
    if keep {
        let kept = tmp.keep();
        println!("\nDemo finished; its files are kept in {}", kept.display());
    } else {
        drop(tmp);
        println!("\nDemo finished; its temp folder was removed");
    }
    Ok(code::OK)
}
