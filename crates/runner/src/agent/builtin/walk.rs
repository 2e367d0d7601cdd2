//! One pass over the target's tree collecting what the file checks need, and path resolution that
//! keeps symlinks inside the target's root.
//!
//! Through `/proc/<pid>/root` the kernel enters the target's root, but an absolute symlink met
//! further down is resolved against the *scanner's* root. So the walk never follows symlinks, and
//! [`resolve_in_root`] follows them by hand, treating the target root as `/`.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Directories never descended: kernel and device filesystems, and the target's temp paths,
/// which may hold anything and are not part of the image.
pub const SKIPPED_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];
/// World-writable entries here are expected.
pub const TEMP_DIRS: [&str; 4] = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];
/// At most this many findings are kept per kind; the rest are counted.
pub const MAX_FINDINGS: usize = 500;

/// A file found by the walk, with its path inside the target (`/etc/passwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub is_dir: bool,
}

/// What one walk collected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkFindings {
    pub entries: u64,
    pub world_writable: Vec<Found>,
    pub world_writable_more: usize,
    pub setid: Vec<Found>,
    pub setid_more: usize,
    /// Files whose name suggests a private key (`*.key`, `*.pem`, `id_rsa`, …).
    pub key_candidates: Vec<String>,
    /// Directories not descended because they are another filesystem (volumes, tmpfs).
    pub other_filesystems: Vec<String>,
    /// Entries that could not be read, with the error.
    pub unreadable: Vec<(String, String)>,
}

fn push_capped(list: &mut Vec<Found>, more: &mut usize, found: Found) {
    if list.len() < MAX_FINDINGS {
        list.push(found);
    } else {
        *more += 1;
    }
}

/// True for names that commonly hold private keys.
pub fn is_key_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".key")
        || lower.ends_with(".pem")
        || lower.ends_with(".p8")
        || ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"].contains(&lower.as_str())
        || (lower.starts_with("ssh_host_") && lower.ends_with("_key"))
}

