//! Issue 6 benchmarks: QA processing speed and detection quality, on a
//! labelled set of 32 calls. `cargo bench --bench qa_pipeline`.
//!
//! The set: each call is a script of agent and caller sentences (the demo
//! rules' phrases, neutral sentences and near misses such as "let me look
//! it up for you"), spoken by flite voices `awb` and `kal16` (the tests use
//! `slt` and `rms`) and laid out on two WAVs with pauses, one per side. A
//! few calls have a 24 s silence. Each call is then made through the
//! switch (demo configuration, G.722): a baresip agent plays the agent's
//! WAV, a baresip caller dials the agent through the trunk and plays the
//! caller's, five calls at a time (`tests/common/scripted_call.rs`), and
//! the switch's own stereo recordings are what is checked. Each call's
//! expected outcome per rule follows from its script.
//!
//! Figures printed:
//! - speed: minutes of call audio checked per minute of wall time by two
//!   worker threads, embedded backend, phrase spotting on (target: 20×);
//!   and, for information, with open transcription on too;
//! - quality: recall and false-positive rate per rule kind (target: 90%
//!   recall, at most 5% false positives for banned and required phrases).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::speech::{require_voice, speak, write_wav};
use common::{Switch, SwitchOpts, alloc_ports, scripted_call, set_toml_key};
use switchboard::qa::asr::sphinx::{Sphinx, SphinxConfig};
use switchboard::qa::audio::{CallAudio, read_recording};
use switchboard::qa::pipeline::{Pipeline, QaOutcome};
use switchboard::qa::rules::parse;
use switchboard::qa::score::Outcome;

const RATE: u32 = 16_000;
const CALLS: usize = 32;

/// A sentence of the set and what it says.
struct Line {
    key: &'static str,
    text: &'static str,
}

const AGENT_LINES: &[Line] = &[
    Line {
        key: "greet",
        text: "Thank you for calling Green Valley Foods, this is Sam.",
    },
    Line {
        key: "privacy",
        text: "Before we go on, we will protect your personal information.",
    },
    Line {
        key: "dont_know",
        text: "Honestly, I don't know where your parcel is.",
    },
    Line {
        key: "nothing",
        text: "I am afraid there is nothing I can do about that.",
    },
    Line {
        key: "yourself",
        text: "You can look it up yourself on our website.",
    },
    Line {
        key: "policy",
        text: "Under our allergy return policy you can send it back for free.",
    },
    Line {
        key: "refund",
        text: "I will refund the full amount to your card.",
    },
    Line {
        key: "hours",
        text: "A replacement will reach you within 24 hours.",
    },
    Line {
        key: "log",
        text: "I'll just log it and someone may get back to you.",
    },
    Line {
        key: "close",
        text: "Is there anything else I can help you with today?",
    },
];

/// Neutral agent sentences, near misses of the phrases among them.
const AGENT_NEUTRAL: &[&str] = &[
    "I know exactly where your parcel is, it left this morning.",
    "There is a lot we can do to put this right.",
    "Let me look it up for you right now.",
    "Can you confirm the order number for me, please?",
    "I understand, that must be frustrating.",
    "Your account shows two orders from last month.",
    "The courier will call you before the delivery.",
    "Let me check the stock in our warehouse.",
];

const CALLER_ALLERGY: &str = "My son has a nut allergy and the label was wrong.";
const CALLER_NEUTRAL: &[&str] = &[
    "Hello, my order arrived damaged.",
    "It was a birthday cake for my daughter.",
    "Yes, the number is on my receipt.",
    "I ordered it last Tuesday.",
    "Okay, thank you very much.",
];

/// One call of the set: its script and labels.
struct Script {
    agent_voice: &'static str,
    caller_voice: &'static str,
    /// (channel is agent, text, key) in speaking order.
    turns: Vec<(bool, &'static str, &'static str)>,
    long_silence: bool,
}

impl Script {
    fn says(&self, key: &str) -> bool {
        self.turns.iter().any(|(_, _, k)| *k == key)
    }
}

