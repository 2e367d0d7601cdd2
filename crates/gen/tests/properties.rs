//! Random specs: whatever the generator accepts renders documents that deserialize into their
//! Kubernetes types with no unknown field and keep the Pod Security level of their mode; whatever
//! it refuses is refused with one line naming a key, never a panic.

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use sidescan_gen::pss::{Level, Rule, pss_violations};
use sidescan_gen::{Kind, KubeVersion, values};

fn release() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(18u32),
        Just(20),
        Just(22),
        Just(25),
        Just(33),
        Just(37)
    ]
}

fn capability() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("NET_BIND_SERVICE"),
        Just("CHOWN"),
        Just("SYS_ADMIN"),
        Just("NET_RAW")
    ]
}

/// A target security context with the fields Pod Security looks at, each maybe set.
fn security_context() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(prop_oneof![Just(0i64), Just(1000), Just(65532)]),
        proptest::option::of(proptest::collection::vec(capability(), 0..2)),
        proptest::option::of(prop_oneof![
            Just("RuntimeDefault"),
            Just("Unconfined"),
            Just("Localhost")
        ]),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(privileged, escalation, non_root, uid, add, seccomp, ro)| {
                let mut sc = serde_json::Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        sc.insert(k.to_string(), v);
                    }
                };
                put("privileged", privileged.map(Value::Bool));
                put("allowPrivilegeEscalation", escalation.map(Value::Bool));
                put("runAsNonRoot", non_root.map(Value::Bool));
                put("runAsUser", uid.map(|u| json!(u)));
                put("capabilities", add.map(|a| json!({"add": a})));
                put(
                    "seccompProfile",
                    seccomp.map(|t| {
                        if t == "Localhost" {
                            json!({"type": t, "localhostProfile": "profiles/scan.json"})
                        } else {
                            json!({"type": t})
                        }
                    }),
                );
                put("readOnlyRootFilesystem", ro.map(Value::Bool));
                Value::Object(sc)
            },
        )
}

fn volume() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(json!({"configMap": {"name": "cfg"}})),
        3 => Just(json!({"emptyDir": {}})),
        3 => Just(json!({"secret": {"secretName": "s"}})),
        1 => Just(json!({"hostPath": {"path": "/var/log"}})),
        1 => Just(json!({"nfs": {"server": "nfs.example", "path": "/x"}})),
    ]
}

/// How many random specs were accepted and rendered (the property must not hold vacuously).
static ACCEPTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

