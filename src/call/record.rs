//! What a call writes down: its detail record (inserted when it arrives,
//! answered, journal entries for digits, hold and media timeouts, closed
//! with disposition, cause and per-leg quality) through the CDR writer,
//! and how media events of the relay turn into call decisions.

use bytes::Bytes;

use super::dialog::{Side, header_text};
use super::fork::body_of;
use super::media::{MediaEvent, SDP};
use super::{Call, CallerState};
use crate::media::recorder::{RecorderConfig, start_recording};
use crate::media::relay::{LegId, LegSummary, RelayEvent};
use crate::sip::codec::{HeaderName, SipMessage};
use crate::store::{
    AgentLeg, CallEnd, CallEventKind, CallRecord, Disposition, HangupBy, LegQuality,
};

/// Why and by whom a call ended.
#[derive(Debug, Clone)]
pub struct EndInfo {
    pub by: HangupBy,
    pub cause: String,
    pub status: Option<u16>,
}

/// Now, in Unix milliseconds.
pub fn unix_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

/// The user part of a From or To header value or of a URI (`+1555...`).
fn user_of(text: &str) -> String {
    let uri = text
        .split_once('<')
        .map_or(text, |(_, rest)| rest.split('>').next().unwrap_or(rest));
    let after_scheme = uri.split_once(':').map_or(uri, |(_, r)| r);
    match after_scheme.split_once('@') {
        Some((user, _)) => user.split(';').next().unwrap_or(user).to_string(),
        None => String::new(),
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Caller => "caller",
        Side::Agent => "agent",
    }
}

fn side_of_leg(leg: LegId) -> Side {
    match leg {
        LegId::A => Side::Caller,
        LegId::B => Side::Agent,
    }
}

impl Call {
    /// Records the first reason the call ends; later ones are consequences.
    pub(super) fn note_end(&mut self, by: HangupBy, cause: &str, status: Option<u16>) {
        if self.end_info.is_none() {
            self.end_info = Some(EndInfo {
                by,
                cause: cause.to_string(),
                status,
            });
        }
    }

    /// The caller's number (the user part of From).
    pub(super) fn caller_number(&self) -> String {
        header_text(&self.caller_invite, HeaderName::From)
            .map(|f| user_of(&f))
            .unwrap_or_default()
    }

    /// The number called (the user part of the Request-URI).
    pub(super) fn called_number(&self) -> String {
        self.caller_invite
            .request_uri_str()
            .map(user_of)
            .unwrap_or_default()
    }

    pub(super) async fn insert_cdr(&mut self, profile: &str) {
        let caller = self.caller_number();
        let callee = self.called_number();
        let Some(cdr) = &self.ctx.cdr else { return };
        cdr.insert_call(CallRecord {
            call_id: self.caller.call_id.clone(),
            profile: profile.to_string(),
            caller,
            callee,
            started_at: self.started_at,
        })
        .await;
    }

    pub(super) async fn journal_event(&self, kind: CallEventKind, detail: &str) {
        self.journal(kind, detail).await;
    }

    async fn journal(&self, kind: CallEventKind, detail: &str) {
        if let Some(cdr) = &self.ctx.cdr {
            cdr.add_event(&self.caller.call_id, unix_ms(), kind, detail)
                .await;
        }
    }

    /// Fork `i` answered and the caller has its 200.
    pub(super) async fn on_answered(&mut self, i: usize) {
        let at = unix_ms();
        self.answered_at = Some(at);
        let Some(fork) = self.forks.get(i) else {
            return;
        };
        let agent = match &self.origin {
            // A callback: the agent is on the caller's side.
            Some(o) => AgentLeg {
                agent: o.agent().to_string(),
                call_id: self.caller.call_id.clone(),
            },
            None => AgentLeg {
                agent: fork.target.extension.clone(),
                call_id: fork.dialog.call_id.clone(),
            },
        };
        if let Some(cdr) = &self.ctx.cdr {
            cdr.mark_answered(&self.caller.call_id, at, agent).await;
        }
        self.start_recording().await;
    }

    /// Records both legs of the answered call (caller left, agent right).
    pub(super) async fn start_recording(&mut self) {
        let Some(rec) = &self.ctx.recordings else {
            return;
        };
        if self.recording_declined() {
            // The caller pressed the notice's opt-out key.
            return;
        }
        let Some(media) = self.media.as_ref().filter(|m| m.relaying()) else {
            // No relay yet (a late offer): the caller's ACK starts it.
            return;
        };
        if let Some(cdr) = &self.ctx.cdr {
            // The recording's row refers to the call's.
            cdr.flush().await;
        }
        let mut cfg = RecorderConfig::new(rec.root.clone());
        cfg.sample_rate = media.recording_rate();
        match start_recording(rec.store.clone(), &self.caller.call_id, cfg).await {
            Ok(handle) => {
                if media.tap(handle.tap_sender()).await {
                    tracing::debug!(call_id = %self.caller.call_id, path = %handle.path().display(), "recording");
                    self.recorder = Some(handle);
                } else if let Err(e) = handle.finish().await {
                    tracing::warn!(call_id = %self.caller.call_id, "empty recording not closed: {e}");
                }
            }
            Err(e) => {
                tracing::error!(call_id = %self.caller.call_id, "the call is not recorded: {e}");
            }
        }
    }

