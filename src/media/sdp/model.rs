//! The SDP data model: a parsed session description and its parts, plus the
//! small semantic helpers the media core needs (effective connection
//! address, effective direction, hold detection, static payload types,
//! session-version bumping). Parsing lives in `parse.rs`, text output in
//! `build.rs`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::codec::{Codec, static_codec};

/// A whole session description (RFC 8866 section 5).
///
/// Attributes the model understands are held in typed fields; every other
/// attribute is kept, in order, in `attributes` so that it can be written
/// back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `v=`; always 0 (anything else is rejected by the parser).
    pub version: u32,
    pub origin: Origin,
    /// `s=`; `"-"` when a (broken) peer omitted the line.
    pub session_name: String,
    /// `i=` at session level.
    pub session_info: Option<String>,
    /// `u=`
    pub uri: Option<String>,
    /// `e=` lines.
    pub emails: Vec<String>,
    /// `p=` lines.
    pub phones: Vec<String>,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines (with their `r=` lines); `[0 0]` when a peer omitted `t=`.
    pub timing: Vec<Timing>,
    /// `z=` (kept verbatim).
    pub time_zones: Option<String>,
    /// Session-level `k=` (obsolete, kept verbatim).
    pub key: Option<String>,
    /// Session-level direction attribute, if any.
    pub direction: Option<Direction>,
    /// Other session-level attributes, in order.
    pub attributes: Vec<Attribute>,
    /// `m=` sections, in order.
    pub media: Vec<MediaDescription>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    /// Opaque (numeric by the RFC, but only ever compared).
    pub session_id: String,
    /// Must change whenever the session is modified (re-offer).
    pub session_version: u64,
    pub net_type: String,
    pub addr_type: String,
    pub address: String,
}

/// `c=<nettype> <addrtype> <connection-address>`
///
/// `address` is kept verbatim, including any multicast `/ttl/count` suffix
/// or a host name; [`Connection::ip`] interprets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub net_type: String,
    pub addr_type: String,
    pub address: String,
}

/// `b=<bwtype>:<bandwidth>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    pub bw_type: String,
    pub bandwidth: u64,
}

/// `t=<start> <stop>` followed by its `r=` lines (kept verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub start: u64,
    pub stop: u64,
    pub repeats: Vec<String>,
}

/// A generic attribute: `a=name` or `a=name:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

impl Attribute {
    pub fn flag(name: &str) -> Self {
        Attribute {
            name: name.to_string(),
            value: None,
        }
    }
    pub fn new(name: &str, value: &str) -> Self {
        Attribute {
            name: name.to_string(),
            value: Some(value.to_string()),
        }
    }
}

/// Media direction (RFC 3264 section 5.1 / RFC 8866 section 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn from_parts(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
    /// The same stream seen from the other end (sendonly <-> recvonly).
    pub fn reversed(self) -> Self {
        Direction::from_parts(self.receives(), self.sends())
    }
    /// What both directions allow.
    pub fn intersect(self, other: Direction) -> Self {
        Direction::from_parts(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// The `<media>` field of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    Audio,
    Video,
    Text,
    Application,
    Message,
    Image,
    Other(String),
}

impl MediaType {
    pub fn from_name(s: &str) -> Self {
        match s {
            "audio" => MediaType::Audio,
            "video" => MediaType::Video,
            "text" => MediaType::Text,
            "application" => MediaType::Application,
            "message" => MediaType::Message,
            "image" => MediaType::Image,
            other => MediaType::Other(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::Audio => "audio",
            MediaType::Video => "video",
            MediaType::Text => "text",
            MediaType::Application => "application",
            MediaType::Message => "message",
            MediaType::Image => "image",
            MediaType::Other(s) => s,
        }
    }
}

/// The `<proto>` field of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Protocol {
    RtpAvp,
    RtpAvpf,
    RtpSavp,
    RtpSavpf,
    UdpTlsRtpSavp,
    UdpTlsRtpSavpf,
    Udptl,
    Other(String),
}

impl Protocol {
    pub fn from_name(s: &str) -> Self {
        match s {
            "RTP/AVP" => Protocol::RtpAvp,
            "RTP/AVPF" => Protocol::RtpAvpf,
            "RTP/SAVP" => Protocol::RtpSavp,
            "RTP/SAVPF" => Protocol::RtpSavpf,
            "UDP/TLS/RTP/SAVP" => Protocol::UdpTlsRtpSavp,
            "UDP/TLS/RTP/SAVPF" => Protocol::UdpTlsRtpSavpf,
            "udptl" => Protocol::Udptl,
            other => Protocol::Other(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Protocol::RtpAvp => "RTP/AVP",
            Protocol::RtpAvpf => "RTP/AVPF",
            Protocol::RtpSavp => "RTP/SAVP",
            Protocol::RtpSavpf => "RTP/SAVPF",
            Protocol::UdpTlsRtpSavp => "UDP/TLS/RTP/SAVP",
            Protocol::UdpTlsRtpSavpf => "UDP/TLS/RTP/SAVPF",
            Protocol::Udptl => "udptl",
            Protocol::Other(s) => s,
        }
    }
    /// True for any RTP profile: the formats are payload type numbers.
    pub fn is_rtp(&self) -> bool {
        match self {
            Protocol::Udptl => false,
            Protocol::Other(s) => s.split('/').any(|p| p == "RTP"),
            _ => true,
        }
    }
}

/// `a=rtpmap:<pt> <name>/<rate>[/<channels>]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    /// Encoding parameters (audio: channel count), as written.
    pub channels: Option<u16>,
}

/// `a=fmtp:<pt> <params>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    pub payload_type: u8,
    pub params: String,
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    pub port: u16,
    pub connection: Option<Connection>,
}

