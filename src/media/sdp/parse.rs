//! Text -> [`SessionDescription`]: line splitting, line-order rules and the
//! parsing of each line type and of the typed attributes (rtpmap, fmtp,
//! ptime, maxptime, rtcp, rtcp-mux, direction). What is strict and what is
//! tolerated is documented in the module root (`mod.rs`).

use std::str::FromStr;

use super::model::{
    Attribute, Bandwidth, Connection, Direction, Fmtp, MediaDescription, MediaType, Origin,
    Protocol, Rtcp, RtpMap, SessionDescription, Timing,
};
use super::{SdpError, SdpErrorKind};

type Kind = SdpErrorKind;

/// Parse a session description from bytes (must be UTF-8).
pub fn parse_bytes(bytes: &[u8]) -> Result<SessionDescription, SdpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| SdpError {
        line: 0,
        text: String::new(),
        kind: Kind::NotUtf8,
    })?;
    parse(text)
}

impl FromStr for SessionDescription {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, SdpError> {
        parse(s)
    }
}

/// Parse a session description (`\r\n` or `\n` line ends).
pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    let mut p = Parser::default();
    let mut any = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_end_matches([' ', '\t', '\r']);
        if line.is_empty() {
            continue;
        }
        let err = |kind| SdpError {
            line: i + 1,
            text: truncate(line),
            kind,
        };
        let mut chars = line.chars();
        let (Some(ty), Some('=')) = (chars.next(), chars.next()) else {
            return Err(err(Kind::MissingEquals));
        };
        let value = chars.as_str();
        if !any {
            any = true;
            if ty != 'v' {
                return Err(err(Kind::VersionNotFirst));
            }
        }
        p.line(ty, value).map_err(err)?;
    }
    if !any {
        return Err(SdpError {
            line: 0,
            text: String::new(),
            kind: Kind::Empty,
        });
    }
    p.finish()
}

fn truncate(line: &str) -> String {
    line.chars().take(80).collect()
}

#[derive(Default)]
struct Parser {
    seen_v: bool,
    origin: Option<Origin>,
    name: Option<String>,
    info: Option<String>,
    uri: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    timing: Vec<Timing>,
    zones: Option<String>,
    key: Option<String>,
    direction: Option<Direction>,
    attributes: Vec<Attribute>,
    media: Vec<MediaDescription>,
}

fn set_once<T>(slot: &mut Option<T>, value: T, ty: char) -> Result<(), Kind> {
    if slot.is_some() {
        return Err(Kind::Duplicate(ty));
    }
    *slot = Some(value);
    Ok(())
}

impl Parser {
    fn line(&mut self, ty: char, value: &str) -> Result<(), Kind> {
        if !self.media.is_empty() {
            return self.media_line(ty, value);
        }
        match ty {
            'v' => {
                if self.seen_v {
                    return Err(Kind::Duplicate('v'));
                }
                self.seen_v = true;
                if value.trim() != "0" {
                    return Err(Kind::BadVersion);
                }
            }
            'o' => set_once(&mut self.origin, parse_origin(value)?, 'o')?,
            's' => set_once(&mut self.name, value.to_string(), 's')?,
            'i' => set_once(&mut self.info, value.to_string(), 'i')?,
            'u' => set_once(&mut self.uri, value.to_string(), 'u')?,
            'e' => self.emails.push(value.to_string()),
            'p' => self.phones.push(value.to_string()),
            'c' => set_once(&mut self.connection, parse_connection(value)?, 'c')?,
            'b' => self.bandwidths.push(parse_bandwidth(value)?),
            't' => self.timing.push(parse_timing(value)?),
            'r' => match self.timing.last_mut() {
                Some(t) => t.repeats.push(value.to_string()),
                None => return Err(Kind::Misplaced("r= line before any t= line")),
            },
            'z' => set_once(&mut self.zones, value.to_string(), 'z')?,
            'k' => set_once(&mut self.key, value.to_string(), 'k')?,
            'a' => {
                let attr = parse_attribute(value)?;
                match session_direction(&attr) {
                    Some(d) => self.direction = Some(d),
                    None => self.attributes.push(attr),
                }
            }
            'm' => self.media.push(parse_media(value)?),
            other => return Err(unknown(other)),
        }
        Ok(())
    }

