//! Audit ids: one per audit, shared by every clone's labels and the audit's folder
//! `<prefix>/audits/<audit id>/`. A DNS label, so it is a valid label value and key segment.

use crate::{CoreError, names};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuditId(String);

impl AuditId {
    pub fn parse(value: &str) -> Result<AuditId, CoreError> {
        names::check_dns_label("audit id", value)?;
        if value.len() < 6 {
            return Err(CoreError::InvalidName {
                field: "audit id".into(),
                value: value.into(),
                kind: "audit id",
                reason: "it must be at least 6 characters long".into(),
            });
        }
        Ok(AuditId(value.to_string()))
    }

    /// `audit-<yyyymmdd>-<hhmmss>-<6 characters>`: sorts by start time (UTC); the entropy comes
    /// from the caller (random bytes in the binary, fixed ones in tests).
    pub fn generate(started: jiff::Timestamp, entropy: [u8; 8]) -> AuditId {
        let suffix = crate::RunId::from_entropy(entropy);
        AuditId(format!(
            "audit-{}-{}",
            started.strftime("%Y%m%d-%H%M%S"),
            &suffix.as_str()[..6]
        ))
    }

    /// The id of the audit a Job runs: the Job's name and 6 characters derived from its UID, so
    /// every pod of the Job (a retry after a crash) continues the same audit, and a later Job of
    /// the same name starts a new one.
    pub fn for_job(job_name: &str, uid_digest: [u8; 8]) -> AuditId {
        let suffix = crate::RunId::from_entropy(uid_digest);
        let suffix = &suffix.as_str()[..6];
        AuditId(names::label_with_suffix(
            &job_name.to_ascii_lowercase().replace('.', "-"),
            suffix,
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// When the audit started, as far as its id tells: `audit-<yyyymmdd>-<hhmmss>-...` ids carry
    /// their start; the ids of a CronJob's Jobs (`<cronjob>-<minutes since the epoch>-<6
    /// characters>`, the Job name the CronJob controller gives) their scheduled time. Other Job
    /// names tell nothing.
    pub fn time_hint(&self) -> Option<jiff::Timestamp> {
        time_hint(&self.0)
    }
}

/// [`AuditId::time_hint`] of an id as listed (not checked as an [`AuditId`]).
pub fn time_hint(id: &str) -> Option<jiff::Timestamp> {
    if let Some(rest) = id.strip_prefix("audit-")
        && rest.len() > 16
        && rest.as_bytes()[15] == b'-'
    {
        return jiff::civil::DateTime::strptime("%Y%m%d-%H%M%S", &rest[..15])
            .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
            .map(|z| z.timestamp())
            .ok();
    }
    let mut parts = id.rsplitn(3, '-');
    let (_suffix, minutes) = (parts.next()?, parts.next()?);
    parts.next()?;
    if !(8..=10).contains(&minutes.len()) || !minutes.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minutes: i64 = minutes.parse().ok()?;
    jiff::Timestamp::from_second(minutes.checked_mul(60)?).ok()
}

impl TryFrom<String> for AuditId {
    type Error = CoreError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        AuditId::parse(&value)
    }
}

impl From<AuditId> for String {
    fn from(id: AuditId) -> String {
        id.0
    }
}

impl std::fmt::Display for AuditId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_sort_by_time_and_parse() {
        let a = AuditId::generate("2026-11-26T03:00:00Z".parse().unwrap(), [1; 8]);
        let b = AuditId::generate("2026-11-26T03:00:01Z".parse().unwrap(), [0; 8]);
        assert!(a.as_str().starts_with("audit-20261126-030000-"), "{a}");
        assert!(a < b);
        assert_eq!(AuditId::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn job_ids_are_stable_per_job_and_valid_labels() {
        let name = "sidescan-nightly-audit-29412345";
        let a = AuditId::for_job(name, [3; 8]);
        assert_eq!(a, AuditId::for_job(name, [3; 8]));
        assert_ne!(a, AuditId::for_job(name, [4; 8]));
        assert!(a.as_str().starts_with(name));
        let long = AuditId::for_job(&"x".repeat(80), [3; 8]);
        AuditId::parse(long.as_str()).unwrap();
    }

    #[test]
    fn ids_tell_when_they_started() {
        let a = AuditId::generate("2026-11-26T03:00:07Z".parse().unwrap(), [1; 8]);
        assert_eq!(a.time_hint(), Some("2026-11-26T03:00:07Z".parse().unwrap()));
        // A CronJob's Job: minutes since the epoch (29,412,345 min = 2025-12-02T...).
        let job = AuditId::for_job("sidescan-nightly-29412345", [3; 8]);
        assert_eq!(
            job.time_hint(),
            Some(jiff::Timestamp::from_second(29_412_345 * 60).unwrap())
        );
        assert_eq!(
            AuditId::for_job("sidescan-manual", [3; 8]).time_hint(),
            None
        );
        assert_eq!(time_hint("audit-2026xx26-030000-abcdef"), None);
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in ["", "abc", "Audit-1234", "a/b/c/d", "-abcdef", "abc..def"] {
            assert!(AuditId::parse(bad).is_err(), "{bad}");
        }
    }
}
