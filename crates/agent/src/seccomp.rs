//! The seccomp filters of the target view (and of the builtin backend's scan threads): system
//! calls that would leave the view, change a file's metadata or truncate a file, that reach
//! into other processes, and device controls the scan does not need, fail before they reach the
//! kernel.
//!
//! - **Untranslated path calls fail with `ENOSYS`.** PRoot 5.1.0 rewrites the paths of the system
//!   calls it knows; newer ones pass through untranslated and would resolve in the scanner's root:
//!   `statx` (coreutils `stat` and `ls`, Rust programs), `faccessat2` (glibc's `faccessat` with
//!   flags), `openat2`, `execveat`, and io_uring (its operations open, stat and set extended
//!   attributes without any system call PRoot or seccomp sees). With `ENOSYS` the C library and
//!   Rust's standard library fall back to the older calls PRoot translates. (`openat2` also
//!   carries its flags behind a pointer a filter cannot read: refused, its callers fall back to
//!   `openat`, whose flags the filter reads.)
//! - **Metadata changes fail with `EPERM`.** Landlock governs writing, creating, removing and
//!   linking, not a file's mode, owner, timestamps, extended attributes or inode flags. The
//!   chmod family (`chmod`, `fchmod`, `fchmodat`, `fchmodat2`), the chown family (`chown`,
//!   `fchown`, `lchown`, `fchownat` and the 32-bit `*chown32`), the utime family (`utime`,
//!   `utimes`, `futimesat`, `utimensat`, `utimensat_time64`), the extended attribute writers
//!   (`setxattr`, `lsetxattr`, `fsetxattr`, `setxattrat`, `removexattr`, `lremovexattr`,
//!   `fremovexattr`, `removexattrat`), `file_setattr`, and the `ioctl`s that set inode flags or
//!   attributes (`FS_IOC_SETFLAGS`, `FS_IOC_SETVERSION`, `FS_IOC_FSSETXATTR`,
//!   `FS_IOC_ENABLE_VERITY`, `FS_IOC_SET_ENCRYPTION_POLICY`) are refused, so a scan running as the
//!   target's UID cannot change the target's files through them either.
//! - **Truncation fails with `EACCES`** (Landlock's own answer). Landlock ABI 1 and 2 (Linux <
//!   6.2) have no truncate right: `truncate(2)` and an `open` with `O_TRUNC` but without write
//!   access (`O_RDONLY | O_TRUNC`, or the access mode 3) empty a file Landlock lets the process
//!   read. So `truncate`, `ftruncate` (and the 32-bit `*64` forms) are refused, and `open` and
//!   `openat` are refused when `O_TRUNC` comes without `O_WRONLY` or `O_RDWR`. An open *with*
//!   write access needs Landlock's write right before the kernel truncates (the file-open hook
//!   runs before `O_TRUNC` is applied), which every ABI grants only beneath the scan's scratch
//!   directory; so `creat` and `open(…, O_WRONLY | O_CREAT | O_TRUNC)` (Ruby's `File.write`,
//!   the shell's `>`) keep working there and fail on the target's files.
//! - **Other processes are out of reach** ([`Scope::Programs`]): `ptrace`, `process_vm_readv`
//!   and `process_vm_writev` fail with `EPERM`. PRoot itself traces the view's programs, so its
//!   own filter allows them.
//! - **`ioctl` is an allowlist**: terminal queries (`TCGETS`, `TCGETS2`, `TIOCGWINSZ`,
//!   `TIOCGPGRP`), `FIONREAD`, `FIONBIO`, `FIOCLEX`, `FIONCLEX`, the inode-flag reads `lsattr`
//!   makes (`FS_IOC_GETFLAGS`, `FS_IOC_GETVERSION`, `FS_IOC_FSGETXATTR`) and the network
//!   interface queries `ifconfig` makes (`SIOCGIF*`) pass; the inode-flag setters fail with
//!   `EPERM` (metadata changes, above); every other request fails with `ENOTTY`, the kernel's own
//!   answer for a request a file does not support, so callers take it as "not a terminal" / "not
//!   supported" and carry on (`isatty` is false) instead of reporting a permission error.
//!
//! Three scopes. PRoot itself needs `ptrace` and exactly one metadata call: it extracts its loader
//! (`mkstemp`) and makes it executable with `fchmod(fd, 0500)` when the first program starts.
//! [`Scope::Proot`] (installed before PRoot's `exec`, inherited by everything) allows that one
//! call with that one mode and refuses every other metadata call, including the `chmod(…, 0700)`
//! PRoot's cleanup makes on the entries of its temporary directory (a program in the view can
//! plant a symlink there, so that `chmod` would follow it into the target; the agent removes
//! PRoot's temporary files itself, without following links). [`Scope::Programs`] refuses every
//! metadata call and the calls that reach into other processes; `sidescan-agent view-exec`
//! installs it as the first program PRoot starts, before it executes the scanner's program, so
//! no program of the scan ever runs without it. [`Scope::Scan`] is the builtin backend's scan
//! threads': no view, so no `ENOSYS` list (the walk uses `openat2` and `statx`) and only the
//! inode-flag setters among the `ioctl`s; metadata, truncation and other processes as for the
//! view's programs.
//!
//! Every ABI the CPU offers a process is covered: on x86-64 the 32-bit `int 0x80` ABI (its own
//! numbers) and x32 (refused entirely: no scanner program uses it); on arm64, 32-bit ARM is refused
//! entirely (PRoot 5.1.0 translates only the native ABI there). On other architectures the filter
//! allows everything; the view proof still refuses a view that lets metadata calls or writes
//! through.

use std::io;

/// Who a filter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// PRoot itself: `fchmod(fd, 0500)` of its loader and `ptrace` are allowed.
    Proot,
    /// Every program in the view.
    Programs,
    /// The builtin backend's scan threads (no view: path calls are not refused).
    Scan,
}

