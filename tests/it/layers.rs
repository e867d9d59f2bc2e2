//! The source tree keeps its shape: every module imports only from its own
//! layer or the layers below it (see `src/lib.rs`), and no two modules import
//! each other, directly or round a longer loop, except the one inherent
//! cycle (a CONNECT tunnel serves HTTP that may CONNECT again).
//!
//! The check reads `src/` and follows every `crate::…` and `super::…` path
//! outside `#[cfg(test)]` modules (test code may reach anywhere), resolving
//! each to the module file that defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules, lowest layer first. A module may import from its own
/// layer and the ones below.
const LAYERS: &[&[&str]] = &[
    &["stripe", "tls"],
    &["cassette"],
    &["answer", "upstream", "audit_log"],
    &["mode"],
    &["config"],
    &["server"],
    &["cli"],
];

/// The one cycle the design has.
const ALLOWED_CYCLES: &[&[&str]] = &[&["server::listen::connect", "server::listen::http"]];

/// Module path (`server::listen::http`) → its source, test modules removed.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("read src").map(|e| e.expect("entry")) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut p = prefix.to_vec();
                p.push(name);
                walk(&path, &p, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let mut p = prefix.to_vec();
                if !matches!(stem, "mod" | "lib" | "main") {
                    p.push(stem.to_owned());
                }
                if stem == "main" {
                    continue; // the binary: uses the library from outside
                }
                let text = std::fs::read_to_string(&path).expect("read source");
                out.insert(p.join("::"), without_tests(&text));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// The source up to its `#[cfg(test)] mod …` block (by convention, last).
fn without_tests(text: &str) -> String {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    match code.find("#[cfg(test)]\nmod ") {
        Some(at) => code[..at].to_owned(),
        None => code,
    }
}

/// Every path the source names through `crate::` or `super::`, as segment
/// lists relative to the crate root (`use crate::{a::b, c}` gives two).
fn referenced_paths(module: &str, text: &str) -> Vec<Vec<String>> {
    let here: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let preceded_by_ident = i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':');
        let (mut base, skip) = if rest.starts_with("crate::") && !preceded_by_ident {
            (Vec::new(), "crate::".len())
        } else if rest.starts_with("super::") && !preceded_by_ident {
            let mut base = here.clone();
            let mut skip = 0;
            while text[i + skip..].starts_with("super::") {
                base.pop();
                skip += "super::".len();
            }
            (base, skip)
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let tail = &text[i + skip..];
        if let Some(group) = tail.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let segs: Vec<String> = item
                    .split("::")
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                let mut p = base.clone();
                p.extend(segs);
                out.push(p);
            }
        } else {
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            base.extend(tail[..end].split("::").filter(|s| !s.is_empty()).map(str::to_owned));
            out.push(base);
        }
        i += skip;
    }
    out
}

/// The longest module that `path` starts with.
fn owner(path: &[String], modules: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

fn layer_of(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or("");
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top))
        .unwrap_or_else(|| panic!("src/{top} is in no layer: add it to LAYERS in tests/it/layers.rs and src/lib.rs"))
}

/// File-level import graph.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &modules {
        let edges = graph.entry(module.clone()).or_default();
        for path in referenced_paths(module, text) {
            if let Some(target) = owner(&path, &modules) {
                // A module naming its own children (or itself) is structure, not a dependency.
                if target != *module && !target.starts_with(&format!("{module}::")) && !module.is_empty() {
                    edges.insert(target);
                }
            }
        }
    }
    graph
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let mut wrong = Vec::new();
    for (from, targets) in graph() {
        for to in targets {
            let (lf, lt) = (layer_of(&from), layer_of(&to));
            if lt > lf {
                wrong.push(format!("{from} (layer {lf}) imports {to} (layer {lt})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering in src/lib.rs:\n  {}",
        wrong.join("\n  ")
    );
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.found
}

#[test]
fn no_import_cycles_but_the_connect_one() {
    let found: Vec<Vec<String>> = cycles(&graph())
        .into_iter()
        .filter(|c| !ALLOWED_CYCLES.iter().any(|allowed| c.iter().eq(allowed.iter())))
        .collect();
    assert!(
        found.is_empty(),
        "modules that import each other (directly or round a loop):\n  {}",
        found.iter().map(|c| c.join(" ↔ ")).collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn the_check_sees_imports_and_cycles() {
    // The parser finds every spelling, and the cycle finder a planted loop:
    // without this the two tests above could pass by seeing nothing.
    let paths = referenced_paths(
        "server::listen::http",
        "use crate::{answer::ProxyResponse, mode::Mode};\nuse super::connect;\nlet x = crate::cassette::key::file_name(); super::super::stats::Stats",
    );
    let joined: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        joined,
        [
            "answer::ProxyResponse",
            "mode::Mode",
            "server::listen::connect",
            "cassette::key::file_name",
            "server::stats::Stats"
        ]
    );
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    g.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycles(&g), vec![vec!["a".to_owned(), "b".into(), "c".into()]]);
    // And the real tree has edges to check.
    let real = graph();
    assert!(real.get("server::pipeline").is_some_and(|e| e.contains("mode")));
    assert!(real.values().map(BTreeSet::len).sum::<usize>() > 100);
}
