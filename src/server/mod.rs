//! The running switch: opens the database, starts every profile's
//! listeners and tasks, and shuts down cleanly on SIGINT/SIGTERM.

use crate::config::{Config, ProfileKind};
use crate::store::Store;

/// Runs the switch until SIGINT or SIGTERM.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    warn_demo_credentials(&cfg);
    let store = Store::open(&cfg.switch.database).await?;
    tracing::info!(database = %cfg.switch.database.display(), "database ready");
    let _ = store;
    shutdown_signal().await;
    tracing::info!("shutting down");
    Ok(())
}

/// Demo passwords (`pw1001`...) are public: say so loudly when a profile
/// that has them listens on anything but loopback.
fn warn_demo_credentials(cfg: &Config) {
    for p in &cfg.profiles {
        let ProfileKind::Internal(settings) = &p.kind else {
            continue;
        };
        let exposed: Vec<_> = p
            .listen
            .iter()
            .filter(|l| !l.addr.ip().is_loopback())
            .collect();
        let demo: Vec<_> = settings
            .users
            .iter()
            .filter(|u| u.has_demo_password())
            .map(|u| u.extension.as_str())
            .collect();
        if !exposed.is_empty() && !demo.is_empty() {
            tracing::warn!(
                profile = %p.name,
                users = %demo.join(","),
                "DEMO CREDENTIALS ON A NON-LOOPBACK ADDRESS: anyone can register as these agents; change their passwords"
            );
        }
    }
}

async fn shutdown_signal() {
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