    /// A phone's 1xx with SDP: early media through the switch. Gives the
    /// SDP for the caller's 183, or `None` when there is none to send.
    pub(super) async fn early_media(&mut self, msg: &SipMessage) -> Option<(String, Bytes)> {
        let (_, body) = body_of(msg)?;
        let media = self.media.as_mut()?;
        match media.agent_answered(&body).await {
            Ok(sdp) => Some((SDP.to_string(), sdp)),
            Err(reject) => {
                tracing::warn!(call_id = %self.caller.call_id, "early media refused: {}", reject.reason);
                None
            }
        }
    }

    /// Something the relay or the session saw.
    pub(super) async fn on_media_event(&mut self, ev: MediaEvent) {
        let ev = match ev {
            MediaEvent::Relay(ev) => ev,
            MediaEvent::Session(ev) => return self.on_session_event(ev).await,
        };
        match ev {
            RelayEvent::Digit {
                leg,
                digit,
                duration_ms,
            } => {
                let side = side_name(side_of_leg(leg));
                tracing::debug!(call_id = %self.caller.call_id, side, %digit, "DTMF");
                // In-band digits are reported when recognised, with no length.
                let how = match duration_ms {
                    0 => "in-band".to_string(),
                    ms => format!("{ms} ms, RFC 4733"),
                };
                self.journal(CallEventKind::Dtmf, &format!("{digit} from {side} ({how})"))
                    .await;
            }
            RelayEvent::MediaTimeout { leg } => {
                let side = side_name(side_of_leg(leg));
                let cause = format!("media timeout: no RTP from the {side}");
                tracing::info!(call_id = %self.caller.call_id, "{cause}");
                self.journal(CallEventKind::MediaTimeout, side).await;
                if self.ending_since.is_none() && self.caller_state == CallerState::Answered {
                    self.note_end(HangupBy::Switch, &cause, None);
                    self.hang_up_both().await;
                }
            }
            RelayEvent::Latched { leg, addr } => {
                tracing::debug!(call_id = %self.caller.call_id, side = side_name(side_of_leg(leg)), %addr, "media latched");
            }
        }
    }

    /// A DTMF digit sent by SIP INFO (`application/dtmf-relay`).
    pub(super) async fn on_info_digit(&self, side: Side, msg: &SipMessage) {
        let Some((ct, body)) = body_of(msg) else {
            return;
        };
        if !ct.to_ascii_lowercase().contains("dtmf-relay") {
            return;
        }
        let text = String::from_utf8_lossy(&body);
        let digit = text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| v.trim().to_string())
        });
        if let Some(d) = digit.filter(|d| d.len() == 1) {
            self.journal(
                CallEventKind::Dtmf,
                &format!("{d} from {} (SIP INFO)", side_name(side)),
            )
            .await;
        }
    }

    /// After a re-offer went through: journal hold and resume.
    pub(super) async fn journal_hold(&self, was_on_hold: bool) {
        let now = self.media.as_ref().is_some_and(|m| m.on_hold());
        match (was_on_hold, now) {
            (false, true) => self.journal(CallEventKind::Hold, "").await,
            (true, false) => self.journal(CallEventKind::Resume, "").await,
            _ => {}
        }
    }

    /// Closes the recording, if any (the talk is over).
    pub(super) async fn finish_recording(&mut self) {
        if let Some(rec) = self.recorder.take() {
            match rec.finish().await {
                Ok(r) if r.write_error.is_some() || r.store_error.is_some() => {
                    tracing::warn!(call_id = %self.caller.call_id, path = %r.path.display(), "recording ended with an error");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(call_id = %self.caller.call_id, "recording not finished: {e}")
                }
            }
        }
    }

    /// Stops the media and closes the CDR.
    pub(super) async fn finish_cdr(&mut self) {
        let summary = match self.media.as_mut() {
            Some(m) => m.stop().await,
            None => [None, None],
        };
        self.finish_recording().await;
        let Some(cdr) = self.ctx.cdr.clone() else {
            return;
        };
        let answered = self.answered_at.is_some();
        let info = self.end_info.clone().unwrap_or(EndInfo {
            by: HangupBy::Switch,
            cause: "ended".into(),
            status: None,
        });
        let disposition = if answered {
            Disposition::Answered
        } else {
            match info.status {
                Some(487) => Disposition::Cancelled,
                Some(486 | 600) => Disposition::Busy,
                Some(480 | 408) => Disposition::NoAnswer,
                _ => Disposition::Failed,
            }
        };
        let quality = |side: Side| -> Option<LegQuality> {
            let s = summary[super::refresh::side_index(side)].as_ref()?;
            let codec = self.media.as_ref()?.codec_name(side)?;
            Some(leg_quality(codec, s))
        };
        let legs = [quality(Side::Caller), quality(Side::Agent)];
        cdr.finish_call(
            &self.caller.call_id,
            CallEnd {
                ended_at: unix_ms(),
                disposition,
                hangup_by: info.by,
                cause: Some(info.cause),
                sip_status: info.status,
                legs,
            },
        )
        .await;
    }
}

fn leg_quality(codec: String, s: &LegSummary) -> LegQuality {
    LegQuality {
        codec,
        packets_received: i64::try_from(s.packets_received).unwrap_or(i64::MAX),
        packets_lost: s.stream.packets_lost,
        loss_pct: s.stream.loss_percent,
        jitter_ms: s.stream.jitter_ms,
        rtt_ms: s.stream.rtt_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::user_of;

    #[test]
    fn user_parts() {
        assert_eq!(
            user_of("\"Ann\" <sip:+15550001@10.0.0.1>;tag=x"),
            "+15550001"
        );
        assert_eq!(user_of("sip:1001@127.0.0.1:5080"), "1001");
        assert_eq!(user_of("<sip:100;phone-context=x@h>"), "100");
        assert_eq!(user_of("sip:host.only"), "");
    }
}
