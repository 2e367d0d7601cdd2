//! The baseline's controls: id, title, what it checks, how to fix it, impact, NIST SP 800-53 and
//! DISA CCI references. The ids are stable; a change of logic or metadata bumps
//! [`super::PROFILE_VERSION`].

/// A control's fixed metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlDef {
    pub id: &'static str,
    pub title: &'static str,
    pub desc: &'static str,
    pub check: &'static str,
    pub fix: &'static str,
    pub impact: f64,
    pub nist: &'static [&'static str],
    pub cci: &'static [&'static str],
    /// Where the definition is, for HDF's `source_location`.
    pub line: u32,
}

pub const SENSITIVE_FILES: ControlDef = ControlDef {
    id: "SIDESCAN-FS-001",
    title: "Account files are owned by root and not writable by others",
    desc: "/etc/passwd and /etc/group must be owned by root with mode 0644 or stricter; \
           /etc/shadow and /etc/gshadow owned by root with mode 0640 or stricter, so that no \
           unprivileged user can change accounts or read password hashes.",
    check: "stat each file (symlinks followed inside the target's root); fail when the owner is \
            not uid 0 or the mode allows more than the limit; skip files that do not exist; \
            error when a file cannot be examined",
    fix: "In the image build, set the owner and mode: chown root:root /etc/passwd /etc/group && \
          chmod 0644 /etc/passwd /etc/group && chown root:shadow /etc/shadow /etc/gshadow && \
          chmod 0640 /etc/shadow /etc/gshadow.",
    impact: 0.7,
    nist: &["AC-3", "AC-6", "CM-6 b"],
    cci: &["CCI-000213", "CCI-000225", "CCI-000366"],
    line: line!(),
};
pub const WORLD_WRITABLE: ControlDef = ControlDef {
    id: "SIDESCAN-FS-002",
    title: "No world-writable files or directories outside temporary paths",
    desc: "Files and directories writable by every user let any process of the container alter \
           programs or configuration. Temporary paths (/tmp, /var/tmp, /dev/shm, /run/lock) are \
           exempt.",
    check: "walk the target's root (no symlink followed, other filesystems listed and not \
            walked, /proc /sys /dev left out); fail for each non-symlink entry with the o+w bit \
            outside the temporary paths; error for each directory that could not be read; skipped \
            (not checked) for each directory a walk limit left out",
    fix: "Remove the write bit for others in the image build (chmod o-w <path>), or move data \
          that must be shared into a volume or a temporary path. Expected entries can be listed \
          in the input allowed_world_writable_paths.",
    impact: 0.5,
    nist: &["AC-3", "AC-6", "CM-6 b"],
    cci: &["CCI-000213", "CCI-000225", "CCI-000366"],
    line: line!(),
};
pub const SETID_BINARIES: ControlDef = ControlDef {
    id: "SIDESCAN-FS-003",
    title: "No setuid or setgid executables",
    desc: "setuid and setgid executables let a process gain the file owner's privileges; a \
           container image rarely needs any, and one dropped into a temporary directory is a \
           sign of compromise.",
    check: "walk the target's root, temporary directories included; fail for each regular file \
            with the setuid or setgid bit that is not in the input allowed_setid_binaries; error \
            for each directory that could not be read; skipped (not checked) for each directory \
            a walk limit left out",
    fix: "Remove the bits in the image build (chmod u-s,g-s <file>) or remove the program; \
          run the container with allowPrivilegeEscalation: false (no_new_privs) so the bits have \
          no effect. Expected binaries (e.g. examples/inputs/debian-setid.yml) can be listed in \
          the input allowed_setid_binaries.",
    impact: 0.5,
    nist: &["AC-6 (1)", "AC-6 (8)", "AC-6 (10)", "CM-7 a"],
    cci: &["CCI-002233", "CCI-002235", "CCI-000381"],
    line: line!(),
};
pub const NON_ROOT: ControlDef = ControlDef {
    id: "SIDESCAN-PROC-001",
    title: "The container's process does not run as root",
    desc: "A process running as uid 0 holds root's file access in the container and is one \
           kernel flaw away from root on the node.",
    check: "read Uid from /proc/<pid>/status of the target process; fail when the effective uid \
            is 0",
    fix: "Run the container as an unprivileged user: securityContext.runAsNonRoot: true and \
          runAsUser: <uid>, or USER <uid> in the image.",
    impact: 0.7,
    nist: &["AC-6", "AC-6 (2)", "CM-6 b"],
    cci: &["CCI-000225", "CCI-000366"],
    line: line!(),
};
pub const CAPABILITIES: ControlDef = ControlDef {
    id: "SIDESCAN-PROC-002",
    title: "The container's process holds no administrative capabilities",
    desc: "CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO and CAP_BPF \
           give a process control over the kernel, the network stack or other processes.",
    check: "decode CapEff from /proc/<pid>/status of the target process; fail for each of the \
            listed capabilities present",
    fix: "Drop the capabilities: securityContext.capabilities.drop: [ALL], adding back only what \
          the workload needs; never privileged: true.",
    impact: 0.7,
    nist: &["AC-6", "AC-6 (10)", "CM-7 a"],
    cci: &["CCI-000225", "CCI-002235", "CCI-000381"],
    line: line!(),
};
pub const NO_NEW_PRIVS: ControlDef = ControlDef {
    id: "SIDESCAN-PROC-003",
    title: "The container's process cannot gain privileges (no_new_privs)",
    desc: "With no_new_privs set, execve never grants privileges: setuid and setgid bits and file \
           capabilities are ignored, so a compromised process cannot escalate through them.",
    check: "read NoNewPrivs from /proc/<pid>/status of the target process; fail when it is 0; \
            error when the kernel does not report it",
    fix: "Set securityContext.allowPrivilegeEscalation: false on the container (the runtime then \
          sets no_new_privs), or enforce it with the restricted Pod Security Standard.",
    impact: 0.5,
    nist: &["AC-6 (8)", "AC-6 (10)"],
    cci: &["CCI-002233", "CCI-002235"],
    line: line!(),
};
pub const SECCOMP: ControlDef = ControlDef {
    id: "SIDESCAN-PROC-004",
    title: "The container's process runs under a seccomp filter",
    desc: "A seccomp filter limits the system calls a process can make, shrinking the kernel's \
           attack surface; without one every system call is reachable.",
    check: "read Seccomp from /proc/<pid>/status of the target process; pass for 2 (filter) or \
            1 (strict), fail for 0 (disabled); error when the kernel does not report it",
    fix: "Set securityContext.seccompProfile.type: RuntimeDefault (or Localhost with a reviewed \
          profile) on the pod or container; on Kubernetes before 1.19 use the \
          seccomp.security.alpha.kubernetes.io/pod annotation.",
    impact: 0.5,
    nist: &["CM-7 a", "SC-39"],
    cci: &["CCI-000381", "CCI-002530"],
    line: line!(),
};
pub const READ_ONLY_ROOT: ControlDef = ControlDef {
    id: "SIDESCAN-PROC-005",
    title: "The container's root filesystem is mounted read-only",
    desc: "A read-only root filesystem keeps a compromised process from changing the image's \
           programs and libraries or leaving tools behind; writable state belongs in volumes.",
    check: "find the mount of the target's root (its mount id) in /proc/<pid>/mountinfo; pass \
            when its mount or superblock options hold ro (without mountinfo: the root's statfs \
            flags); fail otherwise",
    fix: "Set securityContext.readOnlyRootFilesystem: true on the container and mount emptyDir \
          volumes where the application writes (/tmp, caches).",
    impact: 0.3,
    nist: &["CM-5 (6)", "CM-6 b"],
    cci: &["CCI-001499", "CCI-000366"],
    line: line!(),
};
pub const LSM_CONFINEMENT: ControlDef = ControlDef {
    id: "SIDESCAN-PROC-006",
    title: "The container's process is confined by AppArmor or SELinux",
    desc: "A mandatory access control profile (AppArmor) or type (SELinux) limits what the \
           process may do even as root; unconfined processes rely on discretionary permissions \
           alone.",
    check: "read /proc/<pid>/attr/apparmor/current (else attr/current); fail for an AppArmor \
            profile 'unconfined' or in complain mode, or an unconfining SELinux type (spc_t, \
            unconfined_t, ...); skipped when no such LSM is active on the node",
    fix: "Run the container with an AppArmor profile (securityContext.appArmorProfile.type: \
          RuntimeDefault, or the container.apparmor.security.beta.kubernetes.io annotation) or \
          an SELinux type such as container_t (securityContext.seLinuxOptions); never \
          privileged: true.",
    impact: 0.3,
    nist: &["AC-3", "SC-39"],
    cci: &["CCI-000213", "CCI-002530"],
    line: line!(),
};
pub const SHELLS: ControlDef = ControlDef {
    id: "SIDESCAN-SW-001",
    title: "No interactive shells in the image",
    desc: "A shell lets anyone who gains code execution in the container run arbitrary commands; \
           minimal and distroless images ship none.",
    check: "look for sh, bash, dash, ash, zsh, ksh, mksh, csh, tcsh and busybox in \
            /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin and the first 64 \
            directories of the target process' PATH (symlinks followed inside the target's \
            root); fail for each executable found and not in the input allowed_shells",
    fix: "Build from a minimal or distroless base image and copy only the application into it \
          (multi-stage build); remove shells from the final stage.",
    impact: 0.3,
    nist: &["CM-7 a", "CM-7 b", "CM-7 (1)"],
    cci: &["CCI-000381", "CCI-000382"],
    line: line!(),
};
pub const PACKAGE_MANAGERS: ControlDef = ControlDef {
    id: "SIDESCAN-SW-002",
    title: "No package managers in the image",
    desc: "A package manager lets an intruder install tools in the running container; images \
           should be built, not changed at run time.",
    check: "look for apt, apt-get, dpkg, apk, yum, dnf, microdnf, rpm, zypper, pip and pip3 in \
            the same directories as SIDESCAN-SW-001; fail for each executable found and not in \
            the input allowed_package_managers",
    fix: "Install packages in a build stage and copy the results into a final stage without the \
          package manager; or remove it at the end of the build.",
    impact: 0.3,
    nist: &["CM-7 a", "CM-11 (2)"],
    cci: &["CCI-000381", "CCI-001812"],
    line: line!(),
};
pub const PRIVATE_KEYS: ControlDef = ControlDef {
    id: "SIDESCAN-KEY-001",
    title: "No private keys in the image",
    desc: "Private keys baked into an image are shared by every copy of it and readable by \
           anyone who can pull it; they belong in mounted secrets.",
    check: "read every regular file up to 1 MiB found by the walk (temporary directories \
            included): a PEM private key block (PKCS#1, PKCS#8, encrypted PKCS#8, EC, DSA, \
            OpenSSH, OpenPGP, SSH2) or a PuTTY key in a text file, a DER private key in a binary \
            file; fail for each file holding one and not in the input allowed_private_keys; \
            error for each file or directory that could not be read and for each file over \
            1 MiB in a key directory (/etc/ssh, /etc/ssl/private, /etc/pki/tls/private, any \
            .ssh) or named like a key; skipped (not checked) for each directory or file a walk \
            or read limit left out",
    fix: "Remove the key from the image (and rotate it: everyone with the image has it); mount \
          it at run time from a Kubernetes Secret or a secret manager.",
    impact: 0.7,
    nist: &["SC-12", "SC-28", "IA-5 (2)"],
    cci: &["CCI-000186", "CCI-001199"],
    line: line!(),
};
pub const CREDENTIAL_FILES: ControlDef = ControlDef {
    id: "SIDESCAN-KEY-002",
    title: "No cloud or registry credentials in the image",
    desc: "Credential files (AWS credentials, Docker registry auths, .netrc, Git credential \
           stores, kubeconfigs with tokens or client keys) in an image hand their access to \
           anyone who can pull it.",
    check: "during the walk, read files named .aws/credentials, .docker/config.json, .netrc, \
            _netrc, .git-credentials, .kube/config, kubeconfig, *.kubeconfig and \
            /etc/kubernetes/*.conf; fail for each holding a secret (secret access key or session \
            token, registry auth, password, token, client key) and not in the input \
            allowed_credential_files; report path and kind only, never the secret; error for \
            each such file or directory that could not be read; skipped (not checked) for \
            each a walk or read limit left out",
    fix: "Remove the file from the image and revoke the credential; provide credentials at run \
          time (IRSA / workload identity, imagePullSecrets, mounted Secrets).",
    impact: 0.7,
    nist: &["IA-5 (7)", "SC-28"],
    cci: &["CCI-004069", "CCI-002367", "CCI-001199"],
    line: line!(),
};
pub const UID0_ACCOUNTS: ControlDef = ControlDef {
    id: "SIDESCAN-ACCT-001",
    title: "No account other than root has UID 0",
    desc: "Every account with UID 0 is root under another name: it holds all of root's access \
           and hides which identity acted.",
    check: "parse /etc/passwd of the target; fail for each account with UID 0 whose name is not \
            root and not in the input allowed_uid0_accounts; error when /etc/passwd cannot be \
            read; skipped (not checked) when it is over its size limit or not a regular file",
    fix: "Remove the account or give it its own UID (usermod -u <uid> <name>) in the image build.",
    impact: 0.7,
    nist: &["IA-2", "AC-6", "CM-6 b"],
    cci: &["CCI-000764", "CCI-000366"],
    line: line!(),
};
pub const EMPTY_PASSWORDS: ControlDef = ControlDef {
    id: "SIDESCAN-ACCT-002",
    title: "No account has an empty password",
    desc: "An account with an empty password field logs in without any password wherever \
           password authentication is accepted (su, login, a PAM-based service).",
    check: "parse /etc/shadow and /etc/passwd of the target; fail for each account whose password \
            field is empty; error when /etc/shadow exists but cannot be read",
    fix: "Lock the account (passwd -l <name>, or * in /etc/shadow) or set a password in the image \
          build; remove accounts the image does not need.",
    impact: 0.7,
    nist: &["IA-2", "CM-6 b"],
    cci: &["CCI-000764", "CCI-000366"],
    line: line!(),
};
pub const SYSTEM_ACCOUNT_SHELLS: ControlDef = ControlDef {
    id: "SIDESCAN-ACCT-003",
    title: "System accounts have no login shell",
    desc: "System accounts (UID below UID_MIN, root excepted) run services; with a login shell \
           they can be used interactively, e.g. after a service is compromised.",
    check: "parse /etc/passwd (and UID_MIN from /etc/login.defs, default 1000, or the input \
            system_uid_max); fail for each account with 0 < UID <= that bound whose shell is not \
            nologin, false, true, sync, halt or shutdown and whose name is not in the input \
            allowed_shell_accounts",
    fix: "Set the account's shell to /usr/sbin/nologin (usermod -s /usr/sbin/nologin <name>) in \
          the image build.",
    impact: 0.3,
    nist: &["AC-6", "CM-6 b"],
    cci: &["CCI-000225", "CCI-000366"],
    line: line!(),
};
pub const OS_IDENTITY: ControlDef = ControlDef {
    id: "SIDESCAN-INV-001",
    title: "Operating system identity",
    desc: "The distribution and release the image is built from, from /etc/os-release or \
           /usr/lib/os-release (informational).",
    check: "parse os-release",
    fix: "Informational: keep the base image on a supported release.",
    impact: 0.0,
    nist: &["CM-8 a"],
    cci: &["CCI-000389"],
    line: line!(),
};
pub const PACKAGES: ControlDef = ControlDef {
    id: "SIDESCAN-INV-002",
    title: "Installed packages",
    desc: "The packages recorded by dpkg (/var/lib/dpkg/status and status.d) or apk \
           (/lib/apk/db/installed), one result per package (informational).",
    check: "parse the package databases",
    fix: "Informational: remove packages the workload does not need; rebuild on updated bases.",
    impact: 0.0,
    nist: &["CM-8 a", "CM-8 (3)"],
    cci: &["CCI-000389", "CCI-000416"],
    line: line!(),
};

