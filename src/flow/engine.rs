//! The flow interpreter, sans-IO: one call's walk through a [`FlowSet`].
//! It owns the call's position (flow, node, what the node waits for), its
//! variables and the retries; it reads no clock, plays nothing and opens
//! no socket. The call gives it [`Input`]s (the flow starts, a playlist
//! ended, a key, the timer it asked for, a lookup's outcome, a hand-off's
//! outcome) with the time, and performs the [`Action`]s it returns (play,
//! set the timer, look up, journal, mark the disclosure, queue, hang up).
//!
//! Every node entered, key taken, branch chosen and lookup outcome is a
//! [`Action::Journal`] entry, so the call's journey is kept as it happens.
//! A walk that takes no input is bounded ([`MAX_STEPS`] nodes per input);
//! `check` already refuses loops without input, this is the runtime's own
//! guard.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::FlowSet;
use super::expr::{Value, Variables};
use super::model::{Flow, LookupSource, NodeKind, Prompt, PromptItem, TransferTarget};
use crate::store::CallEventKind;

/// Most nodes walked for one input before the flow is stopped.
pub const MAX_STEPS: usize = 64;
/// How long the callback node waits for a choice, or between keys of
/// another number.
pub const CALLBACK_KEY_TIMEOUT: Duration = Duration::from_secs(10);
/// Choices (or numbers) the callback node asks for before giving up.
pub const CALLBACK_ATTEMPTS: u32 = 3;

/// What happened to the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The flow starts (the caller is answered).
    Start,
    /// The playlist of the last [`Action::Play`] ended (or was stopped).
    PlaybackDone,
    /// The caller pressed a key.
    Digit(char),
    /// The timer of the last [`Action::SetTimer`] fired.
    Timeout,
    /// The outcome of the last [`Action::Lookup`].
    LookupDone(LookupOutcome),
    /// The outcome of an [`Action::Queue`] or [`Action::Transfer`]:
    /// someone answered (the flow is over) or not.
    HandOffDone { answered: bool },
    /// The message of an [`Action::RecordVoicemail`] is recorded.
    VoicemailDone,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LookupOutcome {
    /// The customer's fields (`name`, `tier`, `language`...).
    Found(BTreeMap<String, String>),
    NotFound,
    Failed(String),
}

/// What the call must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Play these (files relative to the prompts folder, or text to speak),
    /// replacing whatever plays; `barge_in`: a key stops it.
    Play {
        items: Vec<PromptItem>,
        barge_in: bool,
    },
    StopPlayback,
    /// Fire [`Input::Timeout`] after this long (replaces any timer).
    SetTimer(Duration),
    CancelTimer,
    /// An entry of the call's journey.
    Journal {
        kind: CallEventKind,
        detail: String,
    },
    Lookup(LookupRequest),
    /// The recording notice is over: record the call from now on, unless
    /// the caller opted out.
    DisclosureDone {
        opted_out: bool,
    },
    /// Hand the caller to a queue (for now: ring `agents` together);
    /// answer with [`Input::HandOffDone`].
    Queue {
        queue: String,
        skills: Vec<String>,
        priority: i64,
        agents: Vec<String>,
        max_wait: Duration,
    },
    /// Ring the target for at most `ring`.
    Transfer {
        target: TransferTarget,
        ring: Duration,
    },
    /// Record a message (after a beep), then [`Input::VoicemailDone`].
    RecordVoicemail {
        max: Duration,
        beep: bool,
    },
    /// Store a callback request to this number, for `queue` (empty: the
    /// first queue), dialled while `calendar` is open (`None`: any time).
    StoreCallback {
        number: String,
        queue: String,
        calendar: Option<String>,
    },
    Hangup,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LookupRequest {
    /// The customer table, by the caller's number.
    Customers { number: String },
    /// GET this URL (variables already filled in), within `timeout`.
    Crm { url: String, timeout: Duration },
}

/// What the current node waits for.
#[derive(Debug, Clone, PartialEq)]
enum Wait {
    /// Nothing: the flow is over (hung up, or handed off and answered).
    Done,
    /// The notice to finish (or the opt-out key).
    Disclosure,
    /// A playlist to finish, then go to `next`.
    Playing {
        next: String,
    },
    /// A key of a menu; `playing`: its prompts are still playing.
    Menu {
        attempt: u32,
        playing: bool,
    },
    /// Keys of a collect node.
    Collect {
        attempt: u32,
        digits: String,
        playing: bool,
    },
    Lookup,
    HandOff,
    /// The voicemail prompt, then the message.
    VoicemailPrompt,
    VoicemailRecording,
    /// The callback choice; then, for another number, its keys.
    Callback {
        attempt: u32,
        keyed: Option<String>,
    },
}

