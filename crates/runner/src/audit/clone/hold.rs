//! The hold installer: an init container of the scanner image that copies its static `hold`
//! into a shared volume, so neither image needs a shell or `cp`. Only when the target runs
//! `hold` (`target.run: hold`).

use super::{HOLD_CONTAINER, HOLD_VOLUME, INSTALLER_UID, mount, resources};
use k8s_openapi::api::core::v1::{Capabilities, Container, SeccompProfile, SecurityContext};
use sidescan_core::audit::{AuditSpec, HOLD_MOUNT_PATH, RunMode};
use sidescan_core::spec::Resources;
use std::collections::BTreeMap;

fn seccomp_runtime_default(seccomp_field: bool) -> Option<SeccompProfile> {
    seccomp_field.then(|| SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..SeccompProfile::default()
    })
}

/// A one-file copy: little CPU and memory.
fn installer_resources() -> Resources {
    Resources {
        requests: BTreeMap::from([
            ("cpu".into(), "10m".into()),
            ("memory".into(), "16Mi".into()),
        ]),
        limits: BTreeMap::from([("memory".into(), "64Mi".into())]),
    }
}

/// Restricted in every way Pod Security knows: non-root, no capabilities, read-only root.
fn installer_security(seccomp_field: bool) -> SecurityContext {
    SecurityContext {
        privileged: Some(false),
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(INSTALLER_UID),
        run_as_group: Some(INSTALLER_UID),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: seccomp_runtime_default(seccomp_field),
        ..SecurityContext::default()
    }
}

/// The init container that installs `hold`, or none when the target runs its entrypoint.
pub(super) fn init_container(spec: &AuditSpec, seccomp_field: bool) -> Option<Container> {
    match spec.target.run {
        RunMode::Hold => Some(Container {
            name: HOLD_CONTAINER.into(),
            image: Some(spec.images.reference(&spec.scanner.image)),
            image_pull_policy: Some(spec.images.pull_policy.as_str().into()),
            args: Some(sidescan_core::audit::install_hold_args()),
            resources: Some(resources(&installer_resources())),
            security_context: Some(installer_security(seccomp_field)),
            volume_mounts: Some(vec![mount(HOLD_VOLUME, HOLD_MOUNT_PATH, false)]),
            ..Container::default()
        }),
        RunMode::Entrypoint => None,
    }
}
