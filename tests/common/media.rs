//! Media helpers for the integration tests: SIPp's speech and DTMF pcaps,
//! a talking caller, and speech detection in recorded WAV files.

use std::time::Duration;

use super::{SippClient, SippResult};

pub const SPEECH_PCAP: &str = "/usr/share/sip-tester/g711a.pcap";
pub const DTMF5_PCAP: &str = "/usr/share/sip-tester/dtmf_2833_5.pcap";

/// A SIPp caller (`uac_media.xml`) to 1001 at `target` offering
/// `caller_pts`: 7 s of speech, the digit 5, a second, BYE.
pub fn talking_call_to(target: &str, caller_pts: &str, limit: Duration) -> SippResult {
    SippClient::new(target, "uac_media.xml", "60s")
        .media()
        .service("1001")
        .args(&[
            "-key",
            "caller_pts",
            caller_pts,
            "-key",
            "speech_pcap",
            SPEECH_PCAP,
            "-key",
            "dtmf_pcap",
            DTMF5_PCAP,
        ])
        .run(limit)
}

/// Per channel of a 16-bit WAV, the first and last second (start, end)
/// of the 100 ms windows whose RMS is above `threshold`.
pub fn speech_spans(path: &str, threshold: f64) -> Vec<Option<(f64, f64)>> {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{path} does not open as WAV: {e}"));
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let rate = spec.sample_rate as usize;
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let window = rate / 10;
    let mut spans = vec![None; channels];
    for (ch, span) in spans.iter_mut().enumerate() {
        let frames = samples.len() / channels;
        for w in 0..frames / window {
            let sum: f64 = (w * window..(w + 1) * window)
                .map(|i| f64::from(samples[i * channels + ch]).powi(2))
                .sum();
            let rms = (sum / window as f64).sqrt();
            if rms > threshold {
                let t = w as f64 / 10.0;
                *span = Some(span.map_or((t, t + 0.1), |(a, _)| (a, t + 0.1)));
            }
        }
    }
    spans
}

/// The frequency of a steady tone in `x` (sampled at `rate`), from its
/// zero crossings.
pub fn crossing_frequency(x: &[i16], rate: usize) -> f64 {
    let crossings = x.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    crossings as f64 / 2.0 / (x.len() as f64 / rate as f64)
}

/// A hand-made caller on the carrier trunk: raw SIP over UDP and an RTP
/// socket, for tests that must see or shape every packet.
pub struct RawCaller {
    pub sip: super::RawUdp,
    /// Where the caller's RTP goes out from and comes back to.
    pub rtp: std::net::UdpSocket,
    pub to: std::net::SocketAddr,
    pub call_id: String,
    /// The caller's number (From), `+15550777` unless changed.
    pub from: String,
    number: String,
    /// `;tag=...` of the switch, once answered.
    tag: String,
    /// The switch's RTP address for this call, once answered.
    pub leg: Option<std::net::SocketAddr>,
    cseq: u32,
}

impl RawCaller {
    /// A caller to `number` at `to`; its SDP will name `sdp_port` (the RTP
    /// socket's own port when `None`).
    pub fn new(to: std::net::SocketAddr, number: &str) -> Self {
        let sip = super::RawUdp::bind(super::LOCALHOST);
        let rtp = std::net::UdpSocket::bind((super::LOCALHOST, 0)).unwrap();
        let call_id = format!("raw-{}-{number}", sip.local().port());
        Self {
            sip,
            rtp,
            to,
            call_id,
            from: "+15550777".to_string(),
            number: number.to_string(),
            tag: String::new(),
            leg: None,
            cseq: 1,
        }
    }

    fn headers(&self, method: &str, cseq: u32, branch: &str) -> String {
        let (local, to, number) = (self.sip.local(), self.to, &self.number);
        format!(
            "{method} sip:{number}@{to} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-{branch}-{cseq};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{}@{local}>;tag=caller\r\n\
             To: <sip:{number}@{to}>{}\r\n\
             Call-ID: {}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:carrier@{local}>\r\n",
            self.from, self.tag, self.call_id
        )
    }

