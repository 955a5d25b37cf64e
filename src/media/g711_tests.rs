//! Unit tests for `g711.rs` (kept apart to keep the module file short).

use super::*;

// ---- Independent references, written from the G.711 tables -----------
//
// Decision values are built segment by segment from the step sizes of
// G.711 Table 1 (A-law, 13-bit scale 0..4096) and Table 2 (mu-law, 14-bit
// scale 0..8159). `dec[n]` is the lower decision value of magnitude index
// `n` (`dec[128]` is the top of the range); the decoder output is the
// mid-point of the interval, except mu-law index 0, which outputs 0.

fn ulaw_decisions() -> [i32; 129] {
    let mut d = [0i32; 129];
    d[1] = 1; // first interval of segment 0 is [0, 1)
    for n in 1..128 {
        let seg = n / 16;
        d[n + 1] = d[n] + (2 << seg);
    }
    d
}

fn alaw_decisions() -> [i32; 129] {
    let mut d = [0i32; 129];
    for n in 0..128 {
        let seg = n / 16;
        let step = if seg <= 1 { 2 } else { 2 << (seg - 1) };
        d[n + 1] = d[n] + step;
    }
    d
}

/// Largest `n` with `dec[n] <= mag`, clipped to 127 (linear search).
fn index_of(dec: &[i32; 129], mag: i32) -> usize {
    let mut n = 0;
    while n < 127 && dec[n + 1] <= mag {
        n += 1;
    }
    n
}

fn one_complement_mag(x: i16) -> (i32, bool) {
    let x = x as i32;
    if x < 0 { (-x - 1, true) } else { (x, false) }
}

fn ref_encode_ulaw(x: i16) -> u8 {
    let (mag, neg) = one_complement_mag(x);
    let n = index_of(&ulaw_decisions(), mag / 4) as u8; // 14-bit scale
    // Bits are transmitted inverted; the sign bit is 1 for positive.
    let sign = if neg { 0 } else { 0x80 };
    sign | (0x7F - n)
}

fn ref_encode_alaw(x: i16) -> u8 {
    let (mag, neg) = one_complement_mag(x);
    let n = index_of(&alaw_decisions(), mag / 8) as u8; // 13-bit scale
    // Even bits are inverted (XOR 0x55); the sign bit is 1 for positive.
    let sign = if neg { 0 } else { 0x80 };
    (sign | n) ^ 0x55
}

fn ref_decode_ulaw(code: u8) -> i16 {
    let d = ulaw_decisions();
    let n = (0x7F - (code & 0x7F)) as usize;
    let v = if n == 0 { 0 } else { (d[n] + d[n + 1]) / 2 };
    let v = (v * 4) as i16;
    if code & 0x80 != 0 { v } else { -v }
}

fn ref_decode_alaw(code: u8) -> i16 {
    let d = alaw_decisions();
    let c = code ^ 0x55;
    let n = (c & 0x7F) as usize;
    let v = ((d[n] + d[n + 1]) / 2 * 8) as i16;
    if c & 0x80 != 0 { v } else { -v }
}

// ---- Tests -------------------------------------------------------------

#[test]
fn decision_tables_match_spec_endpoints() {
    let u = ulaw_decisions();
    // Segment ends of G.711 Table 2: 1, 31, 95, 223, 479, 991, 2015, 4063, 8159.
    let seg_ends: Vec<i32> = (0..=8).map(|s| u[(s * 16).max(1)]).collect();
    assert_eq!(seg_ends, [1, 31, 95, 223, 479, 991, 2015, 4063, 8159]);
    let a = alaw_decisions();
    let seg_ends: Vec<i32> = (0..=8).map(|s| a[s * 16]).collect();
    assert_eq!(seg_ends, [0, 32, 64, 128, 256, 512, 1024, 2048, 4096]);
}

#[test]
fn decode_tables_match_reference_for_all_codes() {
    for c in 0..=255u8 {
        assert_eq!(decode_ulaw(c), ref_decode_ulaw(c), "ulaw code {c:#04x}");
        assert_eq!(decode_alaw(c), ref_decode_alaw(c), "alaw code {c:#04x}");
    }
}

#[test]
fn encode_matches_reference_for_every_i16() {
    for x in i16::MIN..=i16::MAX {
        assert_eq!(encode_ulaw(x), ref_encode_ulaw(x), "ulaw x={x}");
        assert_eq!(encode_alaw(x), ref_encode_alaw(x), "alaw x={x}");
    }
}

#[test]
fn anchor_values() {
    assert_eq!(encode_ulaw(0), 0xFF);
    assert_eq!(encode_ulaw(-1), 0x7F);
    assert_eq!(encode_alaw(0), 0xD5);
    assert_eq!(encode_alaw(-1), 0x55);
    assert_eq!(decode_ulaw(0xFF), 0);
    assert_eq!(decode_ulaw(0x7F), 0);
    assert_eq!(decode_alaw(0xD5), 8);
    assert_eq!(decode_alaw(0x55), -8);
    // Clipping at both ends.
    assert_eq!(encode_ulaw(i16::MAX), 0x80);
    assert_eq!(encode_ulaw(i16::MIN), 0x00);
    assert_eq!(encode_alaw(i16::MAX), 0xAA);
    assert_eq!(encode_alaw(i16::MIN), 0x2A);
    assert_eq!(decode_ulaw(0x80), 32124);
    assert_eq!(decode_ulaw(0x00), -32124);
    assert_eq!(decode_alaw(0xAA), 32256);
    assert_eq!(decode_alaw(0x2A), -32256);
    // Mu-law clip point: 8159 (14-bit) is the top decision value.
    assert_eq!(encode_ulaw(32635), 0x80);
    assert_eq!(encode_ulaw(32634), 0x80);
    assert_eq!(encode_ulaw((8159 - 256) * 4 - 1), 0x81);
}

