//! Prompt conversion (WAV -> leg format, once) and the shared prompt cache.
//!
//! # Conversion
//! [`read_prompt`] gives mono `i16` at the file's rate. [`convert_rate`]
//! brings it to the leg's rate:
//!
//! * Integer ratios the crate's [`Resampler`] supports (8/16/24/32/48/96 kHz
//!   and the like) go through it, with its filter delay removed (the signal is
//!   flushed with zeros and the first `delay()` outputs dropped), so the
//!   converted prompt starts when the file starts and keeps its length.
//! * Any other ratio (11025, 22050, 44100 Hz, ...) uses a windowed-sinc
//!   interpolator written here: Kaiser window (beta 5.65, ~60 dB stopband),
//!   64 taps at the lower rate, cutoff 0.47 of the lower rate, so the passband
//!   is flat to about 0.44 of the lower rate (3.5 kHz at 8 kHz) and aliasing
//!   of content above the output Nyquist is attenuated by about 60 dB. The
//!   kernel is tabulated (256 points per sample, linearly interpolated);
//!   the weights of each fractional phase (`to / gcd(from, to)` of them) are
//!   computed once and normalised to a sum of 1 (DC gain exactly 1), so each
//!   output is one dot product of about 64 / min(1, out/in) taps: ~350 for
//!   44.1 kHz -> 8 kHz, measured at ~80 ms per minute of audio (release
//!   build, one core). It is a one-off per (file, format): keep it off the
//!   media threads.
//!
//! The result is encoded (G.711 or big-endian L16) into one buffer, cut into
//! ptime frames; the last frame is padded with digital silence.
//!
//! # Cache
//! [`PromptCache`] maps `(path as given, OutputFormat)` to an
//! `Arc<EncodedPrompt>`. Conversion runs outside the lock, once per key:
//! callers asking for a key being converted wait for that conversion (a
//! burst of callers reaching a new prompt together would otherwise convert
//! it once each, all at once, and starve the media threads of CPU). Total size is bounded by a byte budget; the
//! least recently used entries are evicted (linear scan: the cache holds
//! prompts, i.e. tens to hundreds of entries). Evicted prompts stay alive
//! while players hold them. A prompt larger than the whole budget is
//! returned but not kept. Files changed on disk are not noticed: call
//! [`PromptCache::invalidate`] or [`PromptCache::clear`].

use std::collections::{HashMap, HashSet};
use std::mem::size_of;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use super::{Encoding, OutputFormat, PlayerError};
use crate::media::g711::{encode_alaw_into, encode_ulaw_into};
use crate::media::resample::{Resampler, kaiser};
use crate::media::wav::{Prompt, read_prompt};

/// A prompt converted for one [`OutputFormat`]: immutable, shared frames.
#[derive(Debug)]
pub struct EncodedPrompt {
    source: PathBuf,
    format: OutputFormat,
    frames: Box<[Bytes]>,
    source_rate: u32,
}

impl EncodedPrompt {
    /// Reads and converts `path` (no caching). Errors name the file.
    pub fn load(path: impl AsRef<Path>, format: OutputFormat) -> Result<Self, PlayerError> {
        let path = path.as_ref();
        let prompt = read_prompt(path)?;
        Ok(Self::convert(path, &prompt, format))
    }

    /// Converts decoded samples; `source` is only used for naming.
    pub fn convert(source: impl Into<PathBuf>, prompt: &Prompt, format: OutputFormat) -> Self {
        let samples = convert_rate(&prompt.samples, prompt.sample_rate, format.sample_rate());
        let spf = format.samples_per_frame();
        let n_frames = samples.len().div_ceil(spf);
        let bpf = format.bytes_per_frame();
        let mut buf = vec![format.silence_byte(); n_frames * bpf];
        let used = samples.len() * bpf / spf;
        match format.encoding() {
            Encoding::Pcmu => encode_ulaw_into(&samples, &mut buf[..used]),
            Encoding::Pcma => encode_alaw_into(&samples, &mut buf[..used]),
            Encoding::Linear16 => {
                for (d, s) in buf.chunks_exact_mut(2).zip(&samples) {
                    d.copy_from_slice(&s.to_be_bytes());
                }
            }
        }
        let all = Bytes::from(buf);
        let frames = (0..n_frames)
            .map(|i| all.slice(i * bpf..(i + 1) * bpf))
            .collect();
        Self {
            source: source.into(),
            format,
            frames,
            source_rate: prompt.sample_rate,
        }
    }

