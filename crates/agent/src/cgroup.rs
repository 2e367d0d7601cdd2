//! Matching a container ID from the pod's status against `/proc/<pid>/cgroup` text.
//!
//! Pure functions: the text of `/proc` goes in, a PID comes out. The formats handled, one path
//! segment at a time (so `crio-conmon-<id>.scope`, the monitor's cgroup, never matches):
//!
//! | runtime | cgroup driver | segment |
//! |---|---|---|
//! | containerd | systemd | `cri-containerd-<id>.scope` |
//! | containerd, Docker (dockershim), CRI-O | cgroupfs | `<id>` (under `/kubepods/.../pod<uid>/`) |
//! | CRI-O | systemd | `crio-<id>.scope` |
//! | CRI-O | cgroupfs | `crio-<id>` |
//! | Docker | systemd | `docker-<id>.scope` |
//! | Docker | cgroupfs | `<id>` (under `/docker/`) |
//!
//! Both cgroup v1 (`N:controllers:/path`, one line per hierarchy) and v2 (`0::/path`) lines are
//! read. With a private cgroup namespace the path is relative to the reader's own cgroup and may
//! start with `/../`; segments still match.

/// The container runtime named by a `containerStatuses[].containerID` URL prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Containerd,
    CriO,
    Docker,
    Unknown,
}

/// A container ID without its runtime prefix: lower-case hex, as the runtimes print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerId {
    pub runtime: Runtime,
    pub id: String,
}

/// Shortest ID accepted: Docker's short form. Shorter strings match too much.
pub const MIN_ID_LEN: usize = 12;
/// Length of the full IDs containerd, CRI-O and Docker assign.
pub const FULL_ID_LEN: usize = 64;

impl ContainerId {
    /// Parses `containerd://<id>`, `cri-o://<id>`, `docker://<id>` or a bare `<id>`.
    /// Returns `None` for anything that is not at least 12 hex digits after the prefix.
    pub fn parse(text: &str) -> Option<ContainerId> {
        let text = text.trim();
        let (runtime, id) = match text.split_once("://") {
            Some(("containerd", id)) => (Runtime::Containerd, id),
            Some(("cri-o", id)) => (Runtime::CriO, id),
            Some(("docker", id)) => (Runtime::Docker, id),
            Some((_, id)) => (Runtime::Unknown, id),
            None => (Runtime::Unknown, text),
        };
        let id = id.to_ascii_lowercase();
        if id.len() < MIN_ID_LEN || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        Some(ContainerId { runtime, id })
    }

    /// True when one path segment of any line of a `/proc/<pid>/cgroup` text names this container.
    pub fn is_in(&self, cgroup_text: &str) -> bool {
        cgroup_paths(cgroup_text).any(|path| path.split('/').any(|seg| self.names_segment(seg)))
    }

    fn names_segment(&self, segment: &str) -> bool {
        let inner = segment.strip_suffix(".scope").unwrap_or(segment);
        let inner = ["cri-containerd-", "crio-", "docker-"]
            .iter()
            .find_map(|prefix| inner.strip_prefix(prefix))
            .unwrap_or(inner);
        if !inner.chars().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
        // A short ID (Docker's 12 digits) names the full 64-digit ID in the cgroup path.
        inner == self.id || (inner.len() == FULL_ID_LEN && inner.starts_with(&self.id))
    }
}

/// The path field of every line (`hierarchy:controllers:path`).
fn cgroup_paths(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter_map(|line| line.splitn(3, ':').nth(2))
        .filter(|path| !path.is_empty())
}

/// The PID of the container's first process among `procs` (PID, cgroup text), or `None`.
///
/// "First" is the lowest PID among the processes in the container: in a pod sharing its process
/// namespace PIDs are assigned in start order, so the container's entrypoint has the lowest one
/// unless PIDs wrapped. [`first_process`] refines this with parent PIDs when they are known.
pub fn match_container(container_id: &str, procs: &[(u32, &str)]) -> Option<u32> {
    let id = ContainerId::parse(container_id)?;
    procs
        .iter()
        .filter(|(_, text)| id.is_in(text))
        .map(|(pid, _)| *pid)
        .min()
}

/// All PIDs of `procs` in the container, ascending.
pub fn container_members(id: &ContainerId, procs: &[(u32, &str)]) -> Vec<u32> {
    let mut pids: Vec<u32> = procs
        .iter()
        .filter(|(_, text)| id.is_in(text))
        .map(|(pid, _)| *pid)
        .collect();
    pids.sort_unstable();
    pids
}