/// One system call ABI: its audit architecture and numbers.
#[derive(Debug)]
pub struct Abi {
    pub name: &'static str,
    /// `AUDIT_ARCH_*` as `seccomp_data.arch` reports it.
    pub arch: u32,
    /// Numbers with this bit set belong to another ABI sharing the architecture (x32); all fail
    /// with ENOSYS. 0: none.
    pub foreign_bit: u32,
    /// Path calls PRoot does not translate: ENOSYS.
    pub untranslated: &'static [(&'static str, u32)],
    /// Calls that change a file's metadata: EPERM.
    pub metadata: &'static [(&'static str, u32)],
    /// Calls that truncate a file: EACCES.
    pub truncate: &'static [(&'static str, u32)],
    /// Opens whose flags are an argument (name, number, index of the flags argument): EACCES
    /// when `O_TRUNC` comes without write access.
    pub opens: &'static [(&'static str, u32, u32)],
    /// Calls that reach into another process: EPERM for the view's programs and the scan.
    pub tracing: &'static [(&'static str, u32)],
    pub ioctl: Option<u32>,
    /// `fchmod`, allowed to PRoot with mode 0500 only; `None` where PRoot never makes the call.
    pub loader_fchmod: Option<u32>,
    /// Every call fails with ENOSYS (an ABI PRoot cannot translate).
    pub refuse_all: bool,
}

const IO_URING: [(&str, u32); 3] = [
    ("io_uring_setup", 425),
    ("io_uring_enter", 426),
    ("io_uring_register", 427),
];

pub const X86_64: Abi = Abi {
    name: "x86_64",
    arch: 0xC000_003E,
    foreign_bit: 0x4000_0000,
    untranslated: &[
        ("statx", 332),
        ("faccessat2", 439),
        ("openat2", 437),
        ("execveat", 322),
        IO_URING[0],
        IO_URING[1],
        IO_URING[2],
    ],
    metadata: &[
        ("chmod", 90),
        ("fchmod", 91),
        ("fchmodat", 268),
        ("fchmodat2", 452),
        ("chown", 92),
        ("fchown", 93),
        ("lchown", 94),
        ("fchownat", 260),
        ("utime", 132),
        ("utimes", 235),
        ("futimesat", 261),
        ("utimensat", 280),
        ("setxattr", 188),
        ("lsetxattr", 189),
        ("fsetxattr", 190),
        ("setxattrat", 463),
        ("removexattr", 197),
        ("lremovexattr", 198),
        ("fremovexattr", 199),
        ("removexattrat", 466),
        ("file_setattr", 469),
    ],
    truncate: &[("truncate", 76), ("ftruncate", 77)],
    opens: &[("open", 2, 1), ("openat", 257, 2)],
    tracing: &[
        ("ptrace", 101),
        ("process_vm_readv", 310),
        ("process_vm_writev", 311),
    ],
    ioctl: Some(16),
    loader_fchmod: Some(91),
    refuse_all: false,
};

/// 32-bit x86 on an x86-64 kernel (`int 0x80`, also from a 64-bit process).
pub const I386: Abi = Abi {
    name: "i386",
    arch: 0x4000_0003,
    foreign_bit: 0,
    untranslated: &[
        ("statx", 383),
        ("faccessat2", 439),
        ("openat2", 437),
        ("execveat", 358),
        IO_URING[0],
        IO_URING[1],
        IO_URING[2],
    ],
    metadata: &[
        ("chmod", 15),
        ("fchmod", 94),
        ("fchmodat", 306),
        ("fchmodat2", 452),
        ("lchown", 16),
        ("fchown", 95),
        ("chown", 182),
        ("lchown32", 198),
        ("fchown32", 207),
        ("chown32", 212),
        ("fchownat", 298),
        ("utime", 30),
        ("utimes", 271),
        ("futimesat", 299),
        ("utimensat", 320),
        ("utimensat_time64", 412),
        ("setxattr", 226),
        ("lsetxattr", 227),
        ("fsetxattr", 228),
        ("setxattrat", 463),
        ("removexattr", 235),
        ("lremovexattr", 236),
        ("fremovexattr", 237),
        ("removexattrat", 466),
        ("file_setattr", 469),
    ],
    truncate: &[
        ("truncate", 92),
        ("ftruncate", 93),
        ("truncate64", 193),
        ("ftruncate64", 194),
    ],
    opens: &[("open", 5, 1), ("openat", 295, 2)],
    tracing: &[
        ("ptrace", 26),
        ("process_vm_readv", 347),
        ("process_vm_writev", 348),
    ],
    ioctl: Some(54),
    loader_fchmod: None,
    refuse_all: false,
};

/// arm64 (the generic system call table: no `chmod`, `chown`, `utime`, `open`; only the `*at`
/// forms).
pub const AARCH64: Abi = Abi {
    name: "aarch64",
    arch: 0xC000_00B7,
    foreign_bit: 0,
    untranslated: &[
        ("statx", 291),
        ("faccessat2", 439),
        ("openat2", 437),
        ("execveat", 281),
        IO_URING[0],
        IO_URING[1],
        IO_URING[2],
    ],
    metadata: &[
        ("fchmod", 52),
        ("fchmodat", 53),
        ("fchmodat2", 452),
        ("fchownat", 54),
        ("fchown", 55),
        ("utimensat", 88),
        ("setxattr", 5),
        ("lsetxattr", 6),
        ("fsetxattr", 7),
        ("setxattrat", 463),
        ("removexattr", 14),
        ("lremovexattr", 15),
        ("fremovexattr", 16),
        ("removexattrat", 466),
        ("file_setattr", 469),
    ],
    truncate: &[("truncate", 45), ("ftruncate", 46)],
    opens: &[("openat", 56, 2)],
    tracing: &[
        ("ptrace", 117),
        ("process_vm_readv", 270),
        ("process_vm_writev", 271),
    ],
    ioctl: Some(29),
    loader_fchmod: Some(52),
    refuse_all: false,
};

