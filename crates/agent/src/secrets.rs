//! What the agent keeps from everyone else. In `same-uid` mode the target shares the scanner's
//! UID, so anything the kernel lets that UID see of the agent (`/proc/<pid>/environ`, `mem`,
//! `root/`) the target can read. So, before anything else runs:
//!
//! - the process is made non-dumpable (`PR_SET_DUMPABLE` 0): its `/proc` entries then need
//!   `CAP_SYS_PTRACE`, which the target has not;
//! - the run's upload grant and any static store credentials are taken out of the environment
//!   into memory, so no program the scan starts inherits them.
//!
//! Static credentials for an agent run by hand are best given as files (`--store-credentials
//! DIR`, a Secret mounted into the scanner only), read once here.

use sidescan_core::scanner::env::UPLOAD_URLS;
use sidescan_store::{StaticCredentials, UploadGrant};
use std::path::Path;

const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";

/// Makes this process non-dumpable. The first thing `sidescan-agent scan` does.
pub fn seal_process() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// True when the process is non-dumpable (for the tests and the start-up log).
pub fn is_sealed() -> bool {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 }
}

/// The secrets taken out of the environment.
#[derive(Debug, Default)]
pub struct Taken {
    /// The grant's JSON as the workflow passed it (parsed by the configuration).
    pub grant: Option<String>,
    pub credentials: Option<StaticCredentials>,
}

/// Takes the upload grant and static credentials out of the environment.
///
/// # Safety
/// Changes the process environment: call it while the process has one thread (in `main`,
/// before the runtime starts).
pub unsafe fn take_from_env() -> Taken {
    let grant = std::env::var(UPLOAD_URLS).ok();
    let credentials = match (
        std::env::var(ACCESS_KEY_ID).ok(),
        std::env::var(SECRET_ACCESS_KEY).ok(),
    ) {
        (Some(access_key_id), Some(secret_access_key)) => Some(StaticCredentials {
            access_key_id,
            secret_access_key,
        }),
        _ => None,
    };
    for name in [UPLOAD_URLS, ACCESS_KEY_ID, SECRET_ACCESS_KEY] {
        // SAFETY: the caller guarantees a single thread.
        unsafe { std::env::remove_var(name) };
    }
    Taken { grant, credentials }
}

/// Reads static credentials from a directory holding the files `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` (a Secret's keys mounted as files). Errors name the file, never the
/// content.
pub fn credentials_from_dir(dir: &Path) -> Result<StaticCredentials, String> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path)
            .map(|text| text.trim().to_string())
            .map_err(|e| format!("--store-credentials {}: {e}", path.display()))
            .and_then(|text| {
                if text.is_empty() {
                    Err(format!("--store-credentials {}: empty", path.display()))
                } else {
                    Ok(text)
                }
            })
    };
    Ok(StaticCredentials {
        access_key_id: read(ACCESS_KEY_ID)?,
        secret_access_key: read(SECRET_ACCESS_KEY)?,
    })
}

/// Parses the grant text, naming its origin (never its content) when it is not one.
pub fn parse_grant(text: &str) -> Result<UploadGrant, String> {
    UploadGrant::parse(text, UPLOAD_URLS).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_files_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ACCESS_KEY_ID), "AKID\n").unwrap();
        let err = credentials_from_dir(dir.path()).unwrap_err();
        assert!(err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
        std::fs::write(dir.path().join(SECRET_ACCESS_KEY), "s3cr3t\n").unwrap();
        let c = credentials_from_dir(dir.path()).unwrap();
        assert_eq!(c.access_key_id, "AKID");
        assert_eq!(c.secret_access_key, "s3cr3t");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_bad_grant_is_named_not_echoed() {
        let err = parse_grant("https://s3/x?X-Amz-Signature=abc").unwrap_err();
        assert!(
            err.starts_with("SIDESCAN_UPLOAD_URLS: not an upload grant"),
            "{err}"
        );
        assert!(!err.contains("abc"), "{err}");
    }
}
