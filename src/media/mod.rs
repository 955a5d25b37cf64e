//! The media core: everything that touches audio. It owns sample codecs
//! (G.711), resampling between 8, 16 and 48 kHz, SDP offer/answer, and (as the media core
//! grows) RTP/RTCP, SDP offer/answer, DTMF, the jitter buffer, prompt
//! playback and crash-safe recording. The modules here are sans-IO: they
//! take samples, packets and times and return samples and packets; the
//! call layer's media tasks own the sockets.

pub mod g711;
pub mod resample;
pub mod sdp;
