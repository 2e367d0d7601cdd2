//! Prepare: read every input and check it (bad input fails here, before anything is created),
//! open the store, connect to the cluster, and plan the run's objects.

use super::run::{Mode, RunConfig};
use crate::Error;
use crate::orchestrator::cluster::{self, ApiCounter};
use crate::orchestrator::plan::{self, Archive, Plan, PlanInput, RunBinding};
use crate::orchestrator::process;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Client;
use kube::api::Api;
use object_store::ObjectStoreExt as _;
use sidescan_core::spec::ScanSpec;
use sidescan_eval::Threshold;
use sidescan_gen::{Generator, KubeVersion};
use sidescan_store::{self, Store};
use std::time::Duration;

/// Where the orchestrator writes the run's files.
pub(super) enum Sink {
    /// The scanner's store: the orchestrator adds its files beside the scanner's.
    Store(Store),
    /// A local directory (no store in the spec, `scan`).
    Local(Store),
    /// The orchestrator's own log (no store in the spec, in a Job).
    Log,
}

impl Sink {
    pub(super) fn store(&self) -> Option<&Store> {
        match self {
            Sink::Store(s) | Sink::Local(s) => Some(s),
            Sink::Log => None,
        }
    }
}

/// What prepare found; nothing exists in the cluster yet.
pub(super) struct Prepared {
    pub(super) client: Client,
    pub(super) counter: ApiCounter,
    pub(super) kube: KubeVersion,
    /// The scanner's store (the spec's), if any.
    pub(super) scanner_store: Option<Store>,
    pub(super) sink: Sink,
    pub(super) thresholds: Option<Threshold>,
    pub(super) plan: Plan,
    /// The run's folder and presigned uploads: what retrieval accepts.
    pub(super) binding: RunBinding,
    pub(super) namespace: String,
    pub(super) scanner: String,
    pub(super) target_container: String,
    pub(super) deadlines: Deadlines,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Deadlines {
    pub(super) deploy: u64,
    pub(super) scan: u64,
    pub(super) retrieve: u64,
    pub(super) cleanup: u64,
}

impl Deadlines {
    fn of(spec: &ScanSpec) -> Deadlines {
        let d = &spec.orchestrator.deadlines;
        let secs = |v: i64| v.max(1) as u64;
        Deadlines {
            deploy: secs(d.deploy_seconds),
            scan: secs(d.scan_seconds),
            retrieve: secs(d.retrieve_seconds),
            cleanup: secs(d.cleanup_seconds),
        }
    }
}

pub(super) fn read_text(path: &std::path::Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Input {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

pub(super) async fn server_version(client: &Client) -> Result<KubeVersion, Error> {
    let info = client
        .apiserver_version()
        .await
        .map_err(|e| Error::kube("GET /version", e))?;
    let text = format!("{}.{}", info.major, info.minor.trim_end_matches('+'));
    KubeVersion::parse(&text).map_err(|e| Error::NoCluster {
        reason: format!("the API server's release {text} is not supported: {e}"),
    })
}

pub(super) async fn prepare(config: &RunConfig) -> Result<Prepared, Error> {
    let mut spec = config.spec.clone();
    // Local inputs first: a bad file fails without a single API request.
    let thresholds = match &config.thresholds {
        Some(path) => Some(process::parse_thresholds(
            &read_text(path)?,
            &path.display().to_string(),
        )?),
        None => None,
    };
    let local = matches!(config.mode, Mode::Local);
    let inputs = if local {
        sidescan_gen::inputs::load_inputs(&spec, &config.base_dir)?
    } else {
        sidescan_gen::inputs::Inputs::default()
    };
    let archive = match &config.archive {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| Error::Input {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if sidescan_gen::inputs::profile_key(&name).as_deref() != Some(name.as_str()) {
                return Err(Error::Input {
                    path: path.display().to_string(),
                    reason: "the archive's file name must be letters, digits, '-', '.' and '_' \
                             (it becomes a ConfigMap key)"
                        .into(),
                });
            }
            Some(Archive { name, bytes })
        }
        None => None,
    };
    // The orchestrator talks to the store the spec describes, as the scanner does.
    let settings = sidescan_store::S3Settings::from(&spec.results);
    let scanner_store = match &spec.results.store_url {
        Some(url) => Some(sidescan_store::open_with(url, &settings)?),
        None => None,
    };
    let sink = match (&scanner_store, &config.local_results) {
        (Some(s), _) => Sink::Store(s.clone()),
        (None, Some(dir)) => {
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            let url = url::Url::from_directory_path(&dir).map_err(|_| Error::Input {
                path: dir.display().to_string(),
                reason: "not a usable directory path".into(),
            })?;
            Sink::Local(sidescan_store::open(url.as_str())?)
        }
        (None, None) => Sink::Log,
    };
    if spec.run_id.is_none() {
        spec.run_id = Some(sidescan_core::RunId::from_entropy(rand::random()));
    }
    let generator = Generator::new()?;

    // The cluster.
    let (client, counter) = cluster::client(!local).await?;
    let kube = server_version(&client).await?;
    let namespace = spec.namespace.clone();
    if local {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        match namespaces.get_opt(&namespace).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(Error::Missing {
                    what: format!("namespace {namespace}"),
                    reason: "does not exist".into(),
                });
            }
            // Not allowed to read namespaces: creating objects in it will tell.
            Err(kube::Error::Api(s)) if s.code == 403 => {}
            Err(e) => return Err(Error::kube(format!("GET namespace {namespace}"), e)),
        }
    } else if let Some(cm) = spec.profile.as_ref().and_then(|p| p.config_map.as_ref()) {
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
        let found = config_maps
            .get_opt(&cm.name)
            .await
            .map_err(|e| Error::kube(format!("GET configmap {}", cm.name), e))?;
        let Some(found) = found else {
            return Err(Error::Missing {
                what: format!("profile.configMap {}", cm.name),
                reason: format!("no such ConfigMap in namespace {namespace}"),
            });
        };
        for file in &cm.files {
            let key = sidescan_gen::inputs::profile_key(file).unwrap_or_default();
            let present = found.data.as_ref().is_some_and(|d| d.contains_key(&key))
                || found
                    .binary_data
                    .as_ref()
                    .is_some_and(|d| d.contains_key(&key));
            if !present {
                return Err(Error::Missing {
                    what: format!("profile.configMap {}", cm.name),
                    reason: format!("has no key {key} (for {file})"),
                });
            }
        }
    }
    if let Some(store) = sink.store() {
        preflight(store).await?;
    }
    let owner = match &config.mode {
        Mode::InCluster { owner, .. } => owner.clone(),
        Mode::Local => None,
    };
    let deadlines = Deadlines::of(&spec);
    let binding = bind_run(&spec, scanner_store.as_ref(), deadlines).await?;
    let plan = plan::plan(
        &generator,
        PlanInput {
            spec: &spec,
            inputs: &inputs,
            kube,
            pod_name: &config.pod_name,
            owner: owner.as_ref(),
            per_run: local,
            archive: archive.as_ref(),
            binding: Some(&binding),
        },
    )?;
    Ok(Prepared {
        client,
        counter,
        kube,
        scanner_store,
        sink,
        thresholds,
        plan,
        binding,
        namespace,
        scanner: spec.scanner.container.clone(),
        target_container: spec.target.container.clone(),
        deadlines,
    })
}

/// The run's folder (now, its run id) and, for an S3 store, the presigned uploads of its two
/// result files, valid until every phase's deadline has passed.
async fn bind_run(
    spec: &ScanSpec,
    store: Option<&Store>,
    deadlines: Deadlines,
) -> Result<RunBinding, Error> {
    let lifetime = deadlines.deploy + deadlines.scan + deadlines.retrieve + 60;
    RunBinding::new(
        store,
        &spec.namespace,
        &spec.target.name,
        sidescan_gen::context::run_id(spec),
        Duration::from_secs(lifetime),
    )
    .await
}

/// A store that cannot be reached fails the run before anything is deployed.
pub(super) async fn preflight(store: &Store) -> Result<(), Error> {
    let probe = object_store::path::Path::from(store.full_key(".sidescan-preflight"));
    let attempt = tokio::time::timeout(Duration::from_secs(10), store.inner.head(&probe)).await;
    match attempt {
        Ok(Ok(_)) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
        Ok(Err(e)) => Err(Error::Store(sidescan_store::StoreError::Io {
            key: format!("{} (checked before deploying)", store.url),
            source: e,
        })),
        Err(_) => Err(Error::Retrieve {
            object: store.url.clone(),
            reason: "the store did not answer within 10 s (checked before deploying)".into(),
        }),
    }
}
