//! OS identity and installed packages, parsed from the texts the package managers keep.

use std::collections::BTreeMap;

/// `os-release` key/value pairs (quotes removed).
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.replace("\\\"", "\""))
        })
        .collect()
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// `dpkg` or `apk`.
    pub manager: &'static str,
}

/// Packages from a dpkg `status` file or a distroless `status.d/*` file: paragraphs with
/// `Package:` and `Version:`; a paragraph with a `Status:` other than `... installed` is skipped.
pub fn parse_dpkg_status(text: &str) -> Vec<Package> {
    let mut packages = Vec::new();
    for paragraph in text.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut installed = true;
        for line in paragraph.lines() {
            if let Some(v) = line.strip_prefix("Package:") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Version:") {
                version = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Status:") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if let (Some(name), true) = (name, installed) {
            packages.push(Package {
                name,
                version: version.unwrap_or_default(),
                manager: "dpkg",
            });
        }
    }
    packages
}

/// Packages from Alpine's `/lib/apk/db/installed`: blank-line separated records, `P:` name and
/// `V:` version.
pub fn parse_apk_installed(text: &str) -> Vec<Package> {
    let mut packages = Vec::new();
    for record in text.split("\n\n") {
        let mut name = None;
        let mut version = String::new();
        for line in record.lines() {
            if let Some(v) = line.strip_prefix("P:") {
                name = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("V:") {
                version = v.to_string();
            }
        }
        if let Some(name) = name {
            packages.push(Package {
                name,
                version,
                manager: "apk",
            });
        }
    }
    packages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_quotes_and_comments() {
        let text = "# comment\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n\
                    VERSION_ID='12'\n\nBAD LINE\n";
        let os = parse_os_release(text);
        assert_eq!(os["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(os["ID"], "debian");
        assert_eq!(os["VERSION_ID"], "12");
        assert_eq!(os.len(), 3);
    }

    #[test]
    fn dpkg_status_skips_removed_packages() {
        let text = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\
                    Description: x\n multi-line\n\nPackage: gone\nStatus: deinstall ok \
                    config-files\nVersion: 1\n\nPackage: base-files\nVersion: 12.4\n";
        let pkgs = parse_dpkg_status(text);
        let names: Vec<(&str, &str)> = pkgs
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names, [("libc6", "2.36-9"), ("base-files", "12.4")]);
    }

    #[test]
    fn apk_installed() {
        let text =
            "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\n\nC:Q1def=\nP:busybox\nV:1.36.1-r29\n\n";
        let pkgs = parse_apk_installed(text);
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[1].name, "busybox");
        assert_eq!(pkgs[1].version, "1.36.1-r29");
        assert_eq!(pkgs[0].manager, "apk");
    }
}
