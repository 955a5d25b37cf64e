//! `switchboard qa report` end to end: QA results stored in a real SQLite
//! database (sealed with the key file the command reads), then the real
//! binary asked for Markdown, JSON and HTML; the HTML page is rendered by
//! headless Chromium (a screenshot and its DOM) to prove a browser shows it.
//!
//! Chromium is required (`scripts/install-deps.sh` installs it): the test
//! fails, loudly, without it.

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use switchboard::qa::Channel;
use switchboard::qa::asr::{Heard, Segment, Transcript};
use switchboard::qa::pipeline::QaOutcome;
use switchboard::qa::score::{CallScore, CategoryScore, ItemResult, Outcome};
use switchboard::qa::signal::Signals;
use switchboard::store::{PiiKey, QaResultRow, Store};
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
/// 2024-05-01 00:00 UTC.
const MAY_1: i64 = 1_714_521_600_000;
const HOUR: i64 = 3_600_000;

/// A private copy of the demo configuration (what `config::load` reads).
fn config_dir() -> TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::Builder::new()
        .prefix("switchboard-qa-report-")
        .tempdir()
        .expect("tempdir");
    fs::copy(
        root.join("switchboard.toml"),
        dir.path().join("switchboard.toml"),
    )
    .expect("copy switchboard.toml");
    for sub in [
        "sip-profiles",
        "contact-center",
        "ivr-flows",
        "prompts",
        "qa",
    ] {
        if root.join(sub).is_dir() {
            copy_tree(&root.join(sub), &dir.path().join(sub));
        }
    }
    fs::create_dir_all(dir.path().join("recordings")).expect("recordings dir");
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read_dir").flatten() {
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// One stored call's result.
struct Seed {
    agent: &'static str,
    at: i64,
    privacy: Outcome,
    greeting: Outcome,
    caller: &'static [&'static str],
    intent: &'static str,
}

fn result_row(n: usize, s: &Seed) -> QaResultRow {
    let passed = |o: Outcome| if o == Outcome::Fail { 0.0_f64 } else { 100.0 };
    let (process, attitude) = (passed(s.privacy), passed(s.greeting));
    let total = ((process + attitude) / 2.0 * 10.0).round() / 10.0;
    let item = |rule: &str, category: &str, outcome| ItemResult {
        rule: rule.into(),
        category: category.into(),
        kind: "required".into(),
        outcome,
        fatal: false,
        weight: 1.0,
        evidence: Vec::new(),
        note: String::new(),
    };
    let category = |name: &str, score: f64| CategoryScore {
        name: name.into(),
        weight: 1.0,
        score: Some(score),
        passed: u32::from(score > 0.0),
        failed: u32::from(score == 0.0),
        not_applicable: 0,
    };
    let score = CallScore {
        score: total,
        fatal: Vec::new(),
        categories: vec![category("attitude", attitude), category("process", process)],
        items: vec![
            item("greeting", "attitude", s.greeting),
            item("privacy-notice", "process", s.privacy),
        ],
    };
    let segments = s
        .caller
        .iter()
        .enumerate()
        .map(|(i, text)| Segment {
            start: i as f64 * 5.0,
            end: i as f64 * 5.0 + 3.0,
            text: (*text).into(),
            confidence: 0.9,
            heard: Heard::Transcribed,
            words: Vec::new(),
        })
        .collect();
    let outcome = QaOutcome {
        score: score.clone(),
        signals: Signals::default(),
        transcripts: vec![
            Transcript {
                channel: Channel::Caller,
                backend: "test".into(),
                segments,
            },
            Transcript {
                channel: Channel::Agent,
                backend: "test".into(),
                segments: Vec::new(),
            },
        ],
        backend: "test".into(),
        audio_seconds: 90.0,
        took_seconds: 2.0,
    };
    let mut summary = score;
    summary.items.iter_mut().for_each(|i| i.evidence.clear());
    QaResultRow {
        recording: format!("recordings/call-{n}.wav"),
        call_id: format!("call-{n}@test"),
        agent: Some(s.agent.into()),
        queue: Some("support".into()),
        intent: Some(s.intent.into()),
        call_started_at: s.at,
        score: total,
        summary: serde_json::to_string(&summary).expect("summary"),
        detail: serde_json::to_string(&outcome).expect("detail"),
        backend: "test".into(),
        took_ms: 2000,
        created_at: s.at + 120_000,
    }
}

