//! The embedded recognizer: PocketSphinx with Debian's US English model.
//!
//! Two searches per channel, both over the voice activity detector's speech
//! spans only (padded a little, so a word's edges are kept):
//! - **phrase spotting** (PocketSphinx's keyword search) of the rules'
//!   phrases. Each phrase gets a detection threshold from its length in
//!   phones: a short phrase must match closely, a long one may be heard
//!   through more noise ([`SphinxConfig::threshold_per_phone`]). Phrases
//!   with a word the dictionary lacks cannot be spotted and are skipped
//!   (logged at debug level);
//! - **open transcription** with the general language model, only on
//!   channels recorded at 16 kHz or more: on 8 kHz telephone audio the
//!   model recognises next to nothing, so narrowband channels are only
//!   phrase-spotted (upsampled to the model's 16 kHz). A deployment that
//!   needs full transcripts of narrowband or Mandarin calls uses the HTTP
//!   backend.
//!
//! Decoders are expensive to start (the model is loaded), so they are kept
//! in a pool and reused, one per worker thread in use.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::sphinx_ffi::{Decoder, FRAME_RATE, SegWord, SphinxError};
use super::{AsrError, Heard, Recognizer, Request, Segment, Transcript, Word};
use crate::media::resample::Resampler;
use crate::qa::{ChannelAudio, Span, merge_spans};

/// The model's sample rate.
const MODEL_RATE: u32 = 16_000;

/// Longest stretch decoded as one utterance; longer speech is cut.
const MAX_UTTERANCE_SECONDS: f64 = 30.0;

/// How the embedded recognizer is set up.
#[derive(Debug, Clone)]
pub struct SphinxConfig {
    /// Folder with `en-us/` (the acoustic model), `en-us.lm.bin` and
    /// `cmudict-en-us.dict`.
    pub model_dir: PathBuf,
    /// A phrase of N phones is spotted when its score beats 1e-(N × this)
    /// (bounded to 1e-5 .. 1e-80): higher finds more, and more wrongly.
    pub threshold_per_phone: f64,
    /// Seconds of audio kept around each speech span.
    pub pad: f64,
}

impl Default for SphinxConfig {
    fn default() -> Self {
        Self {
            model_dir: PathBuf::from("/usr/share/pocketsphinx/model/en-us"),
            threshold_per_phone: 2.0,
            pad: 0.25,
        }
    }
}

/// A pooled decoder and the key phrase searches it has, by phrase set
/// (false: none of the set's phrases can be spotted).
struct Ready {
    decoder: Decoder,
    kws: std::collections::HashMap<u64, bool>,
}

/// The PocketSphinx backend.
pub struct Sphinx {
    config: SphinxConfig,
    pool: Mutex<Vec<Ready>>,
}

impl Sphinx {
    /// Checks the model is there and starts one decoder.
    pub fn new(config: SphinxConfig) -> Result<Self, AsrError> {
        let sphinx = Self {
            config,
            pool: Mutex::new(Vec::new()),
        };
        let first = sphinx.start_decoder()?;
        sphinx.put_back(first);
        Ok(sphinx)
    }

    fn start_decoder(&self) -> Result<Ready, AsrError> {
        let dir = &self.config.model_dir;
        let options = [
            ("-hmm", dir.join("en-us")),
            ("-dict", dir.join("cmudict-en-us.dict")),
            ("-lm", dir.join("en-us.lm.bin")),
        ];
        for (_, path) in &options {
            if !path.exists() {
                return Err(AsrError::Rejected(format!(
                    "PocketSphinx model file {} is missing (Debian package pocketsphinx-en-us)",
                    path.display()
                )));
            }
        }
        let mut args: Vec<(&str, String)> = options
            .iter()
            .map(|(k, v)| (*k, v.display().to_string()))
            .collect();
        args.push(("-remove_silence", "no".into()));
        args.push(("-samprate", MODEL_RATE.to_string()));
        let decoder = Decoder::new(&args).map_err(|e| AsrError::Rejected(e.to_string()))?;
        Ok(Ready {
            decoder,
            kws: Default::default(),
        })
    }