    fn media_line(&mut self, ty: char, value: &str) -> Result<(), Kind> {
        if ty == 'm' {
            if let Some(last) = self.media.last_mut() {
                sort_fmtps(last);
            }
            self.media.push(parse_media(value)?);
            return Ok(());
        }
        let Some(m) = self.media.last_mut() else {
            return Err(Kind::Misplaced("media line outside a media section"));
        };
        match ty {
            'i' => set_once(&mut m.title, value.to_string(), 'i')?,
            'c' => m.connections.push(parse_connection(value)?),
            'b' => m.bandwidths.push(parse_bandwidth(value)?),
            'k' => set_once(&mut m.key, value.to_string(), 'k')?,
            'a' => media_attribute(m, parse_attribute(value)?)?,
            'v' | 'o' | 's' | 'u' | 'e' | 'p' | 't' | 'r' | 'z' => {
                return Err(Kind::Misplaced("session-level line inside a media section"));
            }
            other => return Err(unknown(other)),
        }
        Ok(())
    }

    fn finish(mut self) -> Result<SessionDescription, SdpError> {
        if let Some(last) = self.media.last_mut() {
            sort_fmtps(last);
        }
        let origin = self.origin.ok_or(SdpError {
            line: 0,
            text: String::new(),
            kind: Kind::MissingOrigin,
        })?;
        if self.timing.is_empty() {
            self.timing.push(Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            });
        }
        Ok(SessionDescription {
            version: 0,
            origin,
            session_name: self.name.unwrap_or_else(|| "-".to_string()),
            session_info: self.info,
            uri: self.uri,
            emails: self.emails,
            phones: self.phones,
            connection: self.connection,
            bandwidths: self.bandwidths,
            timing: self.timing,
            time_zones: self.zones,
            key: self.key,
            direction: self.direction,
            attributes: self.attributes,
            media: self.media,
        })
    }
}

fn unknown(ty: char) -> Kind {
    Kind::UnknownType(ty)
}

/// Keep fmtps in the order of their rtpmaps (orphans last, stable), which
/// is the order `Display` writes them in.
fn sort_fmtps(m: &mut MediaDescription) {
    let rtpmaps = &m.rtpmaps;
    m.fmtps.sort_by_key(|f| {
        rtpmaps
            .iter()
            .position(|r| r.payload_type == f.payload_type)
            .unwrap_or(usize::MAX)
    });
}

fn parse_origin(value: &str) -> Result<Origin, Kind> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    let [username, id, version, net, addr_type, address] = f[..] else {
        return Err(Kind::BadOrigin("expected 6 fields"));
    };
    let session_version = version
        .parse()
        .map_err(|_| Kind::BadOrigin("sess-version is not a number"))?;
    Ok(Origin {
        username: username.to_string(),
        session_id: id.to_string(),
        session_version,
        net_type: net.to_string(),
        addr_type: addr_type.to_string(),
        address: address.to_string(),
    })
}

fn parse_connection(value: &str) -> Result<Connection, Kind> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    let [net, addr_type, address] = f[..] else {
        return Err(Kind::BadConnection(
            "expected <nettype> <addrtype> <address>",
        ));
    };
    Ok(Connection {
        net_type: net.to_string(),
        addr_type: addr_type.to_string(),
        address: address.to_string(),
    })
}

fn parse_bandwidth(value: &str) -> Result<Bandwidth, Kind> {
    let (ty, bw) = value.split_once(':').ok_or(Kind::BadBandwidth)?;
    let bandwidth = bw.trim().parse().map_err(|_| Kind::BadBandwidth)?;
    if ty.is_empty() || ty.contains(char::is_whitespace) {
        return Err(Kind::BadBandwidth);
    }
    Ok(Bandwidth {
        bw_type: ty.to_string(),
        bandwidth,
    })
}

fn parse_timing(value: &str) -> Result<Timing, Kind> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    let [start, stop] = f[..] else {
        return Err(Kind::BadTiming);
    };
    Ok(Timing {
        start: start.parse().map_err(|_| Kind::BadTiming)?,
        stop: stop.parse().map_err(|_| Kind::BadTiming)?,
        repeats: Vec::new(),
    })
}

fn parse_port(s: &str) -> Result<u16, Kind> {
    s.parse()
        .map_err(|_| Kind::BadMedia("port is not a number in 0..65535"))
}

fn parse_pt(s: &str) -> Option<u8> {
    s.parse().ok().filter(|pt| *pt <= 127)
}

