//! The inventory controls (impact 0): OS identity (SIDESCAN-INV-001) and installed packages
//! (INV-002).

use crate::builtin::gather::{Evidence, Text, os_release_fields};
use crate::builtin::inventory::{Package, parse_apk_installed, parse_dpkg_status};
use crate::builtin::report::Finding;

/// SIDESCAN-INV-001.
pub fn os_identity(evidence: &Evidence) -> Vec<Finding> {
    let desc = "operating system identity";
    match &evidence.os_release {
        Text::Unreadable(e) => return vec![Finding::error(desc, format!("cannot be read: {e}"))],
        Text::NotChecked(why) => return vec![Finding::skipped(desc, why.to_string())],
        Text::Read(_) | Text::Absent => {}
    }
    let os = os_release_fields(&evidence.os_release);
    match os.get("PRETTY_NAME").or_else(|| os.get("ID")) {
        Some(name) => vec![Finding::passed_with(
            format!("operating system is {name}"),
            format!(
                "ID={} VERSION_ID={}",
                os.get("ID").map(String::as_str).unwrap_or(""),
                os.get("VERSION_ID").map(String::as_str).unwrap_or("")
            ),
        )],
        None => vec![Finding::skipped(
            desc,
            "no /etc/os-release or /usr/lib/os-release in the target",
        )],
    }
}

/// Installed packages from dpkg's status file, distroless' status.d and apk's database, sorted,
/// each once.
pub fn installed_packages(evidence: &Evidence) -> Vec<Package> {
    let mut pkgs = Vec::new();
    for file in &evidence.packages.files {
        if let Text::Read(text) = &file.text {
            pkgs.extend(match file.manager {
                "apk" => parse_apk_installed(text),
                _ => parse_dpkg_status(text),
            });
        }
    }
    pkgs.sort();
    pkgs.dedup();
    pkgs
}

/// SIDESCAN-INV-002.
pub fn packages(evidence: &Evidence) -> Vec<Finding> {
    let gathered = &evidence.packages;
    let read = "the package databases were read";
    let unreadable = gathered.files.iter().filter_map(|f| match &f.text {
        Text::Unreadable(e) => Some(e),
        _ => None,
    });
    let mut out: Vec<Finding> = gathered
        .errors
        .iter()
        .chain(unreadable)
        .map(|e| Finding::error(read, format!("cannot be read: {e}")))
        .collect();
    let not_checked = gathered.files.iter().filter_map(|f| match &f.text {
        Text::NotChecked(why) => Some(why),
        _ => None,
    });
    for why in gathered.not_checked.iter().chain(not_checked) {
        out.push(Finding::skipped(read, why.to_string()));
    }
    let pkgs = installed_packages(evidence);
    if pkgs.is_empty() && out.is_empty() {
        return vec![Finding::skipped(
            "installed packages",
            "no dpkg or apk package database in the target",
        )];
    }
    let limit = evidence.limits.packages;
    let more = pkgs.len().saturating_sub(limit);
    out.extend(
        pkgs.into_iter()
            .take(limit)
            .map(|p| Finding::passed(format!("{} package {} {}", p.manager, p.name, p.version))),
    );
    if more > 0 {
        out.push(Finding::passed_with(
            format!("{more} more packages"),
            format!("{more} further packages were not listed (limit {limit})"),
        ));
    }
    out
}
