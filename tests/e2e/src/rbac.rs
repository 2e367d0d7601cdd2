//! What a rendered RBAC grants, compared with what a program asked the API server for: the
//! runner records every request it makes (`SIDESCAN_API_REQUESTS=<file>`, one JSON line per
//! distinct request: verb, API group, resource, subresource, namespace, name), and a test runs it
//! under a ServiceAccount's token (a kubeconfig of its own) with exactly the rendered roles.

use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One request the runner made.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct Request {
    pub verb: String,
    #[serde(default)]
    pub group: String,
    pub resource: String,
    #[serde(default)]
    pub subresource: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl Request {
    /// `verb group/resource[/sub]`, as the rules name it.
    pub fn rule_key(&self) -> String {
        let resource = match &self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.clone(),
        };
        format!("{} {}/{resource}", self.verb, self.group)
    }
}

/// Reads the requests a runner recorded.
pub fn read_requests(path: &Path) -> Vec<Request> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (did the runner record requests?)", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// One rule of a rendered role, where it applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// The role that grants it (`ClusterRole/x`, `Role/ns/y`).
    pub role: String,
    pub verb: String,
    pub group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
    pub resource_names: Vec<String>,
    /// `None`: every namespace and cluster-scoped objects (a ClusterRoleBinding).
    pub namespace: Option<String>,
}

impl Grant {
    pub fn rule_key(&self) -> String {
        format!("{} {}/{}", self.verb, self.group, self.resource)
    }

