//! The per-call RTP relay: one tokio task that anchors media between two legs
//! (A and B), owning both legs' sockets. It applies symmetric RTP (latching
//! onto the first valid source from an allowed IP, see [`latch`]), rewrites
//! SSRC/sequence/timestamp and payload types per direction, consumes RTCP for
//! statistics, reports RFC 4733 digits, media timeouts and latching as
//! [`RelayEvent`]s, feeds an optional recording tap, and returns a
//! [`RelaySummary`] when stopped or when its handle is dropped.
//!
//! # Codecs
//!
//! Each [`LegSetup`] states its leg's [`AudioCodec`]. Per direction:
//!
//! * Same codec: the audio payload is forwarded untouched.
//! * PCMU with PCMA: G.711 is transcoded byte by byte in place (mu-law <->
//!   A-law tables of [`crate::media::g711`], no decoding to linear, no
//!   allocation) while the header is rewritten.
//! * Any other pair of codecs the media core can decode (PCMU, PCMA, G.722,
//!   Opus; see [`crate::media::codec`]): the payloads go through a jitter
//!   buffer (60 ms playout delay, adaptive down to 40 ms), are decoded to
//!   linear audio (lost packets concealed, Opus recovered from FEC when the
//!   next packet is there), resampled to the other leg's rate and re-encoded
//!   in 20 ms frames sent on a 20 ms clock as our own stream, with
//!   timestamps in the other codec's RTP clock (8000 for G.722, 48000 for
//!   Opus). See `decode.rs`.
//! * `Other` with anything but `Other` is refused by [`spawn_relay`] with a
//!   [`RelaySetupError`].
//!
//! RFC 4733 telephone-event packets are never transcoded: they are payload
//! type mapped (and, on a decoding direction, put on the outgoing stream's
//! sequence and timestamp, their duration converted between clock rates).
//! The recording tap receives each payload as it arrived on its leg, tagged
//! with that leg's codec; [`TapDecoder`] turns them into linear audio at the
//! leg's own rate.
//!
//! This module holds the public types and the [`RelayHandle`]; the per-leg
//! state is in `leg.rs`, the decoding path in `decode.rs`, the task loop in
//! `task.rs`, tap decoding in `tap.rs`.

mod decode;
mod inband;
pub mod latch;
pub(crate) mod leg;
mod music;
mod recv;
mod rtcp_out;
mod tap;
mod task;

#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_control;
#[cfg(test)]
mod tests_perf;
#[cfg(test)]
mod tests_transcode;
#[cfg(test)]
mod tests_wideband;

use super::jitter::JitterStats;
use super::ports::MediaSockets;
use super::rtp::StreamSummary;
use bytes::Bytes;
use leg::Transcode;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use super::codec::AudioCodec;
pub use music::{Music, MusicError};
pub use tap::TapDecoder;

/// Which side of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegId {
    A,
    B,
}

impl LegId {
    pub fn index(self) -> usize {
        match self {
            LegId::A => 0,
            LegId::B => 1,
        }
    }
    pub fn other(self) -> LegId {
        match self {
            LegId::A => LegId::B,
            LegId::B => LegId::A,
        }
    }
}

/// The two legs' codecs cannot be bridged by the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RelaySetupError {
    #[error(
        "cannot bridge a {a:?} leg with a {b:?} leg: only the same codec, or two of PCMU, PCMA, G722 and opus, are relayed"
    )]
    CodecMismatch { a: AudioCodec, b: AudioCodec },
    /// The codec library would not start an encoder or decoder for it.
    #[error("cannot start a {0:?} encoder or decoder")]
    CodecUnavailable(AudioCodec),
}

/// Everything the relay (or a [`crate::media::session`]) needs to know
/// about one leg.
#[derive(Debug)]
pub struct LegSetup {
    pub sockets: MediaSockets,
    /// The address from the SDP; `None` when not known yet.
    pub remote: Option<SocketAddr>,
    /// IPs media may come from: the SDP address and the SIP signalling
    /// source. The SDP address's IP is always allowed as well. Empty (and no
    /// `remote`) means nothing is accepted until `set_remote`.
    pub allowed_ips: Vec<IpAddr>,
    /// The audio payload type negotiated on this leg.
    pub payload_type: u8,
    /// The codec `payload_type` stands for on this leg (see
    /// [`AudioCodec::from_encoding`] / [`AudioCodec::from_codec`]).
    pub codec: AudioCodec,
    /// The RTP clock of `payload_type` (and of `telephone_event_pt`): 8000
    /// for G.711 and G.722, 48000 for Opus.
    pub clock_rate: u32,
    pub telephone_event_pt: Option<u8>,
    /// The SSRC we send to this leg.
    pub our_ssrc: u32,
}

impl LegSetup {
    /// Whether the relay can bridge legs `a` and `b`: the same codec
    /// (forwarded untouched, `Other` included), PCMU with PCMA (table
    /// transcoding), or any two codecs the media core decodes (PCMU, PCMA,
    /// G.722, Opus: transcoded through linear audio). [`spawn_relay`]
    /// checks this.
    pub fn validate_pair(a: &LegSetup, b: &LegSetup) -> Result<(), RelaySetupError> {
        Transcode::between(a.codec, b.codec).map(|_| ())
    }
}