/// A small deterministic generator, so every run checks the same set.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn script(n: usize) -> Script {
    let mut rng = Lcg(n as u64 * 7919 + 17);
    let (agent_voice, caller_voice) = if n % 2 == 0 {
        ("awb", "kal16")
    } else {
        ("kal16", "awb")
    };
    let line = |key: &str| {
        AGENT_LINES
            .iter()
            .find(|l| l.key == key)
            .map(|l| l.text)
            .unwrap_or("")
    };
    let mut turns = Vec::new();
    if rng.chance(70) {
        turns.push((true, line("greet"), "greet"));
    }
    turns.push((false, CALLER_NEUTRAL[0], "c0"));
    if rng.chance(60) {
        turns.push((true, line("privacy"), "privacy"));
    }
    let allergy = rng.chance(40);
    if allergy {
        turns.push((false, CALLER_ALLERGY, "allergy"));
        if rng.chance(60) {
            turns.push((true, line("policy"), "policy"));
        }
    }
    let mut middle: Vec<(bool, &'static str, &'static str)> = Vec::new();
    for key in ["dont_know", "nothing", "yourself"] {
        if rng.chance(25) {
            middle.push((true, line(key), key));
        }
    }
    for _ in 0..3 {
        let text = AGENT_NEUTRAL[(rng.next() as usize) % AGENT_NEUTRAL.len()];
        if !middle.iter().any(|(_, t, _)| *t == text) {
            middle.push((true, text, "neutral"));
        }
    }
    middle.push((false, CALLER_NEUTRAL[1 + (rng.next() as usize) % 3], "c1"));
    // shuffle the middle
    for i in (1..middle.len()).rev() {
        let j = (rng.next() as usize) % (i + 1);
        middle.swap(i, j);
    }
    turns.extend(middle);
    match rng.next() % 4 {
        0 => turns.push((true, line("refund"), "refund")),
        1 => turns.push((true, line("hours"), "hours")),
        2 => turns.push((true, line("log"), "log")),
        _ => {}
    }
    turns.push((false, CALLER_NEUTRAL[4], "c4"));
    if rng.chance(70) {
        turns.push((true, line("close"), "close"));
    }
    Script {
        agent_voice,
        caller_voice,
        turns,
        long_silence: n % 8 == 5,
    }
}

/// Lays a script out on two mono WAVs, one per phone: the agent's ends
/// when the agent hangs up; the caller's runs 20 s longer. Returns
/// (agent's WAV, caller's WAV, the agent's WAV's length in seconds).
fn render(dir: &Path, n: usize, s: &Script) -> (PathBuf, PathBuf, f64) {
    let (mut caller, mut agent) = (Vec::new(), Vec::new());
    let gap = |ms: usize| vec![0i16; RATE as usize * ms / 1000];
    caller.extend(gap(700));
    agent.extend(gap(700));
    for (i, (is_agent, text, _)) in s.turns.iter().enumerate() {
        let voice = if *is_agent {
            s.agent_voice
        } else {
            s.caller_voice
        };
        let words = speak(dir, voice, text);
        let (speaker, other) = if *is_agent {
            (&mut agent, &mut caller)
        } else {
            (&mut caller, &mut agent)
        };
        speaker.extend_from_slice(&words);
        other.extend(vec![0i16; words.len()]);
        let pause = if s.long_silence && i == s.turns.len() / 2 {
            24_000
        } else {
            600
        };
        speaker.extend(gap(pause));
        other.extend(gap(pause));
    }
    agent.extend(gap(1000));
    let length = agent.len() as f64 / f64::from(RATE);
    caller.extend(gap(20_000 + 1000));
    let agent_wav = dir.join(format!("call-{n:02}-agent.wav"));
    let caller_wav = dir.join(format!("call-{n:02}-caller.wav"));
    write_wav(&agent_wav, RATE, &[&agent]);
    write_wav(&caller_wav, RATE, &[&caller]);
    (agent_wav, caller_wav, length)
}

/// Agents answering the set's calls, one call each at a time.
const AGENTS: [&str; 5] = ["1001", "1002", "1003", "1004", "1005"];

