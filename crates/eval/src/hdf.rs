//! HDF (InSpec / CINC Auditor exec JSON): parsing, overlay linking, control status and severity.
//!
//! Parsing deserializes only the fields the evaluator needs and borrows strings from the input;
//! everything else is skipped without being built. The linking and status rules follow the SAF CLI
//! (inspecjs `contextualizeEvaluation` and `compat_inspec_1_0`), described in the conformance
//! corpus' SPEC.md. Where SAF is knowingly wrong, [`Semantics::Sidescan`] (the default) does the
//! right thing and [`Semantics::SafCompat`] reproduces SAF; docs/saf-compatibility.md lists each.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::EvalError;

/// How to read the places where the SAF CLI is knowingly wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Semantics {
    /// Do the right thing: severity tags are case-insensitive, a non-string severity tag falls
    /// back to the impact, `skipped_due_to_waiver: "false"` is not a waiver, and a control of the
    /// first profile is never hidden by a same-id control of an unrelated profile.
    #[default]
    Sidescan,
    /// Reproduce the SAF CLI exactly, defects included (used to check conformance).
    SafCompat,
}

/// A control's status as SAF names it. Threshold files use [`Status::key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// SAF "Not Reviewed"; threshold key `skipped`.
    #[serde(rename = "skipped")]
    NotReviewed,
    /// SAF "Not Applicable"; threshold key `no_impact`.
    #[serde(rename = "no_impact")]
    NotApplicable,
    /// SAF "Profile Error"; threshold key `error`.
    #[serde(rename = "error")]
    ProfileError,
}

impl Status {
    /// Threshold order: passed, failed, skipped, error, no_impact (the order SAF checks them).
    pub const THRESHOLD_ORDER: [Status; 5] = [
        Status::Passed,
        Status::Failed,
        Status::NotReviewed,
        Status::ProfileError,
        Status::NotApplicable,
    ];

    /// The name threshold files use: passed, failed, skipped, no_impact, error.
    pub fn key(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::NotReviewed => "skipped",
            Status::NotApplicable => "no_impact",
            Status::ProfileError => "error",
        }
    }

    /// The name SAF and Heimdall show: Passed, Failed, Not Reviewed, Not Applicable, Profile Error.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "Passed",
            Status::Failed => "Failed",
            Status::NotReviewed => "Not Reviewed",
            Status::NotApplicable => "Not Applicable",
            Status::ProfileError => "Profile Error",
        }
    }

    pub fn from_key(key: &str) -> Option<Status> {
        Status::THRESHOLD_ORDER.into_iter().find(|s| s.key() == key)
    }
}

/// The severity names SAF buckets controls by, most severe first (SAF's check order).
pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "none"];

/// One result (a `describe` block outcome) of a counted control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `error` when the result carries a backtrace, else the result's status (`no_status` if none).
    pub status: String,
    pub code_desc: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A counted control, evaluated through its root (the deepest control it overlays).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Control {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The control's description (`desc`, else the `default` entry of `descriptions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// How to check it by hand (the `check` entry of `descriptions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// How to fix it (the `fix` entry of `descriptions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// NIST SP 800-53 controls (`tags.nist`), as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nist: Vec<String>,
    /// DISA CCIs (`tags.cci`), as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cci: Vec<String>,
    pub impact: f64,
    pub status: Status,
    /// One of [`SEVERITIES`]; under [`Semantics::SafCompat`] possibly a tag's raw text ("High")
    /// that lands in no bucket, as in SAF.
    pub severity: String,
    pub results: Vec<Outcome>,
}

/// A parsed, linked HDF result: the controls SAF counts, in the first profile's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hdf {
    /// Name of the first profile (the one that was run; overlays come first).
    pub profile: String,
    /// Number of profiles in the file (the overlay chain and dependencies).
    pub profiles: usize,
    pub controls: Vec<Control>,
}

/// Parses HDF bytes with the default [`Semantics::Sidescan`]; errors name the input as "input".
pub fn parse(bytes: &[u8]) -> Result<Hdf, EvalError> {
    parse_with(bytes, "input", Semantics::Sidescan)
}

/// Parses HDF bytes; `origin` (a path or URL) prefixes every error message.
pub fn parse_named(bytes: &[u8], origin: &str) -> Result<Hdf, EvalError> {
    parse_with(bytes, origin, Semantics::Sidescan)
}