/// Relay tuning.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Report [`RelayEvent::MediaTimeout`] when a leg (not on hold) sends no
    /// RTP for this long. `None` disables the check.
    pub media_timeout: Option<Duration>,
    /// Capacity of the event channel; events that do not fit are dropped and
    /// counted (the relay never blocks on its consumer).
    pub event_capacity: usize,
    /// Capacity of the command channel.
    pub command_capacity: usize,
    /// An RFC 4733 event whose end packets were all lost is reported after
    /// this much silence.
    pub dtmf_end_timeout: Duration,
    /// Largest number of datagrams read from one socket before the task
    /// looks at the other socket and the commands again.
    pub batch: usize,
    /// How often each leg is sent an RTCP report (SR or RR with SDES);
    /// `None` sends none.
    pub rtcp_interval: Option<Duration>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            media_timeout: Some(Duration::from_secs(30)),
            event_capacity: 64,
            command_capacity: 16,
            dtmf_end_timeout: Duration::from_millis(500),
            batch: 32,
            rtcp_interval: Some(Duration::from_secs(5)),
        }
    }
}

/// Something the call layer may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEvent {
    /// An RFC 4733 digit from `leg` (reported once per key press).
    Digit {
        leg: LegId,
        digit: char,
        duration_ms: u32,
    },
    /// No RTP from `leg` for `media_timeout` (reported once per silence).
    MediaTimeout { leg: LegId },
    /// `leg`'s media source is now `addr`; we send there from now on.
    Latched { leg: LegId, addr: SocketAddr },
}

/// A copy of one forwarded audio payload, for the recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapFrame {
    /// The leg the audio came from.
    pub leg: LegId,
    /// The payload type on that leg.
    pub payload_type: u8,
    /// The codec of that leg: `payload` is in this codec, as received (before
    /// any transcoding for the other leg).
    pub codec: AudioCodec,
    /// Timestamp of the rewritten outgoing stream (continuous across source
    /// changes of the sender), in the clock of `codec` (8000 for G.711 and
    /// G.722, 48000 for Opus). On a direction transcoded through linear
    /// audio, where the other leg gets a stream of our own, it is the
    /// received stream made continuous the same way.
    pub rtp_timestamp: u32,
    pub arrival: Instant,
    pub payload: Bytes,
}

/// Counters and statistics for one leg at the end of (or during) the call.
#[derive(Debug, Clone, PartialEq)]
pub struct LegSummary {
    /// Receive statistics of the stream from this leg; RTT when known.
    pub stream: StreamSummary,
    /// Valid RTP packets accepted from this leg.
    pub packets_received: u64,
    pub bytes_received: u64,
    /// Packets from this leg sent on to the other leg.
    pub packets_forwarded: u64,
    /// Packets sent to this leg.
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Datagrams from a source that is not allowed or not the latched one.
    pub dropped_from_strangers: u64,
    /// Datagrams that are neither valid RTP nor (with mux) RTCP.
    pub dropped_invalid: u64,
    /// Valid RTP with a payload type the other leg has no mapping for.
    pub dropped_unknown_pt: u64,
    /// Packets to this leg that could not be sent (socket error or full).
    pub send_errors: u64,
    /// RTCP compounds consumed from this leg.
    pub rtcp_received: u64,
    pub latched_addr: Option<SocketAddr>,
    pub digits: u32,
    /// When this leg's audio is transcoded through linear audio for the
    /// other leg: what that path did.
    pub decoding: Option<DecodeSummary>,
}

/// The transcoding path for one leg's audio (jitter buffer, decoder,
/// resampler, encoder for the other leg).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeSummary {
    /// The jitter buffer in front of the decoder (reordering, late and
    /// missing packets, underruns).
    pub jitter: JitterStats,
    /// Payloads decoded.
    pub decoded: u64,
    /// Payloads the decoder refused (replaced by concealment).
    pub decode_errors: u64,
    /// Lost frames concealed (PLC).
    pub concealed: u64,
    /// Lost frames rebuilt from the next packet (Opus FEC; other codecs
    /// conceal instead).
    pub recovered: u64,
    /// Frames encoded for the other leg.
    pub encoded: u64,
    pub encode_errors: u64,
    /// Frames decoded and dropped to bring the playout delay back down
    /// (the sender's clock running faster than ours).
    pub dropped_for_latency: u64,
}

/// What the relay hands back when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RelaySummary {
    pub a: LegSummary,
    pub b: LegSummary,
    /// Tap frames dropped because the tap's channel was full.
    pub tap_dropped: u64,
    /// Events dropped because the event channel was full.
    pub events_dropped: u64,
}

impl RelaySummary {
    pub fn leg(&self, leg: LegId) -> &LegSummary {
        match leg {
            LegId::A => &self.a,
            LegId::B => &self.b,
        }
    }
}

