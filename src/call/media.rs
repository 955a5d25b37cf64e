//! A call's anchored media: the SDP offer/answer on both legs of the
//! B2BUA and the RTP relay between them. Each leg gets its own socket pair
//! from the port pool and its own SDP session from the switch's address, so
//! neither phone ever learns the other's address; the relay latches onto
//! where each really sends from.
//!
//! The flow (decision 0003): the caller's offer is checked (400 when
//! malformed, 488 with a Warning when nothing is acceptable); the agent's
//! phones get the switch's offer with the caller's codecs first and the
//! switch's others after them (so a PCMU-only phone still takes a PCMA
//! caller, transcoded); the agent's answer fixes the agent leg, the caller
//! gets an answer with the same codec when it offered it (relayed untouched)
//! or its own first choice (transcoded), and the relay starts. A caller
//! without an offer gets the switch's offer in the 200 and answers in its
//! ACK. A re-offer from either side becomes the switch's own offer on the
//! other leg; the answer comes back rewritten and the relay is re-targeted
//! and told the new directions (hold). An offer-less re-INVITE is answered
//! by the switch itself.
//!
//! Each leg keeps to the codecs of its SIP profile (`[media] codecs`, most
//! preferred first): the caller's leg to the trunk profile's, the agent's
//! leg to the agents profile's. The agent is offered the caller's codecs
//! that both profiles allow, then the rest of the agents profile's list;
//! when the two lists share nothing the relay transcodes.
//!
//! A call the switch answers itself (a demo number, later an IVR) has only
//! the caller's leg: [`CallMedia::answer_locally`] answers the offer and
//! runs a media session (`media::session`) on that leg instead of a relay.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;

use super::dialog::Side;
use crate::media::player::Playlist;
use crate::media::ports::{MediaSockets, PortPool};
use crate::media::relay::{
    AudioCodec, LegId, LegSetup, LegSummary, Music, RelayEvent, RelayHandle, RelayOptions,
    TapFrame, spawn_relay,
};
use crate::media::session::{
    SessionEvent, SessionHandle, SessionOptions, SessionSummary, spawn_session,
};

/// Something the call's media reports.
#[derive(Debug)]
pub enum MediaEvent {
    Relay(RelayEvent),
    Session(SessionEvent),
}
use crate::media::sdp::{
    Capabilities, Codec, CodecPreference, Direction, LocalSession, NegotiatedMedia,
    NegotiationError, PayloadFormat, SessionDescription, answer_with, build_offer, parse_bytes,
    process_answer,
};

/// What every call's media shares: the port pool, the codecs the switch
/// relays, and the relay's tuning.
#[derive(Debug)]
pub struct MediaContext {
    pub ports: PortPool,
    /// Main codecs the switch accepts, most preferred first
    /// (telephone-event is always added): those of a profile without a
    /// list of its own.
    pub codecs: Vec<Codec>,
    /// Each profile's codecs (`[media] codecs`), by profile name.
    pub profile_codecs: HashMap<String, Vec<Codec>>,
    pub relay: RelayOptions,
    /// What a held party hears; `None`: the holder's own stream.
    pub music_on_hold: Option<MusicOnHold>,
}

/// The music on hold, converted once per leg format and cached.
#[derive(Debug)]
pub struct MusicOnHold {
    pub path: std::path::PathBuf,
    pub cache: crate::media::player::PromptCache,
}

impl MusicOnHold {
    /// The music for a leg carrying `codec`, ready for the relay (reads and
    /// converts the file on first use: blocking, run it off the runtime).
    fn music_for(&self, codec: AudioCodec) -> Result<Music, String> {
        let format = Music::format_for(codec).ok_or_else(|| format!("no music for {codec:?}"))?;
        let prompt = self
            .cache
            .get(&self.path, format)
            .map_err(|e| e.to_string())?;
        Music::new(codec, Playlist::new().prompt(prompt)).map_err(|e| e.to_string())
    }
}

impl MediaContext {
    /// The switch's codecs, relayed or transcoded between any two:
    /// G.711 both laws, G.722 and Opus.
    pub fn default_codecs() -> Vec<Codec> {
        vec![Codec::pcmu(), Codec::pcma(), Codec::g722(), Codec::opus()]
    }

    /// The codecs legs on `profile` may use, most preferred first.
    pub fn codecs_of(&self, profile: &str) -> Vec<Codec> {
        self.profile_codecs
            .get(profile)
            .unwrap_or(&self.codecs)
            .clone()
    }

    fn capabilities(&self, codecs: Vec<Codec>) -> Capabilities {
        let mut codecs = codecs;
        codecs.push(Codec::telephone_event());
        Capabilities::new(codecs)
    }
}

/// The codecs of `from` not in `codecs`, appended: what a leg may fall
/// back to, transcoded by the relay.
fn append_fallbacks(codecs: &mut Vec<Codec>, from: &[Codec]) {
    for c in from {
        if !codecs.iter().any(|o| o.matches(c)) {
            codecs.push(c.clone());
        }
    }
}

