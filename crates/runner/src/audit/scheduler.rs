//! The audit's scheduler, pure: it takes what happened (a clone was created, a watched version of
//! a clone, a retrieval ended, a deadline passed, a signal) and says what to do next (create a
//! target's clone, read a scan back, delete a clone, record a target, stop). The controller
//! (`audit/flights.rs`) only executes the actions and feeds the events; everything decided here is
//! tested without a cluster.
//!
//! Times are offsets from the audit's start ([`Duration`]), given with each event.
//!
//! - At most `concurrency` clones exist at a time (from [`Action::Create`] until the clone is
//!   deleted). A clone is deleted as soon as its scanner ended, so reading its results back never
//!   holds one; clones and retrievals together stay under twice `concurrency` (a slow store slows
//!   the audit down instead of piling up finished scans).
//! - A target's clock starts when its first clone is created; each clone has `deadline` from its
//!   creation to its scanner's end.
//! - An attempt that failed for an infrastructure reason is retried (at the back of the queue)
//!   while [`state::retry`] allows; otherwise the target is recorded as not scanned with every
//!   attempt's reason.

use crate::audit::scan::Step;
use crate::audit::state::{self, AttemptFailure};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The clone of target `index` was created under `clone` (its name).
    Created { index: usize, clone: String },
    /// The clone of target `index` could not be created (presigning, building, the API).
    CreateFailed {
        index: usize,
        failure: AttemptFailure,
    },
    /// A watched version of a clone, as [`crate::audit::scan::step`] reads it.
    CloneUpdate { clone: String, step: Step },
    /// The clone is gone from the cluster (deleted by anyone).
    CloneGone { clone: String },
    /// Reading a clone's results back ended.
    Retrieved {
        clone: String,
        result: Result<(), AttemptFailure>,
    },
    /// A clone's deadline passed ([`Scheduler::expired`]); `warning` is the newest warning among
    /// its events, if any.
    DeadlinePassed {
        clone: String,
        warning: Option<String>,
    },
    /// SIGTERM or SIGINT.
    Interrupted,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create a clone of target `index` (its `attempt`-th, from 1).
    Create { index: usize, attempt: u32 },
    /// Read the scan of `clone` back from the store (its scanner ended with `exit_code` and
    /// `message`).
    Retrieve {
        clone: String,
        exit_code: i32,
        message: Option<String>,
    },
    /// Delete `clone`.
    Delete { clone: String },
    /// A target is finished.
    Record(Outcome),
    /// Nothing more will happen: every target is recorded, or the audit was interrupted.
    Done { interrupted: bool },
}

/// How a target finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its results were read back from `clone`'s run.
    Scanned {
        index: usize,
        clone: String,
        attempt: u32,
        elapsed: Duration,
    },
    /// No attempt produced stored results: each attempt's failure, in order.
    NotScanned {
        index: usize,
        failures: Vec<AttemptFailure>,
        elapsed: Duration,
    },
}

/// The scheduler's settings (from the audit spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub concurrency: usize,
    /// Retries of a target after an infrastructure failure.
    pub retries: u32,
    /// From a clone's creation to its scanner's end.
    pub deadline: Duration,
}

#[derive(Debug, Clone, Default)]
struct TargetState {
    attempts: u32,
    failures: Vec<AttemptFailure>,
    started: Option<Duration>,
}

/// A clone that exists (or is being created).
#[derive(Debug, Clone)]
struct Flight {
    index: usize,
    attempt: u32,
    deadline: Duration,
    last: Option<Step>,
    /// A deadline action was handed out: waiting for [`Event::DeadlinePassed`].
    expiring: bool,
}

/// Where every target is.
#[derive(Debug, Clone)]
pub struct Scheduler {
    limits: Limits,
    targets: Vec<TargetState>,
    queue: VecDeque<usize>,
    /// Targets whose clone is being created (a slot each).
    creating: Vec<usize>,
    /// Clones by name.
    flights: BTreeMap<String, Flight>,
    /// Clones whose scanner ended, being read back (the clone is already deleted).
    retrieving: BTreeMap<String, Flight>,
    finished: usize,
    done: bool,
}

