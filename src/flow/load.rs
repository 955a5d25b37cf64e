//! Reading flow files and building each node of the model from what was
//! written: the keys a node type takes, required keys and defaults, exits
//! naming nodes that exist, prompts (files that exist, voices that exist),
//! expressions, calendars, digits and ranges. Every problem goes to the
//! file's [`ProblemSink`] with its line; checks over the whole graph
//! (reachability, loops) are in `validate.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use toml::{Spanned, Value};

use super::expr::{Expr, is_identifier, is_known_variable, variables_help};
use super::model::*;
use super::raw::{RawFlow, RawNode, keys_of};
use crate::config::ProblemSink;

/// What a flow may refer to outside itself.
pub(super) struct Context<'a> {
    /// The prompts folder, to check that files exist.
    pub prompts_dir: &'a Path,
    /// The prompts folder as shown in messages.
    pub prompts_shown: &'a Path,
    pub calendars: &'a BTreeSet<String>,
    /// Every flow file by name, with its node names when it parsed (a flow
    /// that did not parse has its own problems; references to it are not
    /// checked further).
    pub flows: &'a BTreeMap<String, Option<BTreeSet<String>>>,
}

/// Parses a flow file's text; a syntax or schema problem goes to `sink`.
pub(super) fn parse_raw(text: &str, sink: &mut ProblemSink<'_>) -> Option<RawFlow> {
    match toml::from_str(text) {
        Ok(f) => Some(f),
        Err(e) => {
            sink.toml_error(&e);
            None
        }
    }
}

/// `[a-zA-Z0-9_-]+`: names of flows and nodes.
pub(super) fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_language(s: &str) -> bool {
    (2..=3).contains(&s.len()) && s.chars().all(|c| c.is_ascii_lowercase())
}

/// Builds the flow `name` from its raw form; `None` when anything in it
/// is wrong (each problem is in `sink`).
pub(super) fn build_flow(
    name: &str,
    raw: RawFlow,
    ctx: &Context<'_>,
    sink: &mut ProblemSink<'_>,
) -> Option<Flow> {
    let before = sink.problems.len();
    let node_names: Vec<String> = raw.nodes.keys().cloned().collect();
    let language = match &raw.language {
        Some(l) if !is_language(l.get_ref()) => {
            sink.at_span(
                l.span(),
                "language",
                format!(
                    "`{}` is not a language code; write a lower-case ISO 639 code such as \"en\" or \"zh\"",
                    l.get_ref()
                ),
            );
            "en".to_string()
        }
        Some(l) => l.get_ref().clone(),
        None => "en".to_string(),
    };
    let calendar = raw.calendar.as_ref().map(|c| {
        check_calendar(c, "calendar", ctx, sink);
        c.get_ref().clone()
    });
    if raw.nodes.is_empty() {
        sink.push(
            sink.line_of_key("entry"),
            "nodes",
            "the flow has no nodes; add at least one, e.g. [nodes.start] type = \"hangup\"".into(),
        );
    }
    let mut b = Builder {
        sink,
        ctx,
        node_names: &node_names,
        language: &language,
        flow_calendar: calendar.is_some(),
        field: String::new(),
    };
    b.field = "entry".into();
    b.exit_named(&raw.entry);
    let mut nodes = BTreeMap::new();
    for (node_name, raw_node) in raw.nodes {
        if !is_name(&node_name) {
            b.sink.at_span(
                raw_node.kind.span(),
                &format!("nodes.{node_name}"),
                "a node name is letters, digits, `_` and `-`".into(),
            );
        }
        if let Some(node) = b.node(&node_name, raw_node) {
            nodes.insert(node_name, node);
        }
    }
    (sink.problems.len() == before).then(|| Flow {
        name: name.to_string(),
        entry: raw.entry.into_inner(),
        language,
        calendar,
        nodes,
    })
}

fn check_calendar(
    c: &Spanned<String>,
    field: &str,
    ctx: &Context<'_>,
    sink: &mut ProblemSink<'_>,
) -> bool {
    if ctx.calendars.contains(c.get_ref()) {
        return true;
    }
    sink.at_span(
        c.span(),
        field,
        format!(
            "unknown calendar `{}`; calendars (ivr-flows/calendars.toml): {}",
            c.get_ref(),
            list_or_none(ctx.calendars.iter())
        ),
    );
    false
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = names.map(String::as_str).collect();
    if v.is_empty() {
        "(none defined)".into()
    } else {
        v.join(", ")
    }
}

