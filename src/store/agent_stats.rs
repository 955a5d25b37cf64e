//! One agent's figures over a period, computed from their stored
//! transitions (`agent_events`): offers, answers and misses, the time
//! spent in each state, average talk and handle times, and occupancy.
//!
//! Each transition starts the state it names, which lasts until the next
//! transition. The state at the period's start is the one the last
//! transition before it named (logged out when there is none), so time
//! before the period is clipped off; the state the agent is in now counts
//! up to now.

use std::collections::BTreeMap;

use super::{AgentTransition, Store};

/// One agent's figures over a period; times in ms.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AgentStats {
    /// Offers made to the agent in the period (each starts `reserved`).
    pub offered: i64,
    /// Calls the agent answered in the period (each starts `on_call`).
    pub answered: i64,
    /// Offers not answered: offered minus answered (rang out, refused, no
    /// phone, or withdrawn: the caller hung up, or with ring-all another
    /// agent answered first).
    pub missed: i64,
    /// Time on calls in the period (hold included).
    pub talk_ms: i64,
    /// Average talk time of the calls answered in the period, each call
    /// whole (one still going counts up to now).
    pub avg_talk_ms: f64,
    /// Average handle time of the calls answered in the period: each
    /// call's talk plus the wrap-up after it (one still going counts up
    /// to now).
    pub aht_ms: f64,
    /// Time logged in (in any state but logged out).
    pub logged_in_ms: i64,
    /// Time available: idle, ready for a call.
    pub available_ms: i64,
    /// Time chosen for a call and rung (reserved, ringing).
    pub ringing_ms: i64,
    /// Time in wrap-up after calls.
    pub wrap_up_ms: i64,
    /// Time not ready: breaks, and the switch's own (missed offers, no
    /// phone registered).
    pub not_ready_ms: i64,
    /// `not_ready_ms` by reason.
    pub not_ready_by_reason_ms: BTreeMap<String, i64>,
    /// (talk + wrap-up) / (logged in - not ready), in percent; 0 when the
    /// agent was never logged in and ready.
    pub occupancy: f64,
}

impl AgentStats {
    /// The figures over `since..now` of an agent whose last transition
    /// before `since` is `before` and whose transitions from `since` on
    /// are `rows`, oldest first (any after `now` is left out).
    pub fn compute(
        before: Option<&AgentTransition>,
        rows: &[AgentTransition],
        since: i64,
        now: i64,
    ) -> Self {
        let rows: Vec<&AgentTransition> = rows
            .iter()
            .filter(|t| (since..=now).contains(&t.at))
            .collect();
        let mut s = Self::default();
        let first = before.map_or(("logged_out", ""), |t| {
            (t.to_state.as_str(), t.reason.as_str())
        });
        let states = std::iter::once(first).chain(
            rows.iter()
                .map(|t| (t.to_state.as_str(), t.reason.as_str())),
        );
        let starts = std::iter::once(since).chain(rows.iter().map(|t| t.at));
        let ends = rows.iter().map(|t| t.at).chain(std::iter::once(now));
        for (((state, reason), from), to) in states.zip(starts).zip(ends) {
            s.add_time(state, reason, to - from);
        }

        let count = |state: &str| rows.iter().filter(|t| t.to_state == state).count() as i64;
        s.offered = count("reserved");
        s.answered = count("on_call");
        s.missed = (s.offered - s.answered).max(0);
        let end_of = |i: usize| rows.get(i).map_or(now, |t| t.at);
        let (mut talk, mut handle) = (0, 0);
        for (i, call) in rows.iter().enumerate() {
            if call.to_state != "on_call" {
                continue;
            }
            let talked = end_of(i + 1) - call.at;
            let wrapped = match rows.get(i + 1) {
                Some(w) if w.to_state == "wrap_up" => end_of(i + 2) - w.at,
                _ => 0,
            };
            talk += talked;
            handle += talked + wrapped;
        }
        let per_call = |total: i64| {
            if s.answered > 0 {
                total as f64 / s.answered as f64
            } else {
                0.0
            }
        };
        s.avg_talk_ms = per_call(talk);
        s.aht_ms = per_call(handle);
        let ready = s.logged_in_ms - s.not_ready_ms;
        if ready > 0 {
            s.occupancy = 100.0 * (s.talk_ms + s.wrap_up_ms) as f64 / ready as f64;
        }
        s
    }

    /// `ms` spent in `state` (with its `reason`).
    fn add_time(&mut self, state: &str, reason: &str, ms: i64) {
        if state == "logged_out" {
            return;
        }
        self.logged_in_ms += ms;
        match state {
            "available" => self.available_ms += ms,
            "reserved" | "ringing" => self.ringing_ms += ms,
            "on_call" => self.talk_ms += ms,
            "wrap_up" => self.wrap_up_ms += ms,
            "not_ready" => {
                self.not_ready_ms += ms;
                *self
                    .not_ready_by_reason_ms
                    .entry(reason.to_string())
                    .or_default() += ms;
            }
            _ => {}
        }
    }
}

