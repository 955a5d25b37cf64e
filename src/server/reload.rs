//! Reloading a running switch: `switchboard reload` (or `kill -HUP`)
//! re-reads `ivr-flows/`, the calendars an admin forced (`switchboard
//! calendar`, kept in the database) and `qa/rules.toml`. The switch writes
//! its process id beside its database (`switchboard.pid`) so the command
//! can find it; on SIGHUP the
//! flows are loaded again and swapped in whole only when they have no
//! problem (new calls use them; calls in progress keep the version they
//! started with); otherwise every problem is logged and the old version
//! keeps serving. The QA rules likewise: QA jobs started after the reload
//! use the new rules, a job in progress keeps its own, and a rules file
//! with a problem leaves the old rules in force (a `switchboard qa worker`
//! process reloads them on its own SIGHUP).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::ConfigProblem;
use crate::flow::Flows;
use crate::qa::rules::LiveRules;
use crate::store::Store;

/// Where the running switch writes its process id: beside the database.
pub fn pid_file(database: &Path) -> PathBuf {
    database.with_file_name("switchboard.pid")
}

/// Writes this process's id; removed again by [`PidFile`]'s drop.
pub struct PidFile(PathBuf);

impl PidFile {
    pub fn write(path: PathBuf) -> std::io::Result<Self> {
        std::fs::write(&path, format!("{}\n", std::process::id()))?;
        Ok(Self(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reloads the flows and the forced calendars on every SIGHUP, for as
/// long as the switch runs; new flows' text prompts are spoken ahead.
pub fn spawn_on_hangup(
    flows: Arc<Flows>,
    prompts_dir: PathBuf,
    store: Store,
    acd: Option<crate::acd::service::Acd>,
) {
    on_hangup("flows", move || {
        let (flows, store, acd) = (flows.clone(), store.clone(), acd.clone());
        let prompts_dir = prompts_dir.clone();
        async move {
            if reload(&flows) {
                super::speak_ahead::spawn(flows.clone(), prompts_dir);
            }
            apply_overrides(&flows, &store).await;
            if let Some(acd) = &acd {
                apply_agent_requests(acd, &store).await;
            }
        }
    });
}

/// Reads `qa/rules.toml` of the configuration folder `dir` again on every
/// SIGHUP, for as long as the process runs.
pub fn spawn_qa_rules_reload(rules: Arc<LiveRules>, dir: PathBuf) {
    on_hangup("QA rules", move || {
        reload_qa_rules(&rules, &dir);
        std::future::ready(())
    });
}

/// Runs `each` on every SIGHUP (every task listening is told of each).
fn on_hangup<F, Fut>(what: &'static str, mut each: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("SIGHUP cannot be caught: {what} reload only on restart");
            return;
        };
        while hup.recv().await.is_some() {
            each().await;
        }
    });
    #[cfg(not(unix))]
    let _ = (what, each);
}

/// Applies the agent state changes admins asked for (`switchboard agent`).
pub async fn apply_agent_requests(acd: &crate::acd::service::Acd, store: &Store) {
    use crate::acd::service::AgentRequest;
    let requests = match store.take_agent_requests().await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("agent requests not read: {e}");
            return;
        }
    };
    for (agent, request, reason) in requests {
        let request = match request.as_str() {
            "ready" => AgentRequest::Ready,
            "not_ready" => AgentRequest::NotReady { reason },
            "log_out" => AgentRequest::LogOut,
            other => {
                tracing::warn!(agent, "unknown agent request `{other}`");
                continue;
            }
        };
        match acd.agent(&agent, request).await {
            Ok(state) => tracing::info!(agent, state, "admin changed the agent's state"),
            Err(why) => tracing::warn!(agent, "admin's agent request refused: {why}"),
        }
    }
}

/// Applies the calendars forced in the database; the others follow their
/// hours again.
pub async fn apply_overrides(flows: &Flows, store: &Store) {
    let overrides = match store.calendar_overrides().await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("forced calendars not read: {e}");
            return;
        }
    };
    let current = flows.current();
    for name in current.calendars().forced().keys() {
        if !overrides.iter().any(|(n, _)| n == name) {
            flows.force_calendar(name, None);
        }
    }
    for (name, open) in overrides {
        if flows.force_calendar(&name, Some(open)) {
            tracing::info!(calendar = %name, open, "calendar forced by an admin");
        } else {
            tracing::warn!(calendar = %name, "a forced calendar no longer exists");
        }
    }
}

/// Loads the flows again; logs what happened. Whether the new flows are
/// in force.
pub fn reload(flows: &Flows) -> bool {
    let loaded = flows
        .reload()
        .map(|()| format!("{} flow(s); new calls use them", flows.current().len()));
    let ok = loaded.is_ok();
    log_reload("flows", loaded);
    ok
}

/// Reads the QA rules again; logs what happened.
pub fn reload_qa_rules(rules: &LiveRules, dir: &Path) {
    let loaded = rules.reload(dir).map(|rules| {
        format!(
            "{} item(s); QA jobs started from now on use them",
            rules.items().count()
        )
    });
    log_reload("QA rules", loaded);
}

/// Logs a reload: what is in force now, or every problem (file, line,
/// field) and that the previous version keeps serving.
fn log_reload(what: &str, loaded: Result<String, Vec<ConfigProblem>>) {
    match loaded {
        Ok(done) => tracing::info!("{what} reloaded: {done}"),
        Err(problems) => {
            for p in &problems {
                tracing::error!("{what} reload refused: {p}");
            }
            tracing::error!(
                problems = problems.len(),
                "{what} not reloaded: the previous version keeps serving"
            );
        }
    }
}

/// Asks the switch whose pid file is `pid_file` to reload (SIGHUP).
pub fn signal_reload(pid_file: &Path) -> anyhow::Result<u32> {
    let text = std::fs::read_to_string(pid_file).map_err(|e| {
        anyhow::anyhow!(
            "no running switch found ({}: {e}); is `switchboard serve` running with this configuration?",
            pid_file.display()
        )
    })?;
    let pid: u32 = text
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{} does not hold a process id", pid_file.display()))?;
    #[cfg(unix)]
    {
        let pid_t = libc::pid_t::try_from(pid)?;
        // SAFETY: kill(2) with a pid read from our pid file and SIGHUP.
        let rc = unsafe { libc::kill(pid_t, libc::SIGHUP) };
        if rc != 0 {
            anyhow::bail!(
                "switch {pid} (from {}) cannot be signalled: {}",
                pid_file.display(),
                std::io::Error::last_os_error()
            );
        }
        Ok(pid)
    }
    #[cfg(not(unix))]
    anyhow::bail!("reloading needs a Unix system (pid {pid})")
}
