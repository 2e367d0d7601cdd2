//! Object metadata and data keys as the API server checks them: label keys and values,
//! annotation keys and their total size, ConfigMap and Secret keys.

use crate::names;

/// The API server's limit on all annotations of one object (keys plus values).
pub const ANNOTATIONS_TOTAL_MAX: usize = 256 * 1024;
/// The longest label value and the longest name part of a qualified name.
pub const QUALIFIED_NAME_MAX: usize = 63;

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters.
fn is_name_part(text: &str) -> bool {
    let edge = |c: char| c.is_ascii_alphanumeric();
    !text.is_empty()
        && text.len() <= QUALIFIED_NAME_MAX
        && text.starts_with(edge)
        && text.ends_with(edge)
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain.
pub fn check_qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        names::check_dns_subdomain("prefix", prefix).map_err(|_| {
            format!("the prefix {prefix:?} is not a DNS subdomain (lower-case, at most 253)")
        })?;
    }
    if !is_name_part(name) {
        return Err(
            "not a qualified name: at most 63 letters, digits, '-', '_', '.', \
             starting and ending with a letter or digit, after an optional DNS prefix and '/'"
                .to_string(),
        );
    }
    Ok(())
}

/// A label value: empty, or a qualified name's name part.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_name_part(value) {
        Ok(())
    } else {
        Err(
            "a label value is at most 63 letters, digits, '-', '_', '.', starting and ending \
             with a letter or digit"
                .into(),
        )
    }
}

/// A ConfigMap or Secret key: `[-._a-zA-Z0-9]+`, at most 253, not `.` or `..`.
pub fn is_config_map_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= names::DNS_SUBDOMAIN_MAX
        && key != "."
        && key != ".."
        && !key.starts_with("..")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// The size the API server counts for a set of annotations.
pub fn annotations_size<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> usize {
    pairs.into_iter().map(|(k, v)| k.len() + v.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_follow_the_api_server() {
        for good in [
            "app",
            "team.example.com/owner",
            "eks.amazonaws.com/role-arn",
            "a_b.c-d",
        ] {
            assert_eq!(check_qualified_name(good), Ok(()), "{good}");
        }
        for bad in [
            "bad key!",
            "",
            "-a",
            "a/",
            "Example.com/a",
            "a/b/c",
            &"a".repeat(64),
        ] {
            assert!(check_qualified_name(bad).is_err(), "{bad}");
        }
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("v1.2_x").is_ok());
        assert!(check_label_value("a b").is_err());
        assert!(check_label_value(&"a".repeat(64)).is_err());
    }

    #[test]
    fn config_map_keys() {
        for good in ["ca.crt", "AWS_ACCESS_KEY_ID", "a-b", ".hidden"] {
            assert!(is_config_map_key(good), "{good}");
        }
        for bad in ["a/b", "", ".", "..", "..a", "a b", &"a".repeat(254)] {
            assert!(!is_config_map_key(bad), "{bad}");
        }
    }
}
