//! The source layout keeps the rules a newcomer relies on: no import circle
//! between the modules directly under `src/` (data flows one way), `lib.rs`
//! lists and documents every one of them, and no function outside tests
//! grows past 120 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LONGEST_FUNCTION: usize = 120;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The file's text before its `#[cfg(test)]` module (tests may reach
/// anywhere, the product code may not), without comment lines (a doc link
/// is not an import).
fn product_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text,
    };
    code.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n")
}

/// Top-level module name -> the files that make it up.
fn top_level_modules() -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if path.join("mod.rs").exists() {
                modules.insert(name, rust_files(&path));
            }
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            modules.insert(name, vec![path]);
        }
    }
    modules
}

/// The top-level modules `code` names through `crate::`.
fn crate_references(code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if known.contains(&name) {
            found.insert(name);
        }
        // `use crate::{a, b::c}`.
        if rest.starts_with('{') {
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if known.contains(&name) {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// A circle in `graph`, if any, as the path that closes it.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut circle = path[start..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_circle_between_top_level_modules() {
    let modules = top_level_modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, files) in &modules {
        let mut uses = BTreeSet::new();
        for file in files {
            uses.extend(crate_references(&product_code(file), &known));
        }
        uses.remove(name);
        graph.insert(name.clone(), uses);
    }
    assert!(graph.len() > 10, "the modules were found: {graph:?}");
    assert!(graph["poller"].contains("gong"), "references are found: {graph:?}");
    if let Some(circle) = find_circle(&graph) {
        panic!("import circle: {}", circle.join(" -> "));
    }
}

#[test]
fn the_circle_finder_finds_circles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]
    .into();
    assert_eq!(find_circle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let known = BTreeSet::from(["gong".to_owned(), "poller".to_owned()]);
    let code = "use crate::{gong::Client, poller};\nlet x = crate::VERSION;";
    assert_eq!(crate_references(code, &known), known);
}

#[test]
fn lib_lists_and_documents_every_top_level_module() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    for name in top_level_modules().keys() {
        assert!(lib.contains(&format!("pub mod {name};")), "lib.rs does not declare {name}");
        assert!(lib.contains(&format!("[`{name}`]")), "lib.rs's doc does not name {name}");
    }
}

/// `(file, first line, lines)` of every function outside tests.
fn function_lengths(path: &Path) -> Vec<(String, usize, usize)> {
    let code = product_code(path);
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let is_fn = ["fn ", "pub fn ", "async fn ", "pub async fn ", "pub(crate) fn ", "pub(super) fn "]
            .iter()
            .any(|p| trimmed.starts_with(p))
            || trimmed.starts_with("pub(super) async fn ")
            || trimmed.starts_with("pub(crate) async fn ");
        if !is_fn {
            continue;
        }
        // The body ends at the first line back at the signature's indent
        // that closes a brace.
        let indent = line.len() - trimmed.len();
        let end = lines[start + 1..]
            .iter()
            .position(|l| l.len() > indent && l[..indent].trim().is_empty() && l[indent..].starts_with('}'))
            .map_or(lines.len(), |offset| start + 1 + offset);
        if trimmed.trim_end().ends_with(';') {
            continue;
        }
        found.push((trimmed.chars().take(60).collect(), start + 1, end - start + 1));
    }
    found
}

#[test]
fn no_function_outside_tests_is_longer_than_120_lines() {
    let mut too_long = Vec::new();
    let mut counted = 0;
    for file in rust_files(&src()) {
        for (signature, line, length) in function_lengths(&file) {
            counted += 1;
            if length > LONGEST_FUNCTION {
                too_long.push(format!("{}:{line} ({length} lines) {signature}", file.display()));
            }
        }
    }
    assert!(counted > 100, "functions were found: {counted}");
    assert!(too_long.is_empty(), "functions over {LONGEST_FUNCTION} lines:\n{}", too_long.join("\n"));
}
