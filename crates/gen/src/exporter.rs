//! The exporter's manifests: `render exporter` writes a ServiceAccount without RBAC or token (the
//! exporter reads only the store), a Deployment of `sidescan-runner exporter` with the least
//! privileged security context, its Service, and a Prometheus Operator `ServiceMonitor` when the
//! spec enables it.
//!
//! [`build`] is pure (spec + Kubernetes version -> render data); the template only lays out
//! fields.

use crate::context::{
    Credentials, api_and_store_env, ca_bundle_env, ca_bundle_volume, credentials, env_value,
    image_pull_secrets, resources,
};
use crate::{GenError, KubeVersion};
use serde::Serialize;
use serde_json::Value;
use sidescan_core::exporter::ExporterSpec;
use sidescan_core::labels::{self, Component};
use sidescan_core::spec::CA_BUNDLE_MOUNT_PATH;
use std::collections::BTreeMap;

/// The exporter's template.
pub const TEMPLATES: [(&str, &str); 1] =
    [("exporter", include_str!("../templates/exporter.yaml.hbs"))];

/// The `render` argument.
pub const KIND: &str = "exporter";

/// UID the exporter runs as (the distroless `nonroot` user).
pub const EXPORTER_UID: i64 = 65532;

#[derive(Debug, Clone, Serialize)]
pub struct ServiceMonitorContext {
    pub interval: String,
    pub labels: BTreeMap<String, String>,
}

/// The exporter's render data.
#[derive(Debug, Clone, Serialize)]
pub struct ExporterRenderContext {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// The Deployment's and the Service's selector (a subset of `labels` that never changes).
    pub selector: BTreeMap<String, String>,
    pub host_network: bool,
    pub image: String,
    pub pull_policy: &'static str,
    pub image_pull_secrets: Vec<Value>,
    pub args: Vec<String>,
    pub env: Vec<Value>,
    pub credentials: Option<Credentials>,
    pub port: u16,
    pub resources: Value,
    pub run_as_user: i64,
    pub seccomp_field: bool,
    pub ca_bundle_volume: Option<Value>,
    pub ca_bundle_mount_path: &'static str,
    pub service_monitor: Option<ServiceMonitorContext>,
}

/// The render data of an exporter spec (validated by the caller).
pub fn build(spec: &ExporterSpec, kube: KubeVersion) -> ExporterRenderContext {
    let name = format!("sidescan-{}-exporter", spec.name);
    let selector = BTreeMap::from([
        (labels::APP_NAME.to_string(), "sidescan".to_string()),
        (labels::APP_INSTANCE.to_string(), spec.name.clone()),
        (
            labels::APP_COMPONENT.to_string(),
            Component::Exporter.as_str().to_string(),
        ),
    ]);
    let mut object_labels = selector.clone();
    object_labels.insert(labels::APP_PART_OF.to_string(), labels::PART_OF.to_string());
    object_labels.insert(
        labels::APP_MANAGED_BY.to_string(),
        labels::MANAGED_BY.to_string(),
    );
    let mut args = vec![
        "exporter".to_string(),
        "--store-url".to_string(),
        spec.results.store_url.clone().unwrap_or_default(),
        "--refresh-seconds".to_string(),
        spec.refresh_seconds.to_string(),
        "--listen".to_string(),
        format!("0.0.0.0:{}", spec.port),
    ];
    if let Some(cluster) = &spec.cluster_name {
        args.extend(["--cluster".to_string(), cluster.clone()]);
    }
    let results = &spec.results;
    // The exporter talks to the store only: no API-server address.
    let mut env = api_and_store_env(None, &spec.results);
    env.extend(ca_bundle_env(&spec.results));
    // Credentials come from the Secret or nowhere: no metadata-service probing.
    env.push(env_value("AWS_EC2_METADATA_DISABLED", "true"));
    let mut monitor_labels = object_labels.clone();
    monitor_labels.extend(spec.service_monitor.labels.clone());
    ExporterRenderContext {
        name,
        namespace: spec.namespace.clone(),
        labels: object_labels,
        selector,
        host_network: spec.cluster.host_network,
        image: spec.images.reference(&spec.runner.image),
        pull_policy: spec.images.pull_policy.as_str(),
        image_pull_secrets: image_pull_secrets(&spec.images),
        args,
        env,
        credentials: credentials(results),
        port: spec.port,
        resources: resources(&spec.runner.resources),
        run_as_user: EXPORTER_UID,
        seccomp_field: kube.has_seccomp_field(),
        ca_bundle_volume: ca_bundle_volume(results).map(|v| Value::Array(vec![v])),
        ca_bundle_mount_path: CA_BUNDLE_MOUNT_PATH,
        service_monitor: spec.service_monitor.enabled.then(|| ServiceMonitorContext {
            interval: spec.service_monitor.interval.clone(),
            labels: monitor_labels,
        }),
    }
}

