//! The session task loop: waits on its 20 ms tick, the command channel and
//! the leg's sockets (in that order of priority). Ready sockets are drained
//! in bounded batches into one reused buffer; each datagram is admitted by
//! the latch, validated and routed (audio to the jitter buffer, RFC 4733 to
//! the digit receiver, RTCP to the statistics). Each tick plays out one frame
//! of the caller's audio (recording, in-band DTMF, echo) and sends at most
//! one packet (digit, prompt, echo or idle silence, see the module doc of
//! `session`).
//!
//! # Late ticks
//!
//! The tick is a [`MissedTickBehavior::Skip`] interval, and the task counts
//! the ticks due since it started instead of trusting one wake per tick.
//! After a stall, every overdue tick is processed (the player and the
//! recording keep wall-clock time) but only the last [`MAX_BURST`] of them
//! send their packet, back to back; beyond [`MAX_CATCH_UP`] overdue ticks the
//! older ones are skipped outright. Either way the timestamp jumps over what
//! was not sent, as for silence suppression.

use super::inbound::{Heard, Inbound};
use super::outbound::{DigitQueue, OutStream};
use super::record::Recorder;
use super::{
    Command, DigitSource, IdleOutput, PTIME, SessionError, SessionEvent, SessionOptions,
    SessionSummary,
};
use crate::media::jitter::JitterConfig;
use crate::media::player::{OutputFormat, Player, PlayerEvent};
use crate::media::ports::MediaSockets;
use crate::media::relay::latch::Admit;
use crate::media::relay::leg::{Leg, PtKind, Transcode};
use crate::media::relay::{LegId, LegSetup, RelaySetupError};
use crate::media::rtp::{PacketKind, RtpHeader, RtpPacket, classify};
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::MissedTickBehavior;

/// Receive buffer size; a datagram filling it entirely is taken as truncated.
const BUF_LEN: usize = 2048;
/// Overdue ticks that still send their packet after a stall (60 ms of audio).
const MAX_BURST: u64 = 3;
/// Overdue ticks processed at once after a stall (1 s); older ones are skipped.
const MAX_CATCH_UP: u64 = 50;

enum Wake {
    Tick,
    Cmd(Option<Command>),
    Io,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    frames_played: u64,
    frames_echoed: u64,
    digits_sent: u32,
    ticks_late: u64,
    events_dropped: u64,
    recording_frames_dropped: u64,
}

pub(crate) struct Session {
    /// The leg: sockets, latch, receive/send statistics, RFC 4733 receiver,
    /// hold and media-timeout bookkeeping, counters (shared with the relay).
    leg: Leg,
    inbound: Inbound,
    out: OutStream,
    digits_out: Option<DigitQueue>,
    player: Player,
    silence: Bytes,
    echo: bool,
    idle: IdleOutput,
    recorder: Option<Recorder>,
    buf: Box<[u8]>,
    packet: Vec<u8>,
    cmds: mpsc::Receiver<Command>,
    events: mpsc::Sender<SessionEvent>,
    media_timeout: Option<Duration>,
    batch: usize,
    ticks_done: u64,
    c: Counters,
}

