//! The agent state machine (docs/agent-states.md): what an agent may do
//! next, given what just happened. Sans-IO: [`AgentStatus::apply`] takes an
//! event and the time, changes the state or refuses the event, and says
//! what the ACD must do about it (withdraw an offer). It owns no timer:
//! the wrap-up's end is a time the ACD watches.
//!
//! A state that holds the agent for a call (reserved, ringing, on call)
//! always names that call's queue entry or call, so the ACD can check that
//! none is left without a live one.

use std::fmt;

/// Identifies a waiting caller (a queue entry) in the ACD.
pub type EntryId = u64;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Where an agent stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    LoggedOut,
    /// Ready for a call, idle since `since`.
    Available {
        since: Millis,
    },
    /// Chosen for `entry`; the offer is being made.
    Reserved {
        entry: EntryId,
    },
    /// The agent's phone rings for `entry`.
    Ringing {
        entry: EntryId,
    },
    /// Talking to the caller of `entry`.
    OnCall {
        entry: EntryId,
    },
    /// After a call, until `until` (or the agent ends it early).
    WrapUp {
        until: Millis,
    },
    /// Not taking calls: a break with its reason code, or the switch put
    /// the agent here (missed offers, no phone registered).
    NotReady {
        reason: String,
    },
}

impl AgentState {
    /// The state's name, as stored and shown.
    pub fn name(&self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::Available { .. } => "available",
            Self::Reserved { .. } => "reserved",
            Self::Ringing { .. } => "ringing",
            Self::OnCall { .. } => "on_call",
            Self::WrapUp { .. } => "wrap_up",
            Self::NotReady { .. } => "not_ready",
        }
    }

    /// The queue entry this state holds the agent for, if any.
    pub fn entry(&self) -> Option<EntryId> {
        match self {
            Self::Reserved { entry } | Self::Ringing { entry } | Self::OnCall { entry } => {
                Some(*entry)
            }
            _ => None,
        }
    }

    /// Holding an offer that is not answered yet.
    pub fn is_offered(&self) -> bool {
        matches!(self, Self::Reserved { .. } | Self::Ringing { .. })
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotReady { reason } => write!(f, "not_ready ({reason})"),
            other => f.write_str(other.name()),
        }
    }
}

/// What happens to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// `*21`: log in (if logged out) and be ready; also ends a break or
    /// a wrap-up early.
    Ready,
    /// `*22`: not ready, with a reason code (`break`, `lunch`, ...).
    NotReady { reason: String },
    /// `*23`: log out.
    LogOut,
    /// The ACD chose the agent for `entry`.
    Offer { entry: EntryId },
    /// The agent's phone is ringing for `entry`.
    Ring { entry: EntryId },
    /// The agent answered `entry`.
    Answer { entry: EntryId },
    /// The offer of `entry` was not answered (ring timeout, refused, the
    /// phone could not be reached): a missed offer.
    NoAnswer { entry: EntryId },
    /// The offer of `entry` was withdrawn, not missed: the caller hung up,
    /// or another agent answered first (ring all).
    Withdraw { entry: EntryId },
    /// The call of `entry` ended (either side hung up); wrap-up for
    /// `wrap_up_ms` (the queue's).
    CallEnded { entry: EntryId, wrap_up_ms: Millis },
    /// Extend the wrap-up by `ms`.
    ExtendWrapUp { ms: Millis },
    /// The wrap-up time ran out (the ACD watches `until`).
    WrapUpEnded,
    /// The agent's last phone unregistered.
    EndpointLost,
    /// The switch restarted: no call, offer or timer survived it.
    Restarted,
}

/// Why an event does not apply in the agent's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not allowed while {state}")]
pub struct Refused {
    pub state: &'static str,
    pub event: &'static str,
}

impl AgentEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::NotReady { .. } => "not_ready",
            Self::LogOut => "log_out",
            Self::Offer { .. } => "offer",
            Self::Ring { .. } => "ring",
            Self::Answer { .. } => "answer",
            Self::NoAnswer { .. } => "no_answer",
            Self::Withdraw { .. } => "withdraw",
            Self::CallEnded { .. } => "call_ended",
            Self::ExtendWrapUp { .. } => "extend_wrap_up",
            Self::WrapUpEnded => "wrap_up_ended",
            Self::EndpointLost => "endpoint_lost",
            Self::Restarted => "restarted",
        }
    }
}

/// What the ACD must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The agent's offer of `entry` is off: stop ringing them and route
    /// the entry again.
    WithdrawOffer { entry: EntryId },
}

/// Where an agent goes once the call they are on ends, when they asked
/// for a break or to log out during it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterCall {
    NotReady { reason: String },
    LogOut,
}

/// One agent's state, with what the state machine needs besides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    pub state: AgentState,
    /// Offers missed in a row.
    pub missed: u32,
    /// After this many missed offers in a row the agent is not ready.
    pub max_missed: u32,
    /// Asked during a call: applied when the call (and wrap-up) ends.
    pub after_call: Option<AfterCall>,
}

