//! The exporter's pure part: which stored objects matter, read from a listing one key at a time
//! ([`Tracker`]: the latest run of each namespace/target and the latest audit, nothing else
//! kept), and a scan's sample from its files ([`scan_sample`]).

use sidescan_core::audit::record::SeverityCounts;
use sidescan_core::layout::{AuditFile, RunLocation, parse_audit_key, parse_run_key};
use sidescan_eval::metrics::ScanSample;
use std::collections::BTreeMap;

/// The result files of a run folder the exporter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunFile {
    Hdf,
    Metadata,
    Evaluation,
}

impl RunFile {
    fn of(name: &str) -> Option<RunFile> {
        match name {
            "hdf.json" => Some(RunFile::Hdf),
            "metadata.json" => Some(RunFile::Metadata),
            "evaluation.json" => Some(RunFile::Evaluation),
            _ => None,
        }
    }
}

const METADATA: u8 = 1;
const EVALUATION: u8 = 2;

/// One namespace/target in a listing: the greatest run folder with an `hdf.json` (folder names
/// sort by time, then run id), and which of `metadata.json` and `evaluation.json` the folders
/// from that one on hold. Older folders are forgotten as soon as a newer `hdf.json` is seen, so
/// only the latest complete run and any newer incomplete ones (usually none) are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Folders {
    hdf: Option<String>,
    files: Vec<(String, u8)>,
}

impl Folders {
    fn hdf(&mut self, folder: &str) {
        if self.hdf.as_deref().is_none_or(|current| folder > current) {
            self.files.retain(|(f, _)| f.as_str() >= folder);
            self.hdf = Some(folder.to_string());
        }
    }

    fn other(&mut self, folder: &str, bit: u8) {
        if self.hdf.as_deref().is_some_and(|current| folder < current) {
            return;
        }
        match self.files.iter_mut().find(|(f, _)| f == folder) {
            Some((_, mask)) => *mask |= bit,
            None => self.files.push((folder.to_string(), bit)),
        }
    }

    fn mask(&self, folder: &str) -> u8 {
        self.files
            .iter()
            .find(|(f, _)| f == folder)
            .map_or(0, |(_, m)| *m)
    }
}

/// The latest complete run of one namespace/target: the greatest folder with an `hdf.json`, and
/// which of the other files that folder holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestRun {
    pub namespace: String,
    pub target: String,
    /// `<UTC timestamp>-<run id>`.
    pub folder: String,
    pub has_metadata: bool,
    pub has_evaluation: bool,
}

impl LatestRun {
    /// The full key of one of the run's files.
    pub fn key(&self, prefix: &str, file: &str) -> String {
        let leaf = format!("{}/{}/{}/{file}", self.namespace, self.target, self.folder);
        if prefix.is_empty() {
            leaf
        } else {
            format!("{prefix}/{leaf}")
        }
    }
}

/// The latest audit: the `audit.json` written last (ties: the greater id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestAudit {
    pub audit_id: String,
    pub key: String,
    /// Milliseconds since the epoch of the object's last modification.
    pub modified_ms: i64,
}

/// Reads a listing of the store's prefix one key at a time and keeps only what the exporter
/// serves: per namespace/target the greatest run folders holding `hdf.json`, `metadata.json`
/// and `evaluation.json`, and the latest `audit.json`. Memory grows with the number of targets,
/// never with the number of runs or objects listed.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    prefix: String,
    series: BTreeMap<(String, String), Folders>,
    audit: Option<LatestAudit>,
    /// Objects seen.
    pub listed: u64,
}

impl Tracker {
    /// `prefix`: the store's key prefix (runs directly under it count; deeper layouts do not).
    pub fn new(prefix: &str) -> Tracker {
        Tracker {
            prefix: prefix.trim_matches('/').to_string(),
            ..Tracker::default()
        }
    }

