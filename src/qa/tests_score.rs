//! Tests of scoring: each kind of item, windows, conditions, weights,
//! fatal items, the JSON shape and the text rendering.

use std::path::Path;

use super::*;
use crate::qa::asr::{Heard, Segment};

/// A transcript of `(start, end, text)` segments.
fn said(channel: Channel, segments: &[(f64, f64, &str)]) -> Transcript {
    Transcript {
        channel,
        backend: "test".into(),
        segments: segments
            .iter()
            .map(|&(start, end, text)| Segment {
                start,
                end,
                text: text.into(),
                confidence: 1.0,
                heard: Heard::Transcribed,
                words: vec![],
            })
            .collect(),
    }
}

fn rules(text: &str) -> Rules {
    match crate::qa::rules::parse(Path::new("test.toml"), text) {
        Ok(r) => r,
        Err(p) => panic!("{p:#?}"),
    }
}

fn demo_rules() -> Rules {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("qa/rules.toml");
    rules(&std::fs::read_to_string(path).unwrap_or_default())
}

fn signals(duration: f64) -> Signals {
    Signals {
        duration,
        ..Default::default()
    }
}

fn item<'a>(score: &'a CallScore, rule: &str) -> &'a ItemResult {
    match score.items.iter().find(|i| i.rule == rule) {
        Some(i) => i,
        None => panic!("no item {rule}"),
    }
}

const ONE_CATEGORY: &str = r#"
[[category]]
name = "c"

[[category.item]]
id = "banned"
kind = "banned"
phrases = ["look it up yourself", "你自己查"]

[[category.item]]
id = "notice"
kind = "required"
phrases = ["we will protect your personal information"]
within_first_seconds = 60

[[category.item]]
id = "allergy"
kind = "required"
phrases = ["allergy return policy"]
when_caller_says = ["allergy", "allergic"]

[[category.item]]
id = "closing"
kind = "required"
phrases = ["anything else"]
within_last_seconds = 30
"#;

#[test]
fn a_banned_phrase_heard_fails_with_where_and_what() {
    let r = rules(ONE_CATEGORY);
    let agent = said(
        Channel::Agent,
        &[
            (5.0, 8.0, "Sorry, you can look it up yourself."),
            (20.0, 22.0, "这个你自己查吧"),
        ],
    );
    // The caller saying it is not the agent saying it.
    let caller = said(Channel::Caller, &[(2.0, 3.0, "look it up yourself")]);
    let s = score(&r, &caller, &agent, &signals(100.0));
    let banned = item(&s, "banned");
    assert_eq!(banned.outcome, Outcome::Fail);
    assert_eq!(
        banned.evidence,
        [
            Evidence {
                channel: Channel::Agent,
                start: 5.0,
                end: 8.0,
                text: "look it up yourself".into()
            },
            Evidence {
                channel: Channel::Agent,
                start: 20.0,
                end: 22.0,
                text: "你自己查".into()
            },
        ]
    );
    assert_eq!(banned.note, "the agent said it 2 time(s)");
    let clean = score(&r, &caller, &said(Channel::Agent, &[]), &signals(100.0));
    assert_eq!(item(&clean, "banned").outcome, Outcome::Pass);
}

