//! The few PocketSphinx (5prealpha, as Debian ships it) calls QA uses, and
//! [`Decoder`], a safe owner of one decoder. The `pocketsphinx-sys` crate
//! does not match Debian's API, so these are declared here; `build.rs`
//! links the libraries.
//!
//! A decoder is not thread-safe: [`Decoder`] is `Send` (one thread at a
//! time) but not `Sync`.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::Path;
use std::ptr;
use std::sync::Once;

#[allow(non_camel_case_types)]
type cmd_ln_t = c_void;
#[allow(non_camel_case_types)]
type ps_decoder_t = c_void;
#[allow(non_camel_case_types)]
type ps_seg_t = c_void;
#[allow(non_camel_case_types)]
type logmath_t = c_void;
#[allow(non_camel_case_types)]
type arg_t = c_void;

unsafe extern "C" {
    fn ps_args() -> *const arg_t;
    fn cmd_ln_parse_r(
        inout: *mut cmd_ln_t,
        defn: *const arg_t,
        argc: i32,
        argv: *mut *mut c_char,
        strict: i32,
    ) -> *mut cmd_ln_t;
    fn cmd_ln_free_r(cmdln: *mut cmd_ln_t) -> c_int;
    fn err_set_logfp(stream: *mut c_void);
    fn ps_init(config: *mut cmd_ln_t) -> *mut ps_decoder_t;
    fn ps_free(ps: *mut ps_decoder_t) -> c_int;
    fn ps_set_kws(ps: *mut ps_decoder_t, name: *const c_char, keyfile: *const c_char) -> c_int;
    fn ps_set_search(ps: *mut ps_decoder_t, name: *const c_char) -> c_int;
    fn ps_lookup_word(ps: *mut ps_decoder_t, word: *const c_char) -> *mut c_char;
    fn ckd_free(ptr: *mut c_void);
    fn ps_start_utt(ps: *mut ps_decoder_t) -> c_int;
    fn ps_process_raw(
        ps: *mut ps_decoder_t,
        data: *const i16,
        n_samples: usize,
        no_search: c_int,
        full_utt: c_int,
    ) -> c_int;
    fn ps_end_utt(ps: *mut ps_decoder_t) -> c_int;
    fn ps_seg_iter(ps: *mut ps_decoder_t) -> *mut ps_seg_t;
    fn ps_seg_next(seg: *mut ps_seg_t) -> *mut ps_seg_t;
    fn ps_seg_word(seg: *mut ps_seg_t) -> *const c_char;
    fn ps_seg_frames(seg: *mut ps_seg_t, out_sf: *mut c_int, out_ef: *mut c_int);
    fn ps_seg_prob(
        seg: *mut ps_seg_t,
        out_ascr: *mut i32,
        out_lscr: *mut i32,
        out_lback: *mut i32,
    ) -> i32;
    fn ps_get_logmath(ps: *mut ps_decoder_t) -> *mut logmath_t;
    fn logmath_exp(lmath: *mut logmath_t, logb_p: c_int) -> f64;
}

/// Frames per second of the decoder's features (its default `-frate`).
pub const FRAME_RATE: f64 = 100.0;

/// One word (or key phrase) the decoder returned, in frames from the start
/// of the utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct SegWord {
    pub word: String,
    pub start_frame: i32,
    pub end_frame: i32,
    /// Posterior probability when the search computes one, else 1.
    pub probability: f64,
}

/// Why a decoder call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("pocketsphinx: {0}")]
pub struct SphinxError(pub String);

fn c_string(text: &str) -> Result<CString, SphinxError> {
    CString::new(text).map_err(|_| SphinxError(format!("NUL byte in {text:?}")))
}

fn path_arg(path: &Path) -> Result<CString, SphinxError> {
    c_string(
        path.to_str()
            .ok_or_else(|| SphinxError(format!("path is not UTF-8: {}", path.display())))?,
    )
}

/// Silences the libraries' own logging (process-wide, once).
fn quiet_logging() {
    static QUIET: Once = Once::new();
    // SAFETY: a NULL stream turns logging off; called once.
    QUIET.call_once(|| unsafe { err_set_logfp(ptr::null_mut()) });
}

/// One PocketSphinx decoder with its configuration.
pub struct Decoder {
    ps: *mut ps_decoder_t,
    config: *mut cmd_ln_t,
}

// SAFETY: the decoder and its configuration are owned by this value only;
// PocketSphinx keeps no thread-local state, so using it from one thread at
// a time (no `Sync`) is sound.
unsafe impl Send for Decoder {}

