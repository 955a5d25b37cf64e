//! In-band DTMF detection on 8 kHz linear PCM with the Goertzel algorithm.
//!
//! A 20 ms analysis window slides over the audio in 5 ms hops (both
//! configurable). Each window is a hit for a digit when exactly one row and one
//! column tone stand out: both above a minimum level, twist within limits, each
//! peak clearly above the other tones of its group, and the pair holding most
//! of the window's energy (which rejects speech, music and noise). A digit is
//! reported once when enough consecutive windows agree (≈ the minimum tone
//! duration) and the detector is re-armed only after an inter-digit gap.
//! Positions are sample counts, so no clock is involved.
//!
//! Each sample is analysed once: the audio is cut into hop-sized blocks,
//! each block's partial DFT at the eight DTMF frequencies is kept, and a
//! window's spectrum is the sum of its blocks' partial DFTs, each turned by
//! its offset in the window (the DFT is linear). With the default 5 ms hop
//! that is a quarter of the work of running Goertzel over every window.

use std::sync::{Arc, OnceLock};

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Detector tuning. [`Default`] suits 8 kHz telephony.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    pub sample_rate: u32,
    /// Analysis window in samples (160 = 20 ms at 8 kHz).
    pub window: usize,
    /// Hop between analyses in samples (40 = 5 ms).
    pub hop: usize,
    /// Minimum level of each tone, dBFS (full-scale sine = 0 dBFS).
    pub min_level_dbfs: f32,
    /// Max dB the column (high) tone may be below the row (low) tone.
    pub normal_twist_db: f32,
    /// Max dB the column tone may be above the row tone.
    pub reverse_twist_db: f32,
    /// Each peak must exceed the other tones of its group by this much.
    pub relative_peak_db: f32,
    /// Share of the window energy the tone pair must hold (0..1).
    pub min_energy_ratio: f32,
    /// Shortest tone reported.
    pub min_duration_ms: u32,
    /// Silence needed before the next digit (or a repeat) can be reported.
    pub min_gap_ms: u32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            window: 160,
            hop: 40,
            min_level_dbfs: -36.0,
            normal_twist_db: 8.0,
            reverse_twist_db: 4.0,
            relative_peak_db: 8.0,
            min_energy_ratio: 0.75,
            min_duration_ms: 40,
            min_gap_ms: 40,
        }
    }
}

/// A digit detected in the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InbandDigit {
    pub digit: char,
    /// Sample index (since the detector was created) where the tone was first seen.
    pub start_sample: u64,
}

/// Streaming DTMF detector (block-wise DFT at the eight DTMF frequencies).
/// Feed audio in any frame size.
#[derive(Debug, Clone)]
pub struct GoertzelDetector {
    /// The DFT tables, shared by every detector of the same tuning.
    tables: Arc<Tables>,
    window: usize,
    hop: usize,
    min_level: f32,
    normal_twist: f32,
    reverse_twist: f32,
    relative_peak: f32,
    min_ratio: f32,
    min_hits: u32,
    gap_windows: u32,
    /// The block being filled.
    block: Vec<f32>,
    fill: usize,
    /// Partial DFTs (re, im) and energies of the window's blocks, a ring.
    blocks: Vec<([f32; 8], [f32; 8], f32)>,
    /// Ring slot of the oldest block.
    oldest: usize,
    /// Blocks seen so far (saturating at the window's count).
    seen: usize,
    /// Sample index of the window's first sample.
    buf_start: u64,
    candidate: Option<(char, u32, u64)>,
    misses: u32,
    armed: bool,
}

/// The tables of one (sample rate, hop, blocks per window).
#[derive(Debug)]
struct Tables {
    /// `cos`/`sin` of each frequency at each sample of a block:
    /// `basis[n] = ([cos w_k n], [sin w_k n])`.
    basis: Vec<([f32; 8], [f32; 8])>,
    /// `rotation[b]`: `e^(-j w_k hop b)` for the block at position `b` of
    /// the window, as (re, im) per frequency.
    rotation: Vec<([f32; 8], [f32; 8])>,
}

