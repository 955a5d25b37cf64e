//! The QA rules a running switch (or `switchboard qa worker`) checks calls
//! with: read by each job when it starts, replaced whole when
//! `qa/rules.toml` is read again (SIGHUP, `switchboard reload`) and has no
//! problem. A job in progress keeps the rules it started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::{RULES_FILE, Rules, load};
use crate::config::ConfigProblem;

/// The rules in force, swappable.
#[derive(Debug)]
pub struct LiveRules {
    current: RwLock<Arc<Rules>>,
}

impl LiveRules {
    pub fn new(rules: Arc<Rules>) -> Self {
        Self {
            current: RwLock::new(rules),
        }
    }

    /// The rules a job starting now uses.
    pub fn current(&self) -> Arc<Rules> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads `dir/qa/rules.toml` again. The new rules replace the current
    /// ones only when the file is there and has no problem; otherwise the
    /// current ones stay and the problems (file, line, field) are returned.
    pub fn reload(&self, dir: &Path) -> Result<Arc<Rules>, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let Some(rules) = load(dir, &mut problems) else {
            if problems.is_empty() {
                problems.push(ConfigProblem {
                    file: PathBuf::from(RULES_FILE),
                    line: 0,
                    field: String::new(),
                    message:
                        "the file is gone; QA keeps its rules (a restart without it turns QA off)"
                            .into(),
                });
            }
            return Err(problems);
        };
        let rules = Arc::new(rules);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = rules.clone();
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "[[category]]\nname = \"attitude\"\nweight = 1\n\n\
        [[category.item]]\nid = \"greeting\"\nkind = \"required\"\nphrases = [\"thank you for calling\"]\n";

    fn rules_dir(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir(dir.path().join("qa")).expect("qa/");
        std::fs::write(dir.path().join(RULES_FILE), text).expect("write");
        dir
    }

    fn ids(rules: &Rules) -> Vec<String> {
        rules.items().map(|(_, item)| item.id.clone()).collect()
    }

    #[test]
    fn a_valid_file_replaces_the_rules_and_a_broken_one_keeps_them() {
        let dir = rules_dir(RULES);
        let first = load(dir.path(), &mut Vec::new()).expect("valid rules");
        let live = LiveRules::new(Arc::new(first));
        let held = live.current();
        assert_eq!(ids(&held), ["greeting"]);

        let renamed = RULES.replace("\"greeting\"", "\"welcome\"");
        std::fs::write(dir.path().join(RULES_FILE), &renamed).expect("write");
        let reloaded = live.reload(dir.path()).expect("reloaded");
        assert_eq!(ids(&reloaded), ["welcome"]);
        assert_eq!(ids(&live.current()), ["welcome"]);
        // What a job in progress holds does not change under it.
        assert_eq!(ids(&held), ["greeting"]);

        let broken = renamed.replace("kind = \"required\"", "kind = \"maybe\"");
        std::fs::write(dir.path().join(RULES_FILE), broken).expect("write");
        let problems = live.reload(dir.path()).expect_err("refused");
        let shown = problems[0].to_string();
        assert!(shown.starts_with("qa/rules.toml:7: "), "{shown}");
        assert!(shown.contains("kind"), "{shown}");
        assert_eq!(ids(&live.current()), ["welcome"]);

        std::fs::remove_file(dir.path().join(RULES_FILE)).expect("remove");
        let problems = live.reload(dir.path()).expect_err("refused");
        assert!(problems[0].message.contains("gone"), "{problems:?}");
        assert_eq!(ids(&live.current()), ["welcome"]);
    }
}
