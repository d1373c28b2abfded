//! The domain's modules form no cycle: no module imports one that imports it back, so
//! each can be read, and changed, knowing only what it depends on. Read from the sources:
//! every `crate::` and `super::` path outside test code is an edge to the module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/a.rs` and `src/a/mod.rs` are `a`; `src/a/b.rs` is `a::b`.
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap().with_extension("");
    let parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|p| *p != "mod").collect();
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its tests: everything from `#[cfg(test)]` on is test code
/// by this crate's convention (test modules come last).
fn without_tests(source: &str) -> &str {
    source.find("#[cfg(test)]\nmod tests").map_or(source, |at| &source[..at])
}

/// The module a path starting at `from` names: the longest known module it begins with.
fn target(modules: &BTreeSet<String>, path: &[&str]) -> Option<String> {
    (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|candidate| modules.contains(candidate))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&root, f)).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let module = module_of(&root, file);
        if ["lib", "module_graph"].contains(&module.as_str()) || module.split("::").any(|segment| segment == "tests") {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        // Comments name modules without importing them.
        let code: String = without_tests(&source)
            .lines()
            .map(|line| line.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        let is_folder = file.file_name().is_some_and(|n| n == "mod.rs");
        let mut targets = BTreeSet::new();
        for (at, _) in code.match_indices("crate::").chain(code.match_indices("super::")) {
            let rest: String =
                code[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            let segments: Vec<&str> = rest.split("::").filter(|s| !s.is_empty()).collect();
            let absolute: Vec<String> = if segments[0] == "crate" {
                segments[1..].iter().map(|s| s.to_string()).collect()
            } else {
                // `super` of `a::b` (a file) is `a`; of `a` (a folder's mod.rs) it is the root.
                let mut base: Vec<String> = module.split("::").map(str::to_string).collect();
                base.pop();
                if is_folder {
                    base.clear();
                }
                base.extend(segments[1..].iter().map(|s| s.to_string()));
                base
            };
            let absolute: Vec<&str> = absolute.iter().map(String::as_str).collect();
            if let Some(found) = target(&modules, &absolute)
                && found != module
            {
                targets.insert(found);
            }
        }
        edges.insert(module, targets);
    }
    edges
}

/// A cycle through `start`, if there is one.
fn cycle_from(
    edges: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    at: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for next in edges.get(at).into_iter().flatten() {
        if next == start {
            let mut cycle = path.clone();
            cycle.push(next.clone());
            return Some(cycle);
        }
        if !path.contains(next) && path.len() < edges.len() {
            path.push(next.clone());
            if let Some(cycle) = cycle_from(edges, start, next, path) {
                return Some(cycle);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let edges = graph();
    assert!(edges.len() > 20, "the sources were read: {:?}", edges.keys());
    assert!(edges["worker"].contains("ports"), "edges are found: {:?}", edges["worker"]);
    for module in edges.keys() {
        let cycle = cycle_from(&edges, module, module, &mut vec![module.clone()]);
        assert!(cycle.is_none(), "modules import each other: {}", cycle.unwrap_or_default().join(" -> "));
    }
}

#[test]
fn the_ports_hold_traits_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ports/mod.rs");
    let source = std::fs::read_to_string(root).unwrap();
    for item in ["pub struct ", "pub enum ", "impl "] {
        let found: Vec<&str> = source.lines().filter(|l| l.starts_with(item)).collect();
        assert!(found.is_empty(), "ports/mod.rs declares more than traits: {found:?}");
    }
}
