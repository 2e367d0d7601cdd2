//! Preflight: the results directory, the store, the scratch directory and (cinc) the profile,
//! the tools and Landlock, checked before any waiting; and the builtin backend's inputs and
//! waivers. Bad values end the run here with exit 2, an unusable store or tool with exit 3.

use super::{AgentConfig, Backend, Upload, bad_input_or_infrastructure};
use crate::cinc::{self, ProfileSource};
use crate::{builtin, preflight, profile, sandbox, view};
use sidescan_core::Failure;
use std::path::PathBuf;

/// Where the results go, checked usable.
pub(super) enum Sink {
    /// Through the run's presigned URLs.
    Grant(sidescan_store::PresignedClient, sidescan_store::UploadGrant),
    Store(sidescan_store::Store),
}

/// What preflight prepared for the scan.
pub(super) struct Prepared {
    pub(super) sink: Sink,
    /// The store URL the results go to (no credentials).
    pub(super) store_url: String,
    pub(super) scratch: PathBuf,
    /// cinc: the local profile (fetched when it was a URL).
    pub(super) profile: Option<PathBuf>,
    /// cinc: the Landlock ABI, or why there is none (then only with --allow-writable-view).
    pub(super) landlock: Result<u32, String>,
    /// builtin: the allow lists and waivers from the input and waiver files.
    pub(super) policy: builtin::Policy,
}

/// `<results dir>/store` as a `file://` URL: the store when none is configured.
pub(super) fn default_store_url(results_dir: &std::path::Path) -> String {
    let dir = results_dir.join("store");
    url::Url::from_directory_path(std::path::absolute(&dir).unwrap_or(dir))
        .map(|u| u.to_string())
        .unwrap_or_default()
}

pub(super) async fn prepare(config: &AgentConfig) -> Result<Prepared, Failure> {
    let refused = |r: preflight::Refusal| Failure::new(r.status, r.message);
    preflight::results_dir_writable(&config.results_dir, config.run_id.as_str())
        .map_err(refused)?;
    // Static credentials from files are read here, once (a missing file is bad input).
    let mut settings = sidescan_store::S3Settings::default();
    if let Upload::Store {
        settings: given,
        credentials_dir,
    } = &config.upload
    {
        settings = given.clone();
        if let Some(dir) = credentials_dir {
            settings.credentials =
                Some(crate::secrets::credentials_from_dir(dir).map_err(Failure::bad_input)?);
        }
    }
    let (sink, store_url) = match &config.upload {
        Upload::Grant(grant) => (
            Sink::Grant(
                preflight::grant_usable(grant).await.map_err(refused)?,
                grant.clone(),
            ),
            grant.store.clone(),
        ),
        Upload::Store { .. } => {
            let url = config
                .store_url
                .clone()
                .unwrap_or_else(|| default_store_url(&config.results_dir));
            let store = preflight::store_usable(&url, &settings)
                .await
                .map_err(refused)?;
            (Sink::Store(store), url)
        }
    };
    let scratch = config
        .results_dir
        .join(".work")
        .join(config.run_id.as_str());
    std::fs::create_dir_all(&scratch).map_err(|e| {
        Failure::bad_input(format!(
            "--results-dir: scratch directory {}: {e}",
            scratch.display()
        ))
    })?;
    // The builtin backend's inputs and waivers: bad files are bad input, before any waiting.
    let policy = match config.backend {
        Backend::Builtin => builtin::Policy::load(&config.input_files, &config.waiver_files)
            .map_err(|e| Failure::new(e.exit_status(), e.to_string()))?,
        Backend::Cinc => builtin::Policy::default(),
    };
    let mut prepared = Prepared {
        sink,
        store_url,
        scratch,
        profile: None,
        landlock: Err("not needed".into()),
        policy,
    };
    if let (Backend::Cinc, Some(options)) = (config.backend, &config.cinc) {
        let local = match &options.profile {
            ProfileSource::Path(path) => path.clone(),
            ProfileSource::Url(url) => profile::fetch(
                url,
                options.profile_sha256.as_deref(),
                options.profile_max_bytes,
                &prepared.scratch.join("profile"),
                &settings,
            )
            .await
            .map_err(|e| bad_input_or_infrastructure(e.is_bad_input(), e.to_string()))?,
        };
        cinc::check_inputs(&local, &options.input_files, &options.waiver_files)
            .map_err(|e| Failure::bad_input(e.to_string()))?;
        view::launch_for(&options.cinc_auditor)
            .map_err(|e| Failure::infrastructure(format!("--cinc-auditor cannot run: {e}")))?;
        if let Some(preload) = &options.proot_preload
            && !preload.is_file()
        {
            return Err(Failure::infrastructure(format!(
                "--proot-preload {}: missing; without it PRoot would canonicalize the target's \
                 root to the scanner's own",
                preload.display()
            )));
        }
        prepared.landlock = sandbox::landlock_abi();
        if let Err(why) = &prepared.landlock
            && !options.allow_writable_view
        {
            return Err(Failure::infrastructure(format!(
                "Landlock is unavailable ({why}), so the target view cannot be made read-only; \
                 refusing to scan (--allow-writable-view accepts a writable view)"
            )));
        }
        prepared.profile = Some(local);
    }
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_store_is_a_directory_under_the_results() {
        let url = default_store_url(std::path::Path::new("/var/run/sidescan/results"));
        assert_eq!(url, "file:///var/run/sidescan/results/store/");
    }
}
