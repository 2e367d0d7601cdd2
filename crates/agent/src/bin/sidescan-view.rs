//! `sidescan-view`: the programs the agent starts inside the target view (`view-exec`,
//! `probe-view`; `sidescan_agent::view_programs`). Readable, unlike the execute-only agent.

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    sidescan_agent::view_programs::dispatch(&args).unwrap_or_else(|| {
        eprintln!("sidescan-view: run by sidescan-agent inside the target view only (view-exec, probe-view)");
        sidescan_core::ExitStatus::BadInput.into()
    })
}