impl Decoder {
    /// A decoder with the given command-line style options (`-hmm DIR`,
    /// `-dict FILE`, `-lm FILE`, `-samprate 16000`...).
    pub fn new(options: &[(&str, String)]) -> Result<Self, SphinxError> {
        quiet_logging();
        let mut owned = Vec::with_capacity(options.len() * 2);
        for (name, value) in options {
            owned.push(c_string(name)?);
            owned.push(c_string(value)?);
        }
        let mut argv: Vec<*mut c_char> = owned.iter().map(|s| s.as_ptr().cast_mut()).collect();
        let argc = i32::try_from(argv.len()).map_err(|_| SphinxError("too many options".into()))?;
        // SAFETY: argv points at NUL-terminated strings that outlive the
        // call; PocketSphinx copies what it keeps.
        let config =
            unsafe { cmd_ln_parse_r(ptr::null_mut(), ps_args(), argc, argv.as_mut_ptr(), 1) };
        if config.is_null() {
            return Err(SphinxError(format!("bad options {options:?}")));
        }
        // SAFETY: config is a valid configuration; ps_init takes its own
        // reference.
        let ps = unsafe { ps_init(config) };
        if ps.is_null() {
            // SAFETY: we own this reference.
            unsafe { cmd_ln_free_r(config) };
            return Err(SphinxError(
                "the decoder did not start (model files missing or unreadable?)".into(),
            ));
        }
        Ok(Self { ps, config })
    }

    /// The dictionary's pronunciation of `word`, if it has one.
    pub fn pronunciation(&mut self, word: &str) -> Option<String> {
        let word = c_string(word).ok()?;
        // SAFETY: valid decoder and string; the result is ours to free.
        let phones = unsafe { ps_lookup_word(self.ps, word.as_ptr()) };
        if phones.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string allocated by sphinxbase.
        let text = unsafe { CStr::from_ptr(phones) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: allocated with ckd_alloc, freed once.
        unsafe { ckd_free(phones.cast()) };
        Some(text)
    }

    /// Adds (or replaces) a keyword-spotting search from a key phrase file
    /// (`phrase /1e-20/` per line).
    pub fn set_kws(&mut self, name: &str, keyfile: &Path) -> Result<(), SphinxError> {
        let name_c = c_string(name)?;
        let file = path_arg(keyfile)?;
        // SAFETY: valid decoder and strings.
        let rc = unsafe { ps_set_kws(self.ps, name_c.as_ptr(), file.as_ptr()) };
        if rc < 0 {
            return Err(SphinxError(format!("key phrases not accepted ({name})")));
        }
        Ok(())
    }

    /// Makes `name` the active search (`_default` is the `-lm` one).
    pub fn use_search(&mut self, name: &str) -> Result<(), SphinxError> {
        let name_c = c_string(name)?;
        // SAFETY: valid decoder and string.
        if unsafe { ps_set_search(self.ps, name_c.as_ptr()) } < 0 {
            return Err(SphinxError(format!("no search named {name}")));
        }
        Ok(())
    }

    /// Decodes one utterance of 16-bit samples at the decoder's rate and
    /// returns what the active search found, in frames from its start.
    pub fn decode(&mut self, samples: &[i16]) -> Result<Vec<SegWord>, SphinxError> {
        // SAFETY: valid decoder; `samples` outlives the calls.
        unsafe {
            if ps_start_utt(self.ps) < 0 {
                return Err(SphinxError("cannot start an utterance".into()));
            }
            if ps_process_raw(self.ps, samples.as_ptr(), samples.len(), 0, 1) < 0 {
                ps_end_utt(self.ps);
                return Err(SphinxError("cannot process audio".into()));
            }
            if ps_end_utt(self.ps) < 0 {
                return Err(SphinxError("cannot end the utterance".into()));
            }
        }
        Ok(self.segments())
    }

    fn segments(&mut self) -> Vec<SegWord> {
        let mut words = Vec::new();
        // SAFETY: valid decoder; the iterator is walked to its end, which
        // frees it; strings are copied out.
        unsafe {
            let logmath = ps_get_logmath(self.ps);
            let mut seg = ps_seg_iter(self.ps);
            while !seg.is_null() {
                let word_ptr = ps_seg_word(seg);
                let word = if word_ptr.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(word_ptr).to_string_lossy().into_owned()
                };
                let (mut sf, mut ef) = (0, 0);
                ps_seg_frames(seg, &mut sf, &mut ef);
                let (mut ascr, mut lscr, mut lback) = (0, 0, 0);
                let prob = ps_seg_prob(seg, &mut ascr, &mut lscr, &mut lback);
                let probability = if logmath.is_null() || prob >= 0 {
                    1.0
                } else {
                    logmath_exp(logmath, prob).clamp(0.0, 1.0)
                };
                words.push(SegWord {
                    word,
                    start_frame: sf,
                    end_frame: ef,
                    probability,
                });
                // Returns NULL (and frees the iterator) after the last one.
                seg = ps_seg_next(seg);
            }
        }
        words
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: both were created by us and are freed once.
        unsafe {
            ps_free(self.ps);
            cmd_ln_free_r(self.config);
        }
    }
}
