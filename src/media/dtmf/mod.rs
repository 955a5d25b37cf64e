//! DTMF for the media core: RFC 4733 telephone-event (parse, receive into
//! digits exactly once, send) in [`rfc4733`], and in-band Goertzel detection
//! on 8 kHz linear PCM in [`goertzel`]. Sans-IO; times and sample positions
//! are passed in.

pub mod goertzel;
pub mod rfc4733;

pub use goertzel::{DetectorConfig, GoertzelDetector, InbandDigit};
pub use rfc4733::{
    DigitEvent, DtmfError, DtmfPacket, Rfc4733Receiver, Rfc4733Sender, TelephoneEvent,
    digit_to_event, event_to_digit,
};
