//! Test signals and measurements shared by the codec and relay tests: tones
//! and chirps, the power at one frequency (Goertzel), SNR after aligning
//! for a codec's delay, and zero-crossing frequency estimates.

use std::f64::consts::PI;

/// `n` samples of a sine of `freq` Hz at `rate` Hz with peak `amp`.
pub fn tone(freq: f64, amp: f64, rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()).round() as i16)
        .collect()
}

/// `n` samples of a linear chirp from `f0` to `f1` Hz with peak `amp`.
pub fn chirp(f0: f64, f1: f64, amp: f64, rate: u32, n: usize) -> Vec<i16> {
    let dur = n as f64 / f64::from(rate);
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let phase = 2.0 * PI * (f0 * t + (f1 - f0) * t * t / (2.0 * dur));
            (amp * phase.sin()).round() as i16
        })
        .collect()
}

/// Power of `x` at `freq` (Goertzel), as a share of the total power of `x`
/// (1.0 for a pure tone at `freq` over whole periods).
pub fn tone_share(x: &[i16], freq: f64, rate: u32) -> f64 {
    let w = 2.0 * PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let total: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
    if total == 0.0 {
        return 0.0;
    }
    // |X(f)|^2 = (N A / 2)^2 for a sine of amplitude A; total = N A^2 / 2.
    2.0 * power / (x.len() as f64 * total)
}

/// Frequency from the number of rising zero crossings of `x`.
pub fn zero_crossing_freq(x: &[i16], rate: u32) -> f64 {
    let rising = x.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
    rising as f64 * f64::from(rate) / x.len() as f64
}

/// SNR in dB of `y` against `x` delayed by `delay` samples, over `range`
/// (indices into `y`).
pub fn snr_db(x: &[i16], y: &[i16], delay: usize, range: std::ops::Range<usize>) -> f64 {
    let (mut sig, mut err) = (0f64, 0f64);
    for i in range {
        let r = f64::from(x[i - delay]);
        sig += r * r;
        err += (f64::from(y[i]) - r).powi(2);
    }
    10.0 * (sig / err.max(1e-9)).log10()
}

/// The delay (0..max_lag) at which `y` best matches `x`, and the normalised
/// correlation there, over `len` samples starting at `from` in `y`.
pub fn best_lag(x: &[i16], y: &[i16], max_lag: usize, from: usize, len: usize) -> (usize, f64) {
    let mut best = (0, f64::MIN);
    for lag in 0..max_lag.min(from + 1) {
        let (mut xy, mut xx, mut yy) = (0f64, 0f64, 0f64);
        for i in from..from + len {
            let (a, b) = (f64::from(x[i - lag]), f64::from(y[i]));
            xy += a * b;
            xx += a * a;
            yy += b * b;
        }
        let c = xy / (xx * yy).sqrt().max(1e-9);
        if c > best.1 {
            best = (lag, c);
        }
    }
    best
}
