//! Packet loss concealment for codecs without their own (G.711, G.722):
//! the last good frame is repeated, its level ramped down by half over each
//! lost frame, until four consecutive losses (80 ms at 20 ms) have faded it
//! to silence. A good frame resets the fade. This is the simple "repeat and
//! fade" scheme that G.711 Appendix I improves on with pitch-period
//! repetition; it hides a lone lost packet without a gap and never rings on.

/// Consecutive lost frames after which only silence is produced.
const MAX_FADED: u32 = 4;

#[derive(Debug, Clone)]
pub(super) struct RepeatFade {
    /// The last good frame (capacity kept between frames).
    last: Vec<i16>,
    /// Consecutive frames concealed since the last good one.
    lost: u32,
    /// Samples per frame before the first good frame.
    default_frame: usize,
}

impl RepeatFade {
    /// `default_frame`: samples of one frame (20 ms) at the codec's rate.
    pub(super) fn new(default_frame: usize) -> Self {
        Self {
            last: Vec::with_capacity(default_frame * 6),
            lost: 0,
            default_frame,
        }
    }

    /// A frame was decoded: remember it.
    pub(super) fn good(&mut self, frame: &[i16]) {
        self.last.clear();
        self.last.extend_from_slice(frame);
        self.lost = 0;
    }

    /// Samples in the last frame (good or concealed).
    pub(super) fn frame_samples(&self) -> usize {
        if self.last.is_empty() {
            self.default_frame
        } else {
            self.last.len()
        }
    }

    /// Append `samples` concealed samples to `out`.
    pub(super) fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> usize {
        if self.last.is_empty() || self.lost >= MAX_FADED {
            self.lost = self.lost.saturating_add(1);
            out.resize(out.len() + samples, 0);
            return samples;
        }
        // Gain ramps from 2^-lost to 2^-(lost+1) across this frame (Q15).
        let g0 = 32768i64 >> self.lost;
        let g1 = g0 / 2;
        let n = samples.max(1) as i64;
        let period = self.last.len();
        out.extend((0..samples).map(|k| {
            let g = g0 - (g0 - g1) * k as i64 / n;
            let x = i64::from(self.last[k % period]);
            ((x * g) >> 15) as i16
        }));
        self.lost += 1;
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_fading_then_silence() {
        let mut p = RepeatFade::new(4);
        let mut out = Vec::new();
        // Nothing heard yet: silence of the requested length.
        assert_eq!(p.conceal(3, &mut out), 3);
        assert_eq!(out, [0, 0, 0]);
        p.good(&[1000, -1000, 1000, -1000]);
        assert_eq!(p.frame_samples(), 4);
        out.clear();
        p.conceal(4, &mut out);
        assert_eq!(out[0], 1000, "first concealed sample at full level");
        assert!(out[3].abs() < 1000 && out[3].abs() > 500, "{out:?}");
        for _ in 0..MAX_FADED {
            out.clear();
            p.conceal(4, &mut out);
        }
        assert!(out.iter().all(|&x| x == 0), "faded to silence: {out:?}");
        p.good(&[7; 4]);
        out.clear();
        p.conceal(2, &mut out);
        assert_eq!(out[0], 7, "a good frame resets the fade");
    }
}