impl Store {
    /// Agent `agent`'s figures over `since..now`, from their transitions.
    pub async fn agent_stats(&self, agent: &str, since: i64, now: i64) -> sqlx::Result<AgentStats> {
        let before: Option<AgentTransition> = sqlx::query_as(
            "SELECT agent, from_state, to_state, reason, at FROM agent_events
             WHERE agent = ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(agent)
        .bind(since)
        .fetch_optional(self.pool())
        .await?;
        let rows: Vec<AgentTransition> = sqlx::query_as(
            "SELECT agent, from_state, to_state, reason, at FROM agent_events
             WHERE agent = ? AND at >= ? AND at <= ? ORDER BY at, id",
        )
        .bind(agent)
        .bind(since)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        Ok(AgentStats::compute(before.as_ref(), &rows, since, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Agent 1001's day, in ms: on a call since before the period
    /// (100 s..400 s), two offers answered and one missed, a lunch and a
    /// short break, on a call now.
    fn day() -> Vec<AgentTransition> {
        let t = |from: &str, to: &str, reason: &str, at| AgentTransition {
            agent: "1001".into(),
            from_state: from.into(),
            to_state: to.into(),
            reason: reason.into(),
            at,
        };
        vec![
            // Before the period: logged in, answered a call at 60 s.
            t("logged_out", "available", "", 10_000),
            t("available", "reserved", "", 50_000),
            t("reserved", "ringing", "", 51_000),
            t("ringing", "on_call", "", 60_000),
            // That call: 30 s in the period, then 10 s wrap-up.
            t("on_call", "wrap_up", "", 130_000),
            t("wrap_up", "available", "", 140_000),
            // Offer 1: rung 5 s, talked 60 s, wrapped up 15 s.
            t("available", "reserved", "", 160_000),
            t("reserved", "ringing", "", 161_000),
            t("ringing", "on_call", "", 165_000),
            t("on_call", "wrap_up", "", 225_000),
            t("wrap_up", "available", "", 240_000),
            // Offer 2: rung 16 s, not answered.
            t("available", "reserved", "", 250_000),
            t("reserved", "ringing", "", 251_000),
            t("ringing", "available", "", 266_000),
            // Lunch (60 s) and a break (10 s).
            t("available", "not_ready", "lunch", 270_000),
            t("not_ready", "available", "", 330_000),
            t("available", "not_ready", "break code 07", 340_000),
            t("not_ready", "available", "", 350_000),
            // Offer 3: rung 4 s, on the call since 364 s.
            t("available", "reserved", "", 360_000),
            t("reserved", "ringing", "", 361_000),
            t("ringing", "on_call", "", 364_000),
            // After now: left out.
            t("on_call", "wrap_up", "", 500_000),
        ]
    }

    /// The figures of `day` over 100 s..400 s, computed by hand.
    fn by_hand() -> AgentStats {
        AgentStats {
            offered: 3,
            answered: 2,
            missed: 1,
            // 30 (the call begun before) + 60 + 36 (still going) s.
            talk_ms: 126_000,
            // The calls answered in the period: 60 s and 36 s so far.
            avg_talk_ms: 48_000.0,
            // (60 + 15) and 36 s, no wrap-up yet.
            aht_ms: 55_500.0,
            logged_in_ms: 300_000,
            // 140..160, 240..250, 266..270, 330..340, 350..360 s.
            available_ms: 54_000,
            ringing_ms: 25_000,
            wrap_up_ms: 25_000,
            not_ready_ms: 70_000,
            not_ready_by_reason_ms: [("break code 07".into(), 10_000), ("lunch".into(), 60_000)]
                .into(),
            // (126 + 25) / (300 - 70)
            occupancy: 100.0 * 151.0 / 230.0,
        }
    }

    #[test]
    fn figures_are_clipped_to_the_period_and_count_now() {
        let rows = day();
        let before = &rows[3];
        let got = AgentStats::compute(Some(before), &rows[4..], 100_000, 400_000);
        assert_eq!(got, by_hand());
        let sum =
            got.available_ms + got.ringing_ms + got.talk_ms + got.wrap_up_ms + got.not_ready_ms;
        assert_eq!(sum, got.logged_in_ms, "every logged-in ms is in one state");
    }

    #[test]
    fn logged_out_time_counts_for_nothing() {
        let t = |to: &str, at| AgentTransition {
            agent: "1002".into(),
            from_state: String::new(),
            to_state: to.into(),
            reason: String::new(),
            at,
        };
        // Logged in at 1 s, out at 5 s; the period is 0..10 s.
        let rows = [t("available", 1_000), t("logged_out", 5_000)];
        let got = AgentStats::compute(None, &rows, 0, 10_000);
        assert_eq!((got.logged_in_ms, got.available_ms), (4_000, 4_000));
        assert_eq!((got.offered, got.occupancy), (0, 0.0));
        // Never logged in: all zero.
        assert_eq!(
            AgentStats::compute(None, &[], 0, 10_000),
            AgentStats::default()
        );
    }

    #[tokio::test]
    async fn the_store_reads_the_state_before_the_period_and_the_period() {
        let store = Store::open_in_memory().await.unwrap();
        for t in day() {
            store.record_agent_transition(&t).await.unwrap();
        }
        let other = AgentTransition {
            agent: "1002".into(),
            from_state: "logged_out".into(),
            to_state: "available".into(),
            reason: String::new(),
            at: 1_000,
        };
        store.record_agent_transition(&other).await.unwrap();
        let got = store.agent_stats("1001", 100_000, 400_000).await.unwrap();
        assert_eq!(got, by_hand());
        let idle = store.agent_stats("1002", 100_000, 400_000).await.unwrap();
        assert_eq!((idle.logged_in_ms, idle.available_ms), (300_000, 300_000));
    }
}
