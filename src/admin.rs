//! Admin commands that read the running switch's state from its database
//! (`switchboard status`). The HTTP API comes later; these work today and
//! need nothing but the configuration folder. The read commands (`status`,
//! `calls`, `customers import`) load only the settings and profiles, so a
//! flow file being edited does not lock the admin out of the database.

use std::fmt::Write as _;

use crate::config::{Config, Settings, SwitchSettings};
use crate::sip::auth::unix_now;
use crate::store::{PiiKey, Store};

/// The database, opened with the key the switch seals personal data with.
pub(crate) async fn open_store(switch: &SwitchSettings) -> anyhow::Result<Store> {
    let key = PiiKey::load(&switch.pii_key_file, false)?;
    Store::open(&switch.database, key).await
}

/// The database for an import, which may come before the switch's first
/// start: the personal-data key is created when missing.
async fn open_store_for_import(switch: &SwitchSettings) -> anyhow::Result<Store> {
    Store::open(&switch.database, PiiKey::load(&switch.pii_key_file, true)?).await
}

/// The status report: registrations per profile and every trunk target.
pub async fn status(cfg: &Settings) -> anyhow::Result<String> {
    let store = open_store(&cfg.switch).await?;
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
pub async fn calls(switch: &SwitchSettings, limit: u32, json: bool) -> anyhow::Result<String> {
    let store = open_store(switch).await?;
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
        "disclosure_at": c.disclosure_at,
        "recording_opt_out": c.recording_opt_out,
        "csat": c.csat,
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

/// The customers file `switchboard customers import` reads.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomersFile {
    customer: Vec<toml::Spanned<crate::store::Customer>>,
}

/// Whether `n` is an E.164 number: `+`, then 7 to 15 digits.
fn is_e164(n: &str) -> bool {
    n.strip_prefix('+')
        .is_some_and(|d| (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Imports (inserts or updates, by number) the customers of a TOML file of
/// `[[customer]]` tables. Every entry is checked first: one problem line
/// (`file:line: field: ...`) per bad entry, and nothing is imported then.
pub async fn import_customers(
    switch: &SwitchSettings,
    file: &std::path::Path,
) -> anyhow::Result<String> {
    use crate::config::ProblemSink;
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let mut sink = ProblemSink::new(file, &text);
    let parsed: Option<CustomersFile> = match toml::from_str(&text) {
        Ok(f) => Some(f),
        Err(e) => {
            sink.toml_error(&e);
            None
        }
    };
    let mut customers = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, c) in parsed.into_iter().flat_map(|f| f.customer).enumerate() {
        let span = c.span();
        let c = c.into_inner();
        let field = |name: &str| format!("customer[{i}].{name}");
        if !is_e164(&c.number) {
            sink.at_span(
                span.clone(),
                &field("number"),
                format!(
                    "`{}` is not an E.164 number; write e.g. \"+15550777\"",
                    c.number
                ),
            );
        } else if !seen.insert(c.number.clone()) {
            sink.at_span(
                span.clone(),
                &field("number"),
                format!("`{}` is listed twice", c.number),
            );
        }
        if c.name.trim().is_empty() {
            sink.at_span(span.clone(), &field("name"), "must not be empty".into());
        }
        if c.tier.trim().is_empty() {
            sink.at_span(
                span.clone(),
                &field("tier"),
                "must not be empty (e.g. \"VIP\", \"standard\")".into(),
            );
        }
        customers.push(c);
    }
    if !sink.problems.is_empty() {
        let lines: Vec<String> = sink.problems.iter().map(ToString::to_string).collect();
        anyhow::bail!("nothing imported:\n{}", lines.join("\n"));
    }
    let store = open_store_for_import(switch).await?;
    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
    for c in &customers {
        store.upsert_customer(c, now).await?;
    }
    Ok(format!(
        "imported {} customer(s) from {}; {} in the database\n",
        customers.len(),
        file.display(),
        store.customer_count().await?
    ))
}

/// `switchboard reload`: the flows and the QA rules were just checked
/// (loading the configuration does it); asks the running switch to load
/// them (SIGHUP).
pub fn reload(cfg: &Config) -> anyhow::Result<String> {
    let pid = crate::server::reload::signal_reload(&crate::server::reload::pid_file(
        &cfg.switch.database,
    ))?;
    let qa = cfg.qa_rules.as_ref().map_or(String::new(), |rules| {
        format!(
            ", QA rules checked ({} item(s)): QA jobs started from now on use them",
            rules.items().count()
        )
    });
    Ok(format!(
        "flows checked ({} flow(s)); switch {pid} asked to reload them: new calls use them, calls in progress keep theirs{qa} (its log says when it is done)\n",
        cfg.flows.current().len()
    ))
}

/// `switchboard calendar NAME open|closed|auto`: forces a calendar (an
/// emergency closure) or sets it back to its hours, in the database, and
/// has the running switch apply it at once (SIGHUP) when one runs.
pub async fn force_calendar(cfg: &Config, name: &str, state: &str) -> anyhow::Result<String> {
    let set = cfg.flows.current();
    if set.calendars().get(name).is_none() {
        let names: Vec<&str> = set.calendars().names().collect();
        anyhow::bail!("no calendar `{name}`; calendars are: {}", names.join(", "));
    }
    let open = match state {
        "open" => Some(true),
        "closed" => Some(false),
        "auto" => None,
        other => anyhow::bail!("`{other}`: say open, closed or auto"),
    };
    let store = open_store(&cfg.switch).await?;
    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX) * 1000;
    store.set_calendar_override(name, open, now).await?;
    let pid_file = crate::server::reload::pid_file(&cfg.switch.database);
    let applied = match crate::server::reload::signal_reload(&pid_file) {
        Ok(pid) => format!("switch {pid} applies it now"),
        Err(_) => "no switch is running: it applies when one starts".into(),
    };
    let what = match open {
        Some(true) => "forced open",
        Some(false) => "forced closed",
        None => "back to its hours",
    };
    Ok(format!("calendar {name}: {what}; {applied}\n"))
}

/// The period the figures of the last `hours` cover: (since, now), Unix ms.
fn period(hours: u32) -> (i64, i64) {
    let now = crate::call::unix_ms();
    (now - i64::from(hours) * 3_600_000, now)
}

/// `ms` as H:MM:SS.
fn hms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `switchboard agents`: every agent of `contact-center/agents.toml` with
/// their state as the running switch last stored it (logged out when it
/// never stored one), their latest transitions, and their figures over
/// the last `hours` (`store::AgentStats`: offers, answers, time in each
/// state, occupancy).
pub async fn agents(cfg: &Settings, hours: u32, json: bool) -> anyhow::Result<String> {
    let store = open_store(&cfg.switch).await?;
    let states = store.agent_states().await?;
    let (since, now) = period(hours);
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    let mut cc = cfg.contact_center.clone();
    cc.add_stored_agents(&store.stored_agents().await?);
    for a in &cc.agents {
        let (state, reason) = states
            .iter()
            .find(|(id, _, _)| id == &a.id)
            .map_or(("logged_out", ""), |(_, s, r)| (s.as_str(), r.as_str()));
        let history = store.agent_transitions(&a.id, 10).await?;
        let stats = store.agent_stats(&a.id, since, now).await?;
        let mut row = serde_json::json!({
            "agent": a.id,
            "name": a.name,
            "team": a.team,
            "state": state,
            "reason": reason,
            "transitions": history.iter().map(|t| serde_json::json!({
                "from": t.from_state, "to": t.to_state, "reason": t.reason, "at": t.at,
            })).collect::<Vec<_>>(),
            "hours": hours,
        });
        if let (Some(row), serde_json::Value::Object(f)) =
            (row.as_object_mut(), serde_json::to_value(&stats)?)
        {
            row.extend(f);
        }
        rows.push(row);
        figures.push((a.id.as_str(), stats));
    }
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    let mut out = String::new();
    writeln!(
        out,
        "{:<8} {:<16} {:<12} {:<10} reason",
        "agent", "name", "team", "state"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<8} {:<16} {:<12} {:<10} {}",
            r["agent"].as_str().unwrap_or(""),
            r["name"].as_str().unwrap_or(""),
            r["team"].as_str().unwrap_or(""),
            r["state"].as_str().unwrap_or(""),
            r["reason"].as_str().unwrap_or("")
        )?;
    }
    writeln!(out, "\nover the last {hours} h:")?;
    writeln!(
        out,
        "{:<8} {:>7} {:>8} {:>6} {:>9} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  not ready by reason",
        "agent",
        "offered",
        "answered",
        "missed",
        "talk",
        "avg talk s",
        "AHT s",
        "logged in",
        "available",
        "ringing",
        "wrap-up",
        "not ready",
        "occup.%"
    )?;
    for (id, s) in &figures {
        let reasons: Vec<String> = s
            .not_ready_by_reason_ms
            .iter()
            .map(|(r, ms)| format!("{r} {}", hms(*ms)))
            .collect();
        writeln!(
            out,
            "{:<8} {:>7} {:>8} {:>6} {:>9} {:>10.1} {:>7.1} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7.1}  {}",
            id,
            s.offered,
            s.answered,
            s.missed,
            hms(s.talk_ms),
            s.avg_talk_ms / 1000.0,
            s.aht_ms / 1000.0,
            hms(s.logged_in_ms),
            hms(s.available_ms),
            hms(s.ringing_ms),
            hms(s.wrap_up_ms),
            hms(s.not_ready_ms),
            s.occupancy,
            reasons.join(", ")
        )?;
    }
    Ok(out)
}

