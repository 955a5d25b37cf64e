//! RFC 3264 offer/answer for audio: answering a remote offer from our
//! [`Capabilities`] ([`answer`] / [`answer_with`]), building our own offer
//! ([`build_offer`]) and reading the answer to it ([`process_answer`]).
//! Also the negotiation error, with the SIP status and `Warning` code the
//! signalling layer sends when an offer cannot be accepted.

use std::net::{IpAddr, SocketAddr};

use super::codec::Codec;
use super::model::{
    Connection, Direction, Fmtp, MediaDescription, MediaType, Origin, Protocol, RtpMap,
    SessionDescription,
};

/// Whose codec order wins when answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecPreference {
    /// Order the answer by our `Capabilities::codecs` list.
    Ours,
    /// Order the answer by the offer's `m=` line.
    Theirs,
}

/// What we can do, for answering and for building offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Codecs we accept, most preferred first. Include
    /// `Codec::telephone_event()` to negotiate RFC 4733 DTMF and a `CN`
    /// codec to accept comfort noise; those two are never a stream's main
    /// codec. A codec's `fmtp`, if set, is what we put in our SDP for it.
    pub codecs: Vec<Codec>,
    /// Our `a=ptime` (the packetization we want to receive), if any.
    pub ptime: Option<u32>,
    /// Whether we can multiplex RTP and RTCP on one port (RFC 5761).
    pub rtcp_mux: bool,
    pub preference: CodecPreference,
    /// Our own direction: `SendRecv` normally, `SendOnly` when we hold the
    /// peer, `Inactive` when both sides hold. It caps the answered direction.
    pub direction: Direction,
    /// Transport profiles we terminate; audio offered over any other
    /// profile (e.g. SRTP before we support it) is rejected.
    pub protocols: Vec<Protocol>,
    /// Answer with only the best common codec (plus telephone-event/CN).
    pub single_codec: bool,
}

impl Capabilities {
    /// Defaults: the given codecs, our order, ptime 20, rtcp-mux, sendrecv,
    /// RTP/AVP only, all common codecs answered.
    pub fn new(codecs: Vec<Codec>) -> Self {
        Capabilities {
            codecs,
            ptime: Some(20),
            rtcp_mux: true,
            preference: CodecPreference::Ours,
            direction: Direction::SendRecv,
            protocols: vec![Protocol::RtpAvp],
            single_codec: false,
        }
    }
}

/// Our side of the session: what goes in `o=`, `s=` and the session `c=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSession {
    pub username: String,
    pub session_id: u64,
    /// Bump it (or use `SessionDescription::bump_version`) on re-offers.
    pub session_version: u64,
    /// Our media address (the anchored address of the switch).
    pub address: IpAddr,
    pub session_name: String,
}

impl LocalSession {
    pub fn new(address: IpAddr, session_id: u64) -> Self {
        LocalSession {
            username: "switchboard".into(),
            session_id,
            session_version: session_id,
            address,
            session_name: "switchboard".into(),
        }
    }
    pub fn origin(&self) -> Origin {
        Origin::new(
            &self.username,
            self.session_id,
            self.session_version,
            self.address,
        )
    }
    fn description(&self) -> SessionDescription {
        let mut sdp = SessionDescription::new(self.origin());
        sdp.session_name = self.session_name.clone();
        sdp.connection = Some(Connection::new(self.address));
        sdp
    }
}

/// A payload type number bound to a codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFormat {
    pub payload_type: u8,
    pub codec: Codec,
}

/// The outcome of negotiation for one accepted audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Index of the `m=` line.
    pub index: usize,
    /// Common main codecs in the answer's order; `codecs[0]` is the one to
    /// send. Payload types are the ones to put in the RTP we send.
    pub codecs: Vec<PayloadFormat>,
    pub telephone_event: Option<PayloadFormat>,
    pub comfort_noise: Option<PayloadFormat>,
    /// Where to send RTP; `None` when the peer holds with `0.0.0.0` or gave
    /// a host name.
    pub remote: Option<SocketAddr>,
    pub remote_rtcp: Option<SocketAddr>,
    /// The peer's effective direction (a `0.0.0.0` address removes "recv").
    pub remote_direction: Direction,
    /// Our direction for this stream.
    pub direction: Direction,
    /// The peer's `a=ptime` (how it wants to receive), if any.
    pub remote_ptime: Option<u32>,
    pub rtcp_mux: bool,
    /// The peer used RFC 2543-style hold (`c=0.0.0.0`).
    pub legacy_hold: bool,
}