prop_compose! {
    fn spec()(
        ptrace in any::<bool>(),
        uid in prop_oneof![1 => Just(0i64), 4 => Just(101), 4 => Just(65532), 1 => Just(3_000_000_000)],
        gid in proptest::option::of(prop_oneof![Just(0i64), Just(101)]),
        host_network in any::<bool>(),
        sc in proptest::option::weighted(0.5, security_context()),
        volumes in proptest::collection::vec(volume(), 0..3),
        cpu in prop_oneof![4 => Just(json!(1)), 4 => Just(json!("250m")), 1 => Just(json!(-1))],
        label in prop_oneof![8 => Just("ops"), 1 => Just("bad value!")],
        builtin in any::<bool>(),
        network_policy in any::<bool>(),
    ) -> Value {
        let mut target = json!({
            "name": "web", "image": "nginx:1.27",
            "resources": {"requests": {"cpu": cpu}},
        });
        if let Some(sc) = sc {
            target["securityContext"] = sc;
        }
        if !volumes.is_empty() {
            let named: Vec<Value> = volumes
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let mut v = v.clone();
                    v["name"] = json!(format!("v{i}"));
                    v
                })
                .collect();
            let mounts: Vec<Value> = (0..named.len())
                .map(|i| json!({"name": format!("v{i}"), "mountPath": format!("/data/{i}")}))
                .collect();
            target["volumes"] = json!(named);
            target["volumeMounts"] = json!(mounts);
        }
        let mut security = json!({"mode": if ptrace { "ptrace" } else { "same-uid" }});
        if !(ptrace && uid != 0) {
            security["runAsUser"] = json!(uid);
        }
        if let Some(gid) = gid {
            security["runAsGroup"] = json!(gid);
        }
        let mut spec = json!({
            "target": target,
            "security": security,
            "cluster": {"hostNetwork": host_network, "apiServer": {"host": "10.0.0.1", "port": 6443}},
            "metadata": {"labels": {"team": label}},
            "results": {"storeUrl": "s3://results/scans", "endpoint": "https://10.0.0.9:9000"},
            "networkPolicy": {"enabled": network_policy},
        });
        if builtin {
            spec["scanner"] = json!({"backend": "builtin"});
        } else {
            spec["profile"] = json!({"url": "s3://profiles/p.tar.gz"});
        }
        spec
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    fn random_specs(
        tree in spec(),
        minor in release(),
    ) {
        let kube = KubeVersion::parse(&format!("1.{minor}")).unwrap();
        let rendered = values::spec_from_value(tree.clone()).and_then(|spec| {
            let inputs = sidescan_gen::inputs::load_inputs(&spec, &repo_root())?;
            let ctx = sidescan_gen::context::build(&spec, &inputs, kube)?;
            let mut out = generator().render_kinds(None, &ctx)?;
            out.extend(generator().render_kinds(Some(Kind::ScanPod), &ctx)?);
            Ok((spec, out))
        });
        match rendered {
            Ok((spec, rendered)) => {
                let docs = documents(&sidescan_gen::to_stream(&rendered));
                prop_assert!(docs.iter().any(|d| d["kind"] == "Pod"));
                ACCEPTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                for doc in &docs {
                    check_strictly(doc);
                    check_pod_security(doc, &spec);
                }
            }
            Err(err) => {
                let message = err.to_string();
                prop_assert!(!message.contains('\n'), "{}", message);
                let field = message.split(':').next().unwrap_or_default();
                prop_assert!(!field.is_empty() && !field.contains(' ') || field.starts_with("target.volumes ("), "{}", message);
            }
        }
    }
}

#[test]
fn accepted_specs_render_valid_documents_that_keep_their_pod_security() {
    random_specs();
    // The property must not hold vacuously: enough random specs were accepted and rendered.
    let accepted = ACCEPTED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        accepted >= 20,
        "only {accepted} of 128 random specs were accepted"
    );
}

#[test]
fn same_uid_pods_pass_restricted_and_ptrace_pods_fail_only_on_capabilities_at_baseline() {
    let kube = KubeVersion::parse("1.33").unwrap();
    let path = example_spec("distroless-same-uid");
    let docs = documents(&stream(&path, &[], kube));
    for doc in &docs {
        if let Some(t) = pod_template(doc) {
            assert_eq!(
                pss_violations(&t, Level::Restricted),
                vec![],
                "{}",
                doc["kind"]
            );
        }
    }
    let sets = ["security.mode=ptrace", "security.runAsUser=null"];
    let docs = documents(&stream(&path, &sets, kube));
    let pod = docs.iter().find(|d| d["kind"] == "Pod").unwrap();
    let t = pod_template(pod).unwrap();
    let baseline = pss_violations(&t, Level::Baseline);
    assert_eq!(baseline.len(), 1, "{baseline:#?}");
    assert_eq!(baseline[0].rule, Rule::Capabilities);
    assert_eq!(
        baseline[0].field,
        "spec.containers[sidescan-scanner].securityContext.capabilities.add"
    );
    let restricted: Vec<Rule> = pss_violations(&t, Level::Restricted)
        .into_iter()
        .map(|v| v.rule)
        .collect();
    assert!(restricted.contains(&Rule::CapabilitiesRestricted));
    assert!(restricted.contains(&Rule::RunningAsNonRoot));
    // The Job's pod is restricted in every mode.
    for doc in docs.iter().filter(|d| d["kind"] == "Job") {
        let t = pod_template(doc).unwrap();
        assert_eq!(pss_violations(&t, Level::Restricted), vec![]);
    }
}
