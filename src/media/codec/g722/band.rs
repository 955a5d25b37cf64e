//! The two sub-band ADPCM coders of G.722 (ITU-T G.722 (09/2012), clause 6,
//! blocks 1L-4L and 1H-4H), in the spec's fixed-point arithmetic so that an
//! encoder here and any conforming decoder keep identical predictor states.
//!
//! * Lower sub-band (0-4 kHz at 8 kHz): 6-bit quantiser (`QUANTL`) at
//!   64 kbit/s, of which only the 4 most significant bits drive the
//!   inverse quantiser of the feedback loop (`INVQAL`, embedded ADPCM);
//!   the decoder's output uses all 6 bits (`INVQBL`, mode 1).
//! * Higher sub-band (4-8 kHz): 2-bit quantiser (`QUANTH`, `INVQAH`).
//! * Both: logarithmic scale-factor adaptation (`LOGSCL`/`SCALEL`,
//!   `LOGSCH`/`SCALEH`) and the adaptive predictor of block 4 (two poles,
//!   six zeros: `RECONS`, `PARREC`, `UPPOL2`, `UPPOL1`, `UPZERO`, `DELAYA`,
//!   `FILTEP`, `FILTEZ`, `PREDIC`).
//!
//! Signals are 15-bit (the sub-band signals of the QMF); predictor
//! coefficients are Q14; `LIMIT` saturates to 16 bits inside the ADPCM
//! loop and to 15 bits on the decoder's output (blocks 6L, 6H). The tables are the
//! spec's constants (decision levels Q6, inverse-quantiser outputs QM2, QM4,
//! QM6, log-scale increments WL/WH and the `ILB` antilog table).

/// Decision levels of the 6-bit lower-band quantiser, `Q6(1..=29)` in units
/// of `DETL / 4096` (index 0 unused).
const Q6: [i32; 30] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
];

/// 6-bit code for quantiser interval `MIL` (1..=30) of a negative `EL`.
const ILN: [u8; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];

/// 6-bit code for quantiser interval `MIL` (1..=30) of a positive `EL`.
const ILP: [u8; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];

/// Output of the 4-bit inverse quantiser (`INVQAL`), indexed by `ILR >> 2`.
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// Output of the 6-bit inverse quantiser (`INVQBL`, mode 1), indexed by `ILR`.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];

/// Output of the 2-bit higher-band inverse quantiser (`INVQAH`), by `IH`.
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];

/// `RIL` (4-bit code) to the magnitude index of the `WL` table.
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// Log scale-factor multipliers of the lower band.
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
/// `IH` to the index of the `WH` table.
const RH2: [usize; 4] = [2, 1, 2, 1];
/// Log scale-factor multipliers of the higher band.
const WH: [i32; 3] = [0, -214, 798];

/// Antilog table of `SCALEL`/`SCALEH`: `2048 * 2^(i/32)`, rounded.
pub(super) const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Upper bound of `NBL` (lower band log scale factor).
const NBL_MAX: i32 = 18432;
/// Upper bound of `NBH` (higher band log scale factor).
const NBH_MAX: i32 = 22528;
/// Decision level of the 2-bit higher-band quantiser (units of `DETH / 4096`).
const Q2: i32 = 564;

/// `LIMIT`: saturate to the 16-bit range.
#[inline]
fn limit(x: i32) -> i32 {
    x.clamp(-32768, 32767)
}

/// Blocks 6L/6H `LIMIT`: the decoder's sub-band outputs are 15-bit.
#[inline]
fn limit15(x: i32) -> i32 {
    x.clamp(-16384, 16383)
}

/// The sign bit of a 16-bit value (`x >> 15`): zero counts as positive.
#[inline]
fn negative(x: i32) -> bool {
    x < 0
}

/// `MAGNITUDE` of blocks 1L/1H: one's-complement magnitude.
#[inline]
fn magnitude(x: i32) -> i32 {
    if x >= 0 { x } else { -(x + 1) }
}

/// Block 1L `QUANTL`: the 6-bit code of the lower-band difference `el`.
#[inline]
pub(super) fn quantl(el: i32, detl: i32) -> u8 {
    let wd = magnitude(el);
    let mut mil = 1;
    while mil < 30 && wd >= (Q6[mil] * detl) >> 12 {
        mil += 1;
    }
    if negative(el) { ILN[mil] } else { ILP[mil] }
}

/// Block 1H `QUANTH`: the 2-bit code of the higher-band difference `eh`.
#[inline]
pub(super) fn quanth(eh: i32, deth: i32) -> u8 {
    let big = magnitude(eh) >= (Q2 * deth) >> 12;
    match (negative(eh), big) {
        (true, true) => 0,
        (true, false) => 1,
        (false, true) => 2,
        (false, false) => 3,
    }
}

/// `SCALEL`/`SCALEH`: the linear scale factor of log scale factor `nb`;
/// `shift` is 8 for the lower band, 10 for the higher one.
#[inline]
fn scale(nb: i32, shift: i32) -> i32 {
    let wd1 = ILB[((nb >> 6) & 31) as usize];
    let wd2 = shift - (nb >> 11);
    let wd3 = if wd2 < 0 { wd1 << -wd2 } else { wd1 >> wd2 };
    wd3 << 2
}

