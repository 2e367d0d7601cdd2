//! Result files through the container log, for runs without an object store (or when the upload
//! failed): the agent prints each file between markers, base64 in lines short enough to be
//! written atomically (so the kubelet never interleaves them with the agent's stderr), and the
//! orchestrator reads them back from `pods/log` and checks their sha256 against the termination
//! message.
//!
//! ```text
//! sidescan-result-begin hdf.json sha256=<hex> size=<bytes>
//! sidescan-result-data <base64>
//! ...
//! sidescan-result-end hdf.json
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::BTreeMap;

const BEGIN: &str = "sidescan-result-begin ";
const DATA: &str = "sidescan-result-data ";
const END: &str = "sidescan-result-end ";
/// Base64 characters per line: with the prefix, well under the 4096-byte atomic pipe write.
const CHUNK: usize = 3072;

/// One file's lines, newline-terminated.
pub fn encode(file: &str, bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = format!(
        "{BEGIN}{file} sha256={} size={}\n",
        crate::digest::sha256_hex(bytes),
        bytes.len()
    );
    for chunk in encoded.as_bytes().chunks(CHUNK) {
        out.push_str(DATA);
        // Base64 is ASCII: any byte boundary is a char boundary.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(END);
    out.push_str(file);
    out.push('\n');
    out
}

/// A file read back from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedFile {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// Why a log does not yield a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("{file}: no result markers in the scanner's log")]
    Missing { file: String },
    #[error("{file}: the scanner's log ends inside the file (truncated or rotated log)")]
    Unterminated { file: String },
    #[error("{file}: bad line in the scanner's log: {reason}")]
    Malformed { file: String, reason: String },
    #[error(
        "{file}: read back {got_size} bytes with sha256 {got}, the marker says {size} bytes, sha256 {expected}"
    )]
    Corrupted {
        file: String,
        expected: String,
        got: String,
        size: usize,
        got_size: usize,
    },
}

/// Finds every complete, self-consistent file in `log`; lines other than the markers' (the
/// agent's JSON log lines on stderr) are skipped. The last copy of a file wins.
pub fn decode_all(log: &str) -> BTreeMap<String, Result<LoggedFile, LogError>> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String, usize, String)> = None;
    for line in log.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix(BEGIN) {
            if let Some((file, ..)) = current.take() {
                out.insert(file.clone(), Err(LogError::Unterminated { file }));
            }
            match parse_begin(rest) {
                Ok((file, sha, size)) => current = Some((file, sha, size, String::new())),
                Err((file, reason)) => {
                    out.insert(file.clone(), Err(LogError::Malformed { file, reason }));
                }
            }
        } else if let Some(data) = line.strip_prefix(DATA) {
            if let Some((.., body)) = current.as_mut() {
                body.push_str(data.trim());
            }
        } else if let Some(file) = line.strip_prefix(END) {
            let Some((name, sha, size, body)) = current.take() else {
                continue;
            };
            if name != file.trim() {
                out.insert(
                    name.clone(),
                    Err(LogError::Malformed {
                        file: name,
                        reason: format!("ends with the marker of {}", file.trim()),
                    }),
                );
                continue;
            }
            let result = match STANDARD.decode(body.as_bytes()) {
                Ok(bytes) => {
                    let got = crate::digest::sha256_hex(&bytes);
                    if got == sha && bytes.len() == size {
                        Ok(LoggedFile { bytes, sha256: got })
                    } else {
                        Err(LogError::Corrupted {
                            file: name.clone(),
                            expected: sha,
                            got,
                            size,
                            got_size: bytes.len(),
                        })
                    }
                }
                Err(e) => Err(LogError::Malformed {
                    file: name.clone(),
                    reason: format!("not base64: {e}"),
                }),
            };
            out.insert(name, result);
        }
    }
    if let Some((file, ..)) = current {
        out.insert(file.clone(), Err(LogError::Unterminated { file }));
    }
    out
}

