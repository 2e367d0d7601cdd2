//! CronJob schedules as the Kubernetes CronJob controller parses them (robfig/cron's standard
//! parser): five fields with ranges, steps, lists and month/day names, or a `@` descriptor.

/// (name, lowest, highest, names for values starting at `lowest`)
const FIELDS: [(&str, u32, u32, &[&str]); 5] = [
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    (
        "month",
        1,
        12,
        &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    ),
    (
        "day of week",
        0,
        6,
        &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    ),
];

const DESCRIPTORS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Checks a schedule; the error says which part is wrong and why.
pub fn validate_cron(schedule: &str) -> Result<(), String> {
    let trimmed = schedule.trim();
    if trimmed.is_empty() {
        return Err("empty schedule".into());
    }
    if trimmed.starts_with("TZ=") || trimmed.starts_with("CRON_TZ=") {
        return Err(
            "a time zone inside the schedule is not supported: use schedule.timeZone".into(),
        );
    }
    if let Some(rest) = trimmed.strip_prefix('@') {
        if let Some(duration) = rest.strip_prefix("every ") {
            return go_duration(duration.trim())
                .map(|_| ())
                .map_err(|e| format!("@every {duration}: {e}"));
        }
        if DESCRIPTORS.contains(&trimmed) {
            return Ok(());
        }
        return Err(format!(
            "unknown descriptor {trimmed:?} (expected one of {}, or @every <duration>)",
            DESCRIPTORS.join(", ")
        ));
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        ));
    }
    for (field, (name, low, high, names)) in fields.iter().zip(FIELDS) {
        check_field(field, low, high, names).map_err(|e| format!("{name} field {field:?}: {e}"))?;
    }
    Ok(())
}

fn check_field(field: &str, low: u32, high: u32, names: &[&str]) -> Result<(), String> {
    for part in field.split(',') {
        check_range(part, low, high, names)?;
    }
    Ok(())
}

fn check_range(part: &str, low: u32, high: u32, names: &[&str]) -> Result<(), String> {
    let (range, step) = match part.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (part, None),
    };
    let (start, end) = if range == "*" || range == "?" {
        (low, high)
    } else {
        match range.split_once('-') {
            Some((a, b)) => (value(a, low, high, names)?, value(b, low, high, names)?),
            // `N/step` runs from N to the field's end.
            None => {
                let v = value(range, low, high, names)?;
                (v, if step.is_some() { high } else { v })
            }
        }
    };
    if start > end {
        return Err(format!("range {range:?} starts after it ends"));
    }
    if let Some(step) = step {
        let n: u32 = step
            .parse()
            .map_err(|_| format!("step {step:?} is not a number"))?;
        if n == 0 {
            return Err("a step must be positive".into());
        }
    }
    Ok(())
}

fn value(text: &str, low: u32, high: u32, names: &[&str]) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(low + i as u32);
    }
    let v: u32 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number or name"))?;
    if v < low || v > high {
        return Err(format!("{v} is outside {low}-{high}"));
    }
    Ok(v)
}

/// A Go `time.ParseDuration` string (`1h30m`, `90s`, `1.5h`), in seconds.
fn go_duration(text: &str) -> Result<f64, String> {
    if text.is_empty() {
        return Err("missing duration (e.g. 1h30m)".into());
    }
    if text == "0" {
        return Ok(0.0);
    }
    let mut rest = text;
    let mut total = 0.0;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?}: a number needs a unit (ns, us, ms, s, m, h)"))?;
        let number: f64 = rest[..end]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration (e.g. 1h30m)"))?;
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => return Err(format!("{text:?}: unknown unit {unit:?}")),
        };
        total += number * seconds;
        rest = &rest[unit_end..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_kubernetes_accepts() {
        for good in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 0-23/2 * * *",
            "30 1 1,15 * *",
            "0 9 * JAN-MAR mon-fri",
            "5/10 * * * *",
            "0 0 ? * SUN",
            "59 23 31 12 6",
            "@hourly",
            "@daily",
            "@midnight",
            "@weekly",
            "@monthly",
            "@yearly",
            "@annually",
            "@every 1h30m",
            "@every 1.5h",
        ] {
            assert_eq!(validate_cron(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for (bad, needle) in [
            ("61 * * * *", "minute field \"61\": 61 is outside 0-59"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day of month"),
            ("* * * 13 *", "month"),
            ("* * * * 7", "day of week"),
            ("* * * * * *", "expected 5 fields"),
            ("* * *", "expected 5 fields"),
            ("@sometimes", "unknown descriptor \"@sometimes\""),
            ("*/0 * * * *", "step must be positive"),
            ("5-1 * * * *", "starts after it ends"),
            ("a * * * *", "not a number or name"),
            ("1,,2 * * * *", "not a number"),
            ("@every", "unknown descriptor"),
            ("@every soon", "@every soon"),
            ("TZ=UTC 0 3 * * *", "schedule.timeZone"),
            ("", "empty"),
        ] {
            let err = validate_cron(bad).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }
}
