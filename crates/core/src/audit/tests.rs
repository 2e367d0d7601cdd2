use super::*;
use serde_json::json;

fn minimal() -> serde_json::Value {
    json!({
        "scanner": {"backend": "builtin"},
        "results": {"storeUrl": "s3://audits/prod"},
    })
}

fn with(mut base: serde_json::Value, path: &[&str], value: serde_json::Value) -> serde_json::Value {
    let mut node = &mut base;
    for key in &path[..path.len() - 1] {
        if node.get(*key).is_none() {
            node[*key] = json!({});
        }
        node = node.get_mut(*key).unwrap();
    }
    node[path[path.len() - 1]] = value;
    base
}

fn error(value: serde_json::Value) -> String {
    from_value(value).unwrap_err().to_string()
}

#[test]
fn minimal_spec_has_the_documented_defaults() {
    let spec = from_value(minimal()).unwrap();
    assert_eq!(spec.namespace, "sidescan");
    assert_eq!(spec.select.kinds, WorkloadKind::all());
    assert!(spec.select.namespaces.is_empty());
    assert_eq!(spec.target.run, RunMode::Hold);
    assert_eq!(spec.placement.mode, PlacementMode::ScanNamespace);
    assert_eq!(spec.security.mode, AuditSecurityMode::Auto);
    assert_eq!(
        (spec.concurrency, spec.target_deadline_seconds, spec.retries),
        (4, 600, 1)
    );
    assert_eq!(spec.clone_namespace("shop"), "sidescan");
    let mut spec = spec;
    spec.placement.mode = PlacementMode::WorkloadNamespace;
    assert_eq!(spec.clone_namespace("shop"), "shop");
}

#[test]
fn unknown_kind_names_its_key() {
    let err = error(with(
        minimal(),
        &["select", "kinds"],
        json!(["Deployment", "Deploymnet"]),
    ));
    assert!(
        err.starts_with("select.kinds[1]: unknown variant `Deploymnet`"),
        "{err}"
    );
}

#[test]
fn bad_selector_names_its_key() {
    let err = error(with(
        minimal(),
        &["select", "labelSelector"],
        json!("app in (web"),
    ));
    assert!(
        err.starts_with("select.labelSelector: not a label selector"),
        "{err}"
    );
}

#[test]
fn unknown_keys_and_bad_values_name_their_key() {
    let err = error(with(minimal(), &["select", "namespace"], json!(["a"])));
    assert!(err.starts_with("select.namespace: unknown field"), "{err}");
    let err = error(with(minimal(), &["select", "namespaces"], json!(["Shop"])));
    assert!(err.starts_with("select.namespaces[0]:"), "{err}");
    let err = error(with(minimal(), &["concurrency"], json!(0)));
    assert!(
        err.starts_with("concurrency: it must be between 1 and 256"),
        "{err}"
    );
    let err = error(with(minimal(), &["target", "run"], json!("sleep")));
    assert!(
        err.starts_with("target.run: unknown variant `sleep`"),
        "{err}"
    );
    let err = error(with(minimal(), &["select", "kinds"], json!([])));
    assert!(err.starts_with("select.kinds: at least one kind"), "{err}");
    let err = error(with(
        minimal(),
        &["results", "storeUrl"],
        json!("file:///tmp/x"),
    ));
    assert!(err.starts_with("results.storeUrl:"), "{err}");
    let err = error(json!({"scanner": {"backend": "builtin"}}));
    assert!(
        err.starts_with("results.storeUrl: missing required value"),
        "{err}"
    );
    let err = error(with(minimal(), &["scanner", "backend"], json!("cinc")));
    assert!(err.starts_with("profile: missing required value"), "{err}");
    let err = error(with(
        minimal(),
        &["target", "resources", "limits", "memory"],
        json!("lots"),
    ));
    assert!(err.starts_with("target.resources.limits.memory:"), "{err}");
}

#[test]
fn target_segments_are_subdomains() {
    let segment = target_segment(WorkloadKind::StatefulSet, "db.primary", "postgres");
    assert_eq!(segment, "statefulset.db.primary.postgres");
    crate::names::check_dns_subdomain("target", &segment).unwrap();
}