impl Scheduler {
    /// A scheduler for `targets` targets (indices `0..targets`, scanned in that order).
    pub fn new(limits: Limits, targets: usize) -> Scheduler {
        Scheduler {
            limits: Limits {
                concurrency: limits.concurrency.max(1),
                ..limits
            },
            targets: vec![TargetState::default(); targets],
            queue: (0..targets).collect(),
            creating: Vec::new(),
            flights: BTreeMap::new(),
            retrieving: BTreeMap::new(),
            finished: 0,
            done: false,
        }
    }

    /// The first actions: as many creates as there is room for (or `Done` at once when there is
    /// nothing to scan).
    pub fn start(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        self.launch(now, &mut actions);
        actions
    }

    /// Clones that exist or are being created.
    pub fn clones(&self) -> usize {
        self.creating.len() + self.flights.len()
    }

    /// Retrievals under way.
    pub fn retrievals(&self) -> usize {
        self.retrieving.len()
    }

    /// Targets recorded so far.
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// True once [`Action::Done`] was handed out.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The earliest deadline of a clone still waiting for its scanner.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.flights
            .values()
            .filter(|f| !f.expiring)
            .map(|f| f.deadline)
            .min()
    }

    /// Clones whose deadline passed at `now`: the controller looks up their newest warning and
    /// feeds [`Event::DeadlinePassed`] for each. Each is named once.
    pub fn expired(&mut self, now: Duration) -> Vec<String> {
        let mut out = Vec::new();
        for (name, flight) in self.flights.iter_mut() {
            if !flight.expiring && flight.deadline <= now {
                flight.expiring = true;
                out.push(name.clone());
            }
        }
        out
    }

    /// Feeds one event; returns what to do, in order.
    pub fn handle(&mut self, now: Duration, event: Event) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.done {
            return actions;
        }
        match event {
            Event::Created { index, clone } => self.created(now, index, clone),
            Event::CreateFailed { index, failure } => {
                if let Some(pos) = self.creating.iter().position(|i| *i == index) {
                    self.creating.swap_remove(pos);
                    self.attempt_failed(now, index, failure, &mut actions);
                }
            }
            Event::CloneUpdate { clone, step } => self.update(now, clone, step, &mut actions),
            Event::CloneGone { clone } => {
                if self.flights.contains_key(&clone) {
                    let failure = AttemptFailure {
                        reason: "the clone was deleted before its scanner ended (not by this \
                                 audit)"
                            .into(),
                        retryable: true,
                    };
                    self.clone_failed(now, &clone, failure, false, &mut actions);
                }
            }
            Event::Retrieved { clone, result } => {
                if let Some(flight) = self.retrieving.remove(&clone) {
                    match result {
                        Ok(()) => {
                            let elapsed = self.elapsed(flight.index, now);
                            self.record(
                                Outcome::Scanned {
                                    index: flight.index,
                                    clone,
                                    attempt: flight.attempt,
                                    elapsed,
                                },
                                &mut actions,
                            );
                        }
                        Err(failure) => {
                            self.attempt_failed(now, flight.index, failure, &mut actions)
                        }
                    }
                }
            }
            Event::DeadlinePassed { clone, warning } => {
                if let Some(flight) = self.flights.get(&clone) {
                    let failure = AttemptFailure {
                        reason: deadline_reason(
                            self.limits.deadline.as_secs(),
                            flight.last.as_ref(),
                            warning.as_deref(),
                        ),
                        retryable: true,
                    };
                    self.clone_failed(now, &clone, failure, true, &mut actions);
                }
            }
            Event::Interrupted => {
                for clone in std::mem::take(&mut self.flights).into_keys() {
                    actions.push(Action::Delete { clone });
                }
                self.retrieving.clear();
                self.creating.clear();
                self.queue.clear();
                self.done = true;
                actions.push(Action::Done { interrupted: true });
                return actions;
            }
        }
        self.launch(now, &mut actions);
        actions
    }

    fn created(&mut self, now: Duration, index: usize, clone: String) {
        let Some(pos) = self.creating.iter().position(|i| *i == index) else {
            return;
        };
        self.creating.swap_remove(pos);
        let attempt = self.targets[index].attempts;
        self.flights.insert(
            clone,
            Flight {
                index,
                attempt,
                deadline: now + self.limits.deadline,
                last: None,
                expiring: false,
            },
        );
    }

    fn update(&mut self, now: Duration, clone: String, step: Step, actions: &mut Vec<Action>) {
        let Some(flight) = self.flights.get_mut(&clone) else {
            return;
        };
        match step {
            Step::ScannerDone { exit_code, message } => {
                let flight = self
                    .flights
                    .remove(&clone)
                    .unwrap_or_else(|| unreachable!());
                actions.push(Action::Delete {
                    clone: clone.clone(),
                });
                actions.push(Action::Retrieve {
                    clone: clone.clone(),
                    exit_code,
                    message,
                });
                self.retrieving.insert(clone, flight);
            }
            Step::Failed(reason) => {
                let failure = AttemptFailure {
                    reason,
                    retryable: true,
                };
                self.clone_failed(now, &clone, failure, true, actions);
            }
            waiting_or_running => flight.last = Some(waiting_or_running),
        }
    }

    /// An attempt whose clone exists (`delete`) or is gone ended without results.
    fn clone_failed(
        &mut self,
        now: Duration,
        clone: &str,
        failure: AttemptFailure,
        delete: bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(flight) = self.flights.remove(clone) else {
            return;
        };
        if delete {
            actions.push(Action::Delete {
                clone: clone.to_string(),
            });
        }
        self.attempt_failed(now, flight.index, failure, actions);
    }

    fn attempt_failed(
        &mut self,
        now: Duration,
        index: usize,
        failure: AttemptFailure,
        actions: &mut Vec<Action>,
    ) {
        let t = &mut self.targets[index];
        let again = state::retry(&failure, t.attempts, self.limits.retries);
        t.failures.push(failure);
        if again {
            // At the back: the others go first, giving a store or node time to recover.
            self.queue.push_back(index);
            return;
        }
        let failures = t.failures.clone();
        let elapsed = self.elapsed(index, now);
        self.record(
            Outcome::NotScanned {
                index,
                failures,
                elapsed,
            },
            actions,
        );
    }

    fn elapsed(&self, index: usize, now: Duration) -> Duration {
        self.targets[index]
            .started
            .map(|s| now.saturating_sub(s))
            .unwrap_or_default()
    }

    fn record(&mut self, outcome: Outcome, actions: &mut Vec<Action>) {
        self.finished += 1;
        actions.push(Action::Record(outcome));
    }

    /// Creates clones while there is room; `Done` when nothing is left.
    fn launch(&mut self, now: Duration, actions: &mut Vec<Action>) {
        let c = self.limits.concurrency;
        while self.clones() < c && self.clones() + self.retrieving.len() < 2 * c {
            let Some(index) = self.queue.pop_front() else {
                break;
            };
            let t = &mut self.targets[index];
            t.attempts += 1;
            t.started.get_or_insert(now);
            self.creating.push(index);
            actions.push(Action::Create {
                index,
                attempt: t.attempts,
            });
        }
        if self.queue.is_empty()
            && self.creating.is_empty()
            && self.flights.is_empty()
            && self.retrieving.is_empty()
        {
            self.done = true;
            actions.push(Action::Done { interrupted: false });
        }
    }
}

/// Why a clone missed its deadline: where it was when last seen, and the newest warning among
/// its events.
pub fn deadline_reason(seconds: u64, last: Option<&Step>, warning: Option<&str>) -> String {
    let waiting = match last {
        Some(Step::Waiting(reason)) => format!("stayed pending: {reason}"),
        Some(Step::Running) => "the scan did not finish".to_string(),
        Some(_) => "no progress".to_string(),
        None => "stayed pending: no status yet".to_string(),
    };
    let mut reason = format!("deadline of {seconds} s passed: {waiting}");
    if let Some(w) = warning {
        reason.push_str(&format!(" ({w})"));
    }
    reason
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
