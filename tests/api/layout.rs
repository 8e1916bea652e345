//! The layout's promises (README, "Layout"), checked on the source so they stay true:
//! dependencies between top-level modules run one way, the core names no adapter and no
//! HTTP or AWS crate, and the concrete Graph and SQS types are named only where they are
//! defined, in `startup` and in `bin/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The file's code without comments (line comments only: the crate uses no block comments).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file belongs to (`src/http/status.rs` -> `http`), or None for
/// `lib.rs` and `bin/`.
fn top_module(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(src()).unwrap();
    let first = relative
        .components()
        .next()?
        .as_os_str()
        .to_str()?
        .to_owned();
    match first.as_str() {
        "lib.rs" | "bin" => None,
        name => Some(name.trim_end_matches(".rs").to_owned()),
    }
}

/// Which top-level modules each top-level module uses through `crate::` (the code uses no
/// `super::super::` to reach across top-level modules).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src()) {
        let Some(from) = top_module(&file) else {
            continue;
        };
        let text = code(&file);
        let uses = graph.entry(from.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            // `crate::{a, b::c}` names several modules at once.
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                None => vec![rest],
            };
            for name in names {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != from && name != "unix_now" {
                    uses.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn top_level_modules_have_no_import_cycle() {
    let graph = module_graph();
    assert!(graph.len() >= 10, "the walk found the modules: {graph:?}");
    // Depth-first search; a module met again while still on the path closes a cycle.
    fn visit<'g>(
        node: &'g str,
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'g str>,
        done: &mut BTreeSet<&'g str>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(start) = path.iter().position(|n| *n == node) {
            panic!("import cycle: {} -> {node}", path[start..].join(" -> "));
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node);
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_core_the_poller_and_the_parsers_depend_only_on_inner_modules() {
    let graph = module_graph();
    for (module, allowed) in [
        ("revocation", &["domain"][..]),
        ("intune", &["domain", "revocation"][..]),
        ("auth", &[][..]),
        ("payload", &["domain"][..]),
        ("domain", &[][..]),
    ] {
        let extra: Vec<_> = graph[module]
            .iter()
            .filter(|m| !allowed.contains(&m.as_str()))
            .collect();
        assert!(extra.is_empty(), "{module} uses {extra:?}");
    }
}

#[test]
fn the_core_and_the_poller_import_no_http_aws_or_lambda_crate() {
    let core = rust_files(&src().join("revocation"));
    for file in core.into_iter().chain(rust_files(&src().join("intune"))) {
        let text = code(&file);
        for name in [
            "lambda_http",
            "lambda_runtime",
            "aws_sdk_",
            "aws_lambda_events",
            "reqwest",
        ] {
            assert!(!text.contains(name), "{} names {name}", file.display());
        }
    }
}

#[test]
fn concrete_graph_sqs_and_dynamodb_types_are_named_only_in_startup_bin_and_their_own_module() {
    for file in rust_files(&src()) {
        let top = top_module(&file);
        let text = code(&file);
        for (name, home) in [
            ("GraphClient", "microsoft"),
            ("SqsQueue", "retry"),
            ("DynamoLedger", "aws"),
        ] {
            let allowed =
                matches!(top.as_deref(), None | Some("startup")) || top.as_deref() == Some(home);
            assert!(
                allowed || !text.contains(name),
                "{} names {name}",
                file.display()
            );
        }
    }
}