/// Parses HDF bytes with the given semantics.
pub fn parse_with(bytes: &[u8], origin: &str, semantics: Semantics) -> Result<Hdf, EvalError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(EvalError::Empty {
            origin: origin.to_string(),
        });
    }
    let raw = deserialize(bytes, origin)?;
    link(&raw, origin, semantics)
}

fn deserialize<'a>(bytes: &'a [u8], origin: &str) -> Result<RawExec<'a>, EvalError> {
    match serde_json::from_slice::<RawExec<'a>>(bytes) {
        Ok(raw) => Ok(raw),
        Err(err) => Err(describe_error(bytes, origin, err)),
    }
}

/// Turns a failed fast parse into one line: syntax errors keep serde_json's line and column;
/// shape errors are re-run through serde_path_to_error to name the key at fault.
fn describe_error(bytes: &[u8], origin: &str, err: serde_json::Error) -> EvalError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => EvalError::Json {
            origin: origin.to_string(),
            detail: err.to_string(),
        },
        Category::Data => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let detail = match serde_path_to_error::deserialize::<_, RawExec>(&mut de) {
                Err(e) if e.path().iter().next().is_some() => {
                    format!("{}: {}", e.path(), strip_position(&e.inner().to_string()))
                }
                Err(e) => strip_position(&e.inner().to_string()),
                Ok(_) => strip_position(&err.to_string()),
            };
            let detail = if detail.starts_with("invalid type") {
                format!("{detail} (expected an InSpec/CINC exec JSON object)")
            } else {
                detail
            };
            EvalError::NotHdf {
                origin: origin.to_string(),
                detail,
            }
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

// ---- raw model: only the fields the evaluator reads; required ones as SAF's schema requires ----

#[derive(Deserialize)]
struct RawExec<'a> {
    #[serde(borrow)]
    profiles: Vec<RawProfile<'a>>,
    #[allow(dead_code)]
    platform: IgnoredAny,
    #[allow(dead_code)]
    statistics: IgnoredAny,
    #[allow(dead_code)]
    version: IgnoredAny,
}

#[derive(Deserialize)]
struct RawProfile<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    parent_profile: Option<Cow<'a, str>>,
    #[serde(borrow)]
    controls: Vec<RawControl<'a>>,
    #[allow(dead_code)]
    sha256: IgnoredAny,
    #[allow(dead_code)]
    supports: IgnoredAny,
    #[allow(dead_code)]
    attributes: IgnoredAny,
    #[allow(dead_code)]
    groups: IgnoredAny,
}

#[derive(Deserialize)]
struct RawControl<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    title: Option<Cow<'a, str>>,
    /// Documentation only: read leniently (a non-string is as good as absent).
    #[serde(borrow, default)]
    desc: TextOpt<'a>,
    #[serde(borrow, default)]
    descriptions: Descriptions<'a>,
    impact: f64,
    #[serde(borrow)]
    tags: RawTags<'a>,
    #[serde(borrow)]
    results: Vec<RawResult<'a>>,
    #[serde(default)]
    waiver_data: Option<RawWaiver>,
    #[allow(dead_code)]
    refs: IgnoredAny,
    #[allow(dead_code)]
    source_location: IgnoredAny,
}

#[derive(Deserialize)]
struct RawTags<'a> {
    #[serde(borrow, default)]
    severity: TagText<'a>,
    #[serde(borrow, default)]
    severityoverride: TagText<'a>,
    #[serde(borrow, default)]
    nist: StringList<'a>,
    #[serde(borrow, default)]
    cci: StringList<'a>,
}

#[derive(Deserialize)]
struct RawResult<'a> {
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(default)]
    backtrace: Option<IgnoredAny>,
    #[serde(borrow)]
    code_desc: Cow<'a, str>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    skip_message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    exception: Option<Cow<'a, str>>,
    #[allow(dead_code)]
    start_time: IgnoredAny,
}

#[derive(Deserialize)]
struct RawWaiver {
    #[serde(default)]
    skipped_due_to_waiver: WaiverFlag,
}

/// A severity tag: text, absent/null, or some other JSON type (which SAF crashes on).
#[derive(Default)]
enum TagText<'a> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    NotText,
}

