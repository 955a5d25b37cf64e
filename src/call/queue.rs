//! A flow's caller waiting in an ACD queue: the call's side of
//! `acd::service`. The caller joins (hearing music on hold); the ACD tells
//! the call which agent to ring (or to stop ringing); the call rings that
//! agent's registered phones for the queue's ring timeout and reports what
//! the offer did: ringing, answered, not answered, no phone. The first
//! answer bridges the caller (as any hand-off of a flow); when the bridged
//! call ends the agent goes to wrap-up. After the queue's maximum wait the
//! caller moves to its overflow queue or leaves through the flow's
//! `no_answer` exit. A caller who hangs up leaves the line. Where the
//! queue offers it, a caller may press its callback key instead of
//! waiting: they leave the line, and a callback request keeps their place
//! (`dialer.rs` calls them back).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Call;
use crate::acd::agent::EntryId;
use crate::acd::service::{Acd, OfferOutcome, ToCaller};
use crate::flow::engine::Input;
use crate::flow::model::PromptItem;
use crate::media::player::PlaybackId;
use crate::server::routing::Target;
use crate::store::{CallEventKind, HangupBy};

/// Messages the ACD may have queued for one call.
const INBOX: usize = 32;
/// A caller who has to wait hears their position this soon after joining.
const FIRST_ANNOUNCEMENT: Duration = Duration::from_secs(1);
/// A message that falls while something else is said waits this long.
const MESSAGE_DELAY: Duration = Duration::from_secs(5);

/// One agent being rung for the caller.
#[derive(Debug)]
struct Offer {
    agent: String,
    /// Indexes of this offer's forks in the call's forks.
    forks: Vec<usize>,
    deadline: Instant,
    told_ringing: bool,
}

/// The call's place in an ACD queue.
#[derive(Debug)]
pub struct QueueWait {
    pub(super) acd: Acd,
    entry: EntryId,
    pub(super) queue: String,
    /// The caller's priority and intent (kept through a transfer).
    pub(super) priority: u8,
    pub(super) intent: String,
    inbox: mpsc::Receiver<ToCaller>,
    offers: Vec<Offer>,
    /// When the caller has waited the queue's maximum.
    max_wait_at: Instant,
    /// The offer made to agents' phones (one set of agent-side sockets
    /// for every offer of this wait).
    sdp: Option<bytes::Bytes>,
    /// The agent who answered: the entry is connected.
    pub(super) answered_by: Option<String>,
    /// Position announcements: how often, the next one, the one playing.
    announce_every: Duration,
    next_announce: Option<Instant>,
    announcing: Option<PlaybackId>,
    /// The key that asks for a callback (none: not offered).
    callback_digit: Option<char>,
    /// The caller rates the call after the agent hangs up (the queue's
    /// `survey`; an overflow keeps the first queue's).
    pub(super) survey: bool,
    /// The caller's language is Chinese (what the flow knew at joining).
    pub(super) chinese: bool,
    /// The queue's messages, the next one due and which one it is.
    messages: std::sync::Arc<[crate::acd::config::QueueMessage]>,
    message_every: Duration,
    next_message: Option<Instant>,
    message_index: usize,
}

/// Waits for the ACD's next message to a queued call (forever when the
/// call is not waiting in a queue).
pub(super) async fn next_order(wait: &mut Option<Box<QueueWait>>) -> Option<ToCaller> {
    match wait {
        Some(w) if w.answered_by.is_none() => w.inbox.recv().await,
        _ => std::future::pending().await,
    }
}

