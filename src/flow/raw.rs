//! A flow file as written: what serde reads from `ivr-flows/<name>.toml`,
//! with the position of every value so problems name their line. One
//! struct holds the keys of every node type; which keys a type takes is
//! checked when the model is built (`load.rs`).

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::{Spanned, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFlow {
    pub entry: Spanned<String>,
    pub language: Option<Spanned<String>>,
    pub calendar: Option<Spanned<String>>,
    /// Free text for people reading the file.
    #[allow(dead_code)]
    pub description: Option<String>,
    pub nodes: BTreeMap<String, RawNode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub next: Option<Spanned<String>>,
    pub prompt: Option<Spanned<Value>>,
    // disclosure
    pub opt_out: Option<Spanned<String>>,
    // menu, collect
    pub choices: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub timeout_ms: Option<Spanned<i64>>,
    pub min_digits: Option<Spanned<i64>>,
    pub max_digits: Option<Spanned<i64>>,
    pub terminator: Option<Spanned<String>>,
    pub first_digit_timeout_ms: Option<Spanned<i64>>,
    pub inter_digit_timeout_ms: Option<Spanned<i64>>,
    pub retries: Option<Spanned<i64>>,
    pub invalid_prompt: Option<Spanned<Value>>,
    pub timeout_prompt: Option<Spanned<Value>>,
    pub var: Option<Spanned<String>>,
    pub exhausted: Option<Spanned<String>>,
    // branch
    pub cases: Option<Spanned<Vec<RawCase>>>,
    pub default: Option<Spanned<String>>,
    pub calendar: Option<Spanned<String>>,
    pub open: Option<Spanned<String>>,
    pub closed: Option<Spanned<String>>,
    // lookup
    pub source: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub found: Option<Spanned<String>>,
    pub not_found: Option<Spanned<String>>,
    pub failed: Option<Spanned<String>>,
    // set
    pub vars: Option<Spanned<BTreeMap<String, Spanned<Value>>>>,
    // queue
    pub queue: Option<Spanned<String>>,
    pub skills: Option<Spanned<Vec<Spanned<String>>>>,
    pub priority: Option<Spanned<i64>>,
    pub agents: Option<Spanned<Vec<Spanned<String>>>>,
    pub max_wait_seconds: Option<Spanned<i64>>,
    pub no_answer: Option<Spanned<String>>,
    // callback
    pub confirm_digit: Option<Spanned<String>>,
    pub change_digit: Option<Spanned<String>>,
    // voicemail
    pub max_seconds: Option<Spanned<i64>>,
    pub beep: Option<Spanned<bool>>,
    // transfer
    pub extension: Option<Spanned<String>>,
    pub uri: Option<Spanned<String>>,
    pub number: Option<Spanned<String>>,
    pub trunk: Option<Spanned<String>>,
    pub ring_seconds: Option<Spanned<i64>>,
    // goto
    pub flow: Option<Spanned<String>>,
    pub node: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCase {
    pub when: Spanned<String>,
    pub next: Spanned<String>,
}

macro_rules! present {
    ($node:expr; $($key:ident),* $(,)?) => {{
        let mut keys: Vec<(&'static str, Range<usize>)> = Vec::new();
        $( if let Some(v) = &$node.$key { keys.push((stringify!($key), v.span())); } )*
        keys
    }};
}

impl RawNode {
    /// The keys written for this node besides `type`, with where.
    pub fn present_keys(&self) -> Vec<(&'static str, Range<usize>)> {
        present!(self;
            next, prompt, opt_out, choices, timeout_ms, min_digits, max_digits, terminator,
            first_digit_timeout_ms, inter_digit_timeout_ms, retries, invalid_prompt,
            timeout_prompt, var, exhausted, cases, default, calendar, open, closed, source, url,
            found, not_found, failed, vars, queue, skills, priority, agents, max_wait_seconds,
            no_answer, confirm_digit, change_digit, max_seconds, beep, extension, uri, number,
            trunk, ring_seconds, flow, node,
        )
    }
}

/// The keys each node type takes (besides `type`).
pub(super) fn keys_of(node_type: &str) -> &'static [&'static str] {
    match node_type {
        "play" => &["prompt", "next"],
        "disclosure" => &["prompt", "opt_out", "next"],
        "menu" => &[
            "prompt",
            "choices",
            "timeout_ms",
            "retries",
            "invalid_prompt",
            "timeout_prompt",
            "exhausted",
        ],
        "collect" => &[
            "prompt",
            "min_digits",
            "max_digits",
            "terminator",
            "first_digit_timeout_ms",
            "inter_digit_timeout_ms",
            "retries",
            "invalid_prompt",
            "timeout_prompt",
            "var",
            "next",
            "exhausted",
        ],
        "branch" => &["cases", "default", "calendar", "open", "closed"],
        "lookup" => &[
            "source",
            "url",
            "timeout_ms",
            "found",
            "not_found",
            "failed",
        ],
        "set" => &["vars", "next"],
        "queue" => &[
            "queue",
            "skills",
            "priority",
            "agents",
            "max_wait_seconds",
            "no_answer",
        ],
        "callback" => &["prompt", "confirm_digit", "change_digit", "queue", "next"],
        "voicemail" => &["prompt", "max_seconds", "beep", "next"],
        "transfer" => &[
            "extension",
            "uri",
            "number",
            "trunk",
            "ring_seconds",
            "failed",
        ],
        "hangup" => &[],
        "goto" => &["flow", "node"],
        _ => &[],
    }
}
