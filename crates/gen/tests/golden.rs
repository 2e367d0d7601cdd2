//! Golden files: representative specs rendered byte for byte. When the output changes on purpose,
//! rewrite them with `SIDESCAN_UPDATE_GOLDEN=1 cargo test -p sidescan-gen --test golden` and
//! commit them with the change; CI fails otherwise.

mod common;

use common::*;
use sidescan_gen::KubeVersion;
use std::path::PathBuf;

/// (golden file, example spec, Kubernetes release, overrides)
const CASES: [(&str, &str, &str, &[&str]); 6] = [
    (
        "distroless-same-uid-1.33",
        "distroless-same-uid",
        "1.33",
        &[],
    ),
    (
        "distroless-ptrace-1.22",
        "distroless-same-uid",
        "1.22",
        &[
            "security.mode=ptrace",
            "security.runAsUser=null",
            "security.runAsGroup=null",
        ],
    ),
    ("dev-cluster-1.20", "dev-cluster", "1.20", &[]),
    ("dev-cluster-1.18", "dev-cluster", "1.18", &[]),
    (
        "scheduled-remote-profile-1.27",
        "scheduled-remote-profile",
        "1.27",
        &[],
    ),
    (
        "builtin-no-profile-1.33",
        "distroless-same-uid",
        "1.33",
        &[
            "scanner.backend=builtin",
            "profile=null",
            "thresholds=null",
            "results=null",
        ],
    ),
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn rendered_output_matches_the_golden_files() {
    let update = std::env::var("SIDESCAN_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, spec, kube, sets) in CASES {
        let text = stream(&example_spec(spec), sets, KubeVersion::parse(kube).unwrap());
        let path = golden_dir().join(format!("{name}.yaml"));
        if update {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(golden) if golden == text => {}
            Ok(_) => stale.push(format!("{name}: output differs")),
            Err(e) => stale.push(format!("{name}: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "golden files out of date (rewrite with SIDESCAN_UPDATE_GOLDEN=1 and review the diff):\n{}",
        stale.join("\n")
    );
}

#[test]
fn every_golden_file_has_a_case() {
    let names: Vec<String> = CASES.iter().map(|c| format!("{}.yaml", c.0)).collect();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(names.contains(&name), "stale golden file {name}");
    }
}
