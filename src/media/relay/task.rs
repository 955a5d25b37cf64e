//! The relay task loop: waits on both legs' sockets, the command channel, a
//! housekeeping tick and, when a direction decodes, a 20 ms playout tick;
//! drains ready sockets in bounded batches into one reused buffer; admits,
//! validates, rewrites in place and forwards each packet (transcoding PCMU
//! <-> PCMA audio payloads in place when the legs' codecs differ, or handing
//! the audio to the decoding path of `decode.rs` for other pairs, whose
//! frames go out on the playout tick); runs commands; reports events
//! without ever blocking on a consumer. Nothing is allocated per packet on
//! the forwarding paths (only a tap copy when a tap is attached).

use super::decode::PTIME;
use super::latch::Admit;
use super::leg::{Leg, PtKind, Transcode};
use super::recv::recv_batch;
use super::rtcp_out;
use super::{
    Command, LegId, LegSetup, RelayEvent, RelayOptions, RelaySetupError, RelaySummary, TapFrame,
};
use crate::media::ports::MediaSockets;
use crate::media::rtp::{PacketKind, RTP_HEADER_LEN, RtpHeader, RtpPacket, RtpPacketMut, classify};
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::{Interval, MissedTickBehavior};

/// Decoding directions and music send on their own clock; a late tick is
/// made up at once, so the outgoing stream keeps real time.
fn playout_interval() -> Interval {
    let mut i = tokio::time::interval(PTIME);
    i.set_missed_tick_behavior(MissedTickBehavior::Burst);
    i
}

/// Receive buffer size; a datagram filling it entirely is taken as truncated.
const BUF_LEN: usize = 2048;
/// How long a packet may wait for a full kernel send buffer to drain.
const SEND_FALLBACK_WAIT: Duration = Duration::from_millis(5);

enum Wake {
    /// A leg's socket is readable: (leg index, whether its RTCP socket).
    Io(usize, bool),
    Cmd(Option<Command>),
    Tick,
    Playout,
}

/// A packet that `try_send_to` could not send at once.
struct Deferred {
    to: usize,
    /// The leg whose packet it is (`None`: the switch's own, music).
    from: Option<usize>,
    len: usize,
    payload_len: usize,
    dest: SocketAddr,
}

pub struct Relay {
    legs: [Leg; 2],
    buf: Box<[u8]>,
    cmds: mpsc::Receiver<Command>,
    events: mpsc::Sender<RelayEvent>,
    tap: Option<mpsc::Sender<TapFrame>>,
    tap_dropped: u64,
    events_dropped: u64,
    media_timeout: Option<Duration>,
    rtcp_interval: Option<Duration>,
    batch: usize,
}

fn pair(legs: &mut [Leg; 2], i: usize) -> (&mut Leg, &mut Leg) {
    let [a, b] = legs;
    if i == 0 { (a, b) } else { (b, a) }
}

