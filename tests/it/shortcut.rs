//! `launcher shortcut`: a `.desktop` file on Linux (checked with `desktop-file-validate`), a `.lnk` on
//! Windows (read back, and started under Wine); idempotent, and `--remove` deletes only what it made.

use crate::common::{plain_path, run, sample_tree, Bench, InstallDir, Run, APP_EXE, BIN};
use std::path::{Path, PathBuf};
#[cfg(windows)]
use std::process::Stdio;

/// A user profile in the temp folder: the desktop and start-menu folders the launcher writes to.
struct Profile {
    home: PathBuf,
}

impl Profile {
    fn new(bench: &Bench) -> Profile {
        let home = bench.root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Profile { home }
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        if cfg!(windows) {
            vec![
                ("USERPROFILE", self.home.clone()),
                ("APPDATA", self.home.join("AppData").join("Roaming")),
            ]
        } else {
            vec![("HOME", self.home.clone())]
        }
    }

    fn desktop(&self, name: &str) -> PathBuf {
        self.home.join("Desktop").join(file_name(name))
    }

    fn start_menu(&self, name: &str) -> PathBuf {
        if cfg!(windows) {
            self.home
                .join(r"AppData\Roaming\Microsoft\Windows\Start Menu\Programs")
                .join(file_name(name))
        } else {
            self.home
                .join(".local/share/applications")
                .join(file_name(name))
        }
    }

    fn shortcut(&self, install: &InstallDir, args: &[&str]) -> Run {
        let mut c = install.command(&["shortcut"], &[]);
        c.args(args);
        for (k, v) in self.env() {
            c.env(k, v);
        }
        run(c, Some(&self.home))
    }
}

fn file_name(name: &str) -> String {
    if cfg!(windows) {
        format!("{name}.lnk")
    } else {
        format!("{name}.desktop")
    }
}

fn installed() -> (Bench, InstallDir) {
    let bench = Bench::new();
    bench.publish("1.0.0", &sample_tree("1.0.0"));
    let install = bench.install("a", "");
    install
        .run(&[], &[])
        .success()
        .stdout_has("demo app 1.0.0\n");
    (bench, install)
}

/// What a shortcut holds, as the platform's reader sees it.
#[derive(Debug)]
struct Read {
    target: String,
    arguments: String,
    icon: Option<String>,
}

#[cfg(unix)]
fn read_back(path: &Path) -> Read {
    let text = std::fs::read_to_string(path).unwrap();
    let key = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    let exec = key("Exec").expect("no Exec key");
    // Exec holds two quoted arguments; the file format doubles each backslash.
    let parts: Vec<String> = exec
        .split('"')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().to_string())
        .collect();
    Read {
        target: parts[0].clone(),
        arguments: parts[1..].join(" "),
        icon: key("Icon"),
    }
}

/// What a Shell Link names (MS-SHLLINK): after the 76-byte header, the ID list and the LinkInfo (when
/// their flags say so; the target is LinkInfo's Unicode local base path), then counted UTF-16 strings in
/// a fixed order. Read independently of the writer, from the format's documentation.
#[cfg(windows)]
fn read_back(path: &Path) -> Read {
    let b = std::fs::read(path).unwrap();
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let utf16_z = |o: usize| {
        let units: Vec<u16> = (0..)
            .map(|i| u16_at(o + 2 * i) as u16)
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16(&units).unwrap()
    };
    assert_eq!(u32_at(0), 0x4c, "not a shell link: {}", path.display());
    assert_eq!(
        &b[4..20],
        &[1, 0x14, 2, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46],
        "not the shell link CLSID"
    );
    let flags = u32_at(0x14);
    let mut o = 0x4c;
    if flags & 0x1 != 0 {
        o += 2 + u16_at(o);
    }
    assert!(flags & 0x2 != 0, "no LinkInfo: {}", path.display());
    let info = o;
    assert!(u32_at(info + 4) >= 0x24, "no Unicode path in LinkInfo");
    let target = utf16_z(info + u32_at(info + 0x1c));
    o += u32_at(info);
    let mut strings = std::collections::BTreeMap::new();
    // NAME, RELATIVE_PATH, WORKING_DIR, COMMAND_LINE_ARGUMENTS, ICON_LOCATION
    for (bit, key) in [
        (0x4, "name"),
        (0x8, "relative"),
        (0x10, "dir"),
        (0x20, "args"),
        (0x40, "icon"),
    ] {
        if flags & bit != 0 {
            let n = u16_at(o);
            let units: Vec<u16> = (0..n).map(|i| u16_at(o + 2 + 2 * i) as u16).collect();
            strings.insert(key, String::from_utf16(&units).unwrap());
            o += 2 + 2 * n;
        }
    }
    assert_eq!(u32_at(o), 0, "no terminal block after the strings");
    Read {
        target,
        arguments: strings.get("args").cloned().unwrap_or_default(),
        icon: strings.get("icon").cloned(),
    }
}

