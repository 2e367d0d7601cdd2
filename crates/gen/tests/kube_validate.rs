//! A third-party oracle: every document of every example spec, both paths (`render all` and
//! `render scan-pod`), validated with `kubernetes-validate` against the API server's own JSON
//! schemas of several releases, strictly (an unknown field fails).
//!
//! `SIDESCAN_KUBE_VALIDATE="$(scripts/kube-validate)" cargo test -p sidescan-gen --test
//! kube_validate -- --ignored`

mod common;

use common::*;
use sidescan_gen::KubeVersion;
use std::process::Command;

/// Releases whose schemas the pinned kubernetes-validate ships (1.25 and newer).
const RELEASES: [&str; 4] = ["1.25", "1.29", "1.33", "1.37"];

fn validator() -> String {
    std::env::var("SIDESCAN_KUBE_VALIDATE").unwrap_or_else(|_| {
        panic!(
            "SIDESCAN_KUBE_VALIDATE is not set: SIDESCAN_KUBE_VALIDATE=\"$(scripts/kube-validate)\""
        )
    })
}

#[test]
#[ignore = "needs kubernetes-validate: SIDESCAN_KUBE_VALIDATE=\"$(scripts/kube-validate)\""]
fn every_example_document_matches_the_api_servers_schemas() {
    let bin = validator();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for release in RELEASES {
        let kube = KubeVersion::parse(release).unwrap();
        let mut files = Vec::new();
        for spec in [
            "distroless-same-uid",
            "dev-cluster",
            "scheduled-remote-profile",
            "private-store",
        ] {
            let text = stream(&example_spec(spec), &[], kube);
            checked += documents(&text).len();
            let file = dir.path().join(format!("{spec}-{release}.yaml"));
            std::fs::write(&file, text).unwrap();
            files.push(file);
        }
        let out = Command::new(&bin)
            .args(["-k", &format!("{release}.0"), "--strict", "--quiet"])
            .args(&files)
            .output()
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        assert!(
            out.status.success(),
            "Kubernetes {release} schemas refuse a document:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(checked > 150, "{checked}");
}

#[test]
#[ignore = "needs kubernetes-validate: SIDESCAN_KUBE_VALIDATE=\"$(scripts/kube-validate)\""]
fn the_oracle_refuses_a_misspelled_field() {
    let bin = validator();
    let kube = KubeVersion::parse("1.33").unwrap();
    let text = stream(&example_spec("distroless-same-uid"), &[], kube).replacen(
        "  shareProcessNamespace: true\n",
        "  shareProcessNamespace: true\n  shareProcessNamespaces: true\n",
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(&bin)
        .args(["-k", "1.33.0", "--strict", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("shareProcessNamespaces"));
}
