//! The callback dialer: takes stored callback requests through the ACD to
//! the customer. A due request (its retry time passed, its calendar open)
//! joins its queue at the place the caller had in line; the agent the ACD
//! offers it to is rung by a call the switch places (`callback.rs`), and
//! once that agent answers the customer is dialled through the trunk. The
//! request ends `done` when the customer answers; a customer not reached
//! is tried again after the queue's retry time, until its attempts are used
//! up (`failed`). A request nobody can take yet (no agent logged in to its
//! queue) stays pending and is looked at again.
//!
//! Requests live in the database: a switch stopped while one waits or is
//! dialled finds it pending again at the next start, at its place.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::CallContext;
use super::callback::{CallbackOrder, CallbackReport, originate_callback};
use super::record::unix_ms;
use crate::acd::agent::EntryId;
use crate::acd::config::{CallbackPolicy, QueueConfig};
use crate::acd::service::{Acd, JoinRefused, OfferOutcome, ToCaller};
use crate::flow::Flows;
use crate::flow::model::TransferTarget;
use crate::server::routing::Target;
use crate::sip::endpoint::{Endpoint, ToCore};
use crate::store::{Callback, Store};

/// How often due requests are looked for (besides when one is stored).
const POLL: Duration = Duration::from_secs(2);
/// Most requests taken into queues per look.
const BATCH: u32 = 200;

/// What the dialer works with.
pub struct DialerSetup {
    pub ctx: Arc<CallContext>,
    pub ep: Endpoint,
    pub acd: Acd,
    pub store: Store,
    pub flows: Arc<Flows>,
    pub queues: Vec<QueueConfig>,
}

struct Env {
    ctx: Arc<CallContext>,
    ep: Endpoint,
    acd: Acd,
    store: Store,
    policies: HashMap<String, CallbackPolicy>,
}

/// Starts the dialer task (it runs as long as the switch).
pub fn start(setup: DialerSetup) {
    let first_queue = setup
        .queues
        .first()
        .map(|q| q.spec.name.clone())
        .unwrap_or_default();
    let policies = setup
        .queues
        .iter()
        .map(|q| (q.spec.name.clone(), q.callback.clone()))
        .collect();
    let env = Arc::new(Env {
        ctx: setup.ctx,
        ep: setup.ep,
        acd: setup.acd,
        store: setup.store,
        policies,
    });
    tokio::spawn(run(env, setup.flows, first_queue));
}

async fn run(env: Arc<Env>, flows: Arc<Flows>, first_queue: String) {
    match env.store.reset_interrupted_callbacks(unix_ms()).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            n,
            "callbacks being dialled at the last stop are pending again"
        ),
        Err(e) => tracing::error!("interrupted callbacks not reset: {e}"),
    }
    let (done_tx, mut done_rx) = mpsc::channel::<i64>(64);
    // Requests in a queue or being dialled.
    let mut active: HashSet<i64> = HashSet::new();
    // Requests whose queue turned them away, and why (logged once).
    let mut refused: HashMap<i64, String> = HashMap::new();
    loop {
        tokio::select! {
            _ = env.ctx.callbacks_due.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            Some(id) = done_rx.recv() => {
                active.remove(&id);
                continue;
            }
        }
        let now = unix_ms();
        let set = flows.current();
        let at = jiff::Timestamp::now();
        let closed: Vec<String> = set
            .calendars()
            .names()
            .filter(|n| set.calendars().is_open(n, at) == Some(false))
            .map(str::to_string)
            .collect();
        let skip: Vec<i64> = active.iter().copied().collect();
        let due = match env
            .store
            .callbacks_to_dial(now, BATCH, &closed, &skip)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("callback requests not read: {e}");
                continue;
            }
        };
        for mut c in due {
            if c.queue.is_empty() {
                c.queue = first_queue.clone();
            }
            if let Err(why) = reachable(&env, &c).await {
                // No agent is bothered with a call that cannot go out.
                if refused.get(&c.id) != Some(&why) {
                    tracing::warn!(id = c.id, "callback waits: {why}");
                    let _ = env
                        .store
                        .callback_attempted(c.id, "pending", &why, None, now)
                        .await;
                    refused.insert(c.id, why);
                }
                continue;
            }
            let (tx, inbox) = mpsc::channel(16);
            let joined = env
                .acd
                .join_callback(c.id, &c.queue, c.priority, c.place_since, tx)
                .await;
            match joined {
                Ok(j) => {
                    refused.remove(&c.id);
                    active.insert(c.id);
                    tracing::info!(id = c.id, queue = %c.queue, position = j.position, "callback in line");
                    tokio::spawn(serve(env.clone(), c, j.entry, inbox, done_tx.clone()));
                }
                Err(why) => {
                    let text = why.to_string();
                    if refused.get(&c.id) != Some(&text) {
                        tracing::info!(id = c.id, "callback waits: {text}");
                        refused.insert(c.id, text);
                    }
                    if matches!(why, JoinRefused::NoQueue(_)) {
                        let outcome = format!("no queue `{}`", c.queue);
                        let _ = env
                            .store
                            .callback_attempted(c.id, "failed", &outcome, None, now)
                            .await;
                    }
                }
            }
        }
    }
}