impl Tables {
    fn new(fs: u32, hop: usize, per_window: usize) -> Self {
        let omega: Vec<f64> = ROWS
            .iter()
            .chain(COLS.iter())
            .map(|f| 2.0 * std::f64::consts::PI * f64::from(*f) / f64::from(fs))
            .collect();
        let turn = |phase: f64| -> ([f32; 8], [f32; 8]) {
            let mut re = [0f32; 8];
            let mut im = [0f32; 8];
            for k in 0..8 {
                re[k] = (omega[k] * phase).cos() as f32;
                im[k] = (omega[k] * phase).sin() as f32;
            }
            (re, im)
        };
        Self {
            basis: (0..hop).map(|n| turn(n as f64)).collect(),
            rotation: (0..per_window)
                .map(|b| {
                    let (re, im) = turn((b * hop) as f64);
                    (re, im.map(|v| -v))
                })
                .collect(),
        }
    }

    /// The tables for this tuning: the default one's are built once and
    /// shared (a detector runs on every G.711 leg without telephone-event).
    fn get(fs: u32, hop: usize, per_window: usize) -> Arc<Self> {
        static DEFAULT: OnceLock<Arc<Tables>> = OnceLock::new();
        let d = DetectorConfig::default();
        if (fs, hop, per_window) == (d.sample_rate, d.hop, d.window / d.hop) {
            DEFAULT
                .get_or_init(|| Arc::new(Self::new(fs, hop, per_window)))
                .clone()
        } else {
            Arc::new(Self::new(fs, hop, per_window))
        }
    }
}

fn db_to_power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

impl GoertzelDetector {
    pub fn new(cfg: DetectorConfig) -> Self {
        let fs = cfg.sample_rate.max(1) as f32;
        let hop = cfg.hop.clamp(1, cfg.window.max(16));
        // A whole number of hops per window.
        let per_window = cfg.window.max(16).div_ceil(hop);
        let window = per_window * hop;
        let tables = Tables::get(cfg.sample_rate.max(1), hop, per_window);
        let ms = |samples: usize| samples as f32 * 1000.0 / fs;
        // A window counts as a hit once ~3/4 of it is tone, so a tone of D ms
        // yields about (D - window/2) / hop consecutive hits.
        let min_hits = ((cfg.min_duration_ms as f32 - ms(window) / 2.0) / ms(hop)).max(1.0) as u32;
        let gap_windows = (cfg.min_gap_ms as f32 / ms(hop)).max(1.0) as u32;
        Self {
            tables,
            window,
            hop,
            // Mean power of a sine of amplitude A is A^2/2; full scale is 0.5.
            min_level: 0.5 * db_to_power(cfg.min_level_dbfs),
            normal_twist: db_to_power(cfg.normal_twist_db),
            reverse_twist: db_to_power(cfg.reverse_twist_db),
            relative_peak: db_to_power(cfg.relative_peak_db),
            min_ratio: cfg.min_energy_ratio,
            min_hits,
            gap_windows,
            block: vec![0.0; hop],
            fill: 0,
            blocks: vec![([0.0; 8], [0.0; 8], 0.0); per_window],
            oldest: 0,
            seen: 0,
            buf_start: 0,
            candidate: None,
            misses: 0,
            armed: true,
        }
    }

    /// Feed samples; `on_digit` is called for every digit detected.
    pub fn process<F: FnMut(InbandDigit)>(&mut self, samples: &[i16], mut on_digit: F) {
        for &s in samples {
            self.block[self.fill] = f32::from(s) * (1.0 / 32768.0);
            self.fill += 1;
            if self.fill < self.hop {
                continue;
            }
            self.fill = 0;
            self.push_block();
            if self.seen < self.blocks.len() {
                continue;
            }
            let hit = self.analyze();
            if let Some(d) = self.step(hit) {
                on_digit(d);
            }
            self.buf_start += self.hop as u64;
        }
    }

    /// The partial DFT of the full block, into the ring in place of the
    /// oldest block.
    fn push_block(&mut self) {
        let mut re = [0f32; 8];
        let mut im = [0f32; 8];
        let mut energy = 0f32;
        for (&x, (c, s)) in self.block.iter().zip(&self.tables.basis) {
            energy += x * x;
            for k in 0..8 {
                re[k] += x * c[k];
                im[k] -= x * s[k];
            }
        }
        let slot = if self.seen < self.blocks.len() {
            self.seen += 1;
            self.seen - 1
        } else {
            let slot = self.oldest;
            self.oldest = (self.oldest + 1) % self.blocks.len();
            slot
        };
        self.blocks[slot] = (re, im, energy);
    }

    /// Convenience for one frame (e.g. 20 ms): the last digit found, if any.
    pub fn process_frame(&mut self, samples: &[i16]) -> Option<InbandDigit> {
        let mut last = None;
        self.process(samples, |d| last = Some(d));
        last
    }