/// Why an offer or answer is refused: the SIP status, and a `Warning`
/// header value when negotiation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub status: u16,
    pub warning: Option<String>,
    pub reason: String,
}

impl Reject {
    fn malformed(e: impl std::fmt::Display) -> Self {
        Self {
            status: 400,
            warning: None,
            reason: format!("malformed SDP: {e}"),
        }
    }

    fn negotiation(e: &NegotiationError) -> Self {
        Self {
            status: e.status_code(),
            warning: Some(e.warning_header("switchboard")),
            reason: e.to_string(),
        }
    }

    fn unavailable(e: impl std::fmt::Display) -> Self {
        Self {
            status: 503,
            warning: None,
            reason: format!("no media ports: {e}"),
        }
    }
}

/// The content type of every SDP body we send.
pub const SDP: &str = "application/sdp";

/// What is agreed on one leg.
#[derive(Debug, Clone)]
struct Agreed {
    format: PayloadFormat,
    telephone_event: Option<u8>,
    remote: Option<SocketAddr>,
    /// Our direction towards this leg.
    direction: Direction,
}

/// One leg's end in the switch.
#[derive(Debug)]
struct LegEnd {
    /// Until the relay takes them.
    sockets: Option<MediaSockets>,
    addr: SocketAddr,
    session: LocalSession,
    /// Signalling sources of the peer: media may come from there too.
    allowed_ips: Vec<IpAddr>,
    agreed: Option<Agreed>,
}

impl LegEnd {
    fn new(
        sockets: Option<MediaSockets>,
        ip: IpAddr,
        session_id: u64,
        allowed_ips: Vec<IpAddr>,
    ) -> Self {
        let addr = SocketAddr::new(ip, sockets.as_ref().map_or(0, |s| s.rtp_port));
        Self {
            sockets,
            addr,
            session: LocalSession::new(ip, session_id),
            allowed_ips,
            agreed: None,
        }
    }

    /// The SDP we send next on this leg carries a new version.
    fn next_session(&mut self) -> LocalSession {
        self.session.session_version = self.session.session_version.wrapping_add(1);
        self.session.clone()
    }
}

/// A re-offer in progress: `from` offered, we offered the other side.
#[derive(Debug)]
struct Reoffer {
    from: Side,
    offer: SessionDescription,
    ours: SessionDescription,
}

/// The media of one call.
pub struct CallMedia {
    ctx: Arc<MediaContext>,
    /// The codecs the caller's leg may use (its trunk profile's); the
    /// agent's leg is offered only its profile's, so its answer keeps to
    /// them.
    caller_codecs: Vec<Codec>,
    caller: LegEnd,
    agent: LegEnd,
    /// The caller's initial offer (`None`: the caller offers in its ACK).
    caller_offer: Option<SessionDescription>,
    /// Our offer to the agent's phones.
    agent_offer: SessionDescription,
    /// Our SDP to the caller in the 183/200 (answer, or our offer when the
    /// caller sent none); the same bytes every time.
    caller_sdp: Option<Bytes>,
    /// Our offer to the caller when it sent none, until its ACK answers.
    caller_late_offer: Option<SessionDescription>,
    relay: Option<RelayHandle>,
    /// The relay's figures, once it gave the caller's leg back to a session
    /// (a survey after the agent hung up).
    relayed: Option<[LegSummary; 2]>,
    /// The switch's own end of the caller's leg (calls it answers itself).
    session: Option<SessionHandle>,
    reoffer: Option<Reoffer>,
    /// Our offer in a 200 to an offer-less re-INVITE, awaiting the ACK.
    local_offer: Option<(Side, SessionDescription)>,
    /// Our offer in a session-refresh re-INVITE, awaiting its 2xx.
    refresh: Option<(Side, SessionDescription)>,
    on_hold: bool,
    /// Whether the caller's and the agent's legs hear music on hold.
    music: [bool; 2],
}

