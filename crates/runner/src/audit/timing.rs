//! Where a clone's time goes, pure: the moments the controller first saw each step of a clone
//! (created, scheduled, `hold` installed, both containers running, the scanner ended, read back,
//! deleted, gone), plus the scanner container's own run time from the kubelet's timestamps.
//! The controller logs one line per clone and the medians at the end
//! (`scripts/bench-audit` reads them).

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use std::time::Duration;

/// The steps of one clone, as offsets from its creation (first seen by the controller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloneTimes {
    /// When the create call returned, from the audit's start.
    pub created_at: Duration,
    pub scheduled: Option<Duration>,
    /// The init container that installs `hold` ended.
    pub hold_installed: Option<Duration>,
    /// Target and scanner both running.
    pub running: Option<Duration>,
    pub scanner_done: Option<Duration>,
    pub retrieved: Option<Duration>,
    pub deleted: Option<Duration>,
    pub gone: Option<Duration>,
    /// The scanner container's run, from the kubelet's start and finish times (whole seconds).
    pub scanner_run: Option<Duration>,
}

fn status<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    let s = pod.status.as_ref()?;
    s.container_statuses
        .iter()
        .flatten()
        .chain(s.init_container_statuses.iter().flatten())
        .find(|c| c.name == name)
}

fn first(slot: &mut Option<Duration>, seen: bool, at: Duration) {
    if seen && slot.is_none() {
        *slot = Some(at);
    }
}

impl CloneTimes {
    pub fn new(created_at: Duration) -> CloneTimes {
        CloneTimes {
            created_at,
            ..CloneTimes::default()
        }
    }

    /// Notes what a watched version of the clone shows at `now` (from the audit's start).
    pub fn observe(
        &mut self,
        pod: &Pod,
        scanner: &str,
        target: &str,
        installer: Option<&str>,
        now: Duration,
    ) {
        let at = now.saturating_sub(self.created_at);
        let scheduled = pod.spec.as_ref().is_some_and(|s| s.node_name.is_some());
        first(&mut self.scheduled, scheduled, at);
        let terminated = |name: &str| {
            status(pod, name)
                .and_then(|c| c.state.as_ref())
                .and_then(|s| s.terminated.as_ref())
        };
        if let Some(installer) = installer {
            first(
                &mut self.hold_installed,
                terminated(installer).is_some(),
                at,
            );
        }
        let running = |name: &str| {
            status(pod, name)
                .and_then(|c| c.state.as_ref())
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
        };
        first(&mut self.running, running(target) && running(scanner), at);
        if let Some(t) = terminated(scanner) {
            first(&mut self.scanner_done, true, at);
            if self.scanner_run.is_none()
                && let (Some(start), Some(end)) = (&t.started_at, &t.finished_at)
            {
                self.scanner_run = Some(Duration::from_secs(
                    (end.0.as_second() - start.0.as_second()).max(0) as u64,
                ));
            }
        }
    }

    /// Notes a step the controller took (`retrieved`, `deleted`) or saw (`gone`) at `now`.
    pub fn mark(slot: &mut Option<Duration>, created_at: Duration, now: Duration) {
        first(slot, true, now.saturating_sub(created_at));
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| d.as_millis().to_string())
        .unwrap_or_else(|| "-".into())
}

impl std::fmt::Display for CloneTimes {
    /// `scheduled 120 hold 1400 running 2100 scanner-done 4800 retrieved 4900 deleted 4810 gone
    /// 9000 scan 2000` (milliseconds from creation; `-` not seen).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "scheduled {} hold {} running {} scanner-done {} retrieved {} deleted {} gone {} \
             scan {}",
            ms(self.scheduled),
            ms(self.hold_installed),
            ms(self.running),
            ms(self.scanner_done),
            ms(self.retrieved),
            ms(self.deleted),
            ms(self.gone),
            ms(self.scanner_run)
        )
    }
}

/// The median of each step over `all` clones (steps never seen are left out of their median).
pub fn medians(all: &[CloneTimes]) -> CloneTimes {
    fn median(mut values: Vec<Duration>) -> Option<Duration> {
        values.sort();
        values.get(values.len() / 2).copied()
    }
    let of = |f: fn(&CloneTimes) -> Option<Duration>| median(all.iter().filter_map(f).collect());
    CloneTimes {
        created_at: Duration::ZERO,
        scheduled: of(|t| t.scheduled),
        hold_installed: of(|t| t.hold_installed),
        running: of(|t| t.running),
        scanner_done: of(|t| t.scanner_done),
        retrieved: of(|t| t.retrieved),
        deleted: of(|t| t.deleted),
        gone: of(|t| t.gone),
        scanner_run: of(|t| t.scanner_run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn st(name: &str, state: serde_json::Value) -> serde_json::Value {
        json!({"name": name, "image": "i", "imageID": "", "ready": false, "restartCount": 0, "state": state})
    }

    #[test]
    fn each_step_is_noted_when_first_seen() {
        let mut t = CloneTimes::new(Duration::from_secs(10));
        let ms = Duration::from_millis;
        t.observe(
            &pod(json!({"metadata": {}, "spec": {"containers": [], "nodeName": "n"}})),
            "s",
            "app",
            Some("h"),
            ms(10_100),
        );
        let running = json!({"running": {}});
        t.observe(
            &pod(json!({"metadata": {}, "spec": {"containers": [], "nodeName": "n"},
                "status": {"initContainerStatuses": [st("h", json!({"terminated": {"exitCode": 0}}))],
                           "containerStatuses": [st("app", running.clone()), st("s", running.clone())]}})),
            "s",
            "app",
            Some("h"),
            ms(11_500),
        );
        t.observe(
            &pod(json!({"metadata": {}, "spec": {"containers": [], "nodeName": "n"},
                "status": {"containerStatuses": [st("app", running.clone()),
                    st("s", json!({"terminated": {"exitCode": 0,
                        "startedAt": "2026-11-26T03:00:01Z", "finishedAt": "2026-11-26T03:00:03Z"}}))]}})),
            "s",
            "app",
            Some("h"),
            ms(13_000),
        );
        CloneTimes::mark(&mut t.deleted, t.created_at, ms(13_010));
        CloneTimes::mark(&mut t.deleted, t.created_at, ms(14_000));
        assert_eq!(t.scheduled, Some(ms(100)));
        assert_eq!(t.hold_installed, Some(ms(1500)));
        assert_eq!(t.running, Some(ms(1500)));
        assert_eq!(t.scanner_done, Some(ms(3000)));
        assert_eq!(t.deleted, Some(ms(3010)), "the first time counts");
        assert_eq!(t.scanner_run, Some(Duration::from_secs(2)));
        assert_eq!(
            t.to_string(),
            "scheduled 100 hold 1500 running 1500 scanner-done 3000 retrieved - deleted 3010 \
             gone - scan 2000"
        );
        let m = medians(&[t.clone(), t.clone(), CloneTimes::new(Duration::ZERO)]);
        assert_eq!(m.scanner_done, Some(ms(3000)));
        assert_eq!(m.gone, None);
    }
}
