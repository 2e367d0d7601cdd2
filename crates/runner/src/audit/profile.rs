//! The profile a clone of the cinc backend mounts (a profile without a URL): the rendered
//! ConfigMap where it lives (the audit's namespace), and elsewhere a copy per clone, owned by that
//! clone, so that the garbage collector removes it with the clone whatever ends the audit
//! (finished, interrupted, killed, its Job deleted). The audit's Role needs only `create` on
//! ConfigMaps for that: it never lists, reads or deletes another namespace's ConfigMaps.

use crate::Error;
use crate::audit::clone::ProfileMount;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::PostParams;
use kube::{Api, Client};
use sidescan_core::RunId;
use sidescan_core::audit::{AuditId, AuditSpec};
use sidescan_core::labels::{self, Component};
use sidescan_gen::inputs::profile_key;
use std::collections::BTreeMap;
use std::path::Path;

/// Where clones get their profile from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profiles {
    /// The profile ConfigMap in the audit's namespace, mounted as it is by clones there.
    pub in_place: Option<(String, ProfileMount)>,
    /// What a copy holds (ConfigMap data by [`profile_key`]) and the files to restore from it;
    /// empty when no clone needs a copy.
    pub data: BTreeMap<String, String>,
    pub files: Vec<String>,
}

/// What one clone mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneProfile {
    pub mount: ProfileMount,
    /// True when the clone needs its own copy, created once the clone exists (its owner).
    pub copy: bool,
}

impl Profiles {
    /// The profile of a clone `run_id` in `namespace`.
    pub fn for_clone(&self, audit: &AuditId, run_id: &RunId, namespace: &str) -> CloneProfile {
        match &self.in_place {
            Some((ns, mount)) if ns == namespace => CloneProfile {
                mount: mount.clone(),
                copy: false,
            },
            _ => CloneProfile {
                mount: ProfileMount {
                    config_map: copy_name(audit, run_id),
                    files: self.files.clone(),
                },
                copy: true,
            },
        }
    }
}

/// Whether clones mount a profile at all: the cinc backend with a profile that has no URL.
pub fn needed(spec: &AuditSpec) -> bool {
    spec.clones_mount_profile()
}

/// `sidescan-<audit id>-profile-<run id>` (the admission policy admits `sidescan-<audit id>-*`).
pub fn copy_name(audit: &AuditId, run_id: &RunId) -> String {
    format!("sidescan-{audit}-profile-{run_id}")
}

/// A clone's copy of the profile, owned by the clone (`owner`: the created pod).
pub fn copy_config_map(
    audit: &AuditId,
    run_id: &RunId,
    data: &BTreeMap<String, String>,
    owner: &Pod,
) -> ConfigMap {
    let owner = OwnerReference {
        api_version: "v1".into(),
        kind: "Pod".into(),
        name: owner.metadata.name.clone().unwrap_or_default(),
        uid: owner.metadata.uid.clone().unwrap_or_default(),
        controller: None,
        block_owner_deletion: None,
    };
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(copy_name(audit, run_id)),
            labels: Some(labels::audit_labels(
                audit,
                Some(run_id),
                None,
                Component::Profile,
            )),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(data.clone()),
        ..ConfigMap::default()
    }
}

/// Where the profile comes from for clones in `namespaces`: the rendered ConfigMap is read (its
/// Role: `get` on that name) only when a clone runs outside the audit's namespace.
pub async fn load(
    client: &Client,
    spec: &AuditSpec,
    namespaces: impl IntoIterator<Item = &str>,
) -> Result<Option<Profiles>, Error> {
    let Some(profile) = spec.profile.as_ref().filter(|_| needed(spec)) else {
        return Ok(None);
    };
    let elsewhere = namespaces.into_iter().any(|ns| ns != spec.namespace);
    let (in_place, data, files) = match (&profile.config_map, &profile.dir) {
        (Some(cm), _) => {
            let mount = ProfileMount {
                config_map: cm.name.clone(),
                files: cm.files.clone(),
            };
            let data = if elsewhere {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &spec.namespace);
                let source = api.get(&cm.name).await.map_err(|e| {
                    Error::kube(
                        format!("reading profile ConfigMap {}/{}", spec.namespace, cm.name),
                        e,
                    )
                })?;
                source.data.unwrap_or_default()
            } else {
                BTreeMap::new()
            };
            (
                Some((spec.namespace.clone(), mount)),
                data,
                cm.files.clone(),
            )
        }
        (None, Some(dir)) => {
            let (data, files) = read_profile_dir(Path::new(dir))?;
            (None, data, files)
        }
        _ => return Ok(None),
    };
    Ok(Some(Profiles {
        in_place,
        data,
        files,
    }))
}

