//! URLs and addresses: the object store's URL and endpoint, NetworkPolicy CIDRs.

use std::net::IpAddr;

/// The store URL schemes the agent and orchestrator open.
pub const STORE_SCHEMES: [&str; 3] = ["s3", "s3a", "file"];

/// `s3://bucket/prefix` or `file:///dir`.
pub fn check_store_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text)
        .map_err(|e| format!("not a URL ({e}); expected s3://bucket/prefix or file:///dir"))?;
    match url.scheme() {
        "s3" | "s3a" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err("no bucket name (expected s3://bucket/prefix)".into());
            }
        }
        "file" => {
            if url.host_str().is_some_and(|h| !h.is_empty()) || !url.path().starts_with('/') {
                return Err("expected file:///absolute/dir".into());
            }
        }
        other => {
            return Err(format!(
                "scheme {other:?} is not supported (use {})",
                STORE_SCHEMES
                    .iter()
                    .map(|s| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(())
}

/// An S3 endpoint: `http(s)://host[:port][/path]`.
pub fn check_endpoint(text: &str) -> Result<url::Url, String> {
    if text.chars().any(char::is_whitespace) {
        return Err("a URL cannot contain whitespace".into());
    }
    let url = url::Url::parse(text)
        .map_err(|e| format!("not a URL ({e}); expected http(s)://host[:port]"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "scheme {:?} is not supported (http:// or https://)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials do not belong in the URL: use results.credentialsSecret".into());
    }
    Ok(url)
}

/// The port `url` connects to (the scheme's default when absent).
pub fn endpoint_port(url: &url::Url) -> Option<u16> {
    url.port_or_known_default()
}

/// The host of `url` as an IP address, if it is one.
pub fn endpoint_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    }
}

/// `addr/len` or a bare address (a single host); returns the CIDR Kubernetes takes.
pub fn normalize_cidr(text: &str) -> Result<String, String> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u32 = match len {
        Some(l) => l
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("prefix length {l:?} is not 0-{max}"))?,
        None => max,
    };
    Ok(format!("{ip}/{len}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        for good in ["s3://b/p", "s3://b", "file:///tmp/x"] {
            assert_eq!(check_store_url(good), Ok(()), "{good}");
        }
        for bad in ["s3:///p", "gs://b", "not a url", "file://host/x", "/tmp"] {
            assert!(check_store_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        assert!(check_endpoint("http://127.0.0.1:8333").is_ok());
        assert!(check_endpoint("https://s3.example.com").is_ok());
        for bad in [
            "not a url",
            "ftp://x",
            "http://bad reg/",
            "http://u:p@h",
            "http://",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
        let url = check_endpoint("https://10.0.0.5").unwrap();
        assert_eq!(endpoint_port(&url), Some(443));
        assert_eq!(endpoint_ip(&url), Some("10.0.0.5".parse().unwrap()));
    }

    #[test]
    fn cidrs() {
        assert_eq!(normalize_cidr("10.0.0.1").unwrap(), "10.0.0.1/32");
        assert_eq!(normalize_cidr("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(normalize_cidr("::1").unwrap(), "::1/128");
        assert!(normalize_cidr("10.0.0.1/33").is_err());
        assert!(normalize_cidr("host").is_err());
    }
}
