//! The HDF (InSpec exec JSON) the builtin backend writes: the fields the MITRE SAF CLI's schema
//! requires, in a stable order.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub platform: Platform,
    pub profiles: Vec<Profile>,
    pub statistics: Statistics,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Platform {
    pub name: String,
    pub release: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Statistics {
    /// Seconds.
    pub duration: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controls: Option<ControlStatistics>,
}

/// Controls per outcome, as InSpec counts them (a control with any failed result is failed,
/// else with any skipped result skipped, else passed), plus `error` for controls with an error
/// result (InSpec has no such status; SAF counts them as Profile Error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ControlStatistics {
    pub total: u64,
    pub passed: Total,
    pub skipped: Total,
    pub failed: Total,
    pub error: Total,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Total {
    pub total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    pub version: String,
    pub title: String,
    pub summary: String,
    pub maintainer: String,
    pub license: String,
    pub sha256: String,
    pub supports: Vec<serde_json::Value>,
    pub attributes: Vec<serde_json::Value>,
    pub groups: Vec<Group>,
    pub status: String,
    pub controls: Vec<Control>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: String,
    pub title: String,
    pub controls: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Control {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub descriptions: Vec<Description>,
    pub impact: f64,
    pub refs: Vec<serde_json::Value>,
    pub tags: Tags,
    pub code: String,
    pub source_location: SourceLocation,
    pub results: Vec<ControlResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver_data: Option<WaiverData>,
}

/// A waiver as InSpec records it: the waiver file's fields, whether the control was skipped
/// because of it, and a message (why an expired waiver did not apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaiverData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<bool>,
    pub skipped_due_to_waiver: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Description {
    pub label: String,
    pub data: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tags {
    pub nist: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cci: Vec<String>,
    pub severity: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceLocation {
    #[serde(rename = "ref")]
    pub reference: String,
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    pub status: Status,
    pub code_desc: String,
    pub run_time: f64,
    pub start_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_message: Option<String>,
}