/// The adaptive predictor of one sub-band (block 4L or 4H), with its
/// delay lines. `s()` is the prediction of the next sample.
#[derive(Debug, Clone, Default)]
struct Predictor {
    /// Pole coefficients `A1`, `A2` (Q14).
    a1: i32,
    a2: i32,
    /// Zero coefficients `B1..B6` (Q14).
    b: [i32; 6],
    /// Quantised differences `D(n-1)..D(n-6)`.
    d: [i32; 6],
    /// Partially reconstructed signal `P(n-1)`, `P(n-2)`.
    p1: i32,
    p2: i32,
    /// Reconstructed signal `R(n-1)`, `R(n-2)`.
    r1: i32,
    r2: i32,
    /// Pole and zero section outputs for the next sample (`SP`, `SZ`).
    sp: i32,
    sz: i32,
    /// Prediction of the next sample (`S`).
    s: i32,
}

impl Predictor {
    /// One step of block 4 with quantised difference `d` of the current
    /// sample: reconstruct, adapt the coefficients, shift the delay lines
    /// and predict the next sample.
    fn update(&mut self, d: i32) {
        // RECONS and PARREC.
        let r = limit(self.s + d);
        let p = limit(d + self.sz);
        // UPPOL2: a2 += 2^-7 (sgn(p p2) - f(a1) sgn(p p1)), leak 2^-7; in
        // 16 bits, so -f(a1) saturates too.
        let wd1 = limit(self.a1 << 2);
        let wd2 = limit(if negative(p) == negative(self.p1) {
            -wd1
        } else {
            wd1
        }) >> 7;
        let wd3 = if negative(p) == negative(self.p2) {
            128
        } else {
            -128
        };
        let wd5 = (self.a2 * 32512) >> 15;
        let a2 = (wd2 + wd3 + wd5).clamp(-12288, 12288);
        // UPPOL1: a1 += 3 * 2^-8 sgn(p p1), leak 2^-8, |a1| <= 1 - 2^-4 - a2.
        let wd1 = if negative(p) == negative(self.p1) {
            192
        } else {
            -192
        };
        let wd2 = (self.a1 * 32640) >> 15;
        let bound = 15360 - a2;
        let a1 = (wd1 + wd2).clamp(-bound, bound);
        // UPZERO: b_i += 2^-7 sgn(d d_i) (nothing when d = 0), leak 2^-8.
        let step = if d == 0 { 0 } else { 128 };
        for (b, &di) in self.b.iter_mut().zip(&self.d) {
            let wd2 = if negative(d) == negative(di) {
                step
            } else {
                -step
            };
            *b = limit(wd2 + ((*b * 32640) >> 15));
        }
        // DELAYA.
        self.d.copy_within(0..5, 1);
        self.d[0] = d;
        (self.p2, self.p1) = (self.p1, p);
        (self.r2, self.r1) = (self.r1, r);
        self.a1 = a1;
        self.a2 = a2;
        // FILTEP.
        let wd1 = (self.a1 * limit(self.r1 + self.r1)) >> 15;
        let wd2 = (self.a2 * limit(self.r2 + self.r2)) >> 15;
        self.sp = limit(wd1 + wd2);
        // FILTEZ.
        let sz: i32 = self
            .b
            .iter()
            .zip(&self.d)
            .map(|(&b, &d)| (b * limit(d + d)) >> 15)
            .sum();
        self.sz = limit(sz);
        // PREDIC.
        self.s = limit(self.sp + self.sz);
    }
}

/// State of the lower sub-band ADPCM (encoder and decoder alike).
#[derive(Debug, Clone)]
pub(super) struct LowerBand {
    pred: Predictor,
    /// Log scale factor `NBL` and linear scale factor `DETL`.
    nbl: i32,
    detl: i32,
}

impl Default for LowerBand {
    fn default() -> Self {
        Self {
            pred: Predictor::default(),
            nbl: 0,
            detl: 32,
        }
    }
}

impl LowerBand {
    /// Blocks 2L-4L after the 6-bit code `ilr` of the current sample:
    /// feedback inverse quantiser (4 bits), scale factor, predictor.
    #[inline]
    fn adapt(&mut self, ilr: u8) {
        let ril = usize::from(ilr >> 2);
        let dlt = (self.detl * QM4[ril]) >> 15;
        // LOGSCL and SCALEL.
        let nbl = ((self.nbl * 32512) >> 15) + WL[RL42[ril]];
        self.nbl = nbl.clamp(0, NBL_MAX);
        self.detl = scale(self.nbl, 8);
        self.pred.update(dlt);
    }

    /// Encode one lower sub-band sample `xl` (15-bit): the 6-bit code.
    #[inline]
    pub(super) fn encode(&mut self, xl: i32) -> u8 {
        let el = limit(xl - self.pred.s);
        let ilr = quantl(el, self.detl);
        self.adapt(ilr);
        ilr
    }

