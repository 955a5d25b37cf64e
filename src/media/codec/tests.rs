//! Tests across the codecs: naming from SDP, rates and clocks, the
//! constructors, tone round trips through every codec, Opus frame sizes,
//! PLC and FEC, and decoders fed garbage or truncated payloads.

use super::test_util::{best_lag, tone, tone_share, zero_crossing_freq};
use super::*;
use proptest::prelude::*;

const ALL: [AudioCodec; 4] = [
    AudioCodec::Pcmu,
    AudioCodec::Pcma,
    AudioCodec::G722,
    AudioCodec::Opus,
];

#[test]
fn audio_codec_from_sdp() {
    assert_eq!(AudioCodec::from_encoding("pcma", 8000), AudioCodec::Pcma);
    assert_eq!(AudioCodec::from_encoding("PCMU", 8000), AudioCodec::Pcmu);
    assert_eq!(AudioCodec::from_encoding("g722", 8000), AudioCodec::G722);
    assert_eq!(AudioCodec::from_encoding("OPUS", 48000), AudioCodec::Opus);
    assert_eq!(AudioCodec::from_encoding("PCMU", 16000), AudioCodec::Other);
    assert_eq!(AudioCodec::from_encoding("G722", 16000), AudioCodec::Other);
    assert_eq!(AudioCodec::from_encoding("opus", 16000), AudioCodec::Other);
    assert_eq!(AudioCodec::from_codec(&Codec::pcmu()), AudioCodec::Pcmu);
    assert_eq!(AudioCodec::from_codec(&Codec::pcma()), AudioCodec::Pcma);
    assert_eq!(AudioCodec::from_codec(&Codec::g722()), AudioCodec::G722);
    assert_eq!(AudioCodec::from_codec(&Codec::opus()), AudioCodec::Opus);
    assert_eq!(
        AudioCodec::from_codec(&Codec::new("opus", 48000, None)),
        AudioCodec::Opus
    );
    assert_eq!(AudioCodec::from_codec(&Codec::g729()), AudioCodec::Other);
    assert_eq!(
        AudioCodec::from_codec(&Codec::new("PCMA", 8000, Some(2))),
        AudioCodec::Other
    );
    assert_eq!(
        AudioCodec::from_codec(&Codec::new("G722", 8000, Some(2))),
        AudioCodec::Other
    );
    assert_eq!(
        AudioCodec::from_codec(&Codec::new("opus", 48000, Some(6))),
        AudioCodec::Other
    );
    assert_eq!(AudioCodec::from_static_payload_type(0), AudioCodec::Pcmu);
    assert_eq!(AudioCodec::from_static_payload_type(8), AudioCodec::Pcma);
    assert_eq!(AudioCodec::from_static_payload_type(9), AudioCodec::G722);
    assert_eq!(AudioCodec::from_static_payload_type(18), AudioCodec::Other);
    assert_eq!(AudioCodec::from_static_payload_type(96), AudioCodec::Other);
}

#[test]
fn rates_and_clocks() {
    let rates: Vec<_> = ALL
        .iter()
        .map(|c| (c.sample_rate(), c.rtp_clock_rate()))
        .collect();
    assert_eq!(
        rates,
        [
            (Some(8000), Some(8000)),
            (Some(8000), Some(8000)),
            (Some(16000), Some(8000)),
            (Some(48000), Some(48000)),
        ]
    );
    assert_eq!(AudioCodec::Other.sample_rate(), None);
    assert_eq!(AudioCodec::Other.rtp_clock_rate(), None);
    assert!(AudioCodec::Pcma.is_g711() && !AudioCodec::G722.is_g711());
    assert!(AudioCodec::Opus.is_decodable() && !AudioCodec::Other.is_decodable());
}

