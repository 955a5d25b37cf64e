//! Issue 6, `switchboard qa run WAV` on bare WAV files with the demo's
//! `qa/rules.toml` and the embedded recognizer: a stereo file is caller
//! left, agent right; a mono file is the agent alone. And `switchboard qa
//! result`, which prints what a QA worker stored for a call.
//!
//! Speech is flite's `slt` voice at 16 kHz. Pass/fail: what was said is
//! found, with the channel, a time span where it was said and the words
//! heard; what was not said is not reported; `--format json` has the
//! documented shape; a file that is not audio gets a clear error; a
//! stored result is printed as `qa run` prints it, words heard unsealed,
//! and a call without one is an error that says so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::qa::jobs::{self, PoolSettings};
use switchboard::qa::pipeline::{Pipeline, QaOutcome, recognizer};
use switchboard::store::{PiiKey, QaJobState, Store};

mod common;
use common::qa::{add_ended_call, runtime, wait_job};
use common::speech::{SPEECH_RATE, speak, write_wav};

fn silence(seconds: f64) -> Vec<i16> {
    vec![0; (16_000.0 * seconds) as usize]
}

/// The agent: greeting at 0.5 s, then "I don't know" after the caller.
/// The caller: an allergy at about 5 s.
fn make_call(dir: &Path) -> (PathBuf, PathBuf) {
    let greet = speak(dir, "slt", "Thank you for calling, how can I help you?");
    let allergy = speak(
        dir,
        "slt",
        "My son has a nut allergy and the label was wrong.",
    );
    let dunno = speak(dir, "slt", "Sorry, I don't know when it will arrive.");
    let mut agent = silence(0.5);
    agent.extend(&greet);
    let caller_at = agent.len() + 8_000;
    agent.extend(silence(0.5));
    let mut caller = silence(caller_at as f64 / 16_000.0);
    caller.extend(&allergy);
    agent.extend(silence(
        (caller.len() - agent.len()) as f64 / 16_000.0 + 0.5,
    ));
    agent.extend(&dunno);
    agent.extend(silence(1.0));
    let stereo = dir.join("call.wav");
    write_wav(&stereo, SPEECH_RATE, &[&caller, &agent]);
    let mono = dir.join("agent.wav");
    write_wav(&mono, SPEECH_RATE, &[&agent]);
    (stereo, mono)
}