/// A command to the relay task.
#[derive(Debug)]
pub(crate) enum Command {
    SetRemote {
        leg: LegId,
        remote: Option<SocketAddr>,
        allowed_ips: Vec<IpAddr>,
    },
    Hold {
        leg: LegId,
        on: bool,
    },
    /// Whether the relay sends to `leg` and whether `leg` is expected to
    /// send (its media timeout runs only then).
    Direction {
        leg: LegId,
        send: bool,
        expect_rtp: bool,
    },
    /// Music to `leg` instead of the other leg's stream (`None`: back to
    /// the other leg's stream).
    Music {
        leg: LegId,
        music: Option<Box<Music>>,
    },
    Tap(Option<mpsc::Sender<TapFrame>>),
    Snapshot(oneshot::Sender<RelaySummary>),
    Stop,
}

/// The relay task is gone (stopped, or it panicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("media relay is not running")]
pub struct RelayClosed;

/// Control of one running relay. Dropping it stops the relay.
#[derive(Debug)]
pub struct RelayHandle {
    commands: mpsc::Sender<Command>,
    events: Option<mpsc::Receiver<RelayEvent>>,
    task: JoinHandle<(RelaySummary, [MediaSockets; 2])>,
}

/// Start the relay task for one call. Must be called within a tokio runtime.
///
/// Fails, without spawning anything, when the legs' codecs cannot be bridged
/// (see [`LegSetup::validate_pair`]); the legs' sockets are then dropped.
pub fn spawn_relay(
    a: LegSetup,
    b: LegSetup,
    opts: RelayOptions,
) -> Result<RelayHandle, RelaySetupError> {
    let (cmd_tx, cmd_rx) = mpsc::channel(opts.command_capacity.max(1));
    let (ev_tx, ev_rx) = mpsc::channel(opts.event_capacity.max(1));
    let relay = task::Relay::new(a, b, &opts, cmd_rx, ev_tx)?;
    Ok(RelayHandle {
        commands: cmd_tx,
        events: Some(ev_rx),
        task: crate::media::runtime::spawn(Box::new(relay).run()),
    })
}

impl RelayHandle {
    async fn send(&self, cmd: Command) -> Result<(), RelayClosed> {
        self.commands.send(cmd).await.map_err(|_| RelayClosed)
    }

    /// A re-INVITE changed `leg`'s address: unlatch, send to `remote` until
    /// the leg latches again (from one of `allowed_ips` or `remote`'s IP).
    pub async fn set_remote(
        &self,
        leg: LegId,
        remote: Option<SocketAddr>,
        allowed_ips: Vec<IpAddr>,
    ) -> Result<(), RelayClosed> {
        self.send(Command::SetRemote {
            leg,
            remote,
            allowed_ips,
        })
        .await
    }

    /// Stop (or resume) sending to `leg`. Its media timeout is suspended meanwhile.
    pub async fn hold(&self, leg: LegId, on: bool) -> Result<(), RelayClosed> {
        self.send(Command::Hold { leg, on }).await
    }

    /// Set what the SDP direction says for `leg`: whether we send to it
    /// (`send`) and whether it sends to us (`expect_rtp`; when false its
    /// media timeout is suspended, e.g. while the call is on hold).
    pub async fn set_direction(
        &self,
        leg: LegId,
        send: bool,
        expect_rtp: bool,
    ) -> Result<(), RelayClosed> {
        self.send(Command::Direction {
            leg,
            send,
            expect_rtp,
        })
        .await
    }

    /// Play `music` to `leg` (the held party) instead of relaying the other
    /// leg's audio to it; `None` relays the other leg again. Build it with
    /// [`Music::new`] for `leg`'s codec.
    pub async fn music(&self, leg: LegId, music: Option<Music>) -> Result<(), RelayClosed> {
        let music = music.map(Box::new);
        self.send(Command::Music { leg, music }).await
    }

    /// Attach a tap receiving every forwarded audio payload (replaces any
    /// previous tap). Frames that do not fit in its channel are dropped.
    pub async fn tap(&self, tx: mpsc::Sender<TapFrame>) -> Result<(), RelayClosed> {
        self.send(Command::Tap(Some(tx))).await
    }

    pub async fn untap(&self) -> Result<(), RelayClosed> {
        self.send(Command::Tap(None)).await
    }

    /// Counters so far, without stopping.
    pub async fn snapshot(&self) -> Result<RelaySummary, RelayClosed> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Snapshot(tx)).await?;
        rx.await.map_err(|_| RelayClosed)
    }

    /// The event stream (once; `None` afterwards).
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<RelayEvent>> {
        self.events.take()
    }

    /// Next event, while the events have not been taken and the relay runs.
    pub async fn next_event(&mut self) -> Option<RelayEvent> {
        self.events.as_mut()?.recv().await
    }

    /// Stop the relay and collect its summary.
    pub async fn stop(self) -> Result<RelaySummary, RelayClosed> {
        Ok(self.release().await?.0)
    }

    /// Stop the relay and take back its legs' sockets (A, B), for a media
    /// session to go on with one leg on the same ports.
    pub async fn release(self) -> Result<(RelaySummary, [MediaSockets; 2]), RelayClosed> {
        let _ = self.commands.send(Command::Stop).await;
        self.task.await.map_err(|_| RelayClosed)
    }
}
