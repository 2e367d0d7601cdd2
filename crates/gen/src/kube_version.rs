//! Target Kubernetes version: decides API versions and which fields a cluster understands.

use crate::GenError;
use std::fmt;

/// A Kubernetes minor release (`1.X`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeVersion {
    pub minor: u32,
}

impl KubeVersion {
    /// The default: a current release.
    pub const DEFAULT: KubeVersion = KubeVersion { minor: 33 };
    /// The oldest release the generator renders for.
    pub const OLDEST: KubeVersion = KubeVersion { minor: 18 };
    /// The newest release whose API the generator knows: the newest `v1_XX` feature of the
    /// k8s-openapi release the strict checks use (0.29: 1.33 to 1.37). A test fails when
    /// k8s-openapi changes, so this is revisited with it.
    pub const NEWEST: KubeVersion = KubeVersion { minor: 37 };

    /// Parses `1.33`, `v1.33` or `1.33.2`.
    pub fn parse(value: &str) -> Result<KubeVersion, GenError> {
        let bad = |reason: &str| GenError::KubeVersion {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let text = value.strip_prefix('v').unwrap_or(value);
        let mut parts = text.split('.');
        let major = parts.next().unwrap_or("");
        let minor = parts
            .next()
            .ok_or_else(|| bad("expected MAJOR.MINOR, e.g. 1.33"))?;
        if let Some(patch) = parts.next()
            && (patch.is_empty() || !patch.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(bad("the patch part must be a number"));
        }
        if parts.next().is_some() || major != "1" {
            return Err(bad("expected 1.MINOR, e.g. 1.33"));
        }
        let minor: u32 = minor
            .parse()
            .map_err(|_| bad("the minor part must be a number"))?;
        let version = KubeVersion { minor };
        if version < Self::OLDEST || version > Self::NEWEST {
            return Err(bad(&format!(
                "not a known Kubernetes release: supported are {} to {}",
                Self::OLDEST,
                Self::NEWEST
            )));
        }
        Ok(version)
    }

    const fn at_least(self, minor: u32) -> bool {
        self.minor >= minor
    }

    /// CronJob is `batch/v1` from 1.21 (`batch/v1beta1` before; removed in 1.25).
    pub const fn cronjob_api_version(self) -> &'static str {
        if self.at_least(21) {
            "batch/v1"
        } else {
            "batch/v1beta1"
        }
    }

    /// `ttlSecondsAfterFinished`: alpha and off by default up to 1.20, beta and on in 1.21-1.22,
    /// GA from 1.23. Before 1.21 the API server would drop it, so it is not rendered.
    pub const fn has_ttl_after_finished(self) -> bool {
        self.at_least(21)
    }

    /// `securityContext.seccompProfile` from 1.19; the seccomp annotations before.
    pub const fn has_seccomp_field(self) -> bool {
        self.at_least(19)
    }

    /// `CronJob.spec.timeZone`: beta and on from 1.25, GA in 1.27.
    pub const fn has_cronjob_time_zone(self) -> bool {
        self.at_least(25)
    }

    /// Bound ServiceAccount tokens in projected volumes with `kube-root-ca.crt` everywhere (1.22,
    /// when `BoundServiceAccountTokenVolume` went GA). Before, only the legacy automounted token.
    pub const fn has_bound_token_projection(self) -> bool {
        self.at_least(22)
    }

    /// `admissionregistration.k8s.io/v1` ValidatingAdmissionPolicy and its binding: GA in 1.30.
    /// Before, the policies are not rendered (docs/security.md gives Kyverno and Gatekeeper
    /// equivalents).
    pub const fn has_validating_admission_policy(self) -> bool {
        self.at_least(30)
    }
}

impl Default for KubeVersion {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_spellings() {
        assert_eq!(KubeVersion::parse("1.33").unwrap().minor, 33);
        assert_eq!(KubeVersion::parse("v1.20").unwrap().minor, 20);
        assert_eq!(KubeVersion::parse("1.20.2").unwrap().minor, 20);
        assert_eq!(KubeVersion::parse("1.37").unwrap().minor, 37);
        for bad in [
            "2.1", "1", "1.x", "1.17", "1.38", "1.99", "1.20.x", "1.20.1.1", "",
        ] {
            assert!(KubeVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn newest_follows_the_k8s_openapi_release() {
        // k8s-openapi 0.29 ships v1_33 ..= v1_37; a new release moves NEWEST.
        let lock = include_str!("../../../Cargo.lock");
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"k8s-openapi\""))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
            .unwrap_or_default();
        assert_eq!(
            version, "\"0.29.0\"",
            "k8s-openapi changed: update KubeVersion::NEWEST"
        );
        assert_eq!(KubeVersion::NEWEST.minor, 37);
    }

    #[test]
    fn gates_follow_the_kubernetes_releases() {
        let v = |m| KubeVersion { minor: m };
        assert_eq!(v(20).cronjob_api_version(), "batch/v1beta1");
        assert_eq!(v(21).cronjob_api_version(), "batch/v1");
        assert!(!v(20).has_ttl_after_finished());
        assert!(v(21).has_ttl_after_finished());
        assert!(!v(18).has_seccomp_field());
        assert!(v(19).has_seccomp_field());
        assert!(!v(24).has_cronjob_time_zone());
        assert!(v(25).has_cronjob_time_zone());
        assert!(!v(21).has_bound_token_projection());
        assert!(v(22).has_bound_token_projection());
        assert!(!v(29).has_validating_admission_policy());
        assert!(v(30).has_validating_admission_policy());
    }
}