    pub fn allows(&self, r: &Request) -> bool {
        self.rule_key() == r.rule_key()
            && (self.namespace.is_none() || self.namespace == r.namespace)
            && (self.resource_names.is_empty()
                || r.name
                    .as_ref()
                    .is_some_and(|n| self.resource_names.contains(n)))
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every grant of the rendered documents to ServiceAccount `namespace/account`: each rule of each
/// role, once per binding of that role to the account.
pub fn grants(docs: &[Value], namespace: &str, account: &str) -> Vec<Grant> {
    let roles: BTreeMap<(String, Option<String>, String), &Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
        .map(|d| {
            let kind = d["kind"].as_str().unwrap().to_string();
            let ns = d["metadata"]["namespace"].as_str().map(str::to_string);
            let name = d["metadata"]["name"].as_str().unwrap().to_string();
            ((kind, ns, name), d)
        })
        .collect();
    let mut out = Vec::new();
    for binding in docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRoleBinding" || d["kind"] == "RoleBinding")
    {
        let ours = binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| {
                s["kind"] == "ServiceAccount" && s["name"] == account && s["namespace"] == namespace
            });
        if !ours {
            continue;
        }
        let scope = binding["metadata"]["namespace"]
            .as_str()
            .map(str::to_string);
        let ref_kind = binding["roleRef"]["kind"].as_str().unwrap().to_string();
        let ref_name = binding["roleRef"]["name"].as_str().unwrap().to_string();
        let role_ns = (ref_kind == "Role").then(|| scope.clone()).flatten();
        let Some(role) = roles.get(&(ref_kind.clone(), role_ns.clone(), ref_name.clone())) else {
            panic!("{ref_kind} {ref_name} is bound but not rendered");
        };
        let label = match &role_ns {
            Some(ns) => format!("{ref_kind}/{ns}/{ref_name}"),
            None => format!("{ref_kind}/{ref_name}"),
        };
        for rule in role["rules"].as_array().into_iter().flatten() {
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    for verb in strings(&rule["verbs"]) {
                        out.push(Grant {
                            role: label.clone(),
                            verb,
                            group: group.clone(),
                            resource: resource.clone(),
                            resource_names: strings(&rule["resourceNames"]),
                            namespace: scope.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Requests no grant allows (non-resource URLs such as `/version` are every user's).
pub fn not_granted(requests: &[Request], grants: &[Grant]) -> Vec<Request> {
    requests
        .iter()
        .filter(|r| r.resource != "version" && !grants.iter().any(|g| g.allows(r)))
        .cloned()
        .collect()
}

/// Rules (role, verb, resource) that no request used.
pub fn never_used(requests: &[Request], grants: &[Grant]) -> BTreeSet<String> {
    let mut by_rule: BTreeMap<String, bool> = BTreeMap::new();
    for g in grants {
        let used = requests.iter().any(|r| g.allows(r));
        let key = format!("{}: {}", g.role, g.rule_key());
        *by_rule.entry(key).or_default() |= used;
    }
    by_rule
        .into_iter()
        .filter(|(_, used)| !used)
        .map(|(k, _)| k)
        .collect()
}

/// A kubeconfig that authenticates as ServiceAccount `namespace/account` (its legacy token
/// Secret, v1.20) against the cluster of `KUBECONFIG`; written into `dir`.
pub async fn service_account_kubeconfig(
    client: &Client,
    namespace: &str,
    account: &str,
    dir: &Path,
) -> PathBuf {
    use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
    crate::harness::wait_for_service_account_token(client, namespace, account).await;
    let sa = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .get(account)
        .await
        .unwrap();
    let secret_name = sa.secrets.unwrap()[0].name.clone().expect("a token Secret");
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get(&secret_name)
        .await
        .unwrap();
    let data = secret.data.unwrap();
    let token = String::from_utf8(data["token"].0.clone()).unwrap();
    let ca = &data["ca.crt"].0;
    let admin = kube::config::Kubeconfig::read().expect("the admin kubeconfig (KUBECONFIG)");
    let server = admin.clusters[0]
        .cluster
        .as_ref()
        .and_then(|c| c.server.clone())
        .expect("the cluster's server");
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca).unwrap();
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": ca_path}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": account, "namespace": namespace}}],
        "current-context": "sa",
    });
    let path = dir.join(format!("kubeconfig-{account}"));
    std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
    path
}

/// Server-side apply of `docs` in order (each in the namespace it names), waiting for each
/// ServiceAccount's token.
pub async fn apply(client: &Client, docs: &[Value]) {
    let apply = PatchParams::apply("sidescan-e2e");
    for doc in docs {
        let (api, name) = crate::manifests::api_in_its_namespace(client, doc).await;
        api.patch(&name, &apply, &Patch::Apply(doc))
            .await
            .unwrap_or_else(|e| panic!("{} {name}: {e}", doc["kind"]));
        if doc["kind"] == "ServiceAccount" {
            let ns = doc["metadata"]["namespace"].as_str().unwrap();
            crate::harness::wait_for_service_account_token(client, ns, &name).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_matched_with_the_roles_bound_where_they_were_made() {
        let docs = vec![
            json!({"kind": "ClusterRole", "metadata": {"name": "clones"},
                   "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete"]}]}),
            json!({"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "shop"},
                   "roleRef": {"kind": "ClusterRole", "name": "clones"},
                   "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "audit"}]}),
            json!({"kind": "ClusterRole", "metadata": {"name": "ns"},
                   "rules": [{"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["shop"], "verbs": ["get"]}]}),
            json!({"kind": "ClusterRoleBinding", "metadata": {"name": "ns"},
                   "roleRef": {"kind": "ClusterRole", "name": "ns"},
                   "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "audit"}]}),
        ];
        let g = grants(&docs, "audit", "sa");
        assert_eq!(g.len(), 3);
        let req = |verb: &str, resource: &str, ns: Option<&str>, name: Option<&str>| Request {
            verb: verb.into(),
            group: String::new(),
            resource: resource.into(),
            subresource: None,
            namespace: ns.map(str::to_string),
            name: name.map(str::to_string),
        };
        let used = vec![
            req("create", "pods", Some("shop"), None),
            req("get", "namespaces", None, Some("shop")),
            req("create", "pods", Some("other"), None),
            req("get", "namespaces", None, Some("kube-system")),
            req("get", "version", None, None),
        ];
        assert_eq!(not_granted(&used, &g), used[2..4].to_vec());
        assert_eq!(
            never_used(&used, &g),
            BTreeSet::from(["ClusterRole/clones: delete /pods".to_string()])
        );
    }
}
