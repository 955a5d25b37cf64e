//! Speaks the flows' text prompts before any call needs them: at start and
//! after every good reload of `ivr-flows/`, each `say` prompt not yet in
//! the TTS cache is spoken on a thread of its own. Without this, the first
//! callers to reach a prompt wait for espeak-ng, and a burst of callers
//! after a start runs it in the middle of their calls' media.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::flow::Flows;
use crate::media::tts::{Tts, Voice};

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Spoken {
    /// Prompts spoken now.
    pub made: usize,
    /// Prompts the cache already had.
    pub cached: usize,
    /// Prompts the engine failed on (logged; a call reaching one tries
    /// again).
    pub failed: usize,
}

/// Speaks every text prompt of the current flows into `tts`'s cache
/// (blocking).
pub fn speak_all(flows: &Flows, tts: &Tts) -> Spoken {
    let mut done = Spoken::default();
    for (voice_name, text) in flows.current().sayings() {
        let Some(voice) = Voice::from_name(&voice_name) else {
            continue;
        };
        if tts.cached_path(voice, text.trim()).is_file() {
            done.cached += 1;
            continue;
        }
        match tts.speak(voice, &text) {
            Ok(_) => done.made += 1,
            Err(e) => {
                done.failed += 1;
                tracing::warn!("prompt not spoken ahead of calls: {e}");
            }
        }
    }
    done
}

/// [`speak_all`] on a thread of its own; logs what it did.
pub fn spawn(flows: Arc<Flows>, prompts_dir: PathBuf) {
    let started = std::thread::Builder::new()
        .name("speak-ahead".into())
        .spawn(move || {
            let began = Instant::now();
            let done = speak_all(&flows, &Tts::new(prompts_dir.join("tts")));
            tracing::info!(
                made = done.made,
                cached = done.cached,
                failed = done.failed,
                seconds = format!("{:.1}", began.elapsed().as_secs_f64()),
                "flows' text prompts spoken ahead of calls"
            );
        });
    if let Err(e) = started {
        tracing::warn!("cannot start speaking prompts ahead of calls: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_flows_prompts_are_spoken_once_each() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let flows = Flows::load(&root.join("ivr-flows"), &root.join("prompts")).unwrap();
        let sayings = flows.current().sayings();
        // The demo's notice, menu (and its two retries), voicemail and
        // callback prompts in English and Mandarin, and the Mandarin
        // goodbye (the English one is a WAV file).
        assert_eq!(sayings.len(), 13, "{sayings:#?}");
        assert!(sayings.contains(&(
            "en".to_string(),
            "Sorry, that is not an option.".to_string()
        )));
        let dir = tempfile::tempdir().unwrap();
        let tts = Tts::new(dir.path().join("tts"));
        let first = speak_all(&flows, &tts);
        assert_eq!(
            first,
            Spoken {
                made: 13,
                cached: 0,
                failed: 0
            }
        );
        for (voice, text) in &sayings {
            let path = tts.cached_path(Voice::from_name(voice).unwrap(), text);
            assert!(path.is_file(), "{} missing", path.display());
        }
        let again = speak_all(&flows, &tts);
        assert_eq!(
            again,
            Spoken {
                made: 0,
                cached: 13,
                failed: 0
            }
        );
    }
}
