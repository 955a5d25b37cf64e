//! A call's QA score: every item of the rules checked against what each
//! channel said and the call's signal figures, with the evidence a QA lead
//! needs to agree or not (where, what was heard, the figure).
//!
//! Scoring: an item that does not apply (n/a) is left out; a category's
//! score is the weight of its passed items over the weight of its items
//! that applied, 0..100 (none when nothing applied); the call's score is
//! the categories' scores weighted by their weights (100 when nothing
//! applied at all), and 0 when a fatal item failed. Scores are rounded to
//! one decimal.
//!
//! It also lists the phrases each channel must be listened for, for
//! recognizers that spot phrases rather than transcribe, and renders a
//! score as text for the command line.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::asr::Transcript;
use super::matcher::{Hit, Phrase, Spoken};
use super::rules::{Check, Item, Rules, Window};
use super::signal::Signals;
use super::{Channel, Span};

/// Evidence kept per item at most (a banned phrase said 40 times).
const MAX_EVIDENCE: usize = 10;

/// The QA result of one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallScore {
    /// 0..100.
    pub score: f64,
    /// Fatal items that failed (the score is then 0).
    pub fatal: Vec<String>,
    pub categories: Vec<CategoryScore>,
    pub items: Vec<ItemResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub name: String,
    pub weight: f64,
    /// 0..100; `None` when none of its items applied.
    pub score: Option<f64>,
    pub passed: u32,
    pub failed: u32,
    pub not_applicable: u32,
}

/// One item's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The item's id.
    pub rule: String,
    pub category: String,
    pub kind: String,
    pub outcome: Outcome,
    pub fatal: bool,
    pub weight: f64,
    pub evidence: Vec<Evidence>,
    /// Why, in words (what was not heard and where it was looked for...).
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "fail")]
    Fail,
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotApplicable => "n/a",
        }
    }
}

/// Where in the recording, and what was heard there (or the figure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub channel: Channel,
    pub start: f64,
    pub end: f64,
    pub text: String,
}

impl Evidence {
    fn new(channel: Channel, span: Span, text: String) -> Self {
        let centis = |t: f64| (t * 100.0).round() / 100.0;
        Evidence {
            channel,
            start: centis(span.start),
            end: centis(span.end),
            text,
        }
    }

    fn heard(channel: Channel, hit: &Hit) -> Self {
        Evidence::new(channel, hit.span, hit.text.clone())
    }
}

/// The phrases each channel must be listened for, normalised (agent,
/// caller), each once: what a phrase-spotting recognizer is asked for.
pub fn phrases(rules: &Rules) -> (Vec<String>, Vec<String>) {
    let (mut agent, mut caller) = (Vec::new(), Vec::new());
    let mut add = |channel: Channel, list: &[Phrase]| {
        let to = match channel {
            Channel::Agent => &mut agent,
            Channel::Caller => &mut caller,
        };
        for p in list {
            let n = p.normalized();
            if !to.contains(&n) {
                to.push(n);
            }
        }
    };
    for (_, item) in rules.items() {
        match &item.check {
            Check::Banned { phrases } => add(item.channel, phrases),
            Check::Required {
                phrases, condition, ..
            } => {
                add(item.channel, phrases);
                if let Some(c) = condition {
                    add(c.channel, &c.phrases);
                }
            }
            Check::Resolution {
                commitments,
                deflections,
            } => {
                add(item.channel, commitments);
                add(item.channel, deflections);
            }
            Check::Silence { .. } | Check::Overtalk { .. } | Check::Hold { .. } => {}
        }
    }
    (agent, caller)
}

/// What the items of one call are checked against.
struct Call<'a> {
    agent: Spoken,
    caller: Spoken,
    signals: &'a Signals,
    /// The recording's end: its duration, else the last word heard.
    end: f64,
    threshold: f64,
}

