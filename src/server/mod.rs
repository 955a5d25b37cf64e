//! The running switch: opens the database, starts every profile's
//! listeners, the SIP core task and the registrars, and shuts down cleanly
//! on SIGINT/SIGTERM.

mod core;
pub mod ingress;
mod recovery;
pub mod reload;
pub mod respond;
pub mod routing;
pub mod runtime;
pub mod speak_ahead;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::call::{CallContext, MediaContext, MusicOnHold, Prompts, Recordings};
use crate::config::{Config, Profile, ProfileKind, SecuritySettings, Transport, parse_listen};
use crate::media::player::PromptCache;
use crate::media::ports::PortPool;
use crate::media::relay::RelayOptions;
use crate::registrar::{Persister, Registrar};
use crate::sip::endpoint::Endpoint;
use crate::sip::security::{Guard, SecurityConfig};
use crate::sip::transaction::{self, TransactionLayer};
use crate::sip::transport::{Flow, Limits, ProfileId, Transports};
use crate::store::pii::KeySource;
use crate::store::{CdrWriter, PiiKey, Store};
use runtime::ProfileRuntime;

/// Memory for prompts converted to the legs' codecs.
const PROMPT_CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Music on hold converted for each leg format (48 kHz linear is the largest).
const MUSIC_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Messages waiting for the core before ingress sheds load with 503.
const CORE_QUEUE: usize = 16_384;

