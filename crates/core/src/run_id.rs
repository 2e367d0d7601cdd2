//! Run ids: short, lower-case, label-safe identifiers that tie a scan's objects and results together.

use crate::CoreError;
use serde::{Deserialize, Serialize};

/// A run id: 6 to 32 lower-case alphanumerics, usable in label values, object names and keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

impl RunId {
    pub const MIN_LEN: usize = 6;
    pub const MAX_LEN: usize = 32;

    pub fn parse(value: &str) -> Result<RunId, CoreError> {
        let reason = if value.len() < Self::MIN_LEN || value.len() > Self::MAX_LEN {
            Some(format!(
                "it must be {} to {} characters long",
                Self::MIN_LEN,
                Self::MAX_LEN
            ))
        } else if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            Some("only lower-case letters and digits are allowed".to_string())
        } else {
            None
        };
        match reason {
            Some(reason) => Err(CoreError::InvalidRunId {
                value: value.to_string(),
                reason,
            }),
            None => Ok(RunId(value.to_string())),
        }
    }

    /// A run id from caller-supplied entropy (the binaries pass random bytes; tests pass fixed ones).
    pub fn from_entropy(bytes: [u8; 8]) -> RunId {
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut n = u64::from_le_bytes(bytes);
        let mut out = String::with_capacity(12);
        for _ in 0..12 {
            out.push(ALPHABET[(n & 31) as usize] as char);
            n >>= 5;
        }
        RunId(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RunId {
    type Error = CoreError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RunId::parse(&value)
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> String {
        id.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_upper_case_and_short_ids() {
        assert!(RunId::parse("ABCDEF").is_err());
        assert!(RunId::parse("abc").is_err());
        assert!(RunId::parse("abc_def").is_err());
        assert_eq!(RunId::parse("abc123").unwrap().as_str(), "abc123");
    }

    proptest! {
        #[test]
        fn generated_ids_parse(bytes in any::<[u8; 8]>()) {
            let id = RunId::from_entropy(bytes);
            prop_assert_eq!(RunId::parse(id.as_str()).unwrap(), id);
        }
    }
}
