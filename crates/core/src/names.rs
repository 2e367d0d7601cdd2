//! Kubernetes name rules, checked before anything is rendered or sent, so that bad input fails
//! with the field at fault instead of an API server rejection later.

use crate::CoreError;

/// Maximum length of an RFC 1123 label (namespaces, container names, label values).
pub const DNS_LABEL_MAX: usize = 63;
/// Maximum length of an RFC 1123 subdomain (most object names, ConfigMap names).
pub const DNS_SUBDOMAIN_MAX: usize = 253;

fn invalid(field: &str, value: &str, kind: &'static str, reason: impl Into<String>) -> CoreError {
    CoreError::InvalidName {
        field: field.to_string(),
        value: value.to_string(),
        kind,
        reason: reason.into(),
    }
}

/// RFC 1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, at most 63.
pub fn check_dns_label(field: &str, value: &str) -> Result<(), CoreError> {
    const KIND: &str = "RFC 1123 label";
    if value.is_empty() {
        return Err(invalid(field, value, KIND, "it is empty"));
    }
    if value.len() > DNS_LABEL_MAX {
        return Err(invalid(
            field,
            value,
            KIND,
            format!(
                "it is {} characters long, at most {DNS_LABEL_MAX} are allowed",
                value.len()
            ),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(invalid(
            field,
            value,
            KIND,
            format!("{bad:?} is not allowed (lower-case letters, digits and '-' only)"),
        ));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err(invalid(
            field,
            value,
            KIND,
            "it must start and end with a letter or digit",
        ));
    }
    Ok(())
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn check_dns_subdomain(field: &str, value: &str) -> Result<(), CoreError> {
    const KIND: &str = "RFC 1123 subdomain";
    if value.is_empty() {
        return Err(invalid(field, value, KIND, "it is empty"));
    }
    if value.len() > DNS_SUBDOMAIN_MAX {
        return Err(invalid(
            field,
            value,
            KIND,
            format!(
                "it is {} characters long, at most {DNS_SUBDOMAIN_MAX} are allowed",
                value.len()
            ),
        ));
    }
    for part in value.split('.') {
        check_dns_label(field, part).map_err(|_| {
            invalid(
                field,
                value,
                KIND,
                format!("part {part:?} is not a lower-case alphanumeric label"),
            )
        })?;
    }
    Ok(())
}

/// Joins a base name and a suffix into a valid label, shortening the base so the suffix survives.
pub fn label_with_suffix(base: &str, suffix: &str) -> String {
    let room = DNS_LABEL_MAX.saturating_sub(suffix.len() + 1);
    let trimmed: &str = if base.len() > room {
        &base[..room]
    } else {
        base
    };
    let trimmed = trimmed.trim_end_matches('-');
    format!("{trimmed}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_plain_labels() {
        assert!(check_dns_label("target", "nginx-1").is_ok());
        assert!(check_dns_subdomain("name", "scan.nginx-1").is_ok());
    }

    #[test]
    fn rejects_bad_labels_naming_the_field() {
        let err = check_dns_label("target.container", "Nginx").unwrap_err();
        assert!(
            err.to_string().starts_with("target.container: \"Nginx\""),
            "{err}"
        );
        assert!(check_dns_label("x", "-a").is_err());
        assert!(check_dns_label("x", "a-").is_err());
        assert!(check_dns_label("x", "").is_err());
        assert!(check_dns_label("x", &"a".repeat(64)).is_err());
        assert!(check_dns_subdomain("x", "a..b").is_err());
    }

    proptest! {
        #[test]
        fn suffixed_labels_are_valid(base in "[a-z][a-z0-9-]{0,90}", suffix in "[a-z0-9]{1,12}") {
            let name = label_with_suffix(&base, &suffix);
            prop_assert!(check_dns_label("name", &name).is_ok(), "{}", name);
            prop_assert!(name.ends_with(&suffix));
        }
    }
}
