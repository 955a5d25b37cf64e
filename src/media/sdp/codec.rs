//! Codecs as the negotiation sees them: [`Codec`] (name, clock rate,
//! channels, fmtp), the usual constructors, matching rules, and the static
//! audio payload types of RFC 3551.

/// A codec: encoding name, clock rate, channels and optional fmtp.
/// Names compare case-insensitively; absent channels mean 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    pub name: String,
    pub clock_rate: u32,
    pub channels: Option<u16>,
    pub fmtp: Option<String>,
}

impl Codec {
    pub fn new(name: &str, clock_rate: u32, channels: Option<u16>) -> Self {
        Codec {
            name: name.to_string(),
            clock_rate,
            channels,
            fmtp: None,
        }
    }
    pub fn with_fmtp(mut self, fmtp: &str) -> Self {
        self.fmtp = Some(fmtp.to_string());
        self
    }
    pub fn pcmu() -> Self {
        Codec::new("PCMU", 8000, None)
    }
    pub fn pcma() -> Self {
        Codec::new("PCMA", 8000, None)
    }
    /// G.722: RTP clock 8000 although sampled at 16 kHz (RFC 3551 4.5.2).
    pub fn g722() -> Self {
        Codec::new("G722", 8000, None)
    }
    pub fn g729() -> Self {
        Codec::new("G729", 8000, None)
    }
    /// Opus is always signalled as `opus/48000/2` (RFC 7587).
    pub fn opus() -> Self {
        Codec::new("opus", 48000, Some(2))
    }
    pub fn telephone_event() -> Self {
        Codec::new("telephone-event", 8000, None).with_fmtp("0-16")
    }
    /// Same encoding, clock rate and channel count (fmtp is ignored).
    pub fn matches(&self, other: &Codec) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
            && self.clock_rate == other.clock_rate
            && self.channels.unwrap_or(1) == other.channels.unwrap_or(1)
    }
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }
    /// Comfort noise and DTMF events are never the stream's main codec.
    pub fn is_auxiliary(&self) -> bool {
        self.is_telephone_event() || self.name.eq_ignore_ascii_case("CN")
    }
    /// The payload type RFC 3551 assigns statically to this codec, if any.
    pub fn static_payload_type(&self) -> Option<u8> {
        (0u8..=34).find(|&pt| static_codec(pt).is_some_and(|c| c.matches(self)))
    }
}

/// The static audio payload types of RFC 3551 table 4.
pub fn static_codec(pt: u8) -> Option<Codec> {
    let (name, rate, ch) = match pt {
        0 => ("PCMU", 8000, None),
        3 => ("GSM", 8000, None),
        4 => ("G723", 8000, None),
        5 => ("DVI4", 8000, None),
        6 => ("DVI4", 16000, None),
        7 => ("LPC", 8000, None),
        8 => ("PCMA", 8000, None),
        9 => ("G722", 8000, None),
        10 => ("L16", 44100, Some(2)),
        11 => ("L16", 44100, None),
        12 => ("QCELP", 8000, None),
        13 => ("CN", 8000, None),
        14 => ("MPA", 90000, None),
        15 => ("G728", 8000, None),
        16 => ("DVI4", 11025, None),
        17 => ("DVI4", 22050, None),
        18 => ("G729", 8000, None),
        _ => return None,
    };
    Some(Codec::new(name, rate, ch))
}