    /// One listed object: its full key and last modification (ms since the epoch).
    pub fn observe(&mut self, key: &str, modified_ms: i64) {
        self.listed += 1;
        if let Some(run) = parse_run_key(key) {
            let Some(file) = RunFile::of(run.file) else {
                return;
            };
            if run.prefix != self.prefix {
                return;
            }
            let series = (run.namespace.to_string(), run.target.to_string());
            let folders = self.series.entry(series).or_default();
            match file {
                RunFile::Hdf => folders.hdf(run.folder),
                RunFile::Metadata => folders.other(run.folder, METADATA),
                RunFile::Evaluation => folders.other(run.folder, EVALUATION),
            }
            return;
        }
        if let Some((audit_id, file)) = parse_audit_key(&self.prefix, key)
            && file == AuditFile::Audit.file_name()
        {
            let newer = self
                .audit
                .as_ref()
                .is_none_or(|a| (modified_ms, audit_id) > (a.modified_ms, a.audit_id.as_str()));
            if newer {
                self.audit = Some(LatestAudit {
                    audit_id: audit_id.to_string(),
                    key: key.to_string(),
                    modified_ms,
                });
            }
        }
    }

    /// Namespace/targets seen so far (with any of the three files).
    pub fn series(&self) -> usize {
        self.series.len()
    }

    /// The latest complete run of every namespace/target (sorted), and the latest audit.
    pub fn finish(self) -> (Vec<LatestRun>, Option<LatestAudit>) {
        let runs = self
            .series
            .into_iter()
            .filter_map(|((namespace, target), f)| {
                let folder = f.hdf.as_deref()?;
                let mask = f.mask(folder);
                Some(LatestRun {
                    namespace,
                    target,
                    has_metadata: mask & METADATA != 0,
                    has_evaluation: mask & EVALUATION != 0,
                    folder: folder.to_string(),
                })
            })
            .collect();
        (runs, self.audit)
    }
}

/// Why a stored run could not be read into a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub key: String,
    pub reason: String,
}

fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn u64_at(v: &serde_json::Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_u64()
}