/// Our answer: the SDP to send and what was agreed per accepted stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub sdp: SessionDescription,
    pub streams: Vec<NegotiatedMedia>,
}

/// Why negotiation failed. For a remote offer the SIP layer answers
/// [`status_code`](Self::status_code) (488) with a `Warning` header built
/// from [`warning_code`](Self::warning_code) / [`warning_text`](Self::warning_text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    #[error("no audio stream offered")]
    NoAudio,
    #[error("audio offered only over transports we do not support")]
    IncompatibleTransport,
    #[error("no common audio codec")]
    NoCommonCodec,
    #[error("answer has {answered} m= lines but the offer had {offered}")]
    MediaCountMismatch { offered: usize, answered: usize },
    #[error("answer m= line {index} does not match the offer's media type")]
    MediaMismatch { index: usize },
    #[error("answer m= line {index} selects no codec we offered")]
    UnofferedCodec { index: usize },
    #[error("answer rejected every audio stream")]
    AllRejected,
}

impl NegotiationError {
    /// SIP status for rejecting the offer: `488 Not Acceptable Here`.
    pub fn status_code(&self) -> u16 {
        488
    }
    /// SIP `Warning` code (RFC 3261 section 20.43).
    pub fn warning_code(&self) -> u16 {
        match self {
            NegotiationError::IncompatibleTransport => 302,
            NegotiationError::NoAudio | NegotiationError::AllRejected => 304,
            _ => 305,
        }
    }
    pub fn warning_text(&self) -> &'static str {
        match self.warning_code() {
            302 => "Incompatible transport protocol",
            304 => "Media type not available",
            _ => "Incompatible media format",
        }
    }
    /// The `Warning` header value: `305 <agent> "Incompatible media format"`.
    pub fn warning_header(&self, agent: &str) -> String {
        format!(
            "{} {} \"{}\"",
            self.warning_code(),
            agent,
            self.warning_text()
        )
    }
}

/// Answer `offer`; `local[i]` is our RTP address for `m=` line `i` (a
/// stream with no entry is rejected). See [`answer_with`].
pub fn answer(
    offer: &SessionDescription,
    caps: &Capabilities,
    session: &LocalSession,
    local: &[SocketAddr],
) -> Result<Answer, NegotiationError> {
    answer_with(offer, caps, session, |i| local.get(i).copied())
}

/// Answer `offer` (RFC 3264 section 6): one `m=` line per offered one, in
/// order; audio streams with a common codec are accepted on the address
/// `local(index)` returns (called only for streams being accepted; `None`
/// rejects the stream), everything else gets port 0. Fails when no audio
/// stream can be accepted.
pub fn answer_with(
    offer: &SessionDescription,
    caps: &Capabilities,
    session: &LocalSession,
    mut local: impl FnMut(usize) -> Option<SocketAddr>,
) -> Result<Answer, NegotiationError> {
    let mut sdp = session.description();
    let mut streams = Vec::new();
    let (mut saw_transport, mut saw_codec) = (false, false);
    for (index, om) in offer.media.iter().enumerate() {
        let mut rejected = MediaDescription::new(om.media.clone(), 0, om.protocol.clone());
        rejected.formats = om.formats.clone();
        if om.port == 0 || om.media != MediaType::Audio {
            sdp.media.push(rejected);
            continue;
        }
        if !caps.protocols.contains(&om.protocol) {
            saw_transport = true;
            sdp.media.push(rejected);
            continue;
        }
        let Some(chosen) = choose_codecs(om, caps) else {
            saw_codec = true;
            sdp.media.push(rejected);
            continue;
        };
        let Some(addr) = local(index) else {
            sdp.media.push(rejected);
            continue;
        };
        let legacy_hold = offer.is_legacy_hold(index);
        let mut remote_direction = offer.direction_of(om);
        if legacy_hold {
            remote_direction = remote_direction.intersect(Direction::SendOnly);
        }
        let direction = remote_direction.reversed().intersect(caps.direction);
        let rtcp_mux = om.rtcp_mux && caps.rtcp_mux;

        let mut m = MediaDescription::new(MediaType::Audio, addr.port(), om.protocol.clone());
        if addr.ip() != session.address {
            m.connections.push(Connection::new(addr.ip()));
        }
        for f in chosen.all() {
            push_format(&mut m, f);
        }
        m.ptime = caps.ptime;
        m.rtcp_mux = rtcp_mux;
        m.direction = Some(direction);
        sdp.media.push(m);

        let remote = offer.rtp_destination(index);
        streams.push(NegotiatedMedia {
            index,
            codecs: chosen.main,
            telephone_event: chosen.dtmf,
            comfort_noise: chosen.cn,
            remote,
            remote_rtcp: offer.rtcp_destination(index, rtcp_mux),
            remote_direction,
            direction,
            remote_ptime: om.ptime,
            rtcp_mux,
            legacy_hold,
        });
    }
    if streams.is_empty() {
        return Err(if saw_codec {
            NegotiationError::NoCommonCodec
        } else if saw_transport {
            NegotiationError::IncompatibleTransport
        } else {
            NegotiationError::NoAudio
        });
    }
    Ok(Answer { sdp, streams })
}

