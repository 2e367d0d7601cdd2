use super::*;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::atomic::Ordering;

fn touch(root: &Path, rel: &str, mode: u32) {
    write(root, rel, "x", mode);
}

fn write(root: &Path, rel: &str, text: &str, mode: u32) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn run(root: &Path, threads: usize) -> Walked {
    let fd = root::open_dir_path(root).unwrap();
    walk(&WalkRequest {
        root: fd.as_fd(),
        key_dirs: &[],
        threads,
        alive: &|| true,
        limits: &Limits::DEFAULT,
        byte_budget: Limits::DEFAULT.scan_bytes,
    })
    .unwrap()
}

const KEY: &str =
    "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

#[test]
fn finds_world_writable_outside_temp_and_setid_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    touch(root, "usr/bin/su", 0o4755);
    touch(root, "usr/bin/wall", 0o2755);
    touch(root, "usr/bin/ls", 0o755);
    touch(root, "etc/open.conf", 0o666);
    touch(root, "tmp/scratch", 0o666);
    touch(root, "tmp/sneaky-su", 0o4755);
    touch(root, "var/tmp/x/y", 0o666);
    std::fs::create_dir_all(root.join("srv/drop")).unwrap();
    std::fs::set_permissions(
        root.join("srv/drop"),
        std::fs::Permissions::from_mode(0o1777),
    )
    .unwrap();
    touch(root, "proc/1/status", 0o666);
    symlink("/etc/open.conf", root.join("etc/link")).unwrap();
    for threads in [1, 2] {
        let found = run(root, threads);
        let ww: Vec<&str> = found
            .world_writable
            .items
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(ww, ["/etc/open.conf", "/srv/drop"]);
        assert!(found.world_writable.items[1].is_dir);
        let setid: Vec<&str> = found.setid.items.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(setid, ["/tmp/sneaky-su", "/usr/bin/su", "/usr/bin/wall"]);
        assert_eq!(found.setid.items[1].mode, 0o4755);
        assert!(found.dir_gaps.is_empty());
    }
}

#[test]
fn keys_are_found_by_content_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "etc/tls/tls.crt",
        &format!("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n{KEY}"),
        0o644,
    );
    write(root, "tmp/dropped", KEY, 0o600);
    write(
        root,
        "opt/certs/ca.pem",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        0o644,
    );
    // A big text file with the key past the head.
    let mut big = "# padding\n".repeat(20_000);
    big.push_str(KEY);
    write(root, "srv/notes.txt", &big, 0o644);
    // A binary file mentioning a key is not read past its head.
    write(root, "usr/lib/libx.so", &format!("\x7fELF\0\0{KEY}"), 0o755);
    // A non-UTF-8 directory name with a key beneath.
    let odd = root.join(std::ffi::OsStr::from_bytes(b"srv/caf\xe9"));
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("id"), KEY).unwrap();
    let found = run(root, 2);
    let keys: Vec<(&str, &str)> = found
        .keys
        .items
        .iter()
        .map(|k| (k.path.as_str(), k.kind.as_str()))
        .collect();
    let kind = "PEM private key (PKCS#8, not encrypted)";
    assert_eq!(
        keys,
        [
            ("/etc/tls/tls.crt", kind),
            ("/srv/caf\\xe9/id", kind),
            ("/srv/notes.txt", kind),
            ("/tmp/dropped", kind),
        ]
    );
}

#[test]
fn large_files_in_key_places_are_reported_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let big = "a".repeat(Limits::DEFAULT.content_file as usize + 1);
    write(root, "etc/ssl/private/huge", &big, 0o600);
    write(root, "home/u/.ssh/id_rsa", &big, 0o600);
    write(root, "srv/server.key", &big, 0o600);
    write(root, "srv/data.csv", &big, 0o644);
    let fd = root::open_dir_path(root).unwrap();
    let key_dirs = resolve_dirs(fd.as_fd(), &["/etc/ssl/private".to_string()]);
    let found = walk(&WalkRequest {
        root: fd.as_fd(),
        key_dirs: &key_dirs,
        threads: 2,
        alive: &|| true,
        limits: &Limits::DEFAULT,
        byte_budget: Limits::DEFAULT.scan_bytes,
    })
    .unwrap();
    let paths: Vec<&str> = found
        .unchecked_large
        .items
        .iter()
        .map(|g| g.path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "/etc/ssl/private/huge",
            "/home/u/.ssh/id_rsa",
            "/srv/server.key"
        ]
    );
    assert!(
        found.unchecked_large.items[0]
            .reason
            .contains("not checked")
    );
    assert_eq!(found.large_elsewhere, 1);
}