    /// INVITE offering `pts` (e.g. "0 101", rtpmap for 101 added) with
    /// `sdp_port` in the SDP; returns the final status and response, and
    /// ACKs a 200.
    pub fn invite(&mut self, pts: &str, sdp_port: Option<u16>) -> (u16, String) {
        let port = sdp_port.unwrap_or_else(|| self.rtp.local_addr().unwrap().port());
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {pts}\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-16\r\na=sendrecv\r\n"
        );
        self.invite_sdp(&sdp)
    }

    /// INVITE with `sdp` as its body, whatever it holds; returns the final
    /// status and response, and ACKs a 200.
    pub fn invite_sdp(&mut self, sdp: &str) -> (u16, String) {
        let msg = format!(
            "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            self.headers("INVITE", 1, "inv"),
            sdp.len()
        );
        let (status, response) = self
            .sip
            .request(self.to, &msg, Duration::from_secs(10))
            .expect("a final response to the INVITE");
        if status == 200 {
            self.take_answer(&response);
            let ack = format!("{}Content-Length: 0\r\n\r\n", self.headers("ACK", 1, "ack"));
            self.sip.send(self.to, ack.as_bytes());
        }
        (status, response)
    }

    /// INVITE without SDP (a late offer): the switch offers in its 200,
    /// and the ACK answers with PCMU and telephone-event on the RTP
    /// socket's port. Returns the final status and response.
    pub fn invite_late(&mut self) -> (u16, String) {
        let msg = format!(
            "{}Content-Length: 0\r\n\r\n",
            self.headers("INVITE", 1, "inv")
        );
        let (status, response) = self
            .sip
            .request(self.to, &msg, Duration::from_secs(10))
            .expect("a final response to the INVITE");
        if status != 200 {
            return (status, response);
        }
        self.take_answer(&response);
        let ours = self.rtp.local_addr().unwrap().port();
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {ours} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
        );
        let ack = format!(
            "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            self.headers("ACK", 1, "ack"),
            sdp.len()
        );
        self.sip.send(self.to, ack.as_bytes());
        (status, response)
    }

    /// A re-INVITE with `sdp` (its `o=` version bumped by the caller of
    /// this); returns the final status and response, and ACKs a 200.
    pub fn reinvite_sdp(&mut self, sdp: &str) -> (u16, String) {
        self.cseq += 1;
        let msg = format!(
            "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            self.headers("INVITE", self.cseq, "reinv"),
            sdp.len()
        );
        let (status, response) = self
            .sip
            .request(self.to, &msg, Duration::from_secs(10))
            .expect("a final response to the re-INVITE");
        if status == 200 {
            let ack = format!(
                "{}Content-Length: 0\r\n\r\n",
                self.headers("ACK", self.cseq, "ack")
            );
            self.sip.send(self.to, ack.as_bytes());
        }
        (status, response)
    }

    /// Waits for the switch's re-INVITE and answers it 200 with `sdp`
    /// (then waits for its ACK); returns the re-INVITE, if one came.
    pub fn answer_reinvite(&self, sdp: &str, timeout: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        let invite = loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            let msg = self.sip.recv(left)?;
            if msg.starts_with("INVITE ") {
                break msg;
            }
        };
        let ok = response_to_request(&invite, 200, "OK");
        let ok = ok
            .trim_end_matches("\r\n")
            .trim_end_matches("Content-Length: 0");
        let local = self.sip.local();
        let ok = format!(
            "{ok}Contact: <sip:carrier@{local}>\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        self.sip.send(self.to, ok.as_bytes());
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        self.sip.recv(left).filter(|m| m.starts_with("ACK "))?;
        Some(invite)
    }

    /// From the switch's 200: its To tag (for in-dialog requests) and the
    /// RTP port of its SDP.
    fn take_answer(&mut self, response: &str) {
        let tag = super::header_value(response, "To")
            .and_then(|to| to.split(";tag=").nth(1).map(|t| t.trim().to_string()))
            .expect("a To tag in the 200");
        self.tag = format!(";tag={tag}");
        let port: u16 = response
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|r| r.split_whitespace().next()?.parse().ok())
            .expect("m=audio in the 200");
        self.leg = Some(std::net::SocketAddr::from((super::LOCALHOST, port)));
    }

    /// Sends BYE and returns the final status.
    pub fn bye(&mut self) -> u16 {
        self.cseq += 1;
        let msg = format!(
            "{}Content-Length: 0\r\n\r\n",
            self.headers("BYE", self.cseq, "bye")
        );
        self.sip
            .request(self.to, &msg, Duration::from_secs(5))
            .map_or(0, |(s, _)| s)
    }

    /// Waits for the switch's BYE (answering it 200); true if it came.
    pub fn await_bye(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let Some(msg) = self.sip.recv(left) else {
                return false;
            };
            if msg.starts_with("BYE ") {
                let ok = response_to_request(&msg, 200, "OK");
                self.sip.send(self.to, ok.as_bytes());
                return true;
            }
        }
        false
    }

    /// One RTP packet to the switch's leg from the RTP socket.
    pub fn send_rtp(&self, pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) {
        let leg = self.leg.expect("answered");
        self.rtp
            .send_to(&rtp_packet(pt, seq, ts, marker, payload), leg)
            .unwrap();
    }

    /// Sends `frames` PCMU frames filled with `byte`, one every 20 ms on a
    /// fixed schedule (no drift however late one sleep wakes up), the
    /// first with the marker bit.
    pub fn talk(&self, seq: &mut u16, ts: &mut u32, frames: u16, byte: u8) {
        let start = std::time::Instant::now();
        for i in 0..frames {
            let at = start + Duration::from_millis(20) * u32::from(i);
            if let Some(wait) = at.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
            self.send_rtp(0, *seq, *ts, i == 0, &[byte; 160]);
            *seq = seq.wrapping_add(1);
            *ts = ts.wrapping_add(160);
        }
    }

    /// Talks `frames` frames of `pattern` and counts those that come back
    /// unchanged (the far end echoes), after draining what was queued.
    pub fn echoed(&self, seq: &mut u16, ts: &mut u32, frames: u16, pattern: u8) -> usize {
        let _ = self.receive(Duration::from_millis(50), Duration::from_millis(200));
        self.talk(seq, ts, frames, pattern);
        self.receive(Duration::from_millis(500), Duration::from_secs(3))
            .iter()
            .filter(|(_, p)| p.iter().all(|&b| b == pattern))
            .count()
    }

    /// An RFC 4733 digit (event code `event`, e.g. 11 for `#`) at `ts`:
    /// three updates and three end packets.
    pub fn send_digit(&self, event: u8, seq: &mut u16, ts: u32) {
        for i in 0..6u16 {
            let end = i >= 3;
            let duration = 160 * (i.min(3) + 1);
            let mut p = vec![event, if end { 0x8a } else { 0x0a }];
            p.extend_from_slice(&duration.to_be_bytes());
            self.send_rtp(101, *seq, ts, i == 0, &p);
            *seq = seq.wrapping_add(1);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The caller, sending silence every 20 ms, listens until `quiet_ms`
    /// of quiet follow some sound (more than 25 loud frames), or `limit`
    /// passes; returns the number of loud frames heard.
    pub fn listen(&self, seq: &mut u16, ts: &mut u32, quiet_ms: u32, limit: Duration) -> usize {
        let start = std::time::Instant::now();
        let (mut heard, mut quiet) = (0usize, 0u32);
        let mut i = 0u32;
        while start.elapsed() < limit {
            let at = start + Duration::from_millis(20) * i;
            i += 1;
            if let Some(wait) = at.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
            self.send_rtp(0, *seq, *ts, *seq == 1, &[SILENCE; 160]);
            *seq = seq.wrapping_add(1);
            *ts = ts.wrapping_add(160);
            for (_, p) in self.receive(Duration::from_millis(1), Duration::from_millis(5)) {
                if loud(&p) {
                    heard += 1;
                    quiet = 0;
                } else {
                    quiet += 20;
                }
            }
            if heard > 25 && quiet >= quiet_ms {
                break;
            }
        }
        heard
    }

    /// (payload type, payload) of the RTP packets arriving on the RTP
    /// socket until `quiet` passes without one (at most `limit` long).
    pub fn receive(&self, quiet: Duration, limit: Duration) -> Vec<(u8, Vec<u8>)> {
        receive_rtp(&self.rtp, quiet, limit)
    }
}

/// A PCMU frame byte of silence.
pub const SILENCE: u8 = 0xff;

/// Whether a PCMU payload is mostly sound (neither of the two silences).
pub fn loud(payload: &[u8]) -> bool {
    payload
        .iter()
        .filter(|&&b| b != SILENCE && b != 0x7f)
        .count()
        > payload.len() / 2
}

/// An RTP packet (version 2, SSRC 0x12345678).
pub fn rtp_packet(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// (payload type, payload) of the RTP packets arriving on `sock` until
/// `quiet` passes without one (at most `limit` long).
pub fn receive_rtp(
    sock: &std::net::UdpSocket,
    quiet: Duration,
    limit: Duration,
) -> Vec<(u8, Vec<u8>)> {
    sock.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        match sock.recv_from(&mut buf) {
            Ok((n, _)) if n > 12 => out.push((buf[1] & 0x7f, buf[12..n].to_vec())),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    out
}

/// A response to the request `msg`: its Via, From, To, Call-ID and CSeq.
pub fn response_to_request(msg: &str, status: u16, reason: &str) -> String {
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    for line in msg.lines().skip(1) {
        if line.trim().is_empty() {
            break;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if ["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"].contains(&name.as_str()) {
            out.push_str(line.trim_end());
            out.push_str("\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}
