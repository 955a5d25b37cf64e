//! Streaming sample-rate conversion for mono 16-bit audio between telephony
//! rates (8, 16 and 48 kHz, or any pair where one rate is an integer multiple
//! of the other, up to [`MAX_RATIO`]).
//!
//! This module owns the [`Resampler`]: a polyphase FIR (Kaiser-windowed sinc,
//! designed in code at construction) that keeps its filter history between
//! calls, so consecutive 20 ms frames join without clicks and processing a
//! stream in one block or in frames gives bit-identical output.
//!
//! * Upsampling by `L` is zero-stuffing followed by the low-pass, computed in
//!   polyphase form (each output uses one of `L` sub-filters).
//! * Downsampling by `M` is the low-pass followed by keeping every `M`-th
//!   sample (only the kept outputs are computed).
//! * The low-pass is specified relative to the lower rate `f_lo`: passband up
//!   to `0.45 * f_lo`, stopband from `0.5 * f_lo` (the lower Nyquist), about
//!   60 dB attenuation. DC gain is 1 in both directions.
//! * The filter is linear phase with an integer delay of [`Resampler::delay`]
//!   output samples (36 samples at the lower rate, 4.5 ms at 8 kHz).
//!
//! `process`/`process_into` never allocate (`process` only grows the caller's
//! `Vec` if its capacity is short); all buffers are sized at construction.

use std::fmt;

/// Largest supported integer ratio between the two rates.
pub const MAX_RATIO: u32 = 12;

/// Taps of the prototype filter per unit of ratio (even, so the delay is an
/// integer number of samples at both rates).
const TAPS_PER_PHASE: usize = 72;
/// Kaiser window beta for roughly 60 dB stopband attenuation.
const KAISER_BETA: f64 = 5.65;
/// Passband edge and stopband edge as fractions of the lower sample rate.
const PASS_EDGE: f64 = 0.45;
const STOP_EDGE: f64 = 0.5;

/// The requested rate pair is not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsupportedRates {
    pub from_rate: u32,
    pub to_rate: u32,
}

impl fmt::Display for UnsupportedRates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported resampling {} Hz -> {} Hz (rates must be non-zero integer multiples, ratio <= {MAX_RATIO})",
            self.from_rate, self.to_rate
        )
    }
}

impl std::error::Error for UnsupportedRates {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Passthrough,
    Up(usize),
    Down(usize),
}

/// Streaming mono i16 resampler with persistent filter state.
#[derive(Debug, Clone)]
pub struct Resampler {
    from_rate: u32,
    to_rate: u32,
    mode: Mode,
    /// Up: `L` reversed sub-filters of `win` taps each, concatenated.
    /// Down: one reversed filter of `win` taps.
    coeffs: Vec<f32>,
    /// History, stored twice (`2 * win`) so the last `win` samples are always
    /// contiguous at `hist[pos..pos + win]`, oldest first.
    hist: Vec<f32>,
    win: usize,
    pos: usize,
    /// Down only: input samples to skip before the next output is produced.
    skip: usize,
}

impl Resampler {
    /// Creates a resampler from `from_rate` to `to_rate` (Hz).
    pub fn new(from_rate: u32, to_rate: u32) -> Result<Self, UnsupportedRates> {
        let err = UnsupportedRates { from_rate, to_rate };
        if from_rate == 0 || to_rate == 0 {
            return Err(err);
        }
        let (hi, lo) = (from_rate.max(to_rate), from_rate.min(to_rate));
        if hi % lo != 0 || hi / lo > MAX_RATIO {
            return Err(err);
        }
        let ratio = (hi / lo) as usize;
        let mode = if ratio == 1 {
            Mode::Passthrough
        } else if to_rate > from_rate {
            Mode::Up(ratio)
        } else {
            Mode::Down(ratio)
        };
        let (coeffs, win) = match mode {
            Mode::Passthrough => (Vec::new(), 0),
            Mode::Up(l) => {
                let h = design_lowpass(l, l as f64);
                // Sub-filter p takes h[p + l*j] against x[n - j]; j = 0..win.
                let win = TAPS_PER_PHASE + 1;
                let mut c = vec![0.0f32; l * win];
                for (p, sub) in c.chunks_exact_mut(win).enumerate() {
                    // Normalise every sub-filter to unit DC gain, so a constant
                    // input gives a constant output (no tone at the low rate).
                    let taps = (0..win).filter_map(|j| h.get(p + l * j).map(|&v| (j, v)));
                    let sum: f64 = taps.clone().map(|(_, v)| v).sum();
                    for (j, v) in taps {
                        sub[win - 1 - j] = (v / sum) as f32;
                    }
                }
                (c, win)
            }
            Mode::Down(m) => {
                let h = design_lowpass(m, 1.0);
                let win = h.len();
                (h.iter().rev().map(|&v| v as f32).collect(), win)
            }
        };
        Ok(Self {
            from_rate,
            to_rate,
            mode,
            coeffs,
            hist: vec![0.0; 2 * win],
            win,
            pos: 0,
            skip: 0,
        })
    }

