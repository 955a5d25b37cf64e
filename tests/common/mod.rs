//! Test harness for the integration tests that drive a real `switchboard`
//! process with real SIP peers (SIPp, baresip) and raw SIP sockets.
//!
//! Everything runs on 127.0.0.x with ports from [`alloc_ports`], so tests
//! can run in parallel, in one test binary and across binaries. Every
//! external process is bounded in time and killed when its guard drops.
//! A missing peer program (sipp, baresip, sox) is a test failure with a
//! clear message, never a silent skip: `scripts/install-deps.sh` installs
//! them.

#![allow(dead_code)]

pub mod acd;
pub mod media;
pub mod qa;
pub mod scripted_call;
pub mod speech;
#[allow(unused_imports)]
pub use acd::*;
#[allow(unused_imports)]
pub use media::*;

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const LOCALHOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

/// The repository root (where the demo configuration lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of a SIPp scenario in `tests/sipp/`.
pub fn scenario(name: &str) -> String {
    let p = repo_root().join("tests").join("sipp").join(name);
    assert!(p.is_file(), "SIPp scenario {} is missing", p.display());
    p.to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------
// Port allocation
// ---------------------------------------------------------------------

/// Ports are taken from [PORT_LOW, PORT_HIGH): below Linux's ephemeral
/// range (32768..), so the OS never hands them out to outgoing sockets.
const PORT_LOW: u32 = 20000;
const PORT_HIGH: u32 = 32000;

static NEXT_PORT: AtomicU32 = AtomicU32::new(0);
static PORT_LOCK: Mutex<()> = Mutex::new(());

/// Where this test binary starts allocating: derived from the binary's
/// name, so different test binaries (running at the same time under
/// `cargo test`) start far apart.
fn port_base() -> u32 {
    static BASE: OnceLock<u32> = OnceLock::new();
    *BASE.get_or_init(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        let name = exe
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut h = DefaultHasher::new();
        name.hash(&mut h);
        std::process::id().hash(&mut h);
        let span = PORT_HIGH - PORT_LOW;
        // Blocks of 200 ports: the hash picks the block.
        ((h.finish() % u64::from(span / 200)) as u32) * 200
    })
}

fn port_is_free(port: u16) -> bool {
    // Free for TCP and UDP, on every 127.0.0.x we use, and on 0.0.0.0.
    let tcp = TcpListener::bind((LOCALHOST, port)).is_ok();
    let udp = UdpSocket::bind((LOCALHOST, port)).is_ok();
    let any = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
        && TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok();
    tcp && udp && any
}

/// `n` consecutive ports, each free for UDP and TCP on 127.0.0.1 when
/// checked. Safe to call from many threads.
pub fn alloc_ports(n: u16) -> u16 {
    let n32 = u32::from(n.max(1));
    let _guard = PORT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let span = PORT_HIGH - PORT_LOW;
    for _ in 0..2000 {
        let off = NEXT_PORT.fetch_add(n32, Ordering::SeqCst);
        let start = PORT_LOW + (port_base() + off) % span;
        if start + n32 > PORT_HIGH {
            continue;
        }
        let first = start as u16;
        if (0..n).all(|i| port_is_free(first + i)) {
            return first;
        }
    }
    panic!("could not find {n} free consecutive ports in {PORT_LOW}..{PORT_HIGH}");
}

/// One free port.
pub fn alloc_port() -> u16 {
    alloc_ports(1)
}

// ---------------------------------------------------------------------
// Process helpers
// ---------------------------------------------------------------------

