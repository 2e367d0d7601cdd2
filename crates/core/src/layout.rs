//! Where a run's results live in the object store:
//! `<prefix>/<namespace>/<target>/<UTC timestamp>-<run id>/<file>`.

use crate::{CoreError, RunId, names};
use jiff::Timestamp;

/// The files of one run, written once and never overwritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultFile {
    Hdf,
    Metadata,
    Evaluation,
    Summary,
    Junit,
}

impl ResultFile {
    pub const ALL: [ResultFile; 5] = [
        ResultFile::Hdf,
        ResultFile::Metadata,
        ResultFile::Evaluation,
        ResultFile::Summary,
        ResultFile::Junit,
    ];

    pub const fn file_name(self) -> &'static str {
        match self {
            ResultFile::Hdf => "hdf.json",
            ResultFile::Metadata => "metadata.json",
            ResultFile::Evaluation => "evaluation.json",
            ResultFile::Summary => "summary.md",
            ResultFile::Junit => "junit.xml",
        }
    }

    pub const fn content_type(self) -> &'static str {
        match self {
            ResultFile::Hdf | ResultFile::Metadata | ResultFile::Evaluation => "application/json",
            ResultFile::Summary => "text/markdown",
            ResultFile::Junit => "application/xml",
        }
    }
}

/// The folder of one run in the object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLocation {
    pub prefix: String,
    pub namespace: String,
    pub target: String,
    pub started: Timestamp,
    pub run_id: RunId,
}

impl RunLocation {
    /// Checks the parts that become path segments, so no key can escape its folder.
    pub fn new(
        prefix: &str,
        namespace: &str,
        target: &str,
        started: Timestamp,
        run_id: RunId,
    ) -> Result<RunLocation, CoreError> {
        names::check_dns_label("namespace", namespace)?;
        names::check_dns_subdomain("target", target)?;
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|seg| seg == ".." || seg == ".") {
            return Err(CoreError::InvalidName {
                field: "prefix".into(),
                value: prefix.into(),
                kind: "object key prefix",
                reason: "'.' and '..' segments are not allowed".into(),
            });
        }
        Ok(RunLocation {
            prefix: prefix.to_string(),
            namespace: namespace.to_string(),
            target: target.to_string(),
            started,
            run_id,
        })
    }

    /// `20261126T152045Z`: sorts by time, has no characters that need escaping in keys.
    pub fn timestamp_segment(&self) -> String {
        self.started.strftime("%Y%m%dT%H%M%SZ").to_string()
    }

    /// The run's own folder name, `<UTC timestamp>-<run id>`.
    pub fn folder_name(&self) -> String {
        format!("{}-{}", self.timestamp_segment(), self.run_id)
    }

    /// The start time and run id of a folder name `<UTC timestamp>-<run id>`.
    pub fn parse_folder_name(name: &str) -> Result<(Timestamp, RunId), CoreError> {
        let bad = |reason: String| CoreError::InvalidName {
            field: "run folder".into(),
            value: name.into(),
            kind: "<UTC timestamp>-<run id>",
            reason,
        };
        let (stamp, id) = name
            .split_once('-')
            .ok_or_else(|| bad("no '-' between timestamp and run id".into()))?;
        let started = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", stamp)
            .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
            .map(|z| z.timestamp())
            .map_err(|e| bad(format!("timestamp {stamp:?}: {e}")))?;
        let run_id = RunId::parse(id).map_err(|e| bad(e.to_string()))?;
        Ok((started, run_id))
    }

    /// The run's folder, without a trailing slash.
    pub fn folder(&self) -> String {
        let leaf = format!("{}/{}/{}", self.namespace, self.target, self.folder_name());
        if self.prefix.is_empty() {
            leaf
        } else {
            format!("{}/{leaf}", self.prefix)
        }
    }

    pub fn key(&self, file: ResultFile) -> String {
        format!("{}/{}", self.folder(), file.file_name())
    }
}

/// A result file's key read back into the layout's parts:
/// `<prefix>/<namespace>/<target>/<UTC timestamp>-<run id>/<file>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey<'a> {
    /// Everything before the namespace (may be empty), without a trailing slash.
    pub prefix: &'a str,
    pub namespace: &'a str,
    pub target: &'a str,
    /// `<UTC timestamp>-<run id>`.
    pub folder: &'a str,
    pub file: &'a str,
}

