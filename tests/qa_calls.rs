//! QA of real calls, end to end: real softphones talk through the switch,
//! the switch records each call, its own QA worker checks the recording
//! with the embedded PocketSphinx recognizer against the QA rules, and every
//! rule kind of `qa/rules.toml` gets calls where it passes, fails or does
//! not apply.
//!
//! Set-up: the demo configuration with both SIP profiles limited to G.722
//! (so the recording is stereo at 16 kHz, which PocketSphinx transcribes)
//! and a copy of the demo's rules where only the numbers that would make the
//! calls long are smaller (see [`test_rules`]). Each call's agent is a
//! baresip softphone registered as 1001..1005 (auto-answer) playing a WAV of
//! the agent's lines, and the caller is a baresip softphone dialling the
//! agent's extension through the carrier trunk, playing a WAV of the
//! caller's lines. Both WAVs come from one script per call, spoken by flite
//! (voices `slt` and `rms` only) and converted to 16 kHz by sox, so the two
//! sides take turns with short pauses, as people do; the agent hangs up at
//! the end of its WAV (see `common::scripted_call`). In the hold call the
//! agent's phone puts the caller on hold (a re-INVITE) in a pause of its
//! WAV and resumes. Five calls run at once, one per agent.
//!
//! Pass/fail, per call (see [`calls`] for the scripts and expectations):
//! - the call is answered, both legs are G.722 and the recording is stereo
//!   at 16 kHz;
//! - the call's QA job reaches `done` in `switchboard qa jobs --json`
//!   within 90 s of the hang-up (never `failed`);
//! - the result the QA worker stored for the recording (as `switchboard qa
//!   result RECORDING --format json` prints it) has every
//!   item of the rules with the outcome written in the call's plan (pass,
//!   fail or n/a, none missing), and the score the plan's outcomes give by
//!   the rules' weights (0 with the fatal item listed when it fails); a
//!   banned phrase said once is reported once;
//! - for the model call, `switchboard qa run CALL-ID --format json` checks
//!   the recording again and prints the same score and outcomes;
//! - for each phrase the plan expects as evidence: an evidence entry on the
//!   right channel whose text has the phrase's words and whose time span
//!   lies within the recording and within 2 s of when the script said it;
//!   for the silence and overtalk failures, the evidence span lies over the
//!   scripted pause or overlap, and for the hold failure over the hold;
//! - both channels have an open transcription (16 kHz audio).
//!
//! Every failure of every call is collected and reported together with the
//! QA output, then the test fails.

mod common;

use common::speech::{speak, write_wav};
use common::*;
use serde_json::Value;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The recordings' (and the WAVs') sample rate.
const RATE: u32 = 16_000;
/// Silence before the first line of a script (seconds).
const LEAD_IN: f64 = 0.5;
/// Pause between two lines unless the script says otherwise.
const TURN_GAP: f64 = 0.5;
/// Seconds of silence the agent's WAV keeps after the last line, before
/// the agent hangs up.
const TAIL: f64 = 1.0;
/// How far evidence may be from where the script put the phrase (seconds):
/// the two phones start their WAVs a little after the recording starts.
const SLACK: f64 = 2.0;
/// The longest silence the test's rules allow (the demo's is 20 s).
const MAX_SILENCE: f64 = 8.0;
/// The longest hold the test's rules allow (the demo's is 2 minutes).
const MAX_HOLD_MINUTES: f64 = 0.1;
/// How long after the line before it a hold starts (seconds).
const HOLD_AFTER: f64 = 1.0;
/// How long the hold call's hold lasts (over [`MAX_HOLD_MINUTES`]; the
/// pause around it is under [`MAX_SILENCE`]).
const HOLD: f64 = 12.0;

/// The demo's rules with shorter numbers, so calls stay short: silence at
/// most 8 s instead of 20 s, hold at most 6 s instead of 2 minutes;
/// everything else as shipped.
fn test_rules() -> String {
    let mut rules = fs::read_to_string(repo_root().join("qa/rules.toml"))
        .expect("qa/rules.toml (the demo's QA rules) must exist");
    for (from, to) in [
        ("max_seconds = 20", format!("max_seconds = {MAX_SILENCE}")),
        (
            "max_minutes = 2",
            format!("max_minutes = {MAX_HOLD_MINUTES}"),
        ),
    ] {
        assert!(
            rules.contains(from),
            "qa/rules.toml changed: the test replaces {from} with {to}"
        );
        rules = rules.replace(from, &to);
    }
    rules
}