impl CallMedia {
    /// Media for a new call: checks the caller's offer (`body`, if any)
    /// against the codecs of the caller's profile (`caller`: profile name
    /// and signalling address), takes two socket pairs and builds the
    /// offer for the agent's phones (`agents`: their internal profile and
    /// signalling addresses). With `agents` `None` the switch answers the
    /// call itself: only the caller's leg gets sockets.
    pub fn new(
        ctx: Arc<MediaContext>,
        body: Option<&[u8]>,
        caller: (&str, IpAddr),
        agents: Option<(&str, Vec<IpAddr>)>,
    ) -> Result<(Self, Bytes), Reject> {
        let (caller_profile, caller_ip) = caller;
        let caller_codecs = ctx.codecs_of(caller_profile);
        let (agent_codecs, agent_ips) = match agents {
            Some((profile, ips)) => (ctx.codecs_of(profile), Some(ips)),
            None => (caller_codecs.clone(), None),
        };
        let caller_offer = match body {
            Some(b) => Some(parse_bytes(b).map_err(Reject::malformed)?),
            None => None,
        };
        let ip = ctx.ports.ip();
        // The codecs the agent is offered: what the caller offered and
        // both legs may use, in the caller's order, then the rest of the
        // agent profile's.
        let mut codecs = Vec::new();
        if let Some(offer) = &caller_offer {
            let caps = ctx.capabilities(caller_codecs.clone());
            let probe = LocalSession::new(ip, 0);
            let dry = answer_with(offer, &caps, &probe, |_| Some(SocketAddr::new(ip, 9)))
                .map_err(|e| Reject::negotiation(&e))?;
            let index = dry.streams[0].index;
            for (_, c) in offer.media[index].codecs() {
                if !c.is_auxiliary()
                    && caller_codecs.iter().any(|o| o.matches(&c))
                    && agent_codecs.iter().any(|o| o.matches(&c))
                    && !codecs.iter().any(|o: &Codec| o.matches(&c))
                {
                    codecs.push(c);
                }
            }
        }
        // Then the rest, transcoded: a phone that has none of the
        // caller's codecs still answers.
        append_fallbacks(&mut codecs, &agent_codecs);
        let caller_sockets = ctx.ports.bind(false).map_err(Reject::unavailable)?;
        let agent_sockets = match agent_ips {
            Some(_) => Some(ctx.ports.bind(false).map_err(Reject::unavailable)?),
            None => None,
        };
        let session_id = u64::from(rand::random::<u32>());
        let caller = LegEnd::new(Some(caller_sockets), ip, session_id, vec![caller_ip]);
        let mut agent = LegEnd::new(
            agent_sockets,
            ip,
            session_id + 1,
            agent_ips.unwrap_or_default(),
        );
        let caps = ctx.capabilities(codecs);
        let agent_offer = build_offer(&caps, &agent.next_session(), agent.addr);
        let bytes = Bytes::from(agent_offer.to_string());
        let media = Self::with_legs(ctx, caller_codecs, [caller, agent], agent_offer);
        Ok((
            Self {
                caller_offer,
                ..media
            },
            bytes,
        ))
    }

    /// Media with these legs (caller, agent) and no SDP exchanged yet
    /// besides our offer to the agent's side.
    fn with_legs(
        ctx: Arc<MediaContext>,
        caller_codecs: Vec<Codec>,
        [caller, agent]: [LegEnd; 2],
        agent_offer: SessionDescription,
    ) -> Self {
        Self {
            ctx,
            caller_codecs,
            caller,
            agent,
            caller_offer: None,
            agent_offer,
            caller_sdp: None,
            caller_late_offer: None,
            relay: None,
            relayed: None,
            session: None,
            reoffer: None,
            local_offer: None,
            refresh: None,
            on_hold: false,
            music: [false; 2],
        }
    }

    /// Media for a call the switch places itself (a callback's call to an
    /// agent's phone, whose signalling comes from `peer`): the caller's
    /// leg is offered the codecs of `profile` that the switch's media
    /// session plays (G.711), and the phone's answer
    /// ([`Self::originated_answer`]) starts that session. The agent leg
    /// gets its sockets later, when the switch rings the other party
    /// ([`Self::offer_to_agents`]).
    pub fn originate(
        ctx: Arc<MediaContext>,
        profile: &str,
        peer: IpAddr,
    ) -> Result<(Self, Bytes), Reject> {
        let caller_codecs = ctx.codecs_of(profile);
        let g711: Vec<Codec> = caller_codecs
            .iter()
            .filter(|c| AudioCodec::from_codec(c).is_g711())
            .cloned()
            .collect();
        if g711.is_empty() {
            return Err(Reject {
                status: 488,
                warning: None,
                reason: format!("profile `{profile}` allows no G.711 codec"),
            });
        }
        let sockets = ctx.ports.bind(false).map_err(Reject::unavailable)?;
        let ip = ctx.ports.ip();
        let session_id = u64::from(rand::random::<u32>());
        let mut caller = LegEnd::new(Some(sockets), ip, session_id, vec![peer]);
        let agent = LegEnd::new(None, ip, session_id + 1, Vec::new());
        let offer = build_offer(&ctx.capabilities(g711), &caller.next_session(), caller.addr);
        let bytes = Bytes::from(offer.to_string());
        // The agent's offer is replaced by the offer to the other party.
        let media = Self::with_legs(ctx, caller_codecs, [caller, agent], offer.clone());
        Ok((
            Self {
                caller_sdp: Some(bytes.clone()),
                caller_late_offer: Some(offer),
                ..media
            },
            bytes,
        ))
    }

