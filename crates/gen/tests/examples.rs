//! The rendered examples under `manifests/examples/` (shown in the README and docs) are exactly
//! what the generator writes for `examples/specs/*.yaml`. Regenerate with `just examples`
//! (`scripts/render-examples`).

mod common;

use common::*;
use std::collections::BTreeMap;

#[test]
fn committed_examples_match_the_generator() {
    let specs = repo_root().join("examples/specs");
    let out = repo_root().join("manifests/examples");
    let mut entries: Vec<_> = std::fs::read_dir(&specs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 3);
    for spec in entries {
        let name = spec.file_stem().unwrap().to_str().unwrap().to_string();
        let expected = sidescan_gen::to_files(&render(&spec, &[], example_kube_version(&spec)));
        let dir = out.join(&name);
        let mut actual = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (run `just examples`)", dir.display()))
        {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_str().unwrap().to_string();
            actual.insert(file, std::fs::read_to_string(&path).unwrap());
        }
        assert_eq!(
            actual.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{name}: files differ (run `just examples`)"
        );
        for (file, text) in &expected {
            assert!(
                actual[file] == *text,
                "manifests/examples/{name}/{file} is stale (run `just examples`)"
            );
        }
    }
}
