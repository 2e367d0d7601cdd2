//! Retrieve without `pods/exec`: the scanner's termination message says where its result files
//! are (stored objects with their sha256, or printed to its log); this decides where to read
//! them from and checks what was read.

use crate::Error;
use crate::orchestrator::progress::ScannerEnd;
use sidescan_core::termination::{self, TerminationSummary};
use sidescan_core::{ExitStatus, ResultFile};

/// The files the orchestrator reads back: the HDF and the agent's metadata.
pub const FILES: [ResultFile; 2] = [ResultFile::Hdf, ResultFile::Metadata];

/// Where the result files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Stored and verified by the agent: read each key back from the store.
    Store(Vec<Wanted>),
    /// Printed to the scanner's log; `upload` when the orchestrator must store them itself (the
    /// agent's upload failed, or there is no store for the agent).
    Log { files: Vec<Wanted>, upload: bool },
}

/// One file to read, with what the termination message says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub file: ResultFile,
    pub sha256: String,
    pub size: u64,
    pub key: Option<String>,
}

/// The decision, with the parsed termination message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrievePlan {
    pub summary: TerminationSummary,
    pub source: Source,
}

/// What the run may read back: its own id and, for files in the store, each file's full key.
/// The termination message is the scanner's claim; it is held against these, never trusted for
/// where to read (a target sharing the scanner's UID could write it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub run_id: String,
    pub keys: std::collections::BTreeMap<&'static str, String>,
}

/// The exit status a scanner exit code stands for (the agent uses the shared codes).
pub fn scanner_status(exit_code: i32) -> ExitStatus {
    if exit_code == i32::from(ExitStatus::BadInput.code()) {
        ExitStatus::BadInput
    } else {
        ExitStatus::Infrastructure
    }
}

/// Decides where to read the result from. `log_tail` is the end of the scanner's log, used to
/// explain a scanner that left no summary.
pub fn plan(
    end: &ScannerEnd,
    have_store: bool,
    log_tail: &str,
    expected: &Expected,
) -> Result<RetrievePlan, Error> {
    let Some(summary) = end.message.as_deref().and_then(termination::parse) else {
        let mut why = format!(
            "the scanner ended without a result summary: exit code {}",
            end.exit_code
        );
        if let Some(reason) = &end.reason {
            why.push_str(&format!(" ({reason})"));
        }
        if let Some(reason) = &end.pod_reason {
            why.push_str(&format!("; the scan pod: {reason}"));
        }
        if let Some(last) = log_tail.lines().rev().find(|l| !l.trim().is_empty()) {
            why.push_str(&format!("; last log line: {}", last.trim()));
        }
        return Err(Error::ScanPod { reason: why });
    };
    if summary.outcome == "failed" || summary.outcome == "truncated" {
        let message = summary
            .error
            .clone()
            .unwrap_or_else(|| format!("exit code {} and no error message", end.exit_code));
        return Err(Error::Scanner {
            status: scanner_status(end.exit_code),
            message,
        });
    }
    let message = || "the scanner's termination message".to_string();
    if summary.run_id != expected.run_id {
        return Err(Error::Retrieve {
            object: message(),
            reason: format!(
                "names run {:?}, not this run ({}); nothing it lists is read",
                summary.run_id, expected.run_id
            ),
        });
    }
    if summary.outcome == "stored" && end.exit_code != 0 {
        return Err(Error::Retrieve {
            object: message(),
            reason: format!(
                "says the results were stored, but the scanner exited with code {}",
                end.exit_code
            ),
        });
    }
    let mut wanted = Vec::new();
    for file in FILES {
        let Some(object) = summary.object(file.file_name()) else {
            return Err(Error::Retrieve {
                object: file.file_name().into(),
                reason: format!(
                    "the scanner's summary does not list it ({} more omitted)",
                    summary.objects_omitted
                ),
            });
        };
        if let (Some(key), Some(ours)) = (&object.key, expected.keys.get(file.file_name()))
            && key != ours
        {
            return Err(Error::Retrieve {
                object: message(),
                reason: format!(
                    "lists {key} for {}, not this run's {ours}; nothing it lists is read",
                    file.file_name()
                ),
            });
        }
        wanted.push(Wanted {
            file,
            sha256: object.sha256.clone(),
            size: object.size,
            key: object.key.clone(),
        });
    }
    let all_stored = summary.outcome == "stored" && wanted.iter().all(|w| w.key.is_some());
    let source = if have_store && all_stored {
        Source::Store(wanted)
    } else if summary.in_log {
        Source::Log {
            files: wanted,
            upload: have_store,
        }
    } else {
        let folder = summary.local_folder.clone().unwrap_or_default();
        let error = summary.error.clone().unwrap_or_default();
        return Err(Error::Retrieve {
            object: folder,
            reason: format!(
                "the result was not stored ({error}) and is not in the scanner's log; it was only \
                 on the scan pod's volume"
            ),
        });
    };
    Ok(RetrievePlan { summary, source })
}