#[test]
fn required_phrases_respect_their_window() {
    let r = rules(ONE_CATEGORY);
    let caller = said(Channel::Caller, &[]);
    let early = said(
        Channel::Agent,
        &[(10.0, 14.0, "We will protect your personal information.")],
    );
    let s = score(&r, &caller, &early, &signals(300.0));
    let notice = item(&s, "notice");
    assert_eq!(notice.outcome, Outcome::Pass);
    assert_eq!(notice.evidence[0].start, 10.0);

    let late = said(
        Channel::Agent,
        &[(95.0, 99.0, "we will protect your personal information")],
    );
    let s = score(&r, &caller, &late, &signals(300.0));
    let notice = item(&s, "notice");
    assert_eq!(notice.outcome, Outcome::Fail);
    assert_eq!(
        notice.note,
        "not heard within the first 60 s; heard only at 01:35.0"
    );

    let missing = said(Channel::Agent, &[(3.0, 6.0, "we will protect your data")]);
    let s = score(&r, &caller, &missing, &signals(300.0));
    let notice = item(&s, "notice");
    assert_eq!(notice.outcome, Outcome::Fail);
    assert!(notice.evidence.is_empty());
    assert!(
        notice.note.starts_with(
            "not heard within the first 60 s; closest: \"we will protect your\" at 00:03.0 (match 0.67)"
        ),
        "{}",
        notice.note
    );

    // The last 30 s of a 300 s call.
    let closing = said(Channel::Agent, &[(280.0, 282.0, "Anything else?")]);
    assert_eq!(
        item(&score(&r, &caller, &closing, &signals(300.0)), "closing").outcome,
        Outcome::Pass
    );
    let closing = said(Channel::Agent, &[(200.0, 202.0, "Anything else?")]);
    let s = score(&r, &caller, &closing, &signals(300.0));
    assert_eq!(item(&s, "closing").outcome, Outcome::Fail);
    assert!(
        item(&s, "closing")
            .note
            .starts_with("not heard within the last 30 s (from 04:30.0)")
    );
}

#[test]
fn a_condition_not_heard_makes_the_item_not_apply() {
    let r = rules(ONE_CATEGORY);
    let agent = said(Channel::Agent, &[]);
    let s = score(
        &r,
        &said(Channel::Caller, &[(1.0, 2.0, "hello")]),
        &agent,
        &signals(60.0),
    );
    let allergy = item(&s, "allergy");
    assert_eq!(allergy.outcome, Outcome::NotApplicable);
    assert_eq!(
        allergy.note,
        "does not apply: the caller did not say \"allergy\" or \"allergic\""
    );
    // The agent mentioning an allergy is not the caller mentioning one.
    let s = score(
        &r,
        &said(Channel::Caller, &[]),
        &said(Channel::Agent, &[(1.0, 2.0, "allergic")]),
        &signals(60.0),
    );
    assert_eq!(item(&s, "allergy").outcome, Outcome::NotApplicable);

    let caller = said(Channel::Caller, &[(5.0, 7.0, "my son is allergic to it")]);
    let s = score(&r, &caller, &agent, &signals(60.0));
    assert_eq!(item(&s, "allergy").outcome, Outcome::Fail);
    assert_eq!(item(&s, "allergy").evidence[0].text, "allergic");
    let agent = said(
        Channel::Agent,
        &[(9.0, 12.0, "our allergy return policy is")],
    );
    let s = score(&r, &caller, &agent, &signals(60.0));
    let allergy = item(&s, "allergy");
    assert_eq!(allergy.outcome, Outcome::Pass);
    assert_eq!(allergy.evidence.len(), 2);
    assert_eq!(allergy.evidence[1].channel, Channel::Agent);
}

const RESOLUTION: &str = r#"
[[category]]
name = "resolution"

[[category.item]]
id = "commitment"
kind = "resolution"
commitments = ["I will refund", "within 24 hours"]
deflections = ["I'll just log it"]
"#;

#[test]
fn resolution_is_decided_by_the_last_heard() {
    let r = rules(RESOLUTION);
    let caller = said(Channel::Caller, &[]);
    let outcome = |segments: &[(f64, f64, &str)]| {
        let s = score(
            &r,
            &caller,
            &said(Channel::Agent, segments),
            &signals(120.0),
        );
        (
            item(&s, "commitment").outcome,
            item(&s, "commitment").note.clone(),
        )
    };
    assert_eq!(
        outcome(&[(1.0, 2.0, "you'll have it within twenty four hours")]).0,
        Outcome::Pass
    );
    assert_eq!(outcome(&[(1.0, 2.0, "I'll just log it")]).0, Outcome::Fail);
    let (o, note) = outcome(&[
        (1.0, 2.0, "I will refund you"),
        (9.0, 10.0, "well, I will just log it"),
    ]);
    assert_eq!(o, Outcome::Fail);
    assert_eq!(
        note,
        "last heard: a deflection, with no commitment after it (\"I will just log it\" at 00:09.0)"
    );
    assert_eq!(
        outcome(&[
            (1.0, 2.0, "I'll just log it"),
            (9.0, 10.0, "no, I will refund it")
        ])
        .0,
        Outcome::Pass
    );
    assert_eq!(outcome(&[(1.0, 2.0, "goodbye")]).0, Outcome::NotApplicable);
}

