//! The media core: everything that touches audio. It owns sample codecs
//! (the G.711 tables; G.711, G.722 and Opus encoders and decoders behind
//! one interface in `codec`), resampling between 8, 16 and 48 kHz, SDP
//! offer/answer, RTP and RTCP (packets, statistics, cross-leg rewriting),
//! DTMF (RFC 4733 and in-band), the jitter buffer, crash-safe WAV recording
//! and prompt files, the relay task (two legs bridged, transcoding when
//! their codecs differ), the recorder task, and the session task (the
//! switch as the far end of one leg: echo, prompts, recording, DTMF), and
//! prompts written as text (`tts`, spoken by espeak-ng and cached). The
//! media tasks run on a runtime of their own (`runtime`) in the switch.
//! Codec, packet, DTMF and SDP modules are sans-IO (samples, packets and
//! times in, samples and packets out); the media tasks own the sockets and
//! files.

pub mod codec;
pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod player;
pub mod ports;
pub mod recorder;
pub mod relay;
pub mod resample;
pub mod rtp;
pub mod runtime;
pub mod sdp;
pub mod session;
pub mod tts;
pub mod wav;
