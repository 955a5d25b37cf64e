//! G.711 sample codecs: PCMU (mu-law) and PCMA (A-law), per ITU-T G.711.
//!
//! This module owns the scalar conversions between 16-bit linear PCM and the
//! two 8-bit companded formats, their slice versions, and direct PCMU <-> PCMA
//! transcoding (so a PCMA trunk can be bridged to a PCMU agent byte by byte).
//! Everything here is pure, allocation-free and `const`-evaluable.
//!
//! # Conventions
//!
//! * Linear samples are `i16`. G.711 works on 14-bit (mu-law) or 13-bit (A-law)
//!   uniform PCM; the encoders drop the low 2 (mu-law) or 3-4 (A-law) bits and
//!   the decoders return values scaled back to the full 16-bit range (mu-law
//!   peaks at +/-32124, A-law at +/-32256).
//! * Negative inputs are quantised on the one's-complement magnitude `!x`
//!   (i.e. `-x - 1`), as in the ITU-T G.191 reference software. This makes the
//!   quantiser exactly symmetric about -0.5 LSB, so `x` and `-1 - x` always get
//!   codes differing only in the sign bit, and `i16::MIN` needs no special case.
//! * Every input between decision values lands on the reconstruction value in
//!   the middle of its interval (G.711 Tables 1 and 2); the top interval
//!   absorbs everything above it (clipping).
//! * The optional mu-law "all-zero suppression" (sending 0x02 instead of 0x00)
//!   is not applied: 0x00 is emitted for the most negative level.
//! * Transcoding tables map each code to the code of the other law whose
//!   decision interval contains the first code's reconstruction value.

/// Mu-law bias, in 14-bit units (G.711 segment endpoints are `2^k * 33 - 33`).
const ULAW_BIAS: u16 = 33;
/// Largest biased 14-bit magnitude (13 bits set).
const ULAW_MAX_BIASED: u16 = 0x1FFF;

/// Encodes one 16-bit linear sample to a mu-law (PCMU) code.
#[inline]
pub const fn encode_ulaw(x: i16) -> u8 {
    let (mag, sign) = if x < 0 {
        (!x as u16, 0x00)
    } else {
        (x as u16, 0x80)
    };
    // 14-bit magnitude, biased so that segment boundaries become powers of two.
    let mut b = (mag >> 2) + ULAW_BIAS;
    if b > ULAW_MAX_BIASED {
        b = ULAW_MAX_BIASED;
    }
    // b is in [33, 8191]: its top bit is bit 5..=12, i.e. segment 0..=7.
    let seg = (10 - b.leading_zeros()) as u16;
    let mant = (b >> (seg + 1)) & 0x0F;
    sign | (!((seg << 4) | mant) as u8 & 0x7F)
}

/// Encodes one 16-bit linear sample to an A-law (PCMA) code.
#[inline]
pub const fn encode_alaw(x: i16) -> u8 {
    let (mag, sign) = if x < 0 {
        (!x as u16, 0x00)
    } else {
        (x as u16, 0x80)
    };
    // Magnitude in units of 16 (two 13-bit steps): 0..=2047.
    let m = mag >> 4;
    let n = if m < 32 {
        // Segments 0 and 1 share the same step; the code is the value itself.
        m
    } else {
        // Top bit 5..=10 -> segment 2..=7.
        let seg = (12 - m.leading_zeros()) as u16;
        (seg << 4) | ((m >> (seg - 1)) & 0x0F)
    };
    (sign | n as u8) ^ 0x55
}

/// Reconstruction value of a mu-law code (computed; used to build the table).
const fn ulaw_expand(code: u8) -> i16 {
    let c = !code;
    let seg = ((c >> 4) & 0x07) as i32;
    let mant = (c & 0x0F) as i32;
    // Middle of the interval in the biased 14-bit domain, unbiased, then x4.
    let v = ((((33 + 2 * mant) << seg) - ULAW_BIAS as i32) << 2) as i16;
    if code & 0x80 != 0 { v } else { -v }
}

/// Reconstruction value of an A-law code (computed; used to build the table).
const fn alaw_expand(code: u8) -> i16 {
    let c = code ^ 0x55;
    let seg = ((c >> 4) & 0x07) as i32;
    let mant = (c & 0x0F) as i32;
    // In units of 8 (one 13-bit step): segment 0 starts at 0, segment s >= 1
    // at 16 << s, with step 2 << max(s - 1, 0); the output is the mid-point.
    let v = if seg == 0 {
        (2 * mant + 1) << 3
    } else {
        ((2 * (16 + mant) + 1) << (seg - 1)) << 3
    } as i16;
    if code & 0x80 != 0 { v } else { -v }
}