    /// The answer of the phone the switch called ([`Self::originate`]):
    /// fixes the caller's leg and starts the switch's session on it.
    pub fn originated_answer(&mut self, body: &[u8], opts: SessionOptions) -> Result<(), Reject> {
        let Some(ours) = self.caller_late_offer.take() else {
            return Err(Reject {
                status: 500,
                warning: None,
                reason: "no offer awaits an answer".into(),
            });
        };
        let answer = parse_bytes(body).map_err(Reject::malformed)?;
        let streams = process_answer(&ours, &answer).map_err(|e| Reject::negotiation(&e))?;
        self.caller.agreed = Some(agreed_from(&streams[0]));
        self.start_session(opts)
    }

    /// The agent's answer (in a 183 or the 200): fixes the agent leg and
    /// gives the SDP for the caller (our answer, or our offer when the
    /// caller sent none). The relay starts here when both legs are known.
    pub async fn agent_answered(&mut self, body: &[u8]) -> Result<Bytes, Reject> {
        let answer = parse_bytes(body).map_err(Reject::malformed)?;
        let streams =
            process_answer(&self.agent_offer, &answer).map_err(|e| Reject::negotiation(&e))?;
        let agreed = agreed_from(&streams[0]);
        if let Some(sdp) = self.caller_sdp.clone() {
            // A 200 after early media, or from another fork: same leg.
            let relay_codec = self.agent.agreed.as_ref().map(|a| a.format.clone());
            if relay_codec.is_some_and(|f| !f.codec.matches(&agreed.format.codec)) {
                tracing::warn!("the agent changed codec between early media and answer");
            }
            let remote = agreed.remote;
            self.agent.agreed = Some(agreed);
            if let Some(r) = &self.relay {
                let _ = r
                    .set_remote(LegId::B, remote, self.agent.allowed_ips.clone())
                    .await;
            } else if self.session.is_none() && self.caller.sockets.is_some() {
                // The switch answered the caller itself (a flow) and has
                // released its session: bridge the caller to this agent.
                self.start_relay()?;
            }
            return Ok(sdp);
        }
        let agent_codec = agreed.format.codec.clone();
        self.agent.agreed = Some(agreed);
        // The caller's leg may use the agent's codec (no transcoding) only
        // when the caller's profile allows it.
        let relayable = self.caller_codecs.iter().any(|c| c.matches(&agent_codec));
        let Some(offer) = &self.caller_offer else {
            // Late offer: offer the caller the agent's codec first.
            let mut codecs = Vec::new();
            if relayable {
                codecs.push(agent_codec.clone());
            }
            append_fallbacks(&mut codecs, &self.caller_codecs);
            let caps = self.ctx.capabilities(codecs);
            let ours = build_offer(&caps, &self.caller.next_session(), self.caller.addr);
            let bytes = Bytes::from(ours.to_string());
            self.caller_late_offer = Some(ours);
            self.caller_sdp = Some(bytes.clone());
            return Ok(bytes);
        };
        // The same codec as the agent when the caller has it (no
        // transcoding), else the caller's own first choice among ours.
        let offered = relayable
            && offer.media.iter().any(|m| {
                m.codecs()
                    .iter()
                    .any(|(_, c)| c.matches(&agent_codec) && !c.is_auxiliary())
            });
        let (codecs, preference) = if offered {
            (vec![agent_codec], CodecPreference::Ours)
        } else {
            (self.caller_codecs.clone(), CodecPreference::Theirs)
        };
        let mut caps = self.ctx.capabilities(codecs);
        caps.preference = preference;
        let offer = offer.clone();
        let bytes = self.answer_caller_offer(&offer, caps)?;
        self.caller_sdp = Some(bytes.clone());
        self.start_relay()?;
        Ok(bytes)
    }

    /// An ACK carrying the answer to our offer: the caller's after a late
    /// offer, or either side's after an offer-less re-INVITE.
    pub async fn ack_answered(&mut self, body: &[u8]) -> Result<(), Reject> {
        if let Some((side, ours)) = self.local_offer.take() {
            let answer = parse_bytes(body).map_err(Reject::malformed)?;
            let streams = process_answer(&ours, &answer).map_err(|e| Reject::negotiation(&e))?;
            let agreed = agreed_from(&streams[0]);
            self.retarget(side, agreed).await;
            return Ok(());
        }
        let Some(ours) = self.caller_late_offer.take() else {
            return Ok(());
        };
        let answer = parse_bytes(body).map_err(Reject::malformed)?;
        let streams = process_answer(&ours, &answer).map_err(|e| Reject::negotiation(&e))?;
        self.caller.agreed = Some(agreed_from(&streams[0]));
        self.start_relay()
    }

    fn start_relay(&mut self) -> Result<(), Reject> {
        if self.relay.is_some() {
            return Ok(());
        }
        let (Some(a), Some(b)) = (self.leg_setup(Side::Caller), self.leg_setup(Side::Agent)) else {
            return Err(Reject::unavailable("sockets already used"));
        };
        let relay = spawn_relay(a, b, self.ctx.relay.clone()).map_err(|e| Reject {
            status: 488,
            warning: Some(NegotiationError::NoCommonCodec.warning_header("switchboard")),
            reason: e.to_string(),
        })?;
        self.relay = Some(relay);
        Ok(())
    }

