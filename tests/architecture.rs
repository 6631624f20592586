//! The module structure stays a one-way picture (README "Architecture").
//!
//! Reads every `src/**/*.rs` (main.rs, the binary's wiring, aside), collects
//! the module paths each file names (`crate::…`, `super::…`, `self::…` and a
//! child module's name), and checks two things:
//! - every arrow between top-level modules runs down [`LAYERS`];
//! - no files import each other in a circle.
//!
//! Test modules (`#[cfg(test)]` to the end of a file) are left out: they
//! are not part of the product's structure. Comments are left out too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the ground up: a module may use only those
/// before it. `source` runs gear and git through the one command runner,
/// so it stands above `transport`.
const LAYERS: &[&str] = &[
    "config",
    "farm",
    "hasher",
    "transport",
    "source",
    "run",
    "report",
    "batch",
    "up",
    "cli",
    "fuzzing",
];

/// A module path (`["run", "executor"]`) and the file that holds it.
struct Module {
    path: Vec<String>,
    file: PathBuf,
    children: BTreeSet<String>,
}

/// Every module of the crate by its path.
type Modules = BTreeMap<Vec<String>, Module>;
/// (from module, to module) → the paths in `from` that make the arrow.
type Edges = BTreeMap<(String, String), Vec<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("file under src/");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The text that makes up the module's own structure: no comments, no
/// test module.
fn product_text(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every `a::b::c` chain in `text` that does not follow `::` or an identifier.
fn paths(text: &str) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_ident(bytes[i]) || (i > 0 && (is_ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            i += 1;
            continue;
        }
        let mut segs = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < bytes.len() && is_ident(bytes[j]) {
                j += 1;
            }
            segs.push(text[start..j].to_string());
            if text[j..].starts_with("::") && bytes.get(j + 2).is_some_and(|c| is_ident(*c)) {
                j += 2;
            } else if text[j..].starts_with("::{") {
                // `use a::{b::c, d}`: each item of the group is a path of its own.
                let close = text[j..].find('}').map_or(text.len(), |k| j + k);
                for item in text[j + 3..close].split(',') {
                    let mut p = segs.clone();
                    p.extend(
                        item.split_whitespace()
                            .next()
                            .unwrap_or("")
                            .split("::")
                            .filter(|s| !s.is_empty() && s.bytes().all(is_ident))
                            .map(str::to_string),
                    );
                    found.push(p);
                }
                j = close;
                break;
            } else {
                break;
            }
        }
        if segs.len() > 1 {
            found.push(segs);
        }
        i = j.max(i + 1);
    }
    found
}

/// The module that `path` (named in module `from`) lands in, if it is ours.
fn resolve(from: &Module, path: &[String], modules: &Modules) -> Option<Vec<String>> {
    let mut abs: Vec<String> = match path[0].as_str() {
        "crate" => vec![],
        "self" => from.path.clone(),
        "super" => from.path.clone(),
        child if from.children.contains(child) => from.path.clone(),
        _ => return None,
    };
    let mut rest = &path[usize::from(path[0] == "crate" || path[0] == "self")..];
    while rest.first().is_some_and(|s| s == "super") {
        abs.pop()?;
        rest = &rest[1..];
    }
    abs.extend(rest.iter().cloned());
    (0..=abs.len())
        .rev()
        .map(|n| abs[..n].to_vec())
        .find(|p| modules.contains_key(p))
}

fn load() -> (Modules, Edges) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules = BTreeMap::new();
    for file in files {
        if file.file_name().is_some_and(|n| n == "main.rs") {
            continue;
        }
        let path = module_path(&src, &file);
        modules.insert(
            path.clone(),
            Module {
                path,
                file,
                children: BTreeSet::new(),
            },
        );
    }
    let keys: Vec<Vec<String>> = modules.keys().cloned().collect();
    for k in &keys {
        if let Some((_, parent)) = k.split_last() {
            let child = k.last().cloned().unwrap_or_default();
            if let Some(m) = modules.get_mut(parent) {
                m.children.insert(child);
            }
        }
    }
    let mut edges = Edges::new();
    for m in modules.values() {
        let text = std::fs::read_to_string(&m.file).expect("read source");
        for p in paths(&product_text(&text)) {
            let Some(to) = resolve(m, &p, &modules) else {
                continue;
            };
            // A module's own items and the crate root's `pub mod` lines are no arrows.
            if to == m.path || to.is_empty() {
                continue;
            }
            edges
                .entry((m.path.join("::"), to.join("::")))
                .or_default()
                .push(p.join("::"));
        }
    }
    (modules, edges)
}