/// `switchboard queues`: each queue's live and recent figures (callers
/// who joined in the last `hours`), from the stays the switch stores.
pub async fn queues(cfg: &Settings, hours: u32, json: bool) -> anyhow::Result<String> {
    let store = open_store(&cfg.switch).await?;
    let (since, now) = period(hours);
    let mut all = Vec::new();
    for q in &cfg.contact_center.queues {
        all.push(
            store
                .queue_stats(&q.spec.name, since, now, q.service_level_ms)
                .await?,
        );
    }
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&all)?));
    }
    // The queue column fits the longest name.
    let w = all.iter().map(|s| s.queue.len()).max().unwrap_or(0).max(14);
    let mut out = String::new();
    writeln!(
        out,
        "{:<w$} {:>7} {:>9} {:>7} {:>8} {:>9} {:>8} {:>6} {:>7} {:>7} {:>9}",
        "queue",
        "waiting",
        "longest",
        "offered",
        "answered",
        "abandoned",
        "aband.%",
        "SL%",
        "ASA s",
        "AHT s",
        "CSAT (n)"
    )?;
    for s in &all {
        let csat = if s.csat_ratings > 0 {
            format!("{:.1} ({})", s.csat, s.csat_ratings)
        } else {
            "-".to_string()
        };
        writeln!(
            out,
            "{:<w$} {:>7} {:>9.0} {:>7} {:>8} {:>9} {:>8.1} {:>6.1} {:>7.1} {:>7.1} {:>9}",
            s.queue,
            s.waiting,
            s.longest_wait_ms as f64 / 1000.0,
            s.offered,
            s.answered,
            s.abandoned,
            s.abandon_rate,
            s.service_level,
            s.asa_ms / 1000.0,
            s.aht_ms / 1000.0,
            csat
        )?;
    }
    let intents = |list: &[crate::store::IntentCount]| {
        let shown: Vec<String> = list
            .iter()
            .map(|c| format!("{} {}", c.intent, c.calls))
            .collect();
        if shown.is_empty() {
            "-".to_string()
        } else {
            shown.join(", ")
        }
    };
    let asked: Vec<_> = all
        .iter()
        .filter(|s| !s.top_intents_period.is_empty())
        .collect();
    if !asked.is_empty() {
        writeln!(
            out,
            "\ntop intents (callers waiting now | all who joined in the last {hours} h):"
        )?;
    }
    for s in asked {
        writeln!(
            out,
            "{:<w$} {} | {}",
            s.queue,
            intents(&s.top_intents),
            intents(&s.top_intents_period)
        )?;
    }
    Ok(out)
}