fn in_any(path: &str, dirs: &[&str]) -> bool {
    dirs.iter().any(|d| {
        path == *d
            || path
                .strip_prefix(d)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Walks `root` (the target's `/`) without following symlinks, staying on the root's
/// filesystem and skipping `/proc`, `/sys`, `/dev` and the temp paths' contents.
pub fn walk(root: &Path) -> std::io::Result<WalkFindings> {
    // `metadata`, not `symlink_metadata`: `/proc/<pid>/root` is itself a (magic) link.
    let root_dev = std::fs::metadata(root)?.dev();
    let mut findings = WalkFindings::default();
    let mut stack: Vec<String> = vec![String::new()];
    while let Some(dir) = stack.pop() {
        let host_dir = root.join(dir.trim_start_matches('/'));
        let entries = match std::fs::read_dir(&host_dir) {
            Ok(entries) => entries,
            Err(err) => {
                findings.unreadable.push((display(&dir), err.to_string()));
                continue;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = format!("{dir}/{name}");
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(err) => {
                    findings.unreadable.push((path, err.to_string()));
                    continue;
                }
            };
            findings.entries += 1;
            let file_type = meta.file_type();
            if file_type.is_symlink() {
                continue;
            }
            let mode = meta.mode();
            let found = || Found {
                path: path.clone(),
                mode: mode & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                is_dir: file_type.is_dir(),
            };
            let temp = in_any(&path, &TEMP_DIRS);
            if mode & 0o002 != 0 && !temp {
                push_capped(
                    &mut findings.world_writable,
                    &mut findings.world_writable_more,
                    found(),
                );
            }
            if file_type.is_file() {
                if mode & 0o6000 != 0 {
                    push_capped(&mut findings.setid, &mut findings.setid_more, found());
                }
                if is_key_name(name) {
                    findings.key_candidates.push(path);
                }
            } else if file_type.is_dir() {
                if in_any(&path, &SKIPPED_DIRS) || temp {
                    continue;
                }
                if meta.dev() != root_dev {
                    findings.other_filesystems.push(path);
                    continue;
                }
                stack.push(path);
            }
        }
    }
    findings.key_candidates.sort();
    findings.world_writable.sort_by(|a, b| a.path.cmp(&b.path));
    findings.setid.sort_by(|a, b| a.path.cmp(&b.path));
    findings.other_filesystems.sort();
    findings.unreadable.sort();
    Ok(findings)
}

fn display(dir: &str) -> String {
    if dir.is_empty() {
        "/".into()
    } else {
        dir.into()
    }
}

/// Resolves `path` (absolute, inside the target) to a host path under `root`, following symlinks
/// as if `root` were `/`: absolute links restart at `root`, `..` never climbs above it.
/// Returns `None` when a component is missing or there are more than 40 links (ELOOP).
pub fn resolve_in_root(root: &Path, path: &str) -> Option<PathBuf> {
    let mut pending: Vec<String> = components(path).into_iter().rev().collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let candidate = host_path(root, &resolved).join(&part);
        let meta = std::fs::symlink_metadata(&candidate).ok()?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return None;
            }
            let target = std::fs::read_link(&candidate).ok()?;
            let target = target.to_str()?;
            if target.starts_with('/') {
                resolved.clear();
            }
            pending.extend(components(target).into_iter().rev());
        } else {
            resolved.push(part);
        }
    }
    Some(host_path(root, &resolved))
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str().map(str::to_string),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn host_path(root: &Path, parts: &[String]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

/// Reads a file of the target by its path inside the target, following links inside the root.
pub fn read_in_root(root: &Path, path: &str) -> Option<Vec<u8>> {
    std::fs::read(resolve_in_root(root, path)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn touch(root: &Path, rel: &str, mode: u32) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn finds_world_writable_and_setid_outside_temp() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(root, "usr/bin/su", 0o4755);
        touch(root, "usr/bin/wall", 0o2755);
        touch(root, "usr/bin/ls", 0o755);
        touch(root, "etc/open.conf", 0o666);
        touch(root, "tmp/scratch", 0o666);
        touch(root, "var/tmp/x/y", 0o666);
        std::fs::create_dir_all(root.join("srv/drop")).unwrap();
        std::fs::set_permissions(
            root.join("srv/drop"),
            std::fs::Permissions::from_mode(0o1777),
        )
        .unwrap();
        touch(root, "proc/1/status", 0o666);
        symlink("/etc/open.conf", root.join("etc/link")).unwrap();
        touch(root, "etc/ssl/private/server.key", 0o600);
        let found = walk(root).unwrap();
        let ww: Vec<&str> = found
            .world_writable
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(ww, ["/etc/open.conf", "/srv/drop"]);
        assert!(found.world_writable[1].is_dir);
        let setid: Vec<&str> = found.setid.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(setid, ["/usr/bin/su", "/usr/bin/wall"]);
        assert_eq!(found.setid[0].mode, 0o4755);
        assert_eq!(found.key_candidates, ["/etc/ssl/private/server.key"]);
    }

    #[test]
    fn findings_are_capped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(MAX_FINDINGS + 7) {
            touch(dir.path(), &format!("data/f{i}"), 0o666);
        }
        let found = walk(dir.path()).unwrap();
        assert_eq!(found.world_writable.len(), MAX_FINDINGS);
        assert_eq!(found.world_writable_more, 7);
    }

    #[test]
    fn absolute_links_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("usr/lib/os-release"), b"ID=inside\n").unwrap();
        symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
        symlink("../../../../../../etc/hostname", root.join("etc/escape")).unwrap();
        symlink("loop", root.join("etc/loop")).unwrap();
        assert_eq!(
            read_in_root(root, "/etc/os-release").as_deref(),
            Some(&b"ID=inside\n"[..])
        );
        // `..` stops at the target root: /etc/hostname of the target, which does not exist.
        assert_eq!(read_in_root(root, "/etc/escape"), None);
        assert_eq!(read_in_root(root, "/etc/loop"), None);
        assert_eq!(resolve_in_root(root, "/"), Some(root.to_path_buf()));
    }

    #[test]
    fn key_names() {
        for name in [
            "server.key",
            "tls.pem",
            "id_rsa",
            "ssh_host_ed25519_key",
            "k.P8",
        ] {
            assert!(is_key_name(name), "{name}");
        }
        for name in ["id_rsa.pub", "ssh_host_rsa_key.pub", "keys.txt"] {
            assert!(!is_key_name(name), "{name}");
        }
    }
}