impl RunKey<'_> {
    /// The folder of all runs of the target, with a trailing slash (what to list).
    pub fn target_folder(&self) -> String {
        if self.prefix.is_empty() {
            format!("{}/{}/", self.namespace, self.target)
        } else {
            format!("{}/{}/{}/", self.prefix, self.namespace, self.target)
        }
    }
}

/// Whether `name` is a run folder name: `YYYYMMDDTHHMMSSZ-<run id>`.
pub fn is_run_folder(name: &str) -> bool {
    let Some((ts, id)) = name.split_once('-') else {
        return false;
    };
    let b = ts.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && RunId::parse(id).is_ok()
}

/// Reads a result file's key (`scans/shop/web/20261126T152045Z-abc123/hdf.json`) back into its
/// parts; None when the key does not follow the layout.
pub fn parse_run_key(key: &str) -> Option<RunKey<'_>> {
    let mut parts = key.rsplitn(5, '/');
    let file = parts.next()?;
    let folder = parts.next()?;
    let target = parts.next()?;
    let namespace = parts.next()?;
    let prefix = parts.next().unwrap_or("");
    let ok = !file.is_empty()
        && is_run_folder(folder)
        && names::check_dns_subdomain("target", target).is_ok()
        && names::check_dns_label("namespace", namespace).is_ok();
    ok.then_some(RunKey {
        prefix,
        namespace,
        target,
        folder,
        file,
    })
}

/// The runs of the same target before `run`, latest first, from a listing of the target's
/// folder (full keys or bare folder names, with or without a trailing slash; anything that is not
/// a run folder is ignored). Timestamps sort lexically, so "before" is a string comparison;
/// two runs in the same second are ordered by run id.
pub fn runs_before<'a>(run: &RunKey<'_>, listed: &'a [String]) -> Vec<&'a str> {
    let mut out: Vec<&'a str> = listed
        .iter()
        .map(|k| k.trim_end_matches('/'))
        .filter(|k| {
            let name = k.rsplit('/').next().unwrap_or(k);
            is_run_folder(name) && name < run.folder
        })
        .collect();
    fn name(k: &str) -> &str {
        k.rsplit('/').next().unwrap_or(k)
    }
    out.sort_unstable_by(|a, b| name(b).cmp(name(a)));
    out.dedup();
    out
}

/// The content type of OpenMetrics text (`metrics.prom`, the exporter's `/metrics`).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The folder of every audit: `<prefix>/audits`, without a trailing slash.
pub fn audits_folder(prefix: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        "audits".to_string()
    } else {
        format!("{prefix}/audits")
    }
}

/// An audit file's key read back: `<prefix>/audits/<audit id>/<file>` gives the audit id and the
/// file name; None for anything else (progress records under `targets/` included).
pub fn parse_audit_key<'a>(prefix: &str, key: &'a str) -> Option<(&'a str, &'a str)> {
    let folder = audits_folder(prefix);
    let rest = key.strip_prefix(folder.as_str())?.strip_prefix('/')?;
    let (id, file) = rest.split_once('/')?;
    (!file.contains('/') && crate::audit::AuditId::parse(id).is_ok()).then_some((id, file))
}

/// The start of a run folder name (`<UTC timestamp>-<run id>`), when it is one.
pub fn run_started(folder: &str) -> Option<Timestamp> {
    RunLocation::parse_folder_name(folder).ok().map(|(t, _)| t)
}

/// Where to start listing the target's folder to see the runs started at or after `since`:
/// `<target folder><UTC timestamp>` (every run folder of that second or later sorts after it).
pub fn list_offset(run: &RunKey<'_>, since: Timestamp) -> String {
    format!(
        "{}{}",
        run.target_folder(),
        since.strftime("%Y%m%dT%H%M%SZ")
    )
}

/// The run folder a key under the target's folder belongs to (`<target folder><folder>/...`).
pub fn folder_of<'a>(run: &RunKey<'_>, key: &'a str) -> Option<&'a str> {
    let rest = key.strip_prefix(&run.target_folder())?;
    let folder = rest.split('/').next()?;
    is_run_folder(folder).then_some(folder)
}

/// Whether a key of an ascending listing of the target's folder is at or past `run`'s folder:
/// nothing after it can be an earlier run.
pub fn at_or_after(run: &RunKey<'_>, key: &str) -> bool {
    folder_of(run, key).is_some_and(|folder| folder >= run.folder)
}

/// The files of an audit under `<prefix>/audits/<audit id>/`, written once when it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditFile {
    Audit,
    Summary,
    Junit,
    Report,
    /// The audit's figures as OpenMetrics text (a rendering of `audit.json`, like the others).
    Metrics,
}

