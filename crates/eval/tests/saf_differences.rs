//! One test per deliberate difference from the SAF CLI (docs/saf-compatibility.md), each on the
//! corpus file that shows it, asserting both what SAF does (from expected/) and what we do.

mod common;

use common::{jsonl, read, read_text};
use sidescan_eval::summary::{Summary, summarize};
use sidescan_eval::{EvalError, Semantics, Status, hdf, threshold, validate};

fn summary(file: &str, semantics: Semantics) -> Summary {
    let rel = format!("hdf/{file}");
    summarize(&hdf::parse_with(&read(&rel), &rel, semantics).unwrap())
}

fn thresholds(name: &str) -> Result<threshold::Threshold, EvalError> {
    let rel = format!("thresholds/{name}");
    threshold::parse_threshold(&read_text(&rel), &rel)
}

/// SAF's recorded outcome for (hdf, threshold): (rc, stdout, stderr).
fn saf(hdf_file: &str, threshold_file: &str) -> (i64, String, String) {
    let row = jsonl("expected/validate.jsonl")
        .into_iter()
        .find(|r| {
            r["hdf"] == format!("hdf/{hdf_file}")
                && r["threshold"] == format!("thresholds/{threshold_file}")
        })
        .unwrap_or_else(|| panic!("no SAF row for {hdf_file} {threshold_file}"));
    (
        row["rc"].as_i64().unwrap(),
        row["stdout"].as_str().unwrap().to_string(),
        row["stderr"].as_str().unwrap().to_string(),
    )
}

fn first(s: &Summary, t: &threshold::Threshold) -> Option<String> {
    validate::validate(s, t).first_message().map(str::to_string)
}

#[test]
fn broken_inputs_are_errors_where_saf_exits_0() {
    // SAF: a crash prints a message and exits 0 (a CI gate passes). Here: an error (exit 2 in the
    // binary, see cli.rs).
    let (rc, stdout, stderr) = saf("statuses.json", "edge_empty.yml");
    assert_eq!((rc, stdout.as_str()), (0, ""));
    assert!(stderr.starts_with("TypeError"));
    assert!(matches!(
        thresholds("edge_empty.yml"),
        Err(EvalError::Empty { .. })
    ));
    let bad = hdf::parse_named(&read("hdf/bad.json"), "hdf/bad.json").unwrap_err();
    assert!(
        bad.to_string().starts_with("hdf/bad.json: not valid JSON"),
        "{bad}"
    );
}

#[test]
fn flattened_min_then_max_keeps_both() {
    // SAF keeps only `passed.critical.max: 1` and passes.
    assert_eq!(saf("statuses.json", "edge_flat2.yml").0, 0);
    let t = thresholds("edge_flat2.yml").unwrap();
    assert_eq!(t.number("passed.critical.min"), Some(5.0));
    assert_eq!(t.number("passed.critical.max"), Some(1.0));
    let s = summary("statuses.json", Semantics::Sidescan);
    assert!(
        first(&s, &t)
            .unwrap()
            .starts_with("passed.critical.min: Threshold not met")
    );
}

#[test]
fn compliance_max_zero_is_enforced() {
    assert_eq!(saf("round.json", "edge_c_max0.yml").0, 0);
    let s = summary("round.json", Semantics::Sidescan);
    assert_eq!(s.compliance, 13);
    assert_eq!(
        first(&s, &thresholds("edge_c_max0.yml").unwrap()).as_deref(),
        Some("Overall compliance maximum was not satisfied")
    );
}

#[test]
fn no_impact_total_min_and_max_are_checked() {
    assert_eq!(saf("round.json", "edge_ni_total.yml").0, 0);
    let s = summary("round.json", Semantics::Sidescan);
    let v = validate::validate(&s, &thresholds("edge_ni_total.yml").unwrap());
    let keys: Vec<&str> = v.violations.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(keys, ["no_impact.total.min"]);
}

