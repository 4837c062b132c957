//! No module imports a module that imports it back, directly or round a longer loop
//! (issue 20): a newcomer can read the modules bottom-up. Modules are files (`a/b.rs` and
//! `a/b/mod.rs` are `a::b`); an import is any `crate::…` or `super::…` path in the file's
//! non-test code, resolved to the longest module it names. Test code (`tests.rs`,
//! `*_tests.rs`, `testing.rs`, and a file's trailing `#[cfg(test)] mod`) may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under a crate's `src`: `a::b` for `a/b.rs` or `a/b/mod.rs`,
/// the empty path for `lib.rs` and `main.rs`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] || parts == ["main"] {
        parts.pop();
    }
    parts
}

fn is_test_file(file: &Path) -> bool {
    let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    name == "tests" || name == "testing" || name.ends_with("_tests")
}

/// The file's code without comments and without its trailing test module.
fn non_test_code(text: &str) -> String {
    let code = text.find("#[cfg(test)]\nmod ").map_or(text, |at| &text[..at]);
    code.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every path after `prefix::`, with `{a, b::{c, d}}` groups expanded.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let needle = format!("{prefix}::");
    let mut rest = code;
    while let Some(at) = rest.find(&needle) {
        let before = rest[..at].chars().last();
        rest = &rest[at + needle.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        expand(rest, Vec::new(), &mut found);
    }
    found
}

/// Expands the path at the start of `text` (after a `::`) onto `base`.
fn expand(text: &str, base: Vec<String>, found: &mut Vec<Vec<String>>) {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    expand(&group[start..i], base.clone(), found);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&group[start..i], base.clone(), found);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let mut path = base;
    let mut rest = text;
    loop {
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        path.push(rest[..end].to_owned());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(after) if after.trim_start().starts_with('{') => return expand(after, path, found),
            Some(after) => rest = after,
            None => break,
        }
    }
    if !path.is_empty() {
        found.push(path);
    }
}

/// Module → the modules it imports, for one crate.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> =
        files.iter().filter(|f| !is_test_file(f)).map(|f| (module_of(src, f), f.clone())).collect();
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|candidate| modules.contains_key(candidate))
    };
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let code = non_test_code(&std::fs::read_to_string(file).expect("readable"));
        let is_mod_file = file.file_stem().is_some_and(|s| s == "mod" || s == "lib" || s == "main");
        // `super` of `a/b.rs` is `a`; of `a/b/mod.rs` it is `a` too (the module is `a::b`).
        let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        let mut targets = BTreeSet::new();
        let named = paths_after(&code, "crate").into_iter().chain(
            paths_after(&code, "super").into_iter().filter(|_| !is_mod_file || !module.is_empty()).map(|p| {
                let mut full = parent.clone();
                full.extend(p);
                full
            }),
        );
        for path in named {
            let Some(target) = resolve(&path) else { continue };
            // A module's own parents (its `mod.rs` chain) and itself are not imports of another module.
            if target.is_empty() || module.starts_with(&target) || target.starts_with(module) {
                continue;
            }
            targets.insert(target.join("::"));
        }
        graph.insert(module.join("::"), targets);
    }
    graph
}

/// Groups of modules that reach each other (Tarjan's strongly connected components, of two or more).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let low = s.low[v].min(s.low[w.as_str()]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w.as_str()) {
                let low = s.low[v].min(s.index[w.as_str()]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn describe(graph: &BTreeMap<String, BTreeSet<String>>, found: &[Vec<String>]) -> String {
    found
        .iter()
        .map(|component| {
            let edges: Vec<String> = component
                .iter()
                .map(|m| {
                    let inside: Vec<&str> =
                        graph[m].iter().filter(|t| component.contains(t)).map(String::as_str).collect();
                    format!("  {m} -> {}", inside.join(", "))
                })
                .collect();
            edges.join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut crates = vec![root.join("src"), root.join("ingest/src")];
    crates.extend(["core/src"].iter().map(|c| root.join(c)).filter(|p| p.is_dir()));
    for src in crates {
        let graph = imports(&src);
        assert!(graph.len() > 5, "{} holds modules", src.display());
        let found = cycles(&graph);
        assert!(found.is_empty(), "import cycles in {}:\n{}", src.display(), describe(&graph, &found));
    }
}

#[test]
fn the_checker_finds_a_loop_through_nested_groups_and_super() {
    let dir = std::env::temp_dir().join(format!("gatelog-cycles-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).expect("dirs");
    let files = [
        ("lib.rs", "mod a; mod b; mod c; mod d;"),
        ("a/mod.rs", "mod inner;"),
        ("a/inner.rs", "use crate::{b::{self, X}, d};"),
        ("b.rs", "fn f() { crate::c::g(); } // crate::a::inner in a comment is no import"),
        ("c.rs", "use crate::a::inner::Y;\n#[cfg(test)]\nmod tests { use crate::d; }"),
        ("d.rs", "pub struct Z;"),
    ];
    for (name, text) in files {
        std::fs::write(src.join(name), text).expect("write");
    }
    let graph = imports(&src);
    let found = cycles(&graph);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(found, [vec!["a::inner".to_owned(), "b".to_owned(), "c".to_owned()]], "{graph:?}");
    assert!(graph["c"].iter().all(|t| t != "d"), "test modules are not imports");
}
