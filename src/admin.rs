//! Admin commands that read the running switch's state from its database
//! (`switchboard status`). The HTTP API comes later; these work today and
//! need nothing but the configuration folder.

use std::fmt::Write as _;

use crate::config::Config;
use crate::sip::auth::unix_now;
use crate::store::{PiiKey, Store};

/// The database, opened with the key the switch seals personal data with.
async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    let key = PiiKey::load(&cfg.switch.pii_key_file, false)?;
    Store::open(&cfg.switch.database, key).await
}

/// The status report: registrations per profile and every trunk target.
pub async fn status(cfg: &Config) -> anyhow::Result<String> {
    let store = open_store(cfg).await?;
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

/// The latest `limit` calls (newest first) with their legs, recordings and
/// journal: a table for people, or JSON (`--json`) for scripts.
pub async fn calls(cfg: &Config, limit: u32, json: bool) -> anyhow::Result<String> {
    let store = open_store(cfg).await?;
    let cdrs = store.recent_calls(limit).await?;
    let mut out = String::new();
    let mut list = Vec::new();
    for c in cdrs {
        let events = store.call_events(&c.call_id).await?;
        let recordings = store.recordings_for_call(&c.call_id).await?;
        if json {
            list.push(call_json(&c, &events, &recordings));
            continue;
        }
        writeln!(
            out,
            "{}  {} -> {}  {}  {}{}",
            c.call_id,
            c.caller,
            c.callee,
            c.disposition.map_or("in progress", |d| d.as_str()),
            c.hangup_by.map(|h| format!("by {h}: ")).unwrap_or_default(),
            c.cause.clone().unwrap_or_default()
        )?;
        for (name, leg) in ["caller", "agent"].iter().zip(&c.legs) {
            if let Some(q) = leg {
                writeln!(
                    out,
                    "    {name:<6} {:<10} {} packets, {:.1}% lost, jitter {:.1} ms",
                    q.codec, q.packets_received, q.loss_pct, q.jitter_ms
                )?;
            }
        }
        for r in &recordings {
            writeln!(out, "    recording {} ({})", r.path, r.state)?;
        }
        for e in &events {
            writeln!(out, "    event {} {}", e.kind, e.detail)?;
        }
    }
    if json {
        out = serde_json::to_string_pretty(&list)?;
        out.push('\n');
    }
    Ok(out)
}

fn call_json(
    c: &crate::store::Cdr,
    events: &[crate::store::CallEvent],
    recordings: &[crate::store::RecordingRow],
) -> serde_json::Value {
    use serde_json::json;
    let leg = |l: &Option<crate::store::LegQuality>| {
        l.as_ref().map(|q| {
            json!({
                "codec": q.codec,
                "packets_received": q.packets_received,
                "packets_lost": q.packets_lost,
                "loss_pct": q.loss_pct,
                "jitter_ms": q.jitter_ms,
                "rtt_ms": q.rtt_ms,
            })
        })
    };
    json!({
        "call_id": c.call_id,
        "profile": c.profile,
        "caller": c.caller,
        "callee": c.callee,
        "started_at": c.started_at,
        "answered_at": c.answered_at,
        "ended_at": c.ended_at,
        "agent": c.agent.as_ref().map(|a| a.agent.clone()),
        "agent_call_id": c.agent.as_ref().map(|a| a.call_id.clone()),
        "disposition": c.disposition.map(|d| d.as_str()),
        "hangup_by": c.hangup_by.map(|h| h.as_str()),
        "cause": c.cause,
        "sip_status": c.sip_status,
        "legs": { "caller": leg(&c.legs[0]), "agent": leg(&c.legs[1]) },
        "recordings": recordings.iter().map(|r| json!({
            "path": r.path,
            "channels": r.channels,
            "sample_rate": r.sample_rate,
            "duration_ms": r.duration_ms,
            "consent": r.consent,
            "state": r.state.as_str(),
        })).collect::<Vec<_>>(),
        "events": events.iter().map(|e| json!({
            "at": e.at,
            "kind": e.kind.as_str(),
            "detail": e.detail,
        })).collect::<Vec<_>>(),
    })
}