fn parse_media(value: &str) -> Result<MediaDescription, Kind> {
    let mut f = value.split_ascii_whitespace();
    let (Some(media), Some(port), Some(proto)) = (f.next(), f.next(), f.next()) else {
        return Err(Kind::BadMedia("expected <media> <port> <proto> <fmt>..."));
    };
    let (port, port_count) = match port.split_once('/') {
        Some((p, n)) => (parse_port(p)?, Some(parse_port(n)?)),
        None => (parse_port(port)?, None),
    };
    let mut m = MediaDescription::new(
        MediaType::from_name(media),
        port,
        Protocol::from_name(proto),
    );
    m.port_count = port_count;
    m.formats = f.map(str::to_string).collect();
    if m.protocol.is_rtp() && m.formats.iter().any(|pt| parse_pt(pt).is_none()) {
        return Err(Kind::BadMedia("RTP payload type is not a number in 0..127"));
    }
    Ok(m)
}

fn parse_attribute(value: &str) -> Result<Attribute, Kind> {
    let (name, value) = match value.split_once(':') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (value, None),
    };
    if name.is_empty() {
        return Err(Kind::BadAttribute);
    }
    Ok(Attribute {
        name: name.to_string(),
        value,
    })
}

fn session_direction(a: &Attribute) -> Option<Direction> {
    match a.value {
        None => Direction::from_name(&a.name),
        Some(_) => None,
    }
}

fn media_attribute(m: &mut MediaDescription, a: Attribute) -> Result<(), Kind> {
    if let Some(d) = session_direction(&a) {
        m.direction = Some(d);
        return Ok(());
    }
    if !m.protocol.is_rtp() {
        m.attributes.push(a);
        return Ok(());
    }
    match (a.name.as_str(), a.value.as_deref()) {
        ("rtpmap", v) => {
            let map = parse_rtpmap(v.unwrap_or(""))?;
            match m.rtpmap(map.payload_type) {
                Some(old) if *old == map => {}
                Some(_) => return Err(Kind::BadRtpmap("payload type mapped twice")),
                None => m.rtpmaps.push(map),
            }
        }
        ("fmtp", v) => m.fmtps.push(parse_fmtp(v.unwrap_or(""))?),
        ("ptime", Some(v)) if v.trim().parse::<u32>().is_ok() => {
            m.ptime = v.trim().parse().ok();
        }
        ("maxptime", Some(v)) if v.trim().parse::<u32>().is_ok() => {
            m.maxptime = v.trim().parse().ok();
        }
        ("rtcp", Some(v)) => m.rtcp = Some(parse_rtcp(v)?),
        ("rtcp-mux", None) => m.rtcp_mux = true,
        _ => m.attributes.push(a),
    }
    Ok(())
}

fn parse_rtpmap(v: &str) -> Result<RtpMap, Kind> {
    let (pt, enc) = v
        .trim()
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or(Kind::BadRtpmap(
            "expected <payload type> <encoding>/<clock rate>",
        ))?;
    let payload_type = parse_pt(pt).ok_or(Kind::BadRtpmap("payload type not in 0..127"))?;
    let mut parts = enc.trim().split('/');
    let encoding = parts.next().unwrap_or("");
    if encoding.is_empty() || encoding.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(Kind::BadRtpmap("bad encoding name"));
    }
    let clock_rate = parts
        .next()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .ok_or(Kind::BadRtpmap("clock rate is not a positive number"))?;
    let channels = match parts.next() {
        Some(c) => Some(
            c.parse()
                .map_err(|_| Kind::BadRtpmap("channels is not a number"))?,
        ),
        None => None,
    };
    if parts.next().is_some() {
        return Err(Kind::BadRtpmap("too many '/' fields"));
    }
    Ok(RtpMap {
        payload_type,
        encoding: encoding.to_string(),
        clock_rate,
        channels,
    })
}

fn parse_fmtp(v: &str) -> Result<Fmtp, Kind> {
    let v = v.trim_start();
    let (pt, params) = match v.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((pt, params)) => (pt, params.trim_start()),
        None => (v, ""),
    };
    let payload_type = parse_pt(pt).ok_or(Kind::BadFmtp("payload type not in 0..127"))?;
    Ok(Fmtp {
        payload_type,
        params: params.to_string(),
    })
}

fn parse_rtcp(v: &str) -> Result<Rtcp, Kind> {
    let f: Vec<&str> = v.split_ascii_whitespace().collect();
    let port = f
        .first()
        .and_then(|p| p.parse().ok())
        .ok_or(Kind::BadRtcp)?;
    let connection = match f[1..] {
        [] => None,
        [net, addr_type, address] => Some(Connection {
            net_type: net.to_string(),
            addr_type: addr_type.to_string(),
            address: address.to_string(),
        }),
        _ => return Err(Kind::BadRtcp),
    };
    Ok(Rtcp { port, connection })
}
