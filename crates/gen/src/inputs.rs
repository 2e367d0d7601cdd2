//! Reading the files a spec points to: the profile directory and the threshold file. The only
//! I/O of rendering; everything after works on the bytes read here.

use crate::GenError;
use sidescan_core::spec::profile_key;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The API server's limit on a ConfigMap's data (sum of key and value sizes).
pub const CONFIGMAP_LIMIT: usize = 1024 * 1024;

/// The parts of an InSpec profile directory that are rendered (plus `inspec.yml`).
pub const PROFILE_SUBDIRS: [&str; 3] = ["controls", "libraries", "files"];

/// A profile's files by relative path (`/`-separated), in sorted order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileFiles {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl ProfileFiles {
    /// Bytes counted against the ConfigMap limit: every key plus every value.
    pub fn configmap_size(&self) -> usize {
        self.files
            .iter()
            .map(|(path, bytes)| profile_key(path).map_or(path.len(), |k| k.len()) + bytes.len())
            .sum()
    }
}

/// What the spec's local files hold, read once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inputs {
    pub profile: Option<ProfileFiles>,
    pub thresholds: Option<String>,
}

/// Reads a profile directory: `inspec.yml` and everything under `controls/`, `libraries/`,
/// `files/`. Symlinks are refused (they could point outside the profile).
pub fn read_profile_dir(dir: &Path) -> Result<ProfileFiles, GenError> {
    let bad = |reason: String| GenError::Profile {
        path: dir.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(dir).map_err(|e| bad(e.to_string()))?;
    if !meta.is_dir() {
        return Err(bad("not a directory".into()));
    }
    let manifest = dir.join("inspec.yml");
    match std::fs::symlink_metadata(&manifest) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(bad("inspec.yml is not a regular file".into())),
        Err(_) => {
            return Err(bad("no inspec.yml: not an InSpec profile directory".into()));
        }
    }
    let mut profile = ProfileFiles::default();
    add_file(&mut profile, dir, "inspec.yml")?;
    for sub in PROFILE_SUBDIRS {
        let path = dir.join(sub);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => walk(&mut profile, dir, sub)?,
            Ok(_) => return Err(bad(format!("{sub} is not a directory"))),
            Err(_) => {}
        }
    }
    let size = profile.configmap_size();
    if size > CONFIGMAP_LIMIT {
        return Err(GenError::ProfileTooLarge {
            path: dir.to_path_buf(),
            size,
            limit: CONFIGMAP_LIMIT,
        });
    }
    Ok(profile)
}

fn walk(profile: &mut ProfileFiles, root: &Path, rel: &str) -> Result<(), GenError> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|e| GenError::io(&dir, e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| GenError::io(&dir, e))?;
        names.push(entry.file_name());
    }
    names.sort();
    for name in names {
        let Some(name) = name.to_str() else {
            return Err(GenError::Profile {
                path: root.to_path_buf(),
                reason: format!("{rel}/{}: file name is not UTF-8", name.to_string_lossy()),
            });
        };
        let child = format!("{rel}/{name}");
        let meta = std::fs::symlink_metadata(root.join(&child))
            .map_err(|e| GenError::io(root.join(&child), e))?;
        if meta.is_dir() {
            walk(profile, root, &child)?;
        } else if meta.is_file() {
            add_file(profile, root, &child)?;
        } else {
            return Err(GenError::Profile {
                path: root.to_path_buf(),
                reason: format!("{child}: symlinks and special files are not supported"),
            });
        }
    }
    Ok(())
}

fn add_file(profile: &mut ProfileFiles, root: &Path, rel: &str) -> Result<(), GenError> {
    if profile_key(rel).is_none() {
        return Err(GenError::Profile {
            path: root.to_path_buf(),
            reason: format!(
                "{rel}: a ConfigMap key cannot encode this name (use letters, digits, '-', '.', \
                 single '_' inside names)"
            ),
        });
    }
    let path = root.join(rel);
    let bytes = std::fs::read(&path).map_err(|e| GenError::io(&path, e))?;
    profile.files.insert(rel.to_string(), bytes);
    Ok(())
}

/// Reads a SAF threshold file and checks that it parses.
pub fn read_thresholds(path: &Path) -> Result<String, GenError> {
    let text = std::fs::read_to_string(path).map_err(|e| GenError::Thresholds {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    crate::thresholds::check(&text, path)?;
    Ok(text)
}

/// Reads what the spec points to; relative paths are taken from `base_dir` (the values file's
/// directory).
pub fn load_inputs(
    spec: &sidescan_core::spec::ScanSpec,
    base_dir: &Path,
) -> Result<Inputs, GenError> {
    let resolve = |p: &str| -> PathBuf { base_dir.join(p) };
    let profile = match spec.profile.as_ref().and_then(|p| p.dir.as_deref()) {
        Some(dir) => Some(read_profile_dir(&resolve(dir))?),
        None => None,
    };
    let thresholds = match spec.thresholds.as_ref().and_then(|t| t.file.as_deref()) {
        Some(file) => Some(read_thresholds(&resolve(file))?),
        None => None,
    };
    Ok(Inputs {
        profile,
        thresholds,
    })
}

/// Reads the files an audit spec points to (relative to `base_dir`).
pub fn load_audit_inputs(
    spec: &sidescan_core::audit::AuditSpec,
    base_dir: &Path,
) -> Result<Inputs, GenError> {
    let resolve = |p: &str| -> PathBuf { base_dir.join(p) };
    let profile = match spec.profile.as_ref().and_then(|p| p.dir.as_deref()) {
        Some(dir) => Some(read_profile_dir(&resolve(dir))?),
        None => None,
    };
    let thresholds = match spec.thresholds.as_ref().and_then(|t| t.file.as_deref()) {
        Some(file) => Some(read_thresholds(&resolve(file))?),
        None => None,
    };
    Ok(Inputs {
        profile,
        thresholds,
    })
}