/// `switchboard agent ID ready|break [REASON]|logout`: asks the running
/// switch (SIGHUP) to change an agent's state, as their feature codes do.
pub async fn change_agent(
    cfg: &Settings,
    agent: &str,
    state: &str,
    reason: Option<&str>,
) -> anyhow::Result<String> {
    if cfg.contact_center.agent(agent).is_none() {
        let ids: Vec<&str> = cfg
            .contact_center
            .agents
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        anyhow::bail!("no agent `{agent}`; agents are: {}", ids.join(", "));
    }
    let (request, reason) = match (state, reason) {
        ("ready", None) => ("ready", ""),
        ("break", r) => ("not_ready", r.unwrap_or("break")),
        ("logout", None) => ("log_out", ""),
        (other, _) => anyhow::bail!("`{other}`: say ready, break [REASON] or logout"),
    };
    let store = open_store(&cfg.switch).await?;
    store
        .push_agent_request(agent, request, reason, crate::call::unix_ms())
        .await?;
    let pid_file = crate::server::reload::pid_file(&cfg.switch.database);
    let applied = match crate::server::reload::signal_reload(&pid_file) {
        Ok(pid) => format!("switch {pid} applies it now"),
        Err(_) => "no switch is running: it applies when one starts".into(),
    };
    Ok(format!("agent {agent}: {state} asked; {applied}\n"))
}