    /// The file the prompt came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The format the frames are encoded in.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Sample rate of the source file.
    pub fn source_rate(&self) -> u32 {
        self.source_rate
    }

    /// The encoded frames, one per ptime; the last is silence-padded.
    pub fn frames(&self) -> &[Bytes] {
        &self.frames
    }

    /// Playing time (whole frames).
    pub fn duration(&self) -> Duration {
        self.format.ptime() * self.frames.len() as u32
    }

    /// Approximate memory held: payload plus per-frame handles. Used for the
    /// cache budget.
    pub fn memory_size(&self) -> usize {
        let n = self.frames.len();
        size_of::<Self>() + n * (self.format.bytes_per_frame() + size_of::<Bytes>())
    }
}

/// Converts mono `input` from `from` Hz to `to` Hz (see the module doc for
/// the method and quality). Output length is `ceil(len * to / from)`; the
/// signal is not delayed. Returns `input` unchanged if the rates are equal
/// or either is zero.
pub fn convert_rate(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || from == 0 || to == 0 || input.is_empty() {
        return input.to_vec();
    }
    match Resampler::new(from, to) {
        Ok(r) => resample_integer(r, input),
        Err(_) => resample_sinc(input, from, to),
    }
}

/// Whole-signal conversion through the streaming [`Resampler`], delay removed.
fn resample_integer(mut r: Resampler, input: &[i16]) -> Vec<i16> {
    let (from, to) = (r.from_rate() as usize, r.to_rate() as usize);
    let delay = r.delay();
    // Input zeros needed to push `delay` more outputs out of the filter.
    let flush = if to > from {
        delay.div_ceil(to / from)
    } else {
        delay * (from / to)
    };
    let want = (input.len() * to).div_ceil(from);
    let mut out = Vec::with_capacity(r.output_len(input.len()) + delay + to / from + 1);
    r.process(input, &mut out);
    r.process(&vec![0; flush], &mut out);
    out.drain(..delay.min(out.len()));
    out.truncate(want);
    out.resize(want, 0);
    out
}

/// Half-width of the interpolation kernel, in samples of the lower rate.
const SINC_HALF_WIDTH: usize = 32;
/// Cutoff as a fraction of the lower rate.
const SINC_CUTOFF: f64 = 0.47;
/// Kaiser beta (~60 dB stopband).
const SINC_BETA: f64 = 5.65;
/// Kernel table resolution, points per sample of the lower rate.
const SINC_TABLE_RES: usize = 256;

/// Kernel `k(u)` for `u` in `[0, SINC_HALF_WIDTH]` (lower-rate samples),
/// sampled every `1 / SINC_TABLE_RES`, with one trailing zero.
fn sinc_table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let n = SINC_HALF_WIDTH * SINC_TABLE_RES;
        let mut t: Vec<f32> = (0..=n)
            .map(|i| {
                let u = i as f64 / SINC_TABLE_RES as f64;
                let x = 2.0 * SINC_CUTOFF * u;
                let sinc = if i == 0 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                (sinc * kaiser(u / SINC_HALF_WIDTH as f64, SINC_BETA)) as f32
            })
            .collect();
        t.push(0.0);
        t
    })
}

/// Largest precomputed weight bank (phases x taps) before weights are
/// computed per output instead (only for odd rate pairs like 7999 -> 8000).
const MAX_BANK: usize = 1 << 20;