/// Creates a clone's copy of the profile. A copy that exists already (a retried request) is
/// fine.
pub async fn create_copy(client: &Client, namespace: &str, cm: &ConfigMap) -> Result<(), String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match api.create(&PostParams::default(), cm).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(format!(
            "creating the profile ConfigMap {namespace}/{}: {e}",
            cm.metadata.name.as_deref().unwrap_or_default()
        )),
    }
}

/// A local profile directory: `inspec.yml` and `controls/`, `libraries/`, `files/`, as ConfigMap
/// data keyed by [`profile_key`], and the file list.
pub fn read_profile_dir(dir: &Path) -> Result<(BTreeMap<String, String>, Vec<String>), Error> {
    let bad = |reason: String| Error::Input {
        path: format!("profile.dir {}", dir.display()),
        reason,
    };
    let mut data = BTreeMap::new();
    let mut files = Vec::new();
    let mut pending = vec![String::from("inspec.yml")];
    for sub in ["controls", "libraries", "files"] {
        if dir.join(sub).is_dir() {
            pending.push(sub.to_string());
        }
    }
    while let Some(rel) = pending.pop() {
        let path = dir.join(&rel);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| bad(format!("{rel}: {e}")))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(|e| bad(format!("{rel}: {e}")))? {
                let entry = entry.map_err(|e| bad(e.to_string()))?;
                pending.push(format!("{rel}/{}", entry.file_name().to_string_lossy()));
            }
        } else if meta.is_file() {
            let key = profile_key(&rel)
                .ok_or_else(|| bad(format!("{rel}: name cannot be a ConfigMap key")))?;
            let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("{rel}: {e}")))?;
            data.insert(key, text);
            files.push(rel);
        } else {
            return Err(bad(format!("{rel}: not a regular file")));
        }
    }
    files.sort();
    Ok((data, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (AuditId, RunId) {
        (
            AuditId::parse("audit-20261126-030000-abcdef").unwrap(),
            RunId::parse("abc123def456").unwrap(),
        )
    }

    #[test]
    fn clones_in_the_audit_namespace_mount_the_rendered_profile_and_others_a_copy() {
        let (audit, run) = ids();
        let mount = ProfileMount {
            config_map: "sidescan-nightly-profile".into(),
            files: vec!["inspec.yml".into()],
        };
        let profiles = Profiles {
            in_place: Some(("sidescan".into(), mount.clone())),
            data: BTreeMap::from([("inspec.yml".into(), "name: p".into())]),
            files: vec!["inspec.yml".into()],
        };
        assert_eq!(
            profiles.for_clone(&audit, &run, "sidescan"),
            CloneProfile { mount, copy: false }
        );
        let other = profiles.for_clone(&audit, &run, "shop");
        assert!(other.copy);
        assert_eq!(
            other.mount.config_map,
            "sidescan-audit-20261126-030000-abcdef-profile-abc123def456"
        );
    }

    #[test]
    fn a_copy_is_owned_by_its_clone_and_labelled_for_the_admission_policy() {
        let (audit, run) = ids();
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "sidescan-web-abc123def456", "uid": "u-1"}
        }))
        .unwrap();
        let data = BTreeMap::from([("inspec.yml".to_string(), "name: p".to_string())]);
        let cm = copy_config_map(&audit, &run, &data, &pod);
        let owner = &cm.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("Pod", "sidescan-web-abc123def456", "u-1")
        );
        // No blockOwnerDeletion: that would need `update` on the pod's finalizers.
        assert_eq!(owner.block_owner_deletion, None);
        let labels = cm.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[labels::AUDIT_ID], audit.as_str());
        assert_eq!(labels[labels::APP_COMPONENT], Component::Profile.as_str());
        assert!(
            cm.metadata
                .name
                .unwrap()
                .starts_with(&format!("sidescan-{audit}-"))
        );
        assert_eq!(cm.data, Some(data));
    }
}
