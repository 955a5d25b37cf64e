//! The figures of a QA report, computed from stored results: agent
//! scorecards and the period's overview. [`Report`] is also the `json`
//! format, so its field names are stable (see docs/operations.md).
//!
//! Each result's `summary` (a [`CallScore`] without evidence) gives the
//! category scores and item outcomes; its `detail` (a `QaOutcome`) gives
//! the caller's transcript for [`phrases`]. A result whose summary cannot
//! be read still counts with its stored score, and is counted in
//! [`Report::unreadable`].
//!
//! Averages are plain means over calls, rounded to one decimal; a figure
//! with no call behind it is `None` (`null`), never NaN.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::phrases::{self, PhraseCount};
use super::{DAY_MS, Period};
use crate::qa::Channel;
use crate::qa::asr::{Heard, Transcript};
use crate::qa::rules::Rules;
use crate::qa::score::{CallScore, Outcome};
use crate::store::QaResultRow;

/// A rule an agent failed in at least this share of the calls where it
/// applied (20%: one call in five) is flagged "training needed".
pub const TRAINING_THRESHOLD: f64 = 0.20;

/// How calls without a known agent are listed.
pub const UNKNOWN_AGENT: &str = "(unknown)";

/// Periods up to this many days have per-day agent trends; longer ones
/// per week (7-day blocks from the period's first day).
pub const DAILY_TREND_MAX_DAYS: i64 = 14;

/// Phrases listed at most.
pub const TOP_PHRASES: usize = 10;

/// A period's QA report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// Always `UTC`: the zone days are cut in.
    pub timezone: String,
    /// The agent the report is limited to, if any.
    pub agent: Option<String>,
    /// Set when there is nothing to report ("no QA results between ...").
    pub message: Option<String>,
    /// Calls (recordings) checked.
    pub calls: u32,
    /// 0..100; `None` without calls.
    pub average_score: Option<f64>,
    /// Calls where a fatal item failed.
    pub fatal_calls: u32,
    /// Results whose summary could not be read (counted by score only).
    pub unreadable: u32,
    /// [`TRAINING_THRESHOLD`].
    pub training_threshold: f64,
    pub categories: Vec<CategoryAverage>,
    /// Every day of the period.
    pub daily: Vec<TrendPoint>,
    /// One per agent, by name.
    pub agents: Vec<Scorecard>,
    /// Rules failed at least once, most failed first.
    pub failed_rules: Vec<RuleMisses>,
    /// Per rule failed at least once: who failed it.
    pub skipped_rules: Vec<SkippedRule>,
    /// IVR intents, most calls first.
    pub intents: Vec<Topic>,
    /// Queues, most calls first.
    pub queues: Vec<Topic>,
    /// Callers' most frequent 2- and 3-word phrases.
    pub phrases: Vec<PhraseCount>,
}

/// A category's average over the calls where it applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryAverage {
    pub name: String,
    pub average: Option<f64>,
    /// Calls where some item of it applied.
    pub calls: u32,
}

/// The average of one day (or week) starting on `start`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    /// `YYYY-MM-DD`.
    pub start: String,
    pub calls: u32,
    pub average: Option<f64>,
}

/// One agent over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub agent: String,
    pub calls: u32,
    pub average_score: Option<f64>,
    /// Calls where a fatal item failed.
    pub fatal_failures: u32,
    pub categories: Vec<CategoryAverage>,
    pub trend: Trend,
    /// Rules missed at least once, most missed first.
    pub missed: Vec<RuleMisses>,
}

/// How an agent's score moved within the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// `day` or `week`.
    pub bucket: String,
    pub points: Vec<TrendPoint>,
    /// Average of the calls in the period's first half (by time).
    pub first_half: Option<f64>,
    pub second_half: Option<f64>,
    /// `second_half - first_half`, when both have calls.
    pub change: Option<f64>,
}

/// How often a rule was failed where it applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleMisses {
    pub rule: String,
    /// From qa/rules.toml, when the rule is still there.
    pub description: Option<String>,
    pub category: String,
    pub fatal: bool,
    pub failed: u32,
    /// Calls where it passed or failed (not n/a).
    pub applied: u32,
    /// `failed / applied`, 0..1 (3 decimals).
    pub miss_rate: f64,
    /// `miss_rate >= training_threshold`.
    pub training_needed: bool,
}

/// A rule and the agents who failed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedRule {
    pub rule: String,
    pub description: Option<String>,
    /// Most failures first.
    pub agents: Vec<AgentMisses>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentMisses {
    pub agent: String,
    pub failed: u32,
    pub applied: u32,
}

/// An intent or queue and how many calls came through it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topic {
    pub name: String,
    pub calls: u32,
}

/// A running mean.
#[derive(Debug, Clone, Copy, Default)]
struct Mean {
    sum: f64,
    n: u32,
}

