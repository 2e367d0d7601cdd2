//! The seccomp filters of the target view: system calls that would leave the view, and system
//! calls that would change a file's metadata, fail before they reach the kernel's file code.
//!
//! - **Untranslated path calls fail with `ENOSYS`.** PRoot 5.1.0 rewrites the paths of the system
//!   calls it knows; newer ones pass through untranslated and would resolve in the scanner's root:
//!   `statx` (coreutils `stat` and `ls`, Rust programs), `faccessat2` (glibc's `faccessat` with
//!   flags), `openat2`, `execveat`, and io_uring (its operations open, stat and set extended
//!   attributes without any system call PRoot or seccomp sees). With `ENOSYS` the C library and
//!   Rust's standard library fall back to the older calls PRoot translates.
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
//!
//! Two scopes, because PRoot itself needs exactly one of these calls: it extracts its loader into
//! `/tmp` (`mkstemp`) and makes it executable with `fchmod(fd, 0500)` when the first program
//! starts. [`Scope::Proot`] (installed before PRoot's `exec`, inherited by everything) allows that
//! one call with that one mode and refuses every other metadata call, including the `chmod(…,
//! 0700)` PRoot's cleanup makes on the entries of its temporary directory (a program in the view
//! can plant a symlink there, so that `chmod` would follow it into the target; the agent removes
//! PRoot's temporary files itself, without following links). [`Scope::Programs`] refuses every
//! metadata call; `sidescan-agent view-exec` installs it as the first program PRoot starts, before
//! it executes the scanner's program, so no program of the scan ever runs without it.
//!
//! Every ABI the CPU offers a process is covered: on x86-64 the 32-bit `int 0x80` ABI (its own
//! numbers) and x32 (refused entirely: no scanner program uses it); on arm64, 32-bit ARM is refused
//! entirely (PRoot 5.1.0 translates only the native ABI there). On other architectures the filter
//! allows everything; the view proof still refuses a view that lets metadata calls through.

use std::io;

/// Who a filter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// PRoot itself: `fchmod(fd, 0500)` of its loader is allowed, every other metadata call fails.
    Proot,
    /// Every program in the view: every metadata call fails.
    Programs,
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
    ioctl: Some(54),
    loader_fchmod: None,
    refuse_all: false,
};

/// arm64 (the generic system call table: no `chmod`, `chown`, `utime`; only the `*at` forms).
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
/// the kernel reads the request as 32 bits, so only the low half is compared).
pub const SETATTR_IOCTLS: [(&str, u32); 7] = [
    ("FS_IOC_SETFLAGS", 0x4008_6602),
    ("FS_IOC32_SETFLAGS", 0x4004_6602),
    ("FS_IOC_SETVERSION", 0x4008_7602),
    ("FS_IOC32_SETVERSION", 0x4004_7602),
    ("FS_IOC_FSSETXATTR", 0x401C_5820),
    ("FS_IOC_ENABLE_VERITY", 0x4080_6685),
    ("FS_IOC_SET_ENCRYPTION_POLICY", 0x800C_6613),
];

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
                Op::Ret(action) => insn(BPF_RET_K, 0, 0, action),
            });
        }
        out
    }
}

/// The filter for `abis` and `scope`: per ABI, the untranslated calls fail with ENOSYS, the
/// metadata calls with EPERM (PRoot's loader `fchmod` excepted in [`Scope::Proot`]), everything
/// else is allowed; an architecture not in `abis` is allowed. Pure.
pub fn build(abis: &[&Abi], scope: Scope) -> Vec<SockFilter> {
    let mut asm = Asm::default();
    asm.load(OFFSET_ARCH);
    for abi in abis {
        let next_abi = asm.label();
        asm.jump_unless_equal(abi.arch, next_abi);
        let (allow, enosys, eperm) = (asm.label(), asm.label(), asm.label());
        let (fchmod, ioctl) = (asm.label(), asm.label());
        if abi.refuse_all {
            asm.ret(RET_ERRNO | libc::ENOSYS as u32);
            asm.mark(next_abi);
            continue;
        }
        asm.load(OFFSET_NR);
        if abi.foreign_bit != 0 {
            asm.jump_if_set(abi.foreign_bit, enosys);
        }
        for &(_, nr) in abi.untranslated {
            asm.jump_if_equal(nr, enosys);
        }
        let loader_fchmod = abi.loader_fchmod.filter(|_| scope == Scope::Proot);
        for &(_, nr) in abi.metadata {
            if Some(nr) == loader_fchmod {
                asm.jump_if_equal(nr, fchmod);
            } else {
                asm.jump_if_equal(nr, eperm);
            }
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
            asm.ret(RET_ERRNO | libc::EPERM as u32);
        }
        // ioctl(fd, request, …)
        asm.mark(ioctl);
        if abi.ioctl.is_some() {
            asm.load(offset_arg_low(1));
            for &(_, request) in &SETATTR_IOCTLS {
                asm.jump_if_equal(request, eperm);
            }
            asm.ret(RET_ALLOW);
        }
        asm.mark(allow);
        asm.ret(RET_ALLOW);
        asm.mark(enosys);
        asm.ret(RET_ERRNO | libc::ENOSYS as u32);
        asm.mark(eperm);
        asm.ret(RET_ERRNO | libc::EPERM as u32);
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
    match scope {
        Scope::Proot => &PROOT,
        Scope::Programs => &PROGRAMS,
    }
}

/// Sets `no_new_privs` (needed for an unprivileged filter, and by Landlock) and installs
/// `program`; it stays for this process and everything it starts. Async-signal-safe: two `prctl`
/// calls on memory that already exists.
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
                BPF_RET_K => return insn.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    const ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;
    const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;

    fn check_abi(abi: &Abi, abis: &[&Abi]) {
        for scope in [Scope::Proot, Scope::Programs] {
            let f = build(abis, scope);
            let call = |nr, args| run(&f, abi.arch, nr, args);
            for &(name, nr) in abi.untranslated {
                assert_eq!(call(nr, [0; 6]), ENOSYS, "{} {name}", abi.name);
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
                // FS_IOC_GETFLAGS, TCGETS: reading is fine.
                assert_eq!(call(ioctl, [3, 0x8008_6601, 0, 0, 0, 0]), RET_ALLOW);
                assert_eq!(call(ioctl, [1, 0x5401, 0, 0, 0, 0]), RET_ALLOW);
            }
        }
        let f = build(abis, Scope::Programs);
        // read, write, openat, newfstatat, execve, ptrace … are untouched.
        let listed: Vec<u32> = abi
            .untranslated
            .iter()
            .chain(abi.metadata)
            .map(|&(_, nr)| nr)
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
        ];
        let table: Vec<_> = X86_64.untranslated.iter().chain(X86_64.metadata).collect();
        for (name, nr) in known {
            assert!(
                table.contains(&&(name, nr as u32)),
                "{name} should be {nr} in the x86_64 table"
            );
        }
        assert_eq!(X86_64.ioctl, Some(libc::SYS_ioctl as u32));
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
            for scope in [Scope::Proot, Scope::Programs] {
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