async fn readable_opt(s: Option<&UdpSocket>) -> io::Result<()> {
    match s {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

async fn tick_opt(i: Option<&mut Interval>) {
    match i {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Relay {
    pub(crate) fn new(
        a: LegSetup,
        b: LegSetup,
        opts: &RelayOptions,
        cmds: mpsc::Receiver<Command>,
        events: mpsc::Sender<RelayEvent>,
    ) -> Result<Self, RelaySetupError> {
        let a_to_b = Transcode::between(a.codec, b.codec)?;
        let b_to_a = Transcode::between(b.codec, a.codec)?;
        let now = Instant::now();
        Ok(Self {
            legs: [
                Leg::new(LegId::A, a, a_to_b, opts.dtmf_end_timeout, now)?,
                Leg::new(LegId::B, b, b_to_a, opts.dtmf_end_timeout, now)?,
            ],
            // Two halves: `recv_batch` reads up to two datagrams at once.
            buf: vec![0u8; 2 * BUF_LEN].into_boxed_slice(),
            cmds,
            events,
            tap: None,
            tap_dropped: 0,
            events_dropped: 0,
            media_timeout: opts.media_timeout,
            rtcp_interval: opts.rtcp_interval,
            batch: opts.batch.max(1),
        })
    }

    /// Takes the relay boxed: an `async fn` keeps its arguments beside its
    /// locals, and a relay by value would sit in the task twice.
    pub async fn run(mut self: Box<Self>) -> (RelaySummary, [MediaSockets; 2]) {
        let period = self.media_timeout.map_or(Duration::from_millis(100), |t| {
            (t / 4).clamp(Duration::from_millis(10), Duration::from_millis(100))
        });
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut playout = self.needs_playout().then(playout_interval);
        loop {
            let wake = {
                let [a, b] = &self.legs;
                tokio::select! {
                    c = self.cmds.recv() => Wake::Cmd(c),
                    _ = a.rtp.readable() => Wake::Io(0, false),
                    _ = b.rtp.readable() => Wake::Io(1, false),
                    _ = readable_opt(a.rtcp.as_ref()) => Wake::Io(0, true),
                    _ = readable_opt(b.rtcp.as_ref()) => Wake::Io(1, true),
                    _ = tick.tick() => Wake::Tick,
                    _ = tick_opt(playout.as_mut()) => Wake::Playout,
                }
            };
            match wake {
                // Only the socket that woke us, at most `batch` datagrams:
                // `select!` picks among ready branches at random, so a
                // flood on one socket cannot starve the others, and quiet
                // sockets cost no empty reads.
                Wake::Io(i, rtcp) => self.drain(i, rtcp).await,
                Wake::Tick => self.housekeeping(Instant::now()),
                Wake::Playout => self.playout(Instant::now()).await,
                Wake::Cmd(Some(Command::Stop)) | Wake::Cmd(None) => break,
                Wake::Cmd(Some(cmd)) => {
                    self.command(cmd);
                    if playout.is_none() && self.needs_playout() {
                        playout = Some(playout_interval());
                    }
                }
            }
        }
        let summary = self.summary();
        let sockets = self.legs.map(|leg| MediaSockets {
            rtp_port: leg.rtp.local_addr().map_or(0, |a| a.port()),
            rtp: leg.rtp,
            rtcp: leg.rtcp,
        });
        (summary, sockets)
    }

    /// Whether anything goes out on the relay's own clock: a decoding
    /// direction, or music.
    fn needs_playout(&self) -> bool {
        self.legs
            .iter()
            .any(|l| l.decode.is_some() || l.music.is_some())
    }

    fn summary(&self) -> RelaySummary {
        RelaySummary {
            a: self.legs[0].summary(),
            b: self.legs[1].summary(),
            tap_dropped: self.tap_dropped,
            events_dropped: self.events_dropped,
        }
    }

    fn emit(&mut self, ev: RelayEvent) {
        if let Err(TrySendError::Full(_)) = self.events.try_send(ev) {
            self.events_dropped += 1;
        }
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::SetRemote {
                leg,
                remote,
                allowed_ips,
            } => {
                let (l, other) = pair(&mut self.legs, leg.index());
                l.latch.reset(remote, allowed_ips);
                l.last_rtp = now;
                l.timeout_reported = false;
                // The far end may restart its stream: re-anchor what we send on.
                other.rewriter.new_source();
            }
            Command::Hold { leg, on } => {
                let l = &mut self.legs[leg.index()];
                if l.hold && !on {
                    l.last_rtp = now;
                    l.timeout_reported = false;
                }
                l.hold = on;
            }
            Command::Direction {
                leg,
                send,
                expect_rtp,
            } => {
                let l = &mut self.legs[leg.index()];
                if l.quiet && expect_rtp {
                    l.last_rtp = now;
                    l.timeout_reported = false;
                }
                l.hold = !send;
                l.quiet = !expect_rtp;
            }
            Command::Music { leg, music } => self.legs[leg.index()].music = music,
            Command::Tap(tap) => self.tap = tap,
            Command::Snapshot(tx) => {
                let _ = tx.send(self.summary());
            }
            Command::Stop => {}
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        for i in 0..2 {
            let id = self.legs[i].id;
            if let Some(d) = self.legs[i].dtmf.poll(now) {
                self.legs[i].c.digits += 1;
                self.emit(RelayEvent::Digit {
                    leg: id,
                    digit: d.digit,
                    duration_ms: d.duration_ms,
                });
            }
            let timed_out = self
                .media_timeout
                .is_some_and(|t| self.legs[i].check_timeout(t, now));
            if timed_out {
                self.emit(RelayEvent::MediaTimeout { leg: id });
            }
            let leg = &mut self.legs[i];
            let due = self
                .rtcp_interval
                .is_some_and(|t| now.saturating_duration_since(leg.last_rtcp_report) >= t);
            if due && !leg.hold {
                leg.last_rtcp_report = now;
                if let Some((bytes, dest, mux)) = rtcp_out::report(leg, now) {
                    let sock = match (&leg.rtcp, mux) {
                        (Some(s), false) => s,
                        _ => &leg.rtp,
                    };
                    // Best effort: a report that does not fit is skipped.
                    let _ = sock.try_send_to(&bytes, dest);
                }
            }
        }
    }

    /// One playout tick: the next frame of each decoding direction, and of
    /// the music each held leg hears.
    async fn playout(&mut self, now: Instant) {
        for i in 0..2 {
            let (leg, other) = pair(&mut self.legs, i);
            let Some(dec) = leg.decode.as_deref_mut() else {
                continue;
            };
            let send = !other.hold && other.music.is_none() && other.latch.destination().is_some();
            let ssrc = other.rewriter.ssrc();
            let Some(p) = dec.next_frame(now, send, &mut self.buf, ssrc, other.payload_type) else {
                continue;
            };
            if let Some(d) = forward(leg, other, &self.buf[..p.len], p.payload_len) {
                self.send_deferred(d).await;
            }
        }
        for i in 0..2 {
            if let Some(d) = self.music_frame(i, now) {
                self.send_deferred(d).await;
            }
        }
    }

    /// Sends leg `i` its next frame of music, if it is playing any.
    fn music_frame(&mut self, i: usize, now: Instant) -> Option<Deferred> {
        let leg = &mut self.legs[i];
        let music = leg.music.as_deref_mut()?;
        let dest = leg.latch.destination()?;
        let f = music.next_frame(&mut self.buf[RTP_HEADER_LEN..BUF_LEN])?;
        if leg.hold {
            return None;
        }
        let r = leg
            .rewriter
            .map(f.ssrc, f.sequence, f.timestamp, f.marker, now);
        let header = RtpHeader {
            marker: r.marker,
            payload_type: leg.payload_type,
            sequence: r.sequence,
            timestamp: r.timestamp,
            ssrc: r.ssrc,
        };
        self.buf[..RTP_HEADER_LEN].copy_from_slice(&header.to_bytes());
        let len = RTP_HEADER_LEN + f.len;
        match leg.rtp.try_send_to(&self.buf[..len], dest) {
            Ok(_) => {
                leg.on_sent(&self.buf[..len], f.len);
                None
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(Deferred {
                to: i,
                from: None,
                len,
                payload_len: f.len,
                dest,
            }),
            Err(_) => {
                leg.c.send_errors += 1;
                None
            }
        }
    }

    async fn drain(&mut self, i: usize, rtcp: bool) {
        // Two datagrams per read (see `recv.rs`).
        for _ in 0..self.batch.div_ceil(2) {
            let leg = &self.legs[i];
            let sock = match (rtcp, &leg.rtcp) {
                (false, _) => &leg.rtp,
                (true, Some(s)) => s,
                (true, None) => return,
            };
            // Would block: drained. Other errors (ICMP reports): try later.
            let Ok(batch) = recv_batch(sock, &mut self.buf) else {
                return;
            };
            let now = Instant::now();
            for (k, d) in batch.datagrams.into_iter().enumerate() {
                let Some(d) = d else { continue };
                if k == 1 {
                    self.buf.copy_within(BUF_LEN..BUF_LEN + d.len, 0);
                }
                if let Some(out) = self.on_datagram(i, rtcp, d.len, d.from, now) {
                    self.send_deferred(out).await;
                }
            }
            if !batch.more {
                return;
            }
        }
    }

    async fn send_deferred(&mut self, d: Deferred) {
        let sock = &self.legs[d.to].rtp;
        let sent =
            tokio::time::timeout(SEND_FALLBACK_WAIT, sock.send_to(&self.buf[..d.len], d.dest))
                .await;
        match sent {
            Ok(Ok(_)) => {
                self.legs[d.to].on_sent(&self.buf[..d.len], d.payload_len);
                if let Some(from) = d.from {
                    self.legs[from].c.packets_forwarded += 1;
                }
            }
            _ => self.legs[d.to].c.send_errors += 1,
        }
    }

    /// Handle one datagram in `self.buf[..n]` from leg `i`. Returns a packet
    /// to send with the async fallback when the kernel buffer was full.
    fn on_datagram(
        &mut self,
        i: usize,
        rtcp_socket: bool,
        n: usize,
        src: SocketAddr,
        now: Instant,
    ) -> Option<Deferred> {
        let (leg, other) = pair(&mut self.legs, i);
        let admit = leg.latch.admit(src);
        if admit == Admit::Stranger {
            leg.c.dropped_from_strangers += 1;
            return None;
        }
        let buf = &mut self.buf[..n];
        if n == BUF_LEN {
            leg.c.dropped_invalid += 1; // truncated by our buffer
            return None;
        }
        if rtcp_socket || classify(buf) == PacketKind::Rtcp {
            if leg.on_rtcp(buf, now) {
                leg.rtcp_peer = Some(rtcp_out::RtcpPeer {
                    addr: src,
                    mux: !rtcp_socket,
                });
            } else {
                leg.c.dropped_invalid += 1;
            }
            return None;
        }
        let Ok(p) = RtpPacket::parse(buf) else {
            leg.c.dropped_invalid += 1;
            return None;
        };
        let (ssrc, seq, ts, marker, pt) = (
            p.ssrc(),
            p.sequence(),
            p.timestamp(),
            p.marker(),
            p.payload_type(),
        );
        let range = p.payload_range();
        let mut events: [Option<RelayEvent>; 3] = [None, None, None];
        if admit == Admit::Candidate {
            leg.latch.latch(src);
            events[0] = Some(RelayEvent::Latched {
                leg: leg.id,
                addr: src,
            });
        }
        leg.last_rtp = now;
        leg.timeout_reported = false;
        leg.c.packets_received += 1;
        leg.c.bytes_received += n as u64;
        leg.recv.on_packet(ssrc, seq, ts, now);
        let kind = leg.classify_pt(pt);
        let digits = match kind {
            PtKind::Dtmf => leg
                .dtmf
                .on_packet(ts, marker, &buf[range.clone()], now)
                .ok(),
            _ => None,
        };
        if kind == PtKind::Audio
            && let Some(inband) = leg.inband.as_deref_mut()
            && let Some(digit) = inband.on_audio(&buf[range.clone()])
        {
            leg.c.digits += 1;
            events[1] = Some(RelayEvent::Digit {
                leg: leg.id,
                digit,
                // The tone's length is not known when it is recognised.
                duration_ms: 0,
            });
        }
        if let Some(digits) = digits {
            for (slot, d) in events[1..].iter_mut().zip(digits) {
                leg.c.digits += 1;
                *slot = Some(RelayEvent::Digit {
                    leg: leg.id,
                    digit: d.digit,
                    duration_ms: d.duration_ms,
                });
            }
        }
        let out_pt = other.out_pt(kind);
        let deferred = match (out_pt, leg.decode.as_deref_mut()) {
            (None, _) => {
                leg.c.dropped_unknown_pt += 1;
                None
            }
            // Transcoded through linear audio: audio waits in the jitter
            // buffer for the playout tick; telephone events go out now, on
            // the same outgoing stream.
            (Some(out_pt), Some(dec)) => {
                if kind == PtKind::Audio {
                    let (tap_ts, copy) = dec.push(ssrc, seq, ts, &buf[range], now);
                    if self.tap.is_some() {
                        let frame = TapFrame {
                            leg: leg.id,
                            payload_type: pt,
                            codec: leg.codec,
                            rtp_timestamp: tap_ts,
                            arrival: now,
                            payload: copy,
                        };
                        send_tap(&mut self.tap, &mut self.tap_dropped, frame);
                    }
                    None
                } else {
                    let (out_seq, out_ts) = dec.map_event(ts, &mut buf[range.clone()]);
                    if let Ok(mut m) = RtpPacketMut::new(buf) {
                        m.set_ssrc(other.rewriter.ssrc());
                        m.set_sequence(out_seq);
                        m.set_timestamp(out_ts);
                        m.set_payload_type(out_pt);
                    }
                    forward(leg, other, buf, range.len())
                }
            }
            // The other leg hears music: the packet is only recorded, and
            // the other leg's stream (its rewriter) is left to the music.
            (Some(_), None) if other.music.is_some() => {
                if kind == PtKind::Audio && self.tap.is_some() {
                    let frame = tap_frame(leg, pt, ts, now, &buf[range]);
                    send_tap(&mut self.tap, &mut self.tap_dropped, frame);
                }
                None
            }
            (Some(out_pt), None) => {
                let r = other.rewriter.map(ssrc, seq, ts, marker, now);
                if let Ok(mut m) = RtpPacketMut::new(buf) {
                    m.set_ssrc(r.ssrc);
                    m.set_sequence(r.sequence);
                    m.set_timestamp(r.timestamp);
                    m.set_marker(r.marker);
                    m.set_payload_type(out_pt);
                }
                // The tap copies the payload as it arrived, before transcoding.
                if kind == PtKind::Audio && self.tap.is_some() {
                    let frame = tap_frame(leg, pt, r.timestamp, now, &buf[range.clone()]);
                    send_tap(&mut self.tap, &mut self.tap_dropped, frame);
                }
                // Audio only: telephone events are never transcoded.
                if kind == PtKind::Audio {
                    leg.transcode_out.apply(&mut buf[range.clone()]);
                }
                forward(leg, other, buf, range.len())
            }
        };
        for ev in events.into_iter().flatten() {
            self.emit(ev);
        }
        deferred
    }
}

/// A copy of `leg`'s audio payload for the tap, at `rtp_timestamp`.
fn tap_frame(leg: &Leg, pt: u8, rtp_timestamp: u32, arrival: Instant, payload: &[u8]) -> TapFrame {
    TapFrame {
        leg: leg.id,
        payload_type: pt,
        codec: leg.codec,
        rtp_timestamp,
        arrival,
        payload: Bytes::copy_from_slice(payload),
    }
}

/// Hand `frame` to the tap without waiting: counted when its channel is
/// full, the tap dropped when its receiver is gone.
fn send_tap(tap: &mut Option<mpsc::Sender<TapFrame>>, dropped: &mut u64, frame: TapFrame) {
    if let Some(t) = tap.as_ref() {
        match t.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => *dropped += 1,
            Err(TrySendError::Closed(_)) => *tap = None,
        }
    }
}

/// Send the rewritten packet in `buf` from `from` to `to`, unless `to` is on
/// hold, hears music, or has no address yet.
#[inline]
fn forward(from: &mut Leg, to: &mut Leg, buf: &[u8], payload_len: usize) -> Option<Deferred> {
    if to.hold || to.music.is_some() {
        return None;
    }
    let dest = to.latch.destination()?;
    match to.rtp.try_send_to(buf, dest) {
        Ok(_) => {
            to.on_sent(buf, payload_len);
            from.c.packets_forwarded += 1;
            None
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(Deferred {
            to: to.id.index(),
            from: Some(from.id.index()),
            len: buf.len(),
            payload_len,
            dest,
        }),
        Err(_) => {
            to.c.send_errors += 1;
            None
        }
    }
}
