//! The rules a spec must follow that serde cannot express; each error names the field at fault.

use super::*;
use crate::{CoreError, names};
use thiserror::Error;

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

fn value_note(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!(" (got {value:?})")
    }
}

impl ScanSpec {
    /// Checks names and the rules serde cannot express, naming the field at fault.
    pub fn validate(&self) -> Result<(), SpecError> {
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
        non_empty("target.image", &self.target.image)?;
        non_empty("scanner.image", &self.scanner.image)?;
        non_empty("orchestrator.image", &self.orchestrator.image)?;
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
                    if !is_quantity(value) {
                        return Err(rule(
                            &format!("{field}.{kind}.{name}"),
                            value,
                            "not a Kubernetes quantity (e.g. 100m, 128Mi, 1)",
                        ));
                    }
                }
            }
        }
        if !is_quantity(&self.scanner.results_size_limit) {
            return Err(rule(
                "scanner.resultsSizeLimit",
                &self.scanner.results_size_limit,
                "not a Kubernetes quantity (e.g. 256Mi)",
            ));
        }
        for name in self.target.env.keys() {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(rule(
                    &format!("target.env.{name}"),
                    name,
                    "environment variable names are letters, digits and '_', not starting with a digit",
                ));
            }
        }
        for (i, secret) in self.images.pull_secrets.iter().enumerate() {
            names::check_dns_subdomain(&format!("images.pullSecrets[{i}]"), secret)?;
        }
        if !self.scanner.results_dir.starts_with('/') {
            return Err(rule(
                "scanner.resultsDir",
                &self.scanner.results_dir,
                "it must be an absolute path",
            ));
        }
        for (field, value) in [
            ("security.runAsUser", self.security.run_as_user),
            ("security.runAsGroup", self.security.run_as_group),
        ] {
            if let Some(id) = value
                && !(0..=i64::from(u32::MAX)).contains(&id)
            {
                return Err(rule(
                    field,
                    &id.to_string(),
                    "it must be between 0 and 4294967295",
                ));
            }
        }
        match (self.security.mode, self.security.run_as_user) {
            (SecurityMode::SameUid, None) => {
                return Err(rule(
                    "security.runAsUser",
                    "",
                    "missing required value: mode same-uid needs the target's UID",
                ));
            }
            (SecurityMode::SameUid, Some(0)) => {
                return Err(rule(
                    "security.runAsUser",
                    "0",
                    "mode same-uid runs as non-root: use mode ptrace for a root target",
                ));
            }
            _ => {}
        }
        match &self.profile {
            None if self.scanner.backend == ScanBackend::Cinc => {
                return Err(rule(
                    "profile",
                    "",
                    "missing required value: backend cinc needs profile.dir, profile.url or profile.configMap",
                ));
            }
            None => {}
            Some(profile) => {
                let set = [
                    profile.dir.is_some(),
                    profile.url.is_some(),
                    profile.config_map.is_some(),
                ];
                if set.iter().filter(|s| **s).count() != 1 {
                    return Err(rule(
                        "profile",
                        "",
                        "set exactly one of profile.dir, profile.url, profile.configMap",
                    ));
                }
                if let Some(cm) = &profile.config_map {
                    names::check_dns_subdomain("profile.configMap.name", &cm.name)?;
                    for (i, file) in cm.files.iter().enumerate() {
                        if profile_key(file).is_none() {
                            return Err(rule(
                                &format!("profile.configMap.files[{i}]"),
                                file,
                                "not a relative path of letters, digits, '-', '.', '_' and '/'",
                            ));
                        }
                    }
                }
            }
        }
        if let Some(thresholds) = &self.thresholds {
            match (&thresholds.file, &thresholds.config_map) {
                (Some(_), None) => {}
                (None, Some(name)) => names::check_dns_subdomain("thresholds.configMap", name)?,
                _ => {
                    return Err(rule(
                        "thresholds",
                        "",
                        "set exactly one of thresholds.file, thresholds.configMap",
                    ));
                }
            }
        }
        if let Some(secret) = &self.results.credentials_secret {
            names::check_dns_subdomain("results.credentialsSecret.name", &secret.name)?;
            if self.results.store_url.is_none() {
                return Err(rule(
                    "results.storeUrl",
                    "",
                    "missing required value: credentials are set but no store URL",
                ));
            }
        }
        if let Some(api) = &self.cluster.api_server {
            non_empty("cluster.apiServer.host", &api.host)?;
        }
        for (field, value) in [
            (
                "orchestrator.activeDeadlineSeconds",
                self.orchestrator.active_deadline_seconds,
            ),
            (
                "orchestrator.backoffLimit",
                i64::from(self.orchestrator.backoff_limit),
            ),
            (
                "orchestrator.ttlSecondsAfterFinished",
                i64::from(self.orchestrator.ttl_seconds_after_finished),
            ),
            (
                "schedule.successfulJobsHistoryLimit",
                i64::from(self.schedule.successful_jobs_history_limit),
            ),
            (
                "schedule.failedJobsHistoryLimit",
                i64::from(self.schedule.failed_jobs_history_limit),
            ),
            (
                "schedule.startingDeadlineSeconds",
                self.schedule.starting_deadline_seconds,
            ),
        ] {
            if value < 0 {
                return Err(rule(field, &value.to_string(), "it must not be negative"));
            }
        }
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
}

/// A Kubernetes resource quantity: a decimal number with an optional binary (`Ki`..`Ei`),
/// decimal (`m`, `k`, `M`..`E`) or exponent (`e3`) suffix.
pub fn is_quantity(value: &str) -> bool {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let digits_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    let exponent_ok = |s: &str| {
        let s = s.strip_prefix(['+', '-']).unwrap_or(s);
        !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
    };
    let suffix_ok = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || suffix.strip_prefix(['e', 'E']).is_some_and(exponent_ok);
    number_ok && suffix_ok
}

fn rule(field: &str, value: &str, reason: &str) -> SpecError {
    SpecError::Rule {
        field: field.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn non_empty(field: &str, value: &str) -> Result<(), SpecError> {
    if value.trim().is_empty() {
        Err(rule(field, value, "missing required value"))
    } else {
        Ok(())
    }
}