/// alice: 10 calls on May 1-3, the privacy notice missed in 4 (training
/// needed); "<b>bob</b>": 5 calls on May 5-7, nothing missed; plus one
/// call of alice on May 8, outside the period.
fn seeds() -> Vec<Seed> {
    let mut out = Vec::new();
    for i in 0..10 {
        out.push(Seed {
            agent: "alice",
            at: MAY_1 + i * 5 * HOUR,
            privacy: if i < 4 { Outcome::Fail } else { Outcome::Pass },
            greeting: Outcome::Pass,
            caller: if i % 3 == 0 {
                &["Hello, my router keeps rebooting.", "I have a question"]
            } else {
                &["I want to pay my bill"]
            },
            intent: if i < 6 { "billing" } else { "outage" },
        });
    }
    for i in 0..5 {
        out.push(Seed {
            agent: "<b>bob</b>",
            at: MAY_1 + 4 * 24 * HOUR + i * 12 * HOUR,
            privacy: Outcome::Pass,
            greeting: Outcome::Pass,
            caller: &["my router keeps rebooting again"],
            intent: "outage",
        });
    }
    out.push(Seed {
        agent: "alice",
        at: MAY_1 + 7 * 24 * HOUR + HOUR,
        privacy: Outcome::Fail,
        greeting: Outcome::Fail,
        caller: &[],
        intent: "billing",
    });
    out
}

/// Stores the results the way QA workers do: a job per recording,
/// claimed, then completed with its result.
fn seed(dir: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let key = PiiKey::load(&dir.join("pii.key"), true).expect("pii key");
        let store = Store::open(&dir.join("switchboard.db"), key)
            .await
            .expect("open store");
        for (n, s) in seeds().iter().enumerate() {
            let row = result_row(n, s);
            store
                .enqueue_qa_job(&row.recording, &row.call_id, s.at)
                .await
                .expect("enqueue");
            let job = store
                .claim_qa_job("test/1/0", s.at + 1, 600_000, 5)
                .await
                .expect("claim")
                .expect("a due job");
            assert_eq!(job.recording, row.recording);
            assert!(store.complete_qa_job(&job, &row).await.expect("complete"));
        }
    });
}

fn report(dir: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["qa", "report", "--from", "2024-05-01", "--to", "2024-05-07"])
        .args(extra)
        .arg("--config")
        .arg(dir)
        .output()
        .expect("run switchboard");
    assert!(
        out.status.success(),
        "qa report {extra:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn markdown_and_json_reports_from_a_real_database() {
    let dir = config_dir();
    seed(dir.path());

    let md = report(dir.path(), &["--format", "md"]);
    assert!(
        md.contains("# QA report 2024-05-01 to 2024-05-07 (UTC)"),
        "{md}"
    );
    assert!(md.contains("- Calls checked: 15\n"), "{md}");
    assert!(md.contains("- Average score: 86.7\n"), "{md}");
    assert!(md.contains("| alice | 10 | 80.0 |"), "{md}");
    assert!(md.contains("| \\<b\\>bob\\</b\\> | 5 | 100.0 |"), "{md}");
    assert!(
        md.contains(
            "- Privacy notice early in the call missed in 4 of 10 calls (40%): **training needed**"
        ),
        "{md}"
    );
    assert!(md.contains("| billing | 6 |"), "{md}");
    assert!(md.contains("| outage | 9 |"), "{md}");
    assert!(md.contains("| my router keeps | 9 |"), "{md}");
    assert!(md.contains("| router keeps rebooting | 9 |"), "{md}");
    assert!(!md.contains("| i have a |"), "stop words only: {md}");

    let json = report(dir.path(), &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["calls"], 15);
    assert_eq!(v["from"], "2024-05-01");
    assert_eq!(v["to"], "2024-05-07");
    assert_eq!(v["timezone"], "UTC");
    assert_eq!(v["agents"][0]["agent"], "<b>bob</b>");
    let alice = &v["agents"][1];
    assert_eq!(alice["agent"], "alice");
    assert_eq!(alice["average_score"], 80.0);
    assert_eq!(alice["missed"][0]["rule"], "privacy-notice");
    assert_eq!(alice["missed"][0]["failed"], 4);
    assert_eq!(alice["missed"][0]["applied"], 10);
    assert_eq!(alice["missed"][0]["training_needed"], true);
    assert_eq!(alice["trend"]["first_half"], 80.0);
    assert_eq!(v["skipped_rules"][0]["agents"][0]["agent"], "alice");
    assert_eq!(v["daily"].as_array().map(Vec::len), Some(7));

    let bob = report(dir.path(), &["--format", "json", "--agent", "<b>bob</b>"]);
    let v: serde_json::Value = serde_json::from_str(&bob).expect("JSON");
    assert_eq!(v["calls"], 5);
    assert_eq!(v["agents"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["failed_rules"].as_array().map(Vec::len), Some(0));

    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["qa", "report", "--from", "2023-01-01", "--to", "2023-01-31"])
        .arg("--config")
        .arg(dir.path())
        .output()
        .expect("run switchboard");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no QA results between 2023-01-01 and 2023-01-31"),
        "{text}"
    );
    assert!(!text.contains("NaN"));

    let bad = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["qa", "report", "--from", "May 1"])
        .arg("--config")
        .arg(dir.path())
        .output()
        .expect("run switchboard");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("YYYY-MM-DD"));
}

