//! What the generator renders for the scanner, the agent's parser accepts, field by field: every
//! scan pod in the generator's golden files and the committed examples is parsed with the agent's
//! own command line, and rendering the parsed invocation again gives back exactly the rendered
//! arguments (a flag the parser did not understand, or understood as another field, changes them).

use std::path::{Path, PathBuf};

fn scan_pod_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["crates/gen/tests/golden", "manifests/examples"] {
        let mut stack = vec![root.join(dir)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

/// The scanner containers' `args` of every Pod in a YAML stream (an agent subcommand first).
fn scanner_args(stream: &str) -> Vec<Vec<String>> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(stream).unwrap();
    docs.iter()
        .filter(|d| d["kind"] == "Pod")
        .flat_map(|pod| {
            pod["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|c| {
            let args: Vec<String> = serde_json::from_value(c["args"].clone()).ok()?;
            (args.first().map(String::as_str) == Some("scan")).then_some(args)
        })
        .collect()
}

#[test]
fn every_rendered_scanner_invocation_parses_back_to_itself() {
    let mut checked = 0;
    for file in scan_pod_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for args in scanner_args(&text) {
            let parsed = sidescan_agent::cli::parse_scan_args(&args)
                .unwrap_or_else(|e| panic!("{}: {args:?}: {e}", file.display()));
            assert_eq!(
                parsed.invocation().args(),
                args,
                "{}: the agent read these arguments differently",
                file.display()
            );
            sidescan_agent::cli::config(parsed)
                .unwrap_or_else(|e| panic!("{}: {args:?}: {e}", file.display()));
            checked += 1;
        }
    }
    // The goldens and examples hold a dozen scan pods: finding none means the reader broke.
    assert!(checked >= 6, "only {checked} scan pods found");
}
