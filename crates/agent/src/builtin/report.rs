//! From findings to HDF: one control per definition, one result per finding, waivers applied as
//! InSpec applies them, statistics as InSpec counts them. Pure.

use super::controls::{ALL_CONTROLS, ControlDef, GROUPS};
use super::policy::{INPUTS, Policy, Waiver, WaiverEffect};
use crate::hdf::{
    Control, ControlResult, ControlStatistics, Description, Group, Profile, SourceLocation, Status,
    Tags, Total, WaiverData,
};
use sha2::{Digest, Sha256};
use sidescan_eval::hdf::severity_from_impact;
use std::collections::BTreeMap;

/// A result-to-be: status and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub status: Status,
    pub code_desc: String,
    pub message: Option<String>,
}

impl Finding {
    pub fn passed(code_desc: impl Into<String>) -> Finding {
        Finding {
            status: Status::Passed,
            code_desc: code_desc.into(),
            message: None,
        }
    }
    pub fn passed_with(code_desc: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            status: Status::Passed,
            code_desc: code_desc.into(),
            message: Some(message.into()),
        }
    }
    pub fn failed(code_desc: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            status: Status::Failed,
            code_desc: code_desc.into(),
            message: Some(message.into()),
        }
    }
    pub fn skipped(code_desc: impl Into<String>, why: impl Into<String>) -> Finding {
        Finding {
            status: Status::Skipped,
            code_desc: code_desc.into(),
            message: Some(why.into()),
        }
    }
    /// Evidence is incomplete: the control cannot pass.
    pub fn error(code_desc: impl Into<String>, why: impl Into<String>) -> Finding {
        Finding {
            status: Status::Error,
            code_desc: code_desc.into(),
            message: Some(why.into()),
        }
    }
}

/// One control's findings and the seconds its check took.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub def: ControlDef,
    pub findings: Vec<Finding>,
    pub seconds: f64,
}

/// The HDF control: metadata, results (each with its share of the check's time), waiver.
pub fn control(
    evaluated: Evaluated,
    start_time: &str,
    waiver: Option<(&Waiver, WaiverEffect)>,
) -> Control {
    let def = evaluated.def;
    let waiver_data = waiver.as_ref().map(|(w, effect)| WaiverData {
        expiration_date: w.expiration_date.clone(),
        justification: w.justification.clone(),
        message: match effect {
            WaiverEffect::Expired { message } => message.clone(),
            _ => String::new(),
        },
        run: w.run,
        skipped_due_to_waiver: *effect == WaiverEffect::Skip,
    });
    let findings = match &waiver {
        // What InSpec reports for a control skipped by a waiver.
        Some((w, WaiverEffect::Skip)) => vec![Finding::skipped(
            "No-op",
            match &w.justification {
                Some(j) => format!("Skipped control due to waiver condition: {j}"),
                None => "Skipped control due to waiver condition.".to_string(),
            },
        )],
        _ => evaluated.findings,
    };
    let skipped_by_waiver = waiver_data
        .as_ref()
        .is_some_and(|w| w.skipped_due_to_waiver);
    let run_time = if skipped_by_waiver || findings.is_empty() {
        0.0
    } else {
        evaluated.seconds / findings.len() as f64
    };
    Control {
        id: def.id.into(),
        title: def.title.into(),
        desc: def.desc.into(),
        descriptions: vec![
            Description {
                label: "default".into(),
                data: def.desc.into(),
            },
            Description {
                label: "check".into(),
                data: def.check.into(),
            },
            Description {
                label: "fix".into(),
                data: def.fix.into(),
            },
        ],
        impact: def.impact,
        refs: vec![],
        tags: Tags {
            nist: def.nist.iter().map(|s| s.to_string()).collect(),
            cci: def.cci.iter().map(|s| s.to_string()).collect(),
            severity: severity_from_impact(def.impact).into(),
            extra: BTreeMap::new(),
        },
        code: format!("# builtin check {}: {}", def.id, def.check),
        source_location: SourceLocation {
            reference: "crates/agent/src/builtin/controls.rs".into(),
            line: def.line,
        },
        results: findings
            .into_iter()
            .map(|f| ControlResult {
                status: f.status,
                code_desc: f.code_desc,
                run_time,
                start_time: start_time.to_string(),
                skip_message: (f.status == Status::Skipped)
                    .then(|| f.message.clone())
                    .flatten(),
                message: (f.status != Status::Skipped).then_some(f.message).flatten(),
            })
            .collect(),
        waiver_data,
    }
}

/// `statistics.controls`: InSpec's rule (any failed result: failed; else any skipped: skipped;
/// else passed), with controls holding an error result counted apart as `error`.
pub fn control_statistics(controls: &[Control]) -> ControlStatistics {
    let (mut passed, mut skipped, mut failed, mut error) = (0, 0, 0, 0);
    for c in controls {
        let has = |s: Status| c.results.iter().any(|r| r.status == s);
        if has(Status::Error) {
            error += 1;
        } else if has(Status::Failed) {
            failed += 1;
        } else if has(Status::Skipped) {
            skipped += 1;
        } else {
            passed += 1;
        }
    }
    ControlStatistics {
        total: passed + skipped + failed + error,
        passed: Total { total: passed },
        skipped: Total { total: skipped },
        failed: Total { total: failed },
        error: Total { total: error },
    }
}

