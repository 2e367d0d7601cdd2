//! What changed between two results of the same target: controls newly failed, fixed, newly
//! errored, added and removed, and per control the failing findings added and removed (findings
//! as in [`crate::finding`]: keyed by path, else by `code_desc`).

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use serde::Serialize;

use sidescan_core::history::{Comparison, Delta, DeltaCounts, FindingChange, NewFailure};

use crate::finding::{self, FindingKey, one_line};
use crate::hdf::{Control, Hdf, Status};

/// A control as a diff lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub severity: String,
    /// Status in the base result (absent for a new control).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_status: Option<Status>,
    /// Status in the new result (absent for a removed control).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// The failing findings of one control that appeared or went away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingChanges {
    pub control: ControlRef,
    pub added: Vec<FindingKey>,
    pub removed: Vec<FindingKey>,
}

/// The changes from `base` to `new`. Lists are in the new result's profile order (removed
/// controls in the base's), findings in result order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Present in both; not Failed before, Failed now.
    pub newly_failed: Vec<ControlRef>,
    /// Present in both; Failed before, Passed now.
    pub fixed: Vec<ControlRef>,
    /// Present in both; not Profile Error before, Profile Error now.
    pub newly_errored: Vec<ControlRef>,
    /// Present in both; any other change of status (e.g. Failed to Not Applicable).
    pub other_status_changes: Vec<ControlRef>,
    /// Only in the new result (with its status).
    pub new_controls: Vec<ControlRef>,
    /// Only in the base result.
    pub removed_controls: Vec<ControlRef>,
    /// Controls present in both whose failing findings changed.
    pub findings: Vec<FindingChanges>,
}

impl Diff {
    /// Anything that fails now and did not before: a newly failed control, a new control that
    /// fails, or a new failing finding of a control that was already failing.
    pub fn has_new_failures(&self) -> bool {
        !self.newly_failed.is_empty()
            || self
                .new_controls
                .iter()
                .any(|c| c.status == Some(Status::Failed))
            || self.findings.iter().any(|f| {
                f.control.base_status == Some(Status::Failed)
                    && f.control.status == Some(Status::Failed)
                    && !f.added.is_empty()
            })
    }

    pub fn is_empty(&self) -> bool {
        self.newly_failed.is_empty()
            && self.fixed.is_empty()
            && self.newly_errored.is_empty()
            && self.other_status_changes.is_empty()
            && self.new_controls.is_empty()
            && self.removed_controls.is_empty()
            && self.findings.is_empty()
    }
}

fn control_ref(base: Option<&Control>, new: Option<&Control>) -> ControlRef {
    let c = new.or(base).expect("one side has the control");
    ControlRef {
        id: c.id.clone(),
        title: c.title.as_deref().map(one_line),
        severity: c.severity.clone(),
        base_status: base.map(|b| b.status),
        status: new.map(|n| n.status),
    }
}

fn keys(c: &Control) -> Vec<FindingKey> {
    finding::failing(c).into_iter().map(|f| f.key).collect()
}

