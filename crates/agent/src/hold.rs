//! `sidescan-agent install-hold DEST`: copies the scanner image's static `hold` program into a
//! clone's shared volume, executable by any UID, so the target container can run it without a
//! shell or `cp` of its own.

use crate::Error;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn failed(path: &Path, source: std::io::Error) -> Error {
    Error::HoldInstall {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies `source` to `dest` (mode 0755) through a temporary file in the same directory, so the
/// target never sees half a program. Returns the bytes copied.
pub fn install(source: &Path, dest: &Path) -> Result<u64, Error> {
    let bytes = std::fs::read(source).map_err(|e| failed(source, e))?;
    if !bytes.starts_with(b"\x7fELF") {
        return Err(failed(
            source,
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not an ELF program"),
        ));
    }
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = dest.file_name().ok_or_else(|| {
        failed(
            dest,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"),
        )
    })?;
    let tmp: PathBuf = dir.join(format!(".{}.partial", name.to_string_lossy()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(&tmp)
        .map_err(|e| failed(&tmp, e))?;
    file.write_all(&bytes).map_err(|e| failed(&tmp, e))?;
    file.sync_all().map_err(|e| failed(&tmp, e))?;
    drop(file);
    // The umask may have narrowed the mode: every UID must be able to run it.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| failed(&tmp, e))?;
    std::fs::rename(&tmp, dest).map_err(|e| failed(dest, e))?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_an_executable_copy_and_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("hold-src");
        std::fs::write(&source, b"\x7fELF fake program").unwrap();
        let dest = dir.path().join("vol/hold");
        std::fs::create_dir(dir.path().join("vol")).unwrap();
        assert_eq!(install(&source, &dest).unwrap(), 17);
        assert_eq!(std::fs::read(&dest).unwrap(), b"\x7fELF fake program");
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert!(!dir.path().join("vol/.hold.partial").exists());

        let err = install(&dir.path().join("missing"), &dest)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
        std::fs::write(&source, b"#!/bin/sh\n").unwrap();
        let err = install(&source, &dest).unwrap_err().to_string();
        assert!(err.contains("not an ELF program"), "{err}");
    }
}
