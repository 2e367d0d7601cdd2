use sidescan_runner::agent::builtin;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let threads: usize = std::env::args()
        .nth(2)
        .unwrap_or("2".into())
        .parse()
        .unwrap();
    let runs: usize = std::env::args()
        .nth(3)
        .unwrap_or("4".into())
        .parse()
        .unwrap();
    let fd = builtin::root::open_dir_path(std::path::Path::new(&dir)).unwrap();
    let policy = builtin::Policy::default();
    let target = builtin::Target {
        root: std::os::fd::AsFd::as_fd(&fd),
        process: None,
        target_id: None,
        policy: &policy,
    };
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let s = builtin::scan_with_threads(target, jiff::Timestamp::now(), threads).unwrap();
        eprintln!(
            "{} entries {} files {:?}",
            s.entries_walked,
            s.files_read,
            t.elapsed()
        );
        if runs == 1 {
            println!("{}", serde_json::to_string_pretty(&s.report).unwrap());
        }
    }
}