    fn step(&mut self, hit: Option<char>) -> Option<InbandDigit> {
        let Some(digit) = hit else {
            self.candidate = None;
            self.misses = self.misses.saturating_add(1);
            if self.misses >= self.gap_windows {
                self.armed = true;
            }
            return None;
        };
        self.misses = 0;
        let (d, run, start) = match self.candidate {
            Some((d, run, start)) if d == digit => (d, run + 1, start),
            _ => (digit, 1, self.buf_start),
        };
        self.candidate = Some((d, run, start));
        if run >= self.min_hits && self.armed {
            self.armed = false;
            return Some(InbandDigit {
                digit: d,
                start_sample: start,
            });
        }
        None
    }

    /// The window's spectrum from its blocks; the digit if it is a clean hit.
    fn analyze(&self) -> Option<char> {
        let mut re = [0f32; 8];
        let mut im = [0f32; 8];
        let mut energy = 0f32;
        let count = self.blocks.len();
        for (b, (rot_re, rot_im)) in self.tables.rotation.iter().enumerate() {
            let (bre, bim, e) = &self.blocks[(self.oldest + b) % count];
            energy += e;
            for k in 0..8 {
                re[k] += bre[k] * rot_re[k] - bim[k] * rot_im[k];
                im[k] += bre[k] * rot_im[k] + bim[k] * rot_re[k];
            }
        }
        let n = self.window as f32;
        // Tone energy within the window: 2|X|^2 / N.
        let mut p = [0f32; 8];
        for k in 0..8 {
            p[k] = (re[k] * re[k] + im[k] * im[k]) * 2.0 / n;
        }
        let argmax = |g: &[f32]| (0..4).fold(0, |best, i| if g[i] > g[best] { i } else { best });
        let (rows, cols) = p.split_at(4);
        let (r, c) = (argmax(rows), argmax(cols));
        let (pr, pc) = (rows[r], cols[c]);
        let min_energy = self.min_level * n;
        if pr < min_energy || pc < min_energy {
            return None;
        }
        if pr > pc * self.normal_twist || pc > pr * self.reverse_twist {
            return None;
        }
        let clear = |g: &[f32], best: usize| {
            (0..4).all(|i| i == best || g[i] * self.relative_peak <= g[best])
        };
        if !clear(rows, r) || !clear(cols, c) {
            return None;
        }
        if pr + pc < self.min_ratio * energy {
            return None;
        }
        Some(KEYS[r][c])
    }
}

impl Default for GoertzelDetector {
    fn default() -> Self {
        Self::new(DetectorConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Deterministic white-ish noise source (LCG), uniform in [-1, 1).
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        }
    }

    fn amp(dbfs: f64) -> f64 {
        10f64.powf(dbfs / 20.0)
    }

    /// Tone pair of `ms` milliseconds; row/col levels in dBFS; uniform noise at `noise_dbfs` rms.
    fn tone(
        digit: char,
        row_db: f64,
        col_db: f64,
        ms: usize,
        noise_dbfs: f64,
        seed: u64,
    ) -> Vec<f64> {
        let (r, c) = (0..16)
            .map(|i| (i / 4, i % 4))
            .find(|&(r, c)| KEYS[r][c] == digit)
            .unwrap();
        let mut noise = Noise(seed);
        let noise_amp = amp(noise_dbfs) * 3f64.sqrt(); // uniform rms = a/sqrt(3)
        (0..ms * 8)
            .map(|i| {
                let t = i as f64 / 8000.0;
                amp(row_db) * (2.0 * PI * f64::from(ROWS[r]) * t).sin()
                    + amp(col_db) * (2.0 * PI * f64::from(COLS[c]) * t + 0.7).sin()
                    + noise_amp * noise.next()
            })
            .collect()
    }

    fn silence(ms: usize) -> Vec<f64> {
        vec![0.0; ms * 8]
    }

