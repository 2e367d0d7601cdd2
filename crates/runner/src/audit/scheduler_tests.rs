use super::*;
use crate::audit::discover::Target;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use sidescan_core::audit::WorkloadKind;
use sidescan_core::audit::record::{ProgressRecord, TargetRecord, Verdict};

const DEADLINE: Duration = Duration::from_secs(60);

fn limits(concurrency: usize, retries: u32) -> Limits {
    Limits {
        concurrency,
        retries,
        deadline: DEADLINE,
    }
}

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn name(index: usize, attempt: u32) -> String {
    format!("c{index}-{attempt}")
}

fn creates(actions: &[Action]) -> Vec<(usize, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Create { index, attempt } => Some((*index, *attempt)),
            _ => None,
        })
        .collect()
}

fn done() -> Step {
    Step::ScannerDone {
        exit_code: 0,
        message: Some("{}".into()),
    }
}

/// Creates every clone the actions ask for (named `c<index>-<attempt>`), feeding `Created`.
fn create_all(sched: &mut Scheduler, now: Duration, actions: &[Action]) -> Vec<Action> {
    let mut out = Vec::new();
    for (index, attempt) in creates(actions) {
        out.extend(sched.handle(
            now,
            Event::Created {
                index,
                clone: name(index, attempt),
            },
        ));
    }
    out
}

fn failure(reason: &str) -> AttemptFailure {
    AttemptFailure {
        reason: reason.into(),
        retryable: true,
    }
}

#[test]
fn nothing_to_scan_is_done_at_once() {
    let mut sched = Scheduler::new(limits(4, 1), 0);
    assert_eq!(
        sched.start(Duration::ZERO),
        [Action::Done { interrupted: false }]
    );
    assert!(sched.is_done());
    assert!(sched.handle(s(1), Event::Interrupted).is_empty());
}

#[test]
fn the_concurrency_bound_holds_and_every_target_is_recorded_once() {
    let total = 11;
    let mut sched = Scheduler::new(limits(3, 1), total);
    let mut pending = sched.start(Duration::ZERO);
    assert_eq!(creates(&pending), [(0, 1), (1, 1), (2, 1)]);
    let mut live: Vec<String> = Vec::new();
    let mut retrieving: Vec<String> = Vec::new();
    let mut recorded = Vec::new();
    let mut finished = false;
    let mut now = Duration::ZERO;
    // A fixed, interleaved order of completions: create, run, finish, retrieve.
    for round in 0..200u64 {
        now += s(1);
        let mut next = Vec::new();
        for action in std::mem::take(&mut pending) {
            match action {
                Action::Create { index, attempt } => {
                    let clone = name(index, attempt);
                    live.push(clone.clone());
                    next.extend(sched.handle(now, Event::Created { index, clone }));
                }
                Action::Delete { clone } => live.retain(|c| *c != clone),
                Action::Retrieve { clone, .. } => retrieving.push(clone),
                Action::Record(outcome) => recorded.push(outcome),
                Action::Done { interrupted } => {
                    assert!(!interrupted);
                    finished = true;
                }
            }
        }
        assert!(
            sched.clones() <= 3,
            "round {round}: {} clones",
            sched.clones()
        );
        assert!(live.len() <= 3, "round {round}: {live:?}");
        assert!(sched.clones() + sched.retrievals() <= 6);
        // Alternate: one scanner ends, one retrieval ends.
        if round % 2 == 0 {
            if let Some(clone) = live.first().cloned() {
                next.extend(sched.handle(
                    now,
                    Event::CloneUpdate {
                        clone,
                        step: done(),
                    },
                ));
            }
        } else if !retrieving.is_empty() {
            let clone = retrieving.remove(0);
            next.extend(sched.handle(
                now,
                Event::Retrieved {
                    clone,
                    result: Ok(()),
                },
            ));
        }
        pending = next;
        if finished {
            break;
        }
    }
    assert!(finished, "Done");
    let mut indices: Vec<usize> = recorded
        .iter()
        .map(|o| match o {
            Outcome::Scanned { index, attempt, .. } => {
                assert_eq!(*attempt, 1);
                *index
            }
            other => panic!("{other:?}"),
        })
        .collect();
    indices.sort();
    assert_eq!(indices, (0..total).collect::<Vec<_>>());
    assert_eq!(sched.finished(), total);
    assert!(live.is_empty());
}