/// The container's first process given (PID, parent PID) of its members: the one whose parent is
/// not itself a member (the entrypoint; its parent is the runtime shim or PID 0). When several
/// qualify (PIDs wrapped, or exec'd helpers re-parented) the lowest PID wins.
pub fn first_process(members: &[(u32, u32)]) -> Option<u32> {
    let is_member = |pid: u32| members.iter().any(|(p, _)| *p == pid);
    members
        .iter()
        .filter(|(_, ppid)| !is_member(*ppid))
        .map(|(pid, _)| *pid)
        .min()
        .or_else(|| members.iter().map(|(pid, _)| *pid).min())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e8c1b2a9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/cgroup/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn parses_runtime_prefixes() {
        let c = ContainerId::parse(&format!("containerd://{ID}")).unwrap();
        assert_eq!((c.runtime, c.id.as_str()), (Runtime::Containerd, ID));
        let c = ContainerId::parse(&format!("cri-o://{ID}")).unwrap();
        assert_eq!(c.runtime, Runtime::CriO);
        let c = ContainerId::parse(&format!("docker://{ID}")).unwrap();
        assert_eq!(c.runtime, Runtime::Docker);
        let c = ContainerId::parse(ID).unwrap();
        assert_eq!(c.runtime, Runtime::Unknown);
        assert_eq!(
            ContainerId::parse(&format!("containerd://{}", ID.to_uppercase()))
                .unwrap()
                .id,
            ID
        );
    }

    #[test]
    fn rejects_empty_short_and_non_hex_ids() {
        assert_eq!(ContainerId::parse("containerd://"), None);
        assert_eq!(ContainerId::parse(""), None);
        assert_eq!(ContainerId::parse("abc123"), None);
        assert_eq!(ContainerId::parse("containerd://xyz4e8c1b2a9d7e6f"), None);
    }

    #[test]
    fn every_recorded_format_matches_its_container() {
        for name in [
            "containerd-systemd-v2.txt",
            "containerd-systemd-v1.txt",
            "containerd-cgroupfs-v1.txt",
            "containerd-cgroupns-v2.txt",
            "crio-systemd-v2.txt",
            "crio-cgroupfs-v1.txt",
            "docker-systemd-v2.txt",
            "docker-cgroupfs-v1.txt",
            "kubelet-dockershim-v1.txt",
        ] {
            let text = fixture(name);
            let procs = [(7, text.as_str())];
            for prefix in ["", "containerd://", "cri-o://", "docker://"] {
                assert_eq!(
                    match_container(&format!("{prefix}{ID}"), &procs),
                    Some(7),
                    "{name} with {prefix:?}"
                );
            }
            assert_eq!(
                match_container(&ID[..12], &procs),
                Some(7),
                "{name}: short id"
            );
        }
    }

    #[test]
    fn other_containers_and_monitors_do_not_match() {
        for name in [
            "crio-conmon-v2.txt",
            "other-container-v2.txt",
            "pause-v1.txt",
            "host-root-v2.txt",
        ] {
            let text = fixture(name);
            assert_eq!(match_container(ID, &[(9, text.as_str())]), None, "{name}");
        }
    }

    #[test]
    fn prefix_of_a_longer_hex_segment_does_not_match_a_full_id() {
        let text = format!("0::/kubepods/pod1/{ID}00\n");
        assert_eq!(match_container(ID, &[(1, text.as_str())]), None);
        // The ID must not match an unrelated word that happens to contain it.
        let text = format!("0::/kubepods/pod1/x{ID}\n");
        assert_eq!(match_container(ID, &[(1, text.as_str())]), None);
    }

    #[test]
    fn picks_the_lowest_pid_of_the_container() {
        let ours = fixture("containerd-systemd-v2.txt");
        let other = fixture("other-container-v2.txt");
        let procs = [
            (40, ours.as_str()),
            (3, other.as_str()),
            (12, ours.as_str()),
            (25, ours.as_str()),
        ];
        assert_eq!(match_container(ID, &procs), Some(12));
        let id = ContainerId::parse(ID).unwrap();
        assert_eq!(container_members(&id, &procs), vec![12, 25, 40]);
    }

    #[test]
    fn first_process_is_the_one_whose_parent_is_outside() {
        // PIDs wrapped: the entrypoint got 900, its children 5 and 6.
        assert_eq!(first_process(&[(5, 900), (6, 5), (900, 1)]), Some(900));
        assert_eq!(first_process(&[(12, 0), (13, 12)]), Some(12));
        assert_eq!(first_process(&[]), None);
        // A cycle cannot happen in /proc, but must not panic either.
        assert_eq!(first_process(&[(2, 3), (3, 2)]), Some(2));
    }
}
