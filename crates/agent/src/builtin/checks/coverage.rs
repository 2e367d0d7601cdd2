//! What the walk could not cover, as results of a walk-based control: `error` for each gap (a
//! directory or file that could not be read), `skipped` for a gap the input
//! `allowed_unreadable_paths` accepts (still listed, with the reason), `skipped` "not checked" for
//! what a limit left unexamined, `skipped` for other filesystems mounted in the target.

use super::UNREADABLE_INPUT;
use crate::builtin::limits::NotChecked;
use crate::builtin::listed::Listed;
use crate::builtin::policy::Inputs;
use crate::builtin::report::Finding;
use crate::builtin::walk::{Gap, Walked};

pub(super) struct Coverage<'a> {
    pub inputs: &'a Inputs,
    pub dir_gaps: &'a Listed<Gap>,
    /// Files not read (content-based controls only).
    pub file_gaps: Option<&'a Listed<Gap>>,
    /// Files not checked because of their size (content-based controls only).
    pub too_large: Option<&'a Listed<Gap>>,
    /// Directories a limit kept the walk from (depth, entries).
    pub unwalked: &'a Listed<NotChecked>,
    /// Files a limit kept the walk from reading (content-based controls only).
    pub unread: Option<&'a Listed<NotChecked>>,
    pub mounts: &'a Listed<String>,
}

impl<'a> Coverage<'a> {
    /// The coverage of a control decided from the entries' modes alone.
    pub fn of_entries(walked: &'a Walked, inputs: &'a Inputs) -> Coverage<'a> {
        Coverage {
            inputs,
            dir_gaps: &walked.dir_gaps,
            file_gaps: None,
            too_large: None,
            unwalked: &walked.unwalked,
            unread: None,
            mounts: &walked.other_mounts,
        }
    }

    fn gap(&self, code_desc: String, path: &str, why: String) -> Finding {
        if self.inputs.allows(UNREADABLE_INPUT, path) {
            Finding::skipped(
                code_desc,
                format!("{why}; accepted by input {UNREADABLE_INPUT}"),
            )
        } else {
            Finding::error(code_desc, why)
        }
    }

    pub fn add_to(&self, out: &mut Vec<Finding>) {
        for gap in &self.dir_gaps.items {
            out.push(self.gap(
                format!("directory {} was walked", gap.path),
                &gap.path,
                format!(
                    "{} could not be read: {}; what it holds is unknown",
                    gap.path, gap.reason
                ),
            ));
        }
        if self.dir_gaps.more > 0 {
            out.push(Finding::error(
                format!("{} more directories were walked", self.dir_gaps.more),
                format!(
                    "{} further directories could not be read",
                    self.dir_gaps.more
                ),
            ));
        }
        for (list, what) in [(self.file_gaps, "read"), (self.too_large, "checked")] {
            let Some(list) = list else { continue };
            for gap in &list.items {
                out.push(self.gap(
                    format!("file {} was {what}", gap.path),
                    &gap.path,
                    format!("{} was not {what}: {}", gap.path, gap.reason),
                ));
            }
            if list.more > 0 {
                out.push(Finding::error(
                    format!("{} more files were {what}", list.more),
                    format!("{} further files were not {what}", list.more),
                ));
            }
        }
        not_checked(out, self.unwalked, "directories", "walked");
        if let Some(unread) = self.unread {
            not_checked(out, unread, "files", "read");
        }
        for mount in &self.mounts.items {
            out.push(Finding::skipped(
                format!("{mount} was walked"),
                format!(
                    "{mount} is another filesystem mounted in the target (a volume): not walked"
                ),
            ));
        }
        if self.mounts.more > 0 {
            out.push(Finding::skipped(
                format!("{} more mounts were walked", self.mounts.more),
                format!(
                    "{} further filesystems mounted in the target were not walked",
                    self.mounts.more
                ),
            ));
        }
    }
}

/// One `skipped` result per item a limit left unexamined, and one for those past the cap.
fn not_checked(out: &mut Vec<Finding>, list: &Listed<NotChecked>, what: &str, done: &str) {
    let one = if what == "files" { "file" } else { "directory" };
    for item in &list.items {
        out.push(Finding::skipped(
            format!("{one} {} was {done}", item.path),
            item.to_string(),
        ));
    }
    if list.more > 0 {
        out.push(Finding::skipped(
            format!("{} more {what} were {done}", list.more),
            format!(
                "{} further {what} were not {done} because a limit was reached: not checked",
                list.more
            ),
        ));
    }
}
