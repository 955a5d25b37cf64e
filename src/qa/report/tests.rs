//! Tests of the report model on hand-made results (and the helpers that
//! make them): averages, categories, trends, rules missed and the training
//! threshold, who skipped what, topics, callers' phrases, the agent filter.

use jiff::civil::date;

use super::model::UNKNOWN_AGENT;
use super::*;
use crate::qa::Channel;
use crate::qa::asr::{Heard, Segment, Transcript};
use crate::qa::pipeline::QaOutcome;
use crate::qa::score::{CallScore, CategoryScore, ItemResult, Outcome};
use crate::qa::signal::Signals;
use crate::store::QaResultRow;

/// 2024-05-01 to 2024-05-07.
pub(super) fn week() -> Period {
    Period {
        from: date(2024, 5, 1),
        to: date(2024, 5, 7),
    }
}

/// A result being made.
pub(super) struct Call {
    agent: Option<String>,
    /// Hours after the period's start.
    hour: i64,
    score: f64,
    categories: Vec<(String, Option<f64>)>,
    items: Vec<(String, String, Outcome, bool)>,
    caller: Vec<(String, Heard)>,
    agent_said: Vec<String>,
    intent: Option<String>,
    queue: Option<String>,
}

pub(super) fn call(agent: &str, hour: i64, score: f64) -> Call {
    Call {
        agent: Some(agent.into()),
        hour,
        score,
        categories: Vec::new(),
        items: Vec::new(),
        caller: Vec::new(),
        agent_said: Vec::new(),
        intent: None,
        queue: None,
    }
}

impl Call {
    pub(super) fn category(mut self, name: &str, score: Option<f64>) -> Self {
        self.categories.push((name.into(), score));
        self
    }

    pub(super) fn item(mut self, rule: &str, category: &str, outcome: Outcome) -> Self {
        self.items
            .push((rule.into(), category.into(), outcome, false));
        self
    }

    pub(super) fn fatal(mut self, rule: &str, category: &str) -> Self {
        self.items
            .push((rule.into(), category.into(), Outcome::Fail, true));
        self
    }

    pub(super) fn caller(mut self, text: &str) -> Self {
        self.caller.push((text.into(), Heard::Transcribed));
        self
    }

    pub(super) fn spotted(mut self, text: &str) -> Self {
        self.caller.push((text.into(), Heard::Spotted));
        self
    }

    pub(super) fn topic(mut self, intent: &str, queue: &str) -> Self {
        self.intent = Some(intent.into());
        self.queue = Some(queue.into());
        self
    }

    pub(super) fn row(self) -> QaResultRow {
        let score = CallScore {
            score: self.score,
            fatal: self
                .items
                .iter()
                .filter(|i| i.3)
                .map(|i| i.0.clone())
                .collect(),
            categories: self
                .categories
                .iter()
                .map(|(name, score)| CategoryScore {
                    name: name.clone(),
                    weight: 1.0,
                    score: *score,
                    passed: 0,
                    failed: 0,
                    not_applicable: 0,
                })
                .collect(),
            items: self
                .items
                .iter()
                .map(|(rule, category, outcome, fatal)| ItemResult {
                    rule: rule.clone(),
                    category: category.clone(),
                    kind: "required".into(),
                    outcome: *outcome,
                    fatal: *fatal,
                    weight: 1.0,
                    evidence: Vec::new(),
                    note: String::new(),
                })
                .collect(),
        };
        let transcript = |channel, said: Vec<(String, Heard)>| Transcript {
            channel,
            backend: "test".into(),
            segments: said
                .into_iter()
                .enumerate()
                .map(|(i, (text, heard))| Segment {
                    start: i as f64,
                    end: i as f64 + 1.0,
                    text,
                    confidence: 1.0,
                    heard,
                    words: Vec::new(),
                })
                .collect(),
        };
        let agent_said = self
            .agent_said
            .into_iter()
            .map(|t| (t, Heard::Transcribed))
            .collect();
        let outcome = QaOutcome {
            score: score.clone(),
            signals: Signals::default(),
            transcripts: vec![
                transcript(Channel::Caller, self.caller),
                transcript(Channel::Agent, agent_said),
            ],
            backend: "test".into(),
            audio_seconds: 60.0,
            took_seconds: 1.0,
        };
        let at = week().from_ms() + self.hour * 3_600_000;
        QaResultRow {
            recording: format!("/rec/{at}-{}.wav", self.hour),
            call_id: format!("call-{at}"),
            agent: self.agent,
            queue: self.queue,
            intent: self.intent,
            call_started_at: at,
            score: self.score,
            summary: serde_json::to_string(&score).unwrap_or_default(),
            detail: serde_json::to_string(&outcome).unwrap_or_default(),
            backend: "test".into(),
            took_ms: 1000,
            created_at: at + 60_000,
        }
    }
}

