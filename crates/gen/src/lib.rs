//! sidescan-gen: renders the manifests of the sidecar workflow (scan pod, RBAC, profile and
//! thresholds ConfigMaps, orchestration Job and CronJob) from the Handlebars templates in
//! `templates/`.
//!
//! The pipeline: [`values`] (YAML + `--set` -> [`ScanSpec`]), [`inputs`] (the only file reads:
//! profile directory, input and waiver files, threshold file), [`context::build`] (pure: spec +
//! inputs + Kubernetes version -> render data, with the [`pss`] check of the scan pod),
//! [`Generator::render`] (templates -> YAML documents), [`output`] (files written all or
//! nothing).

pub mod admission;
pub mod audit;
pub mod context;
pub mod error;
pub mod exporter;
pub mod inputs;
pub mod kube_version;
pub mod output;
pub mod pss;
pub mod render;
pub mod strict;
pub mod thresholds;
pub mod values;
pub mod yaml;

pub use context::RenderContext;
pub use error::GenError;
pub use inputs::Inputs;
pub use kube_version::KubeVersion;
pub use sidescan_core::spec::ScanSpec;

use handlebars::Handlebars;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The documented default spec `sidescan-gen values` prints.
pub const DEFAULT_VALUES: &str = include_str!("../templates/values.yaml");

/// What to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Rbac,
    Profile,
    Thresholds,
    NetworkPolicy,
    ScanPod,
    Job,
    CronJob,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 7] = [
        Kind::Rbac,
        Kind::Profile,
        Kind::Thresholds,
        Kind::NetworkPolicy,
        Kind::ScanPod,
        Kind::Job,
        Kind::CronJob,
    ];

    /// What `render all` writes, in order (what is referenced comes first): the Job path. The
    /// bare scan pod is the manual path (`render scan-pod`): the Job creates the same pod.
    pub const JOB_PATH: [Kind; 6] = [
        Kind::Rbac,
        Kind::Profile,
        Kind::Thresholds,
        Kind::NetworkPolicy,
        Kind::Job,
        Kind::CronJob,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Rbac => "rbac",
            Kind::Profile => "profile",
            Kind::Thresholds => "thresholds",
            Kind::NetworkPolicy => "network-policy",
            Kind::ScanPod => "scan-pod",
            Kind::Job => "job",
            Kind::CronJob => "cronjob",
        }
    }

    /// The file `--output-dir` writes the kind to.
    pub fn file_name(self) -> String {
        format!("{}.yaml", self.as_str())
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// The documents of one kind (`job` holds the spec ConfigMap and the Job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub kind: Kind,
    pub documents: Vec<String>,
}

/// Templates compiled once; render as many specs as needed.
pub struct Generator {
    registry: Handlebars<'static>,
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.trim_end_matches('\n')
        .split('\n')
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Render data converted for handlebars once per spec, not once per template.
struct Prepared<'a> {
    ctx: &'a RenderContext,
    main: handlebars::Context,
}

impl Generator {
    pub fn new() -> Result<Generator, GenError> {
        Ok(Generator {
            registry: render::registry()?,
        })
    }

    fn text(&self, name: &str, data: &handlebars::Context) -> Result<String, GenError> {
        self.registry
            .render_with_context(name, data)
            .map_err(|e| GenError::Render {
                template: name.into(),
                message: e.to_string(),
            })
    }

    fn config_map(
        &self,
        ctx: &RenderContext,
        cm: &context::ConfigMapContext,
    ) -> Result<Vec<String>, GenError> {
        self.config_map_in(&ctx.namespace, cm)
    }

    fn config_map_in(
        &self,
        namespace: &str,
        cm: &context::ConfigMapContext,
    ) -> Result<Vec<String>, GenError> {
        let mut data = serde_json::to_value(cm).map_err(|e| GenError::Render {
            template: "configmap".into(),
            message: e.to_string(),
        })?;
        data["namespace"] = serde_json::Value::String(namespace.to_string());
        Ok(split_documents(
            &self.text("configmap", &handlebars::Context::from(data))?,
        ))
    }

