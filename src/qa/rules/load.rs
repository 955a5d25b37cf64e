//! Checks the rules file as written into the model, reporting every
//! problem with line, field and what would be valid.

use std::ops::Range;

use toml::Spanned;

use super::model::{Category, Check, Condition, DEFAULT_THRESHOLD, Item, Kind, Rules, Window};
use super::raw::{Phrases, RawCategory, RawFile, RawItem};
use crate::config::ProblemSink;
use crate::qa::Channel;
use crate::qa::matcher::Phrase;

/// The rules in `text`, as far as they are valid; problems go to `sink`.
pub fn check(text: &str, sink: &mut ProblemSink<'_>) -> Rules {
    let file: RawFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            sink.toml_error(&e);
            return Rules::default();
        }
    };
    let threshold = file
        .matching
        .as_ref()
        .and_then(|m| m.threshold.as_ref())
        .and_then(|t| threshold(t, "matching.threshold", sink))
        .unwrap_or(DEFAULT_THRESHOLD);
    if file.category.is_empty() {
        sink.push(
            0,
            "category",
            "no [[category]]; add one with its [[category.item]]s, or remove the file for no QA rules"
                .into(),
        );
    }
    let mut ids: Vec<(String, usize)> = Vec::new();
    let mut categories: Vec<Category> = Vec::new();
    for (c, raw) in file.category.iter().enumerate() {
        let field = format!("category[{c}]");
        if let Some(cat) = category(raw, &field, &categories, &mut ids, sink) {
            categories.push(cat);
        }
    }
    Rules {
        threshold,
        categories,
    }
}

fn category(
    raw: &Spanned<RawCategory>,
    field: &str,
    others: &[Category],
    ids: &mut Vec<(String, usize)>,
    sink: &mut ProblemSink<'_>,
) -> Option<Category> {
    let (at, c) = (raw.span(), raw.get_ref());
    let name = match &c.name {
        None => {
            sink.at_span(
                at.clone(),
                &format!("{field}.name"),
                "missing `name` (attitude, process...)".into(),
            );
            None
        }
        Some(n) if n.get_ref().trim().is_empty() => {
            sink.at_span(n.span(), &format!("{field}.name"), "empty name".into());
            None
        }
        Some(n) if others.iter().any(|o| &o.name == n.get_ref()) => {
            sink.at_span(
                n.span(),
                &format!("{field}.name"),
                format!("category `{}` is defined twice", n.get_ref()),
            );
            None
        }
        Some(n) => Some(n.get_ref().clone()),
    };
    let weight = weight(&c.weight, &format!("{field}.weight"), sink);
    if c.item.is_empty() {
        sink.at_span(
            at,
            &format!("{field}.item"),
            "no [[category.item]] in this category".into(),
        );
    }
    let mut items = Vec::new();
    for (i, raw) in c.item.iter().enumerate() {
        if let Some(item) = item(raw, &format!("{field}.item[{i}]"), ids, sink) {
            items.push(item);
        }
    }
    Some(Category {
        name: name?,
        weight: weight?,
        items,
    })
}

/// Keys each kind takes besides id, kind, description, weight and fatal.
fn fields_of(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Banned => &["channel", "threshold", "phrases"],
        Kind::Required => &[
            "channel",
            "threshold",
            "phrases",
            "within_first_seconds",
            "within_last_seconds",
            "when_caller_says",
            "when_agent_says",
        ],
        Kind::Resolution => &["channel", "threshold", "commitments", "deflections"],
        Kind::Silence => &["max_seconds"],
        Kind::Overtalk => &["max_percent"],
        Kind::Hold => &["max_minutes"],
    }
}