/// Whether the trunk of request `c` can call its number (it has an
/// outbound proxy); why not.
async fn reachable(env: &Env, c: &Callback) -> Result<(), String> {
    let (reply, route) = oneshot::channel();
    env.ep
        .send(ToCore::FindTransfer {
            trunk: c.trunk.clone(),
            target: TransferTarget::Trunk {
                trunk: c.trunk.clone(),
                number: c.number.clone(),
            },
            reply,
        })
        .await;
    match route.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(why)) => Err(why),
        Err(_) => Err("the switch is stopping".into()),
    }
}

/// One request in line: rings the agents the ACD offers it to, until one
/// of them has called the customer (reached or not).
async fn serve(
    env: Arc<Env>,
    c: Callback,
    entry: EntryId,
    mut inbox: mpsc::Receiver<ToCaller>,
    done: mpsc::Sender<i64>,
) {
    let policy = env.policies.get(&c.queue).cloned().unwrap_or_default();
    let (reports_tx, mut reports) = mpsc::channel::<(String, CallbackReport)>(16);
    // The agents rung, and how to withdraw each offer.
    let mut ringing: HashMap<String, oneshot::Sender<()>> = HashMap::new();
    let mut taken_by: Option<String> = None;
    let mut inbox_open = true;
    loop {
        tokio::select! {
            order = inbox.recv(), if inbox_open => match order {
                Some(ToCaller::Offer { agent, ring_timeout }) => {
                    let offer = Offer { agent: &agent, ring_timeout, reports: &reports_tx };
                    match ring(&env, &c, &policy, offer).await {
                        Ok(withdraw) => {
                            ringing.insert(agent, withdraw);
                        }
                        Err(outcome) => env.acd.offer(entry, &agent, outcome).await,
                    }
                }
                Some(ToCaller::StopRinging { agent }) => {
                    if let Some(w) = ringing.remove(&agent) {
                        let _ = w.send(());
                    }
                }
                // The ACD is gone: the request stays pending (or the
                // agent who took it goes on calling the customer).
                None if taken_by.is_some() => inbox_open = false,
                None => break,
            },
            Some((agent, report)) = reports.recv() => match report {
                CallbackReport::Ringing => {
                    env.acd.offer(entry, &agent, OfferOutcome::Ringing).await;
                }
                CallbackReport::AgentMissed(_) => {
                    ringing.remove(&agent);
                    env.acd.offer(entry, &agent, OfferOutcome::NoAnswer).await;
                }
                CallbackReport::AgentAnswered => {
                    if taken_by.is_some() {
                        // Another agent answered first.
                        if let Some(w) = ringing.remove(&agent) {
                            let _ = w.send(());
                        }
                        continue;
                    }
                    ringing.remove(&agent);
                    taken_by = Some(agent.clone());
                    env.acd.offer(entry, &agent, OfferOutcome::Answered).await;
                    if let Err(e) = env.store.callback_dialing(c.id, &agent, unix_ms()).await {
                        tracing::error!(id = c.id, "callback attempt not stored: {e}");
                    }
                }
                CallbackReport::Connected => {
                    let outcome = format!("connected to agent {agent}");
                    let stored = env
                        .store
                        .callback_attempted(c.id, "done", &outcome, None, unix_ms())
                        .await;
                    if let Err(e) = stored {
                        tracing::error!(id = c.id, "callback outcome not stored: {e}");
                    }
                }
                CallbackReport::Ended { reached, why } => {
                    if taken_by.as_deref() != Some(agent.as_str()) {
                        continue;
                    }
                    env.acd.ended(entry).await;
                    if !reached {
                        not_reached(&env, &c, &policy, &why).await;
                    }
                    tracing::info!(id = c.id, %agent, reached, "callback attempt over: {why}");
                    break;
                }
            },
        }
    }
    for (_, w) in ringing {
        let _ = w.send(());
    }
    if taken_by.is_none() {
        env.acd.leave(entry).await;
    }
    let _ = done.send(c.id).await;
}