impl Mean {
    fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.sum += v;
            self.n += 1;
        }
    }

    fn get(&self) -> Option<f64> {
        (self.n > 0).then(|| round1(self.sum / f64::from(self.n)))
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[derive(Debug, Clone, Default)]
struct Tally {
    category: String,
    fatal: bool,
    failed: u32,
    applied: u32,
}

/// Category means in order of first appearance.
#[derive(Debug, Default)]
struct Categories(Vec<(String, Mean)>);

impl Categories {
    fn add(&mut self, name: &str, score: Option<f64>) {
        let at = match self.0.iter().position(|(n, _)| n == name) {
            Some(at) => at,
            None => {
                self.0.push((name.to_string(), Mean::default()));
                self.0.len() - 1
            }
        };
        if let Some(s) = score {
            self.0[at].1.add(s);
        }
    }

    fn averages(&self) -> Vec<CategoryAverage> {
        self.0
            .iter()
            .map(|(name, m)| CategoryAverage {
                name: name.clone(),
                average: m.get(),
                calls: m.n,
            })
            .collect()
    }
}

#[derive(Debug, Default)]
struct AgentAcc {
    score: Mean,
    fatal: u32,
    categories: Categories,
    rules: BTreeMap<String, Tally>,
    buckets: BTreeMap<i64, Mean>,
    halves: [Mean; 2],
}

/// What the report needs from a result's detail.
#[derive(Deserialize)]
struct Detail {
    #[serde(default)]
    transcripts: Vec<Transcript>,
}

/// Computes the report of `period` from `rows` (those outside the period,
/// or of another agent than `agent` when given, are left out). `rules`
/// gives the rules' descriptions.
pub fn build(
    rows: &[QaResultRow],
    period: &Period,
    agent: Option<&str>,
    rules: Option<&Rules>,
) -> Report {
    let (from_ms, to_ms) = (period.from_ms(), period.to_ms());
    let rows: Vec<&QaResultRow> = rows
        .iter()
        .filter(|r| r.call_started_at >= from_ms && r.call_started_at < to_ms)
        .filter(|r| agent.is_none_or(|a| r.agent.as_deref() == Some(a)))
        .collect();
    let days = period.days();
    let weekly = days > DAILY_TREND_MAX_DAYS;
    let bucket_days = if weekly { 7 } else { 1 };
    let middle = from_ms + (to_ms - from_ms) / 2;

    let mut total = Mean::default();
    let mut fatal_calls = 0;
    let mut unreadable = 0;
    let mut categories = Categories::default();
    let mut daily = vec![Mean::default(); usize::try_from(days).unwrap_or(0)];
    let mut agents: BTreeMap<String, AgentAcc> = BTreeMap::new();
    let mut rule_totals: BTreeMap<String, Tally> = BTreeMap::new();
    let mut intents: BTreeMap<String, u32> = BTreeMap::new();
    let mut queues: BTreeMap<String, u32> = BTreeMap::new();
    // Per call, the caller's transcribed segments.
    let mut caller_texts: Vec<Vec<String>> = Vec::new();

    for row in &rows {
        let day = (row.call_started_at - from_ms) / DAY_MS;
        let name = row.agent.clone().unwrap_or_else(|| UNKNOWN_AGENT.into());
        let acc = agents.entry(name).or_default();
        total.add(row.score);
        acc.score.add(row.score);
        if let Some(m) = usize::try_from(day).ok().and_then(|d| daily.get_mut(d)) {
            m.add(row.score);
        }
        acc.buckets
            .entry(day / bucket_days)
            .or_default()
            .add(row.score);
        acc.halves[usize::from(row.call_started_at >= middle)].add(row.score);
        for (column, counts) in [(&row.intent, &mut intents), (&row.queue, &mut queues)] {
            if let Some(v) = column.as_deref().filter(|v| !v.is_empty()) {
                *counts.entry(v.to_string()).or_default() += 1;
            }
        }
        match serde_json::from_str::<CallScore>(&row.summary) {
            Ok(score) => {
                if !score.fatal.is_empty() {
                    fatal_calls += 1;
                    acc.fatal += 1;
                }
                for c in &score.categories {
                    categories.add(&c.name, c.score);
                    acc.categories.add(&c.name, c.score);
                }
                for item in &score.items {
                    for tally in [
                        rule_totals.entry(item.rule.clone()).or_default(),
                        acc.rules.entry(item.rule.clone()).or_default(),
                    ] {
                        tally.category.clone_from(&item.category);
                        tally.fatal |= item.fatal;
                        tally.applied += u32::from(item.outcome != Outcome::NotApplicable);
                        tally.failed += u32::from(item.outcome == Outcome::Fail);
                    }
                }
            }
            Err(_) => unreadable += 1,
        }
        if let Ok(detail) = serde_json::from_str::<Detail>(&row.detail) {
            for t in detail
                .transcripts
                .iter()
                .filter(|t| t.channel == Channel::Caller)
            {
                caller_texts.push(
                    t.segments
                        .iter()
                        .filter(|s| s.heard == Heard::Transcribed)
                        .map(|s| s.text.clone())
                        .collect(),
                );
            }
        }
    }

    let describe = |rule: &str| {
        rules
            .and_then(|r| r.item(rule))
            .map(|i| i.description.clone())
    };
    let scorecards: Vec<Scorecard> = agents
        .iter()
        .map(|(name, acc)| {
            let buckets = (days + bucket_days - 1) / bucket_days;
            let points = (0..buckets)
                .map(|b| {
                    let m = acc.buckets.get(&b).copied().unwrap_or_default();
                    TrendPoint {
                        start: period.day(b * bucket_days).to_string(),
                        calls: m.n,
                        average: m.get(),
                    }
                })
                .collect();
            let (first, second) = (acc.halves[0].get(), acc.halves[1].get());
            Scorecard {
                agent: name.clone(),
                calls: acc.score.n,
                average_score: acc.score.get(),
                fatal_failures: acc.fatal,
                categories: acc.categories.averages(),
                trend: Trend {
                    bucket: if weekly { "week" } else { "day" }.into(),
                    points,
                    first_half: first,
                    second_half: second,
                    change: first.zip(second).map(|(a, b)| round1(b - a)),
                },
                missed: misses(&acc.rules, &describe),
            }
        })
        .collect();

    let failed_rules = misses(&rule_totals, &describe);
    let skipped_rules = failed_rules
        .iter()
        .map(|r| {
            let mut who: Vec<AgentMisses> = agents
                .iter()
                .filter_map(|(name, acc)| {
                    let t = acc.rules.get(&r.rule)?;
                    (t.failed > 0).then(|| AgentMisses {
                        agent: name.clone(),
                        failed: t.failed,
                        applied: t.applied,
                    })
                })
                .collect();
            who.sort_by(|a, b| b.failed.cmp(&a.failed).then(a.agent.cmp(&b.agent)));
            SkippedRule {
                rule: r.rule.clone(),
                description: r.description.clone(),
                agents: who,
            }
        })
        .collect();

    let from = period.from.to_string();
    let to = period.to.to_string();
    let message = rows.is_empty().then(|| {
        let whose = agent.map(|a| format!(" for agent {a}")).unwrap_or_default();
        format!("no QA results{whose} between {from} and {to} (UTC, inclusive)")
    });
    Report {
        agent: agent.map(str::to_string),
        message,
        calls: total.n,
        average_score: total.get(),
        fatal_calls,
        unreadable,
        training_threshold: TRAINING_THRESHOLD,
        categories: categories.averages(),
        daily: daily
            .iter()
            .enumerate()
            .map(|(d, m)| TrendPoint {
                start: period.day(i64::try_from(d).unwrap_or(0)).to_string(),
                calls: m.n,
                average: m.get(),
            })
            .collect(),
        agents: scorecards,
        failed_rules,
        skipped_rules,
        intents: topics(intents),
        queues: topics(queues),
        phrases: phrases::top(
            caller_texts
                .iter()
                .map(|call| call.iter().map(String::as_str).collect()),
            TOP_PHRASES,
        ),
        from,
        to,
        timezone: "UTC".into(),
    }
}

/// The rules of `tallies` failed at least once, most failed first (then
/// highest miss rate, then by id).
fn misses(
    tallies: &BTreeMap<String, Tally>,
    describe: &dyn Fn(&str) -> Option<String>,
) -> Vec<RuleMisses> {
    let mut out: Vec<RuleMisses> = tallies
        .iter()
        .filter(|(_, t)| t.failed > 0)
        .map(|(rule, t)| {
            let rate = f64::from(t.failed) / f64::from(t.applied.max(1));
            RuleMisses {
                rule: rule.clone(),
                description: describe(rule),
                category: t.category.clone(),
                fatal: t.fatal,
                failed: t.failed,
                applied: t.applied,
                miss_rate: (rate * 1000.0).round() / 1000.0,
                training_needed: rate >= TRAINING_THRESHOLD,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.failed
            .cmp(&a.failed)
            .then(b.miss_rate.total_cmp(&a.miss_rate))
            .then(a.rule.cmp(&b.rule))
    });
    out
}

fn topics(counts: BTreeMap<String, u32>) -> Vec<Topic> {
    let mut out: Vec<Topic> = counts
        .into_iter()
        .map(|(name, calls)| Topic { name, calls })
        .collect();
    out.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.name.cmp(&b.name)));
    out
}

impl RuleMisses {
    /// How people call the rule: its description, else its id.
    pub fn label(&self) -> &str {
        self.description.as_deref().unwrap_or(&self.rule)
    }
}

impl SkippedRule {
    pub fn label(&self) -> &str {
        self.description.as_deref().unwrap_or(&self.rule)
    }
}
