//! The `switchboard qa ...` commands: check one call or WAV now (`run`),
//! print a call's stored results as `run` prints them (`result`), list the
//! job queue (`jobs`), run QA workers in a process of their own
//! (`worker`), and write scorecards and period reports (`report`).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};

use super::jobs::{self, PoolSettings};
use super::pipeline::{Pipeline, QaOutcome, holds_in_recording, recognizer};
use super::rules::LiveRules;
use super::score::{clock, render};
use crate::admin::open_store;
use crate::config::{Config, QaSettings, SwitchSettings};
use crate::store::{QaJobState, QaResultRow, Store};

fn rules_of(cfg: &Config) -> anyhow::Result<Arc<LiveRules>> {
    match &cfg.qa_rules {
        Some(rules) => Ok(Arc::new(LiveRules::new(Arc::new(rules.clone())))),
        None => bail!(
            "no QA rules: write {} in {} (see the demo's)",
            super::rules::RULES_FILE,
            cfg.dir.display()
        ),
    }
}

/// The rules the configuration has, for workers that reload them on
/// SIGHUP for as long as the process runs; `None` without rules.
pub fn live_rules(cfg: &Config) -> Option<Arc<LiveRules>> {
    let rules = Arc::new(LiveRules::new(Arc::new(cfg.qa_rules.clone()?)));
    crate::server::reload::spawn_qa_rules_reload(rules.clone(), cfg.dir.clone());
    Some(rules)
}

/// Starts the recognizer and the pipeline (on the blocking pool: loading a
/// model takes a while, and the HTTP backend must not run on the runtime).
async fn pipeline(cfg: &Config) -> anyhow::Result<Arc<Pipeline>> {
    pipeline_of(cfg.switch.qa.clone(), rules_of(cfg)?).await
}

async fn pipeline_of(settings: QaSettings, rules: Arc<LiveRules>) -> anyhow::Result<Arc<Pipeline>> {
    tokio::task::spawn_blocking(move || {
        let recognizer = recognizer(&settings)?;
        Ok::<_, anyhow::Error>(Arc::new(Pipeline::live(
            rules,
            recognizer,
            settings.transcribe,
        )))
    })
    .await?
}

/// `switchboard qa run TARGET`: checks a WAV file (stereo: caller left,
/// agent right; mono: the agent) or every recording of a call, and prints
/// the result (one JSON object per recording with `json`).
pub async fn run(cfg: &Config, target: &str, json: bool) -> anyhow::Result<String> {
    let pipeline = pipeline(cfg).await?;
    let mut checks = Vec::new();
    if Path::new(target).is_file() {
        checks.push((target.to_string(), Vec::new()));
    } else {
        let store = open_store(&cfg.switch).await?;
        let recordings = store.recordings_for_call(target).await?;
        if recordings.is_empty() {
            bail!("`{target}` is neither a WAV file nor a call with recordings");
        }
        for r in recordings {
            let holds = store
                .qa_call_context(&r.path)
                .await?
                .map(|c| holds_in_recording(&c))
                .unwrap_or_default();
            checks.push((r.path, holds));
        }
    }
    let mut out = String::new();
    for (path, holds) in checks {
        let p = pipeline.clone();
        let file = path.clone();
        let outcome = tokio::task::spawn_blocking(move || p.check_file(Path::new(&file), &holds))
            .await?
            .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        print_outcome(&mut out, path, &outcome, json)?;
    }
    Ok(out)
}

/// `switchboard qa result CALL-ID|RECORDING`: the stored results of a
/// call's recordings (or of one recording), printed as `qa run` prints
/// them; what was said is unsealed with the switch's key. An error when
/// there is no result (yet).
pub async fn result(switch: &SwitchSettings, target: &str, json: bool) -> anyhow::Result<String> {
    let store = open_store(switch).await?;
    let rows = stored_results(&store, target).await?;
    let mut out = String::new();
    for row in rows {
        let outcome: QaOutcome = serde_json::from_str(&row.detail)
            .with_context(|| format!("the stored QA result of {} is unreadable", row.recording))?;
        print_outcome(&mut out, row.recording, &outcome, json)?;
    }
    Ok(out)
}

/// The stored results of `target`: a recording (its path as stored, or a
/// file naming it) or else a call's Call-ID.
async fn stored_results(store: &Store, target: &str) -> anyhow::Result<Vec<QaResultRow>> {
    let mut recordings = vec![target.to_string()];
    if let Ok(absolute) = std::path::absolute(target) {
        recordings.push(absolute.display().to_string());
    }
    for recording in &recordings {
        if let Some(row) = store.qa_result(recording).await? {
            return Ok(vec![row]);
        }
    }
    let rows = store.qa_results_of_call(target).await?;
    if !rows.is_empty() {
        return Ok(rows);
    }
    if !store.recordings_for_call(target).await?.is_empty() {
        bail!("no QA result for call {target} yet; `switchboard qa jobs` shows its job");
    }
    for recording in &recordings {
        if store.qa_call_context(recording).await?.is_some() {
            bail!(
                "no QA result for recording {recording} yet; `switchboard qa jobs` shows its job"
            );
        }
    }
    bail!("`{target}` is neither a call with recordings nor a recording in the database")
}

/// One recording's outcome as `qa run` prints it: described in text, or
/// a line of JSON (the outcome and its `recording`).
fn print_outcome(
    out: &mut String,
    recording: String,
    outcome: &QaOutcome,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(outcome)?;
        value["recording"] = serde_json::Value::String(recording);
        writeln!(out, "{}", serde_json::to_string(&value)?)?;
    } else {
        out.push_str(&describe(&recording, outcome));
    }
    Ok(())
}

