//! Reading the files a spec points to: the profile directory, the profile's input and waiver
//! files and the threshold file. The only I/O of rendering; everything after works on the bytes
//! read here. Also the ConfigMap key encoding of a profile's tree.

use crate::GenError;
use sidescan_core::names;
use sidescan_core::spec::is_config_map_key;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The API server's limit on a ConfigMap's data (sum of key and value sizes).
pub const CONFIGMAP_LIMIT: usize = 1024 * 1024;

/// The ConfigMap key of a profile file: `/` becomes `__` (keys may not hold `/`); the volume's
/// `items` restore the tree. `None` when the path cannot be encoded reversibly.
pub fn profile_key(path: &str) -> Option<String> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/');
    if path.is_empty()
        || !path.chars().all(valid_char)
        || path.contains("__")
        || path
            .split('/')
            .any(|s| s.is_empty() || s.ends_with('_') || s.starts_with('_'))
    {
        return None;
    }
    let key = path.replace('/', "__");
    (key.len() <= names::DNS_SUBDOMAIN_MAX).then_some(key)
}

/// The relative path a [`profile_key`] stands for.
pub fn profile_path(key: &str) -> String {
    key.replace("__", "/")
}

/// The profile's input and waiver files by ConfigMap key (their file names), in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileInputs {
    pub input_files: Vec<(String, String)>,
    pub waiver_files: Vec<(String, String)>,
}

impl ProfileInputs {
    pub fn is_empty(&self) -> bool {
        self.input_files.is_empty() && self.waiver_files.is_empty()
    }

    /// Bytes counted against the ConfigMap limit.
    pub fn configmap_size(&self) -> usize {
        self.input_files
            .iter()
            .chain(&self.waiver_files)
            .map(|(k, v)| k.len() + v.len())
            .sum()
    }
}

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
    /// Local input and waiver files (absent when they come from an existing ConfigMap).
    pub profile_inputs: Option<ProfileInputs>,
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

/// Reads a SAF threshold file and checks that it parses and fits into its ConfigMap.
pub fn read_thresholds(path: &Path) -> Result<String, GenError> {
    let bad = |reason: String| GenError::Thresholds {
        path: path.to_path_buf(),
        reason,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| bad(e.to_string()))?
        .len();
    if size > CONFIGMAP_LIMIT as u64 {
        return Err(bad(format!(
            "{size} bytes, above the ConfigMap limit of {CONFIGMAP_LIMIT} bytes"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    crate::thresholds::check(&text, path)?;
    Ok(text)
}

/// Reads the profile's input and waiver files (UTF-8 text: YAML), keyed by file name.
pub fn read_profile_inputs(
    profile: &sidescan_core::spec::Profile,
    base_dir: &Path,
) -> Result<ProfileInputs, GenError> {
    let mut keys = BTreeMap::new();
    let mut read = |field: &str, files: &[String]| -> Result<Vec<(String, String)>, GenError> {
        let mut out = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let bad = |reason: String| GenError::Unsupported {
                field: format!("{at} {file}"),
                reason,
            };
            let path = base_dir.join(file);
            let key = Path::new(file)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if !is_config_map_key(&key) {
                return Err(bad(
                    "the file name must be a ConfigMap key (letters, digits, '-', '_', '.')".into(),
                ));
            }
            if let Some(other) = keys.insert(key.clone(), at.clone()) {
                return Err(bad(format!(
                    "{other} has the same file name {key:?}; file names must differ"
                )));
            }
            let size = std::fs::metadata(&path)
                .map_err(|e| bad(e.to_string()))?
                .len();
            if size > CONFIGMAP_LIMIT as u64 {
                return Err(bad(format!(
                    "{size} bytes, above the ConfigMap limit of {CONFIGMAP_LIMIT} bytes"
                )));
            }
            let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
            out.push((key, text));
        }
        Ok(out)
    };
    let inputs = ProfileInputs {
        input_files: read("profile.inputFiles", &profile.input_files)?,
        waiver_files: read("profile.waiverFiles", &profile.waiver_files)?,
    };
    let size = inputs.configmap_size();
    if size > CONFIGMAP_LIMIT {
        return Err(GenError::Unsupported {
            field: "profile.inputFiles".into(),
            reason: format!(
                "the input and waiver files are {size} bytes together, above the ConfigMap \
                 limit of {CONFIGMAP_LIMIT} bytes"
            ),
        });
    }
    Ok(inputs)
}

/// Profile directories and threshold files already read and checked in this run: a batch of
/// specs sharing a profile reads it once.
#[derive(Debug, Default)]
pub struct InputCache {
    profiles: HashMap<PathBuf, ProfileFiles>,
    thresholds: HashMap<PathBuf, String>,
}

/// Reads what the spec points to; relative paths are taken from `base_dir` (the values file's
/// directory).
pub fn load_inputs(
    spec: &sidescan_core::spec::ScanSpec,
    base_dir: &Path,
) -> Result<Inputs, GenError> {
    load_inputs_cached(spec, base_dir, &mut InputCache::default())
}

/// [`load_inputs`], reusing what `cache` already holds.
pub fn load_inputs_cached(
    spec: &sidescan_core::spec::ScanSpec,
    base_dir: &Path,
    cache: &mut InputCache,
) -> Result<Inputs, GenError> {
    let resolve = |p: &str| -> PathBuf { base_dir.join(p) };
    let profile = match spec.profile.as_ref().and_then(|p| p.dir.as_deref()) {
        Some(dir) => {
            let path = resolve(dir);
            Some(match cache.profiles.get(&path) {
                Some(files) => files.clone(),
                None => {
                    let files = read_profile_dir(&path)?;
                    cache.profiles.insert(path, files.clone());
                    files
                }
            })
        }
        None => None,
    };
    let thresholds = match spec.thresholds.as_ref().and_then(|t| t.file.as_deref()) {
        Some(file) => {
            let path = resolve(file);
            Some(match cache.thresholds.get(&path) {
                Some(text) => text.clone(),
                None => {
                    let text = read_thresholds(&path)?;
                    cache.thresholds.insert(path, text.clone());
                    text
                }
            })
        }
        None => None,
    };
    Ok(Inputs {
        profile,
        profile_inputs: local_profile_inputs(spec.profile.as_ref(), base_dir)?,
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
        profile_inputs: local_profile_inputs(spec.profile.as_ref(), base_dir)?,
        thresholds,
    })
}

/// The input and waiver files a profile names on this machine (none when they come from an
/// existing ConfigMap).
fn local_profile_inputs(
    profile: Option<&sidescan_core::spec::Profile>,
    base_dir: &Path,
) -> Result<Option<ProfileInputs>, GenError> {
    match profile {
        Some(p)
            if p.inputs_config_map.is_none()
                && (!p.input_files.is_empty() || !p.waiver_files.is_empty()) =>
        {
            Ok(Some(read_profile_inputs(p, base_dir)?))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_keys_round_trip_and_refuse_ambiguous_paths() {
        assert_eq!(
            profile_key("controls/ssh_config.rb").as_deref(),
            Some("controls__ssh_config.rb")
        );
        assert_eq!(
            profile_path("controls__ssh_config.rb"),
            "controls/ssh_config.rb"
        );
        assert_eq!(profile_key("a__b"), None);
        assert_eq!(profile_key("a_/b"), None);
        assert_eq!(profile_key("a b"), None);
        assert_eq!(profile_key("/abs"), None);
    }
}
