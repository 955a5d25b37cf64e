//! Admin commands that read the running switch's state from its database
//! (`switchboard status`). The HTTP API comes later; these work today and
//! need nothing but the configuration folder.

use std::fmt::Write as _;

use crate::config::Config;
use crate::sip::auth::unix_now;
use crate::store::Store;

/// The status report: registrations per profile and every trunk target.
pub async fn status(cfg: &Config) -> anyhow::Result<String> {
    let store = Store::open(&cfg.switch.database).await?;
    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
    let mut out = String::new();
    let counts = store.registration_counts(now).await?;
    writeln!(out, "registrations:")?;
    for p in &cfg.profiles {
        if matches!(p.kind, crate::config::ProfileKind::Internal(_)) {
            let n = counts
                .iter()
                .find(|(name, _)| name == &p.name)
                .map_or(0, |(_, n)| *n);
            writeln!(out, "  {:<12} {n} live contact(s)", p.name)?;
        }
    }
    let trunks = store.trunk_statuses().await?;
    writeln!(out, "trunks:")?;
    if trunks.is_empty() {
        writeln!(
            out,
            "  (no qualify peers or outbound registrations configured or reported yet)"
        )?;
    }
    for t in trunks {
        writeln!(
            out,
            "  {:<12} {:<13} {:<32} {:<11} {} ({} s ago)",
            t.profile,
            t.kind,
            t.target,
            t.state,
            t.detail,
            (now - t.updated_at).max(0)
        )?;
    }
    Ok(out)
}