/// Runs chromium headless on `url` with `args`, in a process group killed
/// after at most 60 s; its output.
fn chromium(args: &[String], url: &str, work: &Path) -> Output {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: install it with `apt-get install -y chromium` \
         (scripts/install-deps.sh does)"
    );
    let profile = tempfile::Builder::new()
        .prefix("chromium-profile-")
        .tempdir_in(work)
        .expect("profile dir");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let err_reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stderr.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait chromium") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Chromium leaves helper processes behind: end its whole group.
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) on the group this test started (negative pid).
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let _ = child.wait();
    let stdout = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let Some(status) = status else {
        panic!(
            "chromium did not finish within 60 s: {}",
            String::from_utf8_lossy(&stderr)
        );
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

/// A PNG's width and height, from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 33,
        "too short for a PNG: {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}

fn screenshot(page: &Path, work: &Path) -> Vec<u8> {
    let png: PathBuf = page.with_extension("png");
    let out = chromium(
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,1600".into(),
        ],
        &format!("file://{}", page.display()),
        work,
    );
    assert!(
        out.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read(&png).unwrap_or_else(|e| panic!("no screenshot {}: {e}", png.display()))
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let dir = config_dir();
    seed(dir.path());
    let html = report(dir.path(), &["--format", "html"]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<b>bob</b>"), "agent names are escaped");
    let work = tempfile::Builder::new()
        .prefix("qa-report-html-")
        .tempdir()
        .expect("tempdir");
    let page = work.path().join("report.html");
    fs::write(&page, &html).expect("write report.html");
    let blank = work.path().join("blank.html");
    fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").expect("write blank");

    let shot = screenshot(&page, work.path());
    // To look at it: QA_REPORT_SCREENSHOT=/tmp/qa-report.png cargo test --test qa_report
    if let Some(keep) = std::env::var_os("QA_REPORT_SCREENSHOT") {
        fs::write(&keep, &shot).expect("write QA_REPORT_SCREENSHOT");
        fs::write(Path::new(&keep).with_extension("html"), &html).expect("keep the page");
    }
    assert_eq!(png_size(&shot), (1200, 1600), "the window's size");
    let blank_shot = screenshot(&blank, work.path());
    assert_eq!(png_size(&blank_shot), (1200, 1600));
    assert!(
        shot.len() > 4 * blank_shot.len() && shot.len() > 30_000,
        "the report's screenshot ({} bytes) looks blank next to an empty page's ({} bytes)",
        shot.len(),
        blank_shot.len()
    );

    let dom = chromium(
        &["--dump-dom".into()],
        &format!("file://{}", page.display()),
        work.path(),
    );
    assert!(dom.status.success(), "chromium --dump-dom failed");
    let dom = String::from_utf8_lossy(&dom.stdout);
    for chart in [
        "chart chart-line",
        "chart chart-bars chart-categories",
        "chart chart-bars chart-agents",
    ] {
        assert!(
            dom.contains(&format!("<svg class=\"{chart}\"")),
            "no `{chart}` SVG in the DOM:\n{dom}"
        );
    }
    assert!(dom.matches("<polyline").count() >= 1, "a line drawn");
    assert!(
        dom.matches("class=\"bar\"").count() >= 4,
        "category and agent bars"
    );
    assert!(
        dom.contains("<tr class=\"agent-row\"><td>alice</td><td class=\"num\">10</td>"),
        "alice's row:\n{dom}"
    );
    assert!(
        dom.contains("<tr class=\"agent-row\"><td>&lt;b&gt;bob&lt;/b&gt;</td>"),
        "bob's row, escaped (no <b> element):\n{dom}"
    );
    assert!(dom.contains("training needed"));
    assert!(dom.contains("router keeps rebooting"));
    assert!(!dom.contains("<b>bob</b>"));
}