fn qa_run(file: &Path) -> (bool, String, String) {
    qa(
        &["run", &file.display().to_string(), "--format", "json"],
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
}

/// `switchboard qa ARGS --config DIR`: success, stdout, stderr.
fn qa(args: &[&str], config: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("qa")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("switchboard");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn item<'a>(result: &'a Value, rule: &str) -> &'a Value {
    result["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["rule"] == rule))
        .unwrap_or_else(|| panic!("no item {rule} in {result}"))
}

fn outcome(result: &Value, rule: &str) -> String {
    item(result, rule)["outcome"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_stereo_wav_is_checked_caller_left_agent_right() {
    let dir = tempfile::tempdir().expect("dir");
    let (stereo, _) = make_call(dir.path());
    let (ok, stdout, stderr) = qa_run(&stereo);
    assert!(ok, "qa run failed: {stderr}");
    let result: Value = serde_json::from_str(stdout.lines().next().unwrap_or("")).expect("JSON");
    let score = result["score"].as_f64().expect("score");
    assert!((0.0..100.0).contains(&score), "{score}");

    // said by the agent: the greeting (in the first 30 s) and a banned phrase
    assert_eq!(outcome(&result, "greeting"), "pass", "{result}");
    assert_eq!(outcome(&result, "no-dont-know"), "fail", "{result}");
    let evidence = &item(&result, "no-dont-know")["evidence"][0];
    assert_eq!(evidence["channel"], "agent");
    let (start, end) = (
        evidence["start"].as_f64().unwrap(),
        evidence["end"].as_f64().unwrap(),
    );
    assert!(start > 5.0 && end > start && end < result["audio_seconds"].as_f64().unwrap());
    let heard = evidence["text"].as_str().unwrap_or("");
    assert!(heard.contains("know"), "words heard: {heard}");
    // said by the caller: an allergy, and the agent gave no policy
    assert_eq!(outcome(&result, "allergy-policy"), "fail", "{result}");
    let caller = &item(&result, "allergy-policy")["evidence"][0];
    assert_eq!(caller["channel"], "caller");
    assert!(caller["text"].as_str().unwrap_or("").contains("allerg"));
    // not said
    assert_eq!(outcome(&result, "no-do-it-yourself"), "pass", "{result}");
    assert_eq!(outcome(&result, "privacy-notice"), "fail", "{result}");
    assert_eq!(outcome(&result, "commitment"), "n/a", "{result}");
    assert_eq!(result["transcripts"][0]["channel"], "caller");
    assert!(result["signals"]["caller_talk"].as_f64().unwrap() > 1.5);
}

#[test]
fn a_mono_wav_is_the_agent_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let (_, mono) = make_call(dir.path());
    let (ok, stdout, stderr) = qa_run(&mono);
    assert!(ok, "qa run failed: {stderr}");
    let result: Value = serde_json::from_str(stdout.lines().next().unwrap_or("")).expect("JSON");
    assert_eq!(outcome(&result, "greeting"), "pass", "{result}");
    assert_eq!(outcome(&result, "no-dont-know"), "fail", "{result}");
    // no caller channel: nobody mentioned an allergy
    assert_eq!(outcome(&result, "allergy-policy"), "n/a", "{result}");
    assert_eq!(result["signals"]["caller_talk"].as_f64(), Some(0.0));
}

#[test]
fn a_file_that_is_not_audio_gets_a_clear_error() {
    let dir = tempfile::tempdir().expect("dir");
    let junk = dir.path().join("notes.wav");
    std::fs::write(&junk, "not a wav").expect("write");
    let (ok, _, stderr) = qa_run(&junk);
    assert!(!ok);
    assert!(stderr.contains("notes.wav"), "{stderr}");
}

/// The demo configuration in `dir`, with a database of its own.
fn demo_config(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in [
        "switchboard.toml",
        "sip-profiles",
        "contact-center",
        "ivr-flows",
        "prompts",
        "qa",
    ] {
        let ok = Command::new("cp")
            .arg("-r")
            .arg(root.join(entry))
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "copying {entry}");
    }
}

/// A copy of the demo configuration holding the stereo call of
/// [`make_call`], and the switch's database opened with its key.
struct Setup {
    store: Store,
    rt: tokio::runtime::Runtime,
    cfg: switchboard::config::Config,
    stereo: PathBuf,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("dir");
    demo_config(dir.path());
    let (stereo, _) = make_call(dir.path());
    let cfg = switchboard::config::load(dir.path()).expect("the demo configuration");
    let rt = runtime();
    let key = PiiKey::load(&cfg.switch.pii_key_file, true).expect("key");
    let store = rt
        .block_on(Store::open(&cfg.switch.database, key))
        .expect("store");
    Setup {
        store,
        rt,
        cfg,
        stereo,
        dir,
    }
}

#[test]
fn a_stored_result_is_printed_as_qa_run_prints_it() {
    let Setup {
        store,
        rt,
        cfg,
        stereo,
        dir,
    } = setup();
    // The switch's way: a finished recording of an ended call, a QA
    // worker, the result stored with what was said sealed.
    rt.block_on(add_ended_call(&store, "c1", &stereo, 1_000));
    let rules = Arc::new(cfg.qa_rules.clone().expect("the demo rules"));
    let recognizer = recognizer(&cfg.switch.qa).expect("PocketSphinx and its model");
    let pipeline = Arc::new(Pipeline::new(rules, recognizer, cfg.switch.qa.transcribe));
    let settings = PoolSettings {
        idle_poll: Duration::from_millis(50),
        ..PoolSettings::default()
    };
    let pool = jobs::start(store.clone(), rt.handle().clone(), pipeline, settings).expect("pool");
    let job = wait_job(&rt, &store, QaJobState::Done, Duration::from_secs(120));
    pool.stop();
    assert_eq!(job.state, QaJobState::Done, "{job:?}");
    let recording = stereo.display().to_string();
    let stored = rt
        .block_on(store.qa_result(&recording))
        .expect("read")
        .expect("a stored result");

    // JSON: the stored outcome and its recording, words heard unsealed.
    let (ok, stdout, stderr) = qa(&["result", "c1", "--format", "json"], dir.path());
    assert!(ok, "qa result failed: {stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let printed: Value = serde_json::from_str(&stdout).expect("JSON");
    // (compared as outcomes: JSON floats read back may differ in the last
    // digit from the f32 confidences written)
    let typed = |text: &str| {
        let outcome: QaOutcome = serde_json::from_str(text).expect("an outcome");
        serde_json::to_string(&outcome).expect("JSON")
    };
    assert_eq!(typed(&stdout), typed(&stored.detail));
    assert_eq!(printed["recording"].as_str(), Some(recording.as_str()));
    assert_eq!(outcome(&printed, "greeting"), "pass", "{printed}");
    let heard = item(&printed, "no-dont-know")["evidence"][0]["text"]
        .as_str()
        .unwrap_or("");
    assert!(heard.contains("know"), "words heard: {heard}");

    // The same shape and findings as `qa run` checking the call again.
    let (ok, stdout, stderr) = qa(&["run", "c1", "--format", "json"], dir.path());
    assert!(ok, "qa run failed: {stderr}");
    let again: Value = serde_json::from_str(stdout.lines().next().unwrap_or("")).expect("JSON");
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(keys(&printed), keys(&again));
    assert_eq!(printed["recording"], again["recording"]);
    assert_eq!(printed["score"], again["score"]);
    assert_eq!(printed["items"], again["items"]);

    // Text, by the recording's path: as `qa run` describes a recording.
    let (ok, text, stderr) = qa(&["result", &recording], dir.path());
    assert!(ok, "qa result failed: {stderr}");
    assert!(text.starts_with(&format!("{recording}: ")), "{text}");
    assert!(text.contains("talk: caller"), "{text}");
    let score = format!("QA score: {:.1} / 100", stored.score);
    assert!(text.contains(&score), "no `{score}` in:\n{text}");
    assert!(text.contains("greeting"), "{text}");

    // A call whose recording has no result yet, and no call at all.
    rt.block_on(add_ended_call(
        &store,
        "c2",
        &dir.path().join("c2.wav"),
        1_000,
    ));
    let (ok, _, stderr) = qa(&["result", "c2"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains("no QA result for call c2 yet") && stderr.contains("switchboard qa jobs"),
        "{stderr}"
    );
    let (ok, _, stderr) = qa(&["result", "no-such-call"], dir.path());
    assert!(!ok);
    assert!(stderr.contains("no-such-call"), "{stderr}");
}

/// A `switchboard qa worker` process, killed when dropped; its log in a file.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(config: &Path) -> Worker {
        let log = config.join("worker.log");
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["qa", "worker", "--workers", "1", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("switchboard qa worker");
        Worker { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to 30 s for `needle` to be in the log `times` times.
    fn wait_log(&self, needle: &str, times: usize) {
        let until = Instant::now() + Duration::from_secs(30);
        while self.log().matches(needle).count() < times {
            assert!(
                Instant::now() < until,
                "no `{needle}` in the worker's log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -{signal}");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn running_workers_take_reloaded_rules_and_keep_them_when_a_reload_is_broken() {
    let Setup {
        store,
        rt,
        stereo,
        dir,
        ..
    } = setup();
    let worker = Worker::start(dir.path());
    worker.wait_log("QA workers started", 1);
    // The greeting rule renamed while the worker runs, then SIGHUP.
    let file = dir.path().join("qa/rules.toml");
    let text = std::fs::read_to_string(&file).expect("rules");
    let renamed = text.replace("id = \"greeting\"", "id = \"warm-welcome\"");
    assert_ne!(renamed, text);
    std::fs::write(&file, &renamed).expect("write");
    worker.signal("HUP");
    worker.wait_log("QA rules reloaded", 1);

    // A call recorded after the reload is checked with the new rules.
    let now = switchboard::call::unix_ms();
    rt.block_on(add_ended_call(&store, "c1", &stereo, now - 5_000));
    let job = wait_job(&rt, &store, QaJobState::Done, Duration::from_secs(120));
    assert_eq!(job.state, QaJobState::Done, "{job:?}\n{}", worker.log());
    let (ok, stdout, stderr) = qa(&["result", "c1", "--format", "json"], dir.path());
    assert!(ok, "qa result failed: {stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(outcome(&result, "warm-welcome"), "pass", "{result}");
    let rules: Vec<&str> = result["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["rule"].as_str()).collect())
        .unwrap_or_default();
    assert!(!rules.contains(&"greeting"), "{rules:?}");

    // A broken edit is refused, located, and the rules in force stay.
    let broken = renamed.replacen("kind = \"banned\"", "kind = \"forbidden\"", 1);
    let line = broken
        .lines()
        .position(|l| l.contains("forbidden"))
        .expect("the broken line")
        + 1;
    std::fs::write(&file, &broken).expect("write");
    worker.signal("HUP");
    worker.wait_log("QA rules not reloaded", 1);
    let log = worker.log();
    let located = format!("QA rules reload refused: qa/rules.toml:{line}: ");
    assert!(log.contains(&located), "no `{located}` in:\n{log}");
    assert_eq!(log.matches("QA rules reloaded").count(), 1, "{log}");
    worker.signal("TERM");
}