/// Runs the switch until SIGINT or SIGTERM.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    warn_demo_credentials(&cfg);
    raise_open_files_limit();
    let key = PiiKey::load(&cfg.switch.pii_key_file, true)
        .context("loading the key for personal data")?;
    match key.source() {
        KeySource::Created(path) => tracing::warn!(
            key_file = %path.display(),
            "created a new key for personal data: keep it (and a backup) safe, without it stored caller numbers cannot be read"
        ),
        KeySource::File(path) => {
            tracing::info!(key_file = %path.display(), "personal data key loaded")
        }
        KeySource::Env => tracing::info!("personal data key taken from SWITCHBOARD_PII_KEY"),
        KeySource::Ephemeral => {}
    }
    let store = Store::open(&cfg.switch.database, key)
        .await
        .with_context(|| format!("opening the database {}", cfg.switch.database.display()))?;
    tracing::info!(database = %cfg.switch.database.display(), "database ready");
    if let Err(e) = recovery::recover(&store, &cfg.switch.recordings).await {
        tracing::error!("recovery after the last stop failed: {e:#}");
    }

    let transports = Transports::new(Limits::default());
    let (core_tx, core_rx) = mpsc::channel(CORE_QUEUE);
    let endpoint = Endpoint {
        core: core_tx.clone(),
        transports: transports.clone(),
    };

    let mut profiles = Vec::new();
    for (i, p) in cfg.profiles.iter().enumerate() {
        let id = ProfileId::try_from(i).context("too many profiles")?;
        let guard = Guard::new(security_config(&p.security))
            .map_err(|e| anyhow::anyhow!("profile {}: security settings: {e}", p.name))?;
        profiles.push(ProfileRuntime {
            id,
            profile: p.clone(),
            guard: Arc::new(guard),
        });
    }

    let (persister, persist_task) = Persister::start(store.clone());
    let now = crate::sip::auth::unix_now();
    let mut registrars = HashMap::new();
    for p in &profiles {
        if let ProfileKind::Internal(settings) = &p.profile.kind {
            let mut r = Registrar::new(
                p.id,
                &p.profile.name,
                settings.clone(),
                persister.clone(),
                p.guard.clone(),
            );
            let saved = store
                .live_bindings(&p.profile.name, i64::try_from(now).unwrap_or(i64::MAX))
                .await?;
            let restored = saved.len();
            r.restore(saved, |source| stored_flow(&p.profile, p.id, source));
            tracing::info!(profile = %p.profile.name, restored, "registrar ready");
            registrars.insert(p.id, r);
        }
    }

    for p in &profiles {
        let ingress = Arc::new(ingress::ProfileIngress {
            profile: p.id,
            name: p.profile.name.clone(),
            access: p.profile.access.clone(),
            guard: p.guard.clone(),
            sip_trace: p.profile.sip_trace,
            registrar: matches!(p.profile.kind, ProfileKind::Internal(_)),
            core: core_tx.clone(),
            transports: transports.clone(),
        });
        transports
            .bind(p.id, &p.profile.listen, ingress)
            .await
            .with_context(|| {
                format!(
                    "profile {}: cannot listen on {:?}",
                    p.profile.name,
                    p.profile
                        .listen
                        .iter()
                        .map(|l| l.to_string())
                        .collect::<Vec<_>>()
                )
            })?;
        let listen: Vec<String> = p.profile.listen.iter().map(|l| l.to_string()).collect();
        tracing::info!(profile = %p.profile.name, listen = %listen.join(" "), "profile listening");
    }

    let tx_config = transaction::Config {
        max_transactions: cfg.switch.max_transactions,
        trying_delay: None,
        ..transaction::Config::default()
    };
    let profiles = Arc::new(profiles);
    let (cdr, cdr_task) = CdrWriter::start(store.clone());
    let mut cc = cfg.contact_center.clone();
    match store.stored_agents().await {
        Ok(stored) => cc.add_stored_agents(&stored),
        Err(e) => tracing::error!("agents of the database not read: {e}"),
    }
    let acd = if cc.agents.is_empty() && cc.queues.is_empty() {
        None
    } else {
        Some(crate::acd::service::start(&cc, Some(store.clone()), Some(cdr.clone())).await)
    };
    let calls = Arc::new(CallContext {
        media: Arc::new(media_context(&cfg)),
        cdr: Some(cdr),
        recordings: Some(Recordings {
            root: cfg.switch.recordings.clone(),
            store: Some(store.clone()),
        }),
        session_timer: cfg.switch.session_timer,
        prompts: Prompts {
            dir: cfg.switch.prompts.clone(),
            cache: PromptCache::new(PROMPT_CACHE_BYTES),
        },
        flows: cfg.flows.clone(),
        crm: crate::crm::client(),
        acd: acd.clone(),
        callbacks_due: Arc::new(tokio::sync::Notify::new()),
    });
    if let Some(acd) = &acd {
        crate::call::dialer::start(crate::call::dialer::DialerSetup {
            ctx: calls.clone(),
            ep: endpoint.clone(),
            acd: acd.clone(),
            store: store.clone(),
            flows: cfg.flows.clone(),
            queues: cc.queues.clone(),
        });
    }
    let acd_handle = acd;
    let core = core::Core::new(
        TransactionLayer::new(tx_config),
        endpoint.clone(),
        profiles.clone(),
        registrars,
        calls,
    );
    drop(core_tx);
    let core_task = tokio::spawn(core.run(core_rx));
    for p in profiles.iter() {
        crate::trunk::start(&endpoint, &store, p.id, &p.profile);
    }
    reload::apply_overrides(&cfg.flows, &store).await;
    if let Some(acd) = &acd_handle {
        reload::apply_agent_requests(acd, &store).await;
    }
    speak_ahead::spawn(cfg.flows.clone(), cfg.switch.prompts.clone());
    reload::spawn_on_hangup(
        cfg.flows.clone(),
        cfg.switch.prompts.clone(),
        store.clone(),
        acd_handle,
    );
    let pid_file = reload::pid_file(&cfg.switch.database);
    let _pid_file = match reload::PidFile::write(pid_file.clone()) {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!(file = %pid_file.display(), "no pid file (switchboard reload will not find this switch): {e}");
            None
        }
    };
    // Loading the recognizer's model takes a while: not before "ready".
    let qa_pool = tokio::spawn(crate::qa::cli::start_workers(
        cfg.switch.qa.clone(),
        crate::qa::cli::live_rules(&cfg),
        store.clone(),
        None,
    ));
    tracing::info!("switchboard ready");

    drop(persister);
    shutdown_signal().await;
    tracing::info!("shutting down");
    if qa_pool.is_finished() {
        if let Ok(Some(pool)) = qa_pool.await {
            // Not waited for: a job in hand is put back at the next start.
            pool.stop_flag()
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
    } else {
        qa_pool.abort();
    }
    // Stopping the core drops the registrars; the writer then flushes the
    // registrations still queued and ends.
    core_task.abort();
    let _ = core_task.await;
    // Calls still running hold the CDR writer; what is queued is written.
    if tokio::time::timeout(Duration::from_secs(5), cdr_task)
        .await
        .is_err()
    {
        tracing::warn!("call records still queued after 5 s were not written");
    }
    if tokio::time::timeout(Duration::from_secs(5), persist_task)
        .await
        .is_err()
    {
        tracing::warn!("registrations still queued after 5 s were not written");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Every call holds four media sockets and a recording file: lift the
/// soft limit on open files to the hard one (often 1024 -> 1048576).
fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    let raised = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && {
            let before = lim.rlim_cur;
            lim.rlim_cur = lim.rlim_max;
            before == lim.rlim_max || libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0
        }
    };
    if raised {
        tracing::debug!(open_files = lim.rlim_cur, "open files limit");
    } else {
        tracing::warn!("could not raise the open files limit; large call volumes may fail");
    }
}