fn item(
    raw: &Spanned<RawItem>,
    field: &str,
    ids: &mut Vec<(String, usize)>,
    sink: &mut ProblemSink<'_>,
) -> Option<Item> {
    let (at, r) = (raw.span(), raw.get_ref());
    let f = |k: &str| format!("{field}.{k}");
    let id = match &r.id {
        None => {
            sink.at_span(
                at.clone(),
                &f("id"),
                "missing `id` (letters, digits, `_`, `-`; unique in the file)".into(),
            );
            None
        }
        Some(id) => {
            let (text, line) = (id.get_ref(), sink.line_of(id.span().start));
            if !is_id(text) {
                sink.at_span(
                    id.span(),
                    &f("id"),
                    format!("`{text}` is not an id; valid: letters, digits, `_`, `-`"),
                );
                None
            } else if let Some((_, first)) = ids.iter().find(|(o, _)| o == text) {
                let message =
                    format!("item `{text}` is already defined on line {first}; ids are unique");
                sink.at_span(id.span(), &f("id"), message);
                None
            } else {
                ids.push((text.clone(), line));
                Some(text.clone())
            }
        }
    };
    let kinds = || Kind::ALL.map(Kind::as_str).join(", ");
    let kind = match &r.kind {
        None => {
            sink.at_span(
                at.clone(),
                &f("kind"),
                format!("missing `kind`; valid: {}", kinds()),
            );
            None
        }
        Some(k) => Kind::from_name(k.get_ref()).or_else(|| {
            let message = format!("`{}` is not a kind; valid: {}", k.get_ref(), kinds());
            sink.at_span(k.span(), &f("kind"), message);
            None
        }),
    };
    let weight = weight(&r.weight, &f("weight"), sink);
    let channel = match &r.channel {
        None => Some(Channel::Agent),
        Some(c) => channel(c.get_ref()).or_else(|| {
            let message = format!("`{}` is not a channel; valid: agent, caller", c.get_ref());
            sink.at_span(c.span(), &f("channel"), message);
            None
        }),
    };
    let item_threshold = r
        .threshold
        .as_ref()
        .map(|t| threshold(t, &f("threshold"), sink));
    let kind = kind?;
    let allowed = fields_of(kind);
    for (key, span) in r.specific() {
        if !allowed.contains(&key) {
            sink.at_span(
                span,
                &f(key),
                format!(
                    "`{key}` is not a field of `{}` items; theirs: {}",
                    kind.as_str(),
                    allowed.join(", ")
                ),
            );
        }
    }
    let check = check_of(kind, r, &at, &f, sink)?;
    Some(Item {
        id: id?,
        description: r.description.clone().unwrap_or_default(),
        weight: weight?,
        fatal: r.fatal.unwrap_or(false),
        channel: channel?,
        threshold: match item_threshold {
            None => None,
            Some(t) => Some(t?),
        },
        check,
    })
}

fn check_of(
    kind: Kind,
    r: &RawItem,
    at: &Range<usize>,
    f: &dyn Fn(&str) -> String,
    sink: &mut ProblemSink<'_>,
) -> Option<Check> {
    let needed = |v: &Option<Phrases>, key: &str, sink: &mut ProblemSink<'_>| match v {
        Some(v) => phrases(v, &f(key), sink),
        None => {
            let message = format!("a `{}` item needs `{key} = [\"...\", ...]`", kind.as_str());
            sink.at_span(at.clone(), &f(key), message);
            None
        }
    };
    let limit =
        |v: &Option<Spanned<f64>>, key: &str, unit: &str, max, sink: &mut ProblemSink<'_>| {
            let Some(v) = v else {
                let message = format!("a `{}` item needs `{key}`", kind.as_str());
                sink.at_span(at.clone(), &f(key), message);
                return None;
            };
            in_range(v, 0.0, max, true, unit, &f(key), sink)
        };
    Some(match kind {
        Kind::Banned => Check::Banned {
            phrases: needed(&r.phrases, "phrases", sink)?,
        },
        Kind::Required => {
            let phrases = needed(&r.phrases, "phrases", sink);
            let window = window(r, at, f, sink);
            let condition = condition(r, at, f, sink);
            Check::Required {
                phrases: phrases?,
                window: window?,
                condition: condition?,
            }
        }
        Kind::Resolution => {
            let commitments = needed(&r.commitments, "commitments", sink);
            let deflections = match &r.deflections {
                None => Some(Vec::new()),
                Some(d) => phrases(d, &f("deflections"), sink),
            };
            Check::Resolution {
                commitments: commitments?,
                deflections: deflections?,
            }
        }
        Kind::Silence => Check::Silence {
            max_seconds: limit(&r.max_seconds, "max_seconds", "seconds", f64::MAX, sink)?,
        },
        Kind::Overtalk => Check::Overtalk {
            max_percent: limit(&r.max_percent, "max_percent", "percent", 100.0, sink)?,
        },
        Kind::Hold => Check::Hold {
            max_minutes: limit(&r.max_minutes, "max_minutes", "minutes", f64::MAX, sink)?,
        },
    })
}

