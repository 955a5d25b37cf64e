//! User-Agent block list: case-insensitive substring match against known
//! scanner signatures.

/// Compiled block list.
#[derive(Debug, Clone, Default)]
pub struct UserAgentFilter {
    /// Lower-cased, non-empty patterns paired with their configured spelling.
    patterns: Vec<(String, String)>,
}

impl UserAgentFilter {
    /// Builds the filter; empty patterns are ignored.
    pub fn new<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns = patterns
            .into_iter()
            .map(|p| p.as_ref().trim().to_owned())
            .filter(|p| !p.is_empty())
            .map(|p| (p.to_lowercase(), p))
            .collect();
        UserAgentFilter { patterns }
    }

    /// The configured pattern matching `user_agent`, if any.
    pub fn matches(&self, user_agent: &str) -> Option<&str> {
        if self.patterns.is_empty() {
            return None;
        }
        let ua = user_agent.to_lowercase();
        self.patterns
            .iter()
            .find(|(lower, _)| ua.contains(lower.as_str()))
            .map(|(_, original)| original.as_str())
    }
}