const fn build_decode_table(ulaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if ulaw {
            ulaw_expand(i as u8)
        } else {
            alaw_expand(i as u8)
        };
        i += 1;
    }
    t
}

const fn build_transcode_table(from_ulaw: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if from_ulaw {
            encode_alaw(ulaw_expand(i as u8))
        } else {
            encode_ulaw(alaw_expand(i as u8))
        };
        i += 1;
    }
    t
}

/// Mu-law code -> 16-bit linear sample.
pub static ULAW_DECODE: [i16; 256] = build_decode_table(true);
/// A-law code -> 16-bit linear sample.
pub static ALAW_DECODE: [i16; 256] = build_decode_table(false);
/// Mu-law code -> A-law code.
pub static ULAW_TO_ALAW: [u8; 256] = build_transcode_table(true);
/// A-law code -> mu-law code.
pub static ALAW_TO_ULAW: [u8; 256] = build_transcode_table(false);

/// Decodes one mu-law (PCMU) code to a 16-bit linear sample.
#[inline]
pub fn decode_ulaw(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Decodes one A-law (PCMA) code to a 16-bit linear sample.
#[inline]
pub fn decode_alaw(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// Transcodes one mu-law code to A-law without going through the caller.
#[inline]
pub fn ulaw_to_alaw(code: u8) -> u8 {
    ULAW_TO_ALAW[code as usize]
}

/// Transcodes one A-law code to mu-law.
#[inline]
pub fn alaw_to_ulaw(code: u8) -> u8 {
    ALAW_TO_ULAW[code as usize]
}

/// Encodes `src` into `dst` as mu-law.
///
/// # Panics
/// If the slices differ in length.
pub fn encode_ulaw_into(src: &[i16], dst: &mut [u8]) {
    assert_eq!(src.len(), dst.len(), "g711: slice length mismatch");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = encode_ulaw(s);
    }
}

/// Encodes `src` into `dst` as A-law.
///
/// # Panics
/// If the slices differ in length.
pub fn encode_alaw_into(src: &[i16], dst: &mut [u8]) {
    assert_eq!(src.len(), dst.len(), "g711: slice length mismatch");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = encode_alaw(s);
    }
}

/// Decodes mu-law `src` into `dst`.
///
/// # Panics
/// If the slices differ in length.
pub fn decode_ulaw_into(src: &[u8], dst: &mut [i16]) {
    assert_eq!(src.len(), dst.len(), "g711: slice length mismatch");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = ULAW_DECODE[s as usize];
    }
}

/// Decodes A-law `src` into `dst`.
///
/// # Panics
/// If the slices differ in length.
pub fn decode_alaw_into(src: &[u8], dst: &mut [i16]) {
    assert_eq!(src.len(), dst.len(), "g711: slice length mismatch");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = ALAW_DECODE[s as usize];
    }
}

/// Transcodes mu-law `src` into A-law `dst`.
///
/// # Panics
/// If the slices differ in length.
pub fn ulaw_to_alaw_into(src: &[u8], dst: &mut [u8]) {
    assert_eq!(src.len(), dst.len(), "g711: slice length mismatch");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = ULAW_TO_ALAW[s as usize];
    }
}

/// Transcodes A-law `src` into mu-law `dst`.
///
/// # Panics
/// If the slices differ in length.
pub fn alaw_to_ulaw_into(src: &[u8], dst: &mut [u8]) {
    assert_eq!(src.len(), dst.len(), "g711: slice length mismatch");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = ALAW_TO_ULAW[s as usize];
    }
}

/// Transcodes a mu-law buffer to A-law in place.
pub fn ulaw_to_alaw_in_place(buf: &mut [u8]) {
    for b in buf {
        *b = ULAW_TO_ALAW[*b as usize];
    }
}

/// Transcodes an A-law buffer to mu-law in place.
pub fn alaw_to_ulaw_in_place(buf: &mut [u8]) {
    for b in buf {
        *b = ALAW_TO_ULAW[*b as usize];
    }
}

#[cfg(test)]
#[path = "g711_tests.rs"]
mod tests;