/// Checks bytes read back against the termination message.
pub fn verify(wanted: &Wanted, bytes: &[u8], from: &str) -> Result<(), Error> {
    let got = sidescan_store::sha256_hex(bytes);
    if got != wanted.sha256 || bytes.len() as u64 != wanted.size {
        return Err(Error::Retrieve {
            object: format!("{} from {from}", wanted.file.file_name()),
            reason: format!(
                "{} bytes with sha256 {got}, but the scanner reported {} bytes with sha256 {}",
                bytes.len(),
                wanted.size,
                wanted.sha256
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidescan_core::termination::ResultObject;

    fn summary(outcome: &str, stored: bool, in_log: bool) -> TerminationSummary {
        TerminationSummary {
            outcome: outcome.into(),
            run_id: "abc123".into(),
            backend: "builtin".into(),
            objects: ["hdf.json", "metadata.json"]
                .iter()
                .map(|f| ResultObject {
                    file: f.to_string(),
                    sha256: sidescan_store::sha256_hex(f.as_bytes()),
                    size: f.len() as u64,
                    key: stored.then(|| format!("scans/ns/web/20260101T000000Z-abc123/{f}")),
                })
                .collect(),
            in_log,
            local_folder: Some("/results/ns/web/20260101T000000Z-abc123".into()),
            ..TerminationSummary::default()
        }
    }

    fn end(message: Option<String>, exit_code: i32) -> ScannerEnd {
        ScannerEnd {
            exit_code,
            reason: Some(if exit_code == 0 { "Completed" } else { "Error" }.into()),
            message,
            pod_reason: None,
        }
    }

    fn expected() -> Expected {
        Expected {
            run_id: "abc123".into(),
            keys: ["hdf.json", "metadata.json"]
                .iter()
                .map(|f| (*f, format!("scans/ns/web/20260101T000000Z-abc123/{f}")))
                .collect(),
        }
    }

    fn plan(end: &ScannerEnd, have_store: bool, tail: &str) -> Result<RetrievePlan, Error> {
        super::plan(end, have_store, tail, &expected())
    }

    #[test]
    fn a_forged_message_gives_no_verdict() {
        // Another run's objects.
        let mut s = summary("stored", true, false);
        for o in &mut s.objects {
            o.key = o.key.as_ref().map(|k| k.replace("abc123/", "zzz999/"));
        }
        let err = plan(&end(message(&s), 0), true, "").unwrap_err();
        assert_eq!(err.exit_status(), ExitStatus::Infrastructure);
        assert!(err.to_string().contains("not this run's"), "{err}");
        // Another run's id.
        let mut s = summary("stored", true, false);
        s.run_id = "zzz999".into();
        let err = plan(&end(message(&s), 0), true, "").unwrap_err();
        assert!(err.to_string().contains("not this run (abc123)"), "{err}");
        // "Stored" from a scanner that failed.
        let s = summary("stored", true, false);
        let err = plan(&end(message(&s), 3), true, "").unwrap_err();
        assert!(err.to_string().contains("exited with code 3"), "{err}");
    }

    fn message(s: &TerminationSummary) -> Option<String> {
        Some(termination::render(s, termination::MAX_BYTES))
    }

    #[test]
    fn stored_results_are_read_from_the_store() {
        let p = plan(&end(message(&summary("stored", true, false)), 0), true, "").unwrap();
        match p.source {
            Source::Store(files) => {
                assert_eq!(files.len(), 2);
                assert_eq!(files[0].file, ResultFile::Hdf);
                assert!(files[0].key.as_deref().unwrap().ends_with("/hdf.json"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_a_store_the_log_is_read() {
        let p = plan(&end(message(&summary("stored", true, true)), 0), false, "").unwrap();
        assert!(matches!(p.source, Source::Log { upload: false, .. }));
    }

    #[test]
    fn a_failed_upload_is_recovered_from_the_log_and_stored_by_the_orchestrator() {
        let mut s = summary("kept-locally", false, true);
        s.error = Some("upload to s3://b/scans failed".into());
        let p = plan(&end(message(&s), 3), true, "").unwrap();
        assert!(matches!(p.source, Source::Log { upload: true, .. }));
        // Not in the log either: exit 3 with where the files were.
        let s = summary("kept-locally", false, false);
        let err = plan(&end(message(&s), 3), true, "").unwrap_err();
        assert_eq!(err.exit_status(), ExitStatus::Infrastructure);
        assert!(err.to_string().contains("/results/ns/web"), "{err}");
    }

    #[test]
    fn a_scanner_failure_keeps_its_exit_code_and_message() {
        let mut s = summary("failed", false, false);
        s.objects.clear();
        s.error = Some("cinc: profile /etc/sidescan/profile: no inspec.yml".into());
        let err = plan(&end(message(&s), 2), true, "").unwrap_err();
        assert_eq!(err.exit_status(), ExitStatus::BadInput);
        assert!(err.to_string().contains("no inspec.yml"), "{err}");
        s.error = Some("target process 7 exited".into());
        let err = plan(&end(message(&s), 3), true, "").unwrap_err();
        assert_eq!(err.exit_status(), ExitStatus::Infrastructure);
    }

    #[test]
    fn a_crash_without_summary_says_what_is_known() {
        let mut e = end(None, 137);
        e.reason = Some("OOMKilled".into());
        let err = plan(&e, true, "{\"message\":\"scanning\"}\n\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("exit code 137 (OOMKilled)"), "{text}");
        assert!(
            text.contains("last log line: {\"message\":\"scanning\"}"),
            "{text}"
        );
        assert_eq!(err.exit_status(), ExitStatus::Infrastructure);
        let mut e = end(Some("not json".into()), 1);
        e.pod_reason = Some("DeadlineExceeded".into());
        assert!(
            plan(&e, true, "")
                .unwrap_err()
                .to_string()
                .contains("DeadlineExceeded")
        );
    }

    #[test]
    fn verification_catches_a_changed_file() {
        let s = summary("stored", true, false);
        let p = plan(&end(message(&s), 0), true, "").unwrap();
        let Source::Store(files) = p.source else {
            panic!()
        };
        verify(&files[0], b"hdf.json", "s3://b/k").unwrap();
        let err = verify(&files[0], b"hdf.jsoN", "s3://b/k").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("retrieve: hdf.json from s3://b/k: 8 bytes with sha256"),
            "{err}"
        );
    }
}