impl Call {
    /// Puts the caller in line in `queue` for `intent` (kept for the queue
    /// figures), or, with `agent`, offers them to that agent alone,
    /// `queue` being where they wait should the agent not answer; `None`
    /// while waiting, else the hand-off's failure at once (the queue
    /// refused the caller).
    pub(super) async fn join_queue(
        &mut self,
        acd: Acd,
        queue: &str,
        priority: u8,
        intent: &str,
        agent: Option<&str>,
    ) -> Option<Input> {
        if let Some(ctx) = self.flow_context() {
            // What the flow learnt outlives it.
            self.journey = ctx;
            self.declined_recording = self.recording_declined();
        }
        let (tx, inbox) = mpsc::channel(INBOX);
        let call_id = self.caller.call_id.clone();
        let joined = match agent {
            None => acd.join(&call_id, queue, priority, intent, None, tx).await,
            Some(a) => {
                acd.join_direct(&call_id, a, queue, priority, intent, tx)
                    .await
            }
        };
        let joined = match joined {
            Ok(j) => j,
            Err(refused) => {
                self.journal_event(CallEventKind::Queue, &refused.to_string())
                    .await;
                return Some(Input::HandOffDone { answered: false });
            }
        };
        let detail = match joined.position {
            0 => format!("{queue}: joined, offered at once"),
            p => format!("{queue}: joined at position {p}"),
        };
        self.journal_event(CallEventKind::Queue, &detail).await;
        let chinese = self.speaks_chinese();
        self.queue = Some(Box::new(QueueWait {
            acd,
            entry: joined.entry,
            queue: queue.to_string(),
            priority,
            intent: intent.to_string(),
            inbox,
            offers: Vec::new(),
            max_wait_at: Instant::now() + joined.max_wait,
            sdp: None,
            answered_by: None,
            announce_every: joined.announce_every,
            next_announce: (joined.position > 0 && !joined.announce_every.is_zero())
                .then(|| Instant::now() + FIRST_ANNOUNCEMENT),
            announcing: None,
            callback_digit: joined
                .callback_digit
                .filter(|_| callable(&self.caller_number())),
            survey: joined.survey,
            chinese,
            next_message: (!joined.messages.is_empty())
                .then(|| Instant::now() + joined.message_every),
            messages: joined.messages.clone(),
            message_every: joined.message_every,
            message_index: 0,
        }));
        self.set_handing_off(true);
        self.play_music_on_hold().await;
        None
    }

    /// The earliest time the queue wait needs the call's attention.
    pub(super) fn queue_deadline(&self) -> Option<Instant> {
        let w = self.queue.as_ref().filter(|w| w.answered_by.is_none())?;
        w.offers
            .iter()
            .map(|o| o.deadline)
            .chain([w.max_wait_at])
            .chain(w.next_announce)
            .chain(w.next_message)
            .min()
    }

    /// What the ACD asked.
    pub(super) async fn on_queue_order(&mut self, order: Option<ToCaller>) {
        match order {
            Some(ToCaller::Offer {
                agent,
                ring_timeout,
            }) => self.ring_agent(agent, ring_timeout).await,
            Some(ToCaller::StopRinging { agent }) => {
                if let Some(forks) = self.take_offer(&agent) {
                    self.cancel_these_forks(&forks).await;
                }
            }
            // The ACD is gone: the caller cannot be served.
            None => self.queue_left(false).await,
        }
    }

    /// Rings `agent`'s registered phones for at most `ring_timeout`.
    async fn ring_agent(&mut self, agent: String, ring_timeout: Duration) {
        let Some(entry) = self.queue.as_ref().map(|w| w.entry) else {
            return;
        };
        let found = self.find_agents(vec![agent.clone()]).await;
        let Some(found) = found.filter(|f| !f.contacts.is_empty()) else {
            self.journal_event(CallEventKind::Queue, &format!("{agent} has no phone"))
                .await;
            return self.report(entry, &agent, OfferOutcome::Unreachable).await;
        };
        let sdp = match self.queue.as_ref().and_then(|w| w.sdp.clone()) {
            Some(sdp) => sdp,
            None => {
                let ips = found.contacts.iter().map(|c| c.flow.remote.ip()).collect();
                let made = self
                    .media
                    .as_mut()
                    .map(|m| m.offer_to_agents(&found.profile, ips));
                match made {
                    Some(Ok(sdp)) => {
                        if let Some(w) = self.queue.as_mut() {
                            w.sdp = Some(sdp.clone());
                        }
                        sdp
                    }
                    _ => return self.report(entry, &agent, OfferOutcome::NoAnswer).await,
                }
            }
        };
        self.journal_event(CallEventKind::Queue, &format!("offered to {agent}"))
            .await;
        self.context_headers = self.flow_context_headers();
        let first = self.forks.len();
        let targets: Vec<Target> = found.contacts.into_iter().map(Target::from).collect();
        self.start_forks(targets, Some(sdp)).await;
        let forks: Vec<usize> = (first..self.forks.len()).collect();
        if forks.is_empty() {
            return self.report(entry, &agent, OfferOutcome::Unreachable).await;
        }
        if let Some(w) = self.queue.as_mut() {
            w.offers.push(Offer {
                agent,
                forks,
                deadline: Instant::now() + ring_timeout,
                told_ringing: false,
            });
        }
    }

