//! RFC 4028 session timers, one per leg of a call, so a call whose far end
//! died (no BYE, on hold so no RTP either) still ends. On each leg either
//! the peer refreshes (re-INVITE or UPDATE before the interval runs out,
//! or the switch hangs up) or the switch does (UPDATE at half the interval,
//! re-INVITE when the peer does not allow UPDATE; a refresh that gets 408
//! or 481 ends the call).
//!
//! The caller's side follows its INVITE: its `Session-Expires` (refused
//! with 422 below our `Min-SE`) and refresher choice, the caller refreshing
//! when it supports timers and did not ask us to; a caller without timer
//! support gets the switch as refresher. On the agent's side the switch
//! offers `Session-Expires` with itself as refresher and takes what the
//! phone's 2xx says.

use std::time::Duration;

use tokio::time::Instant;

use crate::sip::codec::{HeaderName, Method, SipMessage};

/// Session-timer settings (`[session_timer]` in switchboard.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// The interval the switch asks for (RFC 4028 recommends 1800 s).
    pub session_expires: u32,
    /// The smallest interval the switch accepts (at least 90 s in the RFC;
    /// lower only for tests).
    pub min_se: u32,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            session_expires: 1800,
            min_se: 90,
        }
    }
}

/// The longest session interval the switch keeps (a day): a peer's
/// `Session-Expires` or `Min-SE` above it is taken as this, so no value
/// from the network can overflow a timer.
pub const MAX_INTERVAL_SECS: u64 = 86_400;

/// A session interval from a peer's seconds, between 1 s and
/// [`MAX_INTERVAL_SECS`].
pub fn interval_of(secs: u64) -> Duration {
    Duration::from_secs(secs.clamp(1, MAX_INTERVAL_SECS))
}

/// Who refreshes a leg's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// The switch sends the refreshes.
    Switch,
    /// The phone on that leg does; the switch watches.
    Peer,
}

/// The timer of one leg.
#[derive(Debug, Clone)]
pub struct SessionTimer {
    pub interval: Duration,
    pub refresher: Refresher,
    /// The peer may be sent UPDATE (it listed it in Allow).
    pub peer_allows_update: bool,
    /// Next refresh we send, or the moment the session expires.
    pub due: Instant,
    /// Our refresh waiting for its response.
    pub pending: bool,
}

impl SessionTimer {
    pub fn new(interval: u32, refresher: Refresher, peer_allows_update: bool) -> Self {
        let mut t = Self {
            interval: interval_of(u64::from(interval)),
            refresher,
            peer_allows_update,
            due: Instant::now(),
            pending: false,
        };
        t.restart();
        t
    }

    /// A refresh went through (ours answered 2xx, or the peer's arrived).
    pub fn restart(&mut self) {
        self.pending = false;
        self.due = Instant::now()
            + match self.refresher {
                Refresher::Switch => self.interval / 2,
                // RFC 4028 10: BYE at the interval minus the smaller of 32 s
                // and a third of it.
                Refresher::Peer => self.interval - (self.interval / 3).min(Duration::from_secs(32)),
            };
    }

    /// The method the switch refreshes with.
    pub fn refresh_method(&self) -> Method {
        if self.peer_allows_update {
            Method::Update
        } else {
            Method::Invite
        }
    }

    /// `Session-Expires` for our messages on this leg, from the point of
    /// view of a message we send as UAS (`uas`) or UAC.
    pub fn header(&self, uas: bool) -> String {
        let switch_role = if uas { "uas" } else { "uac" };
        let peer_role = if uas { "uac" } else { "uas" };
        let who = match self.refresher {
            Refresher::Switch => switch_role,
            Refresher::Peer => peer_role,
        };
        format!("{};refresher={who}", self.interval.as_secs())
    }
}

/// `Session-Expires: 1800;refresher=uac` as (seconds, refresher param).
pub fn session_expires(msg: &SipMessage) -> Option<(u32, Option<String>)> {
    let v = msg.header(HeaderName::SessionExpires)?;
    let text = v.as_str().ok()?;
    let mut parts = text.split(';');
    let secs = parts.next()?.trim().parse().ok()?;
    let refresher = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("refresher")
            .then(|| v.trim().to_ascii_lowercase())
    });
    Some((secs, refresher))
}

/// Whether the message lists `tag` in Supported (or Require).
pub fn supports(msg: &SipMessage, tag: &str) -> bool {
    msg.list_values(HeaderName::Supported)
        .chain(msg.list_values(HeaderName::Require))
        .any(|t| t.eq_ignore_ascii_case(tag))
}

/// Whether the message's Allow lists `method`.
pub fn allows(msg: &SipMessage, method: &str) -> bool {
    msg.list_values(HeaderName::Allow)
        .any(|t| t.eq_ignore_ascii_case(method))
}

