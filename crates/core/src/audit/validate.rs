//! Reading an audit spec from a JSON tree (the YAML a user wrote, parsed by the caller) and the
//! rules serde cannot express. Every error is one line naming the key at fault.

use super::selector::Selector;
use super::*;
use crate::names;
use crate::spec::validate::{check_job_limits, check_thresholds, non_empty, rule};
use crate::spec::{SpecError, is_quantity};

/// The error type of audit specs is the scan spec's: `<key>: <what is wrong>`.
pub type AuditSpecError = SpecError;

/// Deserializes an audit spec strictly (unknown keys, wrong types and unknown workload kinds
/// name their key, e.g. `select.kinds[1]`), then checks [`AuditSpec::validate`].
pub fn from_value(value: serde_json::Value) -> Result<AuditSpec, SpecError> {
    let spec: AuditSpec = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let message = message.lines().next().unwrap_or("").to_string();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'));
        let (field, reason) = match missing {
            Some(name) if path == "." => (name.to_string(), "missing required value".to_string()),
            Some(name) => (
                format!("{path}.{name}"),
                "missing required value".to_string(),
            ),
            None if path == "." => ("audit spec".to_string(), message),
            None => (path, message),
        };
        rule(&field, "", &reason)
    })?;
    spec.validate()?;
    Ok(spec)
}

fn quantities(field: &str, resources: &Resources) -> Result<(), SpecError> {
    for (kind, map) in [
        ("requests", &resources.requests),
        ("limits", &resources.limits),
    ] {
        for (name, value) in map {
            if !is_quantity(value) {
                return Err(rule(
                    &format!("{field}.{kind}.{name}"),
                    value,
                    "not a Kubernetes quantity (e.g. 100m, 128Mi, 1)",
                ));
            }
        }
    }
    Ok(())
}

fn within(field: &str, value: u64, min: u64, max: u64) -> Result<(), SpecError> {
    if value < min || value > max {
        return Err(rule(
            field,
            &value.to_string(),
            &format!("it must be between {min} and {max}"),
        ));
    }
    Ok(())
}