/// Compares two parsed results. Controls are matched by id (the first of an id counts, as in
/// the profile).
pub fn diff(base: &Hdf, new: &Hdf) -> Diff {
    let mut base_by_id: HashMap<&str, &Control> = HashMap::with_capacity(base.controls.len());
    for c in &base.controls {
        base_by_id.entry(c.id.as_str()).or_insert(c);
    }
    let mut new_ids: HashSet<&str> = HashSet::with_capacity(new.controls.len());
    let mut d = Diff {
        newly_failed: vec![],
        fixed: vec![],
        newly_errored: vec![],
        other_status_changes: vec![],
        new_controls: vec![],
        removed_controls: vec![],
        findings: vec![],
    };
    for n in &new.controls {
        if !new_ids.insert(n.id.as_str()) {
            continue;
        }
        let Some(&b) = base_by_id.get(n.id.as_str()) else {
            d.new_controls.push(control_ref(None, Some(n)));
            continue;
        };
        let r = control_ref(Some(b), Some(n));
        match (b.status, n.status) {
            (x, y) if x == y => {}
            (_, Status::Failed) => d.newly_failed.push(r.clone()),
            (Status::Failed, Status::Passed) => d.fixed.push(r.clone()),
            (_, Status::ProfileError) => d.newly_errored.push(r.clone()),
            _ => d.other_status_changes.push(r.clone()),
        }
        let before = keys(b);
        let after = keys(n);
        if before != after {
            let was: HashSet<&FindingKey> = before.iter().collect();
            let is: HashSet<&FindingKey> = after.iter().collect();
            let added: Vec<FindingKey> =
                after.iter().filter(|k| !was.contains(k)).cloned().collect();
            let removed: Vec<FindingKey> =
                before.iter().filter(|k| !is.contains(k)).cloned().collect();
            if !added.is_empty() || !removed.is_empty() {
                d.findings.push(FindingChanges {
                    control: r,
                    added,
                    removed,
                });
            }
        }
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for b in &base.controls {
        if !new_ids.contains(b.id.as_str()) && seen.insert(b.id.as_str()) {
            d.removed_controls.push(control_ref(Some(b), None));
        }
    }
    d
}

/// The compact record of a diff that `evaluation.json` and `audit.json` keep: counts, the
/// control ids by kind of change, the changed findings (paths, or the check's text), and the new
/// failures with title, severity and findings. `new` is the result the diff was made for.
pub fn delta(d: &Diff, new: &Hdf) -> Delta {
    let ids = |l: &[ControlRef]| l.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    let texts = |l: &[FindingKey]| l.iter().map(|k| k.text().to_string()).collect::<Vec<_>>();
    let added: HashMap<&str, &FindingChanges> = d
        .findings
        .iter()
        .map(|f| (f.control.id.as_str(), f))
        .collect();
    let new_by_id: HashMap<&str, &Control> = new
        .controls
        .iter()
        .rev()
        .map(|c| (c.id.as_str(), c))
        .collect();
    let failure = |c: &ControlRef, findings: Vec<String>| NewFailure {
        control: c.id.clone(),
        title: c.title.clone(),
        severity: c.severity.clone(),
        findings,
    };
    // In the result's profile order: newly failed controls, new controls that fail, failing
    // controls with new findings.
    let mut new_failures = Vec::new();
    let newly: HashSet<&str> = d.newly_failed.iter().map(|c| c.id.as_str()).collect();
    let fresh: HashMap<&str, &ControlRef> = d
        .new_controls
        .iter()
        .filter(|c| c.status == Some(Status::Failed))
        .map(|c| (c.id.as_str(), c))
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    for c in &new.controls {
        let id = c.id.as_str();
        if !seen.insert(id) {
            continue;
        }
        if newly.contains(id) {
            let r = d.newly_failed.iter().find(|r| r.id == id).expect("listed");
            new_failures.push(failure(r, keys_text(new_by_id[id])));
        } else if let Some(r) = fresh.get(id) {
            new_failures.push(failure(r, keys_text(new_by_id[id])));
        } else if let Some(f) = added.get(id).filter(|f| {
            f.control.base_status == Some(Status::Failed)
                && f.control.status == Some(Status::Failed)
                && !f.added.is_empty()
        }) {
            new_failures.push(failure(&f.control, texts(&f.added)));
        }
    }
    Delta {
        counts: DeltaCounts {
            newly_failed: d.newly_failed.len() as u64,
            fixed: d.fixed.len() as u64,
            new: d.new_controls.len() as u64,
            removed: d.removed_controls.len() as u64,
            new_failures: new_failures.len() as u64,
        },
        newly_failed: ids(&d.newly_failed),
        fixed: ids(&d.fixed),
        new: ids(&d.new_controls),
        removed: ids(&d.removed_controls),
        findings: d
            .findings
            .iter()
            .map(|f| FindingChange {
                control: f.control.id.clone(),
                added: texts(&f.added),
                removed: texts(&f.removed),
            })
            .collect(),
        new_failures,
    }
}

fn keys_text(c: &Control) -> Vec<String> {
    keys(c).iter().map(|k| k.text().to_string()).collect()
}

/// `new` compared with `base` (its key or URL): the [`Comparison`] a scan's `evaluation.json`
/// and an audit's targets record. Without a base every control is new and every failure a new
/// failure; `note` says why there is none.
pub fn compare(base: Option<(&str, &Hdf)>, new: &Hdf, note: Option<String>) -> Comparison {
    match base {
        Some((key, base)) => Comparison {
            key: Some(key.to_string()),
            note,
            delta: delta(&diff(base, new), new),
        },
        None => {
            let nothing = Hdf {
                profile: String::new(),
                profiles: 0,
                controls: vec![],
            };
            Comparison {
                key: None,
                note: Some(note.unwrap_or_else(|| NO_BASELINE.to_string())),
                delta: delta(&diff(&nothing, new), new),
            }
        }
    }
}

/// What a comparison without a baseline says.
pub const NO_BASELINE: &str = "no earlier result: every failure counts as new";

fn status_word(s: Option<Status>) -> &'static str {
    s.map(Status::label).unwrap_or("absent")
}