#[test]
fn constructors_match_the_codec() {
    for c in ALL {
        let e = c.encoder().expect("encoder");
        let d = c.decoder().expect("decoder");
        assert_eq!((e.codec(), d.codec()), (c, c));
        assert_eq!(Some(e.sample_rate()), c.sample_rate());
        assert_eq!(Some(d.sample_rate()), c.sample_rate());
        assert_eq!(
            Some(d.last_frame_samples() as u32),
            c.sample_rate().map(|r| r / 50),
            "{c:?}: 20 ms before the first frame"
        );
    }
    assert!(AudioCodec::Other.encoder().is_none());
    assert!(AudioCodec::Other.decoder().is_none());
    for (sdp, want) in [
        (Codec::pcmu(), Some(AudioCodec::Pcmu)),
        (Codec::pcma(), Some(AudioCodec::Pcma)),
        (Codec::g722(), Some(AudioCodec::G722)),
        (
            Codec::opus().with_fmtp("minptime=10;useinbandfec=1"),
            Some(AudioCodec::Opus),
        ),
        (Codec::g729(), None),
        (Codec::telephone_event(), None),
    ] {
        assert_eq!(encoder_for(&sdp).map(|e| e.codec()), want, "{sdp:?}");
        assert_eq!(decoder_for(&sdp).map(|d| d.codec()), want, "{sdp:?}");
    }
}

#[test]
fn opus_fmtp_adjusts_the_encoder() {
    let d = OpusConfig::default();
    assert_eq!(OpusConfig::from_fmtp(None), d);
    let c = OpusConfig::from_fmtp(Some(
        "maxplaybackrate=16000; maxaveragebitrate=20000;useinbandfec=0;cbr=1;bogus;x=y",
    ));
    assert_eq!(c.bitrate, 20_000);
    assert!(!c.fec && c.cbr);
    assert_eq!(c.max_playback_rate, 16_000);
    // A higher cap than our default does not raise the bitrate; an absurd
    // one is clamped to what Opus takes.
    assert_eq!(
        OpusConfig::from_fmtp(Some("maxaveragebitrate=128000")).bitrate,
        d.bitrate
    );
    assert_eq!(
        OpusConfig::from_fmtp(Some("maxaveragebitrate=100")).bitrate,
        6_000
    );
    let mut e = OpusEncoder::new(&c).unwrap();
    let mut out = Vec::new();
    let n = e
        .encode(&tone(440.0, 8000.0, 48000, 960), &mut out)
        .unwrap();
    // CBR at 20 kbit/s: 50 octets per 20 ms.
    assert_eq!(n, 50);
}

#[test]
fn opus_from_a_narrow_source_is_coded_narrowband() {
    // RFC 6716 3.1: the TOC byte's configuration (top five bits) names the
    // mode and bandwidth; 0-3 are SILK narrowband, 16-19 CELT narrowband.
    let nb = |p: &[u8]| matches!(p[0] >> 3, 0..=3 | 16..=19);
    let x = tone(1000.0, 12000.0, 48000, 960 * 10);
    let mut from_g711 = AudioCodec::Opus.encoder_for_source(8000).unwrap();
    let mut full = AudioCodec::Opus.encoder().unwrap();
    for f in x.chunks_exact(960) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        from_g711.encode(f, &mut a).unwrap();
        full.encode(f, &mut b).unwrap();
        assert!(nb(&a), "TOC {:#04x} from an 8 kHz source", a[0]);
        assert!(!nb(&b), "TOC {:#04x} without a cap", b[0]);
    }
    assert_eq!(
        AudioCodec::G722
            .encoder_for_source(8000)
            .unwrap()
            .sample_rate(),
        16000,
        "fixed-band codecs are unchanged"
    );
}

