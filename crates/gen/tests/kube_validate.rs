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

/// The admission policies and bindings (`admissionregistration.k8s.io/v1`, 1.30 and newer) of
/// the scan workflow (every example spec, both identification modes) and of audits (each
/// placement), for every release they are rendered for, and a misspelled field refused.
#[test]
#[ignore = "needs kubernetes-validate: SIDESCAN_KUBE_VALIDATE=\"$(scripts/kube-validate)\""]
fn the_admission_policies_match_the_api_servers_schemas_from_1_30() {
    let bin = validator();
    let dir = tempfile::tempdir().unwrap();
    let policies_of = |text: &str| -> String {
        documents(text)
            .into_iter()
            .filter(|d| {
                d["kind"]
                    .as_str()
                    .is_some_and(|k| k.starts_with("ValidatingAdmissionPolicy"))
            })
            .map(|d| format!("---\n{}\n", serde_json::to_string(&d).unwrap()))
            .collect()
    };
    let validate = |release: &str, file: &std::path::Path| {
        Command::new(&bin)
            .args(["-k", &format!("{release}.0"), "--strict"])
            .arg(file)
            .output()
            .unwrap_or_else(|e| panic!("{bin}: {e}"))
    };
    let mut checked = 0;
    for release in ["1.30", "1.31", "1.33"] {
        let kube = KubeVersion::parse(release).unwrap();
        let mut text = String::new();
        for spec in [
            "distroless-same-uid",
            "dev-cluster",
            "scheduled-remote-profile",
            "private-store",
        ] {
            for sets in [&[][..], &["scanner.identify=api"][..]] {
                text.push_str(&policies_of(&stream(&example_spec(spec), sets, kube)));
            }
        }
        let generator = sidescan_gen::Generator::new().unwrap();
        for sets in [
            &[][..],
            &["placement.mode=workload-namespace"][..],
            &[
                "placement.mode=workload-namespace",
                "select.namespaces.0=shop",
                "target.run=entrypoint",
            ][..],
        ] {
            let mut tree = sidescan_gen::values::parse_values(
                sidescan_gen::audit::DEFAULT_AUDIT_VALUES,
                "audit-values.yaml",
            )
            .unwrap();
            for set in sets {
                sidescan_gen::values::apply_set(&mut tree, set, false).unwrap();
            }
            let spec = sidescan_core::audit::from_value(tree).unwrap();
            let docs = sidescan_gen::audit::generate(
                &generator,
                &spec,
                std::path::Path::new("."),
                kube,
                sidescan_gen::audit::AuditKind::Job,
            )
            .unwrap();
            let stream: String = docs.iter().map(|d| format!("---\n{d}")).collect();
            text.push_str(&policies_of(&stream));
        }
        let count = documents(&text).len();
        assert!(count >= 40, "{release}: {count} policy documents");
        checked += count;
        let file = dir.path().join(format!("policies-{release}.yaml"));
        std::fs::write(&file, &text).unwrap();
        let out = validate(release, &file);
        assert!(
            out.status.success(),
            "Kubernetes {release} schemas refuse an admission policy document:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "Kubernetes {release}: {count} policy documents valid\n{}",
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join("\n")
        );
        // The oracle knows these kinds: a misspelled field of each is refused.
        for (good, bad) in [
            ("\"validationActions\"", "\"validationAction\""),
            ("\"matchConditions\"", "\"matchCondition\""),
        ] {
            let broken = dir.path().join(format!("broken-{release}.yaml"));
            std::fs::write(&broken, text.replacen(good, bad, 1)).unwrap();
            let out = validate(release, &broken);
            assert!(
                !out.status.success(),
                "{release}: a misspelled {good} was accepted"
            );
        }
    }
    assert!(checked >= 120, "{checked}");
}