/// Makes the set's calls through the switch (demo configuration, both
/// profiles G.722 only, its own QA off) and returns each call's recording,
/// in script order.
fn record_calls(dir: &Path, scripts: &[Script]) -> Vec<PathBuf> {
    let wavs: Vec<(PathBuf, PathBuf, f64)> = scripts
        .iter()
        .enumerate()
        .map(|(n, s)| render(dir, n, s))
        .collect();
    let sw = Switch::start(SwitchOpts::new().edit(|rel, text| {
        if rel.starts_with("sip-profiles/") {
            text.push_str("\n[media]\ncodecs = [\"G722\"]\n");
        }
        if rel == "switchboard.toml" {
            set_toml_key(text, "qa", "workers", "0");
        }
    }));
    let started = Instant::now();
    let seen = Mutex::new(Vec::new());
    let recordings = Mutex::new(vec![None; scripts.len()]);
    std::thread::scope(|scope| {
        for (slot, ext) in AGENTS.iter().enumerate() {
            let (sw, wavs, seen, recordings) = (&sw, &wavs, &seen, &recordings);
            scope.spawn(move || {
                let agent_port = alloc_ports(2);
                for n in (slot..wavs.len()).step_by(AGENTS.len()) {
                    let (agent_wav, caller_wav, length) = &wavs[n];
                    let audio = scripted_call::CallAudio {
                        agent_wav,
                        caller_wav,
                        length: *length,
                        hold: None,
                    };
                    let ended = scripted_call::place_call(sw, ext, agent_port, &audio, seen)
                        .unwrap_or_else(|e| panic!("call {n:02}: {e}"));
                    let path = ended.cdr["recordings"][0]["path"]
                        .as_str()
                        .unwrap_or_else(|| panic!("call {n:02} has no recording: {}", ended.cdr));
                    let path = sw.dir.path().join(path);
                    recordings.lock().unwrap()[n] = Some(path);
                }
            });
        }
    });
    println!(
        "{} calls made through the switch (baresip to baresip, G.722) in {:.0} s",
        scripts.len(),
        started.elapsed().as_secs_f64()
    );
    // The recordings outlive the switch's folder.
    let kept = dir.join("recorded");
    std::fs::create_dir_all(&kept).expect("target/qa-bench/recorded");
    recordings
        .into_inner()
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(n, path)| {
            let path = path.expect("every call recorded");
            let to = kept.join(format!("call-{n:02}.wav"));
            std::fs::copy(&path, &to).unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
            to
        })
        .collect()
}

/// Detected / expected counts of one rule kind.
#[derive(Default)]
struct Tally {
    positives: u32,
    found: u32,
    negatives: u32,
    false_hits: u32,
}

impl Tally {
    fn add(&mut self, expected: bool, detected: bool) {
        if expected {
            self.positives += 1;
            self.found += u32::from(detected);
        } else {
            self.negatives += 1;
            self.false_hits += u32::from(detected);
        }
    }

    fn recall(&self) -> f64 {
        100.0 * f64::from(self.found) / f64::from(self.positives.max(1))
    }

    fn fp_rate(&self) -> f64 {
        100.0 * f64::from(self.false_hits) / f64::from(self.negatives.max(1))
    }
}

fn outcome(o: &QaOutcome, rule: &str) -> Outcome {
    o.score
        .items
        .iter()
        .find(|i| i.rule == rule)
        .map(|i| i.outcome)
        .unwrap_or(Outcome::NotApplicable)
}