/// One call's walk through the flows of one [`FlowSet`] (the version the
/// call started with, whatever reloads happen meanwhile).
#[derive(Debug)]
pub struct Engine {
    set: Arc<FlowSet>,
    flow: Arc<Flow>,
    node: String,
    /// The calendar of branch nodes that name none: the trunk number's,
    /// else the flow's.
    calendar: Option<String>,
    caller_number: String,
    called_number: String,
    /// The caller's language: the customer's once known, else the flow's.
    language: Option<String>,
    customer: BTreeMap<String, String>,
    vars: BTreeMap<String, Value>,
    digits: String,
    wait: Wait,
    /// Now, for calendars (set with each input).
    now: Timestamp,
}

impl Engine {
    /// A walk of `flow` (of `set`) for a call from `caller` to `called`;
    /// `calendar` overrides the flow's (the trunk number's setting).
    pub fn new(
        set: Arc<FlowSet>,
        flow: Arc<Flow>,
        caller: &str,
        called: &str,
        calendar: Option<String>,
    ) -> Self {
        let node = flow.entry.clone();
        Self {
            set,
            calendar: calendar.or_else(|| flow.calendar.clone()),
            flow,
            node,
            caller_number: caller.to_string(),
            called_number: called.to_string(),
            language: None,
            customer: BTreeMap::new(),
            vars: BTreeMap::new(),
            digits: String::new(),
            wait: Wait::Done,
            now: Timestamp::UNIX_EPOCH,
        }
    }

    /// Whether the flow is over (nothing more will come of it).
    pub fn is_done(&self) -> bool {
        self.wait == Wait::Done
    }

    /// The node the call is at, as `flow.node`.
    pub fn position(&self) -> String {
        format!("{}.{}", self.flow.name, self.node)
    }

    /// Whether the call is at a `disclosure` node (its notice playing).
    pub fn at_disclosure(&self) -> bool {
        matches!(
            self.flow.nodes.get(&self.node).map(|n| &n.kind),
            Some(NodeKind::Disclosure { .. })
        )
    }