    fn take(&self) -> Result<Ready, AsrError> {
        let pooled = self.pool.lock().ok().and_then(|mut pool| pool.pop());
        match pooled {
            Some(ready) => Ok(ready),
            None => self.start_decoder(),
        }
    }

    fn put_back(&self, ready: Ready) {
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(ready);
        }
    }

    fn run(
        &self,
        ready: &mut Ready,
        audio: &ChannelAudio,
        request: &Request<'_>,
    ) -> Result<Vec<Segment>, AsrError> {
        let samples = to_model_rate(audio)?;
        let duration = samples.len() as f64 / f64::from(MODEL_RATE);
        let spans = utterances(request.speech, duration, self.config.pad);
        let mut segments = Vec::new();
        if !request.phrases.is_empty() && self.prepare_kws(ready, request.phrases)? {
            for span in &spans {
                let words = decode_span(&mut ready.decoder, &samples, *span)?;
                segments.extend(words.into_iter().filter(|w| !w.word.is_empty()).map(|w| {
                    let (start, end) = frame_times(*span, &w);
                    Segment {
                        start,
                        end,
                        text: w.word.trim().to_string(),
                        confidence: w.probability as f32,
                        heard: Heard::Spotted,
                        words: Vec::new(),
                    }
                }));
            }
        }
        if request.transcribe && audio.rate >= MODEL_RATE {
            ready.decoder.use_search("_default").map_err(rejected)?;
            for span in &spans {
                let words: Vec<Word> = decode_span(&mut ready.decoder, &samples, *span)?
                    .into_iter()
                    .filter_map(|w| {
                        let text = dictionary_word(&w.word)?;
                        let (start, end) = frame_times(*span, &w);
                        Some(Word {
                            text,
                            start,
                            end,
                            confidence: w.probability as f32,
                        })
                    })
                    .collect();
                if let Some(segment) = transcribed_segment(words) {
                    segments.push(segment);
                }
            }
        }
        segments.sort_by(|a, b| a.start.total_cmp(&b.start));
        Ok(segments)
    }

    /// Gives the decoder the key phrase search for `phrases` (once per
    /// phrase set) and selects it. False when no phrase can be spotted.
    fn prepare_kws(&self, ready: &mut Ready, phrases: &[String]) -> Result<bool, AsrError> {
        let mut hasher = DefaultHasher::new();
        phrases.hash(&mut hasher);
        let key = hasher.finish();
        let name = format!("kws{key:x}");
        let known = match ready.kws.get(&key) {
            Some(known) => *known,
            None => {
                let lines = self.key_phrase_lines(&mut ready.decoder, phrases);
                if !lines.is_empty() {
                    let file = KeyFile::write(&lines).map_err(|e| {
                        AsrError::Unavailable(format!("cannot write the key phrase file: {e}"))
                    })?;
                    ready
                        .decoder
                        .set_kws(&name, file.path())
                        .map_err(rejected)?;
                }
                ready.kws.insert(key, !lines.is_empty());
                !lines.is_empty()
            }
        };
        if known {
            ready.decoder.use_search(&name).map_err(rejected)?;
        }
        Ok(known)
    }

    /// `phrase /1e-N/` lines for the phrases the dictionary can say.
    fn key_phrase_lines(&self, decoder: &mut Decoder, phrases: &[String]) -> Vec<String> {
        let mut lines = Vec::new();
        for phrase in phrases.iter().flat_map(|p| spoken_forms(p)) {
            let phrase = &phrase;
            let mut phones = 0usize;
            let mut known = true;
            for word in phrase.split_whitespace() {
                match decoder.pronunciation(word) {
                    Some(p) => phones += p.split_whitespace().count(),
                    None => known = false,
                }
            }
            if !known || phones == 0 {
                tracing::debug!(
                    phrase,
                    "QA phrase has a word the dictionary lacks; not spotted"
                );
                continue;
            }
            let exponent = (phones as f64 * self.config.threshold_per_phone).clamp(5.0, 80.0);
            lines.push(format!("{} /1e-{:.0}/", phrase.trim(), exponent));
        }
        lines.sort();
        lines.dedup();
        lines
    }
}