#[test]
fn credential_files_are_found_and_named_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "root/.aws/credentials",
        "[default]\naws_secret_access_key = SIDESCANSECRETVALUE\n",
        0o600,
    );
    write(root, "home/u/.netrc", "machine m login u\n", 0o600);
    let found = run(root, 1);
    assert_eq!(found.credentials.items.len(), 1);
    assert_eq!(found.credentials.items[0].path, "/root/.aws/credentials");
    assert_eq!(
        found.credentials.items[0].kind,
        CredentialKind::AwsCredentials
    );
    assert!(!format!("{found:?}").contains("SIDESCANSECRETVALUE"));
}

#[test]
fn findings_are_capped_and_counted_the_same_with_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..(Limits::DEFAULT.findings + 7) {
        touch(dir.path(), &format!("data/d{}/f{i}", i % 13), 0o666);
    }
    let one = run(dir.path(), 1);
    let two = run(dir.path(), 2);
    assert_eq!(one.world_writable.items.len(), Limits::DEFAULT.findings);
    assert_eq!(one.world_writable.more, 7);
    assert_eq!(one, two);
}

#[test]
fn a_target_that_exits_stops_the_walk() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..300 {
        touch(dir.path(), &format!("d{i}/f"), 0o644);
    }
    let fd = root::open_dir_path(dir.path()).unwrap();
    let checks = std::sync::atomic::AtomicU32::new(0);
    let alive = || checks.fetch_add(1, Ordering::SeqCst) < 2;
    let err = walk(&WalkRequest {
        root: fd.as_fd(),
        key_dirs: &[],
        threads: 2,
        alive: &alive,
        limits: &Limits::DEFAULT,
        byte_budget: Limits::DEFAULT.scan_bytes,
    })
    .unwrap_err();
    let WalkError::Gone { entries } = err;
    assert!(entries > 0, "{entries}");
}

#[test]
fn temp_dirs_under_dev_are_walked_and_dev_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    touch(root, "dev/null-ish", 0o666);
    touch(root, "dev/shm/suid", 0o4755);
    let found = run(root, 1);
    let setid: Vec<&str> = found.setid.items.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(setid, ["/dev/shm/suid"]);
    assert!(found.world_writable.is_empty());
}

fn run_with(root: &Path, threads: usize, limits: &Limits) -> Walked {
    let fd = root::open_dir_path(root).unwrap();
    walk(&WalkRequest {
        root: fd.as_fd(),
        key_dirs: &[],
        threads,
        alive: &|| true,
        limits,
        byte_budget: limits.scan_bytes,
    })
    .unwrap()
}

/// Makes a FIFO (or, with `dev`, a character device) at `rel`.
fn mknod(root: &Path, rel: &str, dev: Option<(u32, u32)>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let (kind, dev) = match dev {
        Some((major, minor)) => (FileType::CharacterDevice, rustix::fs::makedev(major, minor)),
        None => (FileType::Fifo, 0),
    };
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &path,
        kind,
        rustix::fs::Mode::from_raw_mode(0o644),
        dev,
    )
    .unwrap();
}

fn not_checked(list: &Listed<NotChecked>) -> Vec<String> {
    list.items.iter().map(|n| n.to_string()).collect()
}

#[test]
fn a_tree_deeper_than_the_depth_limit_is_not_descended() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let depth = Limits::DEFAULT.depth + 2;
    let deep = vec!["d"; depth].join("/");
    touch(root, &format!("{deep}/su"), 0o4755);
    touch(root, "d/d/open", 0o666);
    for threads in [1, 2] {
        let found = run(root, threads);
        let cut = vec!["d"; Limits::DEFAULT.depth + 1].join("/");
        assert_eq!(
            not_checked(&found.unwalked),
            [format!(
                "/{cut} was not walked: it is 129 directories below the root, over the depth \
                 limit of 128: not checked"
            )]
        );
        // What lies above the limit is examined; below it, nothing was invented.
        assert_eq!(found.world_writable.items[0].path, "/d/d/open");
        assert!(found.setid.is_empty());
        assert!(!found.scan_limit_reached);
    }
}

#[test]
fn a_wide_directory_is_examined_up_to_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..50 {
        touch(dir.path(), &format!("wide/f{i:02}"), 0o666);
    }
    touch(dir.path(), "narrow/open", 0o666);
    let limits = Limits {
        dir_entries: 20,
        ..Limits::DEFAULT
    };
    let found = run_with(dir.path(), 2, &limits);
    assert_eq!(
        not_checked(&found.unwalked),
        [
            "/wide holds more than 20 entries, the limit for one directory; the entries past it: \
          not checked"
        ]
    );
    let wide = found
        .world_writable
        .items
        .iter()
        .filter(|f| f.path.starts_with("/wide/"))
        .count();
    assert_eq!(wide, 20);
    assert!(
        found
            .world_writable
            .items
            .iter()
            .any(|f| f.path == "/narrow/open")
    );
    // The same directory order gives the same report.
    assert_eq!(found, run_with(dir.path(), 1, &limits));
}