#[test]
fn desktop_shortcut_names_the_launcher_and_its_ini_and_is_written_once() {
    let (bench, install) = installed();
    let profile = Profile::new(&bench);
    profile.shortcut(&install, &["--name", "Opeka"]).success();
    let path = profile.desktop("Opeka");
    let first = std::fs::read(&path).unwrap();
    profile.shortcut(&install, &["--name", "Opeka"]).success();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        first,
        "the second run changed the shortcut"
    );
    let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(entries.len(), 1, "more than one file on the desktop");

    let read = read_back(&path);
    let norm = |s: &str| s.replace("\\\\", "\\");
    let bin = Path::new(BIN);
    if cfg!(windows) {
        // BIN is spelled as the build saw it; compare the files, not the spellings.
        let same = std::fs::canonicalize(&read.target).ok() == Some(bin.canonicalize().unwrap());
        assert!(same, "the shortcut does not start {BIN}: {read:?}");
    } else {
        assert_eq!(norm(&read.target), BIN, "{read:?}");
    }
    assert!(
        norm(&read.arguments).contains(&plain_path(&install.ini)),
        "the shortcut does not name the ini: {read:?}"
    );
    if cfg!(windows) {
        // The icon is the app executable's own.
        let icon = plain_path(&crate::common::native_path(&install.app, APP_EXE));
        assert_eq!(read.icon.as_deref(), Some(icon.as_str()), "{read:?}");
    }
    #[cfg(unix)]
    if crate::common::require("desktop-file-validate") {
        let r = run(
            {
                let mut c = std::process::Command::new("desktop-file-validate");
                c.arg(&path);
                c
            },
            None,
        );
        assert!(
            r.code() == 0 && r.stdout().trim().is_empty() && r.stderr().trim().is_empty(),
            "desktop-file-validate complains{}",
            r.explain()
        );
    }
}

#[test]
fn start_menu_shortcut_and_remove_deletes_only_what_the_launcher_made() {
    let (bench, install) = installed();
    let profile = Profile::new(&bench);
    profile
        .shortcut(&install, &["--start-menu", "--desktop", "--name", "Demo"])
        .success();
    let (desk, menu) = (profile.desktop("Demo"), profile.start_menu("Demo"));
    assert!(desk.is_file() && menu.is_file());

    // A user's own file of the same name is not the launcher's to delete.
    let other = profile.desktop("Mine");
    crate::common::write(&other, "the user's own shortcut\n");
    profile
        .shortcut(&install, &["--remove", "--name", "Mine"])
        .failure()
        .stderr_has("was not made by this launcher");
    assert_eq!(
        std::fs::read_to_string(&other).unwrap(),
        "the user's own shortcut\n"
    );

    profile
        .shortcut(
            &install,
            &["--remove", "--start-menu", "--desktop", "--name", "Demo"],
        )
        .success();
    assert!(!desk.exists() && !menu.exists(), "--remove left a shortcut");
    profile
        .shortcut(&install, &["--remove", "--name", "Demo"])
        .success()
        .stderr_has("There is no desktop shortcut");
}

#[test]
fn shortcut_name_that_is_no_file_name_is_refused() {
    let (bench, install) = installed();
    let profile = Profile::new(&bench);
    profile
        .shortcut(&install, &["--name", "a/b"])
        .code_is(2)
        .stderr_has("cannot be a file name");
}

/// Under Wine, the `.lnk` is started the way Explorer starts it (`start` resolves the link): the launcher
/// it names installs the app with the ini it names.
#[cfg(windows)]
#[test]
fn lnk_shortcut_starts_the_launcher_under_windows() {
    let bench = Bench::new();
    bench.publish("1.0.0", &sample_tree("1.0.0"));
    let install = bench.install("a", "");
    let profile = Profile::new(&bench);
    profile.shortcut(&install, &["--name", "Start"]).success();
    let lnk = profile.desktop("Start");
    let mut c = std::process::Command::new("cmd.exe");
    use std::os::windows::process::CommandExt;
    c.raw_arg(format!("/d /c start \"\" /wait \"{}\"", plain_path(&lnk)));
    // No pipes: what the shell starts on the way (Wine's desktop process, the app's console) may hold
    // inherited handles long after the launcher is done, and waiting for their end would never finish.
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = c.status().unwrap();
    // `start /wait` waits for what the shell reports it started; for a link, Wine's shell reports no
    // process, so wait for the install the launcher makes instead (generously: Wine is slow to start).
    let state = install.app.join(".launcher").join("state.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while !state.is_file() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        state.is_file(),
        "the shortcut did not start the launcher (cmd.exe exited with {status}):\n{}",
        crate::common::listing(&install.root)
    );
    // The launcher it started is the one named, with the ini named: the install is 1.0.0 and whole.
    install.run(&["verify"], &[]).success();
}
