//! CronJob time zones: names of the IANA tz database, exactly as Go's `time.LoadLocation` (which
//! the API server validates with) finds them: case-sensitive, links included, `Local` refused.

use std::collections::BTreeSet;
use std::sync::OnceLock;

fn names() -> &'static BTreeSet<String> {
    static NAMES: OnceLock<BTreeSet<String>> = OnceLock::new();
    // The tz database compiled into the binary (jiff's bundled copy), so the answer does not
    // depend on the machine's /usr/share/zoneinfo.
    NAMES.get_or_init(|| {
        jiff::tz::TimeZoneDatabase::bundled()
            .available()
            .map(|name| name.as_str().to_string())
            .collect()
    })
}

/// Whether `name` is a time zone the API server accepts for `CronJob.spec.timeZone`.
pub fn is_time_zone(name: &str) -> bool {
    name != "Local" && names().contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_zones_only() {
        for good in [
            "Europe/Berlin",
            "UTC",
            "Etc/UTC",
            "America/Argentina/Buenos_Aires",
        ] {
            assert!(is_time_zone(good), "{good}");
        }
        for bad in [
            "Mars/Base",
            "Local",
            "europe/berlin",
            "",
            "Europe/Berlin ",
            "../etc",
        ] {
            assert!(!is_time_zone(bad), "{bad}");
        }
        assert!(names().len() > 400, "{}", names().len());
    }
}
