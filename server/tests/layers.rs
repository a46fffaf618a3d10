//! The module layering the README's "Modules import downwards only" describes, read from the
//! source: which top-level modules each one names (`crate::x`), outside comments and test
//! modules. No two may import each other, directly or round a loop, and the two at the bottom of
//! the chat (storage, the hub) name only what is below them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap();
            let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
            let module = first.trim_end_matches(".rs").to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            // Code only: up to the file's test module, without line comments.
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let names = graph.entry(module.clone()).or_default();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !name.is_empty() && name != module {
                    names.insert(name);
                }
            }
        }
    }
    graph
}

/// A loop through `from`, if there is one: the modules on it, in order.
fn loop_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    fn walk(graph: &BTreeMap<String, BTreeSet<String>>, at: &str, goal: &str, path: &mut Vec<String>, seen: &mut BTreeSet<String>) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == goal {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, goal, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![from.to_owned()];
    walk(graph, from, from, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn no_two_top_level_modules_import_each_other() {
    let graph = imports();
    assert!(graph.len() > 10, "the source was read: {:?}", graph.keys());
    assert!(graph["http"].contains("hub"), "the reader sees imports: {:?}", graph["http"]);
    let loops: Vec<Vec<String>> = graph.keys().filter_map(|m| loop_through(&graph, m)).collect();
    assert!(loops.is_empty(), "modules that import each other (round a loop): {loops:?}");
}

#[test]
fn storage_and_the_hub_name_only_what_is_below_them() {
    let graph = imports();
    let allowed = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
    let below_storage = allowed(&["auth", "config", "domain", "ids", "now_ms"]);
    let extra: Vec<&String> = graph["storage"].difference(&below_storage).collect();
    assert!(extra.is_empty(), "storage names {extra:?}");
    let below_hub = allowed(&["auth", "config", "domain", "ids", "now_ms", "protocol", "storage"]);
    let extra: Vec<&String> = graph["hub"].difference(&below_hub).collect();
    assert!(extra.is_empty(), "the hub names {extra:?} (call out through OfferHook / ReachHook)");
}
