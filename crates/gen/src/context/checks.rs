//! The Kubernetes objects a spec carries (volumes, security contexts, affinity...), held to
//! their schemas before anything is rendered.

use super::*;

/// Checks `value` field by field against the Kubernetes type `T` (named `schema` in errors).
pub(crate) fn strict_field<T: DeserializeOwned + Serialize>(
    field: &str,
    value: &Value,
    schema: &str,
) -> Result<(), GenError> {
    crate::strict::check::<T>(value).map_err(|found| {
        // `found` is `<path> (<problem>)` or `: <deserializer message>`.
        let (path, problem) = match found.split_once(" (") {
            Some((path, rest)) => (path.to_string(), rest.trim_end_matches(')').to_string()),
            None => (String::new(), found.trim_start_matches(": ").to_string()),
        };
        GenError::Unsupported {
            field: format!("{field}{path}"),
            reason: format!("{problem} (checked against the Kubernetes {schema} schema)"),
        }
    })
}

/// The Kubernetes objects the spec passes through, checked against their schemas, plus the
/// rules the API server adds (one volume source, one env source).
pub(crate) fn check_kubernetes_objects(spec: &ScanSpec, kube: KubeVersion) -> Result<(), GenError> {
    for (field, affinity) in [
        ("scheduling.affinity", &spec.scheduling.affinity),
        ("orchestrator.affinity", &spec.orchestrator.affinity),
    ] {
        if let Some(a) = affinity {
            strict_field::<core::Affinity>(field, a, "Affinity")?;
        }
    }
    let target = &spec.target;
    if let Some(sc) = &target.security_context {
        strict_field::<core::SecurityContext>("target.securityContext", sc, "SecurityContext")?;
        if sc.get("seccompProfile").is_some() && !kube.has_seccomp_field() {
            return Err(GenError::Unsupported {
                field: "target.securityContext.seccompProfile".into(),
                reason: format!("the field needs Kubernetes 1.19 or newer (rendering for {kube})"),
            });
        }
    }
    for (i, source) in target.env_from.iter().enumerate() {
        let field = format!("target.envFrom[{i}]");
        strict_field::<core::EnvFromSource>(&field, source, "EnvFromSource")?;
        let refs = ["configMapRef", "secretRef"]
            .iter()
            .filter(|r| source.get(**r).is_some())
            .count();
        if refs != 1 {
            return Err(GenError::Unsupported {
                field,
                reason: "set exactly one of configMapRef, secretRef".into(),
            });
        }
    }
    for (i, volume) in target.volumes.iter().enumerate() {
        let field = format!("target.volumes[{i}]");
        strict_field::<core::Volume>(&field, volume, "Volume")?;
        let sources: Vec<&String> = volume
            .as_object()
            .map(|m| m.keys().filter(|k| *k != "name").collect())
            .unwrap_or_default();
        if sources.len() != 1 {
            return Err(GenError::Unsupported {
                field,
                reason: format!(
                    "a volume has exactly one source (configMap, secret, emptyDir, ...), found {}",
                    sources.len()
                ),
            });
        }
    }
    for (i, mount) in target.volume_mounts.iter().enumerate() {
        strict_field::<core::VolumeMount>(
            &format!("target.volumeMounts[{i}]"),
            mount,
            "VolumeMount",
        )?;
    }
    Ok(())
}