    fn leg_setup(&mut self, side: Side) -> Option<LegSetup> {
        let leg = self.leg_mut(side);
        let agreed = leg.agreed.clone()?;
        let sockets = leg.sockets.take()?;
        Some(LegSetup {
            sockets,
            remote: agreed.remote,
            allowed_ips: leg.allowed_ips.clone(),
            payload_type: agreed.format.payload_type,
            codec: AudioCodec::from_codec(&agreed.format.codec),
            clock_rate: agreed.format.codec.clock_rate,
            telephone_event_pt: agreed.telephone_event,
            our_ssrc: rand::random(),
        })
    }

    fn leg_mut(&mut self, side: Side) -> &mut LegEnd {
        match side {
            Side::Caller => &mut self.caller,
            Side::Agent => &mut self.agent,
        }
    }

    /// Stops the switch's own session on the caller's leg (a flow hands
    /// the caller to agents) and keeps its sockets: the caller goes on
    /// sending to the same port, so no re-INVITE is needed. Gives the
    /// session's counters, `None` when there was no session.
    #[allow(dead_code)] // The flows' queue and transfer nodes call it (issue 4).
    pub async fn release_session(&mut self) -> Option<SessionSummary> {
        let session = self.session.take()?;
        match session.release().await {
            Ok((summary, sockets)) => {
                self.caller.sockets = Some(sockets);
                Some(summary)
            }
            Err(e) => {
                tracing::warn!(error = %e, "media session gone before its release");
                None
            }
        }
    }

    /// Our offer to agents' phones on `agents_profile` (signalling from
    /// `agent_ips`) for a caller the switch already answered: the caller's
    /// codec first when that profile allows it (no transcoding), then the
    /// profile's others. Call [`Self::release_session`] first; the agent's
    /// answer ([`Self::agent_answered`]) then starts the relay.
    #[allow(dead_code)] // The flows' queue and transfer nodes call it (issue 4).
    pub fn offer_to_agents(
        &mut self,
        agents_profile: &str,
        agent_ips: Vec<IpAddr>,
    ) -> Result<Bytes, Reject> {
        if self.relay.is_some() {
            return Err(Reject {
                status: 491,
                warning: None,
                reason: "the caller is already bridged".into(),
            });
        }
        let agent_codecs = self.ctx.codecs_of(agents_profile);
        let mut codecs = Vec::new();
        if let Some(a) = &self.caller.agreed
            && agent_codecs.iter().any(|c| c.matches(&a.format.codec))
        {
            let mut c = a.format.codec.clone();
            c.fmtp = None;
            codecs.push(c);
        }
        append_fallbacks(&mut codecs, &agent_codecs);
        let sockets = self.ctx.ports.bind(false).map_err(Reject::unavailable)?;
        let session_id = self.agent.session.session_id;
        self.agent = LegEnd::new(Some(sockets), self.ctx.ports.ip(), session_id, agent_ips);
        let caps = self.ctx.capabilities(codecs);
        let offer = build_offer(&caps, &self.agent.next_session(), self.agent.addr);
        let bytes = Bytes::from(offer.to_string());
        self.agent_offer = offer;
        Ok(bytes)
    }

    /// Answers the caller's offer from the switch itself (with the caller
    /// profile's codecs the media session can play and record, in the
    /// profile's order) and starts the media session on the caller's leg.
    /// Late offers are not taken here (the caller must offer in its
    /// INVITE).
    pub fn answer_locally(&mut self, opts: SessionOptions) -> Result<Bytes, Reject> {
        let Some(offer) = &self.caller_offer else {
            return Err(Reject {
                status: 488,
                warning: Some(NegotiationError::NoAudio.warning_header("switchboard")),
                reason: "no SDP offer in the INVITE".into(),
            });
        };
        // The session plays and records G.711: a wideband caller is
        // answered with the G.711 law it also offered (488 if none).
        let codecs: Vec<Codec> = self
            .caller_codecs
            .iter()
            .filter(|c| AudioCodec::from_codec(c).is_g711())
            .cloned()
            .collect();
        let caps = self.ctx.capabilities(codecs);
        let offer = offer.clone();
        let bytes = self.answer_caller_offer(&offer, caps)?;
        self.start_session(opts)?;
        self.caller_sdp = Some(bytes.clone());
        Ok(bytes)
    }