impl Recognizer for Sphinx {
    fn name(&self) -> &str {
        "pocketsphinx"
    }

    fn recognize(
        &self,
        audio: &ChannelAudio,
        request: &Request<'_>,
    ) -> Result<Transcript, AsrError> {
        let mut ready = self.take()?;
        let result = self.run(&mut ready, audio, request);
        if result.is_ok() {
            self.put_back(ready);
        }
        Ok(Transcript {
            channel: audio.channel,
            backend: self.name().to_string(),
            segments: result?,
        })
    }
}

/// Word pairs people say contracted ("do not" is mostly "don't").
const CONTRACTIONS: &[(&str, &str)] = &[
    ("do not", "don't"),
    ("does not", "doesn't"),
    ("did not", "didn't"),
    ("can not", "can't"),
    ("will not", "won't"),
    ("is not", "isn't"),
    ("are not", "aren't"),
    ("i will", "i'll"),
    ("we will", "we'll"),
    ("you will", "you'll"),
    ("i am", "i'm"),
    ("i have", "i've"),
    ("we are", "we're"),
    ("you are", "you're"),
    ("that is", "that's"),
    ("there is", "there's"),
    ("it is", "it's"),
];

/// A normalised phrase (contractions expanded) and, when it has a pair
/// people contract, the contracted form too: the keyword search hears
/// sounds, so "i do not know" alone would miss "I don't know". What it
/// spots is normalised again by the matcher, so both forms match the rule.
fn spoken_forms(phrase: &str) -> Vec<String> {
    let padded = format!(" {} ", phrase.trim());
    let mut contracted = padded.clone();
    for (full, short) in CONTRACTIONS {
        contracted = contracted.replace(&format!(" {full} "), &format!(" {short} "));
    }
    let mut forms = vec![phrase.trim().to_string()];
    if contracted != padded {
        forms.push(contracted.trim().to_string());
    }
    forms
}

fn rejected(e: SphinxError) -> AsrError {
    AsrError::Rejected(e.to_string())
}

/// The channel at the model's 16 kHz: the recording's own samples when
/// it already is (no copy of a long call), else resampled.
fn to_model_rate(audio: &ChannelAudio) -> Result<Cow<'_, [i16]>, AsrError> {
    if audio.rate == MODEL_RATE {
        return Ok(Cow::Borrowed(&audio.samples));
    }
    let mut resampler = Resampler::new(audio.rate, MODEL_RATE).map_err(|_| {
        AsrError::Rejected(format!(
            "cannot bring {} Hz audio to the model's {MODEL_RATE} Hz",
            audio.rate
        ))
    })?;
    let mut out = Vec::with_capacity(resampler.output_len(audio.samples.len()));
    resampler.process(&audio.samples, &mut out);
    // The filter delays its output: shift it back so times stay right.
    let delay = resampler.delay().min(out.len());
    out.drain(..delay);
    Ok(Cow::Owned(out))
}

/// The spans to decode: the speech spans padded, merged where they touch,
/// cut to at most [`MAX_UTTERANCE_SECONDS`]; the whole channel when the
/// detector gave none.
fn utterances(speech: &[Span], duration: f64, pad: f64) -> Vec<Span> {
    let padded: Vec<Span> = if speech.is_empty() {
        vec![Span::new(0.0, duration)]
    } else {
        speech
            .iter()
            .map(|s| Span::new((s.start - pad).max(0.0), (s.end + pad).min(duration)))
            .filter(|s| !s.is_empty())
            .collect()
    };
    let merged = merge_spans(padded, 0.0);
    let mut out = Vec::with_capacity(merged.len());
    for span in merged {
        let mut start = span.start;
        while span.end - start > MAX_UTTERANCE_SECONDS {
            out.push(Span::new(start, start + MAX_UTTERANCE_SECONDS));
            start += MAX_UTTERANCE_SECONDS;
        }
        out.push(Span::new(start, span.end));
    }
    out
}

