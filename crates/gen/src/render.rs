//! Handlebars over the templates in `templates/` (compiled into the binary), in strict mode: a
//! value the template names but the context lacks is an error, never an empty string.
//!
//! Escaping: `{{x}}` writes `x` as a double-quoted YAML string (the registry's escape function),
//! so no user string can change a document's structure. `{{yaml x indent=N}}` writes numbers,
//! booleans, lists and maps (strings inside quoted or as safe literal blocks). `{{{job_spec_N}}}`
//! places the Job spec this crate rendered itself, indented by N.

use crate::GenError;
use crate::yaml;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderErrorReason,
};

/// Template name and source, from the crate's `templates/` directory.
pub const TEMPLATES: [(&str, &str); 8] = [
    ("scan-pod", include_str!("../templates/scan-pod.yaml.hbs")),
    ("rbac", include_str!("../templates/rbac.yaml.hbs")),
    // The admission policies beside the scan's and the audit's Roles (a partial of both).
    (
        "admission-policies",
        include_str!("../templates/admission-policies.yaml.hbs"),
    ),
    ("configmap", include_str!("../templates/configmap.yaml.hbs")),
    ("job", include_str!("../templates/job.yaml.hbs")),
    ("cronjob", include_str!("../templates/cronjob.yaml.hbs")),
    (
        "network-policy",
        include_str!("../templates/network-policy.yaml.hbs"),
    ),
    // The Job's spec, rendered once and placed (indented) into the Job and the CronJob.
    (
        "job-spec",
        include_str!("../templates/partials/job-spec.yaml.hbs"),
    ),
];

struct YamlHelper;

impl HelperDef for YamlHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let param = h
            .param(0)
            .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("yaml", 0))?;
        if param.is_value_missing() {
            return Err(RenderErrorReason::MissingVariable(param.relative_path().cloned()).into());
        }
        let indent = h
            .hash_get("indent")
            .and_then(|v| v.value().as_u64())
            .unwrap_or(0) as usize;
        let mut text = String::new();
        yaml::after_key(param.value(), indent, &mut text);
        // Inline scalars come with the space that follows `key:`; the template already has it.
        let text = if indent == 0 {
            text.trim_start().to_string()
        } else {
            text
        };
        out.write(&text)?;
        Ok(())
    }
}

/// The registry with every template, partial and helper.
pub fn registry() -> Result<Handlebars<'static>, GenError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(yaml::quote);
    hb.register_helper("yaml", Box::new(YamlHelper));
    for (name, source) in TEMPLATES
        .into_iter()
        .chain(crate::audit::TEMPLATES)
        .chain(crate::exporter::TEMPLATES)
    {
        hb.register_template_string(name, source)
            .map_err(|e| GenError::Render {
                template: name.into(),
                message: e.to_string(),
            })?;
    }
    Ok(hb)
}