    /// Decode one 6-bit code: the reconstructed lower sub-band sample.
    #[inline]
    pub(super) fn decode(&mut self, ilr: u8) -> i32 {
        let ilr = ilr & 0x3f;
        // INVQBL, RECONS and LIMIT (blocks 5L, 6L).
        let dl = (self.detl * QM6[usize::from(ilr)]) >> 15;
        let rl = limit15(self.pred.s + dl);
        self.adapt(ilr);
        rl
    }
}

/// State of the higher sub-band ADPCM (encoder and decoder alike).
#[derive(Debug, Clone)]
pub(super) struct HigherBand {
    pred: Predictor,
    /// Log scale factor `NBH` and linear scale factor `DETH`.
    nbh: i32,
    deth: i32,
}

impl Default for HigherBand {
    fn default() -> Self {
        Self {
            pred: Predictor::default(),
            nbh: 0,
            deth: 8,
        }
    }
}

impl HigherBand {
    /// Blocks 2H-4H after the 2-bit code `ih`; returns `DH`.
    #[inline]
    fn adapt(&mut self, ih: u8) -> i32 {
        let ih = usize::from(ih & 3);
        let dh = (self.deth * QM2[ih]) >> 15;
        // LOGSCH and SCALEH.
        let nbh = ((self.nbh * 32512) >> 15) + WH[RH2[ih]];
        self.nbh = nbh.clamp(0, NBH_MAX);
        self.deth = scale(self.nbh, 10);
        self.pred.update(dh);
        dh
    }

    /// Encode one higher sub-band sample `xh` (15-bit): the 2-bit code.
    #[inline]
    pub(super) fn encode(&mut self, xh: i32) -> u8 {
        let eh = limit(xh - self.pred.s);
        let ih = quanth(eh, self.deth);
        self.adapt(ih);
        ih
    }

    /// Decode one 2-bit code: the reconstructed higher sub-band sample.
    #[inline]
    pub(super) fn decode(&mut self, ih: u8) -> i32 {
        // RECONS and LIMIT (blocks 5H, 6H) on the prediction before adapting.
        let sh = self.pred.s;
        let dh = self.adapt(ih);
        limit15(sh + dh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ilb_is_the_antilog_table() {
        for (i, &v) in ILB.iter().enumerate() {
            let want = (2048.0 * 2f64.powf(i as f64 / 32.0)).round() as i32;
            assert_eq!(v, want, "ILB({i})");
        }
    }

    #[test]
    fn scale_factor_ranges() {
        // DETL runs from 32 (NBL = 0) to 2^14; DETH from 8 to 2^14.
        assert_eq!(scale(0, 8), 32);
        assert_eq!(scale(NBL_MAX, 8), 16384);
        assert_eq!(scale(0, 10), 8);
        assert_eq!(scale(NBH_MAX, 10), 16384);
        // One octave is 2048 in the log domain.
        assert_eq!(scale(2048, 8), 64);
    }

    #[test]
    fn quantiser_tables_are_consistent() {
        // Each reconstruction level of QM6 lies inside its decision interval
        // (QM6 is in units of DETL / 32768, Q6 of DETL / 4096).
        for mil in 1..=30usize {
            let lo = Q6[mil - 1] * 8;
            let hi = if mil < 30 { Q6[mil] * 8 } else { i32::MAX };
            let pos = QM6[usize::from(ILP[mil])];
            let neg = QM6[usize::from(ILN[mil])];
            assert!(
                lo <= pos && pos < hi,
                "MIL {mil}: {pos} not in [{lo}, {hi})"
            );
            assert_eq!(neg, -pos, "MIL {mil}: symmetric");
        }
        // The 4-bit feedback level of a code is the mean of its 6-bit group's
        // levels, within 2 %.
        for ril in 1..16usize {
            let group: Vec<i32> = (0..4).map(|k| QM6[ril * 4 + k]).collect();
            let mean = group.iter().sum::<i32>() / 4;
            let q = QM4[ril];
            assert!(
                (q - mean).abs() * 50 <= q.abs().max(1),
                "RIL {ril}: QM4 {q}, mean of {group:?} = {mean}"
            );
        }
    }

    #[test]
    fn quantisers_pick_the_nearest_level() {
        let detl = 1024;
        for el in -20000..20000 {
            let il = quantl(el, detl);
            let rec = (detl * QM6[usize::from(il)]) >> 15;
            // The error is within half the widest interval (the top one is open).
            if el.abs() < (2919 * detl) >> 12 {
                assert!(
                    (rec - el).abs() <= (362 * detl) >> 12,
                    "el {el} -> {il} -> {rec}"
                );
            }
            assert_eq!(rec < 0, el < 0, "sign of {el}");
        }
        // The higher band's one decision level: 564 * DETH / 4096 (1128 here).
        assert_eq!(quanth(1128, 8192), 2);
        assert_eq!(quanth(1127, 8192), 3);
        assert_eq!(quanth(-1128, 8192), 1, "one's complement magnitude 1127");
        assert_eq!(quanth(-1129, 8192), 0);
    }
}
