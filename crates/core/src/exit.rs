//! Exit codes shared by every sidescan binary (README.md, "Exit codes"; ARCHITECTURE.md says where
//! each binary maps its errors to them).

/// What a sidescan process tells its caller through its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// 0: the scan ran and every threshold was met.
    Passed,
    /// 1: the scan ran and at least one threshold was not met.
    ThresholdsNotMet,
    /// 2: bad input or usage: a file, key or object is wrong.
    BadInput,
    /// 3: infrastructure failure: cluster, storage, or the scanner could not run.
    Infrastructure,
}

impl ExitStatus {
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Passed => 0,
            ExitStatus::ThresholdsNotMet => 1,
            ExitStatus::BadInput => 2,
            ExitStatus::Infrastructure => 3,
        }
    }

    /// The worse of two outcomes: infrastructure beats bad input beats a failed threshold.
    pub fn worst(self, other: ExitStatus) -> ExitStatus {
        if self.code() >= other.code() {
            self
        } else {
            other
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

/// How a run ended when it ended without a verdict: the exit status and one line naming the file,
/// key or object at fault. The binaries' last word (the agent's termination message, the
/// evaluator's stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: ExitStatus,
    pub message: String,
}

impl Failure {
    pub fn new(status: ExitStatus, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    /// Exit 2: the user's input is at fault.
    pub fn bad_input(message: impl Into<String>) -> Failure {
        Failure::new(ExitStatus::BadInput, message)
    }

    /// Exit 3: the cluster, the store or the scanner could not do its part.
    pub fn infrastructure(message: impl Into<String>) -> Failure {
        Failure::new(ExitStatus::Infrastructure, message)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_design() {
        assert_eq!(ExitStatus::Passed.code(), 0);
        assert_eq!(ExitStatus::ThresholdsNotMet.code(), 1);
        assert_eq!(ExitStatus::BadInput.code(), 2);
        assert_eq!(ExitStatus::Infrastructure.code(), 3);
    }

    #[test]
    fn worst_prefers_the_higher_code() {
        assert_eq!(
            ExitStatus::Passed.worst(ExitStatus::ThresholdsNotMet),
            ExitStatus::ThresholdsNotMet
        );
        assert_eq!(
            ExitStatus::Infrastructure.worst(ExitStatus::BadInput),
            ExitStatus::Infrastructure
        );
    }
}