fn window(
    r: &RawItem,
    at: &Range<usize>,
    f: &dyn Fn(&str) -> String,
    sink: &mut ProblemSink<'_>,
) -> Option<Window> {
    let seconds = |v: &Spanned<f64>, key: &str, sink: &mut ProblemSink<'_>| {
        in_range(v, 0.0, f64::MAX, false, "seconds", &f(key), sink)
    };
    match (&r.within_first_seconds, &r.within_last_seconds) {
        (None, None) => Some(Window::Anywhere),
        (Some(v), None) => seconds(v, "within_first_seconds", sink).map(Window::FirstSeconds),
        (None, Some(v)) => seconds(v, "within_last_seconds", sink).map(Window::LastSeconds),
        (Some(_), Some(_)) => {
            sink.at_span(
                at.clone(),
                &f("within_last_seconds"),
                "give one of within_first_seconds or within_last_seconds (two windows: two items)"
                    .into(),
            );
            None
        }
    }
}

/// `Some(None)`: no condition; `None`: a wrong one.
fn condition(
    r: &RawItem,
    at: &Range<usize>,
    f: &dyn Fn(&str) -> String,
    sink: &mut ProblemSink<'_>,
) -> Option<Option<Condition>> {
    let (channel, list, key) = match (&r.when_caller_says, &r.when_agent_says) {
        (None, None) => return Some(None),
        (Some(l), None) => (Channel::Caller, l, "when_caller_says"),
        (None, Some(l)) => (Channel::Agent, l, "when_agent_says"),
        (Some(_), Some(_)) => {
            sink.at_span(
                at.clone(),
                &f("when_agent_says"),
                "give one of when_caller_says or when_agent_says".into(),
            );
            return None;
        }
    };
    let phrases = phrases(list, &f(key), sink)?;
    Some(Some(Condition { channel, phrases }))
}

fn phrases(v: &Phrases, field: &str, sink: &mut ProblemSink<'_>) -> Option<Vec<Phrase>> {
    if v.get_ref().is_empty() {
        sink.at_span(
            v.span(),
            field,
            "no phrases; give at least one, e.g. [\"thank you for calling\"]".into(),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, p) in v.get_ref().iter().enumerate() {
        let phrase = Phrase::new(p.get_ref());
        let problem = if p.get_ref().trim().is_empty() {
            "empty phrase; write the words to listen for".to_string()
        } else if phrase.is_empty() {
            format!(
                "`{}` has no words to listen for (letters, digits or Chinese characters)",
                p.get_ref()
            )
        } else {
            out.push(phrase);
            continue;
        };
        sink.at_span(p.span(), &format!("{field}[{i}]"), problem);
        ok = false;
    }
    ok.then_some(out)
}

fn weight(v: &Option<Spanned<f64>>, field: &str, sink: &mut ProblemSink<'_>) -> Option<f64> {
    match v {
        None => Some(1.0),
        Some(v) => in_range(v, 0.0, f64::MAX, false, "", field, sink),
    }
}

fn threshold(v: &Spanned<f64>, field: &str, sink: &mut ProblemSink<'_>) -> Option<f64> {
    in_range(v, 0.0, 1.0, false, "", field, sink)
}

/// `v` within `min` (included when `min_ok`) to `max`.
fn in_range(
    v: &Spanned<f64>,
    min: f64,
    max: f64,
    min_ok: bool,
    unit: &str,
    field: &str,
    sink: &mut ProblemSink<'_>,
) -> Option<f64> {
    let x = *v.get_ref();
    if x.is_finite() && (x > min || (min_ok && x == min)) && x <= max {
        return Some(x);
    }
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    let low = if min_ok {
        format!("{min}")
    } else {
        format!("more than {min}")
    };
    let valid = if max == f64::MAX {
        format!("{low}{unit}")
    } else {
        format!("{low} up to {max}{unit}")
    };
    sink.at_span(
        v.span(),
        field,
        format!("{x} is out of range; valid: {valid}"),
    );
    None
}

fn channel(name: &str) -> Option<Channel> {
    match name {
        "agent" => Some(Channel::Agent),
        "caller" => Some(Channel::Caller),
        _ => None,
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