#[test]
fn a_finished_scanner_frees_its_slot_before_the_retrieval() {
    let mut sched = Scheduler::new(limits(1, 1), 3);
    let first = sched.start(Duration::ZERO);
    assert_eq!(creates(&first), [(0, 1)]);
    assert!(create_all(&mut sched, Duration::ZERO, &first).is_empty());
    let actions = sched.handle(
        s(3),
        Event::CloneUpdate {
            clone: name(0, 1),
            step: done(),
        },
    );
    assert_eq!(
        actions,
        [
            Action::Delete { clone: name(0, 1) },
            Action::Retrieve {
                clone: name(0, 1),
                exit_code: 0,
                message: Some("{}".into())
            },
            Action::Create {
                index: 1,
                attempt: 1
            },
        ]
    );
    create_all(&mut sched, s(3), &actions);
    // A second finished scanner while the first is still being read back: no third clone until
    // a retrieval ends.
    let actions = sched.handle(
        s(5),
        Event::CloneUpdate {
            clone: name(1, 1),
            step: done(),
        },
    );
    assert!(creates(&actions).is_empty(), "{actions:?}");
    assert_eq!(sched.retrievals(), 2);
    let actions = sched.handle(
        s(6),
        Event::Retrieved {
            clone: name(0, 1),
            result: Ok(()),
        },
    );
    assert_eq!(
        actions,
        [
            Action::Record(Outcome::Scanned {
                index: 0,
                clone: name(0, 1),
                attempt: 1,
                elapsed: s(6)
            }),
            Action::Create {
                index: 2,
                attempt: 1
            }
        ]
    );
}

#[test]
fn an_infrastructure_failure_is_retried_up_to_the_limit_at_the_back_of_the_queue() {
    let mut sched = Scheduler::new(limits(1, 1), 2);
    let a = sched.start(Duration::ZERO);
    create_all(&mut sched, Duration::ZERO, &a);
    // The first clone fails before its scanner: deleted, the target goes behind the other.
    let a = sched.handle(
        s(2),
        Event::CloneUpdate {
            clone: name(0, 1),
            step: Step::Failed("container app cannot start: ErrImageNeverPull: x".into()),
        },
    );
    assert_eq!(
        a,
        [
            Action::Delete { clone: name(0, 1) },
            Action::Create {
                index: 1,
                attempt: 1
            }
        ]
    );
    create_all(&mut sched, s(2), &a);
    let a = sched.handle(
        s(4),
        Event::CloneUpdate {
            clone: name(1, 1),
            step: done(),
        },
    );
    assert_eq!(
        creates(&a),
        [(0, 2)],
        "the second attempt once there is room"
    );
    create_all(&mut sched, s(4), &a);
    // The retry fails too: no third attempt with retries 1; both reasons, in order.
    let a = sched.handle(
        s(9),
        Event::CloneUpdate {
            clone: name(0, 2),
            step: Step::Failed("the target container exited".into()),
        },
    );
    assert_eq!(a[0], Action::Delete { clone: name(0, 2) });
    match &a[1] {
        Action::Record(Outcome::NotScanned {
            index: 0,
            failures,
            elapsed,
        }) => {
            assert_eq!(failures.len(), 2);
            assert!(failures[0].reason.contains("ErrImageNeverPull"));
            assert!(failures[1].reason.contains("exited"));
            assert_eq!(*elapsed, s(9), "from the first clone's creation");
        }
        other => panic!("{other:?}"),
    }
    assert!(creates(&a).is_empty());
}