/// 32-bit ARM on an arm64 kernel: PRoot 5.1.0 does not translate it, so nothing of it runs.
pub const ARM_COMPAT: Abi = Abi {
    name: "arm",
    arch: 0x4000_0028,
    foreign_bit: 0,
    untranslated: &[],
    metadata: &[],
    truncate: &[],
    opens: &[],
    tracing: &[],
    ioctl: None,
    loader_fchmod: None,
    refuse_all: true,
};

/// The ABIs a process may use on this architecture.
#[cfg(target_arch = "x86_64")]
pub const ABIS: &[&Abi] = &[&X86_64, &I386];
#[cfg(target_arch = "aarch64")]
pub const ABIS: &[&Abi] = &[&AARCH64, &ARM_COMPAT];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const ABIS: &[&Abi] = &[];

/// `ioctl` requests that set inode flags or attributes (both the 64-bit and 32-bit encodings;
/// the kernel reads the request as 32 bits, so only the low half is compared): EPERM.
pub const SETATTR_IOCTLS: [(&str, u32); 7] = [
    ("FS_IOC_SETFLAGS", 0x4008_6602),
    ("FS_IOC32_SETFLAGS", 0x4004_6602),
    ("FS_IOC_SETVERSION", 0x4008_7602),
    ("FS_IOC32_SETVERSION", 0x4004_7602),
    ("FS_IOC_FSSETXATTR", 0x401C_5820),
    ("FS_IOC_ENABLE_VERITY", 0x4080_6685),
    ("FS_IOC_SET_ENCRYPTION_POLICY", 0x800C_6613),
];

/// The `ioctl` requests the view's programs may make (the same numbers on x86-64, i386 and
/// arm64); every other one fails with ENOTTY. Found by tracing PRoot, Debian's Ruby running the
/// CINC Auditor test double, the agent's own programs, and the commands profiles spawn
/// (coreutils and busybox `ls`, `stat`, `find`, `cat`, `id`, `ps`, `uname`, `df`, `lsattr`,
/// `ifconfig`, `ip`, `ss`, `netstat`, `sh`) with and without a terminal.
pub const ALLOWED_IOCTLS: [(&str, u32); 26] = [
    // Terminal queries (isatty, the window size); the view has no terminal, so they answer
    // ENOTTY from the kernel anyway.
    ("TCGETS", 0x5401),
    ("TCGETS2", 0x802C_542A),
    ("TIOCGWINSZ", 0x5413),
    ("TIOCGPGRP", 0x540F),
    // Descriptor state.
    ("FIONREAD", 0x541B),
    ("FIONBIO", 0x5421),
    ("FIONCLEX", 0x5450),
    ("FIOCLEX", 0x5451),
    // Inode flags, read (lsattr).
    ("FS_IOC_GETFLAGS", 0x8008_6601),
    ("FS_IOC32_GETFLAGS", 0x8004_6601),
    ("FS_IOC_GETVERSION", 0x8008_7601),
    ("FS_IOC32_GETVERSION", 0x8004_7601),
    ("FS_IOC_FSGETXATTR", 0x801C_581F),
    // Network interfaces, read (ifconfig).
    ("SIOCGIFNAME", 0x8910),
    ("SIOCGIFCONF", 0x8912),
    ("SIOCGIFFLAGS", 0x8913),
    ("SIOCGIFADDR", 0x8915),
    ("SIOCGIFDSTADDR", 0x8917),
    ("SIOCGIFBRDADDR", 0x8919),
    ("SIOCGIFNETMASK", 0x891B),
    ("SIOCGIFMETRIC", 0x891D),
    ("SIOCGIFMTU", 0x8921),
    ("SIOCGIFHWADDR", 0x8927),
    ("SIOCGIFINDEX", 0x8933),
    ("SIOCGIFTXQLEN", 0x8942),
    ("SIOCGIFMAP", 0x8970),
];

/// `open`'s `O_TRUNC` and access mode bits (the same on x86-64, i386 and arm64).
pub const O_TRUNC: u32 = 0o1000;
pub const O_ACCMODE: u32 = 0o3;

/// The mode PRoot's loader gets (`S_IRUSR | S_IXUSR`).
pub const LOADER_MODE: u32 = 0o500;

/// A classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

pub const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub const BPF_JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
pub const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
pub const BPF_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;

/// `struct seccomp_data`: `nr` at 0, `arch` at 4, `args[i]` at 16 + 8 i (low half first on
/// little-endian machines).
pub const OFFSET_NR: u32 = 0;
pub const OFFSET_ARCH: u32 = 4;
pub const fn offset_arg_low(i: u32) -> u32 {
    if cfg!(target_endian = "big") {
        16 + 8 * i + 4
    } else {
        16 + 8 * i
    }
}

/// A program being assembled: forward jumps to labels, resolved by [`Asm::finish`].
#[derive(Default)]
struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

