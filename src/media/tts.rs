//! Prompts written as text: a text and a voice (English, Mandarin) become a
//! WAV file spoken by espeak-ng, made once and kept in a cache folder (the
//! prompts folder's `tts/`) under a name derived from the voice and the
//! text, so the same sentence is spoken once for every call that plays it.
//! The file is espeak-ng's own (22,050 Hz mono); the prompt cache converts
//! it for each leg like any other prompt.
//!
//! Speaking runs a program and writes a file: it blocks (at most
//! [`SPEAK_TIMEOUT`]), so call it off the runtime (`spawn_blocking`), or
//! ahead of time (`server::speak_ahead` speaks the flows' prompts at start
//! and after each reload).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The program that speaks.
pub const ENGINE: &str = "espeak-ng";
/// Longest a sentence may take to be spoken to a file.
pub const SPEAK_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest text spoken as one prompt.
pub const MAX_TEXT: usize = 2000;

/// Numbers the partial files of this process's speakers apart.
static PARTIAL_FILES: AtomicU64 = AtomicU64::new(0);

/// The files being spoken now by this process. Calls reaching a prompt at
/// once (a burst of callers after a start or a reload) would each run the
/// engine for the same text; all but one wait for it instead.
static SPEAKING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static SPOKEN: Condvar = Condvar::new();

fn speaking() -> MutexGuard<'static, Vec<PathBuf>> {
    SPEAKING.lock().unwrap_or_else(|e| e.into_inner())
}

/// This thread's turn to speak one file: taken when no other thread of the
/// process is speaking it, given back (waking those waiting) when dropped.
struct SpeakTurn(PathBuf);

impl SpeakTurn {
    /// Waits (at most about [`SPEAK_TIMEOUT`], the other speaker's limit)
    /// while another thread speaks `path`.
    fn take(path: &Path) -> Self {
        let mut now = speaking();
        while now.iter().any(|p| p == path) {
            now = SPOKEN.wait(now).unwrap_or_else(|e| e.into_inner());
        }
        now.push(path.to_path_buf());
        Self(path.to_path_buf())
    }
}

impl Drop for SpeakTurn {
    fn drop(&mut self) {
        speaking().retain(|p| *p != self.0);
        SPOKEN.notify_all();
    }
}

/// A voice prompts can be spoken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Voice {
    /// English (espeak-ng `en`).
    English,
    /// British English (`en-gb`).
    BritishEnglish,
    /// American English (`en-us`).
    AmericanEnglish,
    /// Mandarin Chinese (`cmn`), for text in Chinese characters.
    Mandarin,
}

impl Voice {
    /// The names flows use (espeak-ng's); `zh` is taken for `cmn` too.
    pub const NAMES: [&'static str; 4] = ["en", "en-gb", "en-us", "cmn"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "en" => Some(Voice::English),
            "en-gb" => Some(Voice::BritishEnglish),
            "en-us" => Some(Voice::AmericanEnglish),
            "cmn" | "zh" => Some(Voice::Mandarin),
            _ => None,
        }
    }

    /// espeak-ng's name for it.
    fn engine_voice(self) -> &'static str {
        match self {
            Voice::English => "en",
            Voice::BritishEnglish => "en-gb",
            Voice::AmericanEnglish => "en-us",
            Voice::Mandarin => "cmn",
        }
    }
}

/// Why a text could not be spoken.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error(
        "{ENGINE} is not installed: install the espeak-ng package to speak prompts written as text"
    )]
    Missing,
    #[error("nothing to say: the text is empty")]
    Empty,
    #[error("the text is longer than {MAX_TEXT} bytes; split it into several prompts")]
    TooLong,
    #[error("{ENGINE} failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
    #[error("{ENGINE} took longer than {} s", SPEAK_TIMEOUT.as_secs())]
    Timeout,
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Speaks texts into cached WAV files.
#[derive(Debug, Clone)]
pub struct Tts {
    dir: PathBuf,
}

impl Tts {
    /// Files go to (and are found in) `dir`, created when first needed.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file `text` in `voice` is (or will be) cached as.
    pub fn cached_path(&self, voice: Voice, text: &str) -> PathBuf {
        let mut h = Sha256::new();
        h.update(ENGINE.as_bytes());
        h.update([0]);
        h.update(voice.engine_voice().as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        let digest = hex::encode(&h.finalize()[..10]);
        self.dir
            .join(format!("{}-{digest}.wav", voice.engine_voice()))
    }

    /// The WAV of `text` spoken in `voice`: the cached file, or one made
    /// now (blocking, see the module doc).
    pub fn speak(&self, voice: Voice, text: &str) -> Result<PathBuf, TtsError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TtsError::Empty);
        }
        if text.len() > MAX_TEXT {
            return Err(TtsError::TooLong);
        }
        let path = self.cached_path(voice, text);
        if path.is_file() {
            return Ok(path);
        }
        let _turn = SpeakTurn::take(&path);
        if path.is_file() {
            // Spoken by the call this one waited for.
            return Ok(path);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| TtsError::Io(self.dir.clone(), e))?;
        // Spoken to a file of its own, then renamed: a call reading the
        // cache never sees half a file, and two processes speaking the same
        // text at once both end with a whole one. The number keeps the
        // threads of one process apart too, turn or no turn.
        let n = PARTIAL_FILES.fetch_add(1, Ordering::Relaxed);
        let partial = path.with_extension(format!("{}-{n}.part", std::process::id()));
        let result = run_engine(voice, text, &partial);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, &path).map_err(|e| TtsError::Io(path.clone(), e))?;
        Ok(path)
    }
}