fn line(c: &ControlRef) -> String {
    let title = c.title.as_deref().unwrap_or("");
    format!(
        "{} [{}] {} ({} -> {})",
        c.id,
        c.severity,
        title,
        status_word(c.base_status),
        status_word(c.status)
    )
}

fn sections(d: &Diff) -> [(&'static str, &Vec<ControlRef>); 6] {
    [
        ("newly failed", &d.newly_failed),
        ("fixed", &d.fixed),
        ("newly errored", &d.newly_errored),
        ("other status changes", &d.other_status_changes),
        ("new controls", &d.new_controls),
        ("removed controls", &d.removed_controls),
    ]
}

/// Plain text: a count line, then one line per control and per changed finding.
pub fn text(d: &Diff, base: &str, new: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "base: {base}\nnew:  {new}");
    if d.is_empty() {
        out.push_str("no changes\n");
        return out;
    }
    for (name, list) in sections(d) {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{name} ({}):", list.len());
        for c in list {
            let _ = writeln!(out, "  {}", line(c).trim_end());
        }
    }
    if !d.findings.is_empty() {
        let _ = writeln!(out, "changed findings ({} controls):", d.findings.len());
        for f in &d.findings {
            let _ = writeln!(out, "  {}", line(&f.control).trim_end());
            for k in &f.added {
                let _ = writeln!(out, "    + {}", one_line(k.text()));
            }
            for k in &f.removed {
                let _ = writeln!(out, "    - {}", one_line(k.text()));
            }
        }
    }
    out
}

fn md(s: &str) -> String {
    one_line(s).replace('|', "\\|").replace('`', "'")
}

/// Markdown for a CI job summary or a merge request comment.
pub fn markdown(d: &Diff, base: &str, new: &str) -> String {
    let mut out = String::new();
    let icon = if d.has_new_failures() { "❌" } else { "✅" };
    let _ = writeln!(
        out,
        "## {icon} Compliance changes: {} newly failed, {} fixed, {} newly errored\n",
        d.newly_failed.len(),
        d.fixed.len(),
        d.newly_errored.len()
    );
    let _ = writeln!(out, "Base `{}`, new `{}`.\n", md(base), md(new));
    if d.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    for (name, list) in sections(d) {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {} {name}\n", list.len());
        out.push_str("| Control | Severity | Title | Before | Now |\n|---|---|---|---|---|\n");
        for c in list {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                md(&c.id),
                c.severity,
                md(c.title.as_deref().unwrap_or("")),
                status_word(c.base_status),
                status_word(c.status)
            );
        }
        out.push('\n');
    }
    if !d.findings.is_empty() {
        let _ = writeln!(out, "### Changed findings\n");
        for f in &d.findings {
            let _ = writeln!(
                out,
                "- `{}` {} ({} -> {})",
                md(&f.control.id),
                md(f.control.title.as_deref().unwrap_or("")),
                status_word(f.control.base_status),
                status_word(f.control.status)
            );
            for k in &f.added {
                let _ = writeln!(out, "  - ➕ `{}`", md(k.text()));
            }
            for k in &f.removed {
                let _ = writeln!(out, "  - ➖ `{}`", md(k.text()));
            }
        }
    }
    out
}