/// Encode `x` in 20 ms frames and decode each payload; returns the
/// payload sizes and the decoded audio.
fn round_trip(c: AudioCodec, x: &[i16]) -> (Vec<usize>, Vec<i16>) {
    let mut e = c.encoder().unwrap();
    let mut d = c.decoder().unwrap();
    let frame = e.sample_rate() as usize / 50;
    let (mut sizes, mut y, mut buf) = (Vec::new(), Vec::new(), Vec::new());
    for f in x.chunks_exact(frame) {
        buf.clear();
        let n = e.encode(f, &mut buf).unwrap();
        assert_eq!(n, buf.len());
        sizes.push(n);
        let got = d.decode(&buf, &mut y).unwrap();
        assert_eq!(got, frame, "{c:?}: one frame back per payload");
    }
    (sizes, y)
}

#[test]
fn every_codec_carries_a_tone() {
    // One second of 1 kHz at -6 dBFS through each codec. Thresholds, as the
    // normalised correlation with the input at the best delay: G.711 and
    // G.722 are waveform coders with about 37 and 47 dB SNR on this tone
    // (measured correlation 0.9998 and 0.99999), so 0.999; Opus at 32
    // kbit/s keeps the waveform of a steady tone closely too (measured
    // 0.9995), and 0.95 still fails on a wrong rate, a wrong delay or
    // garbage. And nearly all the decoded power must sit at 1 kHz.
    for c in ALL {
        let rate = c.sample_rate().unwrap();
        let x = tone(1000.0, 16384.0, rate, rate as usize);
        let (sizes, y) = round_trip(c, &x);
        let want_size = match c {
            AudioCodec::Pcmu | AudioCodec::Pcma | AudioCodec::G722 => Some(160),
            _ => None,
        };
        if let Some(s) = want_size {
            assert!(sizes.iter().all(|&n| n == s), "{c:?}: {sizes:?}");
        } else {
            // 32 kbit/s VBR is about 80 octets per 20 ms (a pure tone takes
            // a little more: measured 100).
            let mean = sizes.iter().sum::<usize>() / sizes.len();
            assert!((40..=160).contains(&mean), "opus mean payload {mean}");
        }
        assert_eq!(y.len(), x.len());
        let skip = rate as usize / 10;
        let (lag, corr) = best_lag(&x, &y, rate as usize / 50, skip, y.len() - skip);
        let min = if c == AudioCodec::Opus { 0.95 } else { 0.999 };
        assert!(corr > min, "{c:?}: correlation {corr:.4} at lag {lag}");
        let share = tone_share(&y[skip..], 1000.0, rate);
        assert!(share > 0.97, "{c:?}: power at 1 kHz {share:.3}");
        let f = zero_crossing_freq(&y[skip..], rate);
        assert!((f - 1000.0).abs() < 5.0, "{c:?}: {f:.1} Hz");
    }
}

#[test]
fn opus_decodes_960_samples_per_20ms_and_conceals_losses() {
    let x = tone(1000.0, 16384.0, 48000, 48000);
    let mut e = OpusEncoder::new(&OpusConfig::default()).unwrap();
    let mut packets = Vec::new();
    for f in x.chunks_exact(960) {
        let mut p = Vec::new();
        e.encode(f, &mut p).unwrap();
        packets.push(p);
    }
    // Lose packet 25: PLC for one decoder, FEC from packet 26 for another,
    // nothing lost for a third.
    let decode = |how: u8| {
        let mut d = OpusDecoder::new().unwrap();
        let mut y = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let before = y.len();
            match (i, how) {
                (25, 1) => assert_eq!(d.conceal(d.last_frame_samples(), &mut y), 960),
                (25, 2) => assert_eq!(d.recover(&packets[26], 960, &mut y), 960),
                _ => assert_eq!(d.decode(p, &mut y).unwrap(), 960),
            }
            assert_eq!(y.len() - before, 960);
        }
        y
    };
    let (clean, plc, fec) = (decode(0), decode(1), decode(2));
    let lost = 25 * 960..26 * 960;
    let energy = |y: &[i16]| y.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
    let ref_e = energy(&clean[lost.clone()]);
    // PLC extrapolates the last pitch and fades (measured: a third of the
    // energy, 57 % of it at 1 kHz); FEC decodes a coarser copy of the lost
    // frame carried in the next packet, so it is the tone at nearly full
    // level. Silence or noise in the gap would fail both.
    for (name, y, min_energy, min_share) in [("plc", &plc, 0.1, 0.4), ("fec", &fec, 0.5, 0.8)] {
        let e = energy(&y[lost.clone()]) / ref_e;
        let share = tone_share(&y[lost.clone()], 1000.0, 48000);
        assert!(
            e > min_energy && e < 2.0,
            "{name}: concealed frame energy {e:.3} of the clean one"
        );
        assert!(
            share > min_share,
            "{name}: concealed frame is the tone ({share:.2})"
        );
    }
    // Conceal never fails and always gives what was asked for.
    let mut d = OpusDecoder::new().unwrap();
    let mut y = Vec::new();
    assert_eq!(d.conceal(1000, &mut y), 1000);
    assert_eq!(y.len(), 1000);
    assert_eq!(d.recover(&[], 960, &mut y), 960);
    assert_eq!(d.recover(&[0xff, 0xff, 0xff], 960, &mut y), 960);
    assert_eq!(y.len(), 2920);
}