// ---------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Agent,
    Caller,
}

impl Who {
    fn channel(self) -> &'static str {
        match self {
            Who::Agent => "agent",
            Who::Caller => "caller",
        }
    }
}

/// One line of a script.
#[derive(Debug, Clone)]
struct Line {
    who: Who,
    text: &'static str,
    /// Silence before it (seconds).
    gap: f64,
    /// It starts this long after the line before it starts, talking over
    /// it, instead of after a gap.
    over: Option<f64>,
}

fn agent(text: &'static str) -> Line {
    Line {
        who: Who::Agent,
        text,
        gap: TURN_GAP,
        over: None,
    }
}

fn caller(text: &'static str) -> Line {
    Line {
        who: Who::Caller,
        text,
        gap: TURN_GAP,
        over: None,
    }
}

impl Line {
    fn after(mut self, gap: f64) -> Line {
        self.gap = gap;
        self
    }

    fn over_previous(mut self, after: f64) -> Line {
        self.over = Some(after);
        self
    }
}

/// Evidence a call's result must show for an item: said by `who` in line
/// `line` of the script, with these words.
#[derive(Debug, Clone)]
struct Heard {
    rule: &'static str,
    who: Who,
    line: usize,
    words: &'static str,
}

/// One call: who talks, what they say, and what QA must find.
struct Plan {
    name: &'static str,
    agent_voice: &'static str,
    caller_voice: &'static str,
    lines: Vec<Line>,
    /// Every item of the rules and its outcome.
    outcomes: Vec<(&'static str, &'static str)>,
    heard: Vec<Heard>,
    /// The signal items' evidence: (rule, the line after the pause or the
    /// overlapping line, whose span must hold the evidence's middle).
    signal_at: Vec<(&'static str, usize)>,
    /// `(line, seconds)`: the agent puts the caller on hold [`HOLD_AFTER`]
    /// after the line before `line` ends, for `seconds` (within the pause
    /// before `line`).
    hold: Option<(usize, f64)>,
}

/// The rule ids, in the order of `qa/rules.toml`, with their outcome on a
/// call that does everything right and where no allergy is mentioned.
const ALL_GOOD: [(&str, &str); 10] = [
    ("no-dont-know", "pass"),
    ("no-do-it-yourself", "pass"),
    ("greeting", "pass"),
    ("privacy-notice", "pass"),
    ("allergy-policy", "n/a"),
    ("closing", "pass"),
    ("commitment", "pass"),
    ("dead-air", "pass"),
    ("overtalk", "pass"),
    ("long-hold", "pass"),
];

/// [`ALL_GOOD`] with some outcomes changed.
fn outcomes(changed: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    for (rule, _) in changed {
        assert!(
            ALL_GOOD.iter().any(|(r, _)| r == rule),
            "the plan names an unknown rule {rule}"
        );
    }
    ALL_GOOD
        .iter()
        .map(|&(rule, outcome)| {
            let o = changed
                .iter()
                .find(|(r, _)| *r == rule)
                .map_or(outcome, |(_, o)| o);
            (rule, o)
        })
        .collect()
}

fn heard(rule: &'static str, who: Who, line: usize, words: &'static str) -> Heard {
    Heard {
        rule,
        who,
        line,
        words,
    }
}

const GREETING: &str = "Thank you for calling Acme Foods. How can I help you?";
const PRIVACY: &str = "Before we start, we will protect your personal information.";
const REFUND: &str = "I will refund you within 24 hours.";
const CLOSING: &str = "Is there anything else I can help you with today?";

/// The calls: scripts and expected QA results.
fn calls() -> Vec<Plan> {
    use Who::{Agent as A, Caller as C};
    vec![
        // 0: everything right; the banned phrases are not heard; no
        // allergy, so the allergy item does not apply.
        Plan {
            name: "model call",
            agent_voice: "slt",
            caller_voice: "rms",
            lines: vec![
                agent(GREETING),
                caller("Hi. My order arrived broken and I would like my money back."),
                agent(PRIVACY),
                agent(REFUND),
                caller("Great, thanks a lot."),
                agent(CLOSING),
                caller("No, that is all. Goodbye."),
            ],
            outcomes: outcomes(&[]),
            heard: vec![
                heard("greeting", A, 0, "thank you for calling"),
                heard("privacy-notice", A, 2, "protect your personal information"),
                heard("commitment", A, 3, "refund"),
                heard("closing", A, 5, "anything else"),
            ],
            signal_at: vec![],
            hold: None,
        },
        // 1: "I don't know".
        Plan {
            name: "banned: I don't know",
            agent_voice: "rms",
            caller_voice: "slt",
            lines: vec![
                agent(GREETING),
                caller("Hello. When will my parcel arrive?"),
                agent(PRIVACY),
                agent("I don't know. The courier did not tell us."),
                agent(REFUND),
                agent(CLOSING),
            ],
            outcomes: outcomes(&[("no-dont-know", "fail")]),
            heard: vec![
                heard("no-dont-know", A, 3, "i do not know"),
                heard("greeting", A, 0, "thank you for calling"),
            ],
            signal_at: vec![],
            hold: None,
        },
        // 2: "nothing I can do".
        Plan {
            name: "banned: nothing I can do",
            agent_voice: "slt",
            caller_voice: "rms",
            lines: vec![
                agent(GREETING),
                caller("Hello. My delivery is late because of the snow."),
                agent(PRIVACY),
                agent("I am sorry, there is nothing I can do about the weather."),
                agent(REFUND),
                agent(CLOSING),
            ],
            outcomes: outcomes(&[("no-dont-know", "fail")]),
            heard: vec![heard("no-dont-know", A, 3, "nothing i can do")],
            signal_at: vec![],
            hold: None,
        },
        // 3: "look it up yourself": fatal, the score is 0.
        Plan {
            name: "banned, fatal: look it up yourself",
            agent_voice: "rms",
            caller_voice: "slt",
            lines: vec![
                agent(GREETING),
                caller("Hello. What are your opening hours?"),
                agent(PRIVACY),
                agent("You can look it up yourself on our website."),
                agent(REFUND),
                agent(CLOSING),
            ],
            outcomes: outcomes(&[("no-do-it-yourself", "fail")]),
            heard: vec![heard("no-do-it-yourself", A, 3, "look it up yourself")],
            signal_at: vec![],
            hold: None,
        },
        // 4: no privacy notice, and a caller talking over the agent.
        Plan {
            name: "privacy notice missing, overtalk",
            agent_voice: "slt",
            caller_voice: "rms",
            lines: vec![
                agent(GREETING),
                caller("Hi. My order arrived broken and I would like my money back."),
                agent(
                    "Oh, I am sorry to hear that. Let me look at your order. \
                     It says here that it was shipped on Monday morning.",
                ),
                caller(
                    "I have waited for three weeks and nobody called me back. \
                     This is not acceptable, I want my money now.",
                )
                .over_previous(0.3),
                agent(REFUND),
                agent(CLOSING),
                caller("No, that is all. Goodbye."),
            ],
            outcomes: outcomes(&[("privacy-notice", "fail"), ("overtalk", "fail")]),
            heard: vec![heard("closing", A, 5, "anything else")],
            signal_at: vec![("overtalk", 3)],
            hold: None,
        },
        // 5: the caller mentions an allergy; the agent states the policy.
        Plan {
            name: "allergy, policy stated",
            agent_voice: "slt",
            caller_voice: "rms",
            lines: vec![
                agent(GREETING),
                caller("Hi, I have a nut allergy, can I return this cake?"),
                agent(PRIVACY),
                agent("Yes. Under our allergy return policy you get your money back."),
                agent(REFUND),
                agent(CLOSING),
            ],
            outcomes: outcomes(&[("allergy-policy", "pass")]),
            heard: vec![
                heard("allergy-policy", C, 1, "allergy"),
                heard("allergy-policy", A, 3, "allergy return policy"),
            ],
            signal_at: vec![],
            hold: None,
        },
        // 6: the caller is allergic; the agent never states the policy.
        Plan {
            name: "allergy, policy not stated",
            agent_voice: "rms",
            caller_voice: "slt",
            lines: vec![
                agent(GREETING),
                caller("Hello. I am allergic to nuts and this cake has nuts in it."),
                agent(PRIVACY),
                agent("Oh dear, I am sorry about that."),
                agent(REFUND),
                agent(CLOSING),
            ],
            outcomes: outcomes(&[("allergy-policy", "fail")]),
            // PocketSphinx spots "allergy" in "allergic" too: either will do.
            heard: vec![heard("allergy-policy", C, 1, "allerg*")],
            signal_at: vec![],
            hold: None,
        },
        // 7: only a deflection: the resolution fails.
        Plan {
            name: "deflection only",
            agent_voice: "slt",
            caller_voice: "rms",
            lines: vec![
                agent(GREETING),
                caller("Hi. My order arrived broken and I would like my money back."),
                agent(PRIVACY),
                agent("Well, I'll just log it for now."),
                agent(CLOSING),
            ],
            outcomes: outcomes(&[("commitment", "fail")]),
            heard: vec![heard("commitment", A, 3, "just log it")],
            signal_at: vec![],
            hold: None,
        },
        // 8: a deflection, then a commitment: the last one decides.
        Plan {
            name: "deflection, then commitment",
            agent_voice: "rms",
            caller_voice: "slt",
            lines: vec![
                agent(GREETING),
                caller("Hi. My order arrived broken and I would like my money back."),
                agent(PRIVACY),
                agent("Normally I'll just log it."),
                caller("That is not good enough."),
                agent("You are right. I will refund you within 24 hours."),
                agent(CLOSING),
            ],
            outcomes: outcomes(&[]),
            heard: vec![
                heard("commitment", A, 3, "just log it"),
                heard("commitment", A, 5, "refund"),
            ],
            signal_at: vec![],
            hold: None,
        },
        // 9: a long silence in the middle.
        Plan {
            name: "long silence",
            agent_voice: "slt",
            caller_voice: "rms",
            lines: vec![
                agent(GREETING),
                caller("Hi. My order arrived broken and I would like my money back."),
                agent("Let me check."),
                agent(PRIVACY).after(MAX_SILENCE + 3.0),
                agent(REFUND),
                agent(CLOSING),
            ],
            outcomes: outcomes(&[("dead-air", "fail")]),
            heard: vec![],
            signal_at: vec![("dead-air", 3)],
            hold: None,
        },
        // 10: a long hold; the pause around it is no dead air (hold is
        // cut out of silences).
        Plan {
            name: "long hold",
            agent_voice: "rms",
            caller_voice: "slt",
            lines: vec![
                agent(GREETING),
                caller("Hello. Can you check the status of my refund?"),
                agent(PRIVACY),
                agent("Let me check that with my colleague, please hold."),
                agent(REFUND).after(HOLD + 2.0 * HOLD_AFTER + 1.0),
                agent(CLOSING),
            ],
            outcomes: outcomes(&[("long-hold", "fail")]),
            heard: vec![heard(
                "privacy-notice",
                A,
                2,
                "protect your personal information",
            )],
            signal_at: vec![],
            hold: Some((4, HOLD)),
        },
    ]
}

// ---------------------------------------------------------------------
// Audio
// ---------------------------------------------------------------------

/// A script rendered: each side's WAV, and when each line is said
/// (seconds from the start of the WAVs).
struct Rendered {
    agent_wav: PathBuf,
    caller_wav: PathBuf,
    spans: Vec<(f64, f64)>,
    /// When the agent hangs up (the end of its WAV).
    length: f64,
    /// When the agent holds the caller, and how long.
    hold: Option<(f64, f64)>,
}

fn render(dir: &Path, id: usize, plan: &Plan) -> Rendered {
    let mut t = LEAD_IN;
    let mut spans = Vec::new();
    let mut placed = Vec::new();
    for line in &plan.lines {
        let voice = match line.who {
            Who::Agent => plan.agent_voice,
            Who::Caller => plan.caller_voice,
        };
        let pcm = speak(dir, voice, line.text);
        let start = match (line.over, spans.last()) {
            (Some(after), Some(&(previous, _))) => previous + after,
            _ => t + line.gap,
        };
        let end = start + pcm.len() as f64 / f64::from(RATE);
        spans.push((start, end));
        placed.push((line.who, start, pcm));
        t = t.max(end);
    }
    let length = t + TAIL;
    let samples = |secs: f64| (secs * f64::from(RATE)).round() as usize;
    // The caller's WAV runs longer: the agent hangs up first.
    let mut agent_pcm = vec![0i16; samples(length)];
    let mut caller_pcm = vec![0i16; samples(length + 20.0)];
    for (who, start, pcm) in placed {
        let buf = match who {
            Who::Agent => &mut agent_pcm,
            Who::Caller => &mut caller_pcm,
        };
        let at = samples(start);
        for (k, s) in pcm.into_iter().enumerate() {
            if let Some(slot) = buf.get_mut(at + k) {
                *slot = s;
            }
        }
    }
    let agent_wav = dir.join(format!("call{id}-agent.wav"));
    let caller_wav = dir.join(format!("call{id}-caller.wav"));
    write_wav(&agent_wav, RATE, &[&agent_pcm]);
    write_wav(&caller_wav, RATE, &[&caller_pcm]);
    let hold = plan
        .hold
        .map(|(line, secs)| (spans[line - 1].1 + HOLD_AFTER, secs));
    Rendered {
        agent_wav,
        caller_wav,
        spans,
        length,
        hold,
    }
}

// ---------------------------------------------------------------------
// QA results
// ---------------------------------------------------------------------

/// Waits (bounded) for the call's QA job to be `done`; its last listing.
fn wait_job_done(sw: &Switch, call_id: &str, limit: Duration) -> Result<Value, String> {
    let end = Instant::now() + limit;
    let mut last = Value::Null;
    while Instant::now() < end {
        let out = sw.command(&["qa", "jobs", "--json"]);
        if !out.status.success() {
            return Err(format!(
                "`qa jobs --json` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let jobs: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("`qa jobs --json` is not JSON ({e})"))?;
        if let Some(job) = jobs
            .as_array()
            .and_then(|a| a.iter().find(|j| j["call_id"] == call_id))
        {
            match job["state"].as_str() {
                Some("done") => return Ok(job.clone()),
                Some("failed") => return Err(format!("the QA job failed: {job:#}")),
                _ => last = job.clone(),
            }
        }
        thread::sleep(Duration::from_millis(500));
    }
    Err(format!(
        "the QA job of {call_id} was not done within {limit:?}; last seen: {last:#}"
    ))
}

/// The result the switch's QA worker stored for `recording`, as
/// `switchboard qa result RECORDING --format json` prints it (unsealed
/// with the switch's key).
fn stored_result(sw: &Switch, recording: &str) -> Result<Value, String> {
    let out = sw.command(&["qa", "result", recording, "--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "qa result {recording} failed: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let [line] = lines[..] else {
        return Err(format!(
            "qa result {recording} printed {} results, not one:\n{stdout}",
            lines.len()
        ));
    };
    let result: Value = serde_json::from_str(line)
        .map_err(|e| format!("qa result printed no JSON ({e}): {line}"))?;
    if result["recording"] != recording {
        return Err(format!(
            "qa result {recording} printed another recording: {line}"
        ));
    }
    Ok(result)
}

/// `qa run CALL-ID --format json`: the one recording's result.
fn qa_run(sw: &Switch, call_id: &str) -> Result<Value, String> {
    let out = sw.command(&["qa", "run", call_id, "--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "`qa run {call_id} --format json` failed: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != 1 {
        return Err(format!(
            "`qa run` printed {} lines, not 1:\n{stdout}",
            lines.len()
        ));
    }
    serde_json::from_str(lines[0]).map_err(|e| format!("`qa run` printed no JSON ({e}): {stdout}"))
}

/// Lowercase words, punctuation dropped, contractions as the rules'
/// matcher spells them out ("don't" = "do not", "I'll" = "I will").
fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace('\u{2019}', "'");
    let mut out = Vec::new();
    for w in lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
    {
        let w = w.trim_matches('\'');
        let expanded: &[&str] = match w {
            "don't" | "dont" => &["do", "not"],
            "i'll" => &["i", "will"],
            "can't" | "cant" => &["can", "not"],
            "i'm" => &["i", "am"],
            _ => &[],
        };
        if expanded.is_empty() {
            out.push(w.replace('\'', ""));
        } else {
            out.extend(expanded.iter().map(|s| s.to_string()));
        }
    }
    out
}

/// Whether `text` has all of `phrase`'s words, in order and together (a
/// phrase word ending in `*` matches any word it begins).
fn says(text: &str, phrase: &str) -> bool {
    let t = words(text);
    let p: Vec<String> = phrase
        .split_whitespace()
        .flat_map(|w| match w.strip_suffix('*') {
            Some(stem) => vec![format!("{}*", words(stem).concat())],
            None => words(w),
        })
        .collect();
    let same = |heard: &String, want: &String| match want.strip_suffix('*') {
        Some(stem) => heard.starts_with(stem),
        None => heard == want,
    };
    !p.is_empty()
        && t.windows(p.len())
            .any(|w| w.iter().zip(&p).all(|(h, want)| same(h, want)))
}

/// The score the plan's outcomes give, by the rules' weights (the demo's
/// rules: see qa/rules.toml), 0 when the fatal item fails.
fn expected_score(outcomes: &[(&str, &str)]) -> f64 {
    // (category, its weight, [(item, item weight)])
    let cats: [(f64, &[(&str, f64)]); 4] = [
        (
            30.0,
            &[
                ("no-dont-know", 2.0),
                ("no-do-it-yourself", 1.0),
                ("greeting", 1.0),
            ],
        ),
        (
            30.0,
            &[
                ("privacy-notice", 2.0),
                ("allergy-policy", 2.0),
                ("closing", 1.0),
            ],
        ),
        (25.0, &[("commitment", 1.0)]),
        (
            15.0,
            &[("dead-air", 1.0), ("overtalk", 1.0), ("long-hold", 1.0)],
        ),
    ];
    let of = |rule: &str| {
        outcomes
            .iter()
            .find(|(r, _)| *r == rule)
            .map(|(_, o)| *o)
            .unwrap_or("n/a")
    };
    if of("no-do-it-yourself") == "fail" {
        return 0.0;
    }
    let round = |x: f64| (x * 10.0).round() / 10.0;
    let (mut sum, mut weights) = (0.0, 0.0);
    for (weight, items) in cats {
        let (mut applied, mut passed) = (0.0, 0.0);
        for (rule, w) in items {
            match of(rule) {
                "pass" => {
                    applied += w;
                    passed += w;
                }
                "fail" => applied += w,
                _ => {}
            }
        }
        if applied > 0.0 {
            sum += weight * round(100.0 * passed / applied);
            weights += weight;
        }
    }
    round(sum / weights)
}

/// Every way `result` differs from `plan`: empty when it matches.
fn compare(plan: &Plan, rendered: &Rendered, result: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let items = result["items"].as_array().cloned().unwrap_or_default();
    let duration = result["audio_seconds"].as_f64().unwrap_or(0.0);
    if duration < rendered.length - 3.0 || duration > rendered.length + 5.0 {
        problems.push(format!(
            "the recording lasts {duration:.1} s; the agent's WAV {:.1} s",
            rendered.length
        ));
    }
    let item = |rule: &str| items.iter().find(|i| i["rule"] == rule);
    if items.len() != plan.outcomes.len() {
        problems.push(format!(
            "{} items in the result, the rules have {}",
            items.len(),
            plan.outcomes.len()
        ));
    }
    for (rule, want) in &plan.outcomes {
        match item(rule) {
            None => problems.push(format!("item {rule} is missing")),
            Some(i) if i["outcome"] != *want => problems.push(format!(
                "{rule}: {} (expected {want}); evidence {}; note: {}",
                i["outcome"], i["evidence"], i["note"]
            )),
            Some(_) => {}
        }
    }
    let score = result["score"].as_f64().unwrap_or(-1.0);
    let want_score = expected_score(&plan.outcomes);
    if (score - want_score).abs() > 0.11 {
        problems.push(format!("score {score}, expected {want_score}"));
    }
    let fatal: Vec<&str> = result["fatal"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let want_fatal: Vec<&str> = plan
        .outcomes
        .iter()
        .filter(|(r, o)| *r == "no-do-it-yourself" && *o == "fail")
        .map(|(r, _)| *r)
        .collect();
    if fatal != want_fatal {
        problems.push(format!("fatal items {fatal:?}, expected {want_fatal:?}"));
    }
    for h in &plan.heard {
        let (from, to) = rendered.spans[h.line];
        let evidence = item(h.rule)
            .and_then(|i| i["evidence"].as_array().cloned())
            .unwrap_or_default();
        let found = evidence.iter().any(|e| {
            let (start, end) = (
                e["start"].as_f64().unwrap_or(-1.0),
                e["end"].as_f64().unwrap_or(-1.0),
            );
            e["channel"] == h.who.channel()
                && says(e["text"].as_str().unwrap_or(""), h.words)
                && start >= 0.0
                && end >= start
                && end <= duration + 0.01
                && start >= from - SLACK
                && end <= to + SLACK
        });
        if !found {
            problems.push(format!(
                "{}: no evidence of the {} saying \"{}\" within {from:.1}-{to:.1} s (±{SLACK} s); \
                 evidence: {}",
                h.rule,
                h.who.channel(),
                h.words,
                Value::Array(evidence.clone())
            ));
        }
    }
    // A banned phrase said once is reported once.
    for rule in ["no-dont-know", "no-do-it-yourself"] {
        let said = plan.heard.iter().filter(|h| h.rule == rule).count();
        let reported = item(rule)
            .and_then(|i| i["evidence"].as_array().map(Vec::len))
            .unwrap_or(0);
        if said != reported {
            problems.push(format!(
                "{rule}: said {said} time(s), reported {reported} time(s): {}",
                item(rule).map_or(Value::Null, |i| i["evidence"].clone())
            ));
        }
    }
    // A signal item's first evidence must span `from..to` (within SLACK).
    let mut spans_over = |rule: &str, from: f64, to: f64| {
        let e = item(rule).and_then(|i| i["evidence"].get(0).cloned());
        let ok = e.as_ref().is_some_and(|e| {
            let start = e["start"].as_f64().unwrap_or(-1.0);
            let end = e["end"].as_f64().unwrap_or(-1.0);
            (start - from).abs() <= SLACK && (end - to).abs() <= SLACK
        });
        if !ok {
            problems.push(format!(
                "{rule}: evidence {e:?} is not the scripted stretch {from:.1}-{to:.1} s"
            ));
        }
    };
    for (rule, line) in &plan.signal_at {
        let (before, this) = (rendered.spans[line - 1], rendered.spans[*line]);
        // The pause before the line, or its overlap with the line before.
        let (from, to) = if this.0 >= before.1 {
            (before.1, this.0)
        } else {
            (this.0, this.1.min(before.1))
        };
        spans_over(rule, from, to);
    }
    if let Some((from, secs)) = rendered.hold {
        // The evidence is the hold itself, from the call's journal.
        spans_over("long-hold", from, from + secs);
    }
    for (i, channel) in ["caller", "agent"].iter().enumerate() {
        let t = &result["transcripts"][i];
        let transcribed = t["segments"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["heard"] == "transcribed"));
        if t["channel"] != *channel || !transcribed {
            problems.push(format!("no open transcription of the {channel}: {t}"));
        }
    }
    problems
}

/// The parts of a result worth showing when it is wrong: items, transcripts.
fn summary(result: &Value) -> String {
    let mut out = format!("score {}\n", result["score"]);
    for i in result["items"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {:<18} {:<5} {} {}",
            i["rule"].as_str().unwrap_or(""),
            i["outcome"].as_str().unwrap_or(""),
            i["evidence"],
            i["note"]
        );
    }
    for t in result["transcripts"].as_array().into_iter().flatten() {
        let text: Vec<String> = t["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| format!("[{:.1} {} {}]", s["start"], s["heard"], s["text"]))
            .collect();
        let _ = writeln!(out, "  {}: {}", t["channel"], text.join(" "));
    }
    out
}

// ---------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------

/// Agents taking calls at once: 1001..1005.
const AGENTS: [&str; 5] = ["1001", "1002", "1003", "1004", "1005"];

#[test]
fn real_calls_are_scored_against_every_kind_of_qa_rule() {
    let began = Instant::now();
    for voice in ["slt", "rms"] {
        speech::require_voice(voice);
    }

    let plans = calls();
    let wavs = tempfile::Builder::new()
        .prefix("qa-calls-wav-")
        .tempdir()
        .unwrap();
    let rendered: Vec<Rendered> = plans
        .iter()
        .enumerate()
        .map(|(i, p)| render(wavs.path(), i, p))
        .collect();
    eprintln!("WAVs of {} calls in {:?}", plans.len(), began.elapsed());

    let g722_only = |rel: &str, text: &mut String| {
        if rel.starts_with("sip-profiles/") {
            text.push_str("\n[media]\ncodecs = [\"G722\"]\n");
        }
    };
    let sw = Switch::start(SwitchOpts::new().file("qa/rules.toml", &test_rules()).edit(
        move |rel, text| {
            g722_only(rel, text);
            if rel == "switchboard.toml" {
                // Two QA workers keep up with five agents.
                set_toml_key(text, "qa", "workers", "2");
            }
        },
    ));

    // Calls go to the agents in turn; each agent's calls one after another.
    let seen = Mutex::new(Vec::new());
    let problems: Mutex<Vec<String>> = Mutex::new(Vec::new());
    thread::scope(|s| {
        for (slot, ext) in AGENTS.iter().enumerate() {
            let (sw, plans, rendered, seen, problems) = (&sw, &plans, &rendered, &seen, &problems);
            s.spawn(move || {
                // The same SIP port for each of this agent's phones: a
                // binding left behind is replaced, never rung.
                let agent_port = alloc_ports(2);
                let mut checks = Vec::new();
                for i in (slot..plans.len()).step_by(AGENTS.len()) {
                    let (plan, r) = (&plans[i], &rendered[i]);
                    let audio = scripted_call::CallAudio {
                        agent_wav: &r.agent_wav,
                        caller_wav: &r.caller_wav,
                        length: r.length,
                        hold: r.hold,
                    };
                    let done = match scripted_call::place_call(sw, ext, agent_port, &audio, seen) {
                        Ok(d) => d,
                        Err(e) => {
                            problems
                                .lock()
                                .unwrap()
                                .push(format!("call {i} ({}): {e}", plan.name));
                            continue;
                        }
                    };
                    eprintln!(
                        "call {i} ({}) to {ext} ended at {:?}",
                        plan.name,
                        began.elapsed()
                    );
                    // Checked while this agent takes its next call.
                    checks.push(s.spawn(move || {
                        let mut found = check_cdr(&done.cdr);
                        // Eleven calls' QA on two low-priority workers: the
                        // last job may wait for the ten before it.
                        let stored = wait_job_done(sw, &done.call_id, Duration::from_secs(240))
                            .and_then(|job| {
                                stored_result(sw, job["recording"].as_str().unwrap_or(""))
                            });
                        match stored {
                            Ok(result) => {
                                let p = compare(plan, r, &result);
                                if !p.is_empty() {
                                    found.extend(p);
                                    found.push(summary(&result));
                                }
                                // The command line checks the call again
                                // and agrees (once: it takes as long as
                                // the worker).
                                if i == 0 {
                                    match qa_run(sw, &done.call_id) {
                                        Ok(again) => found.extend(same_result(&result, &again)),
                                        Err(e) => found.push(e),
                                    }
                                }
                            }
                            Err(e) => found.push(e),
                        }
                        eprintln!("call {i} ({}) checked at {:?}", plan.name, began.elapsed());
                        if !found.is_empty() {
                            problems.lock().unwrap().push(format!(
                                "call {i} ({}, {}):\n  {}",
                                plan.name,
                                done.call_id,
                                found.join("\n  ")
                            ));
                        }
                    }));
                }
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    eprintln!(
        "{} calls placed and checked in {:?}",
        plans.len(),
        began.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} of {} calls differ from their plan:\n{}",
        problems.len(),
        plans.len(),
        problems.join("\n")
    );
}

/// Differences between the stored result and `qa run`'s of the same
/// recording: score and every item's outcome.
fn same_result(stored: &Value, again: &Value) -> Vec<String> {
    let outcomes = |v: &Value| -> Vec<(String, String)> {
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| (i["rule"].to_string(), i["outcome"].to_string()))
            .collect()
    };
    let mut out = Vec::new();
    if stored["recording"] != again["recording"] {
        out.push(format!(
            "`qa run` checked {}, the worker {}",
            again["recording"], stored["recording"]
        ));
    }
    if stored["score"] != again["score"] || outcomes(stored) != outcomes(again) {
        out.push(format!(
            "`qa run` disagrees with the stored result:\n{}\nstored:\n{}",
            summary(again),
            summary(stored)
        ));
    }
    out
}

/// The call was answered with G.722 on both legs and recorded in stereo at
/// 16 kHz.
fn check_cdr(cdr: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if cdr["disposition"] != "answered" {
        out.push(format!("not answered: {cdr}"));
    }
    for leg in ["caller", "agent"] {
        if cdr["legs"][leg]["codec"] != "G722/8000" {
            out.push(format!("the {leg} leg is not G.722: {}", cdr["legs"][leg]));
        }
    }
    let rec = &cdr["recordings"][0];
    if rec["sample_rate"] != 16000 || rec["channels"] != 2 {
        out.push(format!("not a 16 kHz stereo recording: {rec}"));
    }
    out
}