struct Builder<'a, 's, 'c> {
    sink: &'a mut ProblemSink<'s>,
    ctx: &'a Context<'c>,
    node_names: &'a [String],
    language: &'a str,
    /// The flow names a default calendar.
    flow_calendar: bool,
    /// `nodes.<name>` of the node being built.
    field: String,
}

impl Builder<'_, '_, '_> {
    fn field(&self, key: &str) -> String {
        if self.field.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.field)
        }
    }

    fn problem(&mut self, span: Range<usize>, key: &str, message: String) {
        let field = self.field(key);
        self.sink.at_span(span, &field, message);
    }

    /// The line of `needle` inside `span` (a value spread over lines),
    /// else of the span's start.
    fn problem_at(&mut self, span: &Range<usize>, needle: &str, key: &str, message: String) {
        let text = self.sink_text(span);
        let offset = text
            .and_then(|t| t.find(needle))
            .map_or(span.start, |i| span.start + i);
        self.problem(offset..offset, key, message);
    }

    fn sink_text(&self, span: &Range<usize>) -> Option<&str> {
        self.sink.text().get(span.clone())
    }

    /// An exit (`next = "menu"`): the node must exist.
    fn exit_named(&mut self, target: &Spanned<String>) -> String {
        self.exit_as(target, &self.field.clone())
    }

    fn exit_as(&mut self, target: &Spanned<String>, field: &str) -> String {
        let name = target.get_ref();
        if !self.node_names.iter().any(|n| n == name) {
            self.sink.at_span(
                target.span(),
                field,
                format!(
                    "unknown node `{name}`; nodes are: {}",
                    list_or_none(self.node_names.iter())
                ),
            );
        }
        name.clone()
    }

    fn exit(&mut self, key: &str, target: &Spanned<String>) -> String {
        let field = self.field(key);
        self.exit_as(target, &field)
    }

    /// A key the node type needs.
    fn required<'v, T>(
        &mut self,
        value: &'v Option<Spanned<T>>,
        key: &str,
        type_name: &str,
        at: &Range<usize>,
    ) -> Option<&'v Spanned<T>> {
        if value.is_none() {
            self.problem(
                at.clone(),
                key,
                format!("a `{type_name}` node needs `{key}`"),
            );
        }
        value.as_ref()
    }

    fn required_exit(
        &mut self,
        value: &Option<Spanned<String>>,
        key: &str,
        type_name: &str,
        at: &Range<usize>,
    ) -> String {
        match self.required(value, key, type_name, at) {
            Some(v) => self.exit(key, v),
            None => String::new(),
        }
    }

    fn optional_exit(&mut self, value: &Option<Spanned<String>>, key: &str) -> Option<String> {
        value.as_ref().map(|v| self.exit(key, v))
    }

    /// A whole number in `range`, `default` when absent.
    fn number(
        &mut self,
        value: &Option<Spanned<i64>>,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        default: i64,
    ) -> i64 {
        match value {
            None => default,
            Some(v) if range.contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                self.problem(
                    v.span(),
                    key,
                    format!(
                        "{} is out of range; valid: {} to {}",
                        v.get_ref(),
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    }

    fn duration_ms(&mut self, value: &Option<Spanned<i64>>, key: &str, default: u64) -> u64 {
        self.number(value, key, 100..=600_000, default as i64) as u64
    }

    /// One DTMF key (`0`-`9`, `*`, `#`, `A`-`D`).
    fn key(&mut self, value: &Spanned<String>, key: &str) -> Option<char> {
        let mut chars = value.get_ref().chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if DTMF_KEYS.contains(c) => Some(c),
            _ => {
                self.problem(
                    value.span(),
                    key,
                    format!(
                        "`{}` is not one telephone key; valid: 0-9, *, #, A-D",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn node(&mut self, name: &str, raw: RawNode) -> Option<Node> {
        self.field = format!("nodes.{name}");
        let type_name = raw.kind.get_ref().clone();
        let at = raw.kind.span();
        if !NODE_TYPES.contains(&type_name.as_str()) {
            self.problem(
                at,
                "type",
                format!(
                    "unknown node type `{type_name}`; valid: {}",
                    NODE_TYPES.join(", ")
                ),
            );
            return None;
        }
        let allowed = keys_of(&type_name);
        let before = self.sink.problems.len();
        for (key, span) in raw.present_keys() {
            if !allowed.contains(&key) {
                self.problem(
                    span,
                    key,
                    format!(
                        "`{key}` is not a key of a `{type_name}` node; its keys: {}",
                        if allowed.is_empty() {
                            "(none besides type)".to_string()
                        } else {
                            allowed.join(", ")
                        }
                    ),
                );
            }
        }
        if self.sink.problems.len() > before {
            return None;
        }
        let t = type_name.as_str();
        let kind = match t {
            "play" => NodeKind::Play {
                prompts: self.required_prompts(&raw.prompt, t, &at),
                next: self.required_exit(&raw.next, "next", t, &at),
            },
            "disclosure" => NodeKind::Disclosure {
                prompts: self.required_prompts(&raw.prompt, t, &at),
                opt_out: raw.opt_out.as_ref().and_then(|d| self.key(d, "opt_out")),
                next: self.required_exit(&raw.next, "next", t, &at),
            },
            "menu" => NodeKind::Menu(self.menu(&raw, &at)),
            "collect" => NodeKind::Collect(self.collect(&raw, &at)),
            "branch" => self.branch(&raw, &at),
            "lookup" => NodeKind::Lookup(self.lookup(&raw, &at)),
            "set" => self.set(&raw, &at),
            "queue" => NodeKind::Queue(self.queue(&raw, &at)),
            "callback" => NodeKind::Callback(self.callback(&raw, &at)),
            "voicemail" => NodeKind::Voicemail(Voicemail {
                prompts: self.optional_prompts(&raw.prompt, "prompt"),
                max_seconds: self.number(&raw.max_seconds, "max_seconds", 1..=3600, 120) as u32,
                beep: raw.beep.as_ref().is_none_or(|b| *b.get_ref()),
                next: self.required_exit(&raw.next, "next", t, &at),
            }),
            "transfer" => self.transfer(&raw, &at),
            "hangup" => NodeKind::Hangup,
            "goto" => self.goto(&raw, &at),
            _ => unreachable!("checked against NODE_TYPES"),
        };
        (self.sink.problems.len() == before).then(|| Node {
            name: name.to_string(),
            line: self.sink.line_of(at.start),
            kind,
        })
    }

    fn menu(&mut self, raw: &RawNode, at: &Range<usize>) -> Menu {
        let mut choices = BTreeMap::new();
        if let Some(c) = self.required(&raw.choices, "choices", "menu", at) {
            if c.get_ref().is_empty() {
                self.problem(
                    c.span(),
                    "choices",
                    "no choices; map keys to nodes, e.g. { \"1\" = \"orders\" }".into(),
                );
            }
            for (key, target) in c.get_ref() {
                let field = format!("choices.{key}");
                let mut chars = key.chars();
                match (chars.next(), chars.next()) {
                    (Some(k), None) if DTMF_KEYS.contains(k) => {
                        let node = self.exit(&field, target);
                        choices.insert(k, node);
                    }
                    _ => self.problem(
                        target.span(),
                        &field,
                        format!("`{key}` is not one telephone key; valid: 0-9, *, #, A-D"),
                    ),
                }
            }
        }
        Menu {
            prompts: self.required_prompts(&raw.prompt, "menu", at),
            choices,
            timeout_ms: self.duration_ms(&raw.timeout_ms, "timeout_ms", 5000),
            retries: self.number(&raw.retries, "retries", 0..=10, 2) as u32,
            invalid_prompts: self.optional_prompts(&raw.invalid_prompt, "invalid_prompt"),
            timeout_prompts: self.optional_prompts(&raw.timeout_prompt, "timeout_prompt"),
            exhausted: self.required_exit(&raw.exhausted, "exhausted", "menu", at),
        }
    }

    fn collect(&mut self, raw: &RawNode, at: &Range<usize>) -> Collect {
        let max_digits = match self.required(&raw.max_digits, "max_digits", "collect", at) {
            Some(_) => self.number(&raw.max_digits, "max_digits", 1..=32, 1),
            None => 1,
        };
        let min_digits = self.number(&raw.min_digits, "min_digits", 0..=32, 1);
        if min_digits > max_digits
            && let Some(m) = &raw.min_digits
        {
            self.problem(
                m.span(),
                "min_digits",
                format!("{min_digits} is more than max_digits ({max_digits})"),
            );
        }
        let terminator = match &raw.terminator {
            None => Some('#'),
            Some(t) if t.get_ref().is_empty() => None,
            Some(t) => self.key(t, "terminator"),
        };
        let var = raw.var.as_ref().map(|v| {
            if !is_identifier(v.get_ref()) {
                self.problem(
                    v.span(),
                    "var",
                    format!(
                        "`{}` is not a variable name (letters, digits, `_`); the digits are then also in vars.<name>",
                        v.get_ref()
                    ),
                );
            }
            v.get_ref().clone()
        });
        Collect {
            prompts: self.required_prompts(&raw.prompt, "collect", at),
            min_digits: min_digits as u32,
            max_digits: max_digits as u32,
            terminator,
            first_digit_timeout_ms: self.duration_ms(
                &raw.first_digit_timeout_ms,
                "first_digit_timeout_ms",
                5000,
            ),
            inter_digit_timeout_ms: self.duration_ms(
                &raw.inter_digit_timeout_ms,
                "inter_digit_timeout_ms",
                3000,
            ),
            retries: self.number(&raw.retries, "retries", 0..=10, 2) as u32,
            invalid_prompts: self.optional_prompts(&raw.invalid_prompt, "invalid_prompt"),
            timeout_prompts: self.optional_prompts(&raw.timeout_prompt, "timeout_prompt"),
            var,
            next: self.required_exit(&raw.next, "next", "collect", at),
            exhausted: self.required_exit(&raw.exhausted, "exhausted", "collect", at),
        }
    }

    fn branch(&mut self, raw: &RawNode, at: &Range<usize>) -> NodeKind {
        let on_cases = raw.cases.is_some() || raw.default.is_some();
        let on_calendar = raw.calendar.is_some() || raw.open.is_some() || raw.closed.is_some();
        if on_cases && on_calendar {
            self.problem(
                at.clone(),
                "type",
                "a branch is on `cases` (with `default`) or on a calendar (`open`, `closed`, optional `calendar`), not both; split it in two nodes".into(),
            );
            return NodeKind::Hangup;
        }
        if !on_cases && !on_calendar {
            self.problem(
                at.clone(),
                "type",
                "a `branch` node needs `cases` and `default`, or `open` and `closed` (a calendar branch)".into(),
            );
            return NodeKind::Hangup;
        }
        if on_calendar {
            let calendar = match &raw.calendar {
                Some(c) => {
                    let field = self.field("calendar");
                    check_calendar(c, &field, self.ctx, self.sink);
                    Some(c.get_ref().clone())
                }
                None => {
                    if !self.flow_calendar {
                        self.problem(
                            at.clone(),
                            "calendar",
                            "no calendar: name one here (calendar = \"office\") or give the flow a default (calendar = \"...\" at the top of the file)".into(),
                        );
                    }
                    None
                }
            };
            return NodeKind::Calendar {
                calendar,
                open: self.required_exit(&raw.open, "open", "branch", at),
                closed: self.required_exit(&raw.closed, "closed", "branch", at),
            };
        }
        let mut cases = Vec::new();
        if let Some(list) = self.required(&raw.cases, "cases", "branch", at) {
            if list.get_ref().is_empty() {
                self.problem(
                    list.span(),
                    "cases",
                    "no cases; write e.g. cases = [{ when = \"customer.tier == 'VIP'\", next = \"vip\" }]".into(),
                );
            }
            for (i, case) in list.get_ref().iter().enumerate() {
                let next = self.exit(&format!("cases[{i}].next"), &case.next);
                let text = case.when.get_ref().clone();
                match Expr::parse(&text) {
                    Ok(when) => cases.push(Case { text, when, next }),
                    Err(e) => self.problem(
                        case.when.span(),
                        &format!("cases[{i}].when"),
                        format!("`{text}`: {e}"),
                    ),
                }
            }
        }
        NodeKind::Branch {
            cases,
            default: self.required_exit(&raw.default, "default", "branch", at),
        }
    }

    fn lookup(&mut self, raw: &RawNode, at: &Range<usize>) -> Lookup {
        let source = match self.required(&raw.source, "source", "lookup", at) {
            None => LookupSource::Customers,
            Some(s) => {
                match s.get_ref().as_str() {
                    "customers" => {
                        for (key, v) in [
                            ("url", raw.url.as_ref().map(|u| u.span())),
                            ("timeout_ms", raw.timeout_ms.as_ref().map(|t| t.span())),
                        ] {
                            if let Some(span) = v {
                                self.problem(span, key, "only a `crm` lookup has this; remove it or set source = \"crm\"".into());
                            }
                        }
                        LookupSource::Customers
                    }
                    "crm" => {
                        let (url, placeholders) = match self.required(&raw.url, "url", "lookup", at)
                        {
                            Some(u) => (u.get_ref().clone(), self.url_template(u)),
                            None => (String::new(), Vec::new()),
                        };
                        if raw.failed.is_none() {
                            self.problem(
                            at.clone(),
                            "failed",
                            "a `crm` lookup needs `failed`: where to go when the CRM fails or is slow".into(),
                        );
                        }
                        LookupSource::Crm(CrmRequest {
                            url,
                            placeholders,
                            timeout_ms: self.duration_ms(&raw.timeout_ms, "timeout_ms", 2000),
                        })
                    }
                    other => {
                        self.problem(
                            s.span(),
                            "source",
                            format!("unknown source `{other}`; valid: customers, crm"),
                        );
                        LookupSource::Customers
                    }
                }
            }
        };
        let not_found = self.required_exit(&raw.not_found, "not_found", "lookup", at);
        Lookup {
            source,
            found: self.required_exit(&raw.found, "found", "lookup", at),
            failed: self
                .optional_exit(&raw.failed, "failed")
                .unwrap_or_else(|| not_found.clone()),
            not_found,
        }
    }

    /// `https://crm.example/find?number={caller.number}`: an http(s) URL
    /// whose `{...}` name variables.
    fn url_template(&mut self, url: &Spanned<String>) -> Vec<String> {
        let text = url.get_ref();
        if !(text.starts_with("http://") || text.starts_with("https://")) {
            self.problem(
                url.span(),
                "url",
                format!("`{text}` is not an http:// or https:// URL"),
            );
        }
        let mut names = Vec::new();
        let mut rest = text.as_str();
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                self.problem(url.span(), "url", "a `}` without its `{`".into());
                break;
            }
            let Some(len) = rest[open..].find('}') else {
                self.problem(url.span(), "url", "a `{` without its `}`".into());
                break;
            };
            let name = &rest[open + 1..open + len];
            if !is_known_variable(name) {
                self.problem(
                    url.span(),
                    "url",
                    format!(
                        "unknown variable `{{{name}}}`; variables: {}",
                        variables_help()
                    ),
                );
            }
            names.push(name.to_string());
            rest = &rest[open + len + 1..];
        }
        names
    }

    fn set(&mut self, raw: &RawNode, at: &Range<usize>) -> NodeKind {
        let mut vars = BTreeMap::new();
        if let Some(table) = self.required(&raw.vars, "vars", "set", at) {
            if table.get_ref().is_empty() {
                self.problem(
                    table.span(),
                    "vars",
                    "nothing to set; write e.g. vars = { route = \"'vip'\" }".into(),
                );
            }
            for (name, value) in table.get_ref() {
                let key = format!("vars.{name}");
                if !is_identifier(name) {
                    self.problem(
                        value.span(),
                        &key,
                        format!("`{name}` is not a variable name (letters, digits, `_`)"),
                    );
                    continue;
                }
                let expr = match value.get_ref() {
                    Value::String(s) => match Expr::parse(s) {
                        Ok(e) => e,
                        Err(e) => {
                            self.problem(
                                value.span(),
                                &key,
                                format!("`{s}`: {e} (text values are quoted inside: \"'gold'\")"),
                            );
                            continue;
                        }
                    },
                    Value::Integer(n) => Expr::Literal(super::expr::Value::Number(*n as f64)),
                    Value::Float(n) => Expr::Literal(super::expr::Value::Number(*n)),
                    Value::Boolean(b) => Expr::Literal(super::expr::Value::Bool(*b)),
                    _ => {
                        self.problem(
                            value.span(),
                            &key,
                            "a value is an expression in a string, a number or true/false".into(),
                        );
                        continue;
                    }
                };
                vars.insert(name.clone(), expr);
            }
        }
        NodeKind::Set {
            vars,
            next: self.required_exit(&raw.next, "next", "set", at),
        }
    }

    fn queue(&mut self, raw: &RawNode, at: &Range<usize>) -> Queue {
        let queue = match self.required(&raw.queue, "queue", "queue", at) {
            Some(q) if !is_name(q.get_ref()) => {
                self.problem(
                    q.span(),
                    "queue",
                    format!(
                        "`{}` is not a queue name (letters, digits, `_`, `-`)",
                        q.get_ref()
                    ),
                );
                String::new()
            }
            Some(q) => q.get_ref().clone(),
            None => String::new(),
        };
        let names =
            |b: &mut Self, list: &Option<Spanned<Vec<Spanned<String>>>>, key: &str, what: &str| {
                let mut out = Vec::new();
                for (i, s) in list.iter().flat_map(|l| l.get_ref().iter()).enumerate() {
                    if !is_name(s.get_ref()) {
                        b.problem(
                            s.span(),
                            &format!("{key}[{i}]"),
                            format!(
                                "`{}` is not {what} (letters, digits, `_`, `-`)",
                                s.get_ref()
                            ),
                        );
                    } else if out.contains(s.get_ref()) {
                        b.problem(
                            s.span(),
                            &format!("{key}[{i}]"),
                            format!("`{}` is listed twice", s.get_ref()),
                        );
                    } else {
                        out.push(s.get_ref().clone());
                    }
                }
                out
            };
        let skills = names(self, &raw.skills, "skills", "a skill name");
        let agents = names(self, &raw.agents, "agents", "an extension");
        Queue {
            queue,
            skills,
            agents,
            priority: self.number(&raw.priority, "priority", 0..=100, 0),
            max_wait_seconds: self.number(
                &raw.max_wait_seconds,
                "max_wait_seconds",
                1..=86_400,
                300,
            ) as u32,
            no_answer: self.optional_exit(&raw.no_answer, "no_answer"),
        }
    }

    fn callback(&mut self, raw: &RawNode, at: &Range<usize>) -> Callback {
        let digit = |b: &mut Self, v: &Option<Spanned<String>>, key: &str, default: char| match v {
            Some(d) => b.key(d, key).unwrap_or(default),
            None => default,
        };
        let confirm_digit = digit(self, &raw.confirm_digit, "confirm_digit", '1');
        let change_digit = digit(self, &raw.change_digit, "change_digit", '2');
        if confirm_digit == change_digit {
            let span = raw
                .change_digit
                .as_ref()
                .or(raw.confirm_digit.as_ref())
                .map_or(at.clone(), |d| d.span());
            self.problem(
                span,
                "change_digit",
                format!(
                    "the same key as confirm_digit (`{confirm_digit}`); use two different keys"
                ),
            );
        }
        Callback {
            prompts: self.required_prompts(&raw.prompt, "callback", at),
            confirm_digit,
            change_digit,
            queue: raw.queue.as_ref().map(|q| q.get_ref().clone()),
            next: self.required_exit(&raw.next, "next", "callback", at),
        }
    }

    fn transfer(&mut self, raw: &RawNode, at: &Range<usize>) -> NodeKind {
        let given: Vec<&str> = [
            ("extension", raw.extension.is_some()),
            ("uri", raw.uri.is_some()),
            ("number", raw.number.is_some()),
        ]
        .iter()
        .filter(|(_, p)| *p)
        .map(|(k, _)| *k)
        .collect();
        if given.len() != 1 {
            self.problem(
                at.clone(),
                "type",
                format!(
                    "a `transfer` node needs exactly one of `extension` (an agent), `uri` (a SIP URI) or `number` with `trunk` (out through a trunk); it has {}",
                    if given.is_empty() { "none".to_string() } else { given.join(", ") }
                ),
            );
        }
        if raw.trunk.is_some() != raw.number.is_some()
            && let Some(t) = &raw.trunk
        {
            self.problem(
                t.span(),
                "trunk",
                "`trunk` goes with `number` (the number dialled out through it)".into(),
            );
        }
        let target = if let Some(e) = &raw.extension {
            if !is_name(e.get_ref()) {
                self.problem(
                    e.span(),
                    "extension",
                    format!("`{}` is not an extension", e.get_ref()),
                );
            }
            TransferTarget::Extension(e.get_ref().clone())
        } else if let Some(u) = &raw.uri {
            let text = u.get_ref();
            if !(text.starts_with("sip:") || text.starts_with("sips:")) || text.len() < 6 {
                self.problem(
                    u.span(),
                    "uri",
                    format!("`{text}` is not a SIP URI; write e.g. \"sip:desk@pbx.example.com\""),
                );
            }
            TransferTarget::Uri(text.clone())
        } else if let Some(n) = &raw.number {
            let ok = !n.get_ref().is_empty()
                && n.get_ref()
                    .chars()
                    .enumerate()
                    .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'));
            if !ok {
                self.problem(
                    n.span(),
                    "number",
                    format!(
                        "`{}` is not a phone number; digits, optionally after a +",
                        n.get_ref()
                    ),
                );
            }
            let trunk = match &raw.trunk {
                Some(t) => t.get_ref().clone(),
                None => {
                    self.problem(
                        n.span(),
                        "trunk",
                        "a number needs `trunk`: the trunk profile to call it through".into(),
                    );
                    String::new()
                }
            };
            TransferTarget::Trunk {
                trunk,
                number: n.get_ref().clone(),
            }
        } else {
            TransferTarget::Extension(String::new())
        };
        NodeKind::Transfer {
            target,
            ring_seconds: self.number(&raw.ring_seconds, "ring_seconds", 1..=600, 30) as u32,
            failed: self.optional_exit(&raw.failed, "failed"),
        }
    }

    fn goto(&mut self, raw: &RawNode, at: &Range<usize>) -> NodeKind {
        let Some(flow) = self.required(&raw.flow, "flow", "goto", at) else {
            return NodeKind::Hangup;
        };
        let flow_name = flow.get_ref().clone();
        match self.ctx.flows.get(&flow_name) {
            None => {
                let known: Vec<&String> = self.ctx.flows.keys().collect();
                self.problem(
                    flow.span(),
                    "flow",
                    format!(
                        "unknown flow `{flow_name}`; flows (ivr-flows/*.toml): {}",
                        list_or_none(known.into_iter())
                    ),
                );
            }
            Some(Some(nodes)) => {
                if let Some(n) = &raw.node
                    && !nodes.contains(n.get_ref())
                {
                    self.problem(
                        n.span(),
                        "node",
                        format!(
                            "flow `{flow_name}` has no node `{}`; its nodes: {}",
                            n.get_ref(),
                            list_or_none(nodes.iter())
                        ),
                    );
                }
            }
            Some(None) => {}
        }
        NodeKind::Goto {
            flow: flow_name,
            node: raw.node.as_ref().map(|n| n.get_ref().clone()),
        }
    }

    fn required_prompts(
        &mut self,
        value: &Option<Spanned<Value>>,
        type_name: &str,
        at: &Range<usize>,
    ) -> Vec<Prompt> {
        match self.required(value, "prompt", type_name, at) {
            Some(v) => self.prompts(v, "prompt"),
            None => Vec::new(),
        }
    }

    fn optional_prompts(&mut self, value: &Option<Spanned<Value>>, key: &str) -> Vec<Prompt> {
        value
            .as_ref()
            .map_or_else(Vec::new, |v| self.prompts(v, key))
    }

    /// One prompt or a list of them.
    fn prompts(&mut self, value: &Spanned<Value>, key: &str) -> Vec<Prompt> {
        let span = value.span();
        match value.get_ref() {
            Value::Array(items) => {
                if items.is_empty() {
                    self.problem(span.clone(), key, "no prompt in the list".into());
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| self.prompt(item, &span, &format!("{key}[{i}]")))
                    .collect()
            }
            other => self.prompt(other, &span, key).into_iter().collect(),
        }
    }

    fn prompt(&mut self, value: &Value, span: &Range<usize>, key: &str) -> Option<Prompt> {
        match value {
            Value::Table(t) if !t.contains_key("say") => {
                let mut map = BTreeMap::new();
                for (lang, v) in t {
                    let field = format!("{key}.{lang}");
                    if !is_language(lang) {
                        self.problem_at(
                            span,
                            lang,
                            &field,
                            format!(
                                "`{lang}` is not a language code; a prompt per language is {{ en = ..., zh = ... }}; a spoken one is {{ say = \"...\", voice = \"en\" }}"
                            ),
                        );
                        continue;
                    }
                    if let Some(item) = self.item(v, span, &field, lang) {
                        map.insert(lang.clone(), item);
                    }
                }
                if !t.is_empty() && !t.contains_key(self.language) {
                    let first = t.keys().next().cloned().unwrap_or_default();
                    self.problem_at(
                        span,
                        &first,
                        key,
                        format!(
                            "no `{}` variant (the flow's language, played when the caller's has none); add one",
                            self.language
                        ),
                    );
                }
                if t.is_empty() {
                    self.problem(span.clone(), key, "an empty prompt".into());
                }
                Some(Prompt::ByLanguage(map))
            }
            other => {
                let language = self.language.to_string();
                self.item(other, span, key, &language).map(Prompt::One)
            }
        }
    }

    /// A file name or `{ say = "...", voice = "..." }`; `language` picks
    /// the default voice.
    fn item(
        &mut self,
        value: &Value,
        span: &Range<usize>,
        key: &str,
        language: &str,
    ) -> Option<PromptItem> {
        match value {
            Value::String(file) => self.file(file, span, key).map(PromptItem::File),
            Value::Table(t) if t.contains_key("say") => {
                let text = match t.get("say") {
                    Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                    _ => {
                        self.problem_at(
                            span,
                            "say",
                            key,
                            "`say` is the text to speak, a non-empty string".into(),
                        );
                        return None;
                    }
                };
                for k in t.keys().filter(|k| *k != "say" && *k != "voice") {
                    self.problem_at(
                        span,
                        k,
                        &format!("{key}.{k}"),
                        "a spoken prompt has `say` and `voice` only".into(),
                    );
                }
                let voice = match t.get("voice") {
                    Some(Value::String(v)) if VOICES.contains(&v.as_str()) => v.clone(),
                    Some(v) => {
                        let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        self.problem_at(
                            span,
                            &shown,
                            &format!("{key}.voice"),
                            format!("unknown voice `{shown}`; valid: {}", VOICES.join(", ")),
                        );
                        return None;
                    }
                    None => match default_voice(language) {
                        Some(v) => v.to_string(),
                        None => {
                            self.problem_at(
                                span,
                                &text,
                                key,
                                format!(
                                    "no voice for `{language}`; add voice = one of {}",
                                    VOICES.join(", ")
                                ),
                            );
                            return None;
                        }
                    },
                };
                Some(PromptItem::Say { text, voice })
            }
            _ => {
                self.problem(
                    span.clone(),
                    key,
                    "a prompt is a file in the prompts folder (\"en/menu.wav\"), spoken text ({ say = \"...\", voice = \"en\" }), per language ({ en = ..., zh = ... }), or a list of these".into(),
                );
                None
            }
        }
    }

    /// A prompt file: relative, inside the prompts folder, existing.
    fn file(&mut self, name: &str, span: &Range<usize>, key: &str) -> Option<PathBuf> {
        let path = PathBuf::from(name);
        let inside =
            !name.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            self.problem_at(
                span,
                name,
                key,
                format!("`{name}` must be a path inside the prompts folder, like \"en/menu.wav\" (no leading /, no ..)"),
            );
            return None;
        }
        let full = self.ctx.prompts_dir.join(&path);
        if full.is_file() {
            return Some(path);
        }
        let shown = self.ctx.prompts_shown.join(&path);
        let folder = full.parent().unwrap_or(self.ctx.prompts_dir);
        let mut near: Vec<String> = std::fs::read_dir(folder)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        near.sort();
        let hint = if near.is_empty() {
            String::new()
        } else {
            let parent = path
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let listed: Vec<String> = near
                .iter()
                .take(12)
                .map(|n| {
                    if parent.is_empty() {
                        n.clone()
                    } else {
                        format!("{parent}/{n}")
                    }
                })
                .collect();
            format!(
                "; files there: {}{}",
                listed.join(", "),
                if near.len() > 12 { ", ..." } else { "" }
            )
        };
        self.problem_at(
            span,
            name,
            key,
            format!(
                "missing prompt file `{name}` ({} does not exist){hint}",
                shown.display()
            ),
        );
        None
    }
}