/// Runs espeak-ng to speak `text` into `out`, within [`SPEAK_TIMEOUT`].
fn run_engine(voice: Voice, text: &str, out: &Path) -> Result<(), TtsError> {
    let mut child = Command::new(ENGINE)
        .args(["-v", voice.engine_voice(), "-s", "150", "-w"])
        .arg(out)
        // The text is one argument: never read as options or by a shell.
        .arg("--")
        .arg(text)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TtsError::Missing,
            _ => TtsError::Io(PathBuf::from(ENGINE), e),
        })?;
    let deadline = Instant::now() + SPEAK_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TtsError::Timeout);
            }
            Err(e) => return Err(TtsError::Io(PathBuf::from(ENGINE), e)),
        }
    };
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut s) = child.stderr.take() {
            use std::io::Read;
            let _ = s.read_to_string(&mut stderr);
        }
        return Err(TtsError::Failed {
            status: status.to_string(),
            stderr: stderr.trim().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::player::{EncodedPrompt, OutputFormat};

    #[test]
    fn voices_by_name() {
        assert_eq!(Voice::from_name("EN"), Some(Voice::English));
        assert_eq!(Voice::from_name("en-us"), Some(Voice::AmericanEnglish));
        assert_eq!(Voice::from_name("zh"), Some(Voice::Mandarin));
        assert_eq!(Voice::from_name("cmn"), Some(Voice::Mandarin));
        assert_eq!(Voice::from_name("fr"), None);
        for n in Voice::NAMES {
            assert!(Voice::from_name(n).is_some(), "{n}");
        }
    }

    /// Needs espeak-ng (scripts/install-deps.sh installs it): a missing
    /// engine fails the test, it is not skipped.
    #[test]
    fn english_and_mandarin_are_spoken_once_and_play() {
        let dir = tempfile::tempdir().unwrap();
        let tts = Tts::new(dir.path().join("tts"));
        for (voice, text) in [
            (
                Voice::English,
                "This call may be recorded for quality and training.",
            ),
            (Voice::Mandarin, "您的通话可能会被录音。"),
        ] {
            let path = tts
                .speak(voice, text)
                .unwrap_or_else(|e| panic!("{voice:?}: {e}"));
            assert_eq!(path, tts.cached_path(voice, text));
            let prompt = EncodedPrompt::load(&path, OutputFormat::PCMU).unwrap();
            let secs = prompt.duration().as_secs_f64();
            assert!((1.0..15.0).contains(&secs), "{voice:?}: {secs} s");
            // Spoken once: the cached file is returned as it is.
            let before = std::fs::metadata(&path).unwrap().modified().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(tts.speak(voice, &format!("  {text} ")).unwrap(), path);
            assert_eq!(
                std::fs::metadata(&path).unwrap().modified().unwrap(),
                before
            );
        }
        let names: Vec<_> = std::fs::read_dir(tts.dir()).unwrap().flatten().collect();
        assert_eq!(names.len(), 2, "no partial files left: {names:?}");
        assert_ne!(
            tts.cached_path(Voice::English, "a"),
            tts.cached_path(Voice::Mandarin, "a")
        );
    }

    /// Calls reaching a prompt at once speak its text at once, on threads
    /// of one process: each must get the whole file (needs espeak-ng).
    #[test]
    fn one_text_spoken_at_once_by_many_calls_ends_whole_for_each() {
        let dir = tempfile::tempdir().unwrap();
        let tts = Tts::new(dir.path().join("tts"));
        let text = "For orders and delivery, press 1. For any agent, press 0.";
        let barrier = std::sync::Barrier::new(6);
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let path = tts.speak(Voice::English, text)?;
                        let prompt = EncodedPrompt::load(&path, OutputFormat::PCMU)
                            .map_err(|e| TtsError::Io(path.clone(), std::io::Error::other(e)))?;
                        Ok::<_, TtsError>((path, prompt.duration()))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let whole = EncodedPrompt::load(tts.cached_path(Voice::English, text), OutputFormat::PCMU)
            .unwrap()
            .duration();
        assert!(whole > Duration::from_secs(2), "{whole:?}");
        for r in results {
            let (path, duration) = r.unwrap_or_else(|e| panic!("a call could not speak: {e}"));
            assert_eq!(path, tts.cached_path(Voice::English, text));
            assert_eq!(duration, whole);
        }
        let names: Vec<_> = std::fs::read_dir(tts.dir()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no partial files left: {names:?}");
    }

    #[test]
    fn bad_texts_are_refused() {
        let tts = Tts::new(tempfile::tempdir().unwrap().path().join("tts"));
        assert!(matches!(
            tts.speak(Voice::English, "  "),
            Err(TtsError::Empty)
        ));
        let long = "a".repeat(MAX_TEXT + 1);
        assert!(matches!(
            tts.speak(Voice::English, &long),
            Err(TtsError::TooLong)
        ));
        // A text that looks like an option is spoken, not obeyed.
        let dir = tempfile::tempdir().unwrap();
        let tts = Tts::new(dir.path());
        let path = tts.speak(Voice::English, "--version").unwrap();
        assert!(EncodedPrompt::load(&path, OutputFormat::PCMA).is_ok());
    }
}