impl AuditSpec {
    /// Checks names and the rules serde cannot express, naming the key at fault.
    pub fn validate(&self) -> Result<(), SpecError> {
        names::check_dns_label("namespace", &self.namespace)?;
        names::check_dns_label("name", &self.name)?;
        // CronJob names are at most 52 characters (the controller appends 11), `sidescan-` is 9.
        if self.name.len() > 43 {
            return Err(rule(
                "name",
                &self.name,
                "at most 43 characters, so that the CronJob sidescan-<name> fits in 52",
            ));
        }
        if let Some(cluster) = &self.cluster_name {
            names::check_dns_label("clusterName", cluster)?;
        }
        if let Some(ns) = &self.placement.namespace {
            names::check_dns_label("placement.namespace", ns)?;
        }
        self.validate_select()?;
        names::check_dns_label("scanner.container", &self.scanner.container)?;
        if self.scanner.identify != crate::spec::ScannerIdentify::Heuristic {
            return Err(rule(
                "scanner.identify",
                self.scanner.identify.as_str(),
                "clones find their target by the heuristic and mount no API token: remove it",
            ));
        }
        non_empty("scanner.image", &self.scanner.image)?;
        non_empty("runner.image", &self.runner.image)?;
        if !self.scanner.results_dir.starts_with('/') {
            return Err(rule(
                "scanner.resultsDir",
                &self.scanner.results_dir,
                "it must be an absolute path",
            ));
        }
        if !is_quantity(&self.scanner.results_size_limit) {
            return Err(rule(
                "scanner.resultsSizeLimit",
                &self.scanner.results_size_limit,
                "not a Kubernetes quantity (e.g. 256Mi)",
            ));
        }
        quantities("target.resources", &self.target.resources)?;
        quantities("scanner.resources", &self.scanner.resources)?;
        quantities("runner.resources", &self.runner.resources)?;
        for (i, secret) in self.images.pull_secrets.iter().enumerate() {
            names::check_dns_subdomain(&format!("images.pullSecrets[{i}]"), secret)?;
        }
        self.validate_profile()?;
        check_thresholds(self.thresholds.as_ref())?;
        self.validate_results()?;
        if let Some(api) = &self.cluster.api_server {
            non_empty("cluster.apiServer.host", &api.host)?;
        }
        within("concurrency", u64::from(self.concurrency), 1, 256)?;
        within(
            "targetDeadlineSeconds",
            self.target_deadline_seconds,
            30,
            86_400,
        )?;
        within("retries", u64::from(self.retries), 0, 5)?;
        if let Some(webhook) = self.notify.as_ref().and_then(|n| n.webhook.as_ref()) {
            // The URL is never echoed: it often holds a secret.
            let url = url::Url::parse(&webhook.url)
                .map_err(|e| rule("notify.webhook.url", "", &format!("not a URL ({e})")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(rule(
                    "notify.webhook.url",
                    "",
                    "it must be an http:// or https:// URL with a host",
                ));
            }
        }
        if self.runner.active_deadline_seconds <= 0 {
            return Err(rule(
                "runner.activeDeadlineSeconds",
                &self.runner.active_deadline_seconds.to_string(),
                "it must be positive",
            ));
        }
        check_job_limits(
            "runner",
            self.runner.backoff_limit,
            self.runner.ttl_seconds_after_finished,
            &self.schedule,
        )?;
        if self.schedule.cron.split_whitespace().count() != 5
            && !self.schedule.cron.starts_with('@')
        {
            return Err(rule(
                "schedule.cron",
                &self.schedule.cron,
                "expected five fields (minute hour day-of-month month day-of-week) or @hourly etc.",
            ));
        }
        Ok(())
    }

    /// The parsed `select.labelSelector` (checked by [`AuditSpec::validate`]).
    pub fn label_selector(&self) -> Result<Selector, SpecError> {
        Selector::parse(&self.select.label_selector).map_err(|reason| {
            rule(
                "select.labelSelector",
                &self.select.label_selector,
                &format!("not a label selector: {reason}"),
            )
        })
    }

    fn validate_select(&self) -> Result<(), SpecError> {
        let select = &self.select;
        for (i, ns) in select.namespaces.iter().enumerate() {
            names::check_dns_label(&format!("select.namespaces[{i}]"), ns)?;
        }
        for (i, ns) in select.exclude_namespaces.iter().enumerate() {
            names::check_dns_label(&format!("select.excludeNamespaces[{i}]"), ns)?;
        }
        self.label_selector()?;
        if select.kinds.is_empty() {
            return Err(rule(
                "select.kinds",
                "",
                "at least one kind: Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod",
            ));
        }
        for (i, container) in select.containers.iter().enumerate() {
            names::check_dns_label(&format!("select.containers[{i}]"), container)?;
        }
        for (i, image) in select.images.iter().enumerate() {
            if image.trim().is_empty() || image.contains(char::is_whitespace) {
                return Err(rule(
                    &format!("select.images[{i}]"),
                    image,
                    "an image reference (repository[:tag][@digest]) without spaces",
                ));
            }
        }
        Ok(())
    }

    fn validate_profile(&self) -> Result<(), SpecError> {
        crate::spec::check_profile(self.profile.as_ref(), self.scanner.backend)?;
        // Audit clones do not carry input or waiver files yet: refuse them rather than scan
        // without the waivers the user wrote.
        if let Some(profile) = &self.profile {
            for (field, set) in [
                ("profile.inputFiles", !profile.input_files.is_empty()),
                ("profile.waiverFiles", !profile.waiver_files.is_empty()),
                (
                    "profile.inputsConfigMap",
                    profile.inputs_config_map.is_some(),
                ),
            ] {
                if set {
                    return Err(rule(
                        field,
                        "",
                        "not supported in audit specs yet (scan specs take it)",
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_results(&self) -> Result<(), SpecError> {
        let Some(url) = &self.results.store_url else {
            return Err(rule(
                "results.storeUrl",
                "",
                "missing required value: an audit stores every target's results and its report \
                 in an object store the clones reach (s3://bucket/prefix)",
            ));
        };
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
        if !matches!(scheme, "s3" | "s3a") {
            return Err(rule(
                "results.storeUrl",
                url,
                "an audit's clones upload from inside the cluster: use s3://bucket/prefix",
            ));
        }
        let bucket = url[scheme.len() + 3..].split('/').next().unwrap_or("");
        if bucket.is_empty() {
            return Err(rule(
                "results.storeUrl",
                url,
                "no bucket name (expected s3://bucket/prefix)",
            ));
        }
        if let Some(secret) = &self.results.credentials_secret {
            names::check_dns_subdomain("results.credentialsSecret.name", &secret.name)?;
        }
        Ok(())
    }
}
