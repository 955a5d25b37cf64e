//! A scripted call through the switch: an agent softphone registered on
//! the agents' profile (auto-answer) plays one WAV, a caller softphone
//! dials the agent's extension through the carrier trunk and plays the
//! other, both wideband (G.722); the agent hangs up at the end of its WAV,
//! and the agent may put the caller on hold for a while. The QA tests and
//! the QA benchmark make their recorded calls this way.

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Baresip, Sound, Switch};

/// What the two phones play.
pub struct CallAudio<'a> {
    /// 16 kHz mono; its end is when the agent hangs up.
    pub agent_wav: &'a std::path::Path,
    /// 16 kHz mono, longer than the agent's.
    pub caller_wav: &'a std::path::Path,
    /// The agent's WAV's length (seconds).
    pub length: f64,
    /// The agent holds the caller `(from, seconds)` after the answer.
    pub hold: Option<(f64, f64)>,
}

/// A call that ended.
pub struct EndedCall {
    pub call_id: String,
    /// As `switchboard calls --json` lists it.
    pub cdr: Value,
}

/// Places a call to agent `ext`, whose phone listens on `agent_port` (the
/// same port for all of an agent's calls: a binding left behind is
/// replaced, never rung). `seen` holds the call ids of calls placed
/// before, so this call is told apart from an agent's earlier one.
pub fn place_call(
    sw: &Switch,
    ext: &str,
    agent_port: u16,
    audio: &CallAudio,
    seen: &Mutex<Vec<String>>,
) -> Result<EndedCall, String> {
    let limit = audio.length + 40.0;
    let run = limit as u32 + 5;
    let mut agent = Baresip::agent_with(
        ext,
        &format!("pw{ext}"),
        sw.agents_port,
        run,
        Sound::Wideband(audio.agent_wav.to_path_buf()),
        Some(agent_port),
    );
    if !agent.wait_for_any(&["} 200 OK", "binding]"], Duration::from_secs(15)) {
        return Err(format!(
            "agent {ext}'s baresip did not register within 15 s:\n{}",
            agent.output()
        ));
    }
    let mut caller = Baresip::caller_with(
        "caller",
        run,
        Sound::Wideband(audio.caller_wav.to_path_buf()),
    );
    if !caller.wait_for_any(&["baresip is ready"], Duration::from_secs(15)) {
        return Err(format!(
            "the caller's baresip did not start within 15 s:\n{}",
            caller.output()
        ));
    }
    let dialled = caller.command_with("dial", &format!("sip:{ext}@127.0.0.1:{}", sw.carrier_port));
    let started = Instant::now();
    let mut call_id = None;
    let mut answered: Option<Instant> = None;
    let mut held = false;
    let mut resumed = false;
    let mut ended = None;
    while started.elapsed() < Duration::from_secs_f64(limit) {
        let calls = sw.calls();
        let mine = calls.iter().find(|c| {
            c["callee"] == ext
                && c["call_id"]
                    .as_str()
                    .is_some_and(|id| !seen.lock().unwrap().iter().any(|s| s == id))
        });
        if let Some(c) = mine {
            call_id = c["call_id"].as_str().map(str::to_string);
            if !c["ended_at"].is_null() {
                ended = Some(c.clone());
                break;
            }
            if !c["answered_at"].is_null() {
                let since = answered.get_or_insert_with(Instant::now).elapsed();
                if let Some((from, secs)) = audio.hold {
                    let t = since.as_secs_f64();
                    if !held && t >= from {
                        held = true;
                        agent.command("hold");
                    }
                    if held && !resumed && t >= from + secs {
                        resumed = true;
                        agent.command("resume");
                    }
                }
            }
        }
        // Finer steps while a hold or resume is due.
        let step = if audio.hold.is_some() && !resumed {
            250
        } else {
            500
        };
        thread::sleep(Duration::from_millis(step));
    }
    let out = || {
        format!(
            "--- agent {ext} ---\n{}\n--- caller (dial: {dialled}) ---\n{}",
            agent.output(),
            caller.output()
        )
    };
    let Some(call_id) = call_id else {
        return Err(format!("no call to {ext} appeared in `calls`\n{}", out()));
    };
    seen.lock().unwrap().push(call_id.clone());
    let Some(cdr) = ended else {
        return Err(format!(
            "call {call_id} to {ext} did not end within {limit:.0} s\n{}",
            out()
        ));
    };
    if audio.hold.is_some() && !resumed {
        return Err(format!(
            "call {call_id} ended before the agent resumed it\n{}",
            out()
        ));
    }
    caller.stop(Duration::from_secs(2));
    agent.stop(Duration::from_secs(3));
    Ok(EndedCall { call_id, cdr })
}
