//! The rules a spec must follow that serde cannot express, as the API server (and the kubelet
//! and container runtime after it) would apply them; each error names the field at fault.
//!
//! Split by concern: [`cron`] schedules, [`image`] references, [`meta`] labels, annotations and
//! data keys, [`net`] URLs and addresses, [`time_zone`] IANA names; the spec-level rules here.

mod cron;
mod image;
pub(crate) mod meta;
mod net;
mod time_zone;

pub use cron::validate_cron;
pub use image::{has_registry_host, validate_image_reference};
pub use meta::is_config_map_key;
pub use time_zone::is_time_zone;

use super::*;
use crate::{CoreError, labels, names};
use std::collections::BTreeSet;
use thiserror::Error;

/// Volume names the scan pod uses for its own volumes; the target's volumes must not take them.
pub const RESERVED_VOLUME_NAMES: [&str; 7] = [
    "results",
    "tmp",
    "profile",
    "thresholds",
    "profile-inputs",
    "s3-ca",
    "api-token",
];

/// The highest UID or GID Kubernetes accepts (`runAsUser`, `runAsGroup`).
pub const ID_MAX: i64 = i32::MAX as i64;

/// A spec that breaks a rule serde cannot express. Display: `<field>: <what is wrong>`.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    #[error(transparent)]
    Name(#[from] CoreError),
    #[error("{field}: {reason}{}", value_note(.value))]
    Rule {
        field: String,
        value: String,
        reason: String,
    },
}

/// ` (got "value")`, shortened so that a huge value still gives a one-line message.
fn value_note(value: &str) -> String {
    const SHOWN: usize = 80;
    if value.is_empty() {
        String::new()
    } else if value.chars().count() > SHOWN {
        let head: String = value.chars().take(SHOWN).collect();
        format!(" (got {head:?}... {} bytes)", value.len())
    } else {
        format!(" (got {value:?})")
    }
}