/// The caller's INVITE, seen as UAS: `Err(min_se)` when its interval is
/// below ours (answer 422 with `Min-SE`), else the caller leg's timer.
pub fn for_caller(invite: &SipMessage, cfg: &TimerConfig) -> Result<SessionTimer, u32> {
    let timer_ok = supports(invite, "timer");
    let update_ok = allows(invite, "UPDATE");
    match session_expires(invite) {
        Some((secs, _)) if secs < cfg.min_se => Err(cfg.min_se),
        Some((secs, refresher)) => {
            let refresher = match refresher.as_deref() {
                Some("uas") => Refresher::Switch,
                _ if timer_ok => Refresher::Peer,
                _ => Refresher::Switch,
            };
            Ok(SessionTimer::new(secs, refresher, update_ok))
        }
        None => {
            let refresher = if timer_ok {
                Refresher::Peer
            } else {
                Refresher::Switch
            };
            Ok(SessionTimer::new(cfg.session_expires, refresher, update_ok))
        }
    }
}

/// The agent's 2xx to our INVITE (which offered `cfg.session_expires` with
/// the switch as refresher).
pub fn for_agent(ok: &SipMessage, cfg: &TimerConfig) -> SessionTimer {
    let update_ok = allows(ok, "UPDATE");
    match session_expires(ok) {
        Some((secs, refresher)) => {
            let refresher = if refresher.as_deref() == Some("uas") {
                Refresher::Peer
            } else {
                Refresher::Switch
            };
            SessionTimer::new(secs.max(cfg.min_se), refresher, update_ok)
        }
        None => SessionTimer::new(cfg.session_expires, Refresher::Switch, update_ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::parse_datagram as parse_message;

    fn invite(extra: &str) -> SipMessage {
        let text = format!(
            "INVITE sip:1001@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
             Max-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        parse_message(bytes::Bytes::from(text)).unwrap()
    }

    const CFG: TimerConfig = TimerConfig {
        session_expires: 1800,
        min_se: 90,
    };

    #[tokio::test]
    async fn the_caller_refreshes_when_it_supports_timers() {
        let t = for_caller(
            &invite("Supported: timer\r\nSession-Expires: 600\r\n"),
            &CFG,
        )
        .unwrap();
        assert_eq!(t.refresher, Refresher::Peer);
        assert_eq!(t.interval, Duration::from_secs(600));
        assert_eq!(t.header(true), "600;refresher=uac");
        // BYE at 600 - 32 s without a refresh.
        let left = t.due - Instant::now();
        assert!(left > Duration::from_secs(560) && left <= Duration::from_secs(568));
    }

    #[tokio::test]
    async fn the_switch_refreshes_for_callers_without_timers_or_when_asked() {
        let t = for_caller(&invite("Allow: INVITE, UPDATE\r\n"), &CFG).unwrap();
        assert_eq!(t.refresher, Refresher::Switch);
        assert_eq!(t.interval, Duration::from_secs(1800));
        assert_eq!(t.refresh_method(), Method::Update);
        let left = t.due - Instant::now();
        assert!(left > Duration::from_secs(890) && left <= Duration::from_secs(900));
        let t = for_caller(
            &invite("Supported: timer\r\nSession-Expires: 300;refresher=uas\r\n"),
            &CFG,
        )
        .unwrap();
        assert_eq!(t.refresher, Refresher::Switch);
        assert_eq!(t.refresh_method(), Method::Invite);
        assert_eq!(t.header(true), "300;refresher=uas");
    }

    #[tokio::test]
    async fn intervals_from_the_network_are_bounded() {
        assert_eq!(
            interval_of(u64::MAX),
            Duration::from_secs(MAX_INTERVAL_SECS)
        );
        assert_eq!(interval_of(0), Duration::from_secs(1));
        let t = for_caller(&invite("Session-Expires: 4294967295\r\n"), &CFG).unwrap();
        assert_eq!(t.interval, Duration::from_secs(MAX_INTERVAL_SECS));
    }

    #[test]
    fn an_interval_below_min_se_is_refused() {
        assert_eq!(
            for_caller(&invite("Session-Expires: 30\r\n"), &CFG).unwrap_err(),
            90
        );
    }

    #[tokio::test]
    async fn the_agent_answer_decides_its_leg() {
        let ok = |extra: &str| {
            parse_message(bytes::Bytes::from(format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n\
                 To: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
            )))
            .unwrap()
        };
        let t = for_agent(&ok("Session-Expires: 120;refresher=uas\r\n"), &CFG);
        assert_eq!((t.refresher, t.interval.as_secs()), (Refresher::Peer, 120));
        assert_eq!(t.header(false), "120;refresher=uas");
        let t = for_agent(&ok("Allow: UPDATE\r\n"), &CFG);
        assert_eq!(
            (t.refresher, t.interval.as_secs()),
            (Refresher::Switch, 1800)
        );
        assert_eq!(t.refresh_method(), Method::Update);
    }
}