/// Waits for `child` at most `timeout`; kills it (whole process group when
/// it leads one) when the time is up. Returns the exit status, or None on
/// timeout.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            kill_group(child);
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Kills a child started with `process_group(0)` and everything it
/// started, then reaps it.
fn kill_group(child: &mut Child) {
    let pid = child.id();
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends SIGTERM to the group, waits up to `grace`, then SIGKILL.
fn stop_group(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = child.id();
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    kill_group(child);
}

fn require_program(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{program}` is not installed: these tests drive real peers. \
         Install it with `bash scripts/install-deps.sh` (Debian package {package})."
    );
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    lines[from..].join("\n")
}

// ---------------------------------------------------------------------
// The switch under test
// ---------------------------------------------------------------------

type EditFn = Box<dyn Fn(&str, &mut String) + Send + Sync>;

/// How to start the switch.
#[derive(Default)]
pub struct SwitchOpts {
    /// Extra text edits on the copied configuration: called with the
    /// file's path relative to the config folder (`switchboard.toml`,
    /// `sip-profiles/carrier.toml`, ...) and its text, after the ports
    /// were rewritten.
    pub edit: Option<EditFn>,
    /// Extra files (path relative to the config folder, text), written
    /// before the ports are rewritten and the edits run.
    pub files: Vec<(String, Vec<u8>)>,
}

impl SwitchOpts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn edit(mut self, f: impl Fn(&str, &mut String) + Send + Sync + 'static) -> Self {
        self.edit = Some(Box::new(f));
        self
    }

    pub fn file(self, rel: &str, text: &str) -> Self {
        self.binary(rel, text.as_bytes())
    }

    pub fn binary(mut self, rel: &str, bytes: &[u8]) -> Self {
        self.files.push((rel.to_string(), bytes.to_vec()));
        self
    }
}

/// Replaces (or adds) `key = value` inside `[section]` of a TOML text.
/// Good enough for the flat profile files: used by tests to set e.g.
/// `[security] rate_limit`.
pub fn set_toml_key(text: &mut String, section: &str, key: &str, value: &str) {
    let header = format!("[{section}]");
    let mut out = Vec::new();
    let mut in_section = false;
    let mut done = false;
    let mut saw_section = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if in_section && !done {
                out.push(format!("{key} = {value}"));
                done = true;
            }
            in_section = trimmed == header;
            saw_section |= in_section;
        } else if in_section && !done {
            let k = trimmed.split('=').next().unwrap_or("").trim();
            if k == key && trimmed.contains('=') {
                out.push(format!("{key} = {value}"));
                done = true;
                continue;
            }
        }
        out.push(line.to_string());
    }
    if in_section && !done {
        out.push(format!("{key} = {value}"));
        done = true;
    }
    if !saw_section && !done {
        out.push(String::new());
        out.push(header);
        out.push(format!("{key} = {value}"));
    }
    let mut s = out.join("\n");
    s.push('\n');
    *text = s;
}

/// A running `switchboard serve` on a private copy of the demo
/// configuration. Killed on drop; its log is dumped when a test panicked.
pub struct Switch {
    pub dir: TempDir,
    /// Port of the carrier (trunk) profile, UDP and TCP on 127.0.0.1.
    pub carrier_port: u16,
    /// Port of the agents (internal) profile, UDP and TCP on 127.0.0.1.
    pub agents_port: u16,
    child: Option<Child>,
    log_path: PathBuf,
    stdout_path: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let entry = entry.unwrap();
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

fn toml_files(dir: &Path, rel: &str, out: &mut Vec<(PathBuf, String)>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for entry in rd.flatten() {
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel_name = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if p.is_dir() {
            toml_files(&p, &rel_name, out);
        } else if name.ends_with(".toml") {
            out.push((p, rel_name));
        }
    }
}

impl Switch {
    pub fn start(opts: SwitchOpts) -> Switch {
        let root = repo_root();
        let dir = tempfile::Builder::new()
            .prefix("switchboard-test-")
            .tempdir()
            .expect("tempdir");
        let cfg = dir.path();
        fs::copy(root.join("switchboard.toml"), cfg.join("switchboard.toml"))
            .expect("copy switchboard.toml (the lead's demo config must exist)");
        copy_tree(&root.join("sip-profiles"), &cfg.join("sip-profiles"));
        if root.join("ivr-flows").is_dir() {
            copy_tree(&root.join("ivr-flows"), &cfg.join("ivr-flows"));
        }
        copy_tree(&root.join("contact-center"), &cfg.join("contact-center"));
        if root.join("prompts").is_dir() {
            copy_tree(&root.join("prompts"), &cfg.join("prompts"));
        }
        fs::create_dir_all(cfg.join("recordings")).unwrap();
        for (rel, text) in &opts.files {
            let path = cfg.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }

        let carrier_port = alloc_port();
        let agents_port = alloc_port();

        let mut files = Vec::new();
        toml_files(cfg, "", &mut files);
        for (path, rel) in files {
            let mut text = fs::read_to_string(&path).unwrap();
            text = text
                .replace("127.0.0.1:5080", &format!("127.0.0.1:{carrier_port}"))
                .replace("127.0.0.1:5060", &format!("127.0.0.1:{agents_port}"));
            if let Some(edit) = &opts.edit {
                edit(&rel, &mut text);
            }
            fs::write(&path, text).unwrap();
        }

        let log_path = cfg.join("switchboard.log");
        let stdout_path = cfg.join("switchboard.stdout");
        let child = spawn_switch(cfg, &log_path, &stdout_path);

        let mut sw = Switch {
            dir,
            carrier_port,
            agents_port,
            child: Some(child),
            log_path,
            stdout_path,
        };
        sw.wait_ready(Duration::from_secs(20));
        sw.wait_udp_ready(Duration::from_secs(5));
        sw
    }

    /// The TCP listeners are up; make sure the UDP ones are too, with an
    /// OPTIONS (with rport) to each profile. Not fatal: a switch that does
    /// not answer OPTIONS fails the tests that need it, with their own
    /// message.
    fn wait_udp_ready(&mut self, timeout: Duration) {
        let sock = RawUdp::bind(LOCALHOST);
        for to in [self.carrier_addr(), self.agents_addr()] {
            let deadline = Instant::now() + timeout;
            let mut answered = false;
            while Instant::now() < deadline {
                let req = options_request(sock.local(), to, Some("switchboard-tests"));
                if sock.request(to, &req, Duration::from_millis(300)).is_some() {
                    answered = true;
                    break;
                }
            }
            if !answered {
                eprintln!(
                    "note: switchboard did not answer OPTIONS over UDP on {to} during start-up"
                );
            }
        }
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let ports = [self.carrier_port, self.agents_port];
        loop {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "switchboard exited during start-up ({st}); log:\n{}",
                    tail_lines(&self.log(), 100)
                );
            }
            let up = ports.iter().all(|&p| {
                TcpStream::connect_timeout(
                    &SocketAddr::from((LOCALHOST, p)),
                    Duration::from_millis(200),
                )
                .is_ok()
            });
            // Ready once it listens and wrote its pid file (what `reload`
            // and the admin commands signal).
            if up && self.dir.path().join("switchboard.pid").is_file() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "switchboard did not listen on TCP 127.0.0.1:{} and :{} within {:?}; log:\n{}",
                    self.carrier_port,
                    self.agents_port,
                    timeout,
                    tail_lines(&self.log(), 100)
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn carrier_addr(&self) -> SocketAddr {
        SocketAddr::from((LOCALHOST, self.carrier_port))
    }

    pub fn agents_addr(&self) -> SocketAddr {
        SocketAddr::from((LOCALHOST, self.agents_port))
    }

    /// "127.0.0.1:PORT" of the carrier profile, for SIPp's command line.
    pub fn carrier(&self) -> String {
        format!("127.0.0.1:{}", self.carrier_port)
    }

    /// "127.0.0.1:PORT" of the agents profile.
    pub fn agents(&self) -> String {
        format!("127.0.0.1:{}", self.agents_port)
    }

    /// Everything the switch wrote to stderr (its log) so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    pub fn stdout(&self) -> String {
        read_lossy(&self.stdout_path)
    }

    /// The running switch's threads, read from /proc.
    pub fn threads(&self) -> Vec<ThreadInfo> {
        let pid = self.child.as_ref().expect("the switch runs").id();
        let tasks = fs::read_dir(format!("/proc/{pid}/task")).expect("the switch's threads");
        tasks
            .flatten()
            .filter_map(|t| {
                let stat = fs::read_to_string(t.path().join("stat")).ok()?;
                let schedstat = fs::read_to_string(t.path().join("schedstat")).ok()?;
                ThreadInfo::parse(&stat, &schedstat)
            })
            .collect()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Panics (with the log) unless the process still runs.
    pub fn assert_running(&mut self, context: &str) {
        if !self.is_running() {
            panic!(
                "switchboard is not running any more ({context}); log:\n{}",
                tail_lines(&self.log(), 100)
            );
        }
    }
}

/// One thread of a process, from its `/proc/PID/task/TID/stat`.
#[derive(Debug, Clone)]
pub struct ThreadInfo {
    pub name: String,
    pub nice: i32,
    /// Time on a CPU, in nanoseconds (`schedstat`).
    pub cpu_ns: u64,
    /// Scheduling policy (0 normal, 1 FIFO, 2 RR) and real-time priority.
    pub policy: u32,
    pub rt_priority: u32,
}

impl ThreadInfo {
    fn parse(stat: &str, schedstat: &str) -> Option<ThreadInfo> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        // Fields after the name, from the third (state) on.
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let field = |n: usize| rest.get(n - 3).copied();
        Some(ThreadInfo {
            name: stat[open + 1..close].to_owned(),
            nice: field(19)?.parse().ok()?,
            cpu_ns: schedstat.split_whitespace().next()?.parse().ok()?,
            rt_priority: field(40)?.parse().ok()?,
            policy: field(41)?.parse().ok()?,
        })
    }
}

/// Starts `switchboard serve` on `cfg`, appending to its log files.
fn spawn_switch(cfg: &Path, log_path: &Path, stdout_path: &Path) -> Child {
    let append = |p: &Path| {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
    };
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .arg("--config")
        .arg(cfg)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(append(stdout_path))
        .stderr(append(log_path))
        .process_group(0)
        .spawn()
        .expect("spawn switchboard")
}

impl Switch {
    /// Stops the switch with SIGTERM (a clean shutdown) and starts it again
    /// on the same configuration, database and ports.
    pub fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_group(&mut child, Duration::from_secs(5));
        }
        self.child = Some(spawn_switch(
            self.dir.path(),
            &self.log_path,
            &self.stdout_path,
        ));
        self.wait_ready(Duration::from_secs(20));
        self.wait_udp_ready(Duration::from_secs(5));
    }
}

impl Switch {
    /// Kills the switch with SIGKILL (a crash: nothing is flushed).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
            let _ = child.wait();
        }
    }

    /// Runs `switchboard ARGS --config <this switch's folder>`.
    pub fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .arg("--config")
            .arg(self.dir.path())
            .output()
            .expect("run switchboard")
    }

    /// Waits (bounded by `limit`) until agent `ext`'s stored state is
    /// `state`; whether it came.
    pub fn wait_agent_state(&self, ext: &str, state: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.agent_state(ext) == state {
                return true;
            }
            thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The latest calls as `switchboard calls --json` prints them.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["calls", "--json", "--limit", "100", "--config"])
            .arg(self.dir.path())
            .output()
            .expect("run switchboard calls");
        assert!(
            out.status.success(),
            "switchboard calls failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("switchboard calls --json prints JSON")
    }

    /// Imports the demo customers (`demo/customers.toml`).
    pub fn import_demo_customers(&self) {
        let import = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["customers", "import"])
            .arg(repo_root().join("demo/customers.toml"))
            .arg("--config")
            .arg(self.dir.path())
            .output()
            .expect("run switchboard customers import");
        assert!(import.status.success(), "{import:?}");
    }

    /// The agents as `switchboard agents --json` prints them.
    pub fn agent_states(&self) -> Vec<serde_json::Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["agents", "--json", "--config"])
            .arg(self.dir.path())
            .output()
            .expect("run switchboard agents");
        assert!(
            out.status.success(),
            "switchboard agents failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("switchboard agents --json prints JSON")
    }

    /// Agent `id`'s state as last stored.
    pub fn agent_state(&self, id: &str) -> String {
        self.agent_states()
            .iter()
            .find(|a| a["agent"] == id)
            .and_then(|a| a["state"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Waits (bounded) until `n` calls are recorded and all have ended;
    /// returns them newest first.
    pub fn wait_calls_ended(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls();
            let done = calls.len() >= n && calls.iter().all(|c| !c["ended_at"].is_null());
            if done || Instant::now() >= deadline {
                return calls;
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The details of the journal entries of `kind` (`node`, `queue`,
/// `dtmf`...) of a call as `switchboard calls --json` prints it, in order.
pub fn journey(call: &serde_json::Value, kind: &str) -> Vec<String> {
    call["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|e| e["kind"] == kind)
                .filter_map(|e| e["detail"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_group(&mut child, Duration::from_secs(2));
        }
        if thread::panicking() {
            eprintln!(
                "---- last 100 lines of switchboard's log ({}) ----\n{}\n---- end of log ----",
                self.log_path.display(),
                tail_lines(&self.log(), 100)
            );
        }
    }
}

// ---------------------------------------------------------------------
// SIPp
// ---------------------------------------------------------------------

/// What a SIPp run left behind.
#[derive(Debug, Default, Clone)]
pub struct SippResult {
    /// Exit code; None when it was killed at the timeout (or by a signal).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// From the stat CSV (`SuccessfulCall(C)`, `FailedCall(C)`).
    pub successful: u64,
    pub failed: u64,
    /// `-trace_msg` file: every message sent and received.
    pub messages: String,
    /// `-trace_err` file.
    pub errors: String,
    /// `-trace_screen` file (final screens).
    pub screen: String,
    pub output: String,
}

impl SippResult {
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// A readable summary for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "sipp exit={:?} timed_out={} successful={} failed={}\n--- errors ---\n{}\n--- output ---\n{}\n--- last messages ---\n{}",
            self.exit_code,
            self.timed_out,
            self.successful,
            self.failed,
            tail_lines(&self.errors, 40),
            tail_lines(&self.output, 20),
            tail_lines(&self.messages, 80)
        )
    }

    /// Status codes of the SIP responses SIPp received, in order.
    pub fn received_status_codes(&self) -> Vec<u16> {
        received_messages(&self.messages)
            .iter()
            .filter_map(|m| status_code(m))
            .collect()
    }
}

/// Splits a SIPp `-trace_msg` file into the messages it received.
pub fn received_messages(trace: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Blocks start with a "----- date" line, then "UDP message received
    // [N] bytes :" (or "TCP message received ..."), a blank line, then
    // the message.
    let mut blocks: Vec<String> = Vec::new();
    let mut cur = String::new();
    for line in trace.lines() {
        if line.starts_with("-----------------------------------------------") {
            if !cur.is_empty() {
                blocks.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    if !cur.is_empty() {
        blocks.push(cur);
    }
    for b in blocks {
        let first = b.lines().next().unwrap_or("");
        if first.contains("message received") {
            let body: String = b.lines().skip(1).collect::<Vec<_>>().join("\n");
            out.push(body.trim_start().to_string());
        }
    }
    out
}

/// Status code of a response text ("SIP/2.0 401 ...").
pub fn status_code(msg: &str) -> Option<u16> {
    let line = msg.trim_start().lines().next()?;
    let mut parts = line.split_whitespace();
    if parts.next()? != "SIP/2.0" {
        return None;
    }
    parts.next()?.parse().ok()
}

/// True when the message has a header `name` (case-insensitive, no
/// compact forms).
pub fn has_header(msg: &str, name: &str) -> bool {
    msg.lines().skip(1).any(|l| {
        l.split_once(':')
            .map(|(h, _)| h.trim().eq_ignore_ascii_case(name))
            .unwrap_or(false)
    })
}

fn parse_stat_csv(text: &str) -> (u64, u64) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return (0, 0);
    };
    let Some(last) = lines.next_back() else {
        return (0, 0);
    };
    let cols: Vec<&str> = header.split(';').collect();
    let vals: Vec<&str> = last.split(';').collect();
    let get = |name: &str| -> u64 {
        cols.iter()
            .position(|c| *c == name)
            .and_then(|i| vals.get(i))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (get("SuccessfulCall(C)"), get("FailedCall(C)"))
}

fn sipp_command(args: &[&str], dir: &Path) -> Command {
    require_program("sipp", "sip-tester");
    let mut cmd = Command::new("sipp");
    cmd.arg("-nostdin");
    if !args.contains(&"-i") {
        cmd.args(["-i", "127.0.0.1"]);
    }
    if !args.contains(&"-mi") {
        cmd.args(["-mi", "127.0.0.1"]);
    }
    cmd.args(args);
    cmd.arg("-trace_stat")
        .arg("-stf")
        .arg(dir.join("stat.csv"))
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(dir.join("messages.log"))
        .arg("-trace_err")
        .arg("-error_file")
        .arg(dir.join("errors.log"))
        .arg("-trace_screen")
        .arg("-screen_file")
        .arg(dir.join("screen.log"));
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(fs::File::create(dir.join("output.log")).unwrap())
        .stderr(fs::File::create(dir.join("stderr.log")).unwrap())
        .process_group(0);
    cmd
}

fn collect_sipp(dir: &Path, status: Option<ExitStatus>) -> SippResult {
    let (successful, failed) = parse_stat_csv(&read_lossy(&dir.join("stat.csv")));
    let mut output = read_lossy(&dir.join("output.log"));
    output.push_str(&read_lossy(&dir.join("stderr.log")));
    SippResult {
        exit_code: status.and_then(|s| s.code()),
        timed_out: status.is_none(),
        successful,
        failed,
        messages: read_lossy(&dir.join("messages.log")),
        errors: read_lossy(&dir.join("errors.log")),
        screen: read_lossy(&dir.join("screen.log")),
        output,
    }
}

/// Runs SIPp to completion (killed after `timeout`). Adds `-nostdin`,
/// `-i 127.0.0.1 -mi 127.0.0.1` (unless `-i`/`-mi` are given), and the
/// stat/message/error/screen traces in a temporary folder.
pub fn sipp(args: &[&str], timeout: Duration) -> SippResult {
    let dir = tempfile::Builder::new().prefix("sipp-").tempdir().unwrap();
    let mut child = sipp_command(args, dir.path())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run sipp: {e}"));
    let status = wait_bounded(&mut child, timeout);
    collect_sipp(dir.path(), status)
}

/// A SIPp instance running in the background (typically a UAS playing an
/// agent's phone). Killed on drop; its traces are printed if the test
/// panicked.
pub struct SippServer {
    pub port: u16,
    /// First of 4 ports given to SIPp for media (-mp).
    pub media_port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl SippServer {
    /// Starts `sipp -sf <scenario> -p <port> -mp <media>` plus `extra`
    /// arguments (e.g. `["-t", "t1"]`). Waits until the port is bound.
    pub fn start(scenario_file: &str, extra: &[&str]) -> SippServer {
        let port = alloc_port();
        let media_port = alloc_ports(4);
        let port_s = port.to_string();
        let media_s = media_port.to_string();
        let mut args: Vec<&str> = vec!["-sf", scenario_file, "-p", &port_s, "-mp", &media_s];
        args.extend_from_slice(extra);
        let dir = tempfile::Builder::new()
            .prefix("sipp-uas-")
            .tempdir()
            .unwrap();
        let child = sipp_command(&args, dir.path())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sipp: {e}"));
        let mut srv = SippServer {
            port,
            media_port,
            child: Some(child),
            dir,
        };
        let tcp = extra
            .windows(2)
            .any(|w| w[0] == "-t" && w[1].starts_with('t'));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let bound = if tcp {
                // Only probe with a bind: a connection would count as a
                // (failed) call on the UAS.
                TcpListener::bind((LOCALHOST, port)).is_err()
            } else {
                UdpSocket::bind((LOCALHOST, port)).is_err()
            };
            if bound {
                break;
            }
            if let Some(Ok(Some(st))) = srv.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "background sipp exited at start ({st}): {}",
                    collect_sipp(srv.dir.path(), Some(st)).describe()
                );
            }
            assert!(
                Instant::now() < deadline,
                "background sipp never bound port {port}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        srv
    }

    /// Starts `scenario_file` (in tests/sipp), over TCP when `tcp`.
    pub fn play(scenario_file: &str, tcp: bool) -> SippServer {
        let extra: &[&str] = if tcp { &["-t", "t1"] } else { &[] };
        SippServer::start(&scenario(scenario_file), extra)
    }

    /// Stops SIPp and returns what it recorded.
    pub fn stop(mut self) -> SippResult {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> SippResult {
        let mut status = None;
        if let Some(mut c) = self.child.take() {
            // SIGTERM, then SIGKILL: a background UAS never ends by itself.
            stop_group(&mut c, Duration::from_secs(2));
            status = c.try_wait().ok().flatten();
        }
        collect_sipp(self.dir.path(), status)
    }

    /// The message trace so far.
    pub fn messages(&self) -> String {
        read_lossy(&self.dir.path().join("messages.log"))
    }
}

impl Drop for SippServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            let r = self.stop_inner();
            if thread::panicking() {
                eprintln!(
                    "---- background sipp on port {} ----\n{}",
                    self.port,
                    r.describe()
                );
            }
        }
    }
}

/// SIPp's `-t` value for UDP ("u1") or TCP ("t1"), one socket.
pub fn sipp_transport(tcp: bool) -> &'static str {
    if tcp { "t1" } else { "u1" }
}

/// A SIPp client run that ends by itself (`-m` calls, then exits), with
/// fresh local ports. The command line is laid out as
/// `TARGET -sf SCENARIO [-t T] [-i IP] -p PORT [-mp MEDIA] [-s SERVICE]
/// [-au USER -ap PASS -key contact_port N] [-key expires N] -m CALLS
/// [-r RATE] -timeout LIMIT -timeout_error [EXTRA...]`.
pub struct SippClient {
    target: String,
    scenario: String,
    limit: String,
    transport: Option<String>,
    source_ip: Option<String>,
    media: bool,
    service: Option<String>,
    agent: Option<(String, String, u16)>,
    expires: Option<u32>,
    calls: u32,
    rate: Option<u32>,
    extra: Vec<String>,
}

impl SippClient {
    /// Runs `scenario_file` (in tests/sipp) against `target`
    /// ("127.0.0.1:PORT"); `limit` is SIPp's own `-timeout` (e.g. "15s").
    /// One call unless [`calls`](Self::calls) says otherwise.
    pub fn new(target: &str, scenario_file: &str, limit: &str) -> Self {
        SippClient {
            target: target.to_string(),
            scenario: scenario(scenario_file),
            limit: limit.to_string(),
            transport: None,
            source_ip: None,
            media: false,
            service: None,
            agent: None,
            expires: None,
            calls: 1,
            rate: None,
            extra: Vec::new(),
        }
    }

    /// `-t` (see [`sipp_transport`]); SIPp's default is UDP.
    pub fn transport(mut self, transport: &str) -> Self {
        self.transport = Some(transport.to_string());
        self
    }

    /// `-i`: send from this local address instead of 127.0.0.1.
    pub fn source_ip(mut self, ip: &str) -> Self {
        self.source_ip = Some(ip.to_string());
        self
    }

    /// `-mp` on 4 fresh ports (scenarios that play or receive media).
    pub fn media(mut self) -> Self {
        self.media = true;
        self
    }

    /// `-s`: the user part of the Request-URI.
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_string());
        self
    }

    /// An agent phone's registration: `-s USER -au USER -ap PASS
    /// -key contact_port PORT` (the registrar scenarios).
    pub fn agent(mut self, user: &str, pass: &str, contact_port: u16) -> Self {
        self.service = Some(user.to_string());
        self.agent = Some((user.to_string(), pass.to_string(), contact_port));
        self
    }

    /// `-key expires N` (register_auth.xml).
    pub fn expires(mut self, secs: u32) -> Self {
        self.expires = Some(secs);
        self
    }

    /// `-m`: calls to place before exiting.
    pub fn calls(mut self, calls: u32) -> Self {
        self.calls = calls;
        self
    }

    /// `-r`: calls per second (SIPp's default is 10).
    pub fn rate(mut self, per_second: u32) -> Self {
        self.rate = Some(per_second);
        self
    }

    /// Arguments appended as they are, after everything else.
    pub fn args(mut self, extra: &[&str]) -> Self {
        self.extra.extend(extra.iter().map(|a| a.to_string()));
        self
    }

    /// Runs SIPp with [`sipp`], killed after `timeout`.
    pub fn run(self, timeout: Duration) -> SippResult {
        let mut args: Vec<String> = vec![self.target, "-sf".into(), self.scenario];
        if let Some(t) = self.transport {
            args.extend(["-t".into(), t]);
        }
        if let Some(ip) = self.source_ip {
            args.extend(["-i".into(), ip]);
        }
        args.extend(["-p".into(), alloc_port().to_string()]);
        if self.media {
            args.extend(["-mp".into(), alloc_ports(4).to_string()]);
        }
        if let Some(s) = self.service {
            args.extend(["-s".into(), s]);
        }
        if let Some((user, pass, contact_port)) = self.agent {
            args.extend(["-au".into(), user, "-ap".into(), pass]);
            args.extend(["-key".into(), "contact_port".into()]);
            args.push(contact_port.to_string());
        }
        if let Some(exp) = self.expires {
            args.extend(["-key".into(), "expires".into(), exp.to_string()]);
        }
        args.extend(["-m".into(), self.calls.to_string()]);
        if let Some(r) = self.rate {
            args.extend(["-r".into(), r.to_string()]);
        }
        args.extend(["-timeout".into(), self.limit, "-timeout_error".into()]);
        args.extend(self.extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sipp(&args, timeout)
    }
}

/// Registers `user` (password `pass`) on the switch's agents profile with
/// its Contact pointing at `contact_port` (e.g. a [`SippServer`]'s port).
/// `transport` is "u1" (UDP) or "t1" (TCP).
pub fn sipp_register(
    sw: &Switch,
    user: &str,
    pass: &str,
    contact_port: u16,
    expires: u32,
    transport: &str,
) -> SippResult {
    SippClient::new(&sw.agents(), "register_auth.xml", "15s")
        .transport(transport)
        .agent(user, pass, contact_port)
        .expires(expires)
        .run(Duration::from_secs(20))
}

/// Agent `user` dials feature code `code` (`*21` ready, `*22` break, `*23`
/// log out) from a SIPp phone, authenticating with `pass`.
pub fn dial_feature(sw: &Switch, user: &str, pass: &str, code: &str) -> SippResult {
    // A wrong password is challenged again and again: give up soon.
    let limit = if pass.starts_with("pw") { "30s" } else { "5s" };
    SippClient::new(&sw.agents(), "uac_feature.xml", limit)
        .agent(user, pass, 0)
        .media()
        .args(&["-key", "code", code])
        .run(Duration::from_secs(40))
}

/// Agent `user` (demo password) logs in and is ready (`*21`).
pub fn log_in(sw: &Switch, user: &str) {
    let r = dial_feature(sw, user, &format!("pw{user}"), "*21");
    assert!(r.ok(), "{user} dialling *21:\n{}", r.describe());
}

// ---------------------------------------------------------------------
// baresip
// ---------------------------------------------------------------------

/// What a [`Baresip`] sends, and the codec it offers.
pub enum Sound {
    /// A 440 Hz tone as long as baresip runs, G.711 at 8 kHz.
    Tone,
    /// A 16 kHz mono WAV, G.722 only (wideband). At the end of the file
    /// baresip hangs up the call.
    Wideband(PathBuf),
}

/// A headless baresip softphone: an agent (registered, auto-answering) or
/// a caller, sending a [`Sound`]. Killed on drop.
pub struct Baresip {
    pub dir: TempDir,
    pub sip_port: u16,
    ctrl_port: u16,
    child: Option<Child>,
    out_path: PathBuf,
}

impl Baresip {
    /// Starts `timeout <run_secs> baresip -4 -f DIR` registered as
    /// `user`/`pass` on 127.0.0.1:`registrar_port`, sending a tone.
    pub fn start_agent(user: &str, pass: &str, registrar_port: u16, run_secs: u32) -> Baresip {
        Baresip::agent_with(user, pass, registrar_port, run_secs, Sound::Tone, None)
    }

    /// An agent sending `sound`; `sip_port` fixes its SIP port (a phone
    /// restarted on the same port replaces its binding instead of leaving
    /// a second one to be rung).
    pub fn agent_with(
        user: &str,
        pass: &str,
        registrar_port: u16,
        run_secs: u32,
        sound: Sound,
        sip_port: Option<u16>,
    ) -> Baresip {
        Baresip::start(
            &format!(
                "<sip:{user}@127.0.0.1:{registrar_port}>;auth_pass={pass};answermode=auto;regint=300"
            ),
            run_secs,
            sound,
            sip_port,
        )
    }

    /// Starts `timeout <run_secs> baresip -4 -f DIR` as a caller that
    /// registers nowhere (`regint=0`): it dials with [`command_with`]
    /// (`dial`, `sip:NUMBER@127.0.0.1:PORT`) and sends its 440 Hz tone.
    ///
    /// [`command_with`]: Baresip::command_with
    pub fn start_caller(user: &str, run_secs: u32) -> Baresip {
        Baresip::caller_with(user, run_secs, Sound::Tone)
    }

    /// A caller sending `sound`.
    pub fn caller_with(user: &str, run_secs: u32, sound: Sound) -> Baresip {
        Baresip::start(
            &format!("<sip:{user}@127.0.0.1>;regint=0"),
            run_secs,
            sound,
            None,
        )
    }

    /// Starts baresip with one account line (`accounts` file).
    fn start(account: &str, run_secs: u32, sound: Sound, sip_port: Option<u16>) -> Baresip {
        require_program("baresip", "baresip");
        require_program("sox", "sox");
        let dir = tempfile::Builder::new()
            .prefix("baresip-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        // baresip also listens on the SIP port + 1 (SIP over TLS).
        let sip_port = sip_port.unwrap_or_else(|| alloc_ports(2));
        let rtp = alloc_ports(20);
        let ctrl_port = alloc_port();
        let (source, codec, rate) = match sound {
            Sound::Tone => {
                let tone = d.join("tone.wav");
                let st = Command::new("sox")
                    .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
                    .arg(&tone)
                    // As long as baresip runs: at the end of its file,
                    // baresip hangs up the call.
                    .args(["synth", &run_secs.to_string(), "sine", "440"])
                    .stdin(Stdio::null())
                    .status()
                    .expect("run sox");
                assert!(st.success(), "sox could not make the tone WAV");
                (tone, "g711", 8000)
            }
            Sound::Wideband(wav) => (wav, "g722", 16000),
        };
        fs::create_dir_all(d.join("rec")).unwrap();
        let config = format!(
            "sip_listen 127.0.0.1:{sip_port}\n\
             net_interface 127.0.0.1\n\
             rtp_ports {}-{}\n\
             audio_source aufile,{}\n\
             audio_player aubridge,nowhere\n\
             audio_alert aubridge,nowhere\n\
             ausrc_srate {rate}\n\
             auplay_srate {rate}\n\
             module_path /usr/lib/baresip/modules\n\
             module {codec}.so\n\
             module aufile.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             snd_path {}\n\
             module_app account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n",
            rtp,
            rtp + 19,
            source.display(),
            d.join("rec").display()
        );
        fs::write(d.join("config"), config).unwrap();
        fs::write(d.join("accounts"), format!("{account}\n")).unwrap();
        let out_path = d.join("baresip.out");
        let out = fs::File::create(&out_path).unwrap();
        let child = Command::new("timeout")
            .arg(run_secs.to_string())
            .args(["baresip", "-4", "-f"])
            .arg(d)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("spawn baresip");
        Baresip {
            dir,
            sip_port,
            ctrl_port,
            child: Some(child),
            out_path,
        }
    }

    /// Stops baresip: SIGTERM (it unregisters and hangs up), SIGKILL after
    /// `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(mut c) = self.child.take() {
            stop_group(&mut c, grace);
        }
    }

    /// Runs a baresip command (`hold`, `resume`...) through its `ctrl_tcp`
    /// module (a JSON command in a netstring); returns baresip's reply.
    pub fn command(&self, command: &str) -> String {
        self.command_with(command, "")
    }

    /// Runs a baresip command with its parameters (`dial` and a URI,
    /// `sndcode` and the keys to send); returns baresip's reply (the
    /// `"response":true` message: events the connection also carries, such
    /// as a call closing, are skipped), or what came within 5 s.
    pub fn command_with(&self, command: &str, params: &str) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect((LOCALHOST, self.ctrl_port))
            .expect("connect to baresip's ctrl_tcp");
        let json = format!(r#"{{"command":"{command}","params":"{params}","token":"t"}}"#);
        s.write_all(format!("{}:{json},", json.len()).as_bytes())
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            // Each message is a netstring: `LEN:JSON,`.
            let text = String::from_utf8_lossy(&got).into_owned();
            let mut rest = text.as_str();
            while let Some((len, tail)) = rest.split_once(':') {
                let Some(msg) = len.parse().ok().and_then(|n: usize| tail.get(..n)) else {
                    break;
                };
                if msg.contains(r#""response":true"#) {
                    return msg.to_string();
                }
                rest = tail.get(msg.len() + 1..).unwrap_or("");
            }
            if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match s.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    /// The WAV files baresip's `sndfile` module wrote for the audio it
    /// received (decoded), newest last.
    pub fn received_audio_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.path().join("rec"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort_by_key(|p| fs::metadata(p).and_then(|m| m.modified()).ok());
        files
    }

    /// Everything baresip printed so far.
    pub fn output(&self) -> String {
        read_lossy(&self.out_path)
    }

    /// Waits until the output contains any of `needles` (case-insensitive).
    pub fn wait_for_any(&self, needles: &[&str], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.output().to_lowercase();
            if needles.iter().any(|n| out.contains(&n.to_lowercase())) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(1));
        if thread::panicking() {
            eprintln!(
                "---- baresip output ----\n{}",
                tail_lines(&self.output(), 60)
            );
        }
    }
}

// ---------------------------------------------------------------------
// Raw SIP
// ---------------------------------------------------------------------

/// A UDP socket on 127.0.0.x for hand-made SIP.
pub struct RawUdp {
    pub sock: UdpSocket,
}

impl RawUdp {
    /// Binds `ip`:0 (e.g. 127.0.0.2, any 127/8 address works on Linux).
    pub fn bind(ip: Ipv4Addr) -> RawUdp {
        RawUdp::bind_port(ip, 0)
    }

    pub fn bind_port(ip: Ipv4Addr, port: u16) -> RawUdp {
        let sock =
            UdpSocket::bind((ip, port)).unwrap_or_else(|e| panic!("bind UDP {ip}:{port}: {e}"));
        RawUdp { sock }
    }

    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    pub fn send(&self, to: SocketAddr, bytes: &[u8]) {
        self.sock.send_to(bytes, to).expect("udp send");
    }

    /// Next datagram within `timeout`, as text.
    pub fn recv(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            self.sock.set_read_timeout(Some(left)).ok()?;
            match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => return Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return None,
            }
        }
    }

    /// Waits for a response whose Call-ID is `call_id` with a final
    /// status (>= 200), skipping provisional ones and anything else.
    /// Returns the status code and the whole response.
    pub fn recv_final(&self, call_id: &str, timeout: Duration) -> Option<(u16, String)> {
        self.recv_final_to(call_id, None, timeout)
    }

    /// [`recv_final`](Self::recv_final) for the request of CSeq `cseq`
    /// (e.g. "2 BYE") when given: a retransmitted 200 of the dialog's
    /// INVITE is not the BYE's answer.
    fn recv_final_to(
        &self,
        call_id: &str,
        cseq: Option<&str>,
        timeout: Duration,
    ) -> Option<(u16, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let msg = self.recv(left)?;
            if header_value(&msg, "Call-ID").as_deref() != Some(call_id) {
                continue;
            }
            let words = |v: &str| v.split_whitespace().collect::<Vec<_>>().join(" ");
            if let Some(want) = cseq
                && header_value(&msg, "CSeq").is_none_or(|got| words(&got) != words(want))
            {
                continue;
            }
            match status_code(&msg) {
                Some(code) if code >= 200 => return Some((code, msg)),
                _ => {}
            }
        }
    }

    /// Sends `msg` and waits for its final response (same Call-ID and
    /// CSeq).
    pub fn request(&self, to: SocketAddr, msg: &str, timeout: Duration) -> Option<(u16, String)> {
        let call_id = header_value(msg, "Call-ID").expect("request without Call-ID");
        let cseq = header_value(msg, "CSeq");
        self.send(to, msg.as_bytes());
        self.recv_final_to(&call_id, cseq.as_deref(), timeout)
    }

    /// Drains and counts datagrams until `quiet` passes with none.
    pub fn drain(&self, quiet: Duration) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(m) = self.recv(quiet) {
            v.push(m);
        }
        v
    }
}