#[test]
fn strings_booleans_and_null_are_not_numbers() {
    // SAF: "3" always fails `failed.total` (3 !== "3"), "4" is coerced for min, true is 1, null 0.
    let (_, _, stderr) = saf("statuses.json", "edge_strtotal.yml");
    assert!(
        stderr.contains(
            "(3) is not equal to your set threshold for the number of failed controls (3)"
        )
    );
    for (file, key, what) in [
        ("edge_strtotal.yml", "failed.total", "a string"),
        ("edge_strmin.yml", "failed.total.min", "a string"),
        ("edge_boolmax.yml", "failed.total.max", "a boolean"),
        ("edge_nullmax.yml", "failed.total.max", "null"),
    ] {
        let err = thresholds(file).unwrap_err();
        let EvalError::ThresholdValue { key: k, detail, .. } = &err else {
            panic!("{file}: {err:?}");
        };
        assert_eq!(k, key, "{file}");
        assert!(detail.contains(what), "{file}: {detail}");
    }
}

#[test]
fn empty_id_list_expects_an_empty_bucket() {
    // SAF fails `controls: []` even when the bucket is empty ("contained undefined").
    let (rc, _, stderr) = saf("statuses.json", "edge_ids2.yml");
    assert_eq!(rc, 1);
    assert!(stderr.ends_with("but it contained undefined"));
    let t = thresholds("edge_ids2.yml").unwrap();
    assert_eq!(
        first(&summary("statuses.json", Semantics::Sidescan), &t),
        None
    );
    // A non-empty bucket still fails, worded as SAF words it.
    assert_eq!(
        first(&summary("overlay.json", Semantics::Sidescan), &t).as_deref(),
        Some("Expected failed.high.controls to contain 0 controls but it contained 1")
    );
}

#[test]
fn duplicate_ids_count_once() {
    // SAF passes [c03, c03] against the bucket [c03, c18] (two entries each).
    assert_eq!(saf("statuses.json", "edge_ids5.yml").0, 0);
    let s = summary("statuses.json", Semantics::Sidescan);
    assert_eq!(s.control_ids(Status::Failed, "medium"), ["c03", "c18"]);
    assert_eq!(
        first(&s, &thresholds("edge_ids5.yml").unwrap()).as_deref(),
        Some("Expected failed.medium.controls to contain 1 controls but it contained 2")
    );
}

#[test]
fn severity_tags_are_case_insensitive() {
    // sevnone.json s3 has `severity: MEDIUM`; statuses.json c12 `severity: High`.
    let saf_sev = summary("sevnone.json", Semantics::SafCompat);
    let ours = summary("sevnone.json", Semantics::Sidescan);
    assert_eq!(saf_sev.severities.medium.passed, 1);
    assert_eq!(ours.severities.medium.passed, 2);
    let saf_st = summary("statuses.json", Semantics::SafCompat);
    let ours_st = summary("statuses.json", Semantics::Sidescan);
    assert_eq!(saf_st.control_ids(Status::Passed, "High"), ["c12"]);
    assert_eq!(saf_st.severities.high.passed, 1);
    assert_eq!(ours_st.control_ids(Status::Passed, "high"), ["c01", "c12"]);
    assert_eq!(ours_st.severities.high.passed, 2);
}

#[test]
fn numeric_severity_tag_falls_back_to_impact() {
    // SAF crashes: "raw.tags.severity?.toLowerCase is not a function".
    let compat = hdf::parse_with(
        &read("hdf/sevnum.json"),
        "sevnum.json",
        Semantics::SafCompat,
    );
    assert!(compat.is_err());
    let s = summary("sevnum.json", Semantics::Sidescan);
    assert_eq!(s.severities.medium.passed, 1); // impact 0.5
}