/// The profile: metadata, groups, the inputs used (as InSpec lists them in `attributes`), and a
/// digest of every control's metadata.
pub fn profile(controls: Vec<Control>, policy: &Policy, version: &str, name: &str) -> Profile {
    let mut hasher = Sha256::new();
    hasher.update(version);
    for def in ALL_CONTROLS {
        hasher.update(format!(
            "{}|{}|{}|{}|{}|{}|{:?}|{:?}\n",
            def.id, def.title, def.desc, def.check, def.fix, def.impact, def.nist, def.cci
        ));
    }
    let groups = GROUPS
        .iter()
        .map(|(prefix, title)| Group {
            id: prefix.to_string(),
            title: title.to_string(),
            controls: ALL_CONTROLS
                .iter()
                .filter(|c| c.id.starts_with(prefix))
                .map(|c| c.id.to_string())
                .collect(),
        })
        .collect();
    let attributes = INPUTS
        .iter()
        .filter_map(|(input, description)| {
            let value = if *input == "system_uid_max" {
                serde_json::json!(policy.inputs.system_uid_max?)
            } else {
                serde_json::json!(policy.inputs.allowed.get(input)?)
            };
            Some(serde_json::json!({
                "name": input,
                "options": {"description": description, "value": value}
            }))
        })
        .collect();
    Profile {
        name: name.into(),
        version: version.into(),
        title: "sidescan builtin container baseline".into(),
        summary: "Native checks of a running container's filesystem, accounts and process".into(),
        maintainer: "sidescan".into(),
        license: "Apache-2.0".into(),
        sha256: hex::encode(hasher.finalize()),
        supports: vec![],
        attributes,
        groups,
        status: "loaded".into(),
        controls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::controls::{SHELLS, WORLD_WRITABLE};

    fn evaluated(findings: Vec<Finding>) -> Evaluated {
        Evaluated {
            def: SHELLS,
            findings,
            seconds: 0.5,
        }
    }

    fn waiver(run: Option<bool>) -> Waiver {
        Waiver {
            justification: Some("entrypoint is a script".into()),
            run,
            expiration_date: Some("2027-06-30".into()),
            expires: None,
        }
    }

    #[test]
    fn a_control_carries_fix_text_cci_and_run_times() {
        let c = control(
            evaluated(vec![
                Finding::failed("a", "x"),
                Finding::skipped("b", "volume"),
            ]),
            "2026-11-26T15:00:00Z",
            None,
        );
        assert_eq!(c.descriptions[2].label, "fix");
        assert!(c.descriptions[2].data.contains("distroless"));
        assert_eq!(c.tags.cci, ["CCI-000381", "CCI-000382"]);
        assert_eq!(c.results[0].run_time, 0.25);
        assert_eq!(c.results[1].skip_message.as_deref(), Some("volume"));
        assert_eq!(c.results[1].message, None);
        assert!(c.waiver_data.is_none());
        assert!(c.source_location.line > 0);
    }

    #[test]
    fn waivers_as_inspec_writes_them() {
        let w = waiver(Some(false));
        let c = control(
            evaluated(vec![Finding::failed("shell /bin/sh", "x")]),
            "t",
            Some((&w, WaiverEffect::Skip)),
        );
        assert_eq!(c.results.len(), 1);
        assert_eq!(c.results[0].status, Status::Skipped);
        assert_eq!(c.results[0].code_desc, "No-op");
        assert_eq!(
            c.results[0].skip_message.as_deref(),
            Some("Skipped control due to waiver condition: entrypoint is a script")
        );
        let data = c.waiver_data.as_ref().unwrap();
        assert!(data.skipped_due_to_waiver);
        assert_eq!(data.run, Some(false));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["waiver_data"]["skipped_due_to_waiver"], true);
        assert_eq!(json["waiver_data"]["expiration_date"], "2027-06-30");

        let w = waiver(None);
        let c = control(
            evaluated(vec![Finding::failed("shell /bin/sh", "x")]),
            "t",
            Some((&w, WaiverEffect::Record)),
        );
        assert_eq!(c.results[0].status, Status::Failed);
        assert!(!c.waiver_data.unwrap().skipped_due_to_waiver);

        let c = control(
            evaluated(vec![Finding::failed("shell /bin/sh", "x")]),
            "t",
            Some((
                &w,
                WaiverEffect::Expired {
                    message: "Waiver expired on 2020-01-01, evaluating control normally".into(),
                },
            )),
        );
        assert_eq!(c.results[0].status, Status::Failed);
        assert!(c.waiver_data.unwrap().message.starts_with("Waiver expired"));
    }

    #[test]
    fn statistics_count_controls_the_inspec_way() {
        let make = |findings| control(evaluated(findings), "t", None);
        let controls = vec![
            make(vec![Finding::passed("a")]),
            make(vec![Finding::passed("a"), Finding::skipped("b", "x")]),
            make(vec![Finding::failed("a", "x"), Finding::skipped("b", "x")]),
            make(vec![Finding::failed("a", "x"), Finding::error("b", "x")]),
        ];
        let s = control_statistics(&controls);
        assert_eq!(
            (
                s.total,
                s.passed.total,
                s.skipped.total,
                s.failed.total,
                s.error.total
            ),
            (4, 1, 1, 1, 1)
        );
    }

    #[test]
    fn the_profile_lists_the_inputs_used() {
        let mut policy = Policy::default();
        policy
            .add_inputs("allowed_world_writable_paths: [/srv/drop]\n")
            .unwrap();
        let p = profile(vec![], &policy, "2.0.0", "sidescan-baseline");
        assert_eq!(p.attributes.len(), 1);
        assert_eq!(p.attributes[0]["name"], "allowed_world_writable_paths");
        assert_eq!(p.attributes[0]["options"]["value"][0], "/srv/drop");
        assert_eq!(p.sha256.len(), 64);
        assert!(
            p.groups
                .iter()
                .any(|g| g.controls.contains(&WORLD_WRITABLE.id.to_string()))
        );
    }
}