impl AuditFile {
    pub const ALL: [AuditFile; 5] = [
        AuditFile::Audit,
        AuditFile::Summary,
        AuditFile::Junit,
        AuditFile::Report,
        AuditFile::Metrics,
    ];

    pub const fn file_name(self) -> &'static str {
        match self {
            AuditFile::Audit => "audit.json",
            AuditFile::Summary => "summary.md",
            AuditFile::Junit => "junit.xml",
            AuditFile::Report => "report.html",
            AuditFile::Metrics => "metrics.prom",
        }
    }

    pub const fn content_type(self) -> &'static str {
        match self {
            AuditFile::Audit => "application/json",
            AuditFile::Summary => "text/markdown",
            AuditFile::Junit => "application/xml",
            AuditFile::Report => "text/html; charset=utf-8",
            AuditFile::Metrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// The folder of one audit: `<prefix>/audits/<audit id>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLocation {
    pub prefix: String,
    pub audit_id: crate::audit::AuditId,
}

impl AuditLocation {
    pub fn new(prefix: &str, audit_id: crate::audit::AuditId) -> AuditLocation {
        AuditLocation {
            prefix: prefix.trim_matches('/').to_string(),
            audit_id,
        }
    }

    /// The audit's folder, without a trailing slash.
    pub fn folder(&self) -> String {
        format!("{}/{}", audits_folder(&self.prefix), self.audit_id)
    }

    pub fn key(&self, file: AuditFile) -> String {
        format!("{}/{}", self.folder(), file.file_name())
    }

    /// The folder of the progress records (`targets/<namespace>/<target>.json`).
    pub fn progress_folder(&self) -> String {
        format!("{}/targets", self.folder())
    }

