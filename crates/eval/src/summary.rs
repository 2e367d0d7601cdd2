//! Counts per status and severity, and compliance, exactly as SAF computes them.

use serde::Serialize;

use crate::hdf::{Hdf, SEVERITIES, Status};

/// Number of counted controls per status (threshold names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub no_impact: u64,
    pub error: u64,
}

impl StatusCounts {
    pub fn get(&self, status: Status) -> u64 {
        match status {
            Status::Passed => self.passed,
            Status::Failed => self.failed,
            Status::NotReviewed => self.skipped,
            Status::NotApplicable => self.no_impact,
            Status::ProfileError => self.error,
        }
    }

    fn bump(&mut self, status: Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::NotReviewed => self.skipped += 1,
            Status::NotApplicable => self.no_impact += 1,
            Status::ProfileError => self.error += 1,
        }
    }

    /// Controls that count towards compliance (all but Not Applicable).
    pub fn assessed(&self) -> u64 {
        self.passed + self.failed + self.skipped + self.error
    }
}

/// Counts per severity bucket. A control whose severity is none of these (possible only with
/// SAF-compatible semantics, e.g. a raw "High" tag) counts in the totals only, as in SAF.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    pub critical: StatusCounts,
    pub high: StatusCounts,
    pub medium: StatusCounts,
    pub low: StatusCounts,
    pub none: StatusCounts,
}

impl SeverityCounts {
    pub fn get(&self, severity: &str) -> Option<&StatusCounts> {
        match severity {
            "critical" => Some(&self.critical),
            "high" => Some(&self.high),
            "medium" => Some(&self.medium),
            "low" => Some(&self.low),
            "none" => Some(&self.none),
            _ => None,
        }
    }

    fn get_mut(&mut self, severity: &str) -> Option<&mut StatusCounts> {
        match severity {
            "critical" => Some(&mut self.critical),
            "high" => Some(&mut self.high),
            "medium" => Some(&mut self.medium),
            "low" => Some(&mut self.low),
            "none" => Some(&mut self.none),
            _ => None,
        }
    }
}

/// One counted control, briefly: what threshold control-id lists and reports need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlBrief {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub status: Status,
    pub severity: String,
}

/// The evaluation of one HDF file: what thresholds are checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// First profile's name.
    pub profile: String,
    /// Number of profiles in the file.
    pub profiles: usize,
    /// Number of counted controls.
    pub controls: usize,
    /// round(100 * passed / (passed + failed + skipped + error)), half up; 0 if nothing assessed.
    pub compliance: u64,
    pub totals: StatusCounts,
    pub severities: SeverityCounts,
    /// Failed controls, in profile order.
    pub failed_controls: Vec<ControlBrief>,
    /// Every counted control in profile order (for control-id thresholds and reports).
    #[serde(skip)]
    pub all_controls: Vec<ControlBrief>,
}

impl Summary {
    /// Ids of counted controls with this status and severity, in profile order (SAF's
    /// `<status>.<severity>.controls`).
    pub fn control_ids(&self, status: Status, severity: &str) -> Vec<&str> {
        self.all_controls
            .iter()
            .filter(|c| c.status == status && c.severity == severity)
            .map(|c| c.id.as_str())
            .collect()
    }

    /// Severity labels per status in order of first appearance (how SAF's generator adds keys).
    pub fn severities_seen(&self, status: Status) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for c in self.all_controls.iter().filter(|c| c.status == status) {
            if !seen.contains(&c.severity.as_str()) {
                seen.push(&c.severity);
            }
        }
        seen
    }
}

/// SAF's compliance: Math.round(100 * P / (P + F + NR + PE)), computed exactly in integers.
pub fn compliance(totals: &StatusCounts) -> u64 {
    let assessed = totals.assessed();
    if assessed == 0 {
        return 0;
    }
    (200 * totals.passed + assessed) / (2 * assessed)
}

/// Counts statuses and severities of the counted controls.
pub fn summarize(hdf: &Hdf) -> Summary {
    let mut totals = StatusCounts::default();
    let mut severities = SeverityCounts::default();
    let mut all_controls = Vec::with_capacity(hdf.controls.len());
    for c in &hdf.controls {
        totals.bump(c.status);
        if let Some(bucket) = severities.get_mut(&c.severity) {
            bucket.bump(c.status);
        }
        all_controls.push(ControlBrief {
            id: c.id.clone(),
            title: c.title.clone(),
            status: c.status,
            severity: c.severity.clone(),
        });
    }
    debug_assert!(SEVERITIES.iter().all(|s| severities.get(s).is_some()));
    Summary {
        profile: hdf.profile.clone(),
        profiles: hdf.profiles,
        controls: hdf.controls.len(),
        compliance: compliance(&totals),
        totals,
        severities,
        failed_controls: all_controls
            .iter()
            .filter(|c| c.status == Status::Failed)
            .cloned()
            .collect(),
        all_controls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compliance_rounds_half_up_and_excludes_not_applicable() {
        let t = StatusCounts {
            passed: 1,
            failed: 7,
            no_impact: 9,
            ..Default::default()
        };
        assert_eq!(compliance(&t), 13); // 12.5 -> 13
        let t = StatusCounts {
            passed: 2,
            failed: 1,
            ..Default::default()
        };
        assert_eq!(compliance(&t), 67);
        assert_eq!(compliance(&StatusCounts::default()), 0);
        let only_na = StatusCounts {
            no_impact: 3,
            ..Default::default()
        };
        assert_eq!(compliance(&only_na), 0);
    }
}