    /// The caller's context as `X-Switchboard-*` headers: the queue, the
    /// call, and what the flow learnt (customer fields, language, its
    /// variables); values kept to printable text.
    pub(super) fn flow_context_headers(&mut self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(w) = self.queue.as_ref() {
            pairs.push(("queue".into(), w.queue.clone()));
        }
        pairs.push(("call".into(), self.caller.call_id.clone()));
        match self.flow_context() {
            Some(ctx) => pairs.extend(ctx),
            None => pairs.extend(self.journey.iter().cloned()),
        }
        if let Some(by) = &self.transferred_by {
            pairs.push(("transferred_by".into(), by.clone()));
        }
        pairs
            .into_iter()
            .filter_map(|(name, value)| {
                let name: String = name
                    .split(['.', '_'])
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let mut c = p.chars();
                        c.next().map_or(String::new(), |f| {
                            f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()
                        })
                    })
                    .collect::<Vec<_>>()
                    .join("-");
                let ok =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                let value: String = value
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                (ok && !value.is_empty()).then(|| (format!("X-Switchboard-{name}"), value))
            })
            .collect()
    }

    async fn report(&self, entry: EntryId, agent: &str, outcome: OfferOutcome) {
        if let Some(w) = self.queue.as_ref() {
            w.acd.offer(entry, agent, outcome).await;
        }
    }

    /// Removes `agent`'s offer; its forks.
    fn take_offer(&mut self, agent: &str) -> Option<Vec<usize>> {
        let w = self.queue.as_mut()?;
        let i = w.offers.iter().position(|o| o.agent == agent)?;
        Some(w.offers.remove(i).forks)
    }

    /// The offer that fork `i` belongs to.
    fn offer_of(&self, i: usize) -> Option<&Offer> {
        let w = self.queue.as_ref()?;
        w.offers.iter().find(|o| o.forks.contains(&i))
    }

    /// Cancels the forks `forks` (indexes) that are still pending.
    pub(super) async fn cancel_these_forks(&mut self, forks: &[usize]) {
        let mut cancels = Vec::new();
        for &i in forks {
            if let Some(f) = self.forks.get_mut(i)
                && f.is_pending()
                && !f.cancel_sent
            {
                f.cancel_sent = true;
                if let Some(c) = f.cancel() {
                    cancels.push((c, f.target.flow));
                }
            }
        }
        for ((key, msg), flow) in cancels {
            self.send_request(key, flow, msg).await;
        }
    }

    /// Fork `i` sent a provisional response: the agent's phone rings.
    pub(super) async fn queue_fork_ringing(&mut self, i: usize) {
        let Some(entry) = self.queue.as_ref().map(|w| w.entry) else {
            return;
        };
        let agent = match self.offer_of(i) {
            Some(o) if !o.told_ringing => o.agent.clone(),
            _ => return,
        };
        if let Some(o) = self
            .queue
            .as_mut()
            .and_then(|w| w.offers.iter_mut().find(|o| o.agent == agent))
        {
            o.told_ringing = true;
        }
        self.report(entry, &agent, OfferOutcome::Ringing).await;
    }

    /// Fork `i` answered and the caller is bridged to it.
    pub(super) async fn queue_fork_answered(&mut self, i: usize) {
        let Some(entry) = self.queue.as_ref().map(|w| w.entry) else {
            return;
        };
        let Some(agent) = self.offer_of(i).map(|o| o.agent.clone()) else {
            return;
        };
        self.journal_event(CallEventKind::Queue, &format!("answered by {agent}"))
            .await;
        self.report(entry, &agent, OfferOutcome::Answered).await;
        if let Some(w) = self.queue.as_mut() {
            w.offers.clear();
            w.answered_by = Some(agent);
        }
    }

    /// Forks failed: every offer whose phones all failed was not answered.
    /// True when the call is waiting in a queue (the flow goes on waiting).
    pub(super) async fn queue_forks_failed(&mut self) -> bool {
        let Some(w) = self.queue.as_ref().filter(|w| w.answered_by.is_none()) else {
            return false;
        };
        if self.ending_since.is_some() {
            // The caller left: the offers are withdrawn when the call
            // closes, not missed.
            return true;
        }
        let entry = w.entry;
        let over: Vec<String> = w
            .offers
            .iter()
            .filter(|o| {
                o.forks
                    .iter()
                    .all(|&i| self.forks.get(i).is_none_or(|f| !f.is_pending()))
            })
            .map(|o| o.agent.clone())
            .collect();
        for agent in over {
            self.take_offer(&agent);
            self.journal_event(CallEventKind::Queue, &format!("{agent} did not answer"))
                .await;
            self.report(entry, &agent, OfferOutcome::NoAnswer).await;
        }
        true
    }

    /// Offers rung past their timeout, and the queue's maximum wait.
    pub(super) async fn queue_timer(&mut self) {
        let now = Instant::now();
        let Some(w) = self.queue.as_ref().filter(|w| w.answered_by.is_none()) else {
            return;
        };
        let entry = w.entry;
        let late: Vec<String> = w
            .offers
            .iter()
            .filter(|o| o.deadline <= now)
            .map(|o| o.agent.clone())
            .collect();
        let gave_up = w.max_wait_at <= now;
        let announce = w.next_announce.is_some_and(|t| t <= now) && w.offers.is_empty();
        for agent in late {
            if let Some(forks) = self.take_offer(&agent) {
                self.cancel_these_forks(&forks).await;
            }
            self.journal_event(CallEventKind::Queue, &format!("{agent} did not answer"))
                .await;
            self.report(entry, &agent, OfferOutcome::NoAnswer).await;
        }
        if gave_up {
            return self.queue_max_wait().await;
        }
        if announce {
            self.announce_position().await;
        } else if let Some(w) = self.queue.as_mut()
            && w.next_announce.is_some_and(|t| t <= now)
        {
            // An agent is being rung: announce later.
            w.next_announce = Some(now + w.announce_every);
        }
        let Some(w) = self.queue.as_mut().filter(|w| w.answered_by.is_none()) else {
            return;
        };
        if w.next_message.is_some_and(|t| t <= now) {
            if w.offers.is_empty() && w.announcing.is_none() {
                self.play_queue_message().await;
            } else {
                // An agent rings, or the position is being said: later.
                w.next_message = Some(now + MESSAGE_DELAY);
            }
        }
    }

    /// Speaks the queue's next message to the waiting caller (in their
    /// language when the message has it), then the music resumes.
    async fn play_queue_message(&mut self) {
        let Some(w) = self.queue.as_mut() else { return };
        w.next_message = Some(Instant::now() + w.message_every);
        let Some(m) = w
            .messages
            .get(w.message_index % w.messages.len().max(1))
            .cloned()
        else {
            return;
        };
        let n = w.message_index % w.messages.len() + 1;
        w.message_index += 1;
        let (text, voice) = match (&m.zh, w.chinese) {
            (Some(zh), true) => (zh.clone(), "cmn"),
            _ => (m.en.clone(), "en"),
        };
        self.announce(&format!("message {n}"), text, voice).await;
    }

    /// Journals `what` and speaks `text` to the waiting caller instead of
    /// the music, which resumes after it.
    async fn announce(&mut self, what: &str, text: String, voice: &str) {
        self.journal_event(CallEventKind::Queue, what).await;
        let say = [PromptItem::Say {
            text,
            voice: voice.into(),
        }];
        let id = self.play_flow_prompts(&say, false).await;
        if let Some(w) = self.queue.as_mut() {
            w.announcing = id;
        }
    }

    /// Tells the waiting caller their place in line and the expected wait
    /// (in their language: Mandarin or English), then the music resumes.
    async fn announce_position(&mut self) {
        let Some(w) = self.queue.as_mut() else { return };
        w.next_announce = Some(Instant::now() + w.announce_every);
        let (acd, entry) = (w.acd.clone(), w.entry);
        let Some((position, wait)) = acd.position(entry).await else {
            return;
        };
        let minutes = wait.as_secs().div_ceil(60);
        let callback = w.callback_digit;
        let zh = self.speaks_chinese();
        let (mut text, voice) = if zh {
            let wait = if minutes <= 1 {
                "不到一分钟".to_string()
            } else {
                format!("大约{minutes}分钟")
            };
            (
                format!("您前面还有{}位。预计等待{wait}。", position - 1),
                "cmn",
            )
        } else {
            let wait = if minutes <= 1 {
                "less than a minute".to_string()
            } else {
                format!("about {minutes} minutes")
            };
            (
                format!("You are number {position} in line. Your expected wait is {wait}."),
                "en",
            )
        };
        if let Some(key) = callback {
            text.push_str(&if zh {
                format!("如需回拨并保留您的排队位置，请按{key}。")
            } else {
                format!(" To be called back and keep your place in line, press {key}.")
            });
        }
        let what = format!("position {position}, expected wait {} s", wait.as_secs());
        self.announce(&what, text, voice).await;
    }

    /// Whether the caller's language (as the flow knows it) is Chinese.
    fn speaks_chinese(&mut self) -> bool {
        self.flow_context().is_some_and(|c| {
            c.iter()
                .any(|(k, v)| k == "language" && v.starts_with("zh"))
        })
    }

    /// A key from a waiting caller: the queue's callback key takes them
    /// out of the line with a callback request at their place, tells them
    /// so, and hangs up. True when the key was the callback key.
    pub(super) async fn queue_digit(&mut self, digit: char) -> bool {
        let Some(w) = self.queue.as_ref().filter(|w| w.answered_by.is_none()) else {
            return false;
        };
        if w.callback_digit != Some(digit) || self.store().is_none() {
            return false;
        }
        let (acd, entry) = (w.acd.clone(), w.entry);
        let Some(place) = acd.leave_for_callback(entry).await else {
            return false;
        };
        self.queue = None;
        self.cancel_forks().await;
        self.set_handing_off(false);
        let number = self.caller_number();
        let request = super::callback::Request {
            number: number.clone(),
            queue: place.queue.clone(),
            calendar: String::new(),
            place_since: Some(place.since),
            priority: place.priority,
        };
        let stored = self.store_callback(request).await;
        let detail = format!("{}: left for a callback, keeping the place", place.queue);
        self.journal_event(CallEventKind::Queue, &detail).await;
        let zh = self.speaks_chinese();
        let last: String = number
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let (text, voice) = match (stored, zh) {
            (true, true) => (
                format!("谢谢。我们会回拨尾号为{last}的号码，并为您保留排队位置。再见。"),
                "cmn",
            ),
            (true, false) => (
                format!(
                    "Thank you. We will call you back on your number ending in {last}, keeping your place in line. Goodbye."
                ),
                "en",
            ),
            (false, true) => ("对不起，现在无法安排回拨。再见。".to_string(), "cmn"),
            (false, false) => (
                "Sorry, we cannot take a callback request now. Goodbye.".to_string(),
                "en",
            ),
        };
        if let Some(s) = self.media.as_ref().and_then(|m| m.session()) {
            let _ = s.stop_playback().await;
        }
        let say = [PromptItem::Say {
            text,
            voice: voice.into(),
        }];
        match self.play_flow_prompts(&say, false).await {
            Some(id) => self.hangup_after = Some(id),
            None => {
                self.note_end(HangupBy::Switch, "left the queue for a callback", None);
                self.hang_up_both().await;
            }
        }
        true
    }

    /// A playlist ended: after an announcement, the music resumes. True
    /// when it was one.
    pub(super) async fn queue_announcement_done(&mut self, id: PlaybackId) -> bool {
        let Some(w) = self.queue.as_mut().filter(|w| w.announcing == Some(id)) else {
            return false;
        };
        w.announcing = None;
        if w.answered_by.is_none() {
            self.play_music_on_hold().await;
        }
        true
    }

    /// The caller waited the queue's maximum: overflow, or the flow's
    /// `no_answer` exit.
    async fn queue_max_wait(&mut self) {
        let Some(w) = self.queue.as_mut() else { return };
        let forks: Vec<usize> = w.offers.drain(..).flat_map(|o| o.forks).collect();
        let (acd, entry, from) = (w.acd.clone(), w.entry, w.queue.clone());
        self.cancel_these_forks(&forks).await;
        match acd.give_up(entry).await {
            Some((to, joined)) => {
                let detail = format!("{from}: waited too long, overflow to {to}");
                self.journal_event(CallEventKind::Queue, &detail).await;
                if let Some(w) = self.queue.as_mut() {
                    w.queue = to;
                    w.max_wait_at = Instant::now() + joined.max_wait;
                }
            }
            None => {
                let detail = format!("{from}: waited too long");
                self.journal_event(CallEventKind::Queue, &detail).await;
                self.queue_left(true).await;
            }
        }
    }

    /// The wait is over without an agent: the flow goes on (`no_answer`).
    async fn queue_left(&mut self, left_acd: bool) {
        if let Some(w) = self.queue.take()
            && !left_acd
        {
            w.acd.leave(w.entry).await;
        }
        self.cancel_forks().await;
        self.set_handing_off(false);
        if matches!(
            self.app.as_ref().map(|a| &a.phase),
            Some(super::app::Phase::Held(_))
        ) {
            // After a transfer no flow goes on.
            return self.nobody_can_take_the_call().await;
        }
        self.flow_input(Input::HandOffDone { answered: false })
            .await;
    }

    /// The call ends: a waiting caller leaves the line; a connected one's
    /// agent goes to wrap-up.
    pub(super) async fn queue_call_ended(&mut self) {
        let Some(w) = self.queue.take() else { return };
        if w.answered_by.is_some() {
            w.acd.ended(w.entry).await;
        } else {
            w.acd.leave(w.entry).await;
        }
    }
}

/// Whether `number` can be called back: a number (E.164 or national
/// digits), not an anonymous or textual caller.
fn callable(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    (3..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
}