async fn readable_opt(s: Option<&UdpSocket>) -> io::Result<()> {
    match s {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

impl Session {
    pub(crate) fn new(
        setup: LegSetup,
        format: OutputFormat,
        opts: &SessionOptions,
        cmds: mpsc::Receiver<Command>,
        events: mpsc::Sender<SessionEvent>,
    ) -> Result<Self, RelaySetupError> {
        let now = Instant::now();
        let spf = format.samples_per_frame() as u32;
        let jitter = JitterConfig {
            clock_rate: setup.clock_rate,
            ptime_ms: u32::from(format.ptime_ms()),
            ..opts.jitter
        };
        let inband = opts.inband_dtmf && setup.telephone_event_pt.is_none();
        let digits_out = setup.telephone_event_pt.map(|pt| {
            DigitQueue::new(
                pt,
                setup.clock_rate,
                opts.digit_duration,
                opts.digit_gap,
                opts.digit_queue,
            )
        });
        let out = OutStream::new(setup.our_ssrc, spf, rand::random(), rand::random());
        Ok(Self {
            inbound: Inbound::new(setup.codec, jitter, inband),
            out,
            digits_out,
            player: Player::new(format),
            silence: format.silence_frame(),
            echo: false,
            idle: opts.idle,
            recorder: None,
            buf: vec![0u8; BUF_LEN].into_boxed_slice(),
            packet: Vec::with_capacity(BUF_LEN),
            cmds,
            events,
            media_timeout: opts.media_timeout,
            batch: opts.batch.max(1),
            ticks_done: 0,
            c: Counters::default(),
            leg: Leg::new(LegId::A, setup, Transcode::None, opts.dtmf_end_timeout, now)?,
        })
    }

    /// Takes the session boxed (an argument by value would sit in the task
    /// twice).
    pub async fn run(mut self: Box<Self>) -> (SessionSummary, Option<Recorder>, MediaSockets) {
        let start = tokio::time::Instant::now();
        let mut tick = tokio::time::interval_at(start, PTIME);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            let wake = tokio::select! {
                biased;
                _ = tick.tick() => Wake::Tick,
                c = self.cmds.recv() => Wake::Cmd(c),
                _ = self.leg.rtp.readable() => Wake::Io,
                _ = readable_opt(self.leg.rtcp.as_ref()) => Wake::Io,
            };
            match wake {
                Wake::Tick => self.on_tick(start),
                Wake::Io => {
                    self.drain(false);
                    self.drain(true);
                }
                Wake::Cmd(Some(Command::Stop)) | Wake::Cmd(None) => break,
                Wake::Cmd(Some(cmd)) => self.command(cmd),
            }
        }
        let summary = self.summary();
        let recorder = self.recorder.take();
        // The leg's sockets go back to whoever owns the call's media (a
        // flow may hand the caller to an agent: same sockets, same port).
        let leg = self.leg;
        let rtp_port = leg.rtp.local_addr().map_or(0, |a| a.port());
        let sockets = MediaSockets {
            rtp: leg.rtp,
            rtcp: leg.rtcp,
            rtp_port,
        };
        (summary, recorder, sockets)
    }

    fn summary(&self) -> SessionSummary {
        SessionSummary {
            leg: self.leg.summary(),
            jitter: self.inbound.stats(),
            frames_played: self.c.frames_played,
            frames_echoed: self.c.frames_echoed,
            digits_sent: self.c.digits_sent,
            ticks_late: self.c.ticks_late,
            events_dropped: self.c.events_dropped,
            recording_frames_dropped: self.c.recording_frames_dropped,
            recording: None,
        }
    }

    fn emit(&mut self, ev: SessionEvent) {
        if let Err(TrySendError::Full(_)) = self.events.try_send(ev) {
            self.c.events_dropped += 1;
        }
    }

    fn player_events(&mut self) {
        while let Some(ev) = self.player.poll_event() {
            self.emit(match ev {
                PlayerEvent::Finished(id) => SessionEvent::PlaybackFinished(id),
                PlayerEvent::BargedIn { id, digit } => {
                    SessionEvent::PlaybackInterrupted { id, digit }
                }
                PlayerEvent::Stopped(id) => SessionEvent::PlaybackStopped(id),
            });
        }
    }

    /// A digit from the caller: report it, then barge in on a playlist that
    /// allows it.
    fn on_digit(&mut self, digit: char, source: DigitSource, duration_ms: Option<u32>) {
        self.leg.c.digits += 1;
        self.emit(SessionEvent::Digit {
            digit,
            source,
            duration_ms,
        });
        if self.player.on_dtmf(digit) {
            self.player_events();
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Play(playlist, reply) => {
                let r = self.player.play(playlist);
                self.player_events();
                let _ = reply.send(r);
            }
            Command::StopPlayback(reply) => {
                let was = self.player.stop();
                self.player_events();
                let _ = reply.send(was);
            }
            Command::Echo(on) => self.echo = on,
            Command::StartRecording(recorder, reply) => {
                if self.recorder.is_some() {
                    let _ = reply.send(Err(recorder));
                } else {
                    self.recorder = Some(recorder);
                    let _ = reply.send(Ok(()));
                }
            }
            Command::StopRecording(reply) => {
                // If the handle is gone, dropping the recorder finishes the file.
                let _ = reply.send(self.recorder.take());
            }
            Command::SendDigit(digit, reply) => {
                let r = match self.digits_out.as_mut().map(|q| q.push(digit)) {
                    None => Err(SessionError::NoTelephoneEvent),
                    Some(true) => Ok(()),
                    Some(false) => Err(SessionError::DigitQueueFull),
                };
                let _ = reply.send(r);
            }
            Command::SetRemote {
                remote,
                allowed_ips,
            } => {
                self.leg.latch.reset(remote, allowed_ips);
                self.leg.last_rtp = Instant::now();
                self.leg.timeout_reported = false;
                self.out.pause();
            }
            Command::Hold(on) => {
                if self.leg.hold && !on {
                    self.leg.last_rtp = Instant::now();
                    self.leg.timeout_reported = false;
                }
                self.leg.hold = on;
            }
            Command::Snapshot(reply) => {
                let _ = reply.send(self.summary());
            }
            Command::Stop => {}
        }
    }

    fn on_tick(&mut self, start: tokio::time::Instant) {
        let now = tokio::time::Instant::now();
        let elapsed = now.saturating_duration_since(start);
        let due = (elapsed.as_nanos() / PTIME.as_nanos()) as u64 + 1;
        let mut overdue = due.saturating_sub(self.ticks_done);
        if overdue > MAX_CATCH_UP {
            let skipped = overdue - MAX_CATCH_UP;
            self.ticks_done += skipped;
            self.c.ticks_late += skipped;
            self.out.advance(skipped);
            self.out.pause();
            if let Some(rec) = self.recorder.as_mut() {
                rec.skip(skipped);
            }
            overdue = MAX_CATCH_UP;
        }
        let now = now.into_std();
        for left in (0..overdue).rev() {
            self.frame_tick(now, left < MAX_BURST);
        }
    }

    /// One tick: play out the caller's frame, then send ours (only if `send`:
    /// an overdue tick beyond the burst is processed but not sent).
    fn frame_tick(&mut self, now: Instant, send: bool) {
        self.ticks_done += 1;
        let (heard, inband) = self.inbound.tick(now);
        if let Some(rec) = self.recorder.as_mut() {
            let payload = match &heard {
                Heard::Frame(p) => Some(p),
                Heard::Lost | Heard::Nothing => None,
            };
            if !rec.tick(payload) {
                self.c.recording_frames_dropped += 1;
            }
        }
        if let Some(digit) = inband {
            self.on_digit(digit, DigitSource::Inband, None);
        }
        if let Some(d) = self.leg.dtmf.poll(now) {
            self.on_digit(d.digit, DigitSource::Rfc4733, Some(d.duration_ms));
        }
        if self
            .media_timeout
            .is_some_and(|t| self.leg.check_timeout(t, now))
        {
            self.emit(SessionEvent::MediaTimeout);
        }
        self.send_tick(heard, send);
        self.out.advance(1);
    }

    fn send_tick(&mut self, heard: Heard, send: bool) {
        let dest = match self.leg.hold {
            true => None,
            false => self.leg.latch.destination(),
        };
        // No one to send to: the player and queued digits wait.
        let Some(dest) = dest else {
            self.out.pause();
            return;
        };
        let ts = self.out.timestamp();
        if let Some(p) = self.digits_out.as_mut().and_then(|q| q.poll(ts)) {
            if !send {
                self.late();
                return;
            }
            if p.marker {
                self.c.digits_sent += 1;
            }
            let header = self.out.event(&p);
            self.transmit(header, &p.payload, dest);
            return;
        }
        let pt = self.leg.payload_type;
        let (payload, marker) = if let Some(f) = self.player.next_frame() {
            self.player_events();
            if send {
                self.c.frames_played += 1;
            }
            (f.payload, f.marker)
        } else if self.echo && !matches!(heard, Heard::Nothing) {
            if send {
                self.c.frames_echoed += 1;
            }
            match heard {
                Heard::Frame(p) => (p, false),
                Heard::Lost | Heard::Nothing => (self.silence.clone(), false),
            }
        } else if self.idle == IdleOutput::Silence {
            (self.silence.clone(), false)
        } else {
            self.out.pause();
            return;
        };
        if !send {
            self.late();
            return;
        }
        let header = self.out.audio(pt, marker);
        self.transmit(header, &payload, dest);
    }

    fn late(&mut self) {
        self.c.ticks_late += 1;
        self.out.pause();
    }

    fn transmit(&mut self, header: RtpHeader, payload: &[u8], dest: SocketAddr) {
        self.packet.clear();
        header.write(payload, &mut self.packet);
        match self.leg.rtp.try_send_to(&self.packet, dest) {
            Ok(_) => self.leg.on_sent(&self.packet, payload.len()),
            // A full socket buffer at 50 packets/s: the frame is lost.
            Err(_) => self.leg.c.send_errors += 1,
        }
    }

    fn drain(&mut self, rtcp: bool) {
        for _ in 0..self.batch {
            let sock = match (rtcp, &self.leg.rtcp) {
                (false, _) => &self.leg.rtp,
                (true, Some(s)) => s,
                (true, None) => return,
            };
            match sock.try_recv_from(&mut self.buf) {
                Ok((n, src)) => self.on_datagram(rtcp, n, src, Instant::now()),
                // WouldBlock: drained. Other errors (ICMP reports): try later.
                Err(_) => return,
            }
        }
    }

    /// Handle one datagram in `self.buf[..n]`.
    fn on_datagram(&mut self, rtcp_socket: bool, n: usize, src: SocketAddr, now: Instant) {
        let leg = &mut self.leg;
        let admit = leg.latch.admit(src);
        if admit == Admit::Stranger {
            leg.c.dropped_from_strangers += 1;
            return;
        }
        if n == BUF_LEN {
            leg.c.dropped_invalid += 1; // truncated by our buffer
            return;
        }
        let buf = &self.buf[..n];
        if rtcp_socket || classify(buf) == PacketKind::Rtcp {
            if !leg.on_rtcp(buf, now) {
                leg.c.dropped_invalid += 1;
            }
            return;
        }
        let Ok(p) = RtpPacket::parse(buf) else {
            leg.c.dropped_invalid += 1;
            return;
        };
        let latched = admit == Admit::Candidate;
        if latched {
            leg.latch.latch(src);
        }
        leg.last_rtp = now;
        leg.timeout_reported = false;
        leg.c.packets_received += 1;
        leg.c.bytes_received += n as u64;
        leg.recv
            .on_packet(p.ssrc(), p.sequence(), p.timestamp(), now);
        let digits = match leg.classify_pt(p.payload_type()) {
            PtKind::Audio => {
                let (ssrc, seq, ts) = (p.ssrc(), p.sequence(), p.timestamp());
                self.inbound.push(ssrc, seq, ts, p.payload(), now);
                None
            }
            PtKind::Dtmf => leg
                .dtmf
                .on_packet(p.timestamp(), p.marker(), p.payload(), now)
                .ok(),
            PtKind::Unknown => {
                leg.c.dropped_unknown_pt += 1;
                None
            }
        };
        if latched {
            self.emit(SessionEvent::Latched(src));
        }
        for d in digits.into_iter().flatten() {
            self.on_digit(d.digit, DigitSource::Rfc4733, Some(d.duration_ms));
        }
    }
}