enum Op {
    Load(u32),
    /// Jump to the label when `A == k` (`jump_if_equal`) or when it is not.
    JumpEq {
        k: u32,
        to: usize,
        if_equal: bool,
    },
    JumpSet {
        bits: u32,
        to: usize,
    },
    And(u32),
    Ret(u32),
    Mark(usize),
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }
    fn load(&mut self, offset: u32) {
        self.ops.push(Op::Load(offset));
    }
    fn jump_if_equal(&mut self, k: u32, to: usize) {
        self.ops.push(Op::JumpEq {
            k,
            to,
            if_equal: true,
        });
    }
    fn jump_unless_equal(&mut self, k: u32, to: usize) {
        self.ops.push(Op::JumpEq {
            k,
            to,
            if_equal: false,
        });
    }
    fn jump_if_set(&mut self, bits: u32, to: usize) {
        self.ops.push(Op::JumpSet { bits, to });
    }
    fn and(&mut self, bits: u32) {
        self.ops.push(Op::And(bits));
    }
    fn ret(&mut self, action: u32) {
        self.ops.push(Op::Ret(action));
    }
    fn mark(&mut self, label: usize) {
        self.ops.push(Op::Mark(label));
    }

    fn finish(self) -> Vec<SockFilter> {
        let mut at = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for op in &self.ops {
            match op {
                Op::Mark(label) => at[*label] = pc,
                _ => pc += 1,
            }
        }
        let offset = |pc: usize, label: usize| -> u8 {
            let target = at[label];
            assert!(target > pc, "seccomp filter: jumps go forward");
            u8::try_from(target - pc - 1).expect("seccomp filter: jump longer than 255")
        };
        let mut out = Vec::with_capacity(pc);
        for op in &self.ops {
            let pc = out.len();
            let insn = |code, jt, jf, k| SockFilter { code, jt, jf, k };
            out.push(match *op {
                Op::Mark(_) => continue,
                Op::Load(offset) => insn(BPF_LD_W_ABS, 0, 0, offset),
                Op::JumpEq { k, to, if_equal } if if_equal => insn(BPF_JEQ_K, offset(pc, to), 0, k),
                Op::JumpEq { k, to, .. } => insn(BPF_JEQ_K, 0, offset(pc, to), k),
                Op::JumpSet { bits, to } => insn(BPF_JSET_K, offset(pc, to), 0, bits),
                Op::And(bits) => insn(BPF_AND_K, 0, 0, bits),
                Op::Ret(action) => insn(BPF_RET_K, 0, 0, action),
            });
        }
        out
    }
}

/// The filter for `abis` and `scope`: per ABI, the untranslated calls fail with ENOSYS (not in
/// [`Scope::Scan`]), the metadata calls with EPERM (PRoot's loader `fchmod` excepted in
/// [`Scope::Proot`]), truncation with EACCES, the calls that reach into other processes with
/// EPERM (not in [`Scope::Proot`]), `ioctl`s outside [`ALLOWED_IOCTLS`] with ENOTTY (the setters
/// of [`SETATTR_IOCTLS`] with EPERM; in [`Scope::Scan`] only those), everything else is allowed;
/// an architecture not in `abis` is allowed. Pure.
pub fn build(abis: &[&Abi], scope: Scope) -> Vec<SockFilter> {
    let errno = |e: i32| RET_ERRNO | e as u32;
    let mut asm = Asm::default();
    asm.load(OFFSET_ARCH);
    for abi in abis {
        let next_abi = asm.label();
        asm.jump_unless_equal(abi.arch, next_abi);
        let (allow, enosys, eperm, eacces) = (asm.label(), asm.label(), asm.label(), asm.label());
        let (fchmod, ioctl) = (asm.label(), asm.label());
        if abi.refuse_all {
            asm.ret(errno(libc::ENOSYS));
            asm.mark(next_abi);
            continue;
        }
        asm.load(OFFSET_NR);
        if abi.foreign_bit != 0 {
            asm.jump_if_set(abi.foreign_bit, enosys);
        }
        if scope != Scope::Scan {
            for &(_, nr) in abi.untranslated {
                asm.jump_if_equal(nr, enosys);
            }
        }
        let loader_fchmod = abi.loader_fchmod.filter(|_| scope == Scope::Proot);
        for &(_, nr) in abi.metadata {
            if Some(nr) == loader_fchmod {
                asm.jump_if_equal(nr, fchmod);
            } else {
                asm.jump_if_equal(nr, eperm);
            }
        }
        for &(_, nr) in abi.truncate {
            asm.jump_if_equal(nr, eacces);
        }
        if scope != Scope::Proot {
            for &(_, nr) in abi.tracing {
                asm.jump_if_equal(nr, eperm);
            }
        }
        let opens: Vec<(u32, u32, usize)> = abi
            .opens
            .iter()
            .map(|&(_, nr, arg)| (nr, arg, asm.label()))
            .collect();
        for &(nr, _, label) in &opens {
            asm.jump_if_equal(nr, label);
        }
        if let Some(nr) = abi.ioctl {
            asm.jump_if_equal(nr, ioctl);
        }
        asm.ret(RET_ALLOW);
        // fchmod(fd, mode): PRoot's loader only.
        asm.mark(fchmod);
        if loader_fchmod.is_some() {
            asm.load(offset_arg_low(1));
            asm.jump_if_equal(LOADER_MODE, allow);
            asm.ret(errno(libc::EPERM));
        }
        // open(path, flags, …) and openat(dirfd, path, flags, …): O_TRUNC needs write access.
        for &(_, arg, label) in &opens {
            let check = asm.label();
            asm.mark(label);
            asm.load(offset_arg_low(arg));
            asm.jump_if_set(O_TRUNC, check);
            asm.ret(RET_ALLOW);
            asm.mark(check);
            asm.and(O_ACCMODE);
            asm.jump_if_equal(libc::O_WRONLY as u32, allow);
            asm.jump_if_equal(libc::O_RDWR as u32, allow);
            asm.ret(errno(libc::EACCES));
        }
        // ioctl(fd, request, …)
        asm.mark(ioctl);
        if abi.ioctl.is_some() {
            asm.load(offset_arg_low(1));
            for &(_, request) in &SETATTR_IOCTLS {
                asm.jump_if_equal(request, eperm);
            }
            if scope == Scope::Scan {
                asm.ret(RET_ALLOW);
            } else {
                for &(_, request) in &ALLOWED_IOCTLS {
                    asm.jump_if_equal(request, allow);
                }
                asm.ret(errno(libc::ENOTTY));
            }
        }
        asm.mark(allow);
        asm.ret(RET_ALLOW);
        asm.mark(enosys);
        asm.ret(errno(libc::ENOSYS));
        asm.mark(eperm);
        asm.ret(errno(libc::EPERM));
        asm.mark(eacces);
        asm.ret(errno(libc::EACCES));
        asm.mark(next_abi);
        // The accumulator is still the architecture here: the only way in is the jump above.
    }
    asm.ret(RET_ALLOW);
    asm.finish()
}