/// The sample of one run from its files: `metadata.json` (workload, container, image, times),
/// and `evaluation.json` (compliance, verdict, failed controls) or, without it, `hdf.json`
/// (summarized here; no verdict: the thresholds are the audit's). `prefix` names keys in errors.
pub fn scan_sample(
    prefix: &str,
    run: &LatestRun,
    metadata: Option<&[u8]>,
    evaluation: Option<&[u8]>,
    hdf: Option<&[u8]>,
) -> Result<ScanSample, Unreadable> {
    let unreadable = |file: &str, reason: String| Unreadable {
        key: run.key(prefix, file),
        reason,
    };
    let (started, _) =
        RunLocation::parse_folder_name(&run.folder).map_err(|e| unreadable("", e.to_string()))?;
    let mut sample = ScanSample {
        namespace: run.namespace.clone(),
        target: run.target.clone(),
        started: started.as_second() as f64,
        ..ScanSample::default()
    };
    if let Some(bytes) = metadata {
        let m: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| unreadable("metadata.json", e.to_string()))?;
        let audit = m.get("audit");
        let text = |v: Option<&str>| v.unwrap_or_default().to_string();
        sample.kind = text(audit.and_then(|a| str_at(a, &["workload", "kind"])));
        sample.workload = text(audit.and_then(|a| str_at(a, &["workload", "name"])));
        sample.container = text(
            audit
                .and_then(|a| str_at(a, &["container"]))
                .or_else(|| str_at(&m, &["container"])),
        );
        sample.image = text(
            audit
                .and_then(|a| str_at(a, &["image"]))
                .or_else(|| str_at(&m, &["image"])),
        );
        let time = |k: &str| str_at(&m, &[k]).and_then(|t| t.parse::<jiff::Timestamp>().ok());
        if let (Some(s), Some(f)) = (time("started"), time("finished")) {
            sample.duration_seconds =
                Some((f.as_millisecond() - s.as_millisecond()).max(0) as f64 / 1000.0);
        }
    }
    if let Some(bytes) = evaluation {
        let e: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| unreadable("evaluation.json", e.to_string()))?;
        sample.compliance = u64_at(&e, &["summary", "compliance"]);
        sample.threshold_met = match str_at(&e, &["verdict"]) {
            Some("passed") => Some(true),
            Some("thresholds-not-met") => Some(false),
            _ => None,
        };
        let failed = |severity: &str| {
            u64_at(&e, &["summary", "severities", severity, "failed"]).unwrap_or_default()
        };
        if e.pointer("/summary/severities").is_some() {
            sample.failed_by_severity = Some(SeverityCounts {
                critical: failed("critical"),
                high: failed("high"),
                medium: failed("medium"),
                low: failed("low"),
            });
        }
    } else if let Some(bytes) = hdf {
        let parsed =
            sidescan_eval::hdf::parse(bytes).map_err(|e| unreadable("hdf.json", e.to_string()))?;
        let summary = sidescan_eval::summary::summarize(&parsed);
        sample.compliance = Some(summary.compliance);
        sample.failed_by_severity = Some(sidescan_eval::audit::failed_by_severity(&summary));
    }
    Ok(sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tracker_keeps_the_latest_complete_run_of_each_target_and_the_latest_audit() {
        let mut t = Tracker::new("scans/");
        let keys = [
            ("scans/shop/web/20261126T100000Z-aaaaaa/hdf.json", 1),
            ("scans/shop/web/20261126T100000Z-aaaaaa/metadata.json", 1),
            ("scans/shop/web/20261126T100000Z-aaaaaa/evaluation.json", 1),
            // Newer, complete without evaluation.json.
            ("scans/shop/web/20261127T100000Z-bbbbbb/metadata.json", 2),
            ("scans/shop/web/20261127T100000Z-bbbbbb/hdf.json", 2),
            // Newest, but no hdf.json (a failed upload): not the latest complete run.
            ("scans/shop/web/20261128T100000Z-cccccc/metadata.json", 3),
            ("scans/shop/db/20261120T100000Z-dddddd/hdf.json", 1),
            // Not runs: other files, another prefix, a deeper layout, progress records.
            ("scans/shop/web/20261127T100000Z-bbbbbb/summary.md", 2),
            ("other/shop/web/20261129T100000Z-eeeeee/hdf.json", 9),
            ("scans/x/shop/web/20261129T100000Z-eeeeee/hdf.json", 9),
            (
                "scans/audits/audit-20261126-030000-abcdef/targets/shop/deployment.web.app.json",
                9,
            ),
            ("scans/audits/audit-20261126-030000-abcdef/audit.json", 100),
            ("scans/audits/audit-20261125-030000-zzzzzz/audit.json", 50),
            ("scans/audits/audit-20261127-030000-aaaaaa/report.html", 500),
        ];
        for (key, modified) in keys {
            t.observe(key, modified);
        }
        assert_eq!(t.listed, keys.len() as u64);
        let (runs, audit) = t.finish();
        assert_eq!(
            runs,
            vec![
                LatestRun {
                    namespace: "shop".into(),
                    target: "db".into(),
                    folder: "20261120T100000Z-dddddd".into(),
                    has_metadata: false,
                    has_evaluation: false,
                },
                LatestRun {
                    namespace: "shop".into(),
                    target: "web".into(),
                    folder: "20261127T100000Z-bbbbbb".into(),
                    has_metadata: true,
                    has_evaluation: false,
                },
            ]
        );
        assert_eq!(
            runs[1].key("scans", "hdf.json"),
            "scans/shop/web/20261127T100000Z-bbbbbb/hdf.json"
        );
        let audit = audit.unwrap();
        assert_eq!(audit.audit_id, "audit-20261126-030000-abcdef");
        assert_eq!(
            audit.key,
            "scans/audits/audit-20261126-030000-abcdef/audit.json"
        );
    }

    #[test]
    fn the_order_of_the_listing_does_not_matter() {
        let keys = [
            "p/ns/t/20261127T100000Z-bbbbbb/hdf.json",
            "p/ns/t/20261127T100000Z-bbbbbb/evaluation.json",
            "p/ns/t/20261126T100000Z-aaaaaa/hdf.json",
            "p/ns/t/20261126T100000Z-aaaaaa/evaluation.json",
            "p/ns/t/20261126T100000Z-aaaaaa/metadata.json",
        ];
        let mut forward = Tracker::new("p");
        let mut backward = Tracker::new("p");
        for k in keys {
            forward.observe(k, 0);
        }
        for k in keys.iter().rev() {
            backward.observe(k, 0);
        }
        let (a, _) = forward.finish();
        let (b, _) = backward.finish();
        assert_eq!(a, b);
        assert_eq!(a[0].folder, "20261127T100000Z-bbbbbb");
        assert!(a[0].has_evaluation && !a[0].has_metadata);
    }

    fn run() -> LatestRun {
        LatestRun {
            namespace: "shop".into(),
            target: "deployment.web.app".into(),
            folder: "20261128T101108Z-abc123".into(),
            has_metadata: true,
            has_evaluation: true,
        }
    }

    #[test]
    fn an_evaluated_scan_gives_its_verdict_and_the_workload_from_metadata() {
        let metadata = br#"{"run_id":"abc123","namespace":"shop","target":"deployment.web.app",
            "container":"app","image":"ignored:1","started":"2026-11-28T10:11:08Z",
            "finished":"2026-11-28T10:11:10.5Z",
            "audit":{"audit_id":"audit-1","workload":{"namespace":"shop","kind":"Deployment","name":"web"},
                     "container":"app","image":"nginx:1.27"}}"#;
        let evaluation = br#"{"verdict":"thresholds-not-met","exit_code":1,
            "summary":{"compliance":63,"severities":{"critical":{"failed":0},"high":{"failed":2},
                       "medium":{"failed":1},"low":{"failed":0},"none":{"failed":0}}}}"#;
        let s = scan_sample("scans", &run(), Some(metadata), Some(evaluation), None).unwrap();
        assert_eq!(
            s,
            ScanSample {
                namespace: "shop".into(),
                target: "deployment.web.app".into(),
                kind: "Deployment".into(),
                workload: "web".into(),
                container: "app".into(),
                image: "nginx:1.27".into(),
                started: 1_795_860_668.0,
                duration_seconds: Some(2.5),
                compliance: Some(63),
                threshold_met: Some(false),
                failed_by_severity: Some(SeverityCounts {
                    critical: 0,
                    high: 2,
                    medium: 1,
                    low: 0
                }),
            }
        );
    }

    #[test]
    fn an_unevaluated_scan_is_summarized_from_its_hdf_and_bad_files_are_named() {
        let hdf = br#"{"platform":{"name":"debian","release":"12"},"version":"1","statistics":{"duration":0.1},
            "profiles":[{"name":"p","sha256":"0","supports":[],"attributes":[],"groups":[],"status":"loaded",
            "controls":[
              {"id":"a","impact":0.7,"tags":{},"refs":[],"source_location":{},"descriptions":[],
               "results":[{"status":"passed","code_desc":"c","start_time":"2026-01-01T00:00:00Z"}]},
              {"id":"b","impact":0.5,"tags":{},"refs":[],"source_location":{},"descriptions":[],
               "results":[{"status":"failed","code_desc":"c","start_time":"2026-01-01T00:00:00Z"}]}]}]}"#;
        let mut r = run();
        r.has_evaluation = false;
        let s = scan_sample("scans", &r, None, None, Some(hdf)).unwrap();
        assert_eq!(s.compliance, Some(50));
        assert_eq!(s.threshold_met, None);
        assert_eq!(s.failed_by_severity.unwrap().medium, 1);
        assert_eq!(s.workload, "");
        let err = scan_sample("scans", &r, Some(b"{"), None, Some(hdf)).unwrap_err();
        assert_eq!(
            err.key,
            "scans/shop/deployment.web.app/20261128T101108Z-abc123/metadata.json"
        );
    }
}