fn describe(path: &str, o: &QaOutcome) -> String {
    let s = &o.signals;
    let mut out = format!(
        "{path}: {:.1} s of audio checked in {:.1} s ({})\n",
        o.audio_seconds, o.took_seconds, o.backend
    );
    let _ = writeln!(
        out,
        "talk: caller {:.1} s, agent {:.1} s (agent {:.0}%); overtalk {:.1} s ({:.1}%), \
         interruptions by agent {} / caller {}; silence {:.1} s, longest {:.1} s at {}; hold {:.1} s",
        s.caller_talk,
        s.agent_talk,
        s.agent_talk_ratio * 100.0,
        s.overtalk,
        s.overtalk_percent,
        s.agent_interruptions,
        s.caller_interruptions,
        s.non_talk,
        s.longest_silence.len(),
        clock(s.longest_silence.start),
        s.hold
    );
    out.push_str(&render(&o.score));
    out.push('\n');
    out
}

/// `switchboard qa jobs`: the latest jobs, newest first.
pub async fn jobs(
    cfg: &Config,
    state: Option<&str>,
    limit: u32,
    json: bool,
) -> anyhow::Result<String> {
    let state = state
        .map(|s| {
            s.parse::<QaJobState>()
                .map_err(|_| anyhow::anyhow!("`{s}`: give pending, running, done or failed"))
        })
        .transpose()?;
    let store = open_store(&cfg.switch).await?;
    let jobs = store.qa_jobs(state, i64::from(limit)).await?;
    if json {
        let rows: Vec<_> = jobs
            .iter()
            .map(|j| {
                serde_json::json!({
                    "id": j.id, "recording": j.recording, "call_id": j.call_id,
                    "state": j.state.as_str(), "attempts": j.attempts, "next_at": j.next_at,
                    "error": j.error, "created_at": j.created_at, "updated_at": j.updated_at,
                })
            })
            .collect();
        return Ok(format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    let mut out = format!(
        "{:<6} {:<8} {:>8}  {:<40} reason\n",
        "job", "state", "attempts", "recording"
    );
    for j in &jobs {
        let _ = writeln!(
            out,
            "{:<6} {:<8} {:>8}  {:<40} {}",
            j.id,
            j.state.as_str(),
            j.attempts,
            j.recording,
            j.error.as_deref().unwrap_or("")
        );
    }
    if jobs.is_empty() {
        out.push_str("(no QA jobs)\n");
    }
    Ok(out)
}

/// Starts QA workers (`workers`, else `[qa] workers`) when there are
/// rules; `None` otherwise (or when the recognizer cannot start, which is
/// logged: calls go on without QA). The workers read `rules` at the start
/// of each job, so a reload reaches them.
pub async fn start_workers(
    settings: QaSettings,
    rules: Option<Arc<LiveRules>>,
    store: Store,
    workers: Option<usize>,
) -> Option<jobs::Pool> {
    let workers = workers.unwrap_or(settings.workers);
    if workers == 0 {
        tracing::info!("QA workers off in this process ([qa] workers = 0)");
        return None;
    }
    let Some(rules) = rules else {
        tracing::info!(
            "QA is off: no {} in the configuration folder",
            super::rules::RULES_FILE
        );
        return None;
    };
    let pipeline = match pipeline_of(settings.clone(), rules).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("QA is off: {e:#}");
            return None;
        }
    };
    let runtime = tokio::runtime::Handle::current();
    let pool_settings = PoolSettings {
        workers,
        max_attempts: settings.max_attempts,
        retry_base: settings.retry_base,
        ..PoolSettings::default()
    };
    let started =
        tokio::task::spawn_blocking(move || jobs::start(store, runtime, pipeline, pool_settings))
            .await;
    match started {
        Ok(Ok(pool)) => {
            tracing::info!(workers, "QA workers started");
            Some(pool)
        }
        Ok(Err(e)) => {
            tracing::warn!("QA workers did not start: {e:#}");
            None
        }
        Err(e) => {
            tracing::warn!("QA workers did not start: {e}");
            None
        }
    }
}

/// `switchboard qa worker`: QA workers in a process of their own, until
/// SIGINT or SIGTERM; SIGHUP reads `qa/rules.toml` again.
pub async fn worker(cfg: &Config, workers: Option<usize>) -> anyhow::Result<String> {
    let store = open_store(&cfg.switch)
        .await
        .context("opening the database")?;
    let workers = Some(workers.unwrap_or(cfg.switch.qa.workers.max(1)));
    let rules = live_rules(cfg);
    let Some(pool) = start_workers(cfg.switch.qa.clone(), rules, store, workers).await else {
        bail!("no QA workers could start (see the log above)");
    };
    crate::server::shutdown_signal().await;
    tokio::task::spawn_blocking(move || pool.stop()).await?;
    Ok("QA workers stopped\n".into())
}

/// `switchboard qa report`: agent scorecards and the period's figures from
/// the stored results of calls that began between `from` and `to` (UTC
/// dates, `to` inclusive; default the last 7 days), in `format`.
pub async fn report(
    cfg: &Config,
    from: Option<&str>,
    to: Option<&str>,
    agent: Option<&str>,
    format: super::report::Format,
) -> anyhow::Result<String> {
    let period = super::report::Period::parse(from, to, super::report::today())
        .map_err(|e| anyhow::anyhow!(e))?;
    let store = open_store(&cfg.switch).await?;
    let rows = store
        .qa_results(period.from_ms(), period.to_ms(), agent)
        .await
        .context("reading QA results")?;
    let report = super::report::build(&rows, &period, agent, cfg.qa_rules.as_ref());
    Ok(super::report::render(&report, format)?)
}