/// The media resources calls share, from `[media]` of `switchboard.toml`
/// and of each profile.
fn media_context(cfg: &Config) -> MediaContext {
    let m = &cfg.switch.media;
    MediaContext {
        ports: PortPool::new(m.rtp_ip, m.rtp_ports.clone()),
        codecs: MediaContext::default_codecs(),
        profile_codecs: cfg
            .profiles
            .iter()
            .map(|p| (p.name.clone(), p.media.codecs.clone()))
            .collect(),
        relay: RelayOptions {
            media_timeout: Some(Duration::from_secs(m.media_timeout_seconds)),
            ..RelayOptions::default()
        },
        music_on_hold: m.music_on_hold.as_ref().map(|path| MusicOnHold {
            path: path.clone(),
            cache: PromptCache::new(MUSIC_CACHE_BYTES),
        }),
    }
}

/// The guard settings of a profile's `[security]` table.
fn security_config(s: &SecuritySettings) -> SecurityConfig {
    SecurityConfig {
        rate_per_sec: f64::from(s.rate_limit),
        burst: f64::from(s.burst),
        exempt_networks: Vec::new(),
        blocked_user_agents: s.user_agent_blocklist.clone(),
        auth_max_failures: s.ban_after_failures,
        ban_secs: s.ban_seconds,
        ..SecurityConfig::default()
    }
}

/// Turns a stored registration source (`udp:127.0.0.1:5062`) back into a
/// flow from this profile's socket.
fn stored_flow(profile: &Profile, id: ProfileId, source: &str) -> Option<Flow> {
    let remote = parse_listen(source).ok()?;
    let local = profile
        .listen
        .iter()
        .find(|l| l.transport == remote.transport)
        .or_else(|| {
            profile
                .listen
                .iter()
                .find(|l| l.transport == Transport::Udp)
        })?;
    Some(Flow {
        profile: id,
        transport: remote.transport,
        local: local.addr,
        remote: remote.addr,
        conn: None,
    })
}

/// Demo passwords (`pw1001`...) are public: say so loudly when a profile
/// that has them listens on anything but loopback.
fn warn_demo_credentials(cfg: &Config) {
    for (profile, users) in cfg.exposed_demo_credentials() {
        tracing::warn!(
            profile = %profile,
            users = %users.join(","),
            "DEMO CREDENTIALS ON A NON-LOOPBACK ADDRESS: anyone can register as these agents; change their passwords"
        );
    }
}

pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
