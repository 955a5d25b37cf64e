//! The media core: everything that touches audio. It owns sample codecs
//! (G.711), resampling between 8, 16 and 48 kHz, SDP offer/answer, RTP and
//! RTCP (packets, statistics, cross-leg rewriting), DTMF (RFC 4733 and
//! in-band), the jitter buffer, and (as it grows) prompt playback and
//! crash-safe recording. The modules here are sans-IO: they
//! take samples, packets and times and return samples and packets; the
//! call layer's media tasks own the sockets.

pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod resample;
pub mod rtp;
pub mod sdp;
