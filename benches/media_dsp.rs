//! Benchmarks for the media DSP primitives: G.711 coding of one 20 ms frame
//! and resampling of one 20 ms frame between telephony rates.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
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

criterion_group!(benches, bench_g711, bench_resample);
criterion_main!(benches);