#[test]
fn top_level_arrows_run_down_the_layers() {
    let (modules, edges) = load();
    let layer = |m: &str| {
        let top = m.split("::").next().unwrap_or("");
        LAYERS.iter().position(|l| *l == top)
    };
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    for p in modules.keys() {
        if let Some(top) = p.first() {
            if !LAYERS.contains(&top.as_str()) {
                unknown.insert(top.clone());
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "top-level modules missing from LAYERS in tests/architecture.rs: {unknown:?}"
    );
    let mut back = Vec::new();
    for ((from, to), via) in &edges {
        if let (Some(a), Some(b)) = (layer(from), layer(to)) {
            if b > a {
                back.push(format!("  {from} -> {to} (via {})", via.join(", ")));
            }
        }
    }
    assert!(
        back.is_empty(),
        "arrows that run up the layers {LAYERS:?}:\n{}\nmove the item down to the lower module instead",
        back.join("\n")
    );
    // The check sees the arrows it is meant to see.
    assert!(edges.contains_key(&("run::executor".into(), "farm".into())));
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let (modules, edges) = load();
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
    }
    // Tarjan's strongly connected components.
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        circles: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(v: &'a str, g: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in g.get(v).map(Vec::as_slice).unwrap_or(&[]) {
            if !s.index.contains_key(w) {
                visit(w, g, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.circles.push(comp);
            }
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: vec![],
        on_stack: BTreeSet::new(),
        circles: vec![],
    };
    let nodes: Vec<&str> = graph.keys().copied().collect();
    for v in nodes {
        if !s.index.contains_key(v) {
            visit(v, &graph, &mut s);
        }
    }
    let mut report = Vec::new();
    for comp in &s.circles {
        let set: BTreeSet<&str> = comp.iter().copied().collect();
        report.push(format!("circle of {} modules:", comp.len()));
        for ((from, to), via) in &edges {
            if set.contains(from.as_str()) && set.contains(to.as_str()) {
                report.push(format!("  {from} -> {to} (via {})", via.join(", ")));
            }
        }
    }
    assert!(
        report.is_empty(),
        "files that import each other in a circle:\n{}\nmove the shared item into a file of its own",
        report.join("\n")
    );
    assert!(
        modules.len() > 50,
        "too few modules read: {}",
        modules.len()
    );
}

/// Files (under src/) still printing an error of their own, with the text
/// that does; each is waiting for its command to return the error instead.
/// A stale entry fails the test, so the list only shrinks.
const OWN_ERROR_PRINTERS: &[(&str, &str)] = &[];

/// Command functions that still return a bare exit number.
const BARE_EXIT_COMMANDS: &[(&str, &str)] = &[];

/// Every `src/**/*.rs` but main.rs, by its path under src/, as product text.
fn product_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|f| {
            let rel = f.strip_prefix(&src).expect("file under src/");
            let text = std::fs::read_to_string(&f).expect("read source");
            (rel.to_string_lossy().into_owned(), product_text(&text))
        })
        .collect()
}

#[test]
fn errors_are_printed_only_by_cli_error() {
    let mut offences = Vec::new();
    let mut used = BTreeSet::new();
    let mut renderer_seen = false;
    for (file, text) in product_files() {
        for (n, line) in text.lines().enumerate() {
            if !line.contains("zoryn: error") && !line.contains("print_error") {
                continue;
            }
            if file == "cli/error.rs" {
                renderer_seen |= line.contains("eprintln!(\"zoryn: error: ");
                continue;
            }
            let allowed = OWN_ERROR_PRINTERS
                .iter()
                .find(|(f, what)| *f == file && line.contains(what));
            match allowed {
                Some(a) => {
                    used.insert(*a);
                }
                None => offences.push(format!("  src/{file}:{}: {}", n + 1, line.trim())),
            }
        }
    }
    assert!(
        renderer_seen,
        "src/cli/error.rs no longer prints `zoryn: error: …`: the check looks at the wrong place"
    );
    assert!(
        offences.is_empty(),
        "errors printed outside src/cli/error.rs:\n{}\nreturn a cli::error::Error instead (the dispatcher prints it), or report it through cli::error::Failures",
        offences.join("\n")
    );
    let stale: Vec<_> = OWN_ERROR_PRINTERS
        .iter()
        .filter(|a| !used.contains(a))
        .collect();
    assert!(
        stale.is_empty(),
        "remove from OWN_ERROR_PRINTERS (they print no error any more): {stale:?}"
    );
}

#[test]
fn command_functions_return_their_error() {
    let mut offences = Vec::new();
    let mut used = BTreeSet::new();
    let mut commands = 0;
    for (file, text) in product_files() {
        if !file.starts_with("cli/") {
            continue;
        }
        let mut rest = text.as_str();
        while let Some(i) = rest.find("fn cmd_") {
            let signature = &rest[i + 3..];
            let end = signature.find('{').unwrap_or(signature.len());
            let name: String = signature
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            commands += 1;
            let returns = signature[..end].split("->").nth(1).unwrap_or("").trim();
            if returns == "i32" {
                let entry = BARE_EXIT_COMMANDS
                    .iter()
                    .find(|(f, n)| *f == file && *n == name);
                match entry {
                    Some(e) => {
                        used.insert(*e);
                    }
                    None => offences.push(format!("  src/{file}: {name} -> i32")),
                }
            }
            rest = &signature[end..];
        }
    }
    assert!(commands >= 12, "only {commands} cmd_ functions found");
    assert!(
        offences.is_empty(),
        "command functions returning a bare exit number:\n{}\nreturn Result<ExitCode, cli::error::Error>",
        offences.join("\n")
    );
    let stale: Vec<_> = BARE_EXIT_COMMANDS
        .iter()
        .filter(|e| !used.contains(e))
        .collect();
    assert!(
        stale.is_empty(),
        "remove from BARE_EXIT_COMMANDS (they return a Result now): {stale:?}"
    );
}
