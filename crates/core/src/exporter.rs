//! The exporter spec: what `sidescan-gen render exporter` renders a `sidescan-runner exporter`
//! Deployment, Service, ServiceAccount and optional ServiceMonitor from. A small spec of its own,
//! or derived from an audit spec ([`ExporterSpec::from_audit`]: the same name, namespace,
//! cluster name, images and results store). Pure serde types: unknown keys are errors.

use crate::audit::AuditSpec;
use crate::names;
use crate::spec::validate::{meta, non_empty, rule};
use crate::spec::{
    Cluster, Images, Resources, Results, SpecError, default_runner_image, is_quantity,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The port `/metrics` is served on (Prometheus's default-port allocations list 9464 for
/// OpenMetrics exporters without a port of their own).
pub const DEFAULT_PORT: u16 = 9464;

/// The whole exporter spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExporterSpec {
    /// The objects are `sidescan-<name>-exporter`.
    #[serde(default = "default_name")]
    pub name: String,
    /// The `cluster` label of every series (default: the latest audit's `clusterName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default)]
    pub images: Images,
    #[serde(default)]
    pub runner: ExporterRunner,
    /// The store the audits and scans are in (`s3://bucket/prefix`), its endpoint and the
    /// credentials Secret (list and get rights are enough).
    #[serde(default)]
    pub results: Results,
    /// Seconds between refreshes from the store.
    #[serde(default = "default_refresh")]
    pub refresh_seconds: u64,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default)]
    pub service_monitor: ServiceMonitor,
}

/// The exporter's container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExporterRunner {
    #[serde(default = "default_runner_image")]
    pub image: String,
    #[serde(default = "ExporterRunner::default_resources")]
    pub resources: Resources,
}

impl ExporterRunner {
    pub fn default_resources() -> Resources {
        Resources::of([("cpu", "10m"), ("memory", "32Mi")], "128Mi")
    }
}

impl Default for ExporterRunner {
    fn default() -> Self {
        ExporterRunner {
            image: default_runner_image(),
            resources: ExporterRunner::default_resources(),
        }
    }
}

/// A Prometheus Operator `ServiceMonitor` for the exporter's Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceMonitor {
    #[serde(default)]
    pub enabled: bool,
    /// The scrape interval (a Prometheus duration).
    #[serde(default = "default_interval")]
    pub interval: String,
    /// Labels the Prometheus's `serviceMonitorSelector` selects on (e.g. `release: prometheus`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Default for ServiceMonitor {
    fn default() -> Self {
        ServiceMonitor {
            enabled: false,
            interval: default_interval(),
            labels: BTreeMap::new(),
        }
    }
}

fn default_name() -> String {
    "audit".into()
}
fn default_namespace() -> String {
    "sidescan".into()
}
fn default_refresh() -> u64 {
    300
}
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_interval() -> String {
    "60s".into()
}

impl ExporterSpec {
    /// The exporter of an audit's results: its name, namespace, cluster name, images, runner
    /// image and results store; everything else the defaults.
    pub fn from_audit(audit: &AuditSpec) -> ExporterSpec {
        ExporterSpec {
            name: audit.name.clone(),
            cluster_name: audit.cluster_name.clone(),
            namespace: audit.namespace.clone(),
            images: audit.images.clone(),
            runner: ExporterRunner {
                image: audit.runner.image.clone(),
                ..ExporterRunner::default()
            },
            results: audit.results.clone(),
            refresh_seconds: default_refresh(),
            port: default_port(),
            cluster: Cluster {
                host_network: audit.cluster.host_network,
                api_server: None,
            },
            service_monitor: ServiceMonitor::default(),
        }
    }

