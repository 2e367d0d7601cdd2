use super::*;
use serde_json::json;

fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn template(labels: serde_json::Value, containers: serde_json::Value) -> serde_json::Value {
    json!({"metadata": {"labels": labels}, "spec": {"containers": containers}})
}

fn deployment(ns: &str, name: &str, labels: serde_json::Value) -> Deployment {
    object(json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": template(json!({"app": name}), json!([
                {"name": "app", "image": "localhost/sidescan-target-distroless:dev"},
                {"name": "proxy", "image": "envoy:1.30"},
            ])),
        },
    }))
}

fn pod(ns: &str, name: &str, labels: serde_json::Value, owner: Option<&str>) -> Pod {
    let owners = match owner {
        Some(kind) => {
            json!([{"apiVersion": "apps/v1", "kind": kind, "name": "x", "uid": "u", "controller": true}])
        }
        None => json!([]),
    };
    object(json!({
        "metadata": {"name": name, "namespace": ns, "labels": labels, "ownerReferences": owners},
        "spec": {
            "containers": [{"name": "main", "image": "localhost/sidescan-target-musl:dev"}],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "nodeName": "localhost",
        },
        "status": {"containerStatuses": [{
            "name": "main", "image": "localhost/sidescan-target-musl:dev", "imageID": format!("sha256:{name}"),
            "ready": true, "restartCount": 0,
        }, {
            "name": "app", "image": "x", "imageID": "sha256:app-of-web",
            "ready": true, "restartCount": 0,
        }]},
    }))
}

fn select() -> Select {
    Select::default()
}

fn all_ns() -> Vec<String> {
    vec!["shop".into(), "tools".into()]
}

fn ids(d: &Discovery) -> Vec<String> {
    d.targets.iter().map(Target::id).collect()
}

fn inventory() -> Inventory {
    Inventory {
        deployments: vec![
            deployment("shop", "web", json!({"tier": "front"})),
            deployment("tools", "ci", json!({"tier": "back"})),
        ],
        statefulsets: vec![object(json!({
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}, "serviceName": "db",
                     "template": template(json!({"app": "db"}), json!([{"name": "pg", "image": "postgres:16"}]))},
        }))],
        daemonsets: vec![object(json!({
            "metadata": {"name": "agent", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": template(json!({"app": "agent"}), json!([{"name": "a", "image": "agent:1"}]))},
        }))],
        cronjobs: vec![object(json!({
            "metadata": {"name": "nightly", "namespace": "shop", "uid": "cron-uid"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {
                "template": template(json!({}), json!([{"name": "run", "image": "batch:2"}]))}}},
        }))],
        jobs: vec![
            object(json!({
                "metadata": {"name": "nightly-123", "namespace": "shop",
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "cron-uid", "controller": true}]},
                "spec": {"template": template(json!({}), json!([{"name": "run", "image": "batch:2"}]))},
            })),
            object(json!({
                "metadata": {"name": "migrate", "namespace": "shop"},
                "spec": {"template": template(json!({}), json!([{"name": "m", "image": "migrate:1"}]))},
            })),
        ],
        pods: vec![
            pod("shop", "web-abc", json!({"app": "web"}), Some("ReplicaSet")),
            pod("shop", "debug", json!({"run": "debug"}), None),
            pod(
                "shop",
                "sidescan-clone",
                json!({"app.kubernetes.io/part-of": "sidescan"}),
                None,
            ),
        ],
        service_accounts: vec![object(json!({
            "metadata": {"name": "default", "namespace": "shop"},
            "imagePullSecrets": [{"name": "regcred"}],
        }))],
    }
}

#[test]
fn every_kind_and_container_becomes_a_target_once() {
    let d = discover(&select(), &Selector::default(), &all_ns(), &inventory());
    assert_eq!(
        ids(&d),
        [
            "shop/deployment.web.app",
            "shop/deployment.web.proxy",
            "shop/statefulset.db.pg",
            "shop/daemonset.agent.a",
            "shop/job.migrate.m",
            "shop/cronjob.nightly.run",
            "shop/pod.debug.main",
            "tools/deployment.ci.app",
            "tools/deployment.ci.proxy",
        ]
    );
    // Init containers are never targets; sidescan's own pods and owned pods are not bare pods.
    assert!(
        !ids(&d)
            .iter()
            .any(|id| id.contains("init") || id.contains("clone"))
    );
}

