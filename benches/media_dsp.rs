//! Benchmarks for the media DSP primitives: G.711 coding of one 20 ms frame,
//! resampling of one 20 ms frame between telephony rates, and the codecs
//! behind `media::codec` (G.722 and Opus encode/decode per 20 ms frame, and
//! the relay's per-frame transcoding chains). Ends with a table of ns per
//! 20 ms frame for the codecs, from a separate timing loop.

use criterion::{Criterion, black_box, criterion_group};
use std::time::Instant;
use switchboard::media::codec::{AudioCodec, AudioDecoder, AudioEncoder};
use switchboard::media::g711;
use switchboard::media::resample::Resampler;

fn test_signal(n: usize, rate: f64) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let v = 9000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                + 3000.0 * (2.0 * std::f64::consts::PI * 1870.0 * t).sin();
            v as i16
        })
        .collect()
}

fn bench_g711(c: &mut Criterion) {
    let pcm = test_signal(160, 8000.0);
    let mut ulaw = [0u8; 160];
    let mut alaw = [0u8; 160];
    g711::encode_ulaw_into(&pcm, &mut ulaw);
    let mut out_pcm = [0i16; 160];
    let mut out_bytes = [0u8; 160];

    let mut g = c.benchmark_group("g711");
    g.bench_function("ulaw_encode_160", |b| {
        b.iter(|| g711::encode_ulaw_into(black_box(&pcm), black_box(&mut ulaw)))
    });
    g.bench_function("ulaw_decode_160", |b| {
        b.iter(|| g711::decode_ulaw_into(black_box(&ulaw), black_box(&mut out_pcm)))
    });
    g.bench_function("alaw_encode_160", |b| {
        b.iter(|| g711::encode_alaw_into(black_box(&pcm), black_box(&mut alaw)))
    });
    g.bench_function("ulaw_to_alaw_160", |b| {
        b.iter(|| g711::ulaw_to_alaw_into(black_box(&ulaw), black_box(&mut out_bytes)))
    });
    g.finish();
}

fn bench_resample(c: &mut Criterion) {
    let mut g = c.benchmark_group("resample");
    for (name, from, to) in [
        ("8k_to_16k_160", 8000u32, 16000u32),
        ("8k_to_48k_160", 8000, 48000),
        ("48k_to_8k_960", 48000, 8000),
        ("16k_to_8k_320", 16000, 8000),
    ] {
        let input = test_signal(from as usize / 50, from as f64);
        let mut out = vec![0i16; to as usize / 50];
        let mut r = Resampler::new(from, to).expect("supported rates");
        g.bench_function(name, |b| {
            b.iter(|| r.process_into(black_box(&input), black_box(&mut out)))
        });
    }
    g.finish();
}

/// One 20 ms frame of `codec`, encoded from the test signal.
fn payload(codec: AudioCodec) -> Vec<u8> {
    let mut e = codec.encoder().expect("encodable");
    let rate = e.sample_rate();
    let pcm = test_signal(rate as usize / 50, f64::from(rate));
    let mut out = Vec::new();
    // A few frames first, so the payload is a steady-state one.
    for _ in 0..5 {
        out.clear();
        e.encode(&pcm, &mut out).expect("20 ms frame");
    }
    out
}

/// The relay's decoding path for one 20 ms frame: decode `from`, resample,
/// encode `to` (band-capped to the source, as the relay does).
struct Chain {
    dec: Box<dyn AudioDecoder>,
    rs: Resampler,
    enc: Box<dyn AudioEncoder>,
    input: Vec<u8>,
    pcm: Vec<i16>,
    resampled: Vec<i16>,
    out: Vec<u8>,
}

impl Chain {
    fn new(from: AudioCodec, to: AudioCodec) -> Self {
        let dec = from.decoder().expect("decodable");
        let enc = to.encoder_for_source(dec.sample_rate()).expect("encodable");
        let rs = Resampler::new(dec.sample_rate(), enc.sample_rate()).expect("rates");
        Self {
            dec,
            rs,
            enc,
            input: payload(from),
            pcm: Vec::with_capacity(5760),
            resampled: Vec::with_capacity(5760),
            out: Vec::with_capacity(1500),
        }
    }

    fn run(&mut self) -> usize {
        self.pcm.clear();
        self.resampled.clear();
        self.out.clear();
        self.dec.decode(&self.input, &mut self.pcm).expect("decode");
        self.rs.process(&self.pcm, &mut self.resampled);
        self.enc
            .encode(&self.resampled, &mut self.out)
            .expect("encode")
    }
}

/// One measured operation on a 20 ms frame, by name.
type Case = (&'static str, Box<dyn FnMut() -> usize>);

/// What is measured per 20 ms frame.
fn codec_cases() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (name, codec) in [
        ("g722_encode_20ms", AudioCodec::G722),
        ("opus_encode_20ms", AudioCodec::Opus),
    ] {
        let mut e = codec.encoder().expect("encodable");
        let rate = e.sample_rate();
        let pcm = test_signal(rate as usize / 50, f64::from(rate));
        let mut out = Vec::with_capacity(1500);
        cases.push((
            name,
            Box::new(move || {
                out.clear();
                e.encode(black_box(&pcm), &mut out).expect("encode")
            }),
        ));
    }
    for (name, codec) in [
        ("g722_decode_20ms", AudioCodec::G722),
        ("opus_decode_20ms", AudioCodec::Opus),
    ] {
        let mut d = codec.decoder().expect("decodable");
        let input = payload(codec);
        let mut pcm = Vec::with_capacity(5760);
        cases.push((
            name,
            Box::new(move || {
                pcm.clear();
                d.decode(black_box(&input), &mut pcm).expect("decode")
            }),
        ));
    }
    for (name, from, to) in [
        ("pcmu_to_g722_20ms", AudioCodec::Pcmu, AudioCodec::G722),
        ("g722_to_pcmu_20ms", AudioCodec::G722, AudioCodec::Pcmu),
        ("pcma_to_opus_20ms", AudioCodec::Pcma, AudioCodec::Opus),
        ("opus_to_pcma_20ms", AudioCodec::Opus, AudioCodec::Pcma),
    ] {
        let mut chain = Chain::new(from, to);
        cases.push((name, Box::new(move || chain.run())));
    }
    cases
}

fn bench_codecs(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    for (name, mut f) in codec_cases() {
        g.bench_function(name, |b| b.iter(&mut f));
    }
    g.finish();
}

/// Best of five runs of `n` calls, in ns per call.
fn ns_per_call(f: &mut dyn FnMut() -> usize) -> f64 {
    let n = 2_000;
    let mut sink = 0usize;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            sink = sink.wrapping_add(f());
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e9 / f64::from(n));
    }
    black_box(sink);
    best
}

criterion_group!(benches, bench_g711, bench_resample, bench_codecs);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    println!("ns per 20 ms frame (best of 5 x 2000; 20 ms = 20,000,000 ns):");
    for (name, mut f) in codec_cases() {
        println!("  codec/{name:<20} {:>9.0} ns", ns_per_call(&mut f));
    }
}