    /// What the flow learnt about the caller, for the agent: the
    /// customer's fields (`customer.tier`, ...), the language and the
    /// flow's variables (`vars.x`), as (name, text).
    pub fn context(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .customer
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (format!("customer.{k}"), v.clone()))
            .collect();
        out.push(("language".into(), self.language().to_string()));
        out.extend(
            self.vars
                .iter()
                .map(|(k, v)| (format!("vars.{k}"), v.to_string())),
        );
        out
    }

    /// Why the caller called, for the queue figures: the flow's `intent`
    /// variable when it set one, else the node the call is at (a queue
    /// node's name, e.g. `complaints`).
    pub fn intent(&self) -> String {
        match self.vars.get("intent").map(ToString::to_string) {
            Some(v) if !v.is_empty() => v,
            _ => self.node.clone(),
        }
    }

    /// The caller's language as prompts pick it.
    pub fn language(&self) -> &str {
        self.language.as_deref().unwrap_or(&self.flow.language)
    }

    /// Handles `input` at `now`; the actions to perform, in order.
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Vec<Action> {
        self.now = now;
        let mut out = Vec::new();
        let next = match (&mut self.wait, input) {
            (_, Input::Start) => Some(self.flow.entry.clone()),
            (Wait::Done, _) => None,
            (Wait::Disclosure, Input::Digit(d)) => {
                let NodeKind::Disclosure { opt_out, next, .. } = self.kind() else {
                    return out;
                };
                if Some(d) != *opt_out {
                    return out;
                }
                let next = next.clone();
                out.push(Action::StopPlayback);
                out.push(journal(CallEventKind::Disclosure, "opted out of recording"));
                out.push(Action::DisclosureDone { opted_out: true });
                Some(next)
            }
            (Wait::Disclosure, Input::PlaybackDone) => {
                let NodeKind::Disclosure { next, .. } = self.kind() else {
                    return out;
                };
                let next = next.clone();
                out.push(journal(CallEventKind::Disclosure, "played"));
                out.push(Action::DisclosureDone { opted_out: false });
                Some(next)
            }
            (Wait::Playing { next }, Input::PlaybackDone) => Some(next.clone()),
            (Wait::Menu { .. }, input) => self.menu_input(input, &mut out),
            (Wait::Collect { .. }, input) => self.collect_input(input, &mut out),
            (Wait::Lookup, Input::LookupDone(outcome)) => Some(self.lookup_done(outcome, &mut out)),
            (Wait::HandOff, Input::HandOffDone { answered }) => {
                if answered {
                    self.wait = Wait::Done;
                    None
                } else {
                    let exit = match self.kind() {
                        NodeKind::Queue(q) => q.no_answer.clone(),
                        NodeKind::Transfer { failed, .. } => failed.clone(),
                        _ => None,
                    };
                    out.push(journal(CallEventKind::Node, "nobody answered"));
                    if exit.is_none() {
                        out.push(Action::Hangup);
                        self.wait = Wait::Done;
                    }
                    exit
                }
            }
            (Wait::VoicemailPrompt, Input::PlaybackDone) => {
                if let NodeKind::Voicemail(v) = self.kind() {
                    out.push(Action::RecordVoicemail {
                        max: Duration::from_secs(u64::from(v.max_seconds)),
                        beep: v.beep,
                    });
                    self.wait = Wait::VoicemailRecording;
                }
                None
            }
            (Wait::VoicemailRecording, Input::VoicemailDone) => match self.kind() {
                NodeKind::Voicemail(v) => {
                    out.push(journal(CallEventKind::Voicemail, "message recorded"));
                    Some(v.next.clone())
                }
                _ => None,
            },
            (Wait::Callback { .. }, input) => self.callback_input(input, &mut out),
            _ => None,
        };
        if let Some(node) = next {
            self.walk(node, &mut out);
        }
        out
    }

    fn kind(&self) -> &NodeKind {
        &self.flow.nodes[&self.node].kind
    }

    /// Enters `node` and walks on through nodes that wait for nothing.
    fn walk(&mut self, mut node: String, out: &mut Vec<Action>) {
        for _ in 0..MAX_STEPS {
            match self.enter(node, out) {
                Some(next) => node = next,
                None => return,
            }
        }
        out.push(journal(
            CallEventKind::Node,
            &format!("stopped: more than {MAX_STEPS} nodes without input"),
        ));
        out.push(Action::Hangup);
        self.wait = Wait::Done;
    }

    /// Enters `node`: its actions, and the next node when it waits for
    /// nothing.
    fn enter(&mut self, node: String, out: &mut Vec<Action>) -> Option<String> {
        self.node = node;
        let flow = self.flow.clone();
        let kind = &flow.nodes[&self.node].kind;
        out.push(journal(
            CallEventKind::Node,
            &format!("{} ({})", self.position(), kind.type_name()),
        ));
        match kind {
            NodeKind::Play { prompts, next } => {
                self.play(prompts, false, out);
                self.wait = Wait::Playing { next: next.clone() };
                None
            }
            NodeKind::Disclosure { prompts, .. } => {
                self.play(prompts, false, out);
                self.wait = Wait::Disclosure;
                None
            }
            NodeKind::Menu(m) => {
                out.push(Action::CancelTimer);
                self.play(&m.prompts, true, out);
                self.wait = Wait::Menu {
                    attempt: 0,
                    playing: true,
                };
                None
            }
            NodeKind::Collect(c) => {
                out.push(Action::CancelTimer);
                self.play(&c.prompts, true, out);
                self.wait = Wait::Collect {
                    attempt: 0,
                    digits: String::new(),
                    playing: true,
                };
                None
            }
            NodeKind::Branch { cases, default } => {
                let chosen = cases
                    .iter()
                    .enumerate()
                    .find(|(_, c)| c.when.is_true(&*self));
                let (detail, next) = match chosen {
                    Some((i, c)) => (format!("case {i} ({}) -> {}", c.text, c.next), &c.next),
                    None => (format!("default -> {default}"), default),
                };
                out.push(journal(CallEventKind::Branch, &detail));
                Some(next.clone())
            }
            NodeKind::Calendar {
                calendar,
                open,
                closed,
            } => {
                let name = calendar.clone().or_else(|| self.calendar.clone());
                let is_open = self.calendar_open(name.as_deref());
                let (state, next) = if is_open {
                    ("open", open)
                } else {
                    ("closed", closed)
                };
                out.push(journal(
                    CallEventKind::Branch,
                    &format!(
                        "calendar {} {state} -> {next}",
                        name.as_deref().unwrap_or("(none)")
                    ),
                ));
                Some(next.clone())
            }
            NodeKind::Lookup(l) => {
                let request = match &l.source {
                    LookupSource::Customers => LookupRequest::Customers {
                        number: self.caller_number.clone(),
                    },
                    LookupSource::Crm(crm) => {
                        let vars = |name: &str| self.get(name).map(|v| v.text());
                        match crate::crm::fill(&crm.url, &vars) {
                            Ok(url) => LookupRequest::Crm {
                                url,
                                timeout: Duration::from_millis(crm.timeout_ms),
                            },
                            Err(e) => {
                                out.push(journal(CallEventKind::Lookup, &format!("failed: {e}")));
                                return Some(l.failed.clone());
                            }
                        }
                    }
                };
                out.push(Action::Lookup(request));
                self.wait = Wait::Lookup;
                None
            }
            NodeKind::Set { vars, next } => {
                for (name, expr) in vars {
                    let value = expr.value(&*self);
                    out.push(journal(
                        CallEventKind::Set,
                        &format!("vars.{name} = {value}"),
                    ));
                    self.vars.insert(name.clone(), value);
                }
                Some(next.clone())
            }
            NodeKind::Queue(q) => {
                out.push(journal(
                    CallEventKind::Queue,
                    &format!("{} (priority {})", q.queue, q.priority),
                ));
                out.push(Action::Queue {
                    queue: q.queue.clone(),
                    skills: q.skills.clone(),
                    priority: q.priority,
                    agents: q.agents.clone(),
                    max_wait: Duration::from_secs(u64::from(q.max_wait_seconds)),
                });
                self.wait = Wait::HandOff;
                None
            }
            NodeKind::Transfer {
                target,
                ring_seconds,
                ..
            } => {
                out.push(journal(CallEventKind::Transfer, &target.to_string()));
                out.push(Action::Transfer {
                    target: target.clone(),
                    ring: Duration::from_secs(u64::from(*ring_seconds)),
                });
                self.wait = Wait::HandOff;
                None
            }
            NodeKind::Voicemail(v) => {
                self.play(&v.prompts, false, out);
                self.wait = Wait::VoicemailPrompt;
                None
            }
            NodeKind::Callback(c) => {
                self.play(&c.prompts, true, out);
                self.wait = Wait::Callback {
                    attempt: 0,
                    keyed: None,
                };
                None
            }
            NodeKind::Hangup => {
                out.push(Action::CancelTimer);
                out.push(Action::Hangup);
                self.wait = Wait::Done;
                None
            }
            NodeKind::Goto { flow, node } => {
                let Some(target) = self.set.get(flow) else {
                    out.push(journal(CallEventKind::Node, &format!("no flow `{flow}`")));
                    out.push(Action::Hangup);
                    self.wait = Wait::Done;
                    return None;
                };
                let entry = node.clone().unwrap_or_else(|| target.entry.clone());
                if target.calendar.is_some() && self.calendar == self.flow.calendar {
                    self.calendar = target.calendar.clone();
                }
                self.flow = target;
                Some(entry)
            }
        }
    }

    /// Plays `prompts` in the caller's language.
    fn play(&self, prompts: &[Prompt], barge_in: bool, out: &mut Vec<Action>) {
        let language = self.language.as_deref();
        let items = prompts
            .iter()
            .map(|p| p.pick(language, &self.flow.language).clone())
            .collect();
        out.push(Action::Play { items, barge_in });
    }

    fn calendar_open(&self, name: Option<&str>) -> bool {
        name.and_then(|n| self.set.calendars().is_open(n, self.now))
            .unwrap_or(true)
    }

    fn menu_input(&mut self, input: Input, out: &mut Vec<Action>) -> Option<String> {
        let NodeKind::Menu(m) = self.flow.nodes[&self.node].kind.clone() else {
            return None;
        };
        let Wait::Menu { attempt, playing } = &mut self.wait else {
            return None;
        };
        let retry_with = match input {
            Input::PlaybackDone if *playing => {
                *playing = false;
                out.push(Action::SetTimer(Duration::from_millis(m.timeout_ms)));
                return None;
            }
            Input::Digit(d) => {
                if *playing {
                    out.push(Action::StopPlayback);
                }
                out.push(Action::CancelTimer);
                if let Some(next) = m.choices.get(&d) {
                    out.push(journal(CallEventKind::Node, &format!("key {d} -> {next}")));
                    return Some(next.clone());
                }
                out.push(journal(
                    CallEventKind::Node,
                    &format!("key {d}: not a choice"),
                ));
                &m.invalid_prompts
            }
            Input::Timeout if !*playing => {
                out.push(journal(CallEventKind::Node, "no key"));
                &m.timeout_prompts
            }
            _ => return None,
        };
        *attempt += 1;
        if *attempt > m.retries {
            out.push(journal(
                CallEventKind::Node,
                &format!("retries exhausted -> {}", m.exhausted),
            ));
            return Some(m.exhausted.clone());
        }
        *playing = true;
        let mut again = retry_with.clone();
        again.extend(m.prompts.iter().cloned());
        self.play(&again, true, out);
        None
    }

    fn collect_input(&mut self, input: Input, out: &mut Vec<Action>) -> Option<String> {
        let NodeKind::Collect(c) = self.flow.nodes[&self.node].kind.clone() else {
            return None;
        };
        let Wait::Collect {
            attempt,
            digits,
            playing,
        } = &mut self.wait
        else {
            return None;
        };
        enum End {
            Complete,
            Retry(bool),
        }
        let end = match input {
            Input::PlaybackDone if *playing => {
                *playing = false;
                if digits.is_empty() {
                    out.push(Action::SetTimer(Duration::from_millis(
                        c.first_digit_timeout_ms,
                    )));
                }
                return None;
            }
            Input::Digit(d) => {
                if *playing {
                    *playing = false;
                    out.push(Action::StopPlayback);
                }
                if Some(d) == c.terminator {
                    End::Complete
                } else {
                    digits.push(d);
                    if digits.len() >= c.max_digits as usize {
                        End::Complete
                    } else {
                        out.push(Action::SetTimer(Duration::from_millis(
                            c.inter_digit_timeout_ms,
                        )));
                        return None;
                    }
                }
            }
            Input::Timeout if !*playing => {
                if digits.is_empty() {
                    End::Retry(true)
                } else {
                    End::Complete
                }
            }
            _ => return None,
        };
        out.push(Action::CancelTimer);
        let timed_out = match end {
            End::Complete if digits.len() >= c.min_digits as usize => {
                let got = std::mem::take(digits);
                out.push(journal(
                    CallEventKind::Node,
                    &format!("{} digit(s) collected -> {}", got.len(), c.next),
                ));
                if let Some(var) = &c.var {
                    self.vars.insert(var.clone(), Value::Text(got.clone()));
                }
                self.digits = got;
                return Some(c.next.clone());
            }
            End::Complete => false,
            End::Retry(timed_out) => timed_out,
        };
        digits.clear();
        *attempt += 1;
        out.push(journal(
            CallEventKind::Node,
            if timed_out {
                "no digits"
            } else {
                "too few digits"
            },
        ));
        if *attempt > c.retries {
            out.push(journal(
                CallEventKind::Node,
                &format!("retries exhausted -> {}", c.exhausted),
            ));
            return Some(c.exhausted.clone());
        }
        *playing = true;
        let mut again = if timed_out {
            c.timeout_prompts.clone()
        } else {
            c.invalid_prompts.clone()
        };
        again.extend(c.prompts.iter().cloned());
        self.play(&again, true, out);
        None
    }

    fn lookup_done(&mut self, outcome: LookupOutcome, out: &mut Vec<Action>) -> String {
        let NodeKind::Lookup(l) = self.kind().clone() else {
            return self.node.clone();
        };
        match outcome {
            LookupOutcome::Found(fields) => {
                out.push(journal(
                    CallEventKind::Lookup,
                    &format!(
                        "found (tier {})",
                        fields.get("tier").map_or("-", String::as_str)
                    ),
                ));
                if let Some(lang) = fields.get("language").filter(|l| !l.is_empty()) {
                    self.language = Some(lang.clone());
                }
                self.customer = fields;
                l.found
            }
            LookupOutcome::NotFound => {
                out.push(journal(CallEventKind::Lookup, "not found"));
                l.not_found
            }
            LookupOutcome::Failed(why) => {
                out.push(journal(CallEventKind::Lookup, &format!("failed: {why}")));
                l.failed
            }
        }
    }

    fn callback_input(&mut self, input: Input, out: &mut Vec<Action>) -> Option<String> {
        let NodeKind::Callback(c) = self.flow.nodes[&self.node].kind.clone() else {
            return None;
        };
        let Wait::Callback { keyed, .. } = &mut self.wait else {
            return None;
        };
        match (keyed.as_mut(), input) {
            (None, Input::PlaybackDone) => {
                out.push(Action::SetTimer(CALLBACK_KEY_TIMEOUT));
                None
            }
            (None, Input::Digit(d)) if d == c.confirm_digit => {
                out.push(Action::StopPlayback);
                out.push(Action::CancelTimer);
                out.push(journal(CallEventKind::Callback, "on the caller's number"));
                out.push(Action::StoreCallback {
                    number: self.caller_number.clone(),
                    queue: c.queue.clone().unwrap_or_default(),
                    calendar: self.calendar.clone(),
                });
                Some(c.next.clone())
            }
            (None, Input::Digit(d)) if d == c.change_digit => {
                out.push(Action::StopPlayback);
                out.push(Action::SetTimer(CALLBACK_KEY_TIMEOUT));
                *keyed = Some(String::new());
                None
            }
            (Some(number), Input::Digit('#')) => {
                let number = std::mem::take(number);
                out.push(Action::CancelTimer);
                if (7..=15).contains(&number.len()) {
                    out.push(journal(
                        CallEventKind::Callback,
                        "on a number keyed by the caller",
                    ));
                    out.push(Action::StoreCallback {
                        number: format!("+{number}"),
                        queue: c.queue.clone().unwrap_or_default(),
                        calendar: self.calendar.clone(),
                    });
                    return Some(c.next.clone());
                }
                *keyed = None;
                self.callback_retry(&c.prompts, c.next.clone(), out)
            }
            (Some(number), Input::Digit(d)) if d.is_ascii_digit() => {
                number.push(d);
                out.push(Action::SetTimer(CALLBACK_KEY_TIMEOUT));
                None
            }
            (_, Input::Timeout) | (None, Input::Digit(_)) => {
                if let Wait::Callback { keyed, .. } = &mut self.wait {
                    *keyed = None;
                }
                self.callback_retry(&c.prompts, c.next.clone(), out)
            }
            _ => None,
        }
    }

    /// Asks again, or gives up (no request) after [`CALLBACK_ATTEMPTS`].
    fn callback_retry(
        &mut self,
        prompts: &[Prompt],
        next: String,
        out: &mut Vec<Action>,
    ) -> Option<String> {
        let Wait::Callback { attempt, .. } = &mut self.wait else {
            return None;
        };
        *attempt += 1;
        if *attempt >= CALLBACK_ATTEMPTS {
            out.push(Action::CancelTimer);
            out.push(journal(CallEventKind::Callback, "no request taken"));
            return Some(next);
        }
        out.push(Action::StopPlayback);
        self.play(prompts, true, out);
        None
    }
}

impl Variables for Engine {
    fn get(&self, name: &str) -> Option<Value> {
        let text = |s: &str| Some(Value::Text(s.to_string()));
        match name {
            "caller.number" => text(&self.caller_number),
            "caller.name" => self.customer.get("name").and_then(|n| text(n)),
            "caller.language" => text(self.language()),
            "called.number" => text(&self.called_number),
            "digits" => text(&self.digits),
            "calendar.open" => Some(Value::Bool(self.calendar_open(self.calendar.as_deref()))),
            _ => {
                if let Some(field) = name.strip_prefix("customer.") {
                    self.customer.get(field).and_then(|v| text(v))
                } else if let Some(var) = name.strip_prefix("vars.") {
                    self.vars.get(var).cloned()
                } else {
                    None
                }
            }
        }
    }
}

fn journal(kind: CallEventKind, detail: &str) -> Action {
    Action::Journal {
        kind,
        detail: detail.to_string(),
    }
}