impl<'de: 'a, 'a> Deserialize<'de> for TagText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = TagText<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TagText::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TagText::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TagText::Text(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TagText::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TagText::Absent)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(TagText::NotText)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(TagText::NotText)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(TagText::NotText)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(TagText::NotText)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(TagText::NotText)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(TagText::NotText)
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Documentation text: a string, or absent. Any other JSON value counts as absent (these fields
/// are never counted, so a profile that writes them oddly still evaluates).
#[derive(Default)]
struct TextOpt<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for TextOpt<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match TagText::deserialize(deserializer)? {
            TagText::Text(t) => TextOpt(Some(t)),
            TagText::Absent | TagText::NotText => TextOpt(None),
        })
    }
}

/// A tag holding strings: a list (non-strings skipped), one string, or anything else (empty).
#[derive(Default)]
struct StringList<'a>(Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for StringList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = StringList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StringList(vec![Cow::Borrowed(v)]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringList(vec![Cow::Owned(v.to_string())]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StringList::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StringList::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(StringList::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(StringList::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(StringList::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(StringList::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<TextOpt<'a>>()? {
                    out.extend(item.0);
                }
                Ok(StringList(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StringList::default())
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `descriptions`: InSpec writes a list of `{label, data}`; older tools an object of label to
/// text. Anything else is ignored.
#[derive(Default)]
struct Descriptions<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Descriptions<'a> {
    fn get(&self, label: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, d)| d.as_ref())
    }
}

#[derive(Deserialize)]
struct LabelData<'a> {
    #[serde(borrow, default)]
    label: TextOpt<'a>,
    #[serde(borrow, default)]
    data: TextOpt<'a>,
}

/// One element of a `descriptions` list: a `{label, data}` object, or anything else (skipped).
struct DescriptionItem<'a>(Option<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for DescriptionItem<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = DescriptionItem<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let ld = LabelData::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(DescriptionItem(ld.label.0.zip(ld.data.0)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(DescriptionItem(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(DescriptionItem(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(DescriptionItem(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(DescriptionItem(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(DescriptionItem(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(DescriptionItem(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(DescriptionItem(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(DescriptionItem(None))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Descriptions<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Descriptions<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<DescriptionItem<'a>>()? {
                    out.extend(item.0);
                }
                Ok(Descriptions(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((label, data)) = map.next_entry::<Cow<'a, str>, TextOpt<'a>>()? {
                    if let Some(data) = data.0 {
                        out.push((label, data));
                    }
                }
                Ok(Descriptions(out))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Descriptions::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Descriptions::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Descriptions::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Descriptions::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Descriptions::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Descriptions::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Descriptions::default())
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `waiver_data.skipped_due_to_waiver`: SAF's schema allows a boolean, a string or null.
#[derive(Default)]
enum WaiverFlag {
    #[default]
    Absent,
    Bool(bool),
    Text(String),
}

impl<'de> Deserialize<'de> for WaiverFlag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WaiverFlag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean, a string or null")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(WaiverFlag::Bool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(WaiverFlag::Text(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(WaiverFlag::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(WaiverFlag::Absent)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl WaiverFlag {
    fn waived(&self, semantics: Semantics) -> bool {
        match self {
            WaiverFlag::Absent => false,
            WaiverFlag::Bool(b) => *b,
            // SAF: JavaScript truthiness, so the string "false" waives the control.
            WaiverFlag::Text(t) if semantics == Semantics::SafCompat => !t.is_empty(),
            WaiverFlag::Text(t) => t.trim().eq_ignore_ascii_case("true"),
        }
    }
}

// ---- linking (inspecjs contextualizeEvaluation) ----

/// A link from a control to the control it extends (overlays).
#[derive(Clone, Copy)]
struct Link {
    target: usize,
    /// Whether the link hides the target from the count. SAF: always. Sidescan: not when an
    /// unrelated (unlinked) profile's same-id control points at a control of another profile.
    hides: bool,
}

