//! The ConfigMaps a scan renders: the profile, its input and waiver files, the thresholds, and
//! the resolved spec the orchestration Job reads.

use super::*;

pub(crate) fn configmap_items(files: impl IntoIterator<Item = String>) -> Vec<Value> {
    files
        .into_iter()
        .filter_map(|path| profile_key(&path).map(|key| json!({"key": key, "path": path})))
        .collect()
}

/// The name of the ConfigMap rendered from the profile's input and waiver files.
pub fn profile_inputs_name(target: &str) -> String {
    spec::object_name(target, "profile-inputs")
}

/// The spec the orchestration Job reads: local files replaced by the ConfigMaps rendered from
/// them, no fixed run id (every orchestrated run makes its own).
pub fn orchestration_spec(spec: &ScanSpec, inputs: &Inputs) -> ScanSpec {
    let mut resolved = spec.clone();
    resolved.run_id = None;
    use_rendered_config_maps(
        resolved.profile.as_mut(),
        resolved.thresholds.as_mut(),
        inputs,
        spec::object_name(&spec.target.name, "profile"),
        spec::object_name(&spec.target.name, "thresholds"),
    );
    if let (Some(profile), Some(files)) =
        (resolved.profile.as_mut(), inputs.profile_inputs.as_ref())
    {
        profile.inputs_config_map = Some(profile_inputs_name(&spec.target.name));
        profile.input_files = files.input_files.iter().map(|(k, _)| k.clone()).collect();
        profile.waiver_files = files.waiver_files.iter().map(|(k, _)| k.clone()).collect();
    }
    resolved
}

/// Points a spec's profile directory and threshold file at the ConfigMaps rendered from them
/// (named `profile_name` and `thresholds_name`), for the in-cluster reader of the spec.
pub(crate) fn use_rendered_config_maps(
    profile: Option<&mut spec::Profile>,
    thresholds: Option<&mut spec::Thresholds>,
    inputs: &Inputs,
    profile_name: String,
    thresholds_name: String,
) {
    if let (Some(profile), Some(files)) = (profile, inputs.profile.as_ref()) {
        profile.dir = None;
        profile.config_map = Some(ProfileConfigMap {
            name: profile_name,
            files: files.files.keys().cloned().collect(),
        });
    }
    if let Some(thresholds) = thresholds
        && thresholds.file.is_some()
    {
        thresholds.file = None;
        thresholds.config_map = Some(thresholds_name);
    }
}

/// The JSON leaf with the most bytes (`target.env.BIG`), to name the key behind an oversized
/// ConfigMap.
pub(crate) fn largest_leaf(value: &Value, path: &str) -> (String, usize) {
    let size = |v: &Value| match v {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    };
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                largest_leaf(v, &child)
            })
            .max_by_key(|(_, n)| *n)
            .unwrap_or((path.to_string(), 0)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| largest_leaf(v, &format!("{path}[{i}]")))
            .max_by_key(|(_, n)| *n)
            .unwrap_or((path.to_string(), 0)),
        other => (path.to_string(), size(other)),
    }
}

/// The resolved spec as the spec ConfigMap holds it, refused when it would not fit.
pub(crate) fn spec_config_map_text(spec: &ScanSpec, inputs: &Inputs) -> Result<String, GenError> {
    let resolved = orchestration_spec(spec, inputs);
    let text = serde_json::to_string_pretty(&resolved).unwrap_or_default() + "\n";
    let size = text.len() + SPEC_CONFIGMAP_KEY.len();
    if size > CONFIGMAP_LIMIT {
        let tree = serde_json::to_value(&resolved).unwrap_or_default();
        let (field, bytes) = largest_leaf(&tree, "");
        return Err(GenError::Unsupported {
            field,
            reason: format!(
                "{bytes} bytes make the spec ConfigMap {size} bytes, above the ConfigMap limit \
                 of {CONFIGMAP_LIMIT} bytes (and a pod carrying it would be refused too)"
            ),
        });
    }
    Ok(text)
}

/// A profile's files as ConfigMap `data` (text) and `binaryData` (base64), keyed by
/// [`profile_key`].
pub(crate) fn profile_config_map_data(
    files: &crate::inputs::ProfileFiles,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut data = BTreeMap::new();
    let mut binary_data = BTreeMap::new();
    for (path, bytes) in &files.files {
        let key = profile_key(path).unwrap_or_else(|| path.clone());
        match std::str::from_utf8(bytes) {
            Ok(text) => data.insert(key, text.to_string()),
            Err(_) => binary_data.insert(key, base64(bytes)),
        };
    }
    (data, binary_data)
}
/// The profile: a ConfigMap rendered from a directory, an existing ConfigMap, or a URL.
pub(crate) struct ProfileObjects {
    /// The ConfigMap rendered from `profile.dir`.
    pub(crate) config_map: Option<ConfigMapContext>,
    /// The ConfigMap the orchestrator checks before deploying (dir or configMap).
    pub(crate) checked_name: Option<String>,
    pub(crate) volume: Option<ConfigMapVolume>,
    /// What the scanner's `--profile` says: the URL, or the mount path.
    pub(crate) arg: Option<String>,
}