#[test]
fn retries_zero_and_refusals_are_not_retried() {
    let mut sched = Scheduler::new(limits(2, 0), 2);
    let a = sched.start(Duration::ZERO);
    assert_eq!(creates(&a), [(0, 1), (1, 1)]);
    // A clone that cannot be built for this template is not retried whatever `retries` says.
    let a = sched.handle(
        s(1),
        Event::CreateFailed {
            index: 0,
            failure: AttemptFailure {
                reason: "the workload has no pod template".into(),
                retryable: false,
            },
        },
    );
    assert!(matches!(
        &a[..],
        [Action::Record(Outcome::NotScanned { index: 0, failures, .. })] if failures.len() == 1
    ));
    // With retries 0 an infrastructure failure is final too.
    let a = sched.handle(
        s(1),
        Event::CreateFailed {
            index: 1,
            failure: failure("creating the clone: the API is down"),
        },
    );
    assert_eq!(
        a,
        [
            Action::Record(Outcome::NotScanned {
                index: 1,
                failures: vec![failure("creating the clone: the API is down")],
                elapsed: s(1)
            }),
            Action::Done { interrupted: false }
        ]
    );
}

#[test]
fn a_failed_retrieval_is_retried_with_a_new_clone() {
    let mut sched = Scheduler::new(limits(1, 2), 1);
    let a = sched.start(Duration::ZERO);
    create_all(&mut sched, Duration::ZERO, &a);
    sched.handle(
        s(2),
        Event::CloneUpdate {
            clone: name(0, 1),
            step: done(),
        },
    );
    let a = sched.handle(
        s(3),
        Event::Retrieved {
            clone: name(0, 1),
            result: Err(failure("reading hdf.json: connection refused")),
        },
    );
    assert_eq!(
        a,
        [Action::Create {
            index: 0,
            attempt: 2
        }]
    );
    create_all(&mut sched, s(3), &a);
    sched.handle(
        s(5),
        Event::CloneUpdate {
            clone: name(0, 2),
            step: done(),
        },
    );
    let a = sched.handle(
        s(6),
        Event::Retrieved {
            clone: name(0, 2),
            result: Ok(()),
        },
    );
    assert_eq!(
        a,
        [
            Action::Record(Outcome::Scanned {
                index: 0,
                clone: name(0, 2),
                attempt: 2,
                elapsed: s(6)
            }),
            Action::Done { interrupted: false }
        ]
    );
}

