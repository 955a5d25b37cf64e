//! Benchmarks for the RTP layer: parse, relay rewrite, in-band DTMF detection.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use std::time::Instant;
use switchboard::media::dtmf::goertzel::GoertzelDetector;
use switchboard::media::rtp::{Rewriter, RtpHeader, RtpPacket};

fn pcmu_packet() -> Vec<u8> {
    let mut v = Vec::with_capacity(172);
    RtpHeader {
        marker: false,
        payload_type: 0,
        sequence: 1234,
        timestamp: 160_000,
        ssrc: 0x1234_5678,
    }
    .write(&[0xd5; 160], &mut v);
    v
}

fn bench(c: &mut Criterion) {
    let pkt = pcmu_packet();
    assert_eq!(pkt.len(), 172);
    c.bench_function("rtp/parse", |b| {
        b.iter(|| {
            let p = RtpPacket::parse(black_box(&pkt)).unwrap();
            black_box((p.sequence(), p.timestamp(), p.ssrc(), p.payload().len()))
        })
    });

    let mut buf = pkt.clone();
    let mut rw = Rewriter::new(0xabcd_ef01, 8000, 1, 1);
    let now = Instant::now();
    let mut seq = 0u16;
    c.bench_function("rtp/relay_rewrite", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            let p = RtpPacket::parse(black_box(&buf)).unwrap();
            black_box(p.payload_type());
            black_box(rw.rewrite_in_place(black_box(&mut buf), now).unwrap())
        })
    });

    let frame: Vec<i16> = (0..160)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let s = (2.0 * std::f64::consts::PI * 770.0 * t).sin()
                + (2.0 * std::f64::consts::PI * 1336.0 * t).sin();
            (s * 3000.0) as i16
        })
        .collect();
    let mut det = GoertzelDetector::default();
    c.bench_function("dtmf/goertzel_20ms", |b| {
        b.iter(|| black_box(det.process_frame(black_box(&frame))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