/// Checks the calls on `threads` threads; the outcomes in call order and
/// the wall time.
fn check_all(
    pipeline: &Arc<Pipeline>,
    calls: &[CallAudio],
    threads: usize,
) -> (Vec<QaOutcome>, f64) {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let mut results: Vec<(usize, QaOutcome)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(call) = calls.get(i) else { break };
                        mine.push((i, pipeline.check(call, &[]).expect("check")));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    results.sort_by_key(|(i, _)| *i);
    (results.into_iter().map(|(_, o)| o).collect(), wall)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("qa_pipeline: run with `cargo bench --bench qa_pipeline`");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/qa-bench");
    std::fs::create_dir_all(&dir).expect("target/qa-bench");
    let text = std::fs::read_to_string(root.join("qa/rules.toml")).expect("qa/rules.toml");
    let rules = Arc::new(parse(Path::new("qa/rules.toml"), &text).expect("rules"));
    let sphinx = Arc::new(Sphinx::new(SphinxConfig::default()).expect("PocketSphinx"));

    for voice in ["awb", "kal16"] {
        require_voice(voice);
    }
    let scripts: Vec<Script> = (0..CALLS).map(script).collect();
    let calls: Vec<CallAudio> = record_calls(&dir, &scripts)
        .iter()
        .map(|path| {
            let call = read_recording(path).expect("the switch's recording");
            assert!(
                call.caller.as_ref().is_some_and(|c| c.rate == RATE) && call.agent.rate == RATE,
                "{} is not recorded at 16 kHz",
                path.display()
            );
            call
        })
        .collect();
    let audio: f64 = calls.iter().map(CallAudio::duration).sum();

    let spotting = Arc::new(Pipeline::new(rules.clone(), sphinx.clone(), false));
    let (outcomes, wall) = check_all(&spotting, &calls, 2);
    println!("QA speed, embedded backend, phrase spotting on, 2 worker threads:");
    println!(
        "  {CALLS} calls, {:.1} min of call audio checked in {:.1} s: {:.1} min of audio per minute ({:.1}x real time; target 20x)",
        audio / 60.0,
        wall,
        audio / wall,
        audio / wall
    );
    let sample = &calls[..6];
    let sample_audio: f64 = sample.iter().map(CallAudio::duration).sum();
    let transcribing = Arc::new(Pipeline::new(rules.clone(), sphinx, true));
    let (_, wall_t) = check_all(&transcribing, sample, 2);
    println!(
        "  with open transcription too (6 calls, {:.1} min): {:.1}x real time",
        sample_audio / 60.0,
        sample_audio / wall_t
    );

    let mut banned = Tally::default();
    let mut required = Tally::default();
    let mut condition = Tally::default();
    let (mut resolution_ok, mut signal_ok) = (0, 0);
    let mut misses = Vec::new();
    for (n, (s, o)) in scripts.iter().zip(&outcomes).enumerate() {
        let mut phrase = |tally: &mut Tally, rule: &str, expected: bool, detected: bool| {
            tally.add(expected, detected);
            if expected != detected {
                misses.push(format!(
                    "call {n:02} {rule}: expected {expected}, detected {detected}"
                ));
            }
        };
        phrase(
            &mut banned,
            "no-dont-know",
            s.says("dont_know") || s.says("nothing"),
            outcome(o, "no-dont-know") == Outcome::Fail,
        );
        phrase(
            &mut banned,
            "no-do-it-yourself",
            s.says("yourself"),
            outcome(o, "no-do-it-yourself") == Outcome::Fail,
        );
        phrase(
            &mut required,
            "greeting",
            s.says("greet"),
            outcome(o, "greeting") == Outcome::Pass,
        );
        phrase(
            &mut required,
            "privacy-notice",
            s.says("privacy"),
            outcome(o, "privacy-notice") == Outcome::Pass,
        );
        phrase(
            &mut required,
            "closing",
            s.says("close"),
            outcome(o, "closing") == Outcome::Pass,
        );
        let applies = outcome(o, "allergy-policy") != Outcome::NotApplicable;
        phrase(
            &mut condition,
            "allergy (caller)",
            s.says("allergy"),
            applies,
        );
        if s.says("allergy") {
            phrase(
                &mut required,
                "allergy-policy",
                s.says("policy"),
                outcome(o, "allergy-policy") == Outcome::Pass,
            );
        }
        let expected = if s.says("refund") || s.says("hours") {
            Outcome::Pass
        } else if s.says("log") {
            Outcome::Fail
        } else {
            Outcome::NotApplicable
        };
        if outcome(o, "commitment") == expected {
            resolution_ok += 1;
        } else {
            misses.push(format!(
                "call {n:02} commitment: expected {expected:?}, got {:?}",
                outcome(o, "commitment")
            ));
        }
        let silence = if s.long_silence {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        if outcome(o, "dead-air") == silence {
            signal_ok += 1;
        } else {
            misses.push(format!("call {n:02} dead-air: expected {silence:?}"));
        }
    }
    println!();
    println!(
        "QA detection quality, {CALLS} calls recorded by the switch (voices awb and kal16, G.722):"
    );
    println!(
        "  | rule kind | said | found | recall | not said | false hits | false-positive rate |"
    );
    println!("  |---|---|---|---|---|---|---|");
    for (name, t) in [
        ("banned phrases", &banned),
        ("required phrases", &required),
        ("caller condition", &condition),
    ] {
        println!(
            "  | {name} | {} | {} | {:.0}% | {} | {} | {:.1}% |",
            t.positives,
            t.found,
            t.recall(),
            t.negatives,
            t.false_hits,
            t.fp_rate()
        );
    }
    println!("  resolution (commitment vs deflection): {resolution_ok}/{CALLS} outcomes right");
    println!("  signal (silence over 20 s): {signal_ok}/{CALLS} outcomes right");
    let met = banned.recall() >= 90.0
        && required.recall() >= 90.0
        && banned.fp_rate() <= 5.0
        && required.fp_rate() <= 5.0;
    println!(
        "  target (90% recall, at most 5% false positives, banned and required): {}",
        if met { "MET" } else { "NOT MET" }
    );
    for m in &misses {
        println!("  miss: {m}");
    }
}
