//! Image references in the distribution reference grammar (what containerd and CRI-O parse):
//! `[host[:port]/]path[:tag][@algorithm:hex]`, with lower-case path components.

/// The longest repository name (`host/path`) the grammar allows.
const NAME_MAX: usize = 255;

/// Whether the first path component of `image` names a registry host: it contains `.` or `:`,
/// or is `localhost` (`ghcr.io/a/b`, `mirror.local:5000/a`, `localhost/a`); otherwise the
/// reference is relative to the default registry and a configured prefix applies.
pub fn has_registry_host(image: &str) -> bool {
    match image.split_once('/') {
        Some((first, _)) => first.contains(['.', ':']) || first == "localhost",
        None => false,
    }
}

/// Checks a full image reference; the error says what is wrong.
pub fn validate_image_reference(reference: &str) -> Result<(), String> {
    if reference.is_empty() {
        return Err("missing required value".into());
    }
    if let Some(c) = reference
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("{c:?} is not allowed in an image reference"));
    }
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].find(':') {
        Some(i) => (
            &name_and_tag[..last_slash + i],
            Some(&name_and_tag[last_slash + i + 1..]),
        ),
        None => (name_and_tag, None),
    };
    check_name(name)?;
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    Ok(())
}

/// `host[:port][/path]` as `images.registry` takes it (no scheme, no tag).
pub fn validate_registry(registry: &str) -> Result<(), String> {
    if let Some((scheme, _)) = registry.split_once("://") {
        return Err(format!(
            "a registry is host[:port][/path] without a scheme (remove {scheme}://)"
        ));
    }
    let trimmed = registry.trim_end_matches('/');
    if !has_registry_host(&format!("{trimmed}/x")) {
        return Err(
            "the first part must be a registry host (containing '.' or ':', or localhost), \
             otherwise it would be read as a Docker Hub namespace"
                .into(),
        );
    }
    let (host, path) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    check_host(host)?;
    if !path.is_empty() {
        for component in path.split('/') {
            check_path_component(component)?;
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.len() > NAME_MAX {
        return Err(format!(
            "the repository name is {} characters long, at most {NAME_MAX} are allowed",
            name.len()
        ));
    }
    let (host, path) = if has_registry_host(name) {
        let (host, path) = name.split_once('/').unwrap_or((name, ""));
        check_host(host)?;
        (Some(host), path)
    } else {
        (None, name)
    };
    if path.is_empty() {
        return Err(match host {
            Some(_) => "no repository path after the registry host".into(),
            None => "no repository name".into(),
        });
    }
    for component in path.split('/') {
        check_path_component(component)?;
    }
    Ok(())
}

fn check_host(host: &str) -> Result<(), String> {
    let (domain, port) = if let Some(rest) = host.strip_prefix('[') {
        // [IPv6]:port
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("registry host {host:?}: unclosed '['"))?;
        addr.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("registry host {host:?}: not an IPv6 address"))?;
        (None, after.strip_prefix(':'))
    } else {
        match host.split_once(':') {
            Some((d, p)) => (Some(d), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("registry host {host:?}: the port must be a number"));
    }
    if let Some(domain) = domain {
        let ok = !domain.is_empty()
            && domain.split('.').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !ok {
            return Err(format!(
                "registry host {domain:?} is not a host name or IP address"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+` joined by the separators `.`, `_`, `__` or runs of `-`.
fn check_path_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("empty path component (\"//\" or a trailing '/')".into());
    }
    if let Some(c) = component.chars().find(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "repository names must be lower-case ({c:?} in {component:?})"
        ));
    }
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(format!(
            "path component {component:?} must start and end with a lower-case letter or digit"
        ));
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !valid {
            return Err(format!(
                "path component {component:?}: {separator:?} is not a separator ('.', '_', '__' or '-')"
            ));
        }
    }
    Ok(())
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = tag.len() <= 128
        && tag.chars().next().is_some_and(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} is not valid (letters, digits, '_', '.', '-', not starting with '.' or '-', at most 128)"
        ))
    }
}

/// `algorithm:hex` for the algorithms runtimes verify: sha256 (64 hex), sha384, sha512.
fn check_digest(digest: &str) -> Result<(), String> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("digest {digest:?} is not algorithm:hex"))?;
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        other => {
            return Err(format!(
                "digest algorithm {other:?} is not supported (sha256, sha384 or sha512)"
            ));
        }
    };
    let ok = hex.len() == length
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "digest {digest:?}: {algorithm} needs {length} lower-case hex digits"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_real_references() {
        for good in [
            "nginx",
            "nginx:1.27",
            "library/nginx:1.27-alpine",
            "ghcr.io/example/checkout:2.4.1",
            "mirror.local:5000/ghcr.io/example/checkout:2.4.1",
            "localhost/sidescan-scanner:dev",
            "localhost:5000/a/b",
            "[::1]:5000/a",
            "registry.example.com/mirror/payments/ledger:5.2.0",
            "a__b/c.d/e---f_g",
            "MyRegistry.io/a",
            &format!("nginx@{SHA}"),
            &format!("nginx:1.27@{SHA}"),
        ] {
            assert_eq!(validate_image_reference(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn refuses_what_runtimes_refuse() {
        for (bad, needle) in [
            ("nginx 1.27", "' '"),
            ("nginx@sha256:xyz", "64 lower-case hex"),
            ("nginx:1.27:foo", "tag \"1.27:foo\""),
            ("NGINX:1.27", "lower-case"),
            ("nginx:", "tag \"\""),
            ("a//b", "empty path component"),
            ("ghcr.io/", "no repository path"),
            ("a/-b", "must start and end"),
            ("a/b..c", "not a separator"),
            ("nginx@md5:00", "not supported"),
            ("bad_host.io:x/a", "port must be a number"),
            ("", "missing"),
        ] {
            let err = validate_image_reference(bad).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
        assert!(validate_image_reference(&format!("a/{}", "b".repeat(260))).is_err());
    }

    #[test]
    fn registries_are_hosts_with_optional_paths() {
        for good in [
            "registry.example.com/mirror",
            "mirror.local:5000",
            "localhost/",
        ] {
            assert_eq!(validate_registry(good), Ok(()), "{good}");
        }
        for bad in [
            "http://bad reg/",
            "https://r.io",
            "mirror",
            "r.io/UP",
            "bad reg.io",
        ] {
            assert!(validate_registry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_references_without_a_host_take_the_prefix() {
        assert!(has_registry_host("ghcr.io/a/b:1"));
        assert!(has_registry_host("mirror.local:5000/a"));
        assert!(has_registry_host("localhost/a"));
        assert!(!has_registry_host("library/nginx"));
        assert!(!has_registry_host("nginx:1.27"));
    }
}