pub(super) fn report(rows: &[QaResultRow]) -> Report {
    build(rows, &week(), None, None)
}

pub(super) fn agent<'a>(r: &'a Report, name: &str) -> &'a model::Scorecard {
    match r.agents.iter().find(|a| a.agent == name) {
        Some(a) => a,
        None => panic!("no agent {name} in {:?}", r.agents),
    }
}

#[test]
fn averages_overall_per_agent_and_per_category() {
    let rows = [
        call("alice", 1, 80.0)
            .category("greeting", Some(100.0))
            .category("attitude", Some(60.0))
            .row(),
        call("alice", 2, 60.0)
            .category("greeting", Some(50.0))
            .category("attitude", None)
            .row(),
        call("bob", 3, 100.0).category("greeting", None).row(),
    ];
    let r = report(&rows);
    assert_eq!(r.message, None);
    assert_eq!(r.calls, 3);
    assert_eq!(r.average_score, Some(80.0));
    assert_eq!(r.categories.len(), 2);
    assert_eq!(r.categories[0].name, "greeting");
    assert_eq!(r.categories[0].average, Some(75.0));
    assert_eq!(r.categories[0].calls, 2);
    assert_eq!(r.categories[1].average, Some(60.0));
    let alice = agent(&r, "alice");
    assert_eq!(alice.calls, 2);
    assert_eq!(alice.average_score, Some(70.0));
    assert_eq!(alice.categories[0].average, Some(75.0));
    let bob = agent(&r, "bob");
    assert_eq!(bob.average_score, Some(100.0));
    assert_eq!(bob.categories[0].average, None);
    assert_eq!(r.agents[0].agent, "alice", "agents by name");
}

#[test]
fn averages_are_rounded_to_one_decimal() {
    let rows = [
        call("a", 1, 70.0).row(),
        call("a", 2, 80.0).row(),
        call("a", 3, 80.0).row(),
    ];
    assert_eq!(report(&rows).average_score, Some(76.7));
}

#[test]
fn daily_trend_and_the_change_between_halves() {
    let rows = [
        call("alice", 1, 60.0).row(),
        call("alice", 5, 50.0).row(),
        call("alice", 24 * 6 + 2, 90.0).row(),
        call("bob", 24 * 6, 70.0).row(),
    ];
    let r = report(&rows);
    assert_eq!(r.daily.len(), 7);
    assert_eq!(r.daily[0].start, "2024-05-01");
    assert_eq!(r.daily[0].calls, 3 - 1);
    assert_eq!(r.daily[0].average, Some(55.0));
    assert_eq!(r.daily[3].average, None);
    assert_eq!(r.daily[6].start, "2024-05-07");
    assert_eq!(r.daily[6].average, Some(80.0));
    let alice = agent(&r, "alice");
    assert_eq!(alice.trend.bucket, "day");
    assert_eq!(alice.trend.points.len(), 7);
    assert_eq!(alice.trend.first_half, Some(55.0));
    assert_eq!(alice.trend.second_half, Some(90.0));
    assert_eq!(alice.trend.change, Some(35.0));
    let bob = agent(&r, "bob");
    assert_eq!(bob.trend.first_half, None);
    assert_eq!(bob.trend.change, None, "no change without both halves");
}

#[test]
fn long_periods_trend_per_week() {
    let period = Period {
        from: date(2024, 5, 1),
        to: date(2024, 5, 28),
    };
    let rows = [
        call("a", 1, 40.0).row(),
        call("a", 24 * 8, 60.0).row(),
        call("a", 24 * 9, 80.0).row(),
    ];
    let r = build(&rows, &period, None, None);
    let t = &agent(&r, "a").trend;
    assert_eq!(t.bucket, "week");
    assert_eq!(t.points.len(), 4);
    assert_eq!(t.points[1].start, "2024-05-08");
    assert_eq!(t.points[1].calls, 2);
    assert_eq!(t.points[1].average, Some(70.0));
    assert_eq!(r.daily.len(), 28);
}

