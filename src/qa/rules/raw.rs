//! The rules file as written (`qa/rules.toml`): serde shapes with spans,
//! unknown keys refused. Checking them into the model is `load`'s job.

use serde::Deserialize;
use toml::Spanned;

pub type Phrases = Spanned<Vec<Spanned<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub matching: Option<RawMatching>,
    #[serde(default)]
    pub category: Vec<Spanned<RawCategory>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatching {
    pub threshold: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCategory {
    pub name: Option<Spanned<String>>,
    pub weight: Option<Spanned<f64>>,
    #[serde(default)]
    pub item: Vec<Spanned<RawItem>>,
}

/// Every key any kind takes; which ones a kind accepts is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawItem {
    pub id: Option<Spanned<String>>,
    pub kind: Option<Spanned<String>>,
    pub description: Option<String>,
    pub weight: Option<Spanned<f64>>,
    pub fatal: Option<bool>,
    pub channel: Option<Spanned<String>>,
    pub threshold: Option<Spanned<f64>>,
    pub phrases: Option<Phrases>,
    pub within_first_seconds: Option<Spanned<f64>>,
    pub within_last_seconds: Option<Spanned<f64>>,
    pub when_caller_says: Option<Phrases>,
    pub when_agent_says: Option<Phrases>,
    pub commitments: Option<Phrases>,
    pub deflections: Option<Phrases>,
    pub max_seconds: Option<Spanned<f64>>,
    pub max_percent: Option<Spanned<f64>>,
    pub max_minutes: Option<Spanned<f64>>,
}

impl RawItem {
    /// The kind-specific keys present, with where they are written.
    pub fn specific(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let list = |v: &Option<Phrases>| v.as_ref().map(|v| v.span());
        let num = |v: &Option<Spanned<f64>>| v.as_ref().map(|v| v.span());
        [
            ("channel", self.channel.as_ref().map(|v| v.span())),
            ("threshold", num(&self.threshold)),
            ("phrases", list(&self.phrases)),
            ("within_first_seconds", num(&self.within_first_seconds)),
            ("within_last_seconds", num(&self.within_last_seconds)),
            ("when_caller_says", list(&self.when_caller_says)),
            ("when_agent_says", list(&self.when_agent_says)),
            ("commitments", list(&self.commitments)),
            ("deflections", list(&self.deflections)),
            ("max_seconds", num(&self.max_seconds)),
            ("max_percent", num(&self.max_percent)),
            ("max_minutes", num(&self.max_minutes)),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect()
    }
}