impl Call<'_> {
    fn spoken(&self, channel: Channel) -> &Spoken {
        match channel {
            Channel::Agent => &self.agent,
            Channel::Caller => &self.caller,
        }
    }

    /// Hits of any of `phrases` in `channel`, in time order. A phrase
    /// heard twice at the same time (spotted and transcribed, or spotted in
    /// two spellings) counts once: the better match is kept.
    fn hits(&self, item: &Item, channel: Channel, phrases: &[Phrase]) -> Vec<Hit> {
        let threshold = item.threshold.unwrap_or(self.threshold);
        let spoken = self.spoken(channel);
        let mut hits: Vec<Hit> = phrases
            .iter()
            .flat_map(|p| once_each(spoken.find(p, threshold)))
            .collect();
        hits.sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
        hits
    }
}

/// Hits of one phrase, without those overlapping in time a better one.
fn once_each(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.span.len().total_cmp(&a.span.len()))
    });
    let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
    for hit in hits {
        let overlaps = kept
            .iter()
            .any(|k| hit.span.start < k.span.end && k.span.start < hit.span.end);
        if !overlaps {
            kept.push(hit);
        }
    }
    kept
}

/// Scores one call.
pub fn score(
    rules: &Rules,
    caller: &Transcript,
    agent: &Transcript,
    signals: &Signals,
) -> CallScore {
    let last_word = [caller, agent]
        .iter()
        .flat_map(|t| t.segments.iter().map(|s| s.end))
        .fold(0.0, f64::max);
    let call = Call {
        agent: Spoken::from_transcript(agent),
        caller: Spoken::from_transcript(caller),
        signals,
        end: if signals.duration > 0.0 {
            signals.duration
        } else {
            last_word
        },
        threshold: rules.threshold,
    };
    let mut items = Vec::new();
    let mut categories = Vec::new();
    for cat in &rules.categories {
        let (mut applied, mut passed) = (0.0, 0.0);
        let mut counts = [0u32; 3];
        for item in &cat.items {
            let (outcome, evidence, note) = check(&call, item);
            match outcome {
                Outcome::Pass => {
                    counts[0] += 1;
                    applied += item.weight;
                    passed += item.weight;
                }
                Outcome::Fail => {
                    counts[1] += 1;
                    applied += item.weight;
                }
                Outcome::NotApplicable => counts[2] += 1,
            }
            items.push(ItemResult {
                rule: item.id.clone(),
                category: cat.name.clone(),
                kind: item.check.kind().as_str().to_string(),
                outcome,
                fatal: item.fatal,
                weight: item.weight,
                evidence,
                note,
            });
        }
        categories.push(CategoryScore {
            name: cat.name.clone(),
            weight: cat.weight,
            score: (applied > 0.0).then(|| round(100.0 * passed / applied)),
            passed: counts[0],
            failed: counts[1],
            not_applicable: counts[2],
        });
    }
    let (mut sum, mut weights) = (0.0, 0.0);
    for c in &categories {
        if let Some(s) = c.score {
            sum += c.weight * s;
            weights += c.weight;
        }
    }
    let fatal: Vec<String> = items
        .iter()
        .filter(|i| i.fatal && i.outcome == Outcome::Fail)
        .map(|i| i.rule.clone())
        .collect();
    let score = if !fatal.is_empty() {
        0.0
    } else if weights > 0.0 {
        round(sum / weights)
    } else {
        100.0
    };
    CallScore {
        score,
        fatal,
        categories,
        items,
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

type Checked = (Outcome, Vec<Evidence>, String);

fn check(call: &Call<'_>, item: &Item) -> Checked {
    match &item.check {
        Check::Banned { phrases } => banned(call, item, phrases),
        Check::Required {
            phrases,
            window,
            condition,
        } => {
            let mut evidence = Vec::new();
            if let Some(c) = condition {
                let heard = call.hits(item, c.channel, &c.phrases);
                let Some(first) = heard.first() else {
                    let said: Vec<String> = c
                        .phrases
                        .iter()
                        .map(|p| format!("\"{}\"", p.text()))
                        .collect();
                    let note = format!(
                        "does not apply: the {} did not say {}",
                        c.channel.as_str(),
                        said.join(" or ")
                    );
                    return (Outcome::NotApplicable, evidence, note);
                };
                evidence.push(Evidence::heard(c.channel, first));
            }
            required(call, item, phrases, *window, evidence)
        }
        Check::Resolution {
            commitments,
            deflections,
        } => resolution(call, item, commitments, deflections),
        Check::Silence { max_seconds } => signal(call, item, |s| {
            let silence = s.longest_silence;
            let text = format!(
                "longest silence {:.1} s (max {max_seconds} s)",
                silence.len()
            );
            (silence.len() > *max_seconds, silence, text)
        }),
        Check::Overtalk { max_percent } => signal(call, item, |s| {
            let longest = s
                .overtalk_spans
                .iter()
                .copied()
                .max_by(|a, b| a.len().total_cmp(&b.len()))
                .unwrap_or(Span::new(0.0, s.duration));
            let text = format!(
                "overtalk {:.1}% of the call, {:.1} s in all (max {max_percent}%); longest here",
                s.overtalk_percent, s.overtalk
            );
            (s.overtalk_percent > *max_percent, longest, text)
        }),
        Check::Hold { max_minutes } => signal(call, item, |s| {
            let mut text = format!(
                "on hold {} in all (max {})",
                minutes(s.hold),
                minutes(max_minutes * 60.0)
            );
            // The longest hold is where to listen; without any, the call.
            let span = if s.longest_hold.len() > 0.0 {
                let _ = write!(
                    text,
                    ", the longest {} from {}",
                    minutes(s.longest_hold.len()),
                    clock(s.longest_hold.start)
                );
                s.longest_hold
            } else {
                Span::new(0.0, s.duration)
            };
            (s.hold > max_minutes * 60.0, span, text)
        }),
    }
}

fn banned(call: &Call<'_>, item: &Item, phrases: &[Phrase]) -> Checked {
    let hits = call.hits(item, item.channel, phrases);
    if hits.is_empty() {
        return (Outcome::Pass, Vec::new(), "none heard".into());
    }
    let evidence = hits
        .iter()
        .take(MAX_EVIDENCE)
        .map(|h| Evidence::heard(item.channel, h))
        .collect();
    let note = format!(
        "the {} said it {} time(s)",
        item.channel.as_str(),
        hits.len()
    );
    (Outcome::Fail, evidence, note)
}

fn required(
    call: &Call<'_>,
    item: &Item,
    phrases: &[Phrase],
    window: Window,
    mut evidence: Vec<Evidence>,
) -> Checked {
    let hits = call.hits(item, item.channel, phrases);
    let (inside, outside): (Vec<&Hit>, Vec<&Hit>) = hits.iter().partition(|h| match window {
        Window::Anywhere => true,
        Window::FirstSeconds(s) => h.span.start <= s,
        Window::LastSeconds(s) => h.span.end >= call.end - s,
    });
    let looked = match window {
        Window::Anywhere => String::new(),
        Window::FirstSeconds(s) => format!(" within the first {s} s"),
        Window::LastSeconds(s) => format!(" within the last {s} s (from {})", clock(call.end - s)),
    };
    if let Some(hit) = inside.first() {
        evidence.push(Evidence::heard(item.channel, hit));
        return (Outcome::Pass, evidence, format!("heard{looked}"));
    }
    let mut note = format!("not heard{looked}");
    if !outside.is_empty() {
        let at: Vec<String> = outside.iter().map(|h| clock(h.span.start)).collect();
        let _ = write!(note, "; heard only at {}", at.join(", "));
        evidence.extend(
            outside
                .iter()
                .take(MAX_EVIDENCE)
                .map(|h| Evidence::heard(item.channel, h)),
        );
    } else if let Some(near) = phrases
        .iter()
        .filter_map(|p| call.spoken(item.channel).best(p))
        .filter(|h| h.score >= 0.5)
        .max_by(|a, b| a.score.total_cmp(&b.score))
    {
        let _ = write!(
            note,
            "; closest: \"{}\" at {} (match {:.2})",
            near.text,
            clock(near.span.start),
            near.score
        );
    }
    (Outcome::Fail, evidence, note)
}

fn resolution(
    call: &Call<'_>,
    item: &Item,
    commitments: &[Phrase],
    deflections: &[Phrase],
) -> Checked {
    let mut heard: Vec<(bool, Hit)> = call
        .hits(item, item.channel, commitments)
        .into_iter()
        .map(|h| (true, h))
        .chain(
            call.hits(item, item.channel, deflections)
                .into_iter()
                .map(|h| (false, h)),
        )
        .collect();
    heard.sort_by(|a, b| a.1.span.start.total_cmp(&b.1.span.start));
    let Some((committed, last)) = heard.last() else {
        let note = "does not apply: neither a commitment nor a deflection heard".into();
        return (Outcome::NotApplicable, Vec::new(), note);
    };
    let evidence = heard
        .iter()
        .skip(heard.len().saturating_sub(MAX_EVIDENCE))
        .map(|(_, h)| Evidence::heard(item.channel, h))
        .collect();
    let (outcome, what) = if *committed {
        (Outcome::Pass, "a commitment")
    } else {
        (Outcome::Fail, "a deflection, with no commitment after it")
    };
    let note = format!(
        "last heard: {what} (\"{}\" at {})",
        last.text,
        clock(last.span.start)
    );
    (outcome, evidence, note)
}

/// A signal item: `figure` gives (failed, where, the figure in words).
fn signal(
    call: &Call<'_>,
    item: &Item,
    figure: impl Fn(&Signals) -> (bool, Span, String),
) -> Checked {
    if call.signals.duration <= 0.0 {
        let note = "does not apply: no signal figures for this recording".into();
        return (Outcome::NotApplicable, Vec::new(), note);
    }
    let (failed, span, text) = figure(call.signals);
    let outcome = if failed { Outcome::Fail } else { Outcome::Pass };
    let note = text.clone();
    (outcome, vec![Evidence::new(item.channel, span, text)], note)
}

/// `mm:ss.s` from seconds.
pub fn clock(seconds: f64) -> String {
    let tenths = (seconds.max(0.0) * 10.0).round() as u64;
    format!(
        "{:02}:{:02}.{}",
        tenths / 600,
        tenths % 600 / 10,
        tenths % 10
    )
}

/// `m:ss` from seconds.
fn minutes(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// The score as text: the total, each category, each item with its
/// outcome, evidence (channel, times, words) and note.
pub fn render(score: &CallScore) -> String {
    let mut out = format!("QA score: {:.1} / 100", score.score);
    if !score.fatal.is_empty() {
        let _ = write!(out, " (fatal: {} failed)", score.fatal.join(", "));
    }
    out.push('\n');
    let width = score
        .categories
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    for c in &score.categories {
        let s = c.score.map_or("n/a".to_string(), |s| format!("{s:.1}"));
        let _ = writeln!(
            out,
            "  {:width$}  {s:>5}  weight {}  ({} pass, {} fail, {} n/a)",
            c.name, c.weight, c.passed, c.failed, c.not_applicable
        );
    }
    for c in &score.categories {
        let _ = writeln!(out, "\n{}", c.name);
        for i in score.items.iter().filter(|i| i.category == c.name) {
            let fatal = if i.fatal { ", fatal" } else { "" };
            let _ = writeln!(
                out,
                "  {:<4}  {} ({}{fatal})",
                i.outcome.as_str().to_uppercase(),
                i.rule,
                i.kind
            );
            for e in &i.evidence {
                let _ = writeln!(
                    out,
                    "        {} {}-{} \"{}\"",
                    e.channel.as_str(),
                    clock(e.start),
                    clock(e.end),
                    e.text
                );
            }
            if !i.note.is_empty() {
                let _ = writeln!(out, "        {}", i.note);
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "tests_score.rs"]
mod tests;