#[test]
fn waiver_flag_false_string_is_not_a_waiver() {
    // statuses.json c22: `skipped_due_to_waiver: "false"`, one skipped result.
    let find = |s: &Summary| {
        s.all_controls
            .iter()
            .find(|c| c.id == "c22")
            .unwrap()
            .status
    };
    assert_eq!(
        find(&summary("statuses.json", Semantics::SafCompat)),
        Status::NotApplicable
    );
    assert_eq!(
        find(&summary("statuses.json", Semantics::Sidescan)),
        Status::NotReviewed
    );
    // c10 (`true`) is still waived.
    let c10 = summary("statuses.json", Semantics::Sidescan)
        .all_controls
        .iter()
        .find(|c| c.id == "c10")
        .unwrap()
        .status;
    assert_eq!(c10, Status::NotApplicable);
}

#[test]
fn unrelated_profile_does_not_hide_a_failed_control() {
    for file in ["two_indep2.json", "two_indep3.json"] {
        let saf_s = summary(file, Semantics::SafCompat);
        let ours = summary(file, Semantics::Sidescan);
        assert_eq!(
            (saf_s.controls, saf_s.compliance, saf_s.totals.failed),
            (1, 100, 0),
            "{file}"
        );
        assert_eq!(
            (ours.controls, ours.compliance, ours.totals.failed),
            (2, 50, 1),
            "{file}"
        );
        assert_eq!(ours.failed_controls[0].id, "shared");
    }
    // Real overlays are unaffected: the wrapper's controls still count through the base.
    assert_eq!(
        summary("overlay.json", Semantics::Sidescan),
        summary("overlay.json", Semantics::SafCompat)
    );
}

#[test]
fn every_violation_is_reported_in_saf_order() {
    let s = summary("rhel-8_hardened.json", Semantics::Sidescan);
    let t = threshold::parse_inline(
        "{compliance.min: 90}, {failed.total.max: 1}, {passed.high.min: 100}, {failed.low.max: 0}",
    )
    .unwrap();
    let v = validate::validate(&s, &t);
    let keys: Vec<&str> = v.violations.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "compliance.min",
            "failed.total.max",
            "passed.high.min",
            "failed.low.max"
        ]
    );
    assert_eq!(
        v.first_message(),
        Some("Overall compliance minimum was not satisfied")
    );
}

#[test]
fn a_list_is_not_a_threshold_file() {
    assert_eq!(saf("round.json", "edge_list.yml").0, 0);
    assert!(matches!(
        thresholds("edge_list.yml"),
        Err(EvalError::ThresholdShape { .. })
    ));
}

#[test]
fn inline_numbers_are_not_truncated() {
    // SAF reads inline values with parseInt: 46.5 becomes 46, "abc" NaN (never fails).
    let s = summary("statuses.json", Semantics::SafCompat); // compliance 47
    let t = threshold::parse_inline("{compliance.min: 47.5}").unwrap();
    assert_eq!(
        first(&s, &t).as_deref(),
        Some("Overall compliance minimum was not satisfied")
    );
    assert!(threshold::parse_inline("{compliance.min: abc}").is_err());
    // SAF keeps the space in " compliance.min" and checks nothing.
    let spaced = threshold::parse_inline("{ compliance.min: 66 }").unwrap();
    assert_eq!(spaced.number("compliance.min"), Some(66.0));
}

#[test]
fn keys_saf_never_checks_are_reported_as_unknown() {
    for (file, key) in [
        ("edge_unknown.yml", "foo.bar"),
        ("edge_errnone.yml", "error.none.controls"),
        ("edge_ids6.yml", "failed.total.controls"),
        ("edge_ids7.yml", "passed.High.controls"),
        ("edge_passnone.yml", "passed.none.min"),
        ("edge_sevscalar.yml", "passed.critical"),
        ("edge_cscalar.yml", "compliance"),
    ] {
        let t = thresholds(file).unwrap();
        assert!(
            t.unknown_keys.contains(&key.to_string()),
            "{file}: {:?}",
            t.unknown_keys
        );
    }
}