/// One offer of a request to an agent.
struct Offer<'a> {
    agent: &'a str,
    ring_timeout: Duration,
    reports: &'a mpsc::Sender<(String, CallbackReport)>,
}

/// Rings `offer.agent`'s phone for request `c`; the offer's withdrawal,
/// or what to tell the ACD when the phone cannot be rung.
async fn ring(
    env: &Env,
    c: &Callback,
    policy: &CallbackPolicy,
    offer: Offer<'_>,
) -> Result<oneshot::Sender<()>, OfferOutcome> {
    let (reply, found) = oneshot::channel();
    env.ep
        .send(ToCore::FindAgents {
            trunk: c.trunk.clone(),
            extensions: vec![offer.agent.to_string()],
            reply,
        })
        .await;
    let found = found.await.ok().flatten();
    let Some((profile, contact)) =
        found.and_then(|f| f.contacts.into_iter().next().map(|c| (f.profile, c)))
    else {
        return Err(OfferOutcome::Unreachable);
    };
    let (withdraw, withdrawn) = oneshot::channel();
    let order = CallbackOrder {
        id: c.id,
        number: c.number.clone(),
        present_as: c.present_as.clone(),
        trunk: c.trunk.clone(),
        agent: offer.agent.to_string(),
        phone: Target::from(contact),
        agents_profile: profile,
        ring_timeout: offer.ring_timeout,
        customer_ring: Duration::from_millis(policy.ring_ms.max(0) as u64),
        context: c.context.clone(),
        reports: offer.reports.clone(),
        withdraw: withdrawn,
    };
    match originate_callback(env.ctx.clone(), env.ep.clone(), order) {
        Ok(()) => Ok(withdraw),
        Err(why) => {
            tracing::warn!(id = c.id, agent = offer.agent, "callback not placed: {why}");
            Err(OfferOutcome::NoAnswer)
        }
    }
}

/// The customer of `c` was not reached on this attempt: pending again
/// after the retry time, or failed when the attempts are used up.
async fn not_reached(env: &Env, c: &Callback, policy: &CallbackPolicy, why: &str) {
    let now = unix_ms();
    // This attempt was counted when the agent took the request.
    let attempts = c.attempts + 1;
    let (state, not_before) = if attempts >= i64::from(policy.attempts) {
        ("failed", None)
    } else {
        ("pending", Some(now + policy.retry_ms))
    };
    let outcome = format!("not reached: {why}");
    if let Err(e) = env
        .store
        .callback_attempted(c.id, state, &outcome, not_before, now)
        .await
    {
        tracing::error!(id = c.id, "callback outcome not stored: {e}");
    }
}