impl ScanSpec {
    /// Checks names and the rules serde cannot express, naming the field at fault.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.validate_names()?;
        self.validate_images()?;
        self.validate_resources()?;
        self.validate_target()?;
        self.validate_security()?;
        self.validate_scanner_paths()?;
        self.validate_profile()?;
        self.validate_results()?;
        validate_placement(
            "scheduling",
            &self.scheduling.node_selector,
            &self.scheduling.tolerations,
            self.scheduling.priority_class_name.as_deref(),
        )?;
        validate_placement(
            "orchestrator",
            &self.orchestrator.node_selector,
            &self.orchestrator.tolerations,
            self.orchestrator.priority_class_name.as_deref(),
        )?;
        self.validate_metadata()?;
        self.validate_network_policy()?;
        self.validate_jobs()?;
        Ok(())
    }

    fn validate_names(&self) -> Result<(), SpecError> {
        names::check_dns_label("namespace", &self.namespace)?;
        names::check_dns_label("target.name", &self.target.name)?;
        // The run's `app.kubernetes.io/instance` label is `<target>-<run id>`: at most 63 too.
        let run_id_len = self
            .run_id
            .as_ref()
            .map_or(GENERATED_RUN_ID_LEN, |id| id.as_str().len());
        let room = names::DNS_LABEL_MAX - 1 - run_id_len;
        if self.target.name.len() > room {
            return Err(rule(
                "target.name",
                &self.target.name,
                &format!(
                    "at most {room} characters, so that the label <target.name>-<run id> fits in 63"
                ),
            ));
        }
        names::check_dns_label("target.container", &self.target.container)?;
        names::check_dns_label("scanner.container", &self.scanner.container)?;
        if self.target.container == self.scanner.container {
            return Err(rule(
                "scanner.container",
                &self.scanner.container,
                "it must differ from target.container",
            ));
        }
        for (i, secret) in self.images.pull_secrets.iter().enumerate() {
            names::check_dns_subdomain(&format!("images.pullSecrets[{i}]"), secret)?;
        }
        if let Some(api) = &self.cluster.api_server {
            non_empty("cluster.apiServer.host", &api.host)?;
            if api.port == 0 {
                return Err(rule("cluster.apiServer.port", "0", "it must be 1-65535"));
            }
        }
        Ok(())
    }

    fn validate_images(&self) -> Result<(), SpecError> {
        if !self.images.registry.is_empty() {
            image::validate_registry(&self.images.registry)
                .map_err(|e| rule("images.registry", &self.images.registry, &e))?;
        }
        for (field, reference) in [
            ("target.image", &self.target.image),
            ("scanner.image", &self.scanner.image),
            ("orchestrator.image", &self.orchestrator.image),
        ] {
            non_empty(field, reference)?;
            validate_image_reference(reference)
                .map_err(|e| rule(field, reference, &format!("not an image reference: {e}")))?;
            let full = self.images.reference(reference);
            validate_image_reference(&full).map_err(|e| {
                rule(
                    field,
                    &full,
                    &format!("with images.registry it is not an image reference: {e}"),
                )
            })?;
        }
        Ok(())
    }

    fn validate_resources(&self) -> Result<(), SpecError> {
        for (field, resources) in [
            ("target.resources", &self.target.resources),
            ("scanner.resources", &self.scanner.resources),
            ("orchestrator.resources", &self.orchestrator.resources),
        ] {
            for (kind, map) in [
                ("requests", &resources.requests),
                ("limits", &resources.limits),
            ] {
                for (name, value) in map {
                    let key = format!("{field}.{kind}.{name}");
                    if !(STANDARD_RESOURCES.contains(&name.as_str())
                        || name.starts_with("hugepages-")
                        || (name.contains('/') && meta::check_qualified_name(name).is_ok()))
                    {
                        return Err(rule(
                            &key,
                            name,
                            "not a resource name (cpu, memory, ephemeral-storage, hugepages-<size> \
                             or a domain-qualified extended resource)",
                        ));
                    }
                    check_quantity(&key, value)?;
                }
            }
            for (name, request) in &resources.requests {
                if let (Some(limit), Some(r)) =
                    (resources.limits.get(name), parse_quantity(request))
                    && parse_quantity(limit).is_some_and(|l| r > l)
                {
                    return Err(rule(
                        &format!("{field}.requests.{name}"),
                        request,
                        &format!("the request must not exceed the limit {limit}"),
                    ));
                }
            }
        }
        check_quantity("scanner.resultsSizeLimit", &self.scanner.results_size_limit)
    }

    fn validate_target(&self) -> Result<(), SpecError> {
        for name in self.target.env.keys() {
            if !is_env_name(name) {
                return Err(rule(
                    &format!("target.env.{name}"),
                    name,
                    "environment variable names are letters, digits and '_', not starting with a digit",
                ));
            }
        }
        for (i, source) in self.target.env_from.iter().enumerate() {
            let field = format!("target.envFrom[{i}]");
            for reference in ["configMapRef", "secretRef"] {
                if let Some(name) = source.get(reference).and_then(|r| r.get("name")) {
                    let name = name.as_str().unwrap_or_default();
                    names::check_dns_subdomain(&format!("{field}.{reference}.name"), name)?;
                }
            }
            if let Some(prefix) = source.get("prefix").and_then(|p| p.as_str())
                && !prefix.is_empty()
                && !is_env_name(prefix)
            {
                return Err(rule(
                    &format!("{field}.prefix"),
                    prefix,
                    "a prefix must be a valid environment variable name",
                ));
            }
        }
        let mut volumes = BTreeSet::new();
        for (i, volume) in self.target.volumes.iter().enumerate() {
            let field = format!("target.volumes[{i}].name");
            let name = volume.get("name").and_then(|n| n.as_str()).unwrap_or("");
            names::check_dns_label(&field, name)?;
            if RESERVED_VOLUME_NAMES.contains(&name) {
                return Err(rule(
                    &field,
                    name,
                    &format!(
                        "the scan pod uses this name for its own volume (reserved: {})",
                        RESERVED_VOLUME_NAMES.join(", ")
                    ),
                ));
            }
            if !volumes.insert(name) {
                return Err(rule(&field, name, "duplicate volume name"));
            }
        }
        let mut paths = BTreeSet::new();
        for (i, mount) in self.target.volume_mounts.iter().enumerate() {
            let field = format!("target.volumeMounts[{i}]");
            let name = mount.get("name").and_then(|n| n.as_str()).unwrap_or("");
            if !volumes.contains(name) {
                return Err(rule(
                    &format!("{field}.name"),
                    name,
                    "no volume of this name in target.volumes",
                ));
            }
            let path = mount
                .get("mountPath")
                .and_then(|p| p.as_str())
                .unwrap_or("");
            let clean = clean_absolute_path(&format!("{field}.mountPath"), path)?;
            if !paths.insert(clean) {
                return Err(rule(
                    &format!("{field}.mountPath"),
                    path,
                    "another target volume mount has this path",
                ));
            }
            if let Some(sub) = mount.get("subPath").and_then(|p| p.as_str())
                && (sub.starts_with('/') || sub.split('/').any(|p| p == ".."))
            {
                return Err(rule(
                    &format!("{field}.subPath"),
                    sub,
                    "a subPath is relative and has no '..'",
                ));
            }
        }
        if let Some(sc) = &self.target.security_context {
            for key in ["runAsUser", "runAsGroup"] {
                if let Some(id) = sc.get(key).and_then(|v| v.as_i64()) {
                    check_id(&format!("target.securityContext.{key}"), id)?;
                }
            }
            if self.security.mode == SecurityMode::SameUid
                && let (Some(uid), Some(wanted)) = (
                    sc.get("runAsUser").and_then(|v| v.as_i64()),
                    self.security.run_as_user,
                )
                && uid != wanted
            {
                return Err(rule(
                    "target.securityContext.runAsUser",
                    &uid.to_string(),
                    &format!(
                        "mode same-uid runs the scanner as security.runAsUser ({wanted}): the \
                         target must run as the same UID"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_security(&self) -> Result<(), SpecError> {
        for (field, value) in [
            ("security.runAsUser", self.security.run_as_user),
            ("security.runAsGroup", self.security.run_as_group),
        ] {
            if let Some(id) = value {
                check_id(field, id)?;
            }
        }
        match (self.security.mode, self.security.run_as_user) {
            (SecurityMode::SameUid, None) => Err(rule(
                "security.runAsUser",
                "",
                "missing required value: mode same-uid needs the target's UID",
            )),
            (SecurityMode::SameUid, Some(0)) => Err(rule(
                "security.runAsUser",
                "0",
                "mode same-uid runs as non-root: use mode ptrace for a root target",
            )),
            (SecurityMode::Ptrace, Some(uid)) if uid != 0 => Err(rule(
                "security.runAsUser",
                &uid.to_string(),
                "mode ptrace needs UID 0: Kubernetes grants added capabilities (SYS_PTRACE) \
                 only to UID 0, so a non-root scanner could not read the target; remove it, or \
                 use mode same-uid with the target's UID",
            )),
            _ => Ok(()),
        }
    }

    /// The scanner's mounts must not collide: the results directory is the one the user picks.
    fn validate_scanner_paths(&self) -> Result<(), SpecError> {
        let field = "scanner.resultsDir";
        let results = clean_absolute_path(field, &self.scanner.results_dir)?;
        if results == "/" {
            return Err(rule(field, &self.scanner.results_dir, "it cannot be /"));
        }
        for fixed in [
            TMP_MOUNT_PATH,
            PROFILE_MOUNT_PATH,
            THRESHOLDS_MOUNT_PATH,
            PROFILE_INPUTS_MOUNT_PATH,
            CA_BUNDLE_MOUNT_PATH,
            API_TOKEN_MOUNT_PATH,
        ] {
            if nested(&results, fixed) {
                return Err(rule(
                    field,
                    &self.scanner.results_dir,
                    &format!(
                        "the scanner already mounts {fixed}: the results directory must be \
                         neither it nor inside or around it"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_profile(&self) -> Result<(), SpecError> {
        check_profile(self.profile.as_ref(), self.scanner.backend)
    }

    fn validate_results(&self) -> Result<(), SpecError> {
        check_thresholds(self.thresholds.as_ref())?;
        let results = &self.results;
        if let Some(url) = &results.store_url {
            net::check_store_url(url).map_err(|e| rule("results.storeUrl", url, &e))?;
        }
        if let Some(endpoint) = &results.endpoint {
            let parsed = net::check_endpoint(endpoint)
                .map_err(|e| rule("results.endpoint", endpoint, &e))?;
            if parsed.scheme() == "http" && !results.allow_http {
                return Err(rule(
                    "results.endpoint",
                    endpoint,
                    "a plain-HTTP endpoint needs results.allowHttp: true",
                ));
            }
        }
        if let Some(region) = &results.region
            && (region.is_empty()
                || region
                    .chars()
                    .any(|c| !(c.is_ascii_alphanumeric() || c == '-')))
        {
            return Err(rule(
                "results.region",
                region,
                "a region is letters, digits and '-' (e.g. us-east-1)",
            ));
        }
        if let Some(secret) = &results.credentials_secret {
            names::check_dns_subdomain("results.credentialsSecret.name", &secret.name)?;
            for (field, key) in [
                (
                    "results.credentialsSecret.accessKeyIdKey",
                    &secret.access_key_id_key,
                ),
                (
                    "results.credentialsSecret.secretAccessKeyKey",
                    &secret.secret_access_key_key,
                ),
            ] {
                check_data_key(field, key)?;
            }
            if results.store_url.is_none() {
                return Err(rule(
                    "results.storeUrl",
                    "",
                    "missing required value: credentials are set but no store URL",
                ));
            }
        }
        if let Some(ca) = &results.ca_bundle {
            match (&ca.config_map, &ca.secret) {
                (Some(name), None) => {
                    names::check_dns_subdomain("results.caBundle.configMap", name)?
                }
                (None, Some(name)) => names::check_dns_subdomain("results.caBundle.secret", name)?,
                _ => {
                    return Err(rule(
                        "results.caBundle",
                        "",
                        "set exactly one of results.caBundle.configMap, results.caBundle.secret",
                    ));
                }
            }
            check_data_key("results.caBundle.key", &ca.key)?;
            if results.store_url.is_none() {
                return Err(rule(
                    "results.storeUrl",
                    "",
                    "missing required value: a CA bundle is set but no store URL",
                ));
            }
        }
        Ok(())
    }

    fn validate_metadata(&self) -> Result<(), SpecError> {
        for (key, value) in &self.metadata.labels {
            let field = format!("metadata.labels.{key}");
            meta::check_qualified_name(key).map_err(|e| rule(&field, key, &e))?;
            meta::check_label_value(value).map_err(|e| rule(&field, value, &e))?;
            if labels::RESERVED.contains(&key.as_str()) {
                return Err(rule(
                    &field,
                    key,
                    "sidescan sets this label itself (cleanup and selectors rely on it)",
                ));
            }
        }
        for (prefix, map) in [
            ("metadata.annotations", &self.metadata.annotations),
            (
                "serviceAccount.annotations",
                &self.service_account.annotations,
            ),
        ] {
            for key in map.keys() {
                meta::check_qualified_name(key)
                    .map_err(|e| rule(&format!("{prefix}.{key}"), key, &e))?;
            }
        }
        let total = meta::annotations_size(
            self.metadata
                .annotations
                .iter()
                .chain(&self.service_account.annotations),
        );
        if total > meta::ANNOTATIONS_TOTAL_MAX {
            return Err(rule(
                "metadata.annotations",
                "",
                &format!(
                    "the annotations (with serviceAccount.annotations) are {total} bytes, above \
                     the API server's limit of {} bytes per object",
                    meta::ANNOTATIONS_TOTAL_MAX
                ),
            ));
        }
        Ok(())
    }

    fn validate_network_policy(&self) -> Result<(), SpecError> {
        let policy = &self.network_policy;
        for (field, peer) in [
            ("networkPolicy.apiServer", &policy.api_server),
            ("networkPolicy.store", &policy.store),
        ] {
            if let Some(peer) = peer {
                net::normalize_cidr(&peer.cidr)
                    .map_err(|e| rule(&format!("{field}.cidr"), &peer.cidr, &e))?;
                if peer.port == 0 {
                    return Err(rule(&format!("{field}.port"), "0", "it must be 1-65535"));
                }
            }
        }
        if !policy.enabled {
            return Ok(());
        }
        if self.network_policy_api_server().is_none() {
            return Err(rule(
                "networkPolicy.apiServer",
                "",
                "missing required value: the scanner reads its pod from the API server; give the \
                 CIDR and port of its endpoints (kubectl get endpoints kubernetes), or set \
                 cluster.apiServer to an IP address",
            ));
        }
        let remote_store = self
            .results
            .store_url
            .as_deref()
            .is_some_and(|u| !u.starts_with("file:"));
        if remote_store && self.network_policy_store().is_none() {
            return Err(rule(
                "networkPolicy.store",
                "",
                "missing required value: NetworkPolicies match IP addresses, not names; give the \
                 store's CIDR and port, or set results.endpoint to an IP address",
            ));
        }
        Ok(())
    }

    /// The API server egress of the NetworkPolicy: explicit, or `cluster.apiServer` as an IP.
    pub fn network_policy_api_server(&self) -> Option<EgressPeer> {
        if let Some(peer) = &self.network_policy.api_server {
            return net::normalize_cidr(&peer.cidr).ok().map(|cidr| EgressPeer {
                cidr,
                port: peer.port,
            });
        }
        let api = self.cluster.api_server.as_ref()?;
        let ip: std::net::IpAddr = api.host.parse().ok()?;
        Some(EgressPeer {
            cidr: net::normalize_cidr(&ip.to_string()).ok()?,
            port: api.port,
        })
    }

    /// The object-store egress of the NetworkPolicy: explicit, or `results.endpoint` as an IP.
    pub fn network_policy_store(&self) -> Option<EgressPeer> {
        if let Some(peer) = &self.network_policy.store {
            return net::normalize_cidr(&peer.cidr).ok().map(|cidr| EgressPeer {
                cidr,
                port: peer.port,
            });
        }
        let url = net::check_endpoint(self.results.endpoint.as_deref()?).ok()?;
        Some(EgressPeer {
            cidr: net::normalize_cidr(&net::endpoint_ip(&url)?.to_string()).ok()?,
            port: net::endpoint_port(&url)?,
        })
    }

    fn validate_jobs(&self) -> Result<(), SpecError> {
        let active_deadline = self.orchestrator.active_deadline_seconds;
        if active_deadline < 0 {
            return Err(rule(
                "orchestrator.activeDeadlineSeconds",
                &active_deadline.to_string(),
                "it must not be negative",
            ));
        }
        check_job_limits(
            "orchestrator",
            self.orchestrator.backoff_limit,
            self.orchestrator.ttl_seconds_after_finished,
            &self.schedule,
        )?;
        if self.orchestrator.active_deadline_seconds == 0 {
            return Err(rule(
                "orchestrator.activeDeadlineSeconds",
                "0",
                "it must be positive",
            ));
        }
        let deadlines = &self.orchestrator.deadlines;
        for (field, value) in [
            (
                "orchestrator.deadlines.deploySeconds",
                deadlines.deploy_seconds,
            ),
            ("orchestrator.deadlines.scanSeconds", deadlines.scan_seconds),
            (
                "orchestrator.deadlines.retrieveSeconds",
                deadlines.retrieve_seconds,
            ),
            (
                "orchestrator.deadlines.cleanupSeconds",
                deadlines.cleanup_seconds,
            ),
        ] {
            if value <= 0 {
                return Err(rule(field, &value.to_string(), "it must be positive"));
            }
        }
        // The Job stops its orchestrator at activeDeadlineSeconds: the phases must fit in it.
        if deadlines.total_seconds() > self.orchestrator.active_deadline_seconds {
            return Err(rule(
                "orchestrator.activeDeadlineSeconds",
                &self.orchestrator.active_deadline_seconds.to_string(),
                &format!(
                    "it must be at least the sum of orchestrator.deadlines ({} s), or the Job \
                     stops the orchestrator before its phases end",
                    deadlines.total_seconds()
                ),
            ));
        }
        validate_cron(&self.schedule.cron)
            .map_err(|e| rule("schedule.cron", &self.schedule.cron, &e))?;
        if let Some(zone) = &self.schedule.time_zone
            && !is_time_zone(zone)
        {
            return Err(rule(
                "schedule.timeZone",
                zone,
                "not a time zone of the IANA tz database (e.g. Europe/Berlin, Etc/UTC)",
            ));
        }
        Ok(())
    }
}

/// Resource names Kubernetes knows without a domain prefix.
const STANDARD_RESOURCES: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

fn validate_placement(
    prefix: &str,
    node_selector: &BTreeMap<String, String>,
    tolerations: &[Toleration],
    priority_class_name: Option<&str>,
) -> Result<(), SpecError> {
    for (key, value) in node_selector {
        let field = format!("{prefix}.nodeSelector.{key}");
        meta::check_qualified_name(key).map_err(|e| rule(&field, key, &e))?;
        meta::check_label_value(value).map_err(|e| rule(&field, value, &e))?;
    }
    for (i, t) in tolerations.iter().enumerate() {
        let field = format!("{prefix}.tolerations[{i}]");
        if let Some(key) = &t.key {
            meta::check_qualified_name(key).map_err(|e| rule(&format!("{field}.key"), key, &e))?;
        }
        if let Some(value) = &t.value {
            meta::check_label_value(value)
                .map_err(|e| rule(&format!("{field}.value"), value, &e))?;
            if t.operator == Some(TolerationOperator::Exists) && !value.is_empty() {
                return Err(rule(
                    &format!("{field}.value"),
                    value,
                    "must be empty when the operator is Exists",
                ));
            }
        }
        if t.key.is_none() && t.operator != Some(TolerationOperator::Exists) {
            return Err(rule(
                &format!("{field}.operator"),
                "",
                "an empty key matches every taint only with operator Exists",
            ));
        }
        if t.toleration_seconds.is_some() && t.effect != Some(TaintEffect::NoExecute) {
            return Err(rule(
                &format!("{field}.tolerationSeconds"),
                "",
                "only with effect NoExecute",
            ));
        }
    }
    if let Some(name) = priority_class_name {
        names::check_dns_subdomain(&format!("{prefix}.priorityClassName"), name)?;
    }
    Ok(())
}

fn is_env_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_id(field: &str, id: i64) -> Result<(), SpecError> {
    if (0..=ID_MAX).contains(&id) {
        Ok(())
    } else {
        Err(rule(
            field,
            &id.to_string(),
            &format!("it must be between 0 and {ID_MAX}"),
        ))
    }
}

fn check_quantity(field: &str, value: &str) -> Result<(), SpecError> {
    match parse_quantity(value) {
        None => Err(rule(
            field,
            value,
            "not a Kubernetes quantity (e.g. 100m, 128Mi, 1)",
        )),
        Some(v) if v < 0.0 => Err(rule(field, value, "a quantity must not be negative")),
        Some(_) => Ok(()),
    }
}

fn check_data_key(field: &str, key: &str) -> Result<(), SpecError> {
    if is_config_map_key(key) {
        Ok(())
    } else {
        Err(rule(
            field,
            key,
            "not a Secret or ConfigMap key (letters, digits, '-', '_', '.', at most 253)",
        ))
    }
}

/// An absolute path without `.`/`..` parts, as the kubelet mounts it (`//` and a trailing `/`
/// removed), so that two spellings of one directory compare equal.
fn clean_absolute_path(field: &str, path: &str) -> Result<String, SpecError> {
    if !path.starts_with('/') {
        return Err(rule(field, path, "it must be an absolute path"));
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(rule(
            field,
            path,
            "'.' and '..' are not allowed in a mount path",
        ));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Whether one of two clean absolute paths is the other or inside it.
fn nested(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/")) || y == "/";
    inside(a, b) || inside(b, a)
}

/// Checks a profile section (a scan spec's or an audit spec's) for the given backend.
pub fn check_profile(profile: Option<&Profile>, backend: ScanBackend) -> Result<(), SpecError> {
    let Some(profile) = profile else {
        if backend == ScanBackend::Cinc {
            return Err(rule(
                "profile",
                "",
                "missing required value: backend cinc needs profile.dir, profile.url or profile.configMap",
            ));
        }
        return Ok(());
    };
    let sources = [
        profile.dir.is_some(),
        profile.url.is_some(),
        profile.config_map.is_some(),
    ];
    let count = sources.iter().filter(|s| **s).count();
    let has_files = !profile.input_files.is_empty() || !profile.waiver_files.is_empty();
    if count > 1 || (count == 0 && !has_files) {
        return Err(rule(
            "profile",
            "",
            "set exactly one of profile.dir, profile.url, profile.configMap",
        ));
    }
    if count == 0 && backend == ScanBackend::Cinc {
        return Err(rule(
            "profile",
            "",
            "missing required value: backend cinc needs profile.dir, profile.url or profile.configMap",
        ));
    }
    if let Some(cm) = &profile.config_map {
        names::check_dns_subdomain("profile.configMap.name", &cm.name)?;
        if cm.files.is_empty() {
            return Err(rule(
                "profile.configMap.files",
                "",
                "missing required value: the profile's files",
            ));
        }
    }
    if let Some(url) = &profile.url {
        let parsed = url::Url::parse(url).map_err(|e| {
            rule(
                "profile.url",
                url,
                &format!("not a URL ({e}); expected s3://bucket/key, file:///path or https://"),
            )
        })?;
        match parsed.scheme() {
            "s3" | "s3a" | "file" => {}
            "https" if profile.sha256.is_none() => {
                return Err(rule(
                    "profile.sha256",
                    "",
                    "missing required value: an https:// profile is only used when its SHA-256 is pinned",
                ));
            }
            "https" => {}
            other => {
                return Err(rule(
                    "profile.url",
                    url,
                    &format!("scheme {other:?} is not supported (s3://, file:// or https://)"),
                ));
            }
        }
    }
    if let Some(sha) = &profile.sha256 {
        if profile.url.is_none() {
            return Err(rule(
                "profile.sha256",
                sha,
                "only with profile.url (the agent checks the fetched archive)",
            ));
        }
        if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(rule("profile.sha256", sha, "expected 64 hex digits"));
        }
    }
    for (field, files) in [
        ("profile.inputFiles", &profile.input_files),
        ("profile.waiverFiles", &profile.waiver_files),
    ] {
        for (i, file) in files.iter().enumerate() {
            non_empty(&format!("{field}[{i}]"), file)?;
            if profile.inputs_config_map.is_some() && !is_config_map_key(file) {
                return Err(rule(
                    &format!("{field}[{i}]"),
                    file,
                    "with profile.inputsConfigMap, a key of that ConfigMap",
                ));
            }
        }
    }
    if let Some(name) = &profile.inputs_config_map {
        names::check_dns_subdomain("profile.inputsConfigMap", name)?;
        if !has_files {
            return Err(rule(
                "profile.inputsConfigMap",
                name,
                "set but no profile.inputFiles or profile.waiverFiles name its keys",
            ));
        }
    }
    Ok(())
}

/// Where the threshold file comes from: exactly one of a local file and a ConfigMap.
pub(crate) fn check_thresholds(thresholds: Option<&Thresholds>) -> Result<(), SpecError> {
    let Some(thresholds) = thresholds else {
        return Ok(());
    };
    match (&thresholds.file, &thresholds.config_map) {
        (Some(file), None) => non_empty("thresholds.file", file),
        (None, Some(name)) => Ok(names::check_dns_subdomain("thresholds.configMap", name)?),
        _ => Err(rule(
            "thresholds",
            "",
            "set exactly one of thresholds.file, thresholds.configMap",
        )),
    }
}

/// The Job's retry and cleanup counts and the CronJob's history and start limits, which
/// Kubernetes refuses when negative (`job` names the Job's key: `orchestrator`, `runner`).
pub(crate) fn check_job_limits(
    job: &str,
    backoff_limit: i32,
    ttl_seconds_after_finished: i32,
    schedule: &Schedule,
) -> Result<(), SpecError> {
    for (field, value) in [
        (format!("{job}.backoffLimit"), i64::from(backoff_limit)),
        (
            format!("{job}.ttlSecondsAfterFinished"),
            i64::from(ttl_seconds_after_finished),
        ),
        (
            "schedule.successfulJobsHistoryLimit".to_string(),
            i64::from(schedule.successful_jobs_history_limit),
        ),
        (
            "schedule.failedJobsHistoryLimit".to_string(),
            i64::from(schedule.failed_jobs_history_limit),
        ),
        (
            "schedule.startingDeadlineSeconds".to_string(),
            schedule.starting_deadline_seconds,
        ),
    ] {
        if value < 0 {
            return Err(rule(&field, &value.to_string(), "it must not be negative"));
        }
    }
    Ok(())
}

pub(crate) fn rule(field: &str, value: &str, reason: &str) -> SpecError {
    SpecError::Rule {
        field: field.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

pub(crate) fn non_empty(field: &str, value: &str) -> Result<(), SpecError> {
    if value.trim().is_empty() {
        Err(rule(field, value, "missing required value"))
    } else {
        Ok(())
    }
}