struct Chosen {
    main: Vec<PayloadFormat>,
    dtmf: Option<PayloadFormat>,
    cn: Option<PayloadFormat>,
}

impl Chosen {
    fn all(&self) -> impl Iterator<Item = &PayloadFormat> {
        self.main
            .iter()
            .chain(self.dtmf.as_ref())
            .chain(self.cn.as_ref())
    }
}

/// The offered codec with our fmtp (if we have one) replacing theirs.
fn agreed(pt: u8, offered: &Codec, ours: &Codec) -> PayloadFormat {
    let mut codec = offered.clone();
    if ours.fmtp.is_some() && !ours.is_telephone_event() {
        codec.fmtp = ours.fmtp.clone();
    }
    PayloadFormat {
        payload_type: pt,
        codec,
    }
}

fn choose_codecs(om: &MediaDescription, caps: &Capabilities) -> Option<Chosen> {
    let offered = om.codecs();
    let ours: Vec<&Codec> = caps.codecs.iter().filter(|c| !c.is_auxiliary()).collect();
    let mut main: Vec<PayloadFormat> = Vec::new();
    let mut used = vec![false; ours.len()];
    match caps.preference {
        CodecPreference::Theirs => {
            for (pt, oc) in offered.iter().filter(|(_, c)| !c.is_auxiliary()) {
                if let Some(k) = (0..ours.len()).find(|&k| !used[k] && ours[k].matches(oc)) {
                    used[k] = true;
                    main.push(agreed(*pt, oc, ours[k]));
                }
            }
        }
        CodecPreference::Ours => {
            for our in &ours {
                if let Some((pt, oc)) = offered.iter().find(|(_, c)| our.matches(c)) {
                    main.push(agreed(*pt, oc, our));
                }
            }
        }
    }
    if caps.single_codec {
        main.truncate(1);
    }
    let rate = main.first()?.codec.clock_rate;
    // telephone-event is accepted at any clock rate if we do DTMF at all
    // (preferring the main codec's rate, then 8000); CN must match exactly
    // one of ours and the main codec's rate.
    let aux = |te: bool| -> Option<PayloadFormat> {
        let candidates: Vec<&(u8, Codec)> = offered
            .iter()
            .filter(|(_, c)| c.is_telephone_event() == te && c.is_auxiliary())
            .filter(|(_, c)| {
                caps.codecs.iter().any(|our| {
                    if te {
                        our.is_telephone_event()
                    } else {
                        our.matches(c)
                    }
                })
            })
            .collect();
        let pick = candidates.iter().find(|(_, c)| c.clock_rate == rate);
        let pick = if te {
            pick.or(candidates.iter().find(|(_, c)| c.clock_rate == 8000))
                .or(candidates.first())
        } else {
            pick
        };
        pick.map(|(pt, c)| PayloadFormat {
            payload_type: *pt,
            codec: c.clone(),
        })
    };
    Some(Chosen {
        dtmf: aux(true),
        cn: aux(false),
        main,
    })
}

fn push_format(m: &mut MediaDescription, f: &PayloadFormat) {
    let pt = f.payload_type;
    m.formats.push(pt.to_string());
    m.rtpmaps.push(RtpMap {
        payload_type: pt,
        encoding: f.codec.name.clone(),
        clock_rate: f.codec.clock_rate,
        channels: f.codec.channels,
    });
    if let Some(params) = &f.codec.fmtp {
        m.fmtps.push(Fmtp {
            payload_type: pt,
            params: params.clone(),
        });
    }
}