#[test]
fn running_digests_and_service_account_pull_secrets_are_collected() {
    let d = discover(&select(), &Selector::default(), &all_ns(), &inventory());
    let web = d
        .targets
        .iter()
        .find(|t| t.id() == "shop/deployment.web.app")
        .unwrap();
    assert_eq!(web.running_digests, ["sha256:app-of-web"]);
    assert_eq!(web.service_account_pull_secrets, ["regcred"]);
    assert_eq!(web.workload_uid.as_deref(), Some("uid-web"));
    let debug = d
        .targets
        .iter()
        .find(|t| t.kind == WorkloadKind::Pod)
        .unwrap();
    assert_eq!(debug.running_digests, ["sha256:debug"]);
    // The bare pod's template carries its spec and labels, not its node.
    assert_eq!(
        debug.template.spec.as_ref().unwrap().node_name.as_deref(),
        Some("localhost")
    );
}

#[test]
fn selection_filters_by_kind_label_container_and_image() {
    let mut s = select();
    s.kinds = vec![WorkloadKind::Deployment];
    let sel = Selector::parse("tier=front").unwrap();
    let d = discover(&s, &sel, &all_ns(), &inventory());
    assert_eq!(
        ids(&d),
        ["shop/deployment.web.app", "shop/deployment.web.proxy"]
    );

    let mut s = select();
    s.containers = vec!["proxy".into()];
    let d = discover(&s, &Selector::default(), &all_ns(), &inventory());
    assert_eq!(
        ids(&d),
        ["shop/deployment.web.proxy", "tools/deployment.ci.proxy"]
    );

    let mut s = select();
    s.images = vec![
        "localhost/sidescan-target-musl".into(),
        "postgres:16".into(),
    ];
    let d = discover(&s, &Selector::default(), &all_ns(), &inventory());
    assert_eq!(ids(&d), ["shop/statefulset.db.pg", "shop/pod.debug.main"]);
}

#[test]
fn a_cronjobs_jobs_are_targets_only_without_the_cronjob() {
    let mut s = select();
    s.kinds = vec![WorkloadKind::Job];
    let d = discover(&s, &Selector::default(), &all_ns(), &inventory());
    assert_eq!(ids(&d), ["shop/job.migrate.m", "shop/job.nightly-123.run"]);
}

#[test]
fn namespaces_named_excluded_and_missing() {
    let existing = vec!["shop".to_string(), "tools".into(), "kube-system".into()];
    let (ns, warnings) = audited_namespaces(&select(), &existing);
    assert_eq!(ns, ["kube-system", "shop", "tools"]);
    assert!(warnings.is_empty());
    let mut s = select();
    s.namespaces = vec!["shop".into(), "gone".into()];
    let (ns, warnings) = audited_namespaces(&s, &existing);
    assert_eq!(ns, ["shop"]);
    assert_eq!(warnings, ["namespace gone does not exist"]);
    let mut s = select();
    s.exclude_namespaces = vec!["kube-system".into()];
    assert_eq!(audited_namespaces(&s, &existing).0, ["shop", "tools"]);
    // Objects of namespaces that are not audited are ignored.
    let d = discover(
        &select(),
        &Selector::default(),
        &["tools".into()],
        &inventory(),
    );
    assert_eq!(
        ids(&d),
        ["tools/deployment.ci.app", "tools/deployment.ci.proxy"]
    );
}

#[test]
fn repositories_and_label_selectors() {
    assert_eq!(repository("nginx:1.27"), "nginx");
    assert_eq!(repository("localhost:5000/app"), "localhost:5000/app");
    assert_eq!(
        repository("localhost:5000/app:v1@sha256:ab"),
        "localhost:5000/app"
    );
    assert!(image_matches("nginx", "nginx@sha256:ab"));
    assert!(!image_matches("nginx:1.26", "nginx:1.27"));
    let sel: LabelSelector = object(json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                             {"key": "legacy", "operator": "DoesNotExist"}],
    }));
    let sel = from_label_selector(&sel).unwrap();
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert!(sel.matches(&labels(&[("app", "web"), ("tier", "a")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("legacy", "1")])));
    let bad: LabelSelector = object(json!({"matchExpressions": [{"key": "x", "operator": "Gt"}]}));
    assert!(from_label_selector(&bad).is_none());
}