    fn run(det: &mut GoertzelDetector, audio: &[f64]) -> String {
        let pcm: Vec<i16> = audio
            .iter()
            .map(|x| (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        let mut out = String::new();
        for frame in pcm.chunks(160) {
            det.process(frame, |d| out.push(d.digit));
        }
        out
    }

    #[test]
    fn all_digits_at_levels_with_noise() {
        for (i, level) in [-10.0, -15.0, -20.0, -25.0].into_iter().enumerate() {
            let mut audio = silence(30);
            let digits = "123A456B789C*0#D";
            for (k, d) in digits.chars().enumerate() {
                audio.extend(tone(d, level, level - 1.5, 60, -45.0, (i * 16 + k) as u64));
                audio.extend(tone('1', -200.0, -200.0, 60, -45.0, 99 + k as u64));
            }
            let mut det = GoertzelDetector::default();
            assert_eq!(run(&mut det, &audio), digits, "level {level}");
        }
    }

    #[test]
    fn durations_and_gaps() {
        // 30 ms burst: nothing, at any alignment.
        for offset in 0..8 {
            let mut audio = silence(offset * 5 + 1);
            audio.extend(tone('5', -12.0, -12.0, 30, -50.0, offset as u64));
            audio.extend(silence(100));
            assert_eq!(
                run(&mut GoertzelDetector::default(), &audio),
                "",
                "offset {offset}"
            );
        }
        // 50 ms tone: detected once at any alignment; a long tone once.
        for offset in 0..8 {
            let mut audio = silence(offset * 5 + 1);
            audio.extend(tone('9', -12.0, -12.0, 50, -50.0, offset as u64));
            audio.extend(silence(60));
            audio.extend(tone('9', -12.0, -12.0, 1000, -50.0, 1 + offset as u64));
            audio.extend(silence(60));
            assert_eq!(
                run(&mut GoertzelDetector::default(), &audio),
                "99",
                "offset {offset}"
            );
        }
        // A brief dropout inside a tone does not produce a second digit.
        let mut audio = tone('0', -15.0, -15.0, 100, -50.0, 3);
        audio.extend(silence(10));
        audio.extend(tone('0', -15.0, -15.0, 100, -50.0, 4));
        assert_eq!(run(&mut GoertzelDetector::default(), &audio), "0");
    }

    #[test]
    fn twist_limits() {
        let mut det = GoertzelDetector::default();
        // Within limits: 6 dB normal twist, 3 dB reverse twist.
        assert_eq!(
            run(
                &mut det,
                &[tone('4', -12.0, -18.0, 80, -50.0, 1), silence(60)].concat()
            ),
            "4"
        );
        assert_eq!(
            run(
                &mut det,
                &[tone('4', -15.0, -12.0, 80, -50.0, 2), silence(60)].concat()
            ),
            "4"
        );
        // Beyond: 12 dB normal, 7 dB reverse.
        assert_eq!(
            run(
                &mut det,
                &[tone('4', -10.0, -22.0, 80, -50.0, 3), silence(60)].concat()
            ),
            ""
        );
        assert_eq!(
            run(
                &mut det,
                &[tone('4', -19.0, -12.0, 80, -50.0, 4), silence(60)].concat()
            ),
            ""
        );
    }

    #[test]
    fn rejects_single_tone_speech_and_quiet() {
        let mut det = GoertzelDetector::default();
        // Single row tone and single column tone.
        assert_eq!(run(&mut det, &tone('1', -10.0, -200.0, 500, -50.0, 1)), "");
        assert_eq!(run(&mut det, &tone('1', -200.0, -10.0, 500, -50.0, 2)), "");
        // Below the level floor.
        assert_eq!(run(&mut det, &tone('1', -40.0, -40.0, 500, -200.0, 3)), "");
        // Voice-like: 15 harmonics of a pitch gliding 90..300 Hz, formant-ish weights.
        let mut phase = 0.0f64;
        let mut audio = Vec::new();
        let mut noise = Noise(7);
        for i in 0..8000 * 10 {
            let t = i as f64 / 8000.0;
            let f0 = 195.0 + 105.0 * (2.0 * PI * 0.7 * t).sin() * (2.0 * PI * 0.13 * t).cos();
            phase += 2.0 * PI * f0 / 8000.0;
            let syllable = 0.5 + 0.5 * (2.0 * PI * 3.0 * t).sin().abs();
            let s: f64 = (1..=15)
                .map(|k| {
                    let f = f0 * k as f64;
                    let formant = 1.0 / (1.0 + ((f - 700.0) / 300.0).powi(2))
                        + 0.6 / (1.0 + ((f - 1300.0) / 250.0).powi(2));
                    formant * (phase * k as f64).sin()
                })
                .sum();
            audio.push(0.12 * syllable * s + amp(-50.0) * noise.next());
        }
        assert_eq!(run(&mut det, &audio), "");
    }
}
