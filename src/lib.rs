//! `launcher`: a self-updating application launcher.
//!
//! The library holds everything; `main.rs` only parses arguments and maps errors to exit codes. The flow
//! of a launch (DESIGN.md) is a chain of plain functions over plain data:
//! `config` → `source` → `manifest` (+ `sign`) → `scan` → `plan` → `stage` → `apply` → `launch`,
//! driven by `update`. The publisher's side is `publish` and `serve`.

pub mod apply;
pub mod backup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod error;
pub mod fault;
pub mod fleet;
pub mod fsutil;
pub mod health;
pub mod hooks;
pub mod hours;
pub mod index;
pub mod journal;
pub mod launch;
pub mod layout;
pub mod links;
pub mod lock;
pub mod manifest;
pub mod paths;
pub mod pin;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod publish;
pub mod repo;
pub mod report;
pub mod rollback;
pub mod rollout;
pub mod scan;
pub mod schedule;
pub mod selfupdate;
pub mod serve;
pub mod shortcut;
pub mod sign;
pub mod source;
pub mod stage;
pub mod state;
pub mod text;
pub mod update;
pub mod version;

/// The modules of `src/` depend on each other without a cycle (issue 10): a module that a lower one
/// needs is split, not imported back. Every `crate::<module>` path outside comments counts, not just
/// `use` lines, and a module's submodules (`commands/*.rs`, `source/*.rs`) count as the module.
#[cfg(test)]
mod no_module_cycles {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    fn edges() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in walkdir::WalkDir::new(&src) {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let first = rel.components().next().unwrap().as_os_str();
            let module = first.to_str().unwrap().trim_end_matches(".rs").to_string();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap();
            let uses = edges.entry(module.clone()).or_default();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices("crate::") {
                    let name: String = line[i + "crate::".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module {
                        uses.insert(name);
                    }
                }
            }
        }
        edges
    }

    /// A cycle through `from`, as the list of modules on it.
    fn cycle(
        edges: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|m| m == from) {
            let mut c = path[i..].to_vec();
            c.push(from.to_string());
            return Some(c);
        }
        if done.contains(from) {
            return None;
        }
        path.push(from.to_string());
        for next in edges.get(from).into_iter().flatten() {
            if let Some(c) = cycle(edges, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(from.to_string());
        None
    }

    #[test]
    fn the_modules_of_src_import_each_other_without_a_cycle() {
        let edges = edges();
        assert!(
            edges.contains_key("apply") && edges["update"].contains("apply"),
            "the scan of src/ found the modules: {edges:?}"
        );
        let mut done = BTreeSet::new();
        for m in edges.keys() {
            if let Some(c) = cycle(&edges, m, &mut Vec::new(), &mut done) {
                panic!("modules import each other in a cycle: {}", c.join(" -> "));
            }
        }
    }
}