/// Ten calls of `who`: `privacy` failed in `privacy_misses`, `greet` failed
/// in one, `hold` applied (and failed) in one only.
pub(super) fn ten_calls(who: &str, privacy_misses: usize, hour0: i64) -> Vec<QaResultRow> {
    (0..10)
        .map(|i| {
            let privacy = if i < privacy_misses {
                Outcome::Fail
            } else {
                Outcome::Pass
            };
            let greet = if i == 9 { Outcome::Fail } else { Outcome::Pass };
            let hold = if i == 5 {
                Outcome::Fail
            } else {
                Outcome::NotApplicable
            };
            call(who, hour0 + i as i64, 90.0)
                .item("privacy", "compliance", privacy)
                .item("greet", "greeting", greet)
                .item("hold", "process", hold)
                .row()
        })
        .collect()
}

#[test]
fn most_missed_rules_and_the_training_threshold() {
    assert_eq!(TRAINING_THRESHOLD, 0.20);
    let r = report(&ten_calls("alice", 2, 0));
    let missed = &agent(&r, "alice").missed;
    let ids: Vec<&str> = missed.iter().map(|m| m.rule.as_str()).collect();
    assert_eq!(ids, ["privacy", "hold", "greet"], "most failed, then rate");
    assert_eq!((missed[0].failed, missed[0].applied), (2, 10));
    assert_eq!(missed[0].miss_rate, 0.2);
    assert!(missed[0].training_needed, "20% is the threshold: flagged");
    assert_eq!((missed[1].failed, missed[1].applied), (1, 1));
    assert!(missed[1].training_needed, "n/a calls do not count");
    assert_eq!(missed[2].miss_rate, 0.1);
    assert!(!missed[2].training_needed, "10% is below it");
    assert_eq!(missed[0].category, "compliance");

    let md = markdown::render(&r);
    assert!(
        md.contains("- privacy missed in 2 of 10 calls (20%): **training needed**"),
        "{md}"
    );
    assert!(
        md.contains("- greet missed in 1 of 10 calls (10%)\n"),
        "{md}"
    );

    let just_below = report(&ten_calls("bob", 1, 0));
    let privacy = &agent(&just_below, "bob").missed;
    assert!(
        privacy
            .iter()
            .all(|m| m.rule != "privacy" || !m.training_needed)
    );
}

#[test]
fn rule_descriptions_come_from_the_rules() {
    let rules = crate::qa::rules::parse(
        std::path::Path::new("rules.toml"),
        "[[category]]\nname = \"compliance\"\n\n[[category.item]]\nid = \"privacy\"\n\
         kind = \"required\"\ndescription = \"Privacy notice\"\nphrases = [\"this call is recorded\"]\n",
    )
    .unwrap_or_else(|p| panic!("{p:?}"));
    let r = build(&ten_calls("alice", 4, 0), &week(), None, Some(&rules));
    let m = &agent(&r, "alice").missed[0];
    assert_eq!(m.description.as_deref(), Some("Privacy notice"));
    assert!(markdown::render(&r).contains("Privacy notice missed in 4 of 10 calls (40%)"));
    assert_eq!(agent(&r, "alice").missed[1].description, None);
}

#[test]
fn fatal_failures_are_counted() {
    let rows = [
        call("alice", 1, 0.0).fatal("abuse", "attitude").row(),
        call("alice", 2, 90.0)
            .item("abuse", "attitude", Outcome::Pass)
            .row(),
        call("bob", 3, 0.0).fatal("abuse", "attitude").row(),
    ];
    let r = report(&rows);
    assert_eq!(r.fatal_calls, 2);
    assert_eq!(agent(&r, "alice").fatal_failures, 1);
    assert!(agent(&r, "alice").missed[0].fatal);
}