/// Our offer with one audio stream on `rtp` (the switch's anchored
/// address): codecs in `caps.codecs` order, static payload types where RFC
/// 3551 has one, telephone-event on 101, other dynamic codecs on 96, 97...
/// (codecs that do not fit below 128 are left out).
pub fn build_offer(
    caps: &Capabilities,
    session: &LocalSession,
    rtp: SocketAddr,
) -> SessionDescription {
    let mut sdp = session.description();
    if rtp.ip() != session.address {
        sdp.connection = Some(Connection::new(rtp.ip()));
    }
    let protocol = caps.protocols.first().cloned().unwrap_or(Protocol::RtpAvp);
    let mut m = MediaDescription::new(MediaType::Audio, rtp.port(), protocol);
    let mut taken: Vec<u8> = caps
        .codecs
        .iter()
        .filter_map(Codec::static_payload_type)
        .collect();
    let te_first = caps.codecs.iter().position(Codec::is_telephone_event);
    if te_first.is_some() {
        taken.push(101);
    }
    let mut next = 96u8;
    for (i, codec) in caps.codecs.iter().enumerate() {
        let pt = if let Some(pt) = codec.static_payload_type() {
            pt
        } else if Some(i) == te_first {
            101
        } else {
            while taken.contains(&next) {
                next += 1;
            }
            if next > 127 {
                continue;
            }
            taken.push(next);
            next
        };
        if m.formats.contains(&pt.to_string()) {
            continue;
        }
        push_format(
            &mut m,
            &PayloadFormat {
                payload_type: pt,
                codec: codec.clone(),
            },
        );
    }
    m.ptime = caps.ptime;
    m.rtcp_mux = caps.rtcp_mux;
    m.direction = Some(caps.direction);
    sdp.media.push(m);
    sdp
}

/// Read the answer to an offer we made: per accepted audio stream, the
/// selected codecs (`codecs[0]` is what to send), the remote address and
/// direction, telephone-event payload type, ptime and rtcp-mux.
pub fn process_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<Vec<NegotiatedMedia>, NegotiationError> {
    if offer.media.len() != answer.media.len() {
        return Err(NegotiationError::MediaCountMismatch {
            offered: offer.media.len(),
            answered: answer.media.len(),
        });
    }
    let mut streams = Vec::new();
    for (index, (om, am)) in offer.media.iter().zip(&answer.media).enumerate() {
        if om.media != am.media {
            return Err(NegotiationError::MediaMismatch { index });
        }
        if om.port == 0 || am.port == 0 || om.media != MediaType::Audio {
            continue;
        }
        let ours = om.codecs();
        let offered = |c: &Codec| ours.iter().any(|(_, o)| o.matches(c));
        let answered: Vec<PayloadFormat> = am
            .codecs()
            .into_iter()
            .filter(|(_, c)| offered(c))
            .map(|(payload_type, codec)| PayloadFormat {
                payload_type,
                codec,
            })
            .collect();
        let codecs: Vec<PayloadFormat> = answered
            .iter()
            .filter(|f| !f.codec.is_auxiliary())
            .cloned()
            .collect();
        if codecs.is_empty() {
            return Err(NegotiationError::UnofferedCodec { index });
        }
        let aux = |te: bool| {
            answered
                .iter()
                .find(|f| f.codec.is_auxiliary() && f.codec.is_telephone_event() == te)
                .cloned()
        };
        let legacy_hold = answer.is_legacy_hold(index);
        let mut remote_direction = answer.direction_of(am);
        if legacy_hold {
            remote_direction = remote_direction.intersect(Direction::SendOnly);
        }
        let rtcp_mux = om.rtcp_mux && am.rtcp_mux;
        streams.push(NegotiatedMedia {
            index,
            codecs,
            telephone_event: aux(true),
            comfort_noise: aux(false),
            remote: answer.rtp_destination(index),
            remote_rtcp: answer.rtcp_destination(index, rtcp_mux),
            remote_direction,
            direction: offer
                .direction_of(om)
                .intersect(remote_direction.reversed()),
            remote_ptime: am.ptime,
            rtcp_mux,
            legacy_hold,
        });
    }
    if streams.is_empty() {
        return Err(NegotiationError::AllRejected);
    }
    Ok(streams)
}