    /// Input sample rate in Hz.
    pub fn from_rate(&self) -> u32 {
        self.from_rate
    }

    /// Output sample rate in Hz.
    pub fn to_rate(&self) -> u32 {
        self.to_rate
    }

    /// Group delay of the filter, in output samples (0 for passthrough).
    pub fn delay(&self) -> usize {
        match self.mode {
            Mode::Passthrough => 0,
            Mode::Up(l) => TAPS_PER_PHASE * l / 2,
            Mode::Down(_) => TAPS_PER_PHASE / 2,
        }
    }

    /// Clears the filter history, as if newly created.
    pub fn reset(&mut self) {
        self.hist.fill(0.0);
        self.pos = 0;
        self.skip = 0;
    }

    /// Exact number of samples the next call with `input_len` samples yields.
    pub fn output_len(&self, input_len: usize) -> usize {
        match self.mode {
            Mode::Passthrough => input_len,
            Mode::Up(l) => input_len * l,
            Mode::Down(m) => {
                if input_len > self.skip {
                    (input_len - self.skip - 1) / m + 1
                } else {
                    0
                }
            }
        }
    }

    /// Resamples `input`, appending the result to `output`.
    pub fn process(&mut self, input: &[i16], output: &mut Vec<i16>) {
        let start = output.len();
        output.resize(start + self.output_len(input.len()), 0);
        let n = self.process_into(input, &mut output[start..]);
        debug_assert_eq!(start + n, output.len());
    }

    /// Resamples `input` into the front of `output`, returning the number of
    /// samples written (always [`Self::output_len`]`(input.len())`).
    ///
    /// # Panics
    /// If `output` is shorter than [`Self::output_len`]`(input.len())`.
    pub fn process_into(&mut self, input: &[i16], output: &mut [i16]) -> usize {
        let need = self.output_len(input.len());
        assert!(
            output.len() >= need,
            "resample: output buffer too short ({} < {need})",
            output.len()
        );
        match self.mode {
            Mode::Passthrough => output[..need].copy_from_slice(input),
            Mode::Up(l) => {
                let win = self.win;
                for (&x, out) in input.iter().zip(output.chunks_exact_mut(l)) {
                    self.push(x);
                    let w = &self.hist[self.pos..self.pos + win];
                    for (o, c) in out.iter_mut().zip(self.coeffs.chunks_exact(win)) {
                        *o = to_i16(dot(c, w));
                    }
                }
            }
            Mode::Down(m) => {
                let win = self.win;
                let mut k = 0;
                for &x in input {
                    self.push(x);
                    if self.skip == 0 {
                        let w = &self.hist[self.pos..self.pos + win];
                        output[k] = to_i16(dot(&self.coeffs, w));
                        k += 1;
                        self.skip = m - 1;
                    } else {
                        self.skip -= 1;
                    }
                }
                debug_assert_eq!(k, need);
            }
        }
        need
    }

    #[inline]
    fn push(&mut self, x: i16) {
        let v = f32::from(x);
        self.hist[self.pos] = v;
        self.hist[self.pos + self.win] = v;
        self.pos += 1;
        if self.pos == self.win {
            self.pos = 0;
        }
    }
}

/// Rounds to nearest (half away from zero) and saturates to i16.
#[inline]
fn to_i16(v: f32) -> i16 {
    // `as` truncates toward zero and saturates; NaN cannot occur here.
    (v + 0.5f32.copysign(v)) as i16
}

/// Dot product with eight independent accumulators so it vectorises; the
/// summation order depends only on the length, keeping results reproducible.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// The Kaiser window with shape `beta` at `r` in `[-1, 1]` (0 at the
/// centre); shared by every windowed-sinc design in the media core.
pub(crate) fn kaiser(r: f64, beta: f64) -> f64 {
    bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta)
}

/// Zeroth-order modified Bessel function of the first kind (power series).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut sum, mut term, mut k) = (1.0f64, 1.0f64, 1.0f64);
    while term > sum * 1e-17 {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

/// Designs the prototype low-pass at the higher rate for integer `ratio`:
/// `TAPS_PER_PHASE * ratio + 1` taps (odd, symmetric), cutoff half-way
/// between the pass and stop edges, normalised to a DC gain of `gain`.
pub(crate) fn design_lowpass(ratio: usize, gain: f64) -> Vec<f64> {
    let n = TAPS_PER_PHASE * ratio + 1;
    let centre = (n - 1) as f64 / 2.0;
    // Cutoff in cycles per sample at the higher rate.
    let fc = 0.5 * (PASS_EDGE + STOP_EDGE) / ratio as f64;
    let mut h: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 - centre;
            let sinc = if t == 0.0 {
                2.0 * fc
            } else {
                (2.0 * std::f64::consts::PI * fc * t).sin() / (std::f64::consts::PI * t)
            };
            sinc * kaiser(t / centre, KAISER_BETA)
        })
        .collect();
    let sum: f64 = h.iter().sum();
    for v in &mut h {
        *v *= gain / sum;
    }
    h
}

#[cfg(test)]
#[path = "resample_tests.rs"]
mod tests;