fn link(raw: &RawExec<'_>, origin: &str, semantics: Semantics) -> Result<Hdf, EvalError> {
    let profiles = &raw.profiles;
    if profiles.is_empty() {
        return Err(EvalError::NotHdf {
            origin: origin.to_string(),
            detail: "profiles: the list is empty (no profile was run)".to_string(),
        });
    }

    // Profile links: a profile with parent_profile P hangs under the first profile named P.
    let mut parent_of: Vec<Option<usize>> = vec![None; profiles.len()];
    let mut extends_from: Vec<Vec<usize>> = vec![Vec::new(); profiles.len()];
    let mut extended_by = vec![0usize; profiles.len()];
    for (child, profile) in profiles.iter().enumerate() {
        if let Some(parent_name) = &profile.parent_profile
            && let Some(parent) = profiles.iter().position(|p| p.name == *parent_name)
        {
            parent_of[child] = Some(parent);
            extends_from[parent].push(child);
            extended_by[child] += 1;
        }
    }
    check_cycles(profiles, &parent_of, origin)?;

    // Flat list of all controls, as inspecjs builds it.
    let mut owner = Vec::new();
    let mut controls: Vec<&RawControl> = Vec::new();
    let mut profile_start = Vec::with_capacity(profiles.len());
    for (p, profile) in profiles.iter().enumerate() {
        profile_start.push(controls.len());
        for c in &profile.controls {
            owner.push(p);
            controls.push(c);
        }
    }
    // First control of each id per profile, and across all profiles (first, first with results).
    let mut first_in_profile: Vec<HashMap<&str, usize>> = vec![HashMap::new(); profiles.len()];
    let mut first_overall: HashMap<&str, (usize, Option<usize>)> = HashMap::new();
    for (i, c) in controls.iter().enumerate() {
        first_in_profile[owner[i]].entry(&c.id).or_insert(i);
        let entry = first_overall.entry(&c.id).or_insert((i, None));
        if entry.1.is_none() && !c.results.is_empty() {
            entry.1 = Some(i);
        }
    }

    let mut links: Vec<Option<Link>> = vec![None; controls.len()];
    let mut hidden = vec![false; controls.len()];
    for (i, c) in controls.iter().enumerate() {
        let p = owner[i];
        let linked_profile = !extends_from[p].is_empty() || extended_by[p] > 0;
        let link = if linked_profile {
            extends_from[p]
                .iter()
                .find_map(|&q| first_in_profile[q].get(c.id.as_ref()).copied())
                .map(|target| Link {
                    target,
                    hides: true,
                })
        } else {
            let (first, populated) = first_overall[c.id.as_ref()];
            let target = populated.unwrap_or(first);
            (target != i).then(|| Link {
                target,
                hides: semantics == Semantics::SafCompat || owner[target] == p,
            })
        };
        if let Some(l) = link {
            if l.hides {
                hidden[l.target] = true;
            }
            links[i] = Some(l);
        }
    }

    let first = &profiles[0];
    let mut counted = Vec::new();
    for i in profile_start[0]..profile_start[0] + first.controls.len() {
        if hidden[i] {
            continue;
        }
        let root =
            root_of(i, &links, controls.len()).ok_or_else(|| EvalError::ParentProfileCycle {
                origin: origin.to_string(),
                chain: format!("control {:?} overlays itself", controls[i].id),
            })?;
        counted.push(evaluate(controls[i], controls[root], origin, semantics)?);
    }
    Ok(Hdf {
        profile: first.name.to_string(),
        profiles: profiles.len(),
        controls: counted,
    })
}