impl AgentStatus {
    /// A logged-out agent (as every agent starts).
    pub fn new(max_missed: u32) -> Self {
        AgentStatus {
            state: AgentState::LoggedOut,
            missed: 0,
            max_missed: max_missed.max(1),
            after_call: None,
        }
    }

    /// Applies `event` at `now`. On success the state may have changed
    /// (an event can also leave it as it is, e.g. a second `Ready`) and
    /// the effects say what the ACD must do.
    pub fn apply(&mut self, event: AgentEvent, now: Millis) -> Result<Vec<Effect>, Refused> {
        use AgentEvent as E;
        use AgentState as S;
        let refuse = |state: &S, event: &E| Refused {
            state: state.name(),
            event: event.name(),
        };
        let mut effects = Vec::new();
        let next = match (&self.state, &event) {
            // Ready: log in, end a break, end a wrap-up early.
            (S::LoggedOut | S::NotReady { .. } | S::WrapUp { .. }, E::Ready) => {
                self.missed = 0;
                self.after_call = None;
                S::Available { since: now }
            }
            (S::Available { .. }, E::Ready) => return Ok(effects),
            // During a call, Ready cancels a break or log-out asked for.
            (S::Reserved { .. } | S::Ringing { .. } | S::OnCall { .. }, E::Ready) => {
                self.after_call = None;
                return Ok(effects);
            }

            (
                S::Available { .. } | S::WrapUp { .. } | S::NotReady { .. },
                E::NotReady { reason },
            ) => S::NotReady {
                reason: reason.clone(),
            },
            (S::Reserved { entry } | S::Ringing { entry }, E::NotReady { reason }) => {
                effects.push(Effect::WithdrawOffer { entry: *entry });
                S::NotReady {
                    reason: reason.clone(),
                }
            }
            (S::OnCall { .. }, E::NotReady { reason }) => {
                self.after_call = Some(AfterCall::NotReady {
                    reason: reason.clone(),
                });
                return Ok(effects);
            }

            (S::LoggedOut, E::LogOut) => return Ok(effects),
            (S::Reserved { entry } | S::Ringing { entry }, E::LogOut) => {
                effects.push(Effect::WithdrawOffer { entry: *entry });
                S::LoggedOut
            }
            (S::OnCall { .. }, E::LogOut) => {
                self.after_call = Some(AfterCall::LogOut);
                return Ok(effects);
            }
            (_, E::LogOut) => S::LoggedOut,

            (S::Available { .. }, E::Offer { entry }) => S::Reserved { entry: *entry },
            (S::Reserved { entry: held } | S::Ringing { entry: held }, E::Ring { entry })
                if held == entry =>
            {
                S::Ringing { entry: *entry }
            }
            (S::Reserved { entry: held } | S::Ringing { entry: held }, E::Answer { entry })
                if held == entry =>
            {
                self.missed = 0;
                S::OnCall { entry: *entry }
            }
            (S::Reserved { entry: held } | S::Ringing { entry: held }, E::NoAnswer { entry })
                if held == entry =>
            {
                self.missed += 1;
                if self.missed >= self.max_missed {
                    S::NotReady {
                        reason: format!("missed {} offers", self.missed),
                    }
                } else {
                    S::Available { since: now }
                }
            }
            (S::Reserved { entry: held } | S::Ringing { entry: held }, E::Withdraw { entry })
                if held == entry =>
            {
                S::Available { since: now }
            }
            (S::OnCall { entry: held }, E::CallEnded { entry, wrap_up_ms }) if held == entry => {
                match self.after_call.take() {
                    Some(AfterCall::LogOut) => S::LoggedOut,
                    Some(AfterCall::NotReady { reason }) => S::NotReady { reason },
                    None if *wrap_up_ms > 0 => S::WrapUp {
                        until: now + wrap_up_ms,
                    },
                    None => S::Available { since: now },
                }
            }
            (S::WrapUp { until }, E::ExtendWrapUp { ms }) if *ms > 0 => {
                S::WrapUp { until: until + ms }
            }
            (S::WrapUp { .. }, E::WrapUpEnded) => S::Available { since: now },

            (S::Available { .. }, E::EndpointLost) => S::NotReady {
                reason: "no phone registered".into(),
            },
            (S::Reserved { entry } | S::Ringing { entry }, E::EndpointLost) => {
                effects.push(Effect::WithdrawOffer { entry: *entry });
                S::NotReady {
                    reason: "no phone registered".into(),
                }
            }
            // A call in progress goes on; other states do not need a phone.
            (_, E::EndpointLost) => return Ok(effects),

            // Nothing survives a restart: an agent held for a call is free
            // (wrap-up is cut short; the call was closed in its CDR).
            (
                S::Reserved { .. } | S::Ringing { .. } | S::OnCall { .. } | S::WrapUp { .. },
                E::Restarted,
            ) => match self.after_call.take() {
                Some(AfterCall::LogOut) => S::LoggedOut,
                Some(AfterCall::NotReady { reason }) => S::NotReady { reason },
                None => S::Available { since: now },
            },
            (_, E::Restarted) => return Ok(effects),

            (state, event) => return Err(refuse(state, event)),
        };
        self.state = next;
        Ok(effects)
    }
}
