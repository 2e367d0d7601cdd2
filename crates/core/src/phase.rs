//! The workflow phases, named the same way in logs, metadata and the orchestrator's output.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Deploy,
    Identify,
    Verify,
    Scan,
    Retrieve,
    Upload,
    Process,
    Cleanup,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::Deploy,
        Phase::Identify,
        Phase::Verify,
        Phase::Scan,
        Phase::Retrieve,
        Phase::Upload,
        Phase::Process,
        Phase::Cleanup,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Deploy => "deploy",
            Phase::Identify => "identify",
            Phase::Verify => "verify",
            Phase::Scan => "scan",
            Phase::Retrieve => "retrieve",
            Phase::Upload => "upload",
            Phase::Process => "process",
            Phase::Cleanup => "cleanup",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_display() {
        for phase in Phase::ALL {
            let json = serde_json::to_string(&phase).unwrap();
            assert_eq!(json, format!("\"{phase}\""));
        }
    }
}