#[test]
fn who_skipped_each_rule_and_the_most_failed_overall() {
    let mut rows = ten_calls("alice", 2, 0);
    rows.extend(ten_calls("bob", 3, 20));
    rows.extend(ten_calls("carol", 0, 40));
    let r = report(&rows);
    assert_eq!(r.failed_rules[0].rule, "privacy");
    assert_eq!(
        (r.failed_rules[0].failed, r.failed_rules[0].applied),
        (5, 30)
    );
    let privacy = &r.skipped_rules[0];
    assert_eq!(privacy.rule, "privacy");
    let who: Vec<(&str, u32, u32)> = privacy
        .agents
        .iter()
        .map(|a| (a.agent.as_str(), a.failed, a.applied))
        .collect();
    assert_eq!(
        who,
        [("bob", 3, 10), ("alice", 2, 10)],
        "carol never skipped it"
    );
    let greet = r.skipped_rules.iter().find(|s| s.rule == "greet");
    assert_eq!(greet.map(|g| g.agents.len()), Some(3));
}

#[test]
fn intents_and_queues_are_counted() {
    let rows = [
        call("a", 1, 80.0).topic("billing", "support").row(),
        call("a", 2, 80.0).topic("billing", "sales").row(),
        call("b", 3, 80.0).topic("outage", "support").row(),
        call("b", 4, 80.0).row(),
    ];
    let r = report(&rows);
    let intents: Vec<(&str, u32)> = r
        .intents
        .iter()
        .map(|t| (t.name.as_str(), t.calls))
        .collect();
    assert_eq!(intents, [("billing", 2), ("outage", 1)]);
    let queues: Vec<(&str, u32)> = r
        .queues
        .iter()
        .map(|t| (t.name.as_str(), t.calls))
        .collect();
    assert_eq!(queues, [("support", 2), ("sales", 1)]);
}

#[test]
fn callers_frequent_phrases() {
    let rows = [
        call("a", 1, 80.0)
            .caller("Hi, my internet is down again.")
            .caller("I have a question")
            .spotted("cancel my contract")
            .row(),
        call("a", 2, 80.0)
            .caller("My internet is down!")
            .caller("i have a bill")
            .spotted("cancel my contract")
            .row(),
        call("b", 3, 80.0)
            .caller("my INTERNET is down since Monday")
            .caller("I have a")
            .row(),
    ];
    let mut with_agent = call("b", 4, 80.0);
    with_agent.agent_said = vec!["your internet is down".into(); 5];
    let mut rows = rows.to_vec();
    rows.push(with_agent.row());
    let r = report(&rows);
    let got: Vec<(&str, u32)> = r
        .phrases
        .iter()
        .map(|p| (p.phrase.as_str(), p.count))
        .collect();
    assert_eq!(got, [("internet is down", 3), ("my internet is", 3)]);
}

#[test]
fn the_agent_filter_keeps_one_agent() {
    let mut rows = ten_calls("alice", 2, 0);
    rows.extend(ten_calls("bob", 3, 20));
    let r = build(&rows, &week(), Some("bob"), None);
    assert_eq!(r.agent.as_deref(), Some("bob"));
    assert_eq!(r.calls, 10);
    assert_eq!(r.agents.len(), 1);
    assert_eq!(r.agents[0].agent, "bob");
    assert_eq!(r.skipped_rules[0].agents.len(), 1);
}

#[test]
fn rows_outside_the_period_are_left_out() {
    let rows = [
        call("a", -1, 10.0).row(),
        call("a", 1, 80.0).row(),
        call("a", 24 * 7, 10.0).row(),
        call("a", 24 * 7 - 1, 60.0).row(),
    ];
    let r = report(&rows);
    assert_eq!(r.calls, 2, "--to is inclusive of its whole day, no more");
    assert_eq!(r.average_score, Some(70.0));
}

#[test]
fn calls_without_an_agent_are_listed_as_unknown() {
    let mut row = call("x", 1, 50.0).row();
    row.agent = None;
    let r = report(&[row]);
    assert_eq!(r.agents[0].agent, UNKNOWN_AGENT);
}

#[test]
fn an_unreadable_summary_still_counts_its_score() {
    let mut row = call("a", 1, 50.0).row();
    row.summary = "{not json".into();
    row.detail = "sealed garbage".into();
    let r = report(&[row, call("a", 2, 70.0).row()]);
    assert_eq!(r.calls, 2);
    assert_eq!(r.unreadable, 1);
    assert_eq!(r.average_score, Some(60.0));
}
