//! `report.html`: one self-contained page (no network, no external scripts, styles or fonts; a
//! Content-Security-Policy forbids loading anything) that a person opens from the bucket.
//!
//! The fleet at a glance (targets by verdict, failed controls by severity, compliance per target
//! as bars), then one row per target, sortable and filterable by namespace, verdict and text, each
//! with its failed controls and their messages, or the reason it was not scanned. Rows are
//! rendered on the server side, so the page reads the same without script; the script only sorts
//! and filters. [`fleet`] renders an audit; [`single`] renders one result as the same page.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use sidescan_core::audit::record::{
    AuditRecord, AuditSettings, FailedControl, TargetRecord, Totals, Verdict, bounded,
};
use sidescan_core::history::{Comparison, Gate, TrendPoint};

use crate::audit::scan_outcome;
use crate::hdf::Hdf;
use crate::summary::Summary;
use crate::validate::Validation;

/// Failed controls shown per target, and messages per control (the rest are in the results).
const SHOWN_CONTROLS: usize = 50;
const SHOWN_MESSAGES: usize = 3;
const SHOWN_MESSAGE_CHARS: usize = 400;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--mut:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328}
header{padding:16px 24px;background:var(--bg);border-bottom:1px solid var(--line)}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 8px}.meta{color:var(--mut);font-size:13px}
main{padding:8px 24px 32px}.tiles{display:flex;flex-wrap:wrap;gap:12px}
.tile{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:120px}
.tile b{display:block;font-size:22px}.ok b{color:var(--ok)}.bad b{color:var(--bad)}.warn b{color:var(--warn)}
.glance{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:16px}
.hbar{display:grid;grid-template-columns:90px 1fr 48px;align-items:center;gap:8px;margin:3px 0}
.track{background:var(--bg);border:1px solid var(--line);height:14px;border-radius:3px;overflow:hidden}
.fill{display:block;height:100%;background:#8c959f}.sev-critical .fill{background:#82071e}.sev-high .fill{background:var(--bad)}
.sev-medium .fill{background:#bc4c00}.sev-low .fill{background:#bf8700}.c-hi .fill{background:var(--ok)}.c-mid .fill{background:#bf8700}.c-lo .fill{background:var(--bad)}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:12px 0}
select,input{font:inherit;padding:3px 6px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th[data-key]{cursor:pointer;user-select:none;white-space:nowrap}th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.num{text-align:right}.cbar{display:flex;align-items:center;gap:6px;min-width:140px}.cbar .track{flex:1}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff}
.v-passed{background:var(--ok)}.v-failed{background:var(--bad)}.v-not-scanned{background:var(--warn)}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
tr.more td{border-bottom:2px solid var(--line);padding-top:0}details summary{cursor:pointer;color:var(--mut)}
.control{margin:6px 0 10px}.control .id{font-weight:600}.msg{white-space:pre-wrap;margin:2px 0 2px 16px;color:#424a53}
.reason{color:var(--warn)}
.trend{display:block;overflow:visible}.trend polyline{fill:none;stroke:#57606a;stroke-width:1.5}
.trend circle{fill:#0969da}.trend circle.na{fill:#fff;stroke:var(--warn);stroke-width:1.5}
.d-new{color:var(--bad);font-weight:600}.d-fixed{color:var(--ok);font-weight:600}
.delta li{margin:2px 0}
"#;

const SCRIPT: &str = r#"
(function(){
var table=document.getElementById('targets'),bodies=Array.prototype.slice.call(table.tBodies);
var ns=document.getElementById('f-namespace'),vd=document.getElementById('f-verdict'),q=document.getElementById('f-text');
var heads=Array.prototype.slice.call(table.tHead.rows[0].cells),state={sort:'',dir:''};
function apply(){var shown=0,text=q.value.toLowerCase();bodies.forEach(function(b){
var ok=(!ns.value||b.dataset.namespace===ns.value)&&(!vd.value||b.dataset.verdict===vd.value)&&(!text||b.dataset.search.indexOf(text)>=0);
b.hidden=!ok;if(ok)shown++;});document.getElementById('shown').textContent=String(shown);}
function sortBy(th,asc){var k=th.dataset.key,num=th.dataset.type==='num',s=asc?1:-1;
bodies.sort(function(a,b){var x=a.dataset[k],y=b.dataset[k];if(num){x=parseFloat(x);y=parseFloat(y);
if(isNaN(x))x=-1;if(isNaN(y))y=-1;return(x-y)*s;}return x<y?-s:x>y?s:0;});
bodies.forEach(function(b){table.appendChild(b);});
heads.forEach(function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');state.sort=k;state.dir=asc?'asc':'desc';}
function save(){var p=[];if(ns.value)p.push('namespace='+encodeURIComponent(ns.value));
if(vd.value)p.push('verdict='+encodeURIComponent(vd.value));if(q.value)p.push('q='+encodeURIComponent(q.value));
if(state.sort)p.push('sort='+state.sort+'&dir='+state.dir);
if(history.replaceState)history.replaceState(null,'',p.length?'#'+p.join('&'):location.pathname);}
function change(){apply();save();}
ns.addEventListener('change',change);vd.addEventListener('change',change);q.addEventListener('input',change);
heads.forEach(function(th){if(!th.dataset.key)return;th.tabIndex=0;
function click(){sortBy(th,!(state.sort===th.dataset.key&&state.dir==='asc'));save();}
th.addEventListener('click',click);th.addEventListener('keydown',function(e){if(e.key==='Enter')click();});});
// Filters and order from the address (#namespace=shop&verdict=failed&sort=compliance&dir=asc), so
// a view can be shared as a link.
var want={};location.hash.slice(1).split('&').forEach(function(p){var i=p.indexOf('=');
if(i>0)want[decodeURIComponent(p.slice(0,i))]=decodeURIComponent(p.slice(i+1));});
if(want.namespace)ns.value=want.namespace;if(want.verdict)vd.value=want.verdict;if(want.q)q.value=want.q;
heads.forEach(function(th){if(want.sort&&th.dataset.key===want.sort)sortBy(th,want.dir!=='desc');});
apply();document.documentElement.setAttribute('data-ready','1');
})();
"#;

/// Records script errors in the page itself, so a headless browser's DOM dump shows them.
const ERROR_HOOK: &str = "window.addEventListener('error',function(e){var d=document.documentElement;\
d.setAttribute('data-errors',(d.getAttribute('data-errors')||'')+e.message+'\\n');});";

fn percent_bar(class: &str, label: &str, value: u64, max: u64, shown: &str) -> String {
    let width = (value * 100).checked_div(max).unwrap_or(0);
    format!(
        "<div class=\"hbar {class}\"><span>{}</span><span class=\"track\"><span class=\"fill\" style=\"width:{width}%\"></span></span><span>{}</span></div>",
        esc(label),
        esc(shown)
    )
}

fn compliance_class(c: u64) -> &'static str {
    if c >= 90 {
        "c-hi"
    } else if c >= 60 {
        "c-mid"
    } else {
        "c-lo"
    }
}

fn verdict_badge(v: Verdict) -> String {
    format!("<span class=\"badge v-{0}\">{0}</span>", v.as_str())
}

fn glance(audit: &AuditRecord) -> String {
    let t = &audit.totals;
    let mut out = String::from("<section class=\"glance\"><div><h2>Targets</h2>");
    for (class, label, n) in [
        ("c-hi", "passed", t.passed),
        ("c-lo", "failed", t.failed),
        ("c-mid", "not scanned", t.not_scanned),
    ] {
        out.push_str(&percent_bar(
            class,
            label,
            n,
            t.targets.max(1),
            &n.to_string(),
        ));
    }
    let mut sev = [0u64; 4];
    for r in &audit.targets {
        if let Some(s) = r.failed_by_severity {
            for (i, n) in [s.critical, s.high, s.medium, s.low]
                .into_iter()
                .enumerate()
            {
                sev[i] += n;
            }
        }
    }
    let max = sev.iter().copied().max().unwrap_or(0).max(1);
    out.push_str("</div><div><h2>Failed controls by severity</h2>");
    for (i, name) in ["critical", "high", "medium", "low"].iter().enumerate() {
        out.push_str(&percent_bar(
            &format!("sev-{name}"),
            name,
            sev[i],
            max,
            &sev[i].to_string(),
        ));
    }
    let mut buckets = [0u64; 4];
    for c in audit.targets.iter().filter_map(|r| r.compliance) {
        buckets[match c {
            100 => 0,
            90..=99 => 1,
            60..=89 => 2,
            _ => 3,
        }] += 1;
    }
    let max = buckets.iter().copied().max().unwrap_or(0).max(1);
    out.push_str("</div><div><h2>Compliance of scanned targets</h2>");
    for (i, (label, class)) in [
        ("100%", "c-hi"),
        ("90-99%", "c-hi"),
        ("60-89%", "c-mid"),
        ("below 60%", "c-lo"),
    ]
    .iter()
    .enumerate()
    {
        out.push_str(&percent_bar(
            class,
            label,
            buckets[i],
            max,
            &buckets[i].to_string(),
        ));
    }
    out.push_str("</div></section>");
    out
}

/// What the targets were compared with, the gate, the trend's audits and the webhook.
fn history_line(h: &sidescan_core::history::AuditHistory) -> String {
    let mut parts = vec![
        format!("compared with: {}", h.baseline),
        format!(
            "gate: {}",
            match h.gate {
                Gate::Thresholds => "thresholds",
                Gate::NewFailures => "new failures only",
            }
        ),
        format!(
            "trend: {} of the last {} audits",
            h.trend_audits.len() + 1,
            h.trend_length
        ),
    ];
    if let Some(n) = &h.notification {
        parts.push(if n.delivered {
            format!("webhook {}: delivered", n.host)
        } else {
            format!(
                "webhook {}: not delivered ({})",
                n.host,
                n.error.as_deref().unwrap_or("no answer")
            )
        });
    }
    let mut out = format!("<p class=\"meta\">{}</p>", esc(&parts.join(" · ")));
    for w in &h.warnings {
        let _ = write!(out, "<p class=\"reason\">Warning: {}</p>", esc(w));
    }
    out
}

fn settings_line(s: &AuditSettings) -> String {
    let namespaces = if s.namespaces.is_empty() {
        "all namespaces".to_string()
    } else {
        s.namespaces.join(", ")
    };
    let audit = !s.kinds.is_empty();
    let mut parts = Vec::new();
    if audit {
        parts.push(format!("namespaces: {namespaces}"));
        parts.push(format!("kinds: {}", s.kinds.join(", ")));
    }
    if !s.label_selector.is_empty() {
        parts.push(format!("selector: {}", s.label_selector));
    }
    if audit {
        parts.push(format!("scanner: {} ({})", s.scanner_image, s.backend));
    }
    if let Some(p) = &s.profile {
        parts.push(format!("profile: {p}"));
    }
    parts.push(match &s.thresholds {
        Some(t) => format!("thresholds: {t}"),
        None => "no thresholds: every scanned target passes".into(),
    });
    if audit {
        parts.push(format!("target runs: {}", s.run));
        parts.push(format!("clones: {}", s.placement));
        parts.push(format!("concurrency: {}", s.concurrency));
    }
    esc(&parts.join(" · "))
}

/// Whether the page shows the changes since the last results and the trends.
fn historic(audit: &AuditRecord) -> bool {
    audit.history.is_some()
        || audit
            .targets
            .iter()
            .any(|t| t.baseline.is_some() || !t.trend.is_empty())
}

/// A target's compliance in the last audits, drawn in the page (no script, nothing loaded): one
/// circle per audit (hollow at the bottom when the target was not scanned then), joined by a
/// line; each circle's title names the audit and the value.
pub fn trend_svg(points: &[TrendPoint]) -> String {
    if points.is_empty() {
        return "–".into();
    }
    const W: f64 = 120.0;
    const H: f64 = 30.0;
    const PAD: f64 = 4.0;
    let n = points.len();
    let x = |i: usize| {
        if n == 1 {
            W / 2.0
        } else {
            PAD + i as f64 * (W - 2.0 * PAD) / (n - 1) as f64
        }
    };
    let y = |c: u64| PAD + (100 - c.min(100)) as f64 * (H - 2.0 * PAD) / 100.0;
    let label: Vec<String> = points
        .iter()
        .map(|p| match p.compliance {
            Some(c) => format!("{c}%"),
            None => "not scanned".into(),
        })
        .collect();
    let mut out = format!(
        "<svg class=\"trend\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" data-points=\"{n}\" aria-label=\"compliance in the last {n} audit{}: {}\">",
        if n == 1 { "" } else { "s" },
        esc(&label.join(", "))
    );
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.compliance.map(|c| format!("{:.1},{:.1}", x(i), y(c))))
        .collect();
    if line.len() > 1 {
        let _ = write!(out, "<polyline points=\"{}\"/>", line.join(" "));
    }
    for (i, p) in points.iter().enumerate() {
        let (cy, class) = match p.compliance {
            Some(c) => (y(c), ""),
            None => (H - PAD, " class=\"na\""),
        };
        let _ = write!(
            out,
            "<circle{class} cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"3\"><title>{} ({}): {}</title></circle>",
            x(i),
            esc(&p.audit_id),
            esc(&p.started),
            esc(&label[i])
        );
    }
    out.push_str("</svg>");
    out
}

/// The details of a target's comparison: the baseline, the new failures with their findings,
/// the fixed, new and removed controls.
fn delta_details(c: &Comparison) -> String {
    let d = &c.delta;
    let mut out = String::from("<div class=\"delta\">");
    match &c.key {
        Some(key) => {
            let _ = write!(
                out,
                "<p>Since <code>{}</code>: <span class=\"{}\">{} new failure{}</span>, {} newly failed, <span class=\"{}\">{} fixed</span>, {} new, {} removed controls.</p>",
                esc(key),
                if d.counts.new_failures > 0 {
                    "d-new"
                } else {
                    ""
                },
                d.counts.new_failures,
                if d.counts.new_failures == 1 { "" } else { "s" },
                d.counts.newly_failed,
                if d.counts.fixed > 0 { "d-fixed" } else { "" },
                d.counts.fixed,
                d.counts.new,
                d.counts.removed
            );
        }
        None => {
            let _ = write!(
                out,
                "<p>No earlier result ({}): <span class=\"d-new\">{} new failure{}</span>.</p>",
                esc(c.note.as_deref().unwrap_or("every failure counts as new")),
                d.counts.new_failures,
                if d.counts.new_failures == 1 { "" } else { "s" }
            );
        }
    }
    if !d.new_failures.is_empty() {
        out.push_str("<ul>");
        for f in d.new_failures.iter().take(SHOWN_CONTROLS) {
            let _ = write!(
                out,
                "<li><span class=\"badge v-failed\">{}</span> <span class=\"id\">{}</span> {}",
                esc(&f.severity),
                esc(&f.control),
                esc(f.title.as_deref().unwrap_or(""))
            );
            if !f.findings.is_empty() {
                let shown: Vec<String> = f
                    .findings
                    .iter()
                    .take(SHOWN_MESSAGES * 3)
                    .map(|x| esc(&bounded(x, SHOWN_MESSAGE_CHARS)))
                    .collect();
                let _ = write!(out, ": <code>{}</code>", shown.join("</code>, <code>"));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul>");
    }
    if c.key.is_some() && !d.fixed.is_empty() {
        let _ = write!(
            out,
            "<p class=\"d-fixed\">Fixed: {}</p>",
            esc(&d.fixed.join(", "))
        );
    }
    out.push_str("</div>");
    out
}

/// One target's `<tbody>`: the summary row, then the details row.
fn target_rows(
    out: &mut String,
    r: &TargetRecord,
    failed: Option<&[FailedControl]>,
    omitted: usize,
    open: bool,
    historic: bool,
) {
    let columns = summary_row(out, r, historic);
    let details = target_details(r, failed, omitted, open);
    let _ = write!(
        out,
        "<tr class=\"more\"><td colspan=\"{columns}\">{details}</td></tr></tbody>"
    );
}

/// Opens the target's `<tbody>` (its data attributes are what the script sorts and filters on)
/// and writes its summary row; returns the row's number of columns.
fn summary_row(out: &mut String, r: &TargetRecord, historic: bool) -> usize {
    let sev = r.failed_by_severity.unwrap_or_default();
    let search = format!(
        "{} {} {} {} {} {}",
        r.namespace,
        r.kind,
        r.workload,
        r.container,
        r.image,
        r.reason.as_deref().unwrap_or("")
    )
    .to_lowercase();
    let compliance = r.compliance.map(|c| c.to_string()).unwrap_or_default();
    let (new_failures, fixed) = r
        .baseline
        .as_ref()
        .map(|c| {
            (
                c.delta.counts.new_failures.to_string(),
                c.delta.counts.fixed.to_string(),
            )
        })
        .unwrap_or_default();
    let _ = write!(
        out,
        "<tbody class=\"target\" data-id=\"{}\" data-namespace=\"{}\" data-verdict=\"{}\" data-kind=\"{}\" data-workload=\"{}\" data-container=\"{}\" data-image=\"{}\" data-compliance=\"{}\" data-critical=\"{}\" data-high=\"{}\" data-medium=\"{}\" data-low=\"{}\" data-duration=\"{}\" data-new=\"{}\" data-fixed=\"{}\" data-search=\"{}\"><tr>",
        esc(&r.id),
        esc(&r.namespace),
        r.verdict.as_str(),
        esc(&r.kind),
        esc(&r.workload),
        esc(&r.container),
        esc(&r.image),
        compliance,
        sev.critical,
        sev.high,
        sev.medium,
        sev.low,
        r.duration_ms,
        new_failures,
        fixed,
        esc(&search)
    );
    let bar = match r.compliance {
        Some(c) => format!(
            "<div class=\"cbar {}\"><span class=\"track\"><span class=\"fill\" style=\"width:{c}%\"></span></span><span>{c}%</span></div>",
            compliance_class(c)
        ),
        None => "–".into(),
    };
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td><td>{}<br><span class=\"meta\">{}</span></td><td>{}</td><td><code>{}</code></td><td>{bar}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1} s</td>",
        verdict_badge(r.verdict),
        esc(&r.namespace),
        esc(&r.workload),
        esc(&r.kind),
        esc(&r.container),
        esc(&r.image),
        sev.critical,
        sev.high,
        sev.medium,
        sev.low,
        r.duration_ms as f64 / 1000.0
    );
    let columns = if historic {
        let _ = write!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>",
            delta_count(&new_failures, "d-new"),
            delta_count(&fixed, "d-fixed"),
            trend_svg(&r.trend)
        );
        14
    } else {
        11
    };
    out.push_str("</tr>");
    columns
}

/// A new-failures or fixed cell: a dash without a comparison, a highlighted count above zero.
fn delta_count(n: &str, class: &str) -> String {
    match n {
        "" => "–".to_string(),
        "0" => "0".to_string(),
        n => format!("<span class=\"{class}\">{n}</span>"),
    }
}

/// The details row's content: the changes, why not scanned, the violated thresholds, the
/// failed controls, the volumes not scanned and the target's facts.
fn target_details(
    r: &TargetRecord,
    failed: Option<&[FailedControl]>,
    omitted: usize,
    open: bool,
) -> String {
    let mut details = String::new();
    if let Some(c) = &r.baseline {
        details.push_str(&delta_details(c));
    }
    if let Some(reason) = &r.reason {
        let _ = write!(
            details,
            "<p class=\"reason\">Not scanned: {}</p>",
            esc(reason)
        );
    }
    for v in &r.violations {
        let _ = write!(details, "<p>Threshold not met: {}</p>", esc(v));
    }
    if let Some(failed) = failed.filter(|f| !f.is_empty()) {
        details.push_str(&failed_controls(failed, omitted, open));
    }
    if !r.volumes_not_scanned.is_empty() {
        let list: Vec<String> = r
            .volumes_not_scanned
            .iter()
            .map(|v| format!("{} ({}): {}", v.name, v.kind, v.reason))
            .collect();
        let _ = write!(
            details,
            "<p class=\"meta\">Volumes not scanned: {}</p>",
            esc(&list.join("; "))
        );
    }
    let _ = write!(
        details,
        "<p class=\"meta\"><code>{}</code></p>",
        esc(&target_facts(r).join(" · "))
    );
    details
}

/// The failed controls, the first [`SHOWN_CONTROLS`] with their first messages, and how many
/// more are in the results (`omitted` were left out of the list before it got here).
fn failed_controls(failed: &[FailedControl], omitted: usize, open: bool) -> String {
    let mut details = String::new();
    let total = failed.len() + omitted;
    let _ = write!(
        details,
        "<details{}><summary>{total} failed control{}</summary>",
        if open { " open" } else { "" },
        if total == 1 { "" } else { "s" }
    );
    for c in failed.iter().take(SHOWN_CONTROLS) {
        let _ = write!(
            details,
            "<div class=\"control\"><span class=\"badge v-failed\">{}</span> <span class=\"id\">{}</span> {}",
            esc(&c.severity),
            esc(&c.id),
            esc(c.title.as_deref().unwrap_or(""))
        );
        for m in c.messages.iter().take(SHOWN_MESSAGES) {
            let _ = write!(
                details,
                "<div class=\"msg\">{}</div>",
                esc(&bounded(m, SHOWN_MESSAGE_CHARS))
            );
        }
        details.push_str("</div>");
    }
    let shown = SHOWN_CONTROLS.min(failed.len());
    if total > shown {
        let _ = write!(
            details,
            "<p class=\"meta\">{} more in the results.</p>",
            total - shown
        );
    }
    details.push_str("</details>");
    details
}

/// What identifies the scan: the image digest (and the running ones when they differ), the
/// results' key, the attempts, and whether an earlier run of the audit scanned it.
fn target_facts(r: &TargetRecord) -> Vec<String> {
    let mut facts = Vec::new();
    if let Some(d) = &r.image_digest {
        facts.push(format!("digest {d}"));
    }
    if r.running_digests
        .iter()
        .any(|d| Some(d) != r.image_digest.as_ref())
    {
        facts.push(format!("running: {}", r.running_digests.join(", ")));
    }
    if let Some(key) = r.result_keys.get("hdf.json") {
        facts.push(format!("results: {key}"));
    }
    facts.push(format!("attempts: {}", r.attempts));
    if r.resumed {
        facts.push("from an earlier run of this audit".into());
    }
    facts
}

/// The page of an audit. `failed` holds each target's failed controls by target id (absent:
/// only counts are shown); `omitted` how many were left out of each list.
pub fn fleet(
    audit: &AuditRecord,
    failed: &BTreeMap<String, Vec<FailedControl>>,
    omitted: &BTreeMap<String, usize>,
) -> String {
    fleet_titled(
        audit,
        failed,
        omitted,
        &format!("sidescan audit {}", audit.audit_id),
    )
}

fn fleet_titled(
    audit: &AuditRecord,
    failed: &BTreeMap<String, Vec<FailedControl>>,
    omitted: &BTreeMap<String, usize>,
    title: &str,
) -> String {
    let mut out = String::with_capacity(4096 + audit.targets.len() * 1200);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style><script>{ERROR_HOOK}</script></head><body>",
        esc(title)
    );
    let t = &audit.totals;
    let _ = write!(
        out,
        "<header><h1>{}</h1><div class=\"meta\">{}{}results in <code>{}</code> · exit code {}</div><div class=\"meta\">{}</div></header><main>",
        esc(title),
        audit
            .cluster
            .as_deref()
            .map(|c| format!("cluster {} · ", esc(c)))
            .unwrap_or_default(),
        if audit.started.is_empty() {
            String::new()
        } else {
            format!("{} → {} · ", esc(&audit.started), esc(&audit.finished))
        },
        esc(&audit.store),
        audit.exit_code,
        settings_line(&audit.settings)
    );
    let historic = historic(audit);
    if let Some(h) = &audit.history {
        out.push_str(&history_line(h));
    }
    let _ = write!(
        out,
        "<section class=\"tiles\"><div class=\"tile\"><b id=\"total\">{}</b>targets</div><div class=\"tile ok\"><b>{}</b>passed</div><div class=\"tile bad\"><b>{}</b>failed</div><div class=\"tile warn\"><b>{}</b>not scanned</div>",
        t.targets, t.passed, t.failed, t.not_scanned
    );
    if historic {
        let (new_failures, fixed) = audit
            .targets
            .iter()
            .filter_map(|t| t.baseline.as_ref())
            .fold((0, 0), |(n, f), c| {
                (n + c.delta.counts.new_failures, f + c.delta.counts.fixed)
            });
        let _ = write!(
            out,
            "<div class=\"tile bad\"><b id=\"new-failures\">{new_failures}</b>new failures</div><div class=\"tile ok\"><b id=\"fixed\">{fixed}</b>fixed</div>"
        );
    }
    out.push_str("</section>");
    for w in &audit.warnings {
        let _ = write!(out, "<p class=\"reason\">Warning: {}</p>", esc(w));
    }
    out.push_str(&glance(audit));
    let namespaces: BTreeSet<&str> = audit.targets.iter().map(|r| r.namespace.as_str()).collect();
    out.push_str("<h2>Targets</h2><div class=\"filters\"><label>Namespace <select id=\"f-namespace\"><option value=\"\">all</option>");
    for ns in namespaces {
        let _ = write!(out, "<option value=\"{0}\">{0}</option>", esc(ns));
    }
    out.push_str(
        "</select></label><label>Verdict <select id=\"f-verdict\"><option value=\"\">all</option>\
         <option value=\"passed\">passed</option><option value=\"failed\">failed</option>\
         <option value=\"not-scanned\">not scanned</option></select></label>\
         <label>Search <input id=\"f-text\" type=\"search\" placeholder=\"workload, image, reason\"></label>",
    );
    let _ = write!(
        out,
        "<span class=\"meta\"><span id=\"shown\">{}</span> shown</span></div>",
        audit.targets.len()
    );
    out.push_str(
        "<table id=\"targets\"><thead><tr><th data-key=\"verdict\">Verdict</th><th data-key=\"namespace\">Namespace</th>\
         <th data-key=\"workload\">Workload</th><th data-key=\"container\">Container</th><th data-key=\"image\">Image</th>\
         <th data-key=\"compliance\" data-type=\"num\">Compliance</th><th data-key=\"critical\" data-type=\"num\">Critical</th>\
         <th data-key=\"high\" data-type=\"num\">High</th><th data-key=\"medium\" data-type=\"num\">Medium</th>\
         <th data-key=\"low\" data-type=\"num\">Low</th><th data-key=\"duration\" data-type=\"num\">Time</th>",
    );
    if historic {
        out.push_str(
            "<th data-key=\"new\" data-type=\"num\" title=\"controls that fail now and did not in the baseline\">New</th>\
             <th data-key=\"fixed\" data-type=\"num\" title=\"controls that failed in the baseline and pass now\">Fixed</th>\
             <th title=\"compliance in the last audits\">Trend</th>",
        );
    }
    out.push_str("</tr></thead>");
    for r in &audit.targets {
        target_rows(
            &mut out,
            r,
            failed.get(&r.id).map(Vec::as_slice),
            omitted.get(&r.id).copied().unwrap_or(0),
            audit.targets.len() == 1,
            historic,
        );
    }
    out.push_str("</table>");
    if audit.targets.is_empty() {
        out.push_str("<p>No targets matched the selection.</p>");
    }
    let _ = writeln!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

/// The same page for one result: `origin` names the file, the verdict is the thresholds' (every
/// result passes without them).
pub fn single(
    hdf: &Hdf,
    summary: &Summary,
    validation: Option<&Validation>,
    origin: &str,
    threshold_origin: Option<&str>,
) -> String {
    let outcome = scan_outcome(hdf, summary, validation);
    let id = format!("{origin}/{}", hdf.profile);
    let record = TargetRecord {
        namespace: "-".into(),
        kind: "result".into(),
        workload: origin.to_string(),
        container: hdf.profile.clone(),
        compliance: Some(outcome.compliance),
        counts: Some(outcome.counts),
        failed_by_severity: Some(outcome.failed_by_severity),
        violations: outcome.violations,
        ..TargetRecord::new(id.clone(), outcome.verdict)
    };
    let totals = Totals::of(std::slice::from_ref(&record));
    let audit = AuditRecord {
        audit_id: origin.to_string(),
        cluster: None,
        started: String::new(),
        finished: String::new(),
        store: origin.to_string(),
        settings: AuditSettings {
            namespaces: vec![],
            label_selector: String::new(),
            kinds: vec![],
            scanner_image: "-".into(),
            backend: "-".into(),
            profile: Some(hdf.profile.clone()),
            thresholds: threshold_origin.map(str::to_string),
            run: "-".into(),
            placement: "-".into(),
            concurrency: 1,
        },
        exit_code: totals.exit_status().code(),
        api_requests: None,
        totals,
        warnings: vec![],
        history: None,
        targets: vec![record],
    };
    let failed = BTreeMap::from([(id.clone(), outcome.failed_controls)]);
    let omitted = BTreeMap::from([(id, outcome.failed_controls_omitted)]);
    fleet_titled(
        &audit,
        &failed,
        &omitted,
        &format!("sidescan result {origin}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(i: usize) -> FailedControl {
        FailedControl {
            id: format!("C-{i}"),
            severity: "high".into(),
            impact: 0.7,
            title: None,
            messages: vec!["m1".into(), "m2".into(), "m3".into(), "m4".into()],
        }
    }

    #[test]
    fn failed_controls_say_how_many_more_are_in_the_results() {
        let sixty: Vec<FailedControl> = (0..60).map(control).collect();
        let html = failed_controls(&sixty, 5, false);
        assert!(html.starts_with("<details><summary>65 failed controls</summary>"));
        assert_eq!(
            html.matches("<div class=\"control\">").count(),
            SHOWN_CONTROLS
        );
        assert_eq!(
            html.matches("<div class=\"msg\">").count(),
            SHOWN_CONTROLS * SHOWN_MESSAGES
        );
        assert!(html.contains("<p class=\"meta\">15 more in the results.</p>"));
        // All shown, nothing omitted: no note; one control is singular; open on request.
        let one = failed_controls(&[control(1)], 0, true);
        assert!(one.starts_with("<details open><summary>1 failed control</summary>"));
        assert!(!one.contains("more in the results"));
        assert!(failed_controls(&[control(1)], 2, false).contains("2 more in the results"));
    }

    #[test]
    fn the_running_digests_are_named_only_when_they_differ_from_the_image_s() {
        let mut r = TargetRecord::new("ns/deployment.web.app", Verdict::Passed);
        r.image_digest = Some("sha256:a".into());
        r.running_digests = vec!["sha256:a".into()];
        assert_eq!(target_facts(&r), ["digest sha256:a", "attempts: 1"]);
        r.running_digests.push("sha256:b".into());
        r.resumed = true;
        assert_eq!(
            target_facts(&r),
            [
                "digest sha256:a",
                "running: sha256:a, sha256:b",
                "attempts: 1",
                "from an earlier run of this audit"
            ]
        );
    }

    #[test]
    fn a_delta_count_is_a_dash_without_a_comparison_and_marked_above_zero() {
        assert_eq!(delta_count("", "d-new"), "–");
        assert_eq!(delta_count("0", "d-new"), "0");
        assert_eq!(
            delta_count("3", "d-fixed"),
            "<span class=\"d-fixed\">3</span>"
        );
    }
}