    /// Answers `offer` on the caller's leg with one codec of `caps`, from
    /// the leg's address and a new session version, and keeps what was
    /// agreed.
    fn answer_caller_offer(
        &mut self,
        offer: &SessionDescription,
        mut caps: Capabilities,
    ) -> Result<Bytes, Reject> {
        caps.single_codec = true;
        let session = self.caller.next_session();
        let addr = self.caller.addr;
        let ours = answer_with(offer, &caps, &session, |_| Some(addr))
            .map_err(|e| Reject::negotiation(&e))?;
        self.caller.agreed = Some(agreed_from(&ours.streams[0]));
        Ok(Bytes::from(ours.sdp.to_string()))
    }

    /// The agent's leg is over: the relay gives the caller's sockets back
    /// and the switch's own session takes the caller's leg on the same port
    /// and codec (a post-call survey). Fails when the caller's codec is not
    /// one the session plays (G.711).
    pub async fn take_back_caller(&mut self, opts: SessionOptions) -> Result<(), Reject> {
        let Some(relay) = self.relay.take() else {
            return Err(Reject::unavailable("no relay to take the caller from"));
        };
        let (summary, [a, _agent]) = relay
            .release()
            .await
            .map_err(|e| Reject::unavailable(e.to_string()))?;
        self.relayed = Some([summary.a, summary.b]);
        self.caller.sockets = Some(a);
        self.start_session(opts)
    }

    /// Starts the switch's own session on the caller's leg (its codec
    /// agreed).
    fn start_session(&mut self, opts: SessionOptions) -> Result<(), Reject> {
        let setup = self
            .leg_setup(Side::Caller)
            .ok_or_else(|| Reject::unavailable("sockets already used"))?;
        let handle = spawn_session(setup, opts).map_err(|e| Reject {
            status: 488,
            warning: Some(NegotiationError::NoCommonCodec.warning_header("switchboard")),
            reason: e.to_string(),
        })?;
        self.session = Some(handle);
        Ok(())
    }

    /// The media session of a call the switch answered itself.
    pub fn session(&self) -> Option<&SessionHandle> {
        self.session.as_ref()
    }

    /// A re-offer from the caller of a call the switch answered itself:
    /// answered here (same codec), the session re-targeted and put on or
    /// off hold.
    pub async fn reanswer_locally(&mut self, body: &[u8]) -> Result<Bytes, Reject> {
        let offer = parse_bytes(body).map_err(Reject::malformed)?;
        let current = self
            .caller
            .agreed
            .clone()
            .ok_or_else(|| Reject::unavailable("leg without media"))?;
        let mut caps = self.leg_caps(&current);
        caps.single_codec = true;
        let session = self.caller.next_session();
        let addr = self.caller.addr;
        let ours = answer_with(&offer, &caps, &session, |_| Some(addr))
            .map_err(|e| Reject::negotiation(&e))?;
        let agreed = agreed_from(&ours.streams[0]);
        if let Some(s) = &self.session {
            if agreed.remote != current.remote {
                let _ = s
                    .set_remote(agreed.remote, self.caller.allowed_ips.clone())
                    .await;
            }
            let _ = s.hold(!agreed.direction.sends()).await;
        }
        self.on_hold = agreed.direction != Direction::SendRecv;
        self.caller.agreed = Some(agreed);
        Ok(Bytes::from(ours.sdp.to_string()))
    }

    /// A re-offer from `from` (re-INVITE or UPDATE with SDP): checks it
    /// and gives our offer for the other side.
    pub fn reoffer(&mut self, from: Side, body: &[u8]) -> Result<Bytes, Reject> {
        let offer = parse_bytes(body).map_err(Reject::malformed)?;
        let Some(current) = self.leg_mut(from).agreed.clone() else {
            return Err(Reject {
                status: 491,
                warning: None,
                reason: "media not set up yet".into(),
            });
        };
        // The leg keeps its codec: check the offer still has it.
        let caps = self.leg_caps(&current);
        let probe = self.leg_mut(from).session.clone();
        let addr = self.leg_mut(from).addr;
        let dry = answer_with(&offer, &caps, &probe, |_| Some(addr))
            .map_err(|e| Reject::negotiation(&e))?;
        let direction = dry.streams[0].remote_direction;
        let other = from.other();
        let Some(other_agreed) = self.leg_mut(other).agreed.clone() else {
            return Err(Reject {
                status: 491,
                warning: None,
                reason: "media not set up yet".into(),
            });
        };
        let mut caps = self.leg_caps(&other_agreed);
        // A hold (the offerer will not receive): with music on hold the
        // switch sends the held party its music, so it offers to send.
        caps.direction = if self.ctx.music_on_hold.is_some() && !direction.receives() {
            Direction::SendOnly
        } else {
            direction
        };
        let leg = self.leg_mut(other);
        let session = leg.next_session();
        let ours = build_offer(&caps, &session, leg.addr);
        let bytes = Bytes::from(ours.to_string());
        self.reoffer = Some(Reoffer { from, offer, ours });
        Ok(bytes)
    }