/// The file `name` from `log`, checked against its own marker and against `expected_sha256`
/// (the termination message's) when given.
pub fn decode(
    log: &str,
    name: &str,
    expected_sha256: Option<&str>,
) -> Result<LoggedFile, LogError> {
    let file = decode_all(log).remove(name).unwrap_or_else(|| {
        Err(LogError::Missing {
            file: name.to_string(),
        })
    })?;
    match expected_sha256 {
        Some(expected) if expected != file.sha256 => Err(LogError::Corrupted {
            file: name.to_string(),
            expected: expected.to_string(),
            got: file.sha256,
            size: file.bytes.len(),
            got_size: file.bytes.len(),
        }),
        _ => Ok(file),
    }
}

fn parse_begin(rest: &str) -> Result<(String, String, usize), (String, String)> {
    let mut parts = rest.split_whitespace();
    let file = parts.next().unwrap_or_default().to_string();
    let mut sha = None;
    let mut size = None;
    for part in parts {
        if let Some(v) = part.strip_prefix("sha256=") {
            sha = Some(v.to_string());
        } else if let Some(v) = part.strip_prefix("size=") {
            size = v.parse::<usize>().ok();
        }
    }
    match (sha, size) {
        (Some(sha), Some(size)) if !file.is_empty() => Ok((file, sha, size)),
        _ => Err((
            file,
            format!("begin marker without sha256= and size=: {rest:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_log_line(msg: &str) -> String {
        format!("{{\"level\":\"INFO\",\"message\":\"{msg}\"}}\n")
    }

    #[test]
    fn round_trips_among_other_log_lines() {
        let hdf: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let meta = br#"{"run_id":"abc123"}"#.to_vec();
        let mut log = json_log_line("agent starting");
        let encoded = encode("hdf.json", &hdf);
        // stderr lines may land between stdout lines, never inside one.
        for (i, line) in encoded.lines().enumerate() {
            log.push_str(line);
            log.push('\n');
            if i % 7 == 3 {
                log.push_str(&json_log_line("upload attempt failed"));
            }
        }
        log.push_str(&encode("metadata.json", &meta));
        assert!(log.lines().all(|l| l.len() < 4096));
        let files = decode_all(&log);
        assert_eq!(files["hdf.json"].as_ref().unwrap().bytes, hdf);
        assert_eq!(files["metadata.json"].as_ref().unwrap().bytes, meta);
        let sha = crate::digest::sha256_hex(&hdf);
        assert_eq!(decode(&log, "hdf.json", Some(&sha)).unwrap().bytes, hdf);
        // Empty files survive too.
        assert_eq!(decode(&encode("e", b""), "e", None).unwrap().bytes, b"");
    }

    #[test]
    fn a_sha256_other_than_the_termination_message_is_refused() {
        let log = encode("hdf.json", b"{}");
        let err = decode(&log, "hdf.json", Some(&"0".repeat(64))).unwrap_err();
        assert!(matches!(err, LogError::Corrupted { .. }), "{err}");
        assert!(err.to_string().contains("hdf.json"), "{err}");
    }

    #[test]
    fn damaged_logs_say_what_is_wrong() {
        let good = encode("hdf.json", b"{\"profiles\":[]}");
        // A data line lost (rotated log): size and sha256 no longer match.
        let lines: Vec<&str> = good.lines().collect();
        let tampered = good.replace(lines[1], "sidescan-result-data e30=");
        let err = decode(&tampered, "hdf.json", None).unwrap_err();
        assert!(matches!(err, LogError::Corrupted { .. }), "{err}");
        // The end marker never came.
        let cut: String = good.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert!(matches!(
            decode(&cut, "hdf.json", None).unwrap_err(),
            LogError::Unterminated { .. }
        ));
        // Nothing there at all.
        assert!(matches!(
            decode(&json_log_line("x"), "hdf.json", None).unwrap_err(),
            LogError::Missing { .. }
        ));
        // Not base64.
        let bad = "sidescan-result-begin hdf.json sha256=00 size=1\nsidescan-result-data %%%\nsidescan-result-end hdf.json\n";
        assert!(matches!(
            decode(bad, "hdf.json", None).unwrap_err(),
            LogError::Malformed { .. }
        ));
        // A begin marker without its fields.
        let bad = "sidescan-result-begin hdf.json\n";
        assert!(matches!(
            decode(bad, "hdf.json", None).unwrap_err(),
            LogError::Malformed { .. }
        ));
    }
}