    /// The rules serde cannot express; each error names its key.
    pub fn validate(&self) -> Result<(), SpecError> {
        names::check_dns_label("namespace", &self.namespace)?;
        names::check_dns_label("name", &self.name)?;
        // `sidescan-<name>-exporter` is a Service name: a DNS label of at most 63 characters.
        if self.name.len() > 45 {
            return Err(rule(
                "name",
                &self.name,
                "at most 45 characters, so that sidescan-<name>-exporter is a valid Service name",
            ));
        }
        if let Some(cluster) = &self.cluster_name {
            names::check_dns_label("clusterName", cluster)?;
        }
        non_empty("runner.image", &self.runner.image)?;
        for (kind, map) in [
            ("requests", &self.runner.resources.requests),
            ("limits", &self.runner.resources.limits),
        ] {
            for (name, value) in map {
                if !is_quantity(value) {
                    return Err(rule(
                        &format!("runner.resources.{kind}.{name}"),
                        value,
                        "not a Kubernetes quantity",
                    ));
                }
            }
        }
        for (i, secret) in self.images.pull_secrets.iter().enumerate() {
            names::check_dns_subdomain(&format!("images.pullSecrets[{i}]"), secret)?;
        }
        let Some(url) = &self.results.store_url else {
            return Err(rule(
                "results.storeUrl",
                "",
                "missing required value: the store the exporter reads (s3://bucket/prefix)",
            ));
        };
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
        let bucket = url.get(scheme.len() + 3..).unwrap_or("").split('/').next();
        if !matches!(scheme, "s3" | "s3a") || bucket.is_none_or(str::is_empty) {
            return Err(rule(
                "results.storeUrl",
                url,
                "the exporter runs in the cluster: use s3://bucket/prefix",
            ));
        }
        if let Some(secret) = &self.results.credentials_secret {
            names::check_dns_subdomain("results.credentialsSecret.name", &secret.name)?;
        }
        if !(10..=86_400).contains(&self.refresh_seconds) {
            return Err(rule(
                "refreshSeconds",
                &self.refresh_seconds.to_string(),
                "between 10 and 86400",
            ));
        }
        if self.port < 1024 {
            return Err(rule(
                "port",
                &self.port.to_string(),
                "1024 or above: the exporter runs without privileges",
            ));
        }
        if self.service_monitor.enabled && !is_duration(&self.service_monitor.interval) {
            return Err(rule(
                "serviceMonitor.interval",
                &self.service_monitor.interval,
                "not a Prometheus duration (e.g. 60s, 5m)",
            ));
        }
        for (key, value) in &self.service_monitor.labels {
            let field = format!("serviceMonitor.labels.{key}");
            meta::check_qualified_name(key).map_err(|e| rule(&field, key, &e))?;
            meta::check_label_value(value).map_err(|e| rule(&field, value, &e))?;
        }
        Ok(())
    }
}

/// A Prometheus duration: digits and a unit, repeated (`90s`, `1m30s`).
fn is_duration(text: &str) -> bool {
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

/// Deserializes an exporter spec strictly, then checks [`ExporterSpec::validate`].
pub fn from_value(value: serde_json::Value) -> Result<ExporterSpec, SpecError> {
    let spec: ExporterSpec = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let message = message.lines().next().unwrap_or("").to_string();
        let field = if path == "." {
            "exporter spec".to_string()
        } else {
            path
        };
        rule(&field, "", &message)
    })?;
    spec.validate()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> serde_json::Value {
        json!({"results": {"storeUrl": "s3://bucket/scans"}})
    }

    #[test]
    fn a_minimal_spec_takes_the_defaults() {
        let spec = from_value(minimal()).unwrap();
        assert_eq!(spec.name, "audit");
        assert_eq!(spec.namespace, "sidescan");
        assert_eq!(spec.port, DEFAULT_PORT);
        assert_eq!(spec.refresh_seconds, 300);
        assert!(!spec.service_monitor.enabled);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (patch, key) in [
            (json!({"results": {}}), "results.storeUrl"),
            (
                json!({"results": {"storeUrl": "file:///x"}}),
                "results.storeUrl",
            ),
            (json!({"refreshSeconds": 5}), "refreshSeconds"),
            (json!({"port": 80}), "port"),
            (json!({"clusterName": "Prod"}), "clusterName"),
            (
                json!({"serviceMonitor": {"enabled": true, "interval": "often"}}),
                "serviceMonitor.interval",
            ),
            (json!({"servicemonitor": {}}), "servicemonitor"),
        ] {
            let mut value = minimal();
            for (k, v) in patch.as_object().unwrap() {
                value[k] = v.clone();
            }
            let err = from_value(value).unwrap_err().to_string();
            assert!(err.contains(key), "{patch}: {err}");
        }
        assert!(is_duration("1m30s") && is_duration("500ms") && !is_duration("5"));
    }

    #[test]
    fn an_audit_spec_gives_its_store_and_names() {
        let audit = crate::audit::from_value(json!({
            "name": "nightly", "namespace": "sec", "clusterName": "east",
            "results": {"storeUrl": "s3://b/p", "endpoint": "http://127.0.0.1:8333",
                        "credentialsSecret": {"name": "s3"}},
            "runner": {"image": "reg/runner:1"}, "cluster": {"hostNetwork": true},
            "scanner": {"backend": "builtin"},
        }))
        .unwrap();
        let spec = ExporterSpec::from_audit(&audit);
        assert_eq!(
            (spec.name.as_str(), spec.namespace.as_str()),
            ("nightly", "sec")
        );
        assert_eq!(spec.cluster_name.as_deref(), Some("east"));
        assert_eq!(spec.results, audit.results);
        assert_eq!(spec.runner.image, "reg/runner:1");
        assert!(spec.cluster.host_network);
        spec.validate().unwrap();
    }
}