#[test]
fn the_spec_round_trips_through_json() {
    let spec = from_value(minimal()).unwrap();
    let again = from_value(serde_json::to_value(&spec).unwrap()).unwrap();
    assert_eq!(again, spec);
}

#[test]
fn input_and_waiver_files_are_refused_not_ignored() {
    let err = error(with(
        minimal(),
        &["profile"],
        json!({"waiverFiles": ["waivers.yml"]}),
    ));
    assert!(err.starts_with("profile.waiverFiles"), "{err}");
    assert!(err.contains("not supported in audit specs"), "{err}");
}

#[test]
fn clones_run_only_where_the_spec_places_them_and_kube_system_only_when_named() {
    let spec = from_value(minimal()).unwrap();
    assert_eq!(
        spec.clone_namespaces(),
        CloneNamespaces::Only(vec!["sidescan".into()])
    );
    let every = from_value(with(
        with(
            minimal(),
            &["placement", "mode"],
            json!("workload-namespace"),
        ),
        &["select", "excludeNamespaces"],
        json!(["dev"]),
    ))
    .unwrap();
    let found = every.clone_namespaces();
    assert_eq!(
        found,
        CloneNamespaces::AllBut(vec!["dev".into(), "kube-system".into()])
    );
    assert!(found.allows("shop") && !found.allows("kube-system") && !found.allows("dev"));
    let named = from_value(with(
        with(
            minimal(),
            &["placement", "mode"],
            json!("workload-namespace"),
        ),
        &["select", "namespaces"],
        json!(["kube-system", "shop", "shop"]),
    ))
    .unwrap();
    assert_eq!(
        named.clone_namespaces(),
        CloneNamespaces::Only(vec!["kube-system".into(), "shop".into()])
    );
}

#[test]
fn clones_never_identify_through_the_api() {
    let err = error(with(minimal(), &["scanner", "identify"], json!("api")));
    assert!(err.starts_with("scanner.identify: "), "{err}");
    let err = error(with(minimal(), &["scanner", "identify"], json!("auto")));
    assert!(
        err.starts_with("scanner.identify: unknown variant `auto`"),
        "{err}"
    );
    let spec = from_value(with(
        minimal(),
        &["scanner", "identify"],
        json!("heuristic"),
    ))
    .unwrap();
    // The default is left out of the serialized spec (derived ids stay as they were).
    assert!(
        serde_json::to_value(&spec).unwrap()["scanner"]
            .get("identify")
            .is_none()
    );
}

#[test]
fn webhooks_are_checked_without_echoing_their_url() {
    let spec = from_value(with(
        minimal(),
        &["notify"],
        json!({"webhook": {"url": "https://hooks.example.com/services/T0/B0/s3cr3t", "format": "slack"}}),
    ))
    .unwrap();
    let webhook = spec.notify.unwrap().webhook.unwrap();
    assert_eq!(webhook.format, WebhookFormat::Slack);
    assert_eq!(webhook_host(&webhook.url), "hooks.example.com");
    assert!(!format!("{webhook:?}").contains("s3cr3t"));
    assert_eq!(webhook_host("http://127.0.0.1:9/x"), "127.0.0.1:9");
    let default = from_value(with(
        minimal(),
        &["notify"],
        json!({"webhook": {"url": "http://127.0.0.1:9/hook"}}),
    ))
    .unwrap();
    assert_eq!(
        default.notify.unwrap().webhook.unwrap().format,
        WebhookFormat::Json
    );
    for bad in ["ftp://x/s3cr3t", "not a url s3cr3t", "mailto:s3cr3t@x"] {
        let err = error(with(
            minimal(),
            &["notify"],
            json!({"webhook": {"url": bad}}),
        ));
        assert!(err.starts_with("notify.webhook.url:"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }
    let err = error(with(
        minimal(),
        &["notify"],
        json!({"webhook": {"url": "http://x/", "format": "teams"}}),
    ));
    assert!(err.starts_with("notify.webhook.format"), "{err}");
}