/// The filter of `scope` for this machine, built once. Call it before `fork`: the child only
/// reads it.
pub fn filter(scope: Scope) -> &'static [SockFilter] {
    static PROOT: std::sync::LazyLock<Vec<SockFilter>> =
        std::sync::LazyLock::new(|| build(ABIS, Scope::Proot));
    static PROGRAMS: std::sync::LazyLock<Vec<SockFilter>> =
        std::sync::LazyLock::new(|| build(ABIS, Scope::Programs));
    static SCAN: std::sync::LazyLock<Vec<SockFilter>> =
        std::sync::LazyLock::new(|| build(ABIS, Scope::Scan));
    match scope {
        Scope::Proot => &PROOT,
        Scope::Programs => &PROGRAMS,
        Scope::Scan => &SCAN,
    }
}

/// Sets `no_new_privs` (needed for an unprivileged filter, and by Landlock) and installs
/// `program`; it stays for the calling thread and every thread and process it starts afterwards.
/// Async-signal-safe: two `prctl` calls on memory that already exists.
pub fn install(program: &[SockFilter]) -> io::Result<()> {
    let prog = SockFprog {
        len: u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        filter: program.as_ptr(),
    };
    // SAFETY: prctl with a pointer to a filter program that outlives the call.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const SockFprog,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a filter on `seccomp_data` the way the kernel does (the instructions [`build`]
    /// emits), returning the action.
    fn run(program: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        for (i, arg) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_ne_bytes());
        }
        let (mut pc, mut a) = (0usize, 0u32);
        loop {
            let insn = program[pc];
            pc += 1;
            match insn.code {
                BPF_LD_W_ABS => {
                    let at = insn.k as usize;
                    a = u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
                }
                BPF_JEQ_K | BPF_JSET_K => {
                    let taken = if insn.code == BPF_JEQ_K {
                        a == insn.k
                    } else {
                        a & insn.k != 0
                    };
                    pc += usize::from(if taken { insn.jt } else { insn.jf });
                }
                BPF_AND_K => a &= insn.k,
                BPF_RET_K => return insn.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    const ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;
    const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;
    const EACCES: u32 = RET_ERRNO | libc::EACCES as u32;
    const ENOTTY: u32 = RET_ERRNO | libc::ENOTTY as u32;
    const SCOPES: [Scope; 3] = [Scope::Proot, Scope::Programs, Scope::Scan];

    fn check_abi(abi: &Abi, abis: &[&Abi]) {
        for scope in SCOPES {
            let f = build(abis, scope);
            let call = |nr, args| run(&f, abi.arch, nr, args);
            for &(name, nr) in abi.untranslated {
                let expected = if scope == Scope::Scan {
                    RET_ALLOW
                } else {
                    ENOSYS
                };
                assert_eq!(call(nr, [0; 6]), expected, "{} {name} {scope:?}", abi.name);
            }
            for &(name, nr) in abi.metadata {
                let loader = scope == Scope::Proot && abi.loader_fchmod == Some(nr);
                let with_loader_mode = call(nr, [3, u64::from(LOADER_MODE), 0, 0, 0, 0]);
                assert_eq!(
                    with_loader_mode,
                    if loader { RET_ALLOW } else { EPERM },
                    "{} {name} {scope:?}",
                    abi.name
                );
                assert_eq!(
                    call(nr, [3, 0o777, 0, 0, 0, 0]),
                    EPERM,
                    "{} {name}",
                    abi.name
                );
                assert_eq!(call(nr, [3, (1 << 32) | 0o777, 0, 0, 0, 0]), EPERM);
            }
            for &(name, nr) in abi.truncate {
                for args in [[3, 0, 0, 0, 0, 0], [3, 4096, 0, 0, 0, 0]] {
                    assert_eq!(call(nr, args), EACCES, "{} {name} {scope:?}", abi.name);
                }
            }
            for &(name, nr) in abi.tracing {
                let expected = if scope == Scope::Proot {
                    RET_ALLOW
                } else {
                    EPERM
                };
                assert_eq!(call(nr, [0; 6]), expected, "{} {name} {scope:?}", abi.name);
            }
            for &(name, nr, arg) in abi.opens {
                let flags = |f: u32| {
                    let mut args = [u64::MAX; 6];
                    args[arg as usize] = u64::from(f);
                    args
                };
                let trunc = O_TRUNC;
                let wronly = libc::O_WRONLY as u32;
                let rdwr = libc::O_RDWR as u32;
                let creat = libc::O_CREAT as u32;
                // O_TRUNC without write access (O_RDONLY, or the access mode 3): refused.
                for refused in [trunc, trunc | 3, trunc | creat | libc::O_CLOEXEC as u32] {
                    assert_eq!(
                        call(nr, flags(refused)),
                        EACCES,
                        "{} {name} {refused:#o} {scope:?}",
                        abi.name
                    );
                }
                // Write access: Landlock's write right governs the truncation (allowed only in
                // the scratch directory); reading and O_PATH opens are untouched.
                for allowed in [
                    0,
                    wronly | creat | trunc,
                    rdwr | trunc,
                    wronly,
                    libc::O_CLOEXEC as u32 | libc::O_DIRECTORY as u32,
                    libc::O_PATH as u32,
                ] {
                    assert_eq!(
                        call(nr, flags(allowed)),
                        RET_ALLOW,
                        "{} {name} {allowed:#o} {scope:?}",
                        abi.name
                    );
                }
                // The kernel reads the flags as an int: the high half is ignored.
                let mut high = flags(0);
                high[arg as usize] = 7 << 32;
                assert_eq!(call(nr, high), RET_ALLOW);
            }
            if let Some(ioctl) = abi.ioctl {
                for (name, request) in SETATTR_IOCTLS {
                    assert_eq!(
                        call(ioctl, [3, u64::from(request), 0, 0, 0, 0]),
                        EPERM,
                        "{name}"
                    );
                    // Only the low 32 bits reach the driver.
                    let high = (7u64 << 32) | u64::from(request);
                    assert_eq!(call(ioctl, [3, high, 0, 0, 0, 0]), EPERM, "{name}");
                }
                for (name, request) in ALLOWED_IOCTLS {
                    assert_eq!(
                        call(ioctl, [1, u64::from(request), 0, 0, 0, 0]),
                        RET_ALLOW,
                        "{name} {scope:?}"
                    );
                    let high = (7u64 << 32) | u64::from(request);
                    assert_eq!(call(ioctl, [1, high, 0, 0, 0, 0]), RET_ALLOW, "{name}");
                }
                // Anything else: TIOCSTI (typing into a terminal), TCSETS, FICLONE, BLKDISCARD,
                // the loop and random devices' controls.
                let others = [0x5412, 0x5402, 0x4004_9409, 0x1277, 0x4C00, 0x4004_5201, 0];
                let expected = if scope == Scope::Scan {
                    RET_ALLOW
                } else {
                    ENOTTY
                };
                for request in others {
                    assert_eq!(
                        call(ioctl, [1, request, 0, 0, 0, 0]),
                        expected,
                        "{request:#x} {scope:?}"
                    );
                }
            }
        }
        let f = build(abis, Scope::Programs);
        // read, write, newfstatat, execve, mkdir, unlink … are untouched.
        let listed: Vec<u32> = abi
            .untranslated
            .iter()
            .chain(abi.metadata)
            .chain(abi.truncate)
            .chain(abi.tracing)
            .map(|&(_, nr)| nr)
            .chain(abi.opens.iter().map(|&(_, nr, _)| nr))
            .chain(abi.ioctl)
            .collect();
        for nr in (0..470).filter(|nr| !listed.contains(nr)) {
            assert_eq!(
                run(&f, abi.arch, nr, [0; 6]),
                RET_ALLOW,
                "{} {nr}",
                abi.name
            );
        }
    }

    #[test]
    fn every_abi_refuses_its_metadata_calls_and_allows_the_rest() {
        check_abi(&X86_64, &[&X86_64, &I386]);
        check_abi(&I386, &[&X86_64, &I386]);
        check_abi(&AARCH64, &[&AARCH64, &ARM_COMPAT]);
    }

    #[test]
    fn foreign_abis_and_architectures() {
        let f = build(&[&X86_64, &I386], Scope::Programs);
        // x32 (bit 30) is refused whatever the call.
        assert_eq!(run(&f, X86_64.arch, 0x4000_0000, [0; 6]), ENOSYS);
        assert_eq!(run(&f, X86_64.arch, 0x4000_0000 | 90, [0; 6]), ENOSYS);
        // An i386 number means another call on x86-64: chmod is 15 there, rt_sigreturn here.
        assert_eq!(run(&f, I386.arch, 15, [0; 6]), EPERM);
        assert_eq!(run(&f, X86_64.arch, 15, [0; 6]), RET_ALLOW);
        let f = build(&[&AARCH64, &ARM_COMPAT], Scope::Programs);
        assert_eq!(run(&f, ARM_COMPAT.arch, 3, [0; 6]), ENOSYS);
        assert_eq!(run(&f, AARCH64.arch, 63, [0; 6]), RET_ALLOW);
        // An architecture the filter does not know passes (the view proof still checks).
        assert_eq!(run(&f, X86_64.arch, 90, [0; 6]), RET_ALLOW);
        assert_eq!(build(&[], Scope::Programs).len(), 2);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x86_64_numbers_are_the_c_librarys() {
        let known = [
            ("chmod", libc::SYS_chmod),
            ("fchmod", libc::SYS_fchmod),
            ("fchmodat", libc::SYS_fchmodat),
            ("fchmodat2", libc::SYS_fchmodat2),
            ("chown", libc::SYS_chown),
            ("fchown", libc::SYS_fchown),
            ("lchown", libc::SYS_lchown),
            ("fchownat", libc::SYS_fchownat),
            ("utime", libc::SYS_utime),
            ("utimes", libc::SYS_utimes),
            ("futimesat", libc::SYS_futimesat),
            ("utimensat", libc::SYS_utimensat),
            ("setxattr", libc::SYS_setxattr),
            ("lsetxattr", libc::SYS_lsetxattr),
            ("fsetxattr", libc::SYS_fsetxattr),
            ("removexattr", libc::SYS_removexattr),
            ("lremovexattr", libc::SYS_lremovexattr),
            ("fremovexattr", libc::SYS_fremovexattr),
            ("statx", libc::SYS_statx),
            ("faccessat2", libc::SYS_faccessat2),
            ("openat2", libc::SYS_openat2),
            ("execveat", libc::SYS_execveat),
            ("io_uring_setup", libc::SYS_io_uring_setup),
            ("truncate", libc::SYS_truncate),
            ("ftruncate", libc::SYS_ftruncate),
            ("ptrace", libc::SYS_ptrace),
            ("process_vm_readv", libc::SYS_process_vm_readv),
            ("process_vm_writev", libc::SYS_process_vm_writev),
        ];
        let table: Vec<_> = X86_64
            .untranslated
            .iter()
            .chain(X86_64.metadata)
            .chain(X86_64.truncate)
            .chain(X86_64.tracing)
            .collect();
        for (name, nr) in known {
            assert!(
                table.contains(&&(name, nr as u32)),
                "{name} should be {nr} in the x86_64 table"
            );
        }
        assert_eq!(X86_64.ioctl, Some(libc::SYS_ioctl as u32));
        assert_eq!(
            X86_64.opens,
            [
                ("open", libc::SYS_open as u32, 1),
                ("openat", libc::SYS_openat as u32, 2)
            ]
        );
        assert_eq!(O_TRUNC, libc::O_TRUNC as u32);
        assert_eq!(O_ACCMODE, libc::O_ACCMODE as u32);
        let requests = [
            ("TCGETS", libc::TCGETS),
            ("TIOCGWINSZ", libc::TIOCGWINSZ),
            ("TIOCGPGRP", libc::TIOCGPGRP),
            ("FIONREAD", libc::FIONREAD),
            ("FIONBIO", libc::FIONBIO),
            ("FIOCLEX", libc::FIOCLEX),
            ("FIONCLEX", libc::FIONCLEX),
            ("SIOCGIFCONF", libc::SIOCGIFCONF),
            ("SIOCGIFFLAGS", libc::SIOCGIFFLAGS),
            ("SIOCGIFHWADDR", libc::SIOCGIFHWADDR),
            ("SIOCGIFINDEX", libc::SIOCGIFINDEX),
        ];
        for (name, request) in requests {
            assert!(
                ALLOWED_IOCTLS.contains(&(name, request as u32)),
                "{name} should be {request:#x}"
            );
        }
        // The calls newer than the C library's tables share one number on every architecture.
        for name in ["setxattrat", "removexattrat", "file_setattr", "fchmodat2"] {
            let nr = |abi: &Abi| abi.metadata.iter().find(|(n, _)| *n == name).unwrap().1;
            assert_eq!(nr(&X86_64), nr(&I386), "{name}");
            assert_eq!(nr(&X86_64), nr(&AARCH64), "{name}");
        }
    }

    #[test]
    fn jumps_stay_within_the_program() {
        for abis in [&[&X86_64, &I386][..], &[&AARCH64, &ARM_COMPAT][..]] {
            for scope in SCOPES {
                let f = build(abis, scope);
                for (pc, insn) in f.iter().enumerate() {
                    if insn.code == BPF_JEQ_K || insn.code == BPF_JSET_K {
                        assert!(pc + 1 + usize::from(insn.jt.max(insn.jf)) < f.len());
                    }
                }
                assert_eq!(f.last().unwrap().code, BPF_RET_K);
            }
        }
    }

    /// Runs `attempt` in a child process after installing `scope`'s filter (or none), and returns
    /// the error it reported (`None`: it succeeded).
    fn in_child(
        scope: Option<Scope>,
        attempt: impl Fn() -> io::Result<()> + Send + Sync + 'static,
    ) -> Option<i32> {
        use std::os::unix::process::CommandExt;
        let program = scope.map(filter);
        let mut command = std::process::Command::new("true");
        // SAFETY: the closure makes only system calls (prctl, the attempted call) on memory that
        // exists before the fork.
        unsafe {
            command.pre_exec(move || {
                if let Some(program) = program {
                    install(program)?;
                }
                attempt()
            });
        }
        match command.spawn() {
            Ok(mut child) => {
                child.wait().unwrap();
                None
            }
            Err(e) => Some(e.raw_os_error().expect("an errno from the child")),
        }
    }

    fn cvt(ret: libc::c_long) -> io::Result<()> {
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    #[test]
    fn the_kernel_refuses_metadata_calls_under_the_filter() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, "x").unwrap();
        let before = std::fs::metadata(&path).unwrap();
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        let c_path: &'static std::ffi::CStr = Box::leak(c_path.into_boxed_c_str());
        type Call = fn(&std::ffi::CStr) -> libc::c_long;
        // SAFETY (each): a system call with a valid C string and integer arguments.
        let calls: [(&str, Call); 5] = [
            ("chmod", |p| {
                unsafe { libc::chmod(p.as_ptr(), 0o600) }.into()
            }),
            ("chown", |p| {
                unsafe { libc::chown(p.as_ptr(), u32::MAX, u32::MAX) }.into()
            }),
            ("utimensat", |p| {
                unsafe { libc::utimensat(libc::AT_FDCWD, p.as_ptr(), std::ptr::null(), 0) }.into()
            }),
            ("setxattr", |p| {
                let (name, value) = (c"user.sidescan", c"x");
                unsafe { libc::setxattr(p.as_ptr(), name.as_ptr(), value.as_ptr().cast(), 1, 0) }
                    .into()
            }),
            ("fchmodat2", |p| unsafe {
                libc::syscall(libc::SYS_fchmodat2, libc::AT_FDCWD, p.as_ptr(), 0o600, 0)
            }),
        ];
        for (name, call) in calls {
            let attempt = move || cvt(call(c_path));
            assert_eq!(
                in_child(Some(Scope::Programs), attempt),
                Some(libc::EPERM),
                "{name}"
            );
            assert_eq!(
                in_child(Some(Scope::Proot), attempt),
                Some(libc::EPERM),
                "{name}"
            );
        }
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (after.mode(), after.ctime(), after.ctime_nsec()),
            (before.mode(), before.ctime(), before.ctime_nsec())
        );
        // PRoot's loader: fchmod(fd, 0500) passes its filter only; any other mode does not.
        let file = std::fs::File::open(&path).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        // SAFETY (each): fchmod of an open descriptor.
        let fchmod = move |mode| move || cvt(unsafe { libc::fchmod(fd, mode) }.into());
        assert_eq!(
            in_child(Some(Scope::Programs), fchmod(0o500)),
            Some(libc::EPERM)
        );
        assert_eq!(
            in_child(Some(Scope::Proot), fchmod(0o755)),
            Some(libc::EPERM)
        );
        assert_eq!(in_child(Some(Scope::Proot), fchmod(0o500)), None);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o500);
        // Without a filter any mode works: the refusals above are the filter's.
        assert_eq!(in_child(None, fchmod(0o644)), None);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o644);
    }

    #[test]
    fn the_kernel_refuses_truncation_tracing_and_other_ioctls_under_the_filter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, "content that must stay").unwrap();
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        let c_path: &'static std::ffi::CStr = Box::leak(c_path.into_boxed_c_str());
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        let parent = std::process::id() as libc::pid_t;
        type Call = Box<dyn Fn() -> io::Result<()> + Send + Sync>;
        // SAFETY (each): a system call with a valid C string, an open descriptor, integers.
        let open = move |flags: libc::c_int| -> Call {
            Box::new(move || {
                let fd = unsafe { libc::open(c_path.as_ptr(), flags) };
                if fd >= 0 {
                    unsafe { libc::close(fd) };
                }
                cvt(fd.into())
            })
        };
        let calls: Vec<(&str, Call, Option<i32>)> = vec![
            (
                "truncate",
                Box::new(move || cvt(unsafe { libc::truncate(c_path.as_ptr(), 0) }.into())),
                Some(libc::EACCES),
            ),
            (
                "ftruncate",
                Box::new(move || cvt(unsafe { libc::ftruncate(fd, 0) }.into())),
                Some(libc::EACCES),
            ),
            (
                "O_RDONLY|O_TRUNC",
                open(libc::O_RDONLY | libc::O_TRUNC),
                Some(libc::EACCES),
            ),
            ("O_RDONLY", open(libc::O_RDONLY), None),
            (
                "ptrace",
                Box::new(move || cvt(unsafe { libc::ptrace(libc::PTRACE_SEIZE, parent, 0, 0) })),
                Some(libc::EPERM),
            ),
            (
                "TIOCSTI",
                Box::new(move || {
                    let c = b'x';
                    cvt(unsafe { libc::ioctl(0, libc::TIOCSTI, &c) }.into())
                }),
                Some(libc::ENOTTY),
            ),
        ];
        for (name, call, refused) in calls {
            let call: &'static Call = Box::leak(Box::new(call));
            assert_eq!(in_child(Some(Scope::Programs), call), refused, "{name}");
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "content that must stay"
        );
        // Without a filter the same open empties the file: what Landlock ABI 1 and 2 allow.
        assert_eq!(in_child(None, open(libc::O_RDONLY | libc::O_TRUNC)), None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    /// `int 0x80` from a 64-bit process reaches the 32-bit system call table: the i386 numbers
    /// must be refused too.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_32_bit_abi_is_refused_too() {
        use std::os::unix::fs::MetadataExt;
        fn int80(nr: u32, a: u32, b: u32) -> i32 {
            let ret: i32;
            // SAFETY: a system call through the 32-bit entry with integer arguments only. LLVM
            // reserves rbx, so the first argument is swapped in and out around the call; the
            // kernel clears r8-r11 on this entry.
            unsafe {
                std::arch::asm!(
                    "xchg {a}, rbx",
                    "int 0x80",
                    "xchg {a}, rbx",
                    a = inout(reg) u64::from(a) => _,
                    inlateout("eax") nr as i32 => ret,
                    in("ecx") b,
                    out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                );
            }
            ret
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(file.as_file()) as u32;
        let fchmod32 = move || match int80(94, fd, 0o600) {
            ret if ret < 0 => Err(io::Error::from_raw_os_error(-ret)),
            _ => Ok(()),
        };
        // Without the filter: works where the kernel has the 32-bit ABI at all.
        match in_child(None, fchmod32) {
            Some(libc::ENOSYS) => {
                eprintln!("no IA-32 emulation in this kernel: nothing to refuse");
                return;
            }
            other => assert_eq!(other, None),
        }
        std::fs::set_permissions(
            file.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(in_child(Some(Scope::Programs), fchmod32), Some(libc::EPERM));
        assert_eq!(in_child(Some(Scope::Proot), fchmod32), Some(libc::EPERM));
        std::fs::write(file.path(), "kept").unwrap();
        let ftruncate32 = move || match int80(93, fd, 0) {
            ret if ret < 0 => Err(io::Error::from_raw_os_error(-ret)),
            _ => Ok(()),
        };
        for scope in [Scope::Proot, Scope::Programs, Scope::Scan] {
            assert_eq!(in_child(Some(scope), ftruncate32), Some(libc::EACCES));
        }
        assert_eq!(std::fs::read_to_string(file.path()).unwrap(), "kept");
        assert_eq!(
            std::fs::metadata(file.path()).unwrap().mode() & 0o7777,
            0o644
        );
    }

    #[test]
    fn untranslated_calls_fail_and_programs_fall_back() {
        use std::os::unix::process::CommandExt;
        // coreutils `stat` calls statx; with the filter glibc falls back to fstatat.
        let mut command = std::process::Command::new("stat");
        command.args(["-c", "%i", "/"]);
        let program = filter(Scope::Programs);
        // SAFETY: only the async-signal-safe prctl calls run between fork and exec.
        unsafe {
            command.pre_exec(move || install(program));
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ino = std::fs::metadata("/").map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.ino()
        });
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            ino.unwrap().to_string()
        );
    }
}