fn decode_span(
    decoder: &mut Decoder,
    samples: &[i16],
    span: Span,
) -> Result<Vec<SegWord>, AsrError> {
    let rate = f64::from(MODEL_RATE);
    let from = ((span.start * rate) as usize).min(samples.len());
    let to = ((span.end * rate) as usize).clamp(from, samples.len());
    if to - from < (rate * 0.1) as usize {
        return Ok(Vec::new());
    }
    decoder.decode(&samples[from..to]).map_err(rejected)
}

fn frame_times(span: Span, w: &SegWord) -> (f64, f64) {
    let start = span.start + f64::from(w.start_frame.max(0)) / FRAME_RATE;
    let end = span.start + f64::from(w.end_frame.max(w.start_frame).max(0) + 1) / FRAME_RATE;
    (start, end.min(span.end.max(start)))
}

/// A decoded token as a word: `None` for silences, fillers and sentence
/// marks; alternate pronunciations (`the(2)`) lose their mark.
fn dictionary_word(token: &str) -> Option<String> {
    let token = token.trim();
    if token.is_empty()
        || token.starts_with('<')
        || token.starts_with('[')
        || token.starts_with("++")
    {
        return None;
    }
    let word = token.split('(').next().unwrap_or(token);
    (!word.is_empty()).then(|| word.to_string())
}

fn transcribed_segment(words: Vec<Word>) -> Option<Segment> {
    let first = words.first()?;
    let last = words.last()?;
    let text = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let confidence = words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32;
    Some(Segment {
        start: first.start,
        end: last.end,
        text,
        confidence,
        heard: Heard::Transcribed,
        words,
    })
}

/// A key phrase file that removes itself.
struct KeyFile(PathBuf);

impl KeyFile {
    fn write(lines: &[String]) -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "switchboard-kws-{}-{}.txt",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = std::fs::File::create(&path)?;
        for line in lines {
            writeln!(file, "{line}")?;
        }
        file.flush()?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_spans_are_padded_merged_and_cut() {
        let spans = [
            Span::new(1.0, 2.0),
            Span::new(2.3, 3.0),
            Span::new(10.0, 75.0),
        ];
        let out = utterances(&spans, 80.0, 0.25);
        assert_eq!(out[0], Span::new(0.75, 3.25));
        assert_eq!(out[1], Span::new(9.75, 39.75));
        assert_eq!(out[2], Span::new(39.75, 69.75));
        assert_eq!(out[3], Span::new(69.75, 75.25));
        assert_eq!(utterances(&[], 5.0, 0.25), vec![Span::new(0.0, 5.0)]);
    }

    #[test]
    fn phrases_are_also_listened_for_as_people_say_them() {
        assert_eq!(
            spoken_forms("i do not know"),
            vec!["i do not know".to_string(), "i don't know".to_string()]
        );
        assert_eq!(
            spoken_forms("i will just log it"),
            vec![
                "i will just log it".to_string(),
                "i'll just log it".to_string()
            ]
        );
        assert_eq!(
            spoken_forms("thank you for calling"),
            vec!["thank you for calling".to_string()]
        );
    }

    #[test]
    fn decoder_tokens_become_words() {
        assert_eq!(dictionary_word("the(2)").as_deref(), Some("the"));
        assert_eq!(dictionary_word("<sil>"), None);
        assert_eq!(dictionary_word("[NOISE]"), None);
        assert_eq!(dictionary_word("++breath++"), None);
        assert_eq!(dictionary_word("refund").as_deref(), Some("refund"));
    }
}