const SIGNAL: &str = r#"
[[category]]
name = "signal"

[[category.item]]
id = "dead-air"
kind = "silence"
max_seconds = 20

[[category.item]]
id = "overtalk"
kind = "overtalk"
max_percent = 15

[[category.item]]
id = "hold"
kind = "hold"
max_minutes = 2
"#;

#[test]
fn signal_items_read_the_figures() {
    let r = rules(SIGNAL);
    let none = said(Channel::Agent, &[]);
    let s = Signals {
        duration: 200.0,
        longest_silence: Span::new(30.0, 55.5),
        overtalk: 20.0,
        overtalk_percent: 10.0,
        overtalk_spans: vec![Span::new(3.0, 4.0), Span::new(50.0, 58.0)],
        hold: 150.0,
        longest_hold: Span::new(60.0, 150.0),
        ..Default::default()
    };
    let result = score(&r, &said(Channel::Caller, &[]), &none, &s);
    let silence = item(&result, "dead-air");
    assert_eq!(silence.outcome, Outcome::Fail);
    assert_eq!(
        (silence.evidence[0].start, silence.evidence[0].end),
        (30.0, 55.5)
    );
    assert_eq!(
        silence.evidence[0].text,
        "longest silence 25.5 s (max 20 s)"
    );
    let overtalk = item(&result, "overtalk");
    assert_eq!(overtalk.outcome, Outcome::Pass);
    assert_eq!(overtalk.evidence[0].start, 50.0);
    let hold = item(&result, "hold");
    assert_eq!(hold.outcome, Outcome::Fail);
    assert_eq!(
        hold.evidence[0].text,
        "on hold 2:30 in all (max 2:00), the longest 1:30 from 01:00.0"
    );
    assert_eq!(
        (hold.evidence[0].start, hold.evidence[0].end),
        (60.0, 150.0)
    );
    assert_eq!(result.score, 33.3);
    // A call never held: the evidence is the whole call.
    let never = Signals {
        hold: 0.0,
        longest_hold: Span::default(),
        ..s.clone()
    };
    let result = score(&r, &said(Channel::Caller, &[]), &none, &never);
    let hold = item(&result, "hold");
    assert_eq!(hold.outcome, Outcome::Pass);
    assert_eq!((hold.evidence[0].start, hold.evidence[0].end), (0.0, 200.0));
    // No figures (no audio analysed): nothing to judge.
    let result = score(&r, &said(Channel::Caller, &[]), &none, &Signals::default());
    assert!(
        result
            .items
            .iter()
            .all(|i| i.outcome == Outcome::NotApplicable)
    );
    assert_eq!(result.categories[0].score, None);
    assert_eq!(result.score, 100.0);
}

const WEIGHTED: &str = r#"
[[category]]
name = "attitude"
weight = 3

[[category.item]]
id = "polite"
kind = "required"
phrases = ["thank you for calling"]
weight = 3

[[category.item]]
id = "rude"
kind = "banned"
phrases = ["look it up yourself"]

[[category]]
name = "process"
weight = 1

[[category.item]]
id = "notice"
kind = "required"
phrases = ["we will protect your personal information"]

[[category.item]]
id = "allergy"
kind = "required"
phrases = ["allergy return policy"]
when_caller_says = ["allergy"]
fatal = true
"#;

#[test]
fn weights_count_and_not_applicable_items_are_left_out() {
    let r = rules(WEIGHTED);
    // polite passes (3), rude fails (1): attitude 75; notice fails,
    // allergy does not apply: process 0. Total (3 × 75 + 0) / 4.
    let agent = said(
        Channel::Agent,
        &[
            (1.0, 3.0, "thank you for calling"),
            (30.0, 32.0, "look it up yourself"),
        ],
    );
    let s = score(&r, &said(Channel::Caller, &[]), &agent, &signals(60.0));
    assert_eq!(s.categories[0].score, Some(75.0));
    assert_eq!(s.categories[1].score, Some(0.0));
    assert_eq!(
        (s.categories[1].failed, s.categories[1].not_applicable),
        (1, 1)
    );
    assert_eq!(s.score, 56.3);
    assert!(s.fatal.is_empty());
}