/// One `m=` section.
///
/// For RTP media, `rtpmap`, `fmtp`, `ptime`, `maxptime`, `rtcp`, `rtcp-mux`
/// and the direction attributes are typed; everything else (and all
/// attributes of non-RTP media) stays in `attributes`, in order. `fmtps`
/// are kept in the order of their `rtpmaps` (those with no rtpmap last),
/// which is the order they are written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    pub media: MediaType,
    /// 0 means the stream is rejected / disabled.
    pub port: u16,
    /// The `/<number of ports>` suffix, if present.
    pub port_count: Option<u16>,
    pub protocol: Protocol,
    /// The `<fmt>` tokens (payload type numbers for RTP), as on the line.
    pub formats: Vec<String>,
    /// Media-level `i=`.
    pub title: Option<String>,
    /// Media-level `c=` lines (more than one only for multicast).
    pub connections: Vec<Connection>,
    pub bandwidths: Vec<Bandwidth>,
    pub key: Option<String>,
    pub rtpmaps: Vec<RtpMap>,
    pub fmtps: Vec<Fmtp>,
    pub ptime: Option<u32>,
    pub maxptime: Option<u32>,
    pub direction: Option<Direction>,
    pub rtcp_mux: bool,
    pub rtcp: Option<Rtcp>,
    pub attributes: Vec<Attribute>,
}

impl Connection {
    pub fn new(ip: IpAddr) -> Self {
        let addr_type = if ip.is_ipv4() { "IP4" } else { "IP6" };
        Connection {
            net_type: "IN".into(),
            addr_type: addr_type.into(),
            address: ip.to_string(),
        }
    }
    /// The address as an IP, without any multicast suffix; `None` for a
    /// host name (resolving names is the caller's business).
    pub fn ip(&self) -> Option<IpAddr> {
        let host = self.address.split('/').next().unwrap_or("");
        host.parse().ok()
    }
    /// `0.0.0.0` (or `::`): the RFC 2543 way of putting a call on hold.
    pub fn is_unspecified(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

impl MediaDescription {
    /// An empty RTP media section.
    pub fn new(media: MediaType, port: u16, protocol: Protocol) -> Self {
        MediaDescription {
            media,
            port,
            port_count: None,
            protocol,
            formats: Vec::new(),
            title: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            rtpmaps: Vec::new(),
            fmtps: Vec::new(),
            ptime: None,
            maxptime: None,
            direction: None,
            rtcp_mux: false,
            rtcp: None,
            attributes: Vec::new(),
        }
    }
    /// Port 0: the stream is rejected (in an answer) or disabled.
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }
    /// The payload type numbers of the `m=` line (non-numeric tokens skipped).
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats.iter().filter_map(|f| f.parse().ok()).collect()
    }
    pub fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|r| r.payload_type == pt)
    }
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|f| f.payload_type == pt)
            .map(|f| f.params.as_str())
    }
    /// The codec a payload type stands for: its rtpmap, else the static
    /// table; fmtp attached.
    pub fn codec(&self, pt: u8) -> Option<Codec> {
        let mut codec = match self.rtpmap(pt) {
            Some(r) => Codec::new(&r.encoding, r.clock_rate, r.channels),
            None => static_codec(pt)?,
        };
        codec.fmtp = self.fmtp(pt).map(str::to_string);
        Some(codec)
    }
    /// `(payload type, codec)` for each format of the `m=` line, in order,
    /// skipping dynamic payload types that have no rtpmap.
    pub fn codecs(&self) -> Vec<(u8, Codec)> {
        self.payload_types()
            .into_iter()
            .filter_map(|pt| Some((pt, self.codec(pt)?)))
            .collect()
    }
    /// Generic attribute lookup (first match) among the untyped attributes.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