pub(crate) fn profile_objects(spec: &ScanSpec, inputs: &Inputs, run_id: &RunId) -> ProfileObjects {
    let name = spec::object_name(&spec.target.name, "profile");
    let config_map = inputs.profile.as_ref().map(|files| {
        let (data, binary_data) = profile_config_map_data(files);
        ConfigMapContext {
            name: name.clone(),
            labels: stable_labels(spec, run_id, Component::Profile),
            annotations: spec.metadata.annotations.clone(),
            data,
            binary_data,
        }
    });
    let profile = spec.profile.as_ref();
    let checked_name = match profile {
        Some(p) if p.config_map.is_some() => p.config_map.as_ref().map(|cm| cm.name.clone()),
        Some(p) if p.dir.is_some() => Some(name.clone()),
        _ => None,
    };
    let volume = match profile {
        Some(p) if p.config_map.is_some() => p.config_map.as_ref().map(|cm| ConfigMapVolume {
            config_map: cm.name.clone(),
            mount_path: PROFILE_MOUNT_PATH,
            items: configmap_items(cm.files.iter().cloned()),
        }),
        Some(p) if p.dir.is_some() => inputs.profile.as_ref().map(|files| ConfigMapVolume {
            config_map: name.clone(),
            mount_path: PROFILE_MOUNT_PATH,
            items: configmap_items(files.files.keys().cloned()),
        }),
        _ => None,
    };
    let arg = profile.and_then(|p| match (&p.url, &p.dir, &p.config_map) {
        (Some(url), _, _) => Some(url.clone()),
        (None, None, None) => None,
        _ => Some(PROFILE_MOUNT_PATH.to_string()),
    });
    ProfileObjects {
        config_map,
        checked_name,
        volume,
        arg,
    }
}

/// Input and waiver files: a ConfigMap rendered from local files, or an existing one.
pub(crate) struct InputObjects {
    pub(crate) config_map: Option<ConfigMapContext>,
    pub(crate) input_keys: Vec<String>,
    pub(crate) waiver_keys: Vec<String>,
    pub(crate) volume: Option<ConfigMapVolume>,
}

pub(crate) fn input_objects(spec: &ScanSpec, inputs: &Inputs, run_id: &RunId) -> InputObjects {
    let name = profile_inputs_name(&spec.target.name);
    let config_map = inputs
        .profile_inputs
        .as_ref()
        .map(|files| ConfigMapContext {
            name: name.clone(),
            labels: stable_labels(spec, run_id, Component::Profile),
            annotations: spec.metadata.annotations.clone(),
            data: files
                .input_files
                .iter()
                .chain(&files.waiver_files)
                .cloned()
                .collect(),
            binary_data: BTreeMap::new(),
        });
    let (input_keys, waiver_keys, mounted): (Vec<String>, Vec<String>, Option<String>) =
        match (spec.profile.as_ref(), inputs.profile_inputs.as_ref()) {
            (_, Some(files)) => (
                files.input_files.iter().map(|(k, _)| k.clone()).collect(),
                files.waiver_files.iter().map(|(k, _)| k.clone()).collect(),
                Some(name),
            ),
            (Some(p), None) if p.inputs_config_map.is_some() => (
                p.input_files.clone(),
                p.waiver_files.clone(),
                p.inputs_config_map.clone(),
            ),
            _ => (Vec::new(), Vec::new(), None),
        };
    let volume = mounted.map(|name| ConfigMapVolume {
        config_map: name,
        mount_path: PROFILE_INPUTS_MOUNT_PATH,
        items: input_keys
            .iter()
            .chain(&waiver_keys)
            .map(|k| json!({"key": k, "path": k}))
            .collect(),
    });
    InputObjects {
        config_map,
        input_keys,
        waiver_keys,
        volume,
    }
}

/// Thresholds: a ConfigMap rendered from a file, or an existing ConfigMap.
pub(crate) struct ThresholdObjects {
    /// The ConfigMap the orchestration Job mounts.
    pub(crate) name: Option<String>,
    pub(crate) config_map: Option<ConfigMapContext>,
    pub(crate) volume: Option<ConfigMapVolume>,
}

pub(crate) fn threshold_objects(
    spec: &ScanSpec,
    inputs: &Inputs,
    run_id: &RunId,
) -> ThresholdObjects {
    let rendered_name = spec::object_name(&spec.target.name, "thresholds");
    let name = spec.thresholds.as_ref().and_then(|t| {
        t.config_map
            .clone()
            .or_else(|| t.file.as_ref().map(|_| rendered_name.clone()))
    });
    let config_map = inputs.thresholds.as_ref().map(|text| ConfigMapContext {
        name: rendered_name.clone(),
        labels: stable_labels(spec, run_id, Component::Thresholds),
        annotations: spec.metadata.annotations.clone(),
        data: BTreeMap::from([(THRESHOLDS_KEY.to_string(), text.clone())]),
        binary_data: BTreeMap::new(),
    });
    let volume = name.as_ref().map(|name| ConfigMapVolume {
        config_map: name.clone(),
        mount_path: THRESHOLDS_MOUNT_PATH,
        items: vec![json!({"key": THRESHOLDS_KEY, "path": THRESHOLDS_KEY})],
    });
    ThresholdObjects {
        name,
        config_map,
        volume,
    }
}

/// The ConfigMap of the resolved spec the orchestration Job reads.
pub(crate) fn spec_config_map(
    spec: &ScanSpec,
    run_id: &RunId,
    spec_text: String,
) -> ConfigMapContext {
    ConfigMapContext {
        name: spec::object_name(&spec.target.name, "spec"),
        labels: stable_labels(spec, run_id, Component::Orchestrator),
        annotations: spec.metadata.annotations.clone(),
        data: BTreeMap::from([(SPEC_CONFIGMAP_KEY.to_string(), spec_text)]),
        binary_data: BTreeMap::new(),
    }
}