    fn prepare<'a>(&self, ctx: &'a RenderContext, jobs: bool) -> Result<Prepared<'a>, GenError> {
        let value = serde_json::to_value(ctx).map_err(|e| GenError::Render {
            template: "context".into(),
            message: e.to_string(),
        })?;
        let mut main = handlebars::Context::from(value);
        if jobs {
            // The Job's spec, rendered once, indented into the Job and the CronJob.
            let spec = self.text("job-spec", &main)?;
            let data = main.data_mut();
            data["job_spec_2"] = serde_json::Value::String(indent(&spec, 2));
            data["job_spec_6"] = serde_json::Value::String(indent(&spec, 6));
        }
        Ok(Prepared { ctx, main })
    }

    /// Renders one kind. `explicit` is false for `render all`, where a kind with nothing to render
    /// (no profile directory, no threshold file) is skipped instead of being an error.
    fn render(
        &self,
        kind: Kind,
        prepared: &Prepared<'_>,
        explicit: bool,
    ) -> Result<Option<Rendered>, GenError> {
        let ctx = prepared.ctx;
        let documents = match kind {
            Kind::Rbac => split_documents(&self.text("rbac", &prepared.main)?),
            Kind::ScanPod => split_documents(&self.text("scan-pod", &prepared.main)?),
            Kind::Job | Kind::CronJob => {
                let mut docs = self.config_map(ctx, &ctx.spec_config_map)?;
                let name = if kind == Kind::Job { "job" } else { "cronjob" };
                docs.extend(split_documents(&self.text(name, &prepared.main)?));
                docs
            }
            Kind::Profile => {
                let mut docs = Vec::new();
                for cm in ctx.profile.iter().chain(&ctx.profile_inputs) {
                    docs.extend(self.config_map(ctx, cm)?);
                }
                if docs.is_empty() {
                    if explicit {
                        return Err(GenError::Nothing {
                            what: "profile.dir".into(),
                            reason: "not set: only a profile directory and local input or \
                                     waiver files are rendered into ConfigMaps"
                                .into(),
                        });
                    }
                    return Ok(None);
                }
                docs
            }
            Kind::NetworkPolicy => match &ctx.network_policy {
                Some(_) => split_documents(&self.text("network-policy", &prepared.main)?),
                None if explicit => {
                    return Err(GenError::Nothing {
                        what: "networkPolicy.enabled".into(),
                        reason: "false: no NetworkPolicy to render".into(),
                    });
                }
                None => return Ok(None),
            },
            Kind::Thresholds => match &ctx.thresholds {
                Some(cm) => self.config_map(ctx, cm)?,
                None if explicit => {
                    return Err(GenError::Nothing {
                        what: "thresholds.file".into(),
                        reason: "not set: only a threshold file is rendered into a ConfigMap"
                            .into(),
                    });
                }
                None => return Ok(None),
            },
        };
        Ok(Some(Rendered { kind, documents }))
    }

    /// Renders the requested kinds (`None`: `render all`, the Job path). A kind with nothing to
    /// render (no profile directory, no threshold file, no NetworkPolicy) is an error when asked
    /// for alone, skipped in `all`.
    pub fn render_kinds(
        &self,
        kind: Option<Kind>,
        ctx: &RenderContext,
    ) -> Result<Vec<Rendered>, GenError> {
        let (kinds, explicit): (&[Kind], bool) = match &kind {
            Some(k) => (std::slice::from_ref(k), true),
            None => (&Kind::JOB_PATH, false),
        };
        let jobs = kinds.iter().any(|k| matches!(k, Kind::Job | Kind::CronJob));
        let prepared = self.prepare(ctx, jobs)?;
        let mut out = Vec::new();
        for kind in kinds {
            if let Some(rendered) = self.render(*kind, &prepared, explicit)? {
                out.push(rendered);
            }
        }
        Ok(out)
    }
}

fn split_documents(text: &str) -> Vec<String> {
    text.split("\n---\n")
        .map(|doc| {
            let doc = doc.trim_matches('\n');
            format!("{doc}\n")
        })
        .filter(|doc| doc.trim() != "")
        .collect()
}

/// One multi-document YAML stream; a document shared by two kinds (the spec ConfigMap of the Job
/// and the CronJob) is written once.
pub fn to_stream(rendered: &[Rendered]) -> String {
    let mut seen = HashSet::new();
    let mut out = String::new();
    for doc in rendered.iter().flat_map(|r| &r.documents) {
        if seen.insert(doc.as_str()) {
            out.push_str("---\n");
            out.push_str(doc);
        }
    }
    out
}

/// Parses a rendered stream back into one JSON value per document (for tools and tests that
/// hand the documents to an API client).
pub fn documents(stream: &str) -> Result<Vec<serde_json::Value>, GenError> {
    serde_saphyr::from_multiple::<serde_json::Value>(stream).map_err(|e| GenError::Render {
        template: "stream".into(),
        message: error::first_line(&e.to_string()),
    })
}

/// One file per kind (`<kind>.yaml`), for `--output-dir`.
pub fn to_files(rendered: &[Rendered]) -> BTreeMap<String, String> {
    rendered
        .iter()
        .map(|r| (r.kind.file_name(), to_stream(std::slice::from_ref(r))))
        .collect()
}

/// The whole path from spec to documents: reads the spec's files relative to `base_dir`.
pub fn generate(
    generator: &Generator,
    spec: &ScanSpec,
    base_dir: &Path,
    kube: KubeVersion,
    kind: Option<Kind>,
) -> Result<Vec<Rendered>, GenError> {
    generate_cached(
        generator,
        spec,
        base_dir,
        kube,
        kind,
        &mut inputs::InputCache::default(),
    )
}

/// [`generate`] for many specs: files the specs share are read once (`cache`).
pub fn generate_cached(
    generator: &Generator,
    spec: &ScanSpec,
    base_dir: &Path,
    kube: KubeVersion,
    kind: Option<Kind>,
    cache: &mut inputs::InputCache,
) -> Result<Vec<Rendered>, GenError> {
    let inputs = inputs::load_inputs_cached(spec, base_dir, cache)?;
    let ctx = context::build(spec, &inputs, kube)?;
    generator.render_kinds(kind, &ctx)
}