/// Arbitrary-ratio windowed-sinc conversion (zero padding outside `input`).
///
/// With `from / to = down / up` in lowest terms, output `k` sits at input
/// position `k * down / up`, so only `up` distinct fractional phases exist;
/// their normalised weights are computed once (a polyphase bank) and each
/// output is a dot product.
fn resample_sinc(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    // Kernel argument per input sample of distance (lower-rate units).
    let scale = f64::from(to.min(from)) / f64::from(from);
    let reach = (SINC_HALF_WIDTH as f64 / scale).ceil() as usize;
    let taps = 2 * reach;
    let g = gcd(from, to);
    let (down, up) = (u64::from(from / g), u64::from(to / g));
    let n_in = input.len();
    let n_out = (n_in as u64 * up).div_ceil(down);
    let banked = (up as usize).saturating_mul(taps) <= MAX_BANK;
    let mut bank: Vec<f32> = if banked {
        let mut bank = vec![0.0; up as usize * taps];
        for (p, w) in bank.chunks_exact_mut(taps).enumerate() {
            sinc_weights(p as f64 / up as f64, scale, w);
        }
        bank
    } else {
        vec![0.0; taps]
    };
    let mut out = Vec::with_capacity(n_out as usize);
    for k in 0..n_out {
        let pos = k * down;
        let (base, phase) = ((pos / up) as usize, (pos % up) as usize);
        let w = if banked {
            &bank[phase * taps..(phase + 1) * taps]
        } else {
            sinc_weights(phase as f64 / up as f64, scale, &mut bank);
            &bank[..]
        };
        // w[o] applies to input index base + 1 - reach + o.
        let first = (base + 1).checked_sub(reach);
        let v = match first {
            Some(start) if start + taps <= n_in => dot(w, &input[start..start + taps]),
            _ => w
                .iter()
                .enumerate()
                .filter_map(|(o, &w)| {
                    let j = (base + 1 + o).checked_sub(reach)?;
                    input.get(j).map(|&x| w * f32::from(x))
                })
                .sum(),
        };
        out.push(v.round().clamp(-32768.0, 32767.0) as i16);
    }
    out
}

/// Fills `w` (length `2 * reach`) with the kernel for an output at fractional
/// input offset `frac`, normalised to a sum of 1.
fn sinc_weights(frac: f64, scale: f64, w: &mut [f32]) {
    let table = sinc_table();
    let limit = (SINC_HALF_WIDTH * SINC_TABLE_RES) as f64;
    let reach = (w.len() / 2) as f64;
    let mut sum = 0.0f64;
    for (o, wo) in w.iter_mut().enumerate() {
        // Distance from the output position to input base + 1 - reach + o.
        let d = (reach - 1.0 - o as f64 + frac).abs() * scale * SINC_TABLE_RES as f64;
        let v = if d >= limit {
            0.0
        } else {
            let i = d as usize;
            let f = d - i as f64;
            f64::from(table[i]) + f64::from(table[i + 1] - table[i]) * f
        };
        *wo = v as f32;
        sum += v;
    }
    for wo in w.iter_mut() {
        *wo = (f64::from(*wo) / sum) as f32;
    }
}