/// Renders the exporter's documents: ServiceAccount, Deployment, Service, ServiceMonitor.
pub fn render(
    generator: &crate::Generator,
    ctx: &ExporterRenderContext,
) -> Result<Vec<String>, GenError> {
    let data = serde_json::to_value(ctx).map_err(|e| GenError::Render {
        template: KIND.into(),
        message: e.to_string(),
    })?;
    let text = generator.text(KIND, &handlebars::Context::from(data))?;
    Ok(crate::split_documents(&text))
}

/// Reads an exporter spec, or an audit spec (the exporter of its results), from a values tree.
/// The exporter spec's error is the one reported when neither reads.
pub fn spec_from_value(tree: Value) -> Result<ExporterSpec, GenError> {
    match sidescan_core::exporter::from_value(tree.clone()) {
        Ok(spec) => Ok(spec),
        Err(exporter_error) => match sidescan_core::audit::from_value(tree) {
            Ok(audit) => {
                let spec = ExporterSpec::from_audit(&audit);
                spec.validate().map_err(GenError::Spec)?;
                Ok(spec)
            }
            Err(_) => Err(GenError::Spec(exporter_error)),
        },
    }
}

/// Spec tree to documents.
pub fn generate(
    generator: &crate::Generator,
    tree: Value,
    kube: KubeVersion,
) -> Result<Vec<String>, GenError> {
    let spec = spec_from_value(tree)?;
    render(generator, &build(&spec, kube))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn docs(tree: Value, kube: KubeVersion) -> Vec<Value> {
        let generator = crate::Generator::new().unwrap();
        generate(&generator, tree, kube)
            .unwrap()
            .iter()
            .map(|d| serde_saphyr::from_str::<Value>(d).unwrap())
            .collect()
    }

    fn spec() -> Value {
        json!({
            "name": "nightly", "namespace": "sec", "clusterName": "east",
            "results": {"storeUrl": "s3://bucket/scans", "endpoint": "http://127.0.0.1:8333",
                        "allowHttp": true, "credentialsSecret": {"name": "s3-read"},
                        "caBundle": {"configMap": "s3-ca"}},
            "serviceMonitor": {"enabled": true, "labels": {"release": "prometheus"}},
        })
    }

    #[test]
    fn the_exporter_has_no_token_no_rbac_and_the_least_privilege() {
        let docs = docs(spec(), KubeVersion::DEFAULT);
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["ServiceAccount", "Deployment", "Service", "ServiceMonitor"]
        );
        assert_eq!(docs[0]["automountServiceAccountToken"], false);
        let pod = &docs[1]["spec"]["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["serviceAccountName"], "sidescan-nightly-exporter");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(
            c["args"],
            json!([
                "exporter",
                "--store-url",
                "s3://bucket/scans",
                "--refresh-seconds",
                "300",
                "--listen",
                "0.0.0.0:9464",
                "--cluster",
                "east"
            ])
        );
        let env: Vec<&str> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            env,
            [
                "AWS_ENDPOINT_URL",
                "AWS_ALLOW_HTTP",
                "AWS_CA_BUNDLE",
                "AWS_EC2_METADATA_DISABLED",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY"
            ]
        );
        assert_eq!(pod["volumes"][0]["configMap"]["name"], "s3-ca");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/healthz");
        // The Service selects the Deployment's pods; the ServiceMonitor the Service.
        let selector = &docs[1]["spec"]["selector"]["matchLabels"];
        assert_eq!(&docs[2]["spec"]["selector"], selector);
        assert_eq!(&docs[3]["spec"]["selector"]["matchLabels"], selector);
        assert_eq!(docs[3]["metadata"]["labels"]["release"], "prometheus");
        assert_eq!(docs[3]["spec"]["endpoints"][0]["port"], "metrics");
        assert!(!docs.iter().any(|d| {
            let k = d["kind"].as_str().unwrap();
            k.contains("Role")
        }));
    }

    #[test]
    fn an_audit_spec_renders_the_exporter_of_its_results() {
        let audit = json!({
            "name": "nightly", "namespace": "sec",
            "select": {"namespaces": ["shop"]}, "scanner": {"backend": "builtin"},
            "results": {"storeUrl": "s3://bucket/scans"},
        });
        let docs = docs(audit, KubeVersion::DEFAULT);
        assert_eq!(docs.len(), 3, "no ServiceMonitor unless enabled");
        let pod = &docs[1]["spec"]["template"]["spec"];
        assert!(pod.get("volumes").is_none());
        assert_eq!(
            pod["containers"][0]["args"][2], "s3://bucket/scans",
            "{pod}"
        );
    }

    #[test]
    fn a_bad_spec_names_the_exporter_key() {
        let generator = crate::Generator::new().unwrap();
        let err = generate(
            &generator,
            json!({"results": {"storeUrl": "s3://b/p"}, "refreshSecond": 5}),
            KubeVersion::DEFAULT,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("refreshSecond"), "{err}");
    }
}