    /// The other side's answer to our re-offer: re-targets the relay and
    /// gives our answer for the side that offered.
    pub async fn reoffer_answered(&mut self, body: &[u8]) -> Result<Bytes, Reject> {
        let Some(r) = self.reoffer.take() else {
            return Err(Reject {
                status: 500,
                warning: None,
                reason: "no re-offer pending".into(),
            });
        };
        let answer = parse_bytes(body).map_err(Reject::malformed)?;
        let streams = process_answer(&r.ours, &answer).map_err(|e| Reject::negotiation(&e))?;
        let other_agreed = agreed_from(&streams[0]);
        let their_direction = streams[0].remote_direction;
        let current = self
            .leg_mut(r.from)
            .agreed
            .clone()
            .ok_or_else(|| Reject::unavailable("leg without media"))?;
        let mut caps = self.leg_caps(&current);
        caps.direction = their_direction;
        caps.single_codec = true;
        let leg = self.leg_mut(r.from);
        let session = leg.next_session();
        let addr = leg.addr;
        let ours = answer_with(&r.offer, &caps, &session, |_| Some(addr))
            .map_err(|e| Reject::negotiation(&e))?;
        let from_agreed = agreed_from(&ours.streams[0]);
        self.retarget(r.from.other(), other_agreed).await;
        self.retarget(r.from, from_agreed).await;
        Ok(Bytes::from(ours.sdp.to_string()))
    }

    /// The other side refused our re-offer: nothing changes.
    pub fn reoffer_failed(&mut self) {
        self.reoffer = None;
    }

    /// Our offer for an offer-less re-INVITE from `side` (answered by the
    /// switch; the ACK brings the answer to [`Self::ack_answered`]).
    pub fn local_offer(&mut self, side: Side) -> Option<Bytes> {
        let current = self.leg_mut(side).agreed.clone()?;
        let caps = self.leg_caps(&current);
        let leg = self.leg_mut(side);
        let session = leg.next_session();
        let ours = build_offer(&caps, &session, leg.addr);
        let bytes = Bytes::from(ours.to_string());
        self.local_offer = Some((side, ours));
        Some(bytes)
    }

    /// Our offer for a session-refresh re-INVITE on `side`: the leg as it
    /// is (codec, direction), a new session version.
    pub fn refresh_offer(&mut self, side: Side) -> Option<Bytes> {
        let current = self.leg_mut(side).agreed.clone()?;
        let mut caps = self.leg_caps(&current);
        caps.direction = current.direction;
        let leg = self.leg_mut(side);
        let session = leg.next_session();
        let ours = build_offer(&caps, &session, leg.addr);
        let bytes = Bytes::from(ours.to_string());
        self.refresh = Some((side, ours));
        Some(bytes)
    }

    /// The answer in the 2xx to our refresh re-INVITE.
    pub async fn refresh_answered(&mut self, body: &[u8]) -> Result<(), Reject> {
        let Some((side, ours)) = self.refresh.take() else {
            return Ok(());
        };
        let answer = parse_bytes(body).map_err(Reject::malformed)?;
        let streams = process_answer(&ours, &answer).map_err(|e| Reject::negotiation(&e))?;
        let agreed = agreed_from(&streams[0]);
        self.retarget(side, agreed).await;
        Ok(())
    }

    /// Our refresh got no 2xx: nothing changes.
    pub fn refresh_failed(&mut self) {
        self.refresh = None;
    }

    /// Whether an ACK from `side` carries an answer we wait for.
    pub fn awaits_ack_answer(&self, side: Side) -> bool {
        match side {
            Side::Caller => {
                self.caller_late_offer.is_some()
                    || self.local_offer.as_ref().is_some_and(|(s, _)| *s == side)
            }
            Side::Agent => self.local_offer.as_ref().is_some_and(|(s, _)| *s == side),
        }
    }

    /// Capabilities that keep `agreed`'s codec (and DTMF) on a leg.
    fn leg_caps(&self, agreed: &Agreed) -> Capabilities {
        let mut codec = agreed.format.codec.clone();
        codec.fmtp = None;
        self.ctx.capabilities(vec![codec])
    }

    /// Applies a leg's new agreement to the relay: address and direction.
    async fn retarget(&mut self, side: Side, agreed: Agreed) {
        let id = leg_id(side);
        let leg = self.leg_mut(side);
        let moved = leg.agreed.as_ref().map(|a| a.remote) != Some(agreed.remote);
        let allowed = leg.allowed_ips.clone();
        leg.agreed = Some(agreed.clone());
        let held = [&self.caller, &self.agent].iter().any(|l| {
            l.agreed
                .as_ref()
                .is_some_and(|a| a.direction != Direction::SendRecv)
        });
        self.on_hold = held;
        let Some(relay) = &self.relay else {
            return;
        };
        if moved && agreed.remote.is_some() {
            let _ = relay.set_remote(id, agreed.remote, allowed).await;
        }
        for (side, leg) in [(Side::Caller, &self.caller), (Side::Agent, &self.agent)] {
            let Some(a) = &leg.agreed else { continue };
            let _ = relay
                .set_direction(
                    leg_id(side),
                    a.direction.sends(),
                    !held && a.direction.receives(),
                )
                .await;
        }
        self.update_music().await;
    }

