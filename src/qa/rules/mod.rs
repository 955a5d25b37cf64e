//! The QA rules file, `qa/rules.toml` in the configuration folder: what a
//! call is checked for after it ends, grouped in weighted categories.
//!
//! - [`raw`]: the file as written (serde shapes with spans);
//! - [`load`]: checking it into the model, every problem located;
//! - [`model`]: the rules the scorer uses;
//! - [`live`]: the rules in force in a running process, swapped whole when
//!   the file is reloaded.
//!
//! The file is optional: without it no QA rules apply. A file that is
//! present is checked by `switchboard check` like every other one.

pub mod live;
mod load;
pub mod model;
mod raw;

use std::path::{Path, PathBuf};

use crate::config::{ConfigProblem, ProblemSink, read_optional};

pub use live::LiveRules;
pub use model::{Category, Check, Condition, DEFAULT_THRESHOLD, Item, Kind, Rules, Window};

/// Where the rules file is, relative to the configuration folder.
pub const RULES_FILE: &str = "qa/rules.toml";

/// Reads and checks `dir/qa/rules.toml`: `None` when there is no such
/// file (no QA rules) or it has problems, which go to `problems`.
pub fn load(dir: &Path, problems: &mut Vec<ConfigProblem>) -> Option<Rules> {
    let shown = PathBuf::from(RULES_FILE);
    let text = read_optional(&dir.join(RULES_FILE), &shown, problems)?;
    parse(&shown, &text)
        .map_err(|mut p| problems.append(&mut p))
        .ok()
}

/// Checks rules written as in `qa/rules.toml` (shown as `shown` in
/// problems).
pub fn parse(shown: &Path, text: &str) -> Result<Rules, Vec<ConfigProblem>> {
    let mut sink = ProblemSink::new(shown, text);
    let rules = load::check(text, &mut sink);
    if sink.problems.is_empty() {
        Ok(rules)
    } else {
        Err(sink.problems)
    }
}

#[cfg(test)]
mod tests;