/// `switchboard callbacks`: the latest `limit` callback requests (newest
/// first) and what the dialer did with them.
pub async fn callbacks(switch: &SwitchSettings, limit: u32, json: bool) -> anyhow::Result<String> {
    let store = open_store(switch).await?;
    let list = store.recent_callbacks(limit).await?;
    if json {
        let rows: Vec<_> = list
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id,
                    "call_id": c.call_id,
                    "number": c.number,
                    "queue": c.queue,
                    "priority": c.priority,
                    "requested_at": c.requested_at,
                    "place_since": c.place_since,
                    "not_before": c.not_before,
                    "calendar": c.calendar,
                    "state": c.state,
                    "attempts": c.attempts,
                    "agent": c.agent,
                    "outcome": c.outcome,
                })
            })
            .collect();
        return Ok(format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    let mut out = String::new();
    writeln!(
        out,
        "{:<5} {:<16} {:<12} {:<9} {:>8} {:<6} outcome",
        "id", "number", "queue", "state", "attempts", "agent"
    )?;
    for c in &list {
        writeln!(
            out,
            "{:<5} {:<16} {:<12} {:<9} {:>8} {:<6} {}",
            c.id, c.number, c.queue, c.state, c.attempts, c.agent, c.outcome
        )?;
    }
    Ok(out)
}

/// `switchboard agents import FILE`: inserts or replaces (by id) the agents
/// of `file` in the database; every entry is checked first (one
/// `file:line: field: ...` line per problem) and nothing is imported then.
pub async fn import_agents(cfg: &Settings, file: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let extensions = crate::config::extensions(&cfg.profiles);
    let agents =
        crate::acd::config::parse_agents(file, &text, &extensions).map_err(|problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("nothing imported:\n{}", lines.join("\n"))
        })?;
    let store = open_store_for_import(&cfg.switch).await?;
    let now = crate::call::unix_ms();
    for a in &agents {
        store.upsert_agent(a, now).await?;
    }
    Ok(format!(
        "imported {} agent(s) from {}; the switch takes them at its next start\n",
        agents.len(),
        file.display()
    ))
}