/// JSON: the inputs, whether anything newly fails, and the [`Diff`].
pub fn json(d: &Diff, base: &str, new: &str) -> String {
    let doc = serde_json::json!({
        "base": base,
        "input": new,
        "new_failures": d.has_new_failures(),
        "diff": d,
    });
    format!("{doc:#}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf::Outcome;

    fn control(id: &str, status: Status, failed: &[(&str, Option<&str>)]) -> Control {
        let mut results: Vec<Outcome> = failed
            .iter()
            .map(|(d, m)| Outcome {
                status: "failed".into(),
                code_desc: d.to_string(),
                message: m.map(str::to_string),
            })
            .collect();
        if results.is_empty() {
            results.push(Outcome {
                status: match status {
                    Status::ProfileError => "error".into(),
                    Status::NotReviewed => "skipped".into(),
                    _ => "passed".into(),
                },
                code_desc: "ok".into(),
                message: None,
            });
        }
        Control {
            id: id.into(),
            title: Some(format!("title of {id}")),
            desc: None,
            check: None,
            fix: None,
            nist: vec![],
            cci: vec![],
            impact: 0.5,
            status,
            severity: "medium".into(),
            results,
        }
    }

    fn hdf(controls: Vec<Control>) -> Hdf {
        Hdf {
            profile: "p".into(),
            profiles: 1,
            controls,
        }
    }

    const WW: &str = "file /tmp/a is not world-writable";
    const KEY: &str = "file /srv/app.key holds no private key";
    const SETID: &str = "file /usr/local/bin/helper has no setuid or setgid bit";

    #[test]
    fn classifies_status_changes_and_findings() {
        let base = hdf(vec![
            control("fixed", Status::Failed, &[("x", None)]),
            control("breaks", Status::Passed, &[]),
            control("errors", Status::Passed, &[]),
            control(
                "same",
                Status::Failed,
                &[(WW, Some("/tmp/a has mode 0777"))],
            ),
            control("gone", Status::Passed, &[]),
            control("na", Status::Failed, &[("y", None)]),
        ]);
        let new = hdf(vec![
            control("fixed", Status::Passed, &[]),
            control("breaks", Status::Failed, &[("z", None)]),
            control("errors", Status::ProfileError, &[]),
            control(
                "same",
                Status::Failed,
                &[
                    (WW, Some("/tmp/a has mode 0666")),
                    (
                        "file /tmp/b is not world-writable",
                        Some("/tmp/b has mode 0777"),
                    ),
                ],
            ),
            control("na", Status::NotApplicable, &[]),
            control("brand-new", Status::Passed, &[]),
        ]);
        let d = diff(&base, &new);
        let ids = |l: &[ControlRef]| l.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&d.newly_failed), ["breaks"]);
        assert_eq!(ids(&d.fixed), ["fixed"]);
        assert_eq!(ids(&d.newly_errored), ["errors"]);
        assert_eq!(ids(&d.other_status_changes), ["na"]);
        assert_eq!(ids(&d.new_controls), ["brand-new"]);
        assert_eq!(ids(&d.removed_controls), ["gone"]);
        // The message of /tmp/a changed but its key did not: only /tmp/b is new.
        let same = d.findings.iter().find(|f| f.control.id == "same").unwrap();
        assert_eq!(same.added, [FindingKey::Path("/tmp/b".into())]);
        assert!(same.removed.is_empty());
        let fixed = d.findings.iter().find(|f| f.control.id == "fixed").unwrap();
        assert_eq!(fixed.removed, [FindingKey::Check("x".into())]);
        assert!(d.has_new_failures());
        let t = text(&d, "old.json", "new.json");
        assert!(t.contains("newly failed (1):\n  breaks [medium]"), "{t}");
        assert!(t.contains("    + /tmp/b\n"), "{t}");
        let m = markdown(&d, "old.json", "new.json");
        assert!(
            m.starts_with("## ❌ Compliance changes: 1 newly failed, 1 fixed"),
            "{m}"
        );
        let j: serde_json::Value = serde_json::from_str(&json(&d, "a", "b")).unwrap();
        assert_eq!(j["new_failures"], true);
        let same = j["diff"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["control"]["id"] == "same")
            .unwrap();
        assert_eq!(
            same["added"][0],
            serde_json::json!({"kind": "path", "value": "/tmp/b"})
        );
    }

    #[test]
    fn the_delta_names_the_changed_controls_paths_and_new_failures() {
        let base = hdf(vec![
            control(
                "key",
                Status::Failed,
                &[(KEY, Some("/srv/app.key holds a key"))],
            ),
            control("setid", Status::Passed, &[]),
            control("ww", Status::Failed, &[(WW, Some("/tmp/a has mode 0777"))]),
            control("gone", Status::Passed, &[]),
        ]);
        let new = hdf(vec![
            control("key", Status::Passed, &[]),
            control(
                "setid",
                Status::Failed,
                &[(SETID, Some("/usr/local/bin/helper has mode 4755"))],
            ),
            control(
                "ww",
                Status::Failed,
                &[
                    (WW, Some("/tmp/a has mode 0777")),
                    (
                        "file /tmp/b is not world-writable",
                        Some("/tmp/b has mode 0777"),
                    ),
                ],
            ),
            control("fresh", Status::Failed, &[("c", None)]),
        ]);
        let c = compare(Some(("old/hdf.json", &base)), &new, None);
        assert_eq!(c.key.as_deref(), Some("old/hdf.json"));
        let d = &c.delta;
        assert_eq!(d.newly_failed, ["setid"]);
        assert_eq!(d.fixed, ["key"]);
        assert_eq!(d.new, ["fresh"]);
        assert_eq!(d.removed, ["gone"]);
        assert_eq!(
            (
                d.counts.newly_failed,
                d.counts.fixed,
                d.counts.new,
                d.counts.removed
            ),
            (1, 1, 1, 1)
        );
        let f = |id: &str| d.findings.iter().find(|f| f.control == id).unwrap();
        assert_eq!(f("key").removed, ["/srv/app.key"]);
        assert_eq!(f("setid").added, ["/usr/local/bin/helper"]);
        assert_eq!(f("ww").added, ["/tmp/b"]);
        let failures: Vec<(&str, Vec<String>)> = d
            .new_failures
            .iter()
            .map(|n| (n.control.as_str(), n.findings.clone()))
            .collect();
        assert_eq!(
            failures,
            [
                ("setid", vec!["/usr/local/bin/helper".to_string()]),
                ("ww", vec!["/tmp/b".to_string()]),
                ("fresh", vec!["c".to_string()]),
            ]
        );
        assert_eq!(d.counts.new_failures, 3);
        assert_eq!(d.new_failures[0].title.as_deref(), Some("title of setid"));
        assert_eq!(d.new_failures[0].severity, "medium");
        assert!(c.has_new_failures());

        // Nothing changed: an empty delta.
        let same = compare(Some(("new/hdf.json", &new)), &new, None);
        assert!(!same.has_new_failures());
        assert_eq!(same.delta, Delta::default());
    }

    #[test]
    fn without_a_baseline_every_failure_is_new() {
        let new = hdf(vec![
            control("ok", Status::Passed, &[]),
            control("bad", Status::Failed, &[(WW, Some("/tmp/a has mode 0777"))]),
        ]);
        let c = compare(None, &new, None);
        assert_eq!(c.key, None);
        assert_eq!(c.note.as_deref(), Some(NO_BASELINE));
        assert_eq!(c.delta.new, ["ok", "bad"]);
        assert_eq!(c.delta.new_failures.len(), 1);
        assert_eq!(c.delta.new_failures[0].findings, ["/tmp/a"]);
        let said = compare(None, &new, Some("no earlier run of ns/web".into()));
        assert_eq!(said.note.as_deref(), Some("no earlier run of ns/web"));
    }

    #[test]
    fn only_a_new_finding_of_a_failing_control_is_a_new_failure() {
        let base = hdf(vec![control(
            "c",
            Status::Failed,
            &[("a", None), ("b", None)],
        )]);
        let fewer = hdf(vec![control("c", Status::Failed, &[("a", None)])]);
        let d = diff(&base, &fewer);
        assert!(!d.has_new_failures());
        assert_eq!(d.findings[0].removed, [FindingKey::Check("b".into())]);
        let d = diff(&fewer, &base);
        assert!(d.has_new_failures());
        assert!(diff(&base, &base).is_empty());
        assert!(!diff(&base, &base).has_new_failures());
        // A new control that fails is a new failure; a removed one is not.
        let more = hdf(vec![
            control("c", Status::Failed, &[("a", None), ("b", None)]),
            control("d", Status::Failed, &[("x", None)]),
        ]);
        assert!(diff(&base, &more).has_new_failures());
        assert!(!diff(&more, &base).has_new_failures());
    }
}