#[test]
fn a_fatal_failure_makes_the_score_zero() {
    let r = rules(WEIGHTED);
    let agent = said(
        Channel::Agent,
        &[
            (1.0, 3.0, "thank you for calling"),
            (5.0, 9.0, "we will protect your personal information"),
        ],
    );
    let caller = said(Channel::Caller, &[(12.0, 14.0, "I have an allergy")]);
    let s = score(&r, &caller, &agent, &signals(60.0));
    assert_eq!(s.fatal, ["allergy"]);
    assert_eq!(s.score, 0.0);
    assert_eq!(s.categories[0].score, Some(100.0));
    assert!(render(&s).starts_with("QA score: 0.0 / 100 (fatal: allergy failed)\n"));
}

#[test]
fn json_has_the_documented_shape() {
    let r = rules(ONE_CATEGORY);
    let agent = said(Channel::Agent, &[(5.0, 8.0, "look it up yourself")]);
    let s = score(&r, &said(Channel::Caller, &[]), &agent, &signals(100.0));
    let v = serde_json::to_value(&s).unwrap_or_default();
    assert!(v["score"].is_number());
    assert_eq!(v["categories"][0]["name"], "c");
    let first = &v["items"][0];
    assert_eq!(first["rule"], "banned");
    assert_eq!(first["category"], "c");
    assert_eq!(first["outcome"], "fail");
    assert_eq!(first["evidence"][0]["channel"], "agent");
    assert_eq!(first["evidence"][0]["start"], 5.0);
    assert_eq!(first["evidence"][0]["end"], 8.0);
    assert_eq!(first["evidence"][0]["text"], "look it up yourself");
    assert_eq!(v["items"][2]["outcome"], "n/a");
    let back: CallScore = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, s);
}

#[test]
fn phrases_are_listed_per_channel_normalised() {
    let (agent, caller) = phrases(&demo_rules());
    for p in [
        "i do not know",
        "你自己查",
        "within twenty four hours",
        "i will just log it",
    ] {
        assert!(agent.iter().any(|a| a == p), "{p} in {agent:?}");
    }
    assert_eq!(caller, ["allergy", "allergic"]);
    let mut unique = agent.clone();
    unique.dedup();
    assert_eq!(unique.len(), agent.len());
}

#[test]
fn the_demo_rules_score_a_call_and_render_it() {
    let agent = said(
        Channel::Agent,
        &[
            (1.0, 4.0, "Thank you for calling Acme, how can I help you?"),
            (
                20.0,
                25.0,
                "First, we will protect your personal information.",
            ),
            (60.0, 64.0, "I don't know, I'll just log it."),
            (110.0, 114.0, "Is there anything else I can help you with?"),
        ],
    );
    let caller = said(Channel::Caller, &[(10.0, 14.0, "My parcel never came.")]);
    let s = score(&demo_rules(), &caller, &agent, &signals(120.0));
    let outcome = |rule: &str| item(&s, rule).outcome;
    assert_eq!(outcome("no-dont-know"), Outcome::Fail);
    assert_eq!(outcome("no-do-it-yourself"), Outcome::Pass);
    assert_eq!(outcome("greeting"), Outcome::Pass);
    assert_eq!(outcome("privacy-notice"), Outcome::Pass);
    assert_eq!(outcome("allergy-policy"), Outcome::NotApplicable);
    assert_eq!(outcome("closing"), Outcome::Pass);
    assert_eq!(outcome("commitment"), Outcome::Fail);
    assert_eq!(outcome("dead-air"), Outcome::Pass);
    let text = render(&s);
    assert!(
        text.contains(
            "  FAIL  no-dont-know (banned)\n        agent 01:00.0-01:04.0 \"I don't know\"\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  N/A   allergy-policy (required)\n"),
        "{text}"
    );
    assert!(
        text.contains("  PASS  no-do-it-yourself (banned, fatal)\n"),
        "{text}"
    );
    assert_eq!(clock(75.04), "01:15.0");
    assert_eq!(clock(59.96), "01:00.0");
}