fn check_cycles(
    profiles: &[RawProfile<'_>],
    parent_of: &[Option<usize>],
    origin: &str,
) -> Result<(), EvalError> {
    for start in 0..profiles.len() {
        let mut path = vec![start];
        let mut at = start;
        while let Some(parent) = parent_of[at] {
            if let Some(pos) = path.iter().position(|&p| p == parent) {
                let mut names: Vec<String> = path[pos..]
                    .iter()
                    .map(|&p| format!("{:?}", profiles[p].name))
                    .collect();
                names.push(format!("{:?}", profiles[parent].name));
                return Err(EvalError::ParentProfileCycle {
                    origin: origin.to_string(),
                    chain: names.join(" -> "),
                });
            }
            path.push(parent);
            at = parent;
        }
    }
    Ok(())
}

/// Follows the first link down to a control that extends nothing; None on a loop.
fn root_of(mut i: usize, links: &[Option<Link>], limit: usize) -> Option<usize> {
    for _ in 0..=limit {
        match links[i] {
            Some(l) => i = l.target,
            None => return Some(i),
        }
    }
    None
}

// ---- status and severity (inspecjs compat_inspec_1_0) ----

fn evaluate(
    counted: &RawControl<'_>,
    root: &RawControl<'_>,
    origin: &str,
    semantics: Semantics,
) -> Result<Control, EvalError> {
    let mut results = Vec::with_capacity(root.results.len());
    for r in &root.results {
        let status = if r.backtrace.is_some() {
            "error"
        } else {
            match r.status.as_deref() {
                None | Some("") => "no_status",
                Some(s @ ("passed" | "failed" | "skipped" | "error")) => s,
                Some(other) => {
                    return Err(EvalError::NotHdf {
                        origin: origin.to_string(),
                        detail: format!(
                            "control {:?}: result status {other:?} is not passed, failed, skipped or error",
                            root.id
                        ),
                    });
                }
            }
        };
        let message = match status {
            "skipped" => r.skip_message.as_deref(),
            "error" => r.message.as_deref().or(r.exception.as_deref()),
            _ => r.message.as_deref(),
        };
        results.push(Outcome {
            status: status.to_string(),
            code_desc: r.code_desc.to_string(),
            message: message.map(str::to_string),
        });
    }
    let waived = root
        .waiver_data
        .as_ref()
        .is_some_and(|w| w.skipped_due_to_waiver.waived(semantics));
    let has = |s: &str| results.iter().any(|r| r.status == s);
    let status = if has("error") {
        Status::ProfileError
    } else if waived || root.impact == 0.0 {
        Status::NotApplicable
    } else if results.is_empty() {
        Status::ProfileError
    } else if has("failed") {
        Status::Failed
    } else if has("passed") {
        Status::Passed
    } else if has("skipped") {
        Status::NotReviewed
    } else {
        Status::ProfileError
    };
    let severity = severity(root, origin, semantics)?;
    // Documentation: the root's, else the overlay's (as for the title).
    let text = |get: fn(&RawControl<'_>) -> Option<String>| get(root).or_else(|| get(counted));
    let nist = tag_list(&root.tags.nist, &counted.tags.nist);
    let cci = tag_list(&root.tags.cci, &counted.tags.cci);
    Ok(Control {
        id: root.id.to_string(),
        title: root
            .title
            .as_deref()
            .or(counted.title.as_deref())
            .map(str::to_string),
        desc: text(|c| {
            c.desc
                .0
                .as_deref()
                .or_else(|| c.descriptions.get("default"))
                .map(str::to_string)
        }),
        check: text(|c| c.descriptions.get("check").map(str::to_string)),
        fix: text(|c| c.descriptions.get("fix").map(str::to_string)),
        nist,
        cci,
        impact: root.impact,
        status,
        severity,
        results,
    })
}

/// A tag list of the root, else of the overlay.
fn tag_list(own: &StringList<'_>, overlay: &StringList<'_>) -> Vec<String> {
    let from = if own.0.is_empty() { overlay } else { own };
    from.0.iter().map(|s| s.to_string()).collect()
}

fn severity(c: &RawControl<'_>, origin: &str, semantics: Semantics) -> Result<String, EvalError> {
    for (name, tag) in [
        ("severityoverride", &c.tags.severityoverride),
        ("severity", &c.tags.severity),
    ] {
        match tag {
            TagText::Absent => {}
            TagText::Text(t) => {
                let lower = t.to_lowercase();
                if SEVERITIES.contains(&lower.as_str()) {
                    // SAF returns the tag's raw text, so "High" lands in no bucket.
                    return Ok(match semantics {
                        Semantics::SafCompat => t.to_string(),
                        Semantics::Sidescan => lower,
                    });
                }
            }
            TagText::NotText if semantics == Semantics::SafCompat => {
                return Err(EvalError::NotHdf {
                    origin: origin.to_string(),
                    detail: format!("control {:?}: tags.{name} is not a string", c.id),
                });
            }
            TagText::NotText => {}
        }
    }
    Ok(severity_from_impact(c.impact).to_string())
}

/// SAF's impact bands: < 0.1 none, < 0.4 low, < 0.7 medium, < 0.9 high, else critical.
pub fn severity_from_impact(impact: f64) -> &'static str {
    if impact < 0.1 {
        "none"
    } else if impact < 0.4 {
        "low"
    } else if impact < 0.7 {
        "medium"
    } else if impact < 0.9 {
        "high"
    } else {
        "critical"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(profiles: &str) -> String {
        format!(
            r#"{{"platform":{{"name":"x","release":"1"}},"statistics":{{}},"version":"5","profiles":[{profiles}]}}"#
        )
    }

    fn profile(name: &str, parent: Option<&str>, controls: &str) -> String {
        let parent = parent
            .map(|p| format!(r#""parent_profile":"{p}","#))
            .unwrap_or_default();
        format!(
            r#"{{"name":"{name}",{parent}"sha256":"x","supports":[],"attributes":[],"groups":[],"controls":[{controls}]}}"#
        )
    }

    fn control(id: &str, impact: f64, extra: &str, results: &str) -> String {
        format!(
            r#"{{"id":"{id}","impact":{impact},"refs":[],"tags":{{{extra}}},"source_location":{{}},"results":[{results}]}}"#
        )
    }

    fn result(status: &str) -> String {
        format!(r#"{{"status":"{status}","code_desc":"d","start_time":"t"}}"#)
    }

    #[test]
    fn status_rules_in_order() {
        let pass = result("passed");
        let fail = result("failed");
        let skip = result("skipped");
        let bt = r#"{"status":"passed","code_desc":"d","start_time":"t","backtrace":[]}"#;
        let cs = [
            control("a", 0.5, "", &format!("{pass},{fail}")),
            control("b", 0.5, "", &format!("{pass},{skip}")),
            control("c", 0.5, "", &skip),
            control("d", 0.0, "", &fail),
            control("e", 0.0, "", bt),
            control("f", 0.5, "", ""),
        ]
        .join(",");
        let hdf = parse(exec(&profile("p", None, &cs)).as_bytes()).unwrap();
        let got: Vec<Status> = hdf.controls.iter().map(|c| c.status).collect();
        assert_eq!(
            got,
            [
                Status::Failed,
                Status::Passed,
                Status::NotReviewed,
                Status::NotApplicable,
                Status::ProfileError,
                Status::ProfileError
            ]
        );
    }

    #[test]
    fn severity_tag_case_differs_by_semantics() {
        let c = control("a", 0.5, r#""severity":"High""#, &result("passed"));
        let text = exec(&profile("p", None, &c));
        let ours = parse(text.as_bytes()).unwrap();
        let saf = parse_with(text.as_bytes(), "x", Semantics::SafCompat).unwrap();
        assert_eq!(ours.controls[0].severity, "high");
        assert_eq!(saf.controls[0].severity, "High");
    }

    #[test]
    fn overlay_counts_wrapper_controls_through_their_roots() {
        let wrapper = profile("w", None, &control("a", 0.5, "", ""));
        let base = profile("b", Some("w"), &control("a", 0.9, "", &result("failed")));
        let hdf = parse(exec(&format!("{wrapper},{base}")).as_bytes()).unwrap();
        assert_eq!(hdf.controls.len(), 1);
        assert_eq!(hdf.controls[0].status, Status::Failed);
        assert_eq!(hdf.controls[0].severity, "critical");
    }

    #[test]
    fn parent_profile_cycle_is_an_error() {
        let a = profile("a", Some("b"), &control("x", 0.5, "", ""));
        let b = profile("b", Some("a"), &control("x", 0.5, "", ""));
        let err = parse(exec(&format!("{a},{b}")).as_bytes()).unwrap_err();
        assert!(matches!(err, EvalError::ParentProfileCycle { .. }), "{err}");
        assert!(err.to_string().contains(r#""a" -> "b" -> "a""#), "{err}");
    }

    #[test]
    fn missing_impact_names_the_key() {
        let text = exec(&profile(
            "p",
            None,
            r#"{"id":"m1","refs":[],"tags":{},"source_location":{},"results":[]}"#,
        ));
        let err = parse_named(text.as_bytes(), "r.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("r.json: not an HDF result file: profiles[0].controls[0]"),
            "{err}"
        );
        assert!(err.contains("impact"), "{err}");
    }

    #[test]
    fn impact_bands() {
        assert_eq!(severity_from_impact(0.0), "none");
        assert_eq!(severity_from_impact(0.1), "low");
        assert_eq!(severity_from_impact(0.4), "medium");
        assert_eq!(severity_from_impact(0.69999), "medium");
        assert_eq!(severity_from_impact(0.7), "high");
        assert_eq!(severity_from_impact(0.9), "critical");
    }
}