impl SessionDescription {
    /// A minimal description: `v=0`, the given origin, `s=-`, `t=0 0`.
    pub fn new(origin: Origin) -> Self {
        SessionDescription {
            version: 0,
            origin,
            session_name: "-".into(),
            session_info: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            timing: vec![Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            }],
            time_zones: None,
            key: None,
            direction: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }
    /// The connection that applies to a media section: its own first `c=`,
    /// else the session-level one.
    pub fn connection_for<'a>(&'a self, m: &'a MediaDescription) -> Option<&'a Connection> {
        m.connections.first().or(self.connection.as_ref())
    }
    /// Effective direction of a media section: media level, else session
    /// level, else sendrecv.
    pub fn direction_of(&self, m: &MediaDescription) -> Direction {
        m.direction
            .or(self.direction)
            .unwrap_or(Direction::SendRecv)
    }
    /// Where to send RTP for media section `index`: `None` when the port is
    /// 0, the address is `0.0.0.0` / `::` (hold), a host name, or missing.
    pub fn rtp_destination(&self, index: usize) -> Option<SocketAddr> {
        let m = self.media.get(index)?;
        if m.port == 0 {
            return None;
        }
        let ip = self.connection_for(m)?.ip()?;
        if ip.is_unspecified() {
            return None;
        }
        Some(SocketAddr::new(ip, m.port))
    }
    /// Where to send RTCP: the RTP address when rtcp-mux was negotiated
    /// (`mux`), else the `a=rtcp` port (and address) if given, else RTP
    /// port + 1.
    pub fn rtcp_destination(&self, index: usize, mux: bool) -> Option<SocketAddr> {
        let rtp = self.rtp_destination(index)?;
        let m = &self.media[index];
        if mux {
            return Some(rtp);
        }
        match &m.rtcp {
            Some(r) => {
                let ip = r
                    .connection
                    .as_ref()
                    .and_then(Connection::ip)
                    .unwrap_or(rtp.ip());
                Some(SocketAddr::new(ip, r.port))
            }
            None => Some(SocketAddr::new(rtp.ip(), rtp.port().checked_add(1)?)),
        }
    }
    /// RFC 2543-style hold: the stream's effective address is `0.0.0.0`
    /// (or `::`). Not when the stream uses ICE (`a=ice-ufrag` at media or
    /// session level): there `0.0.0.0` is the trickle-ICE placeholder.
    pub fn is_legacy_hold(&self, index: usize) -> bool {
        let Some(m) = self.media.get(index) else {
            return false;
        };
        let ice = m.attribute("ice-ufrag").is_some()
            || self.attributes.iter().any(|a| a.name == "ice-ufrag");
        !ice && self
            .connection_for(m)
            .is_some_and(Connection::is_unspecified)
    }
    /// Bump `o=` sess-version, as required when re-offering a modified
    /// session (RFC 3264 section 8): call once per new offer.
    pub fn bump_version(&mut self) {
        self.origin.session_version = self.origin.session_version.wrapping_add(1);
    }
    /// Re-offer helper for hold / resume: set every non-rejected stream's
    /// direction and bump the session version.
    pub fn set_direction(&mut self, direction: Direction) {
        for m in self.media.iter_mut().filter(|m| m.port != 0) {
            m.direction = Some(direction);
        }
        self.bump_version();
    }
}

impl Origin {
    /// Our origin line: `o=<username> <id> <version> IN IP4|IP6 <address>`.
    pub fn new(username: &str, session_id: u64, session_version: u64, address: IpAddr) -> Self {
        let c = Connection::new(address);
        Origin {
            username: username.to_string(),
            session_id: session_id.to_string(),
            session_version,
            net_type: c.net_type,
            addr_type: c.addr_type,
            address: c.address,
        }
    }
}

/// The unspecified IPv4 address, for building a legacy hold description.
pub const HOLD_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
