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