#[test]
fn the_entry_limit_stops_the_walk_the_same_way_with_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    for d in 0..30 {
        for f in 0..10 {
            touch(dir.path(), &format!("d{d:02}/f{f}"), 0o4755);
        }
    }
    let limits = Limits {
        entries: 100,
        ..Limits::DEFAULT
    };
    let mut one = run_with(dir.path(), 1, &limits);
    let mut two = run_with(dir.path(), 2, &limits);
    assert!(one.scan_limit_reached && two.scan_limit_reached);
    assert_eq!(one.entries, 100);
    // Files that were examined are reported; directories not reached say so.
    assert!(one.setid.total() > 0 && one.setid.total() < 300);
    assert!(one.unwalked.total() > 0);
    assert!(
        one.unwalked.items[0]
            .why
            .contains("the walk reached its limit of 100 entries"),
        "{:?}",
        one.unwalked
    );
    // The parallel walk is run again on one thread: the same report, more bytes read.
    assert!(two.bytes_read >= one.bytes_read);
    one.bytes_read = 0;
    two.bytes_read = 0;
    assert_eq!(one, two);
}

#[test]
fn the_scan_byte_limit_leaves_files_unread_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let padded = format!("{KEY}{}", "#".repeat(1000 - KEY.len()));
    for i in 0..10 {
        write(dir.path(), &format!("keys/k{i}"), &padded, 0o600);
    }
    write(
        dir.path(),
        "keys/.netrc",
        "machine m login u password p\n",
        0o600,
    );
    let limits = Limits {
        scan_bytes: 3500,
        ..Limits::DEFAULT
    };
    let mut one = run_with(dir.path(), 1, &limits);
    assert!(one.scan_limit_reached);
    assert!(one.bytes_read <= 3500, "{}", one.bytes_read);
    // The .netrc is read or listed as not read, like every key file.
    assert_eq!(one.credentials.total() + one.credentials_unread.total(), 1);
    assert_eq!(
        one.keys.total() + one.credentials.total(),
        one.files_read as usize
    );
    // Every file is either read or listed as not read, naming the limit.
    let unread = one.unread.total() as u64;
    assert_eq!(one.files_read + unread, 11);
    assert!(unread >= 7);
    assert!(
        not_checked(&one.unread)[0]
            .ends_with("was not read: the scan reached its limit of 3500 bytes read: not checked")
    );
    let mut two = run_with(dir.path(), 2, &limits);
    one.bytes_read = 0;
    two.bytes_read = 0;
    assert_eq!(one, two);
}

#[test]
fn a_sparse_file_of_huge_apparent_size_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "srv/small.txt", "hello\n", 0o644);
    for rel in ["etc/ssl/private/huge.key", "srv/huge.img"] {
        write(root, rel, "", 0o600);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(root.join(rel))
            .unwrap();
        file.set_len(1 << 40).unwrap();
    }
    let found = run(root, 2);
    assert_eq!(found.bytes_read, 6);
    assert_eq!(found.files_read, 1);
    assert_eq!(
        found.unchecked_large.items[0].path,
        "/etc/ssl/private/huge.key"
    );
    assert!(
        found.unchecked_large.items[0]
            .reason
            .contains("1099511627776 bytes, over the 1048576 byte content limit")
    );
    assert_eq!(found.large_elsewhere, 1);
}

#[test]
fn fifos_and_devices_in_the_tree_are_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Named like keys, in a key directory: a reader that opened them could block for ever.
    mknod(root, "root/.ssh/id_rsa", None);
    mknod(root, "srv/server.key", None);
    if rustix::process::geteuid().is_root() {
        mknod(root, "srv/id_ed25519", Some((1, 3)));
    }
    write(root, "srv/real.key", KEY, 0o600);
    let found = run(root, 2);
    assert_eq!(found.files_read, 1);
    assert_eq!(found.keys.items[0].path, "/srv/real.key");
    assert!(found.file_gaps.is_empty() && found.unchecked_large.is_empty());
}

#[test]
fn a_walk_started_with_every_limit_reached_reports_nothing_as_passed() {
    let dir = tempfile::tempdir().unwrap();
    touch(dir.path(), "etc/x", 0o4755);
    let limits = Limits {
        entries: 0,
        ..Limits::DEFAULT
    };
    let found = run_with(dir.path(), 2, &limits);
    assert_eq!(found.entries, 0);
    assert!(found.setid.is_empty());
    assert_eq!(
        not_checked(&found.unwalked),
        [
            "/ was walked in part: the walk reached its limit of 0 entries; the entries past it: \
          not checked"
        ]
    );
}