#[test]
fn encode_decode_error_within_half_step() {
    for x in i16::MIN..=i16::MAX {
        let (mag, _) = one_complement_mag(x);
        // mu-law: step of the segment in 16-bit units, clip above 8159*4.
        let u = decode_ulaw(encode_ulaw(x)) as i32;
        let c = encode_ulaw(x);
        let seg = ((!c >> 4) & 7) as i32;
        let step = 8 << seg;
        let target = if x < 0 {
            -(mag.min(32635)) - 1
        } else {
            mag.min(32635)
        };
        assert!((u - target).abs() <= step / 2 + 4, "ulaw x={x} -> {u}");
        let a = decode_alaw(encode_alaw(x)) as i32;
        let c = encode_alaw(x) ^ 0x55;
        let seg = ((c >> 4) & 7) as i32;
        let step = if seg <= 1 { 16 } else { 16 << (seg - 1) };
        let target = if x < 0 { -mag - 1 } else { mag };
        assert!((a - target).abs() <= step / 2 + 8, "alaw x={x} -> {a}");
    }
}

#[test]
fn decode_then_encode_is_identity() {
    for c in 0..=255u8 {
        let ue = encode_ulaw(decode_ulaw(c));
        // 0x7F (negative zero) decodes to 0, which encodes as positive zero.
        let expect = if c == 0x7F { 0xFF } else { c };
        assert_eq!(ue, expect, "ulaw code {c:#04x}");
        assert_eq!(encode_alaw(decode_alaw(c)), c, "alaw code {c:#04x}");
    }
}

#[test]
fn transcoding_lands_in_the_right_interval() {
    for c in 0..=255u8 {
        let a = ulaw_to_alaw(c);
        assert_eq!(a, ref_encode_alaw(ref_decode_ulaw(c)), "u->a {c:#04x}");
        let u = alaw_to_ulaw(c);
        assert_eq!(u, ref_encode_ulaw(ref_decode_alaw(c)), "a->u {c:#04x}");
        // The sign is preserved, except for mu-law "negative zero" (0x7F),
        // which decodes to 0 and so becomes A-law positive 0xD5.
        if c != 0x7F {
            assert_eq!(a & 0x80, c & 0x80, "sign u->a {c:#04x}");
        }
        assert_eq!(u & 0x80, c & 0x80, "sign a->u {c:#04x}");
    }
    assert_eq!(ulaw_to_alaw(0xFF), 0xD5);
    assert_eq!(alaw_to_ulaw(0xD5), 0xFE); // +8 -> mu-law level 8 (index 1)
}

#[test]
fn transcoding_round_trips_are_close() {
    // Through the other law and back: error bounded by the coarser step.
    for c in 0..=255u8 {
        let back = alaw_to_ulaw(ulaw_to_alaw(c));
        let (x, y) = (decode_ulaw(c) as i32, decode_ulaw(back) as i32);
        let bound = (x.abs() / 16).max(16); // ~6% or 16 LSB
        assert!((x - y).abs() <= bound, "u->a->u {c:#04x}: {x} vs {y}");
        let back = ulaw_to_alaw(alaw_to_ulaw(c));
        let (x, y) = (decode_alaw(c) as i32, decode_alaw(back) as i32);
        let bound = (x.abs() / 16).max(16);
        assert!((x - y).abs() <= bound, "a->u->a {c:#04x}: {x} vs {y}");
    }
    // Most codes come back unchanged.
    let same_a = (0..=255u8)
        .filter(|&c| ulaw_to_alaw(alaw_to_ulaw(c)) == c)
        .count();
    assert!(same_a >= 200, "a->u->a identity for {same_a} codes");
}

#[test]
fn slice_versions_match_scalar() {
    let pcm: Vec<i16> = (0..160)
        .map(|i| ((i * 409) as i16).wrapping_mul(37))
        .collect();
    let mut u = [0u8; 160];
    let mut a = [0u8; 160];
    encode_ulaw_into(&pcm, &mut u);
    encode_alaw_into(&pcm, &mut a);
    let mut du = [0i16; 160];
    let mut da = [0i16; 160];
    decode_ulaw_into(&u, &mut du);
    decode_alaw_into(&a, &mut da);
    let mut ua = [0u8; 160];
    let mut au = [0u8; 160];
    ulaw_to_alaw_into(&u, &mut ua);
    alaw_to_ulaw_into(&a, &mut au);
    for i in 0..160 {
        assert_eq!(u[i], encode_ulaw(pcm[i]));
        assert_eq!(a[i], encode_alaw(pcm[i]));
        assert_eq!(du[i], decode_ulaw(u[i]));
        assert_eq!(da[i], decode_alaw(a[i]));
        assert_eq!(ua[i], ulaw_to_alaw(u[i]));
        assert_eq!(au[i], alaw_to_ulaw(a[i]));
    }
    let mut inplace = u;
    ulaw_to_alaw_in_place(&mut inplace);
    assert_eq!(inplace, ua);
    let mut inplace = a;
    alaw_to_ulaw_in_place(&mut inplace);
    assert_eq!(inplace, au);
}

#[test]
#[should_panic(expected = "length mismatch")]
fn slice_length_mismatch_panics() {
    encode_ulaw_into(&[0; 3], &mut [0; 2]);
}