pub const ALL_CONTROLS: [ControlDef; 18] = [
    SENSITIVE_FILES,
    WORLD_WRITABLE,
    SETID_BINARIES,
    NON_ROOT,
    CAPABILITIES,
    NO_NEW_PRIVS,
    SECCOMP,
    READ_ONLY_ROOT,
    LSM_CONFINEMENT,
    SHELLS,
    PACKAGE_MANAGERS,
    PRIVATE_KEYS,
    CREDENTIAL_FILES,
    UID0_ACCOUNTS,
    EMPTY_PASSWORDS,
    SYSTEM_ACCOUNT_SHELLS,
    OS_IDENTITY,
    PACKAGES,
];

/// Control groups: id prefix and title.
pub const GROUPS: [(&str, &str); 6] = [
    ("SIDESCAN-FS", "File permissions"),
    (
        "SIDESCAN-PROC",
        "Runtime hardening of the container's process",
    ),
    ("SIDESCAN-SW", "Software in the image"),
    ("SIDESCAN-KEY", "Keys and credentials"),
    ("SIDESCAN-ACCT", "Accounts"),
    ("SIDESCAN-INV", "Inventory"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_stable_and_grouped() {
        let ids: Vec<&str> = ALL_CONTROLS.iter().map(|c| c.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        // Ids published by earlier versions keep their meaning.
        for (id, title) in [
            ("SIDESCAN-FS-001", "Account files"),
            ("SIDESCAN-FS-002", "No world-writable"),
            ("SIDESCAN-FS-003", "No setuid"),
            (
                "SIDESCAN-PROC-001",
                "The container's process does not run as root",
            ),
            (
                "SIDESCAN-PROC-002",
                "The container's process holds no administrative",
            ),
            ("SIDESCAN-SW-001", "No interactive shells"),
            ("SIDESCAN-SW-002", "No package managers"),
            ("SIDESCAN-KEY-001", "No private keys"),
            ("SIDESCAN-INV-001", "Operating system"),
            ("SIDESCAN-INV-002", "Installed packages"),
        ] {
            let c = ALL_CONTROLS.iter().find(|c| c.id == id).unwrap();
            assert!(c.title.starts_with(title), "{id}: {}", c.title);
        }
        for c in ALL_CONTROLS {
            assert!(GROUPS.iter().any(|(p, _)| c.id.starts_with(p)), "{}", c.id);
            assert!(
                !c.fix.is_empty() && !c.nist.is_empty() && !c.cci.is_empty(),
                "{}",
                c.id
            );
            assert!(
                c.cci
                    .iter()
                    .all(|cci| cci.starts_with("CCI-") && cci.len() == 10)
            );
        }
    }
}