#[test]
fn encoders_refuse_frames_they_cannot_code() {
    let mut out = Vec::new();
    let mut opus = AudioCodec::Opus.encoder().unwrap();
    for n in [0, 100, 959, 961, 5760] {
        assert_eq!(
            opus.encode(&vec![0; n], &mut out),
            Err(CodecError::FrameSize {
                codec: AudioCodec::Opus,
                samples: n
            })
        );
    }
    for n in [120, 240, 480, 1920, 2880] {
        out.clear();
        assert!(opus.encode(&vec![0; n], &mut out).is_ok(), "{n} samples");
    }
    assert!(
        AudioCodec::G722
            .encoder()
            .unwrap()
            .encode(&[0; 3], &mut out)
            .is_err()
    );
    for c in ALL {
        assert_eq!(
            c.decoder().unwrap().decode(&[], &mut Vec::new()),
            Err(CodecError::Empty(c))
        );
    }
}

/// A valid Opus packet to truncate and corrupt.
fn opus_packet() -> Vec<u8> {
    let mut e = OpusEncoder::new(&OpusConfig::default()).unwrap();
    let mut p = Vec::new();
    e.encode(&tone(300.0, 9000.0, 48000, 960), &mut p).unwrap();
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn decoders_survive_garbage(payload in prop::collection::vec(any::<u8>(), 0..1500)) {
        for c in ALL {
            let mut d = c.decoder().unwrap();
            let mut out = vec![7i16; 3];
            match d.decode(&payload, &mut out) {
                Ok(n) => {
                    prop_assert_eq!(out.len(), 3 + n);
                    let want = match c {
                        AudioCodec::Pcmu | AudioCodec::Pcma => Some(payload.len()),
                        AudioCodec::G722 => Some(2 * payload.len()),
                        _ => None,
                    };
                    if let Some(w) = want {
                        prop_assert_eq!(n, w);
                    } else {
                        prop_assert!(n <= 5760);
                    }
                }
                Err(_) => prop_assert_eq!(&out, &[7, 7, 7]),
            }
            prop_assert_eq!(out[..3].to_vec(), vec![7, 7, 7]);
            // The decoder is still usable afterwards.
            prop_assert_eq!(d.conceal(160, &mut out), 160);
        }
    }

    #[test]
    fn opus_survives_truncated_and_flipped_packets(cut in 0usize..200, flip in 0usize..200, bit in 0u8..8) {
        let mut p = opus_packet();
        if !p.is_empty() {
            let i = flip % p.len();
            p[i] ^= 1 << bit;
        }
        p.truncate(cut);
        let mut d = OpusDecoder::new().unwrap();
        let mut out = Vec::new();
        if let Ok(n) = d.decode(&p, &mut out) {
            prop_assert_eq!(n, out.len());
        }
        prop_assert_eq!(d.recover(&p, 960, &mut out) , 960);
    }
}