    /// Starts music to a leg whose other side holds it (we send to it, and
    /// do not send to the holder), and stops it on resume.
    async fn update_music(&mut self) {
        if self.ctx.music_on_hold.is_none() || self.relay.is_none() {
            return;
        }
        for (i, side) in [Side::Caller, Side::Agent].into_iter().enumerate() {
            let sends = |l: &LegEnd| l.agreed.as_ref().map(|a| a.direction.sends());
            let (leg, other) = match side {
                Side::Caller => (&self.caller, &self.agent),
                Side::Agent => (&self.agent, &self.caller),
            };
            let want = sends(leg) == Some(true) && sends(other) == Some(false);
            if want == self.music[i] {
                continue;
            }
            let music = match (want, &leg.agreed) {
                (true, Some(a)) => {
                    let codec = AudioCodec::from_codec(&a.format.codec);
                    let ctx = self.ctx.clone();
                    let built = tokio::task::spawn_blocking(move || {
                        ctx.music_on_hold.as_ref().map(|m| m.music_for(codec))
                    })
                    .await;
                    match built {
                        Ok(Some(Ok(m))) => Some(m),
                        Ok(Some(Err(e))) => {
                            tracing::warn!(error = %e, "no music on hold for this leg");
                            continue;
                        }
                        _ => continue,
                    }
                }
                _ => None,
            };
            if let Some(relay) = &self.relay {
                tracing::info!(leg = ?side, on = want, "music on hold");
                let _ = relay.music(leg_id(side), music).await;
            }
            self.music[i] = want;
        }
    }

    /// Whether either leg is on hold now.
    pub fn on_hold(&self) -> bool {
        self.on_hold
    }

    /// The rate a recording of this call is made at: its widest leg's
    /// (8 kHz G.711, 16 kHz G.722, 48 kHz Opus).
    pub fn recording_rate(&self) -> u32 {
        [&self.caller, &self.agent]
            .iter()
            .filter_map(|l| l.agreed.as_ref())
            .filter_map(|a| AudioCodec::from_codec(&a.format.codec).sample_rate())
            .max()
            .unwrap_or(8000)
    }

    /// The codec name on `side`'s leg (`PCMU/8000`), once agreed.
    pub fn codec_name(&self, side: Side) -> Option<String> {
        let leg = match side {
            Side::Caller => &self.caller,
            Side::Agent => &self.agent,
        };
        leg.agreed
            .as_ref()
            .map(|a| format!("{}/{}", a.format.codec.name, a.format.codec.clock_rate))
    }

    /// Whether the relay runs (both legs' media agreed).
    pub fn relaying(&self) -> bool {
        self.relay.is_some()
    }

    /// Feeds every relayed audio payload to `tap` (the recorder); false
    /// when there is no relay.
    pub async fn tap(&self, tap: tokio::sync::mpsc::Sender<TapFrame>) -> bool {
        match &self.relay {
            Some(r) => r.tap(tap).await.is_ok(),
            None => false,
        }
    }

    /// The next event of the relay or the session; never resolves
    /// without either.
    pub async fn next_event(&mut self) -> MediaEvent {
        if let Some(r) = self.relay.as_mut() {
            if let Some(ev) = r.next_event().await {
                return MediaEvent::Relay(ev);
            }
        } else if let Some(s) = self.session.as_mut()
            && let Some(ev) = s.next_event().await
        {
            return MediaEvent::Session(ev);
        }
        std::future::pending().await
    }

    /// Stops the relay (or the session) and gives the legs' counters:
    /// [caller, agent].
    pub async fn stop(&mut self) -> [Option<LegSummary>; 2] {
        if let Some(r) = self.relay.take()
            && let Ok(s) = r.stop().await
        {
            return [Some(s.a), Some(s.b)];
        }
        if let Some([a, b]) = self.relayed.take() {
            // The talk's figures, not the survey's after it.
            if let Some(s) = self.session.take() {
                let _ = s.stop().await;
            }
            return [Some(a), Some(b)];
        }
        if let Some(s) = self.session.take()
            && let Ok(s) = s.stop().await
        {
            return [Some(s.leg), None];
        }
        [None, None]
    }
}

/// The relay's name for a side: A is the caller, B the agent.
pub fn leg_id(side: Side) -> LegId {
    match side {
        Side::Caller => LegId::A,
        Side::Agent => LegId::B,
    }
}

fn agreed_from(n: &NegotiatedMedia) -> Agreed {
    Agreed {
        format: n.codecs[0].clone(),
        telephone_event: n.telephone_event.as_ref().map(|f| f.payload_type),
        remote: n.remote,
        direction: n.direction,
    }
}