    /// The progress record of one target (`namespace` a label, `target` a subdomain: no key
    /// can leave the folder).
    pub fn progress_key(&self, namespace: &str, target: &str) -> String {
        format!("{}/{namespace}/{target}.json", self.progress_folder())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_round_trip_and_bad_ones_are_refused() {
        let loc = location("scans");
        assert_eq!(loc.folder_name(), "20261126T152045Z-abc123");
        let (started, run_id) = RunLocation::parse_folder_name(&loc.folder_name()).unwrap();
        assert_eq!((started, run_id), (loc.started, loc.run_id.clone()));
        for bad in [
            "20261126T152045Z",
            "2026-11-26-abc123",
            "20261126T152045Z-AB",
            "x-abc123",
        ] {
            assert!(RunLocation::parse_folder_name(bad).is_err(), "{bad}");
        }
    }

    fn location(prefix: &str) -> RunLocation {
        RunLocation::new(
            prefix,
            "default",
            "nginx",
            "2026-11-26T15:20:45Z".parse().unwrap(),
            RunId::parse("abc123").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn keys_follow_the_design_layout() {
        assert_eq!(
            location("scans/").key(ResultFile::Hdf),
            "scans/default/nginx/20261126T152045Z-abc123/hdf.json"
        );
        assert_eq!(
            location("").key(ResultFile::Junit),
            "default/nginx/20261126T152045Z-abc123/junit.xml"
        );
    }

    #[test]
    fn audit_keys_follow_the_design_layout() {
        let id = crate::audit::AuditId::parse("audit-20261126-030000-abcdef").unwrap();
        let loc = AuditLocation::new("scans/", id.clone());
        assert_eq!(
            loc.key(AuditFile::Report),
            "scans/audits/audit-20261126-030000-abcdef/report.html"
        );
        assert_eq!(
            loc.progress_key("shop", "deployment.web.app"),
            "scans/audits/audit-20261126-030000-abcdef/targets/shop/deployment.web.app.json"
        );
        assert_eq!(
            AuditLocation::new("", id.clone()).key(AuditFile::Audit),
            "audits/audit-20261126-030000-abcdef/audit.json"
        );
        assert_eq!(
            loc.key(AuditFile::Metrics),
            "scans/audits/audit-20261126-030000-abcdef/metrics.prom"
        );
    }

    #[test]
    fn audit_keys_read_back() {
        let key = "scans/audits/audit-20261126-030000-abcdef/audit.json";
        assert_eq!(
            parse_audit_key("scans/", key),
            Some(("audit-20261126-030000-abcdef", "audit.json"))
        );
        assert_eq!(
            parse_audit_key("", "audits/audit-20261126-030000-abcdef/metrics.prom"),
            Some(("audit-20261126-030000-abcdef", "metrics.prom"))
        );
        for (prefix, bad) in [
            (
                "scans",
                "scans/audits/audit-20261126-030000-abcdef/targets/ns/t.json",
            ),
            (
                "scans",
                "other/audits/audit-20261126-030000-abcdef/audit.json",
            ),
            ("scans", "scans/audits/not an id/audit.json"),
            ("scans", "scans/shop/web/20261126T152045Z-abc123/hdf.json"),
            ("", "scans/audits/audit-20261126-030000-abcdef/audit.json"),
        ] {
            assert_eq!(parse_audit_key(prefix, bad), None, "{bad}");
        }
    }

    #[test]
    fn rejects_escaping_parts() {
        let ts: Timestamp = "2026-11-26T15:20:45Z".parse().unwrap();
        let id = RunId::parse("abc123").unwrap();
        assert!(RunLocation::new("a/../b", "default", "nginx", ts, id.clone()).is_err());
        assert!(RunLocation::new("", "default", "../x", ts, id.clone()).is_err());
        assert!(RunLocation::new("", "Default", "x", ts, id).is_err());
    }

    #[test]
    fn run_keys_read_back() {
        let k = parse_run_key("scans/x/shop/web/20261126T152045Z-abc123/hdf.json").unwrap();
        assert_eq!(
            (k.prefix, k.namespace, k.target, k.folder, k.file),
            (
                "scans/x",
                "shop",
                "web",
                "20261126T152045Z-abc123",
                "hdf.json"
            )
        );
        assert_eq!(k.target_folder(), "scans/x/shop/web/");
        let k = parse_run_key("shop/web/20261126T152045Z-abc123/hdf.json").unwrap();
        assert_eq!((k.prefix, k.target_folder().as_str()), ("", "shop/web/"));
        assert_eq!(
            parse_run_key(&location("scans").key(ResultFile::Hdf)).map(|k| k.folder),
            Some("20261126T152045Z-abc123")
        );
        for bad in [
            "hdf.json",
            "web/20261126T152045Z-abc123/hdf.json",
            "shop/web/2026-11-26-abc123/hdf.json",
            "shop/web/20261126T152045Z-ABC123/hdf.json",
            "shop/web/20261126T152045Z-abc123/",
            "Shop/web/20261126T152045Z-abc123/hdf.json",
        ] {
            assert_eq!(parse_run_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_listing_from_an_offset_stops_at_the_run() {
        let run = parse_run_key("p/ns/t/20261126T152045Z-mmmmmm/hdf.json").unwrap();
        assert_eq!(
            list_offset(&run, "2026-11-18T15:20:45Z".parse().unwrap()),
            "p/ns/t/20261118T152045Z"
        );
        assert_eq!(
            run_started(run.folder),
            Some("2026-11-26T15:20:45Z".parse().unwrap())
        );
        assert!(!at_or_after(&run, "p/ns/t/20261125T000000Z-bbbbbb/"));
        assert!(at_or_after(&run, "p/ns/t/20261126T152045Z-mmmmmm/"));
        assert!(at_or_after(&run, "p/ns/t/20261127T000000Z-cccccc/hdf.json"));
        assert!(!at_or_after(&run, "p/ns/t/notes/"));
        assert_eq!(
            folder_of(&run, "p/ns/t/20261125T000000Z-bbbbbb/metadata.json"),
            Some("20261125T000000Z-bbbbbb")
        );
        assert_eq!(folder_of(&run, "p/ns/u/20261125T000000Z-bbbbbb/"), None);
    }

    #[test]
    fn previous_runs_are_the_greatest_folders_before_the_run() {
        let run = parse_run_key("p/ns/t/20261126T152045Z-mmmmmm/hdf.json").unwrap();
        let listed: Vec<String> = [
            "p/ns/t/20261126T152045Z-zzzzzz/",
            "p/ns/t/20250101T000000Z-aaaaaa/",
            "p/ns/t/20261126T152045Z-mmmmmm/",
            "p/ns/t/20261126T152044Z-bbbbbb/",
            "p/ns/t/20261126T152045Z-aaaaaa/",
            "p/ns/t/notes/",
            "p/ns/t/20270101T000000Z-cccccc/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            runs_before(&run, &listed),
            [
                "p/ns/t/20261126T152045Z-aaaaaa",
                "p/ns/t/20261126T152044Z-bbbbbb",
                "p/ns/t/20250101T000000Z-aaaaaa",
            ]
        );
        let first = parse_run_key("p/ns/t/20200101T000000Z-aaaaaa/hdf.json").unwrap();
        assert!(runs_before(&first, &listed).is_empty());
    }
}