/// Sends bytes over a fresh TCP connection (from 127.0.0.1: std cannot
/// bind a client socket before connecting), optionally half-closes the
/// write side (so a message whose Content-Length runs past the end still
/// ends), and returns everything the server sent back within `timeout`,
/// until it closed the connection, or until a final response arrived.
pub fn tcp_exchange(
    to: SocketAddr,
    bytes: &[u8],
    half_close: bool,
    timeout: Duration,
) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(3))?;
    s.write_all(bytes)?;
    if half_close {
        let _ = s.shutdown(Shutdown::Write);
    }
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                break;
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        }
        let text = String::from_utf8_lossy(&out);
        if split_messages(&text)
            .iter()
            .any(|m| status_code(m).is_some_and(|c| c >= 200))
        {
            break;
        }
    }
    Ok(out)
}

/// Splits a byte stream of SIP messages (as received over TCP) into
/// messages, using Content-Length (missing = 0).
pub fn split_messages(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find("\r\n\r\n") {
        let head = &rest[..end + 4];
        let cl = header_value(head, "Content-Length")
            .or_else(|| header_value(head, "l"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let total = (end + 4 + cl).min(rest.len());
        out.push(rest[..total].to_string());
        rest = &rest[total..];
        rest = rest.trim_start_matches(['\r', '\n']);
    }
    out
}

/// Value of the first header `name` (case-insensitive; also matches the
/// compact form when `name` is one), trimmed.
pub fn header_value(msg: &str, name: &str) -> Option<String> {
    let compact = match name.to_ascii_lowercase().as_str() {
        "call-id" => Some("i"),
        "via" => Some("v"),
        "from" => Some("f"),
        "to" => Some("t"),
        "content-length" => Some("l"),
        "contact" => Some("m"),
        _ => None,
    };
    for line in msg.lines().skip(1) {
        if line.is_empty() || line == "\r" {
            break;
        }
        if let Some((h, v)) = line.split_once(':') {
            let h = h.trim();
            if h.eq_ignore_ascii_case(name) || compact.is_some_and(|c| h.eq_ignore_ascii_case(c)) {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

static SEQ: AtomicU32 = AtomicU32::new(1);

/// A fresh token for branches, tags and Call-IDs.
pub fn token() -> String {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}{n:x}", std::process::id(), t)
}

/// A minimal OPTIONS request from `from` (with `;rport`) to `to`.
pub fn options_request(from: SocketAddr, to: SocketAddr, user_agent: Option<&str>) -> String {
    let t = token();
    let ua = user_agent
        .map(|u| format!("User-Agent: {u}\r\n"))
        .unwrap_or_default();
    format!(
        "OPTIONS sip:{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK{t};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{from}>;tag={t}\r\n\
         To: <sip:{to}>\r\n\
         Call-ID: {t}@{ip}\r\n\
         CSeq: 1 OPTIONS\r\n\
         {ua}\
         Content-Length: 0\r\n\r\n",
        ip = from.ip()
    )
}

/// A REGISTER for `user`, optionally with an Authorization header line.
/// Same `call_id`/`cseq` handling as a phone: pass the values to reuse.
pub fn register_request(
    from: SocketAddr,
    to: SocketAddr,
    user: &str,
    call_id: &str,
    cseq: u32,
    authorization: Option<&str>,
) -> String {
    let t = token();
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK{t};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{to}>;tag={call_id}\r\n\
         To: <sip:{user}@{to}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@{from}>\r\n\
         Expires: 300\r\n\
         {auth}\
         Content-Length: 0\r\n\r\n"
    )
}

/// A parsed digest challenge (the parameters we need).
#[derive(Debug, Clone, Default)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: String,
    pub qop: Option<String>,
    pub opaque: Option<String>,
}

/// All `WWW-Authenticate: Digest ...` challenges of a response.
pub fn challenges(msg: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    for line in msg.lines().skip(1) {
        let Some((h, v)) = line.split_once(':') else {
            continue;
        };
        let h = h.trim();
        if !(h.eq_ignore_ascii_case("WWW-Authenticate")
            || h.eq_ignore_ascii_case("Proxy-Authenticate"))
        {
            continue;
        }
        let v = v.trim();
        let Some(params) = v
            .strip_prefix("Digest")
            .or_else(|| v.strip_prefix("digest"))
        else {
            continue;
        };
        let mut c = Challenge {
            algorithm: "MD5".into(),
            ..Default::default()
        };
        for (k, val) in parse_params(params) {
            match k.to_ascii_lowercase().as_str() {
                "realm" => c.realm = val,
                "nonce" => c.nonce = val,
                "algorithm" => c.algorithm = val,
                "qop" => c.qop = Some(val),
                "opaque" => c.opaque = Some(val),
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        rest = rest[eq + 1..].trim_start();
        let val;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            val = r[..end].to_string();
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            val = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, val));
    }
    out
}

/// Parses "127.0.0.x" into an address (test readability).
pub fn ip(s: &str) -> Ipv4Addr {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4,
        _ => panic!("not an IPv4 address: {s}"),
    }
}

/// An INVITE to sip:`number`@`to` over UDP from 127.0.0.1 (as a carrier
/// would send it); returns the final status code
/// (None when nothing final arrived within 10 s) and ACKs it.
pub fn raw_invite(to: SocketAddr, number: &str) -> Option<u16> {
    let sock = RawUdp::bind(LOCALHOST);
    let from: SocketAddr = sock.local();
    let t = token();
    let branch = format!("z9hG4bK{t}");
    let call_id = format!("{t}@127.0.0.1");
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        alloc_port()
    );
    let invite = format!(
        "INVITE sip:{number}@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:carrier@{from}>;tag={t}\r\n\
         To: <sip:{number}@{to}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:carrier@{from}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let (code, resp) = sock.request(to, &invite, Duration::from_secs(10))?;
    let to_hdr = header_value(&resp, "To").unwrap_or_default();
    let ack = format!(
        "ACK sip:{number}@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:carrier@{from}>;tag={t}\r\n\
         To: {to_hdr}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    );
    sock.send(to, ack.as_bytes());
    Some(code)
}