#[test]
fn a_clone_past_its_deadline_is_deleted_with_its_last_state_and_warning() {
    let mut sched = Scheduler::new(limits(2, 1), 1);
    let a = sched.start(Duration::ZERO);
    create_all(&mut sched, s(1), &a);
    assert_eq!(sched.next_deadline(), Some(s(61)));
    sched.handle(
        s(2),
        Event::CloneUpdate {
            clone: name(0, 1),
            step: Step::Waiting("not scheduled: Unschedulable: 0/1 nodes are available".into()),
        },
    );
    assert!(sched.expired(s(60)).is_empty());
    assert_eq!(sched.expired(s(61)), [name(0, 1)]);
    assert!(sched.expired(s(62)).is_empty(), "named once");
    assert_eq!(sched.next_deadline(), None);
    let a = sched.handle(
        s(62),
        Event::DeadlinePassed {
            clone: name(0, 1),
            warning: Some("FailedScheduling: 0/1 nodes are available".into()),
        },
    );
    assert_eq!(
        a,
        [
            Action::Delete { clone: name(0, 1) },
            Action::Create {
                index: 0,
                attempt: 2
            }
        ]
    );
    create_all(&mut sched, s(62), &a);
    let expired = sched.expired(s(200));
    let a = sched.handle(
        s(200),
        Event::DeadlinePassed {
            clone: expired[0].clone(),
            warning: None,
        },
    );
    match &a[1] {
        Action::Record(Outcome::NotScanned { failures, .. }) => {
            assert_eq!(
                failures[0].reason,
                "deadline of 60 s passed: stayed pending: not scheduled: Unschedulable: 0/1 \
                 nodes are available (FailedScheduling: 0/1 nodes are available)"
            );
            assert_eq!(
                failures[1].reason,
                "deadline of 60 s passed: stayed pending: no status yet"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_retrieving_clone_has_no_deadline_and_a_clone_deleted_by_others_is_retried() {
    let mut sched = Scheduler::new(limits(2, 1), 2);
    let a = sched.start(Duration::ZERO);
    create_all(&mut sched, Duration::ZERO, &a);
    sched.handle(
        s(5),
        Event::CloneUpdate {
            clone: name(0, 1),
            step: done(),
        },
    );
    assert_eq!(sched.expired(s(100)), [name(1, 1)]);
    // The other clone disappears (a person, the garbage collector): retried, not deleted again.
    let a = sched.handle(s(7), Event::CloneGone { clone: name(1, 1) });
    assert_eq!(
        a,
        [Action::Create {
            index: 1,
            attempt: 2
        }]
    );
    // A clone this audit deleted itself is not news.
    assert!(
        sched
            .handle(s(8), Event::CloneGone { clone: name(0, 1) })
            .is_empty()
    );
}

#[test]
fn an_interruption_deletes_every_clone_and_ends() {
    let mut sched = Scheduler::new(limits(3, 1), 5);
    let a = sched.start(Duration::ZERO);
    // Two clones created, one still being created, one being read back.
    let mut created = Vec::new();
    for (index, attempt) in creates(&a).into_iter().take(2) {
        created.extend(sched.handle(
            s(1),
            Event::Created {
                index,
                clone: name(index, attempt),
            },
        ));
    }
    sched.handle(
        s(2),
        Event::CloneUpdate {
            clone: name(0, 1),
            step: done(),
        },
    );
    let a = sched.handle(s(3), Event::Interrupted);
    assert_eq!(
        a,
        [
            Action::Delete { clone: name(1, 1) },
            Action::Done { interrupted: true }
        ]
    );
    assert!(sched.is_done());
    assert_eq!(sched.clones(), 0);
    // Whatever arrives later changes nothing.
    for event in [
        Event::Created {
            index: 2,
            clone: name(2, 1),
        },
        Event::Retrieved {
            clone: name(0, 1),
            result: Ok(()),
        },
        Event::Interrupted,
    ] {
        assert!(sched.handle(s(4), event).is_empty());
    }
}

fn target(name: &str) -> Target {
    Target {
        namespace: "shop".into(),
        kind: WorkloadKind::Deployment,
        workload: name.into(),
        workload_uid: None,
        container: "app".into(),
        image: "img:1".into(),
        template: PodTemplateSpec::default(),
        service_account_pull_secrets: vec![],
        running_digests: vec![],
    }
}

#[test]
fn a_resumed_audit_schedules_only_what_is_not_stored() {
    let targets: Vec<Target> = ["a", "b", "c", "d"].into_iter().map(target).collect();
    let stored = |t: &Target| ProgressRecord {
        audit_id: "audit-20261126-030000-abcdef".into(),
        target: TargetRecord::new(t.id(), Verdict::Passed),
        failed_controls: vec![],
        failed_controls_omitted: 0,
    };
    let plan = state::resume_plan(
        targets.clone(),
        vec![stored(&targets[1]), stored(&targets[2])],
    );
    let mut sched = Scheduler::new(limits(4, 1), plan.to_scan.len());
    let a = sched.start(Duration::ZERO);
    let scanned: Vec<String> = creates(&a)
        .into_iter()
        .map(|(i, _)| plan.to_scan[i].workload.clone())
        .collect();
    assert_eq!(scanned, ["a", "d"]);
    assert_eq!(plan.resumed.len(), 2);
}

#[test]
fn updates_of_unknown_clones_and_late_results_are_ignored() {
    let mut sched = Scheduler::new(limits(1, 1), 1);
    let a = sched.start(Duration::ZERO);
    create_all(&mut sched, Duration::ZERO, &a);
    for event in [
        Event::CloneUpdate {
            clone: "someone-else".into(),
            step: done(),
        },
        Event::Retrieved {
            clone: name(0, 1),
            result: Ok(()),
        },
        Event::DeadlinePassed {
            clone: "gone".into(),
            warning: None,
        },
        Event::CreateFailed {
            index: 0,
            failure: failure("late"),
        },
    ] {
        assert!(sched.handle(s(1), event).is_empty());
    }
    assert_eq!(sched.clones(), 1);
}

#[test]
fn the_deadline_reason_says_where_the_clone_was() {
    assert_eq!(
        deadline_reason(30, Some(&Step::Running), None),
        "deadline of 30 s passed: the scan did not finish"
    );
    assert_eq!(
        deadline_reason(30, Some(&Step::Failed("x".into())), Some("BackOff: y")),
        "deadline of 30 s passed: no progress (BackOff: y)"
    );
}