/// Dot product with eight accumulators (vectorises).
fn dot(w: &[f32], x: &[i16]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (cw, cx) = (w.chunks_exact(8), x.chunks_exact(8));
    let tail: f32 = cw
        .remainder()
        .iter()
        .zip(cx.remainder())
        .map(|(&a, &b)| a * f32::from(b))
        .sum();
    for (a, b) in cw.zip(cx) {
        for i in 0..8 {
            acc[i] += a[i] * f32::from(b[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

type Key = (PathBuf, OutputFormat);

struct Entry {
    prompt: Arc<EncodedPrompt>,
    size: usize,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Entry>,
    /// Keys being converted now (by the caller that took them).
    converting: HashSet<Key>,
    total: usize,
    clock: u64,
}

/// Thread-safe cache of converted prompts, bounded by a byte budget (LRU).
/// Share it between calls behind an `Arc`.
pub struct PromptCache {
    inner: Mutex<Inner>,
    /// Signalled when a conversion ends (converted or failed).
    converted: Condvar,
    conversions: AtomicU64,
    budget: usize,
}

/// A key taken for conversion; given back (waking the callers waiting for
/// it) when dropped, whether the conversion succeeded, failed or panicked.
struct Converting<'a> {
    cache: &'a PromptCache,
    key: Option<Key>,
}

impl Drop for Converting<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.cache.lock().converting.remove(&key);
            self.cache.converted.notify_all();
        }
    }
}

impl PromptCache {
    /// A cache holding at most about `budget_bytes` of converted prompts.
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            converted: Condvar::new(),
            conversions: AtomicU64::new(0),
            budget: budget_bytes,
        }
    }

    /// How many times a file was read and converted (a cache miss each).
    pub fn conversions(&self) -> u64 {
        self.conversions.load(Ordering::Relaxed)
    }

    /// The prompt at `path` converted to `format`: from the cache, or read,
    /// converted and inserted (blocking I/O and CPU; see the module doc).
    /// Errors name the file.
    pub fn get(
        &self,
        path: impl AsRef<Path>,
        format: OutputFormat,
    ) -> Result<Arc<EncodedPrompt>, PlayerError> {
        let key = (path.as_ref().to_path_buf(), format);
        {
            let mut inner = self.lock();
            loop {
                inner.clock += 1;
                let now = inner.clock;
                if let Some(e) = inner.map.get_mut(&key) {
                    e.last_used = now;
                    return Ok(Arc::clone(&e.prompt));
                }
                if !inner.converting.contains(&key) {
                    break;
                }
                // Another caller converts it: wait for its result (or,
                // if that failed or was not kept, convert it ourselves).
                inner = self
                    .converted
                    .wait(inner)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            inner.converting.insert(key.clone());
        }
        let mut turn = Converting {
            cache: self,
            key: Some(key.clone()),
        };
        self.conversions.fetch_add(1, Ordering::Relaxed);
        let loaded = EncodedPrompt::load(&key.0, format);
        let prompt = Arc::new(loaded?);
        let size = prompt.memory_size();
        let mut inner = self.lock();
        // Inserted below, under this lock: waiters woken after it find it.
        inner.converting.remove(&key);
        turn.key = None;
        self.converted.notify_all();
        inner.clock += 1;
        let now = inner.clock;
        if let Some(e) = inner.map.get_mut(&key) {
            // There already (one conversion of a key runs at a time, so
            // only if it was put back meanwhile): share it.
            e.last_used = now;
            return Ok(Arc::clone(&e.prompt));
        }
        if size > self.budget {
            return Ok(prompt);
        }
        while inner.total + size > self.budget {
            let Some(oldest) = inner
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = inner.map.remove(&oldest) {
                inner.total -= e.size;
            }
        }
        inner.total += size;
        let entry = Entry {
            prompt: Arc::clone(&prompt),
            size,
            last_used: now,
        };
        inner.map.insert(key, entry);
        Ok(prompt)
    }

    /// Whether `(path, format)` is cached (does not touch its LRU age).
    pub fn contains(&self, path: impl AsRef<Path>, format: OutputFormat) -> bool {
        let key = (path.as_ref().to_path_buf(), format);
        self.lock().map.contains_key(&key)
    }

    /// Drops every cached conversion of `path` (e.g. after the file changed).
    pub fn invalidate(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let mut inner = self.lock();
        let mut freed = 0;
        inner.map.retain(|(p, _), e| {
            let keep = p != path;
            if !keep {
                freed += e.size;
            }
            keep
        });
        inner.total -= freed;
    }

    /// Empties the cache.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.total = 0;
    }

    /// Number of cached conversions.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().map.is_empty()
    }

    /// Bytes currently accounted (sum of [`EncodedPrompt::memory_size`]).
    pub fn total_bytes(&self) -> usize {
        self.lock().total
    }

    /// The byte budget.
    pub fn budget(&self) -> usize {
        self.budget
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Updates never panic half-way, so a poisoned map is still coherent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for PromptCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("PromptCache")
            .field("entries", &inner.map.len())
            .field("total_bytes", &inner.total)
            .field("budget", &self.budget)
            .finish()
    }
}
