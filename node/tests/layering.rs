//! The shape of `node/src`: the local API sits above the domain. No file
//! outside `api/` names `crate::api` (or reaches it through `super::`),
//! except the composition root `run.rs` that starts the daemon and serves
//! the API over it, and the web inbox `ui/`, a client of the API above it;
//! and the import graph of the top-level modules has no cycle through
//! `api` (so the API never names `ui`).
//!
//! The test reads the sources: each file's code before its `#[cfg(test)]`
//! module, comments left out.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Files above both the API and the domain: they may name `crate::api`.
const COMPOSITION_ROOT: &[&str] = &["run.rs", "lib.rs"];
/// Modules above the API, its clients: they may name `crate::api`, and
/// the API may not name them (no cycle).
const ABOVE_API: &[&str] = &["ui"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as paths relative to `src()`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(src()).unwrap().to_path_buf());
        }
    }
}

/// A file's code: what comes before `#[cfg(test)]`, without comments.
fn code_of(text: &str) -> String {
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or("");
    before_tests
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file belongs to: `daemon/engine.rs` and
/// `daemon/mod.rs` are `daemon`, `config.rs` and `config/network.rs` are
/// `config`.
fn module_of(file: &Path) -> String {
    let first = file
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The top-level modules a file's code names as `crate::<module>`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        // `confrere_node::crate` never occurs; skip `$crate::` of macros.
        if code[..at].ends_with('$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

/// Whether a file's code reaches the API through `super::` paths.
fn names_api_through_super(code: &str) -> bool {
    code.match_indices("super::").any(|(at, _)| {
        let rest = &code[at..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        path.split("::").any(|segment| segment == "api")
    })
}

struct Source {
    file: PathBuf,
    code: String,
}

fn sources() -> Vec<Source> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() > 20, "node/src not found: {files:?}");
    files
        .into_iter()
        .map(|file| Source {
            code: code_of(&fs::read_to_string(src().join(&file)).unwrap()),
            file,
        })
        .collect()
}

fn shown(file: &Path) -> String {
    file.to_string_lossy().replace('\\', "/")
}

#[test]
fn nothing_below_the_api_names_it() {
    let mut offenders = Vec::new();
    for s in sources() {
        let name = shown(&s.file);
        let module = module_of(&s.file);
        if module == "api"
            || ABOVE_API.contains(&module.as_str())
            || COMPOSITION_ROOT.contains(&name.as_str())
        {
            continue;
        }
        let names_api = named_modules(&s.code).contains("api") || names_api_through_super(&s.code);
        if names_api {
            offenders.push(name);
        }
    }
    assert!(
        offenders.is_empty(),
        "these files below the local API name it (the domain returns its own types and errors; api/ converts): {offenders:?}"
    );
}

/// The import graph of the top-level modules, `crate::<module>` edges.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in sources() {
        let from = module_of(&s.file);
        let edges = graph.entry(from.clone()).or_default();
        for to in named_modules(&s.code) {
            if to != from {
                edges.insert(to);
            }
        }
    }
    graph
}

/// The modules reachable from `start` (not counting `start` itself unless
/// a path leads back to it).
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = graph
        .get(start)
        .map(|e| e.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(m) = todo.pop() {
        if seen.insert(m.to_owned()) {
            if let Some(edges) = graph.get(m) {
                todo.extend(edges.iter().map(String::as_str));
            }
        }
    }
    seen
}

#[test]
fn no_import_cycle_passes_through_the_api() {
    let graph = module_graph();
    assert!(
        graph.contains_key("api") && graph.contains_key("daemon"),
        "{graph:?}"
    );
    let from_api = reachable(&graph, "api");
    assert!(
        !from_api.contains("api"),
        "a module the API uses leads back to it: {:?}",
        from_api
            .iter()
            .filter(|m| reachable(&graph, m).contains("api"))
            .collect::<Vec<_>>()
    );
    assert!(
        !from_api.contains("run"),
        "the API must not depend on the composition root"
    );
    for above in ABOVE_API {
        assert!(
            !from_api.contains(*above),
            "the API must not depend on its client {above}"
        );
    }
}

#[test]
fn the_checks_see_what_they_look_for() {
    let code = code_of(
        "use crate::api::model::ApiError; // crate::net\nuse super::super::api::x;\n#[cfg(test)]\nuse crate::store;",
    );
    assert_eq!(named_modules(&code), BTreeSet::from(["api".to_owned()]));
    assert!(names_api_through_super(&code));
    assert!(!names_api_through_super("use super::apiary::Bee;"));
    assert_eq!(module_of(Path::new("daemon/engine.rs")), "daemon");
    assert_eq!(module_of(Path::new("config.rs")), "config");
}

#[test]
fn the_top_level_modules_form_no_cycle() {
    let graph = module_graph();
    let cyclic: Vec<&String> = graph
        .keys()
        .filter(|m| reachable(&graph, m).contains(*m))
        .collect();
    assert!(
        cyclic.is_empty(),
        "these modules reach themselves through others (each layer uses only those below it): {cyclic:?}; graph: {graph:?}"
    );
}
