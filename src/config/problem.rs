//! Configuration problems: one finding in one file, located by line and
//! field, worded so an engineer knows what to change.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file, as given (relative to the configuration folder when possible).
    pub file: PathBuf,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: usize,
    /// Dotted path of the field, e.g. `access.allow[1]`; empty for the file.
    pub field: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = if self.field.is_empty() {
            "-"
        } else {
            &self.field
        };
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            field,
            self.message
        )
    }
}

/// Collects problems for one file, turning byte offsets into line numbers.
pub struct ProblemSink<'a> {
    file: &'a Path,
    text: &'a str,
    pub problems: Vec<ConfigProblem>,
}

impl<'a> ProblemSink<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Self {
            file,
            text,
            problems: Vec::new(),
        }
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        self.text
    }

    /// The 1-based line holding byte `offset` of the file.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// The line where `key = ...` is first written, for fields that have no
    /// span of their own (a missing required table, say). Falls back to 0.
    pub fn line_of_key(&self, key: &str) -> usize {
        self.text
            .lines()
            .position(|l| {
                let l = l.trim_start();
                l.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
                    || l == format!("[{key}]")
            })
            .map_or(0, |i| i + 1)
    }

    pub fn at_span(&mut self, span: std::ops::Range<usize>, field: &str, message: String) {
        let line = self.line_of(span.start);
        self.push(line, field, message);
    }

    pub fn push(&mut self, line: usize, field: &str, message: String) {
        self.problems.push(ConfigProblem {
            file: self.file.to_path_buf(),
            line,
            field: field.to_string(),
            message,
        });
    }

    /// Records a TOML syntax or schema error from the `toml` crate.
    pub fn toml_error(&mut self, err: &toml::de::Error) {
        let line = err.span().map_or(0, |s| self.line_of(s.start));
        let message = err.message().replace('\n', " ");
        let field = field_from_message(&message);
        self.push(line, &field, message);
    }
}

/// Pulls the offending key out of serde's wording (`unknown field `x``,
/// `missing field `y``) so the line says which field is meant.
fn field_from_message(message: &str) -> String {
    for prefix in ["unknown field `", "missing field `", "duplicate key `"] {
        if let Some(rest) = message.split(prefix).nth(1)
            && let Some(name) = rest.split('`').next()
        {
            return name.to_string();
        }
    }
    String::new()
}

/// Reads an optional configuration file: `None` when it does not exist;
/// any other read error is a problem of the file `shown`.
pub fn read_optional(
    path: &Path,
    shown: &Path,
    problems: &mut Vec<ConfigProblem>,
) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            problems.push(ConfigProblem {
                file: shown.to_path_buf(),
                line: 0,
                field: String::new(),
                message: format!("cannot read {}: {e}", path.display()),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_from_one() {
        let text = "a = 1\nb = 2\n[c]\nd = 3\n";
        let sink = ProblemSink::new(Path::new("x.toml"), text);
        assert_eq!(sink.line_of(0), 1);
        assert_eq!(sink.line_of(6), 2);
        assert_eq!(sink.line_of_key("d"), 4);
        assert_eq!(sink.line_of_key("c"), 3);
        assert_eq!(sink.line_of_key("zz"), 0);
    }

    #[test]
    fn display_names_file_line_and_field() {
        let p = ConfigProblem {
            file: "sip-profiles/carrier.toml".into(),
            line: 3,
            field: "listen[0]".into(),
            message: "bad".into(),
        };
        assert_eq!(p.to_string(), "sip-profiles/carrier.toml:3: listen[0]: bad");
    }

    #[test]
    fn field_is_taken_from_serde_wording() {
        assert_eq!(
            field_from_message("unknown field `lisen`, expected one of `listen`"),
            "lisen"
        );
        assert_eq!(field_from_message("invalid type"), "");
    }
}
