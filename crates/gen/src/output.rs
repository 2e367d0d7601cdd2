//! `--output-dir`: every file is written into a temporary directory beside the target first and
//! then renamed into place, so a failure leaves the target as it was; the kinds a command renders
//! but no longer produces (a `profile.yaml` from another spec) are removed, so `kubectl apply -f
//! DIR` applies exactly what was rendered. Other files in the directory are left alone.

use crate::Kind;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// A temporary directory removed on drop unless it was renamed into place.
struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn staging_dir(dir: &Path) -> io::Result<Staging> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let path = parent.join(format!(".{name}.sidescan-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&path)?;
    Ok(Staging { path, keep: false })
}

fn annotate(err: io::Error, what: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", what.display()))
}

/// Writes `files` (name -> text) into `dir` all or nothing, and removes the files of `owned`
/// kinds that `files` no longer has.
pub fn write_dir(dir: &Path, files: &BTreeMap<String, String>, owned: &[Kind]) -> io::Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{}: exists and is not a directory", dir.display()),
        ));
    }
    let mut staging = staging_dir(dir).map_err(|e| annotate(e, dir))?;
    for (name, text) in files {
        let path = staging.path.join(name);
        std::fs::write(&path, text).map_err(|e| annotate(e, &path))?;
    }
    if !dir.exists() {
        std::fs::rename(&staging.path, dir).map_err(|e| annotate(e, dir))?;
        staging.keep = true;
        return Ok(());
    }
    // Everything that could refuse a rename is checked before the first one.
    for name in files.keys() {
        let target = dir.join(name);
        if target.exists() && !target.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists and is not a file", target.display()),
            ));
        }
    }
    for name in files.keys() {
        let target = dir.join(name);
        std::fs::rename(staging.path.join(name), &target).map_err(|e| annotate(e, &target))?;
    }
    for kind in owned {
        let name = kind.file_name();
        let stale = dir.join(&name);
        if !files.contains_key(&name) && stale.is_file() {
            std::fs::remove_file(&stale).map_err(|e| annotate(e, &stale))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> BTreeMap<String, String> {
        names
            .iter()
            .map(|n| (n.to_string(), format!("{n}\n")))
            .collect()
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_a_new_directory_and_leaves_no_staging_behind() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        write_dir(&out, &files(&["job.yaml", "rbac.yaml"]), &Kind::JOB_PATH).unwrap();
        assert_eq!(listing(&out), ["job.yaml", "rbac.yaml"]);
        assert_eq!(listing(root.path()), ["out"]);
    }

    #[test]
    fn replaces_owned_kinds_and_keeps_other_files() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir(&out).unwrap();
        for name in ["profile.yaml", "job.yaml", "scan-pod.yaml", "notes.txt"] {
            std::fs::write(out.join(name), "old").unwrap();
        }
        write_dir(&out, &files(&["job.yaml", "rbac.yaml"]), &Kind::JOB_PATH).unwrap();
        assert_eq!(
            listing(&out),
            ["job.yaml", "notes.txt", "rbac.yaml", "scan-pod.yaml"]
        );
        assert_eq!(
            std::fs::read_to_string(out.join("job.yaml")).unwrap(),
            "job.yaml\n"
        );
        assert_eq!(listing(root.path()), ["out"]);
    }

    #[test]
    fn a_failure_leaves_the_directory_as_it_was() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir_all(out.join("job.yaml")).unwrap();
        std::fs::write(out.join("rbac.yaml"), "old").unwrap();
        let err = write_dir(&out, &files(&["job.yaml", "rbac.yaml"]), &Kind::JOB_PATH)
            .unwrap_err()
            .to_string();
        assert!(err.contains("job.yaml"), "{err}");
        assert_eq!(
            std::fs::read_to_string(out.join("rbac.yaml")).unwrap(),
            "old"
        );
        assert_eq!(listing(root.path()), ["out"]);
    }
}
