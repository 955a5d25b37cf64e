//! What a start does about the last stop: calls that were in progress when
//! the switch died are closed in the CDR as interrupted, and recordings
//! left open are repaired so they play, and their rows completed.

use std::path::Path;

use crate::media::wav::scan_and_repair;
use crate::store::{RecordingState, Store};

/// Runs the recovery; problems are logged, never fatal.
pub async fn recover(store: &Store, recordings: &Path) -> anyhow::Result<()> {
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    let closed = store.close_interrupted_calls(now_ms).await?;
    if closed > 0 {
        tracing::warn!(
            closed,
            "calls in progress at the last stop closed as interrupted"
        );
    }

    if recordings.is_dir() {
        let dir = recordings.to_path_buf();
        let report = tokio::task::spawn_blocking(move || scan_and_repair(dir)).await??;
        for (path, outcome) in &report.repaired {
            tracing::warn!(path = %path.display(), ?outcome, "recording left open was repaired");
        }
        for (path, error) in &report.failed {
            tracing::error!(path = %path.display(), "recording could not be checked or repaired: {error}");
        }
    }
    for row in store.open_recordings().await? {
        let duration_ms = wav_duration_ms(Path::new(&row.path)).unwrap_or(0);
        store
            .complete_recording(&row.path, duration_ms, RecordingState::Repaired)
            .await?;
        tracing::warn!(path = %row.path, duration_ms, "recording of an interrupted call completed");
    }
    Ok(())
}

/// A WAV file's duration from its (repaired) header.
fn wav_duration_ms(path: &Path) -> Option<i64> {
    let reader = hound::WavReader::open(path).ok()?;
    let rate = u64::from(reader.spec().sample_rate);
    (rate > 0)
        .then(|| i64::try_from(u64::from(reader.duration()) * 1000 / rate).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::wav::{PcmFormat, WavWriter, WriterOptions};
    use crate::store::{CallRecord, Disposition, RecordingRow};

    #[tokio::test]
    async fn interrupted_calls_and_open_recordings_are_closed() {
        let store = Store::open_in_memory().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("2026/11/24/call-1.wav");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // A recording whose writer was never finished (the process died):
        // 2.3 s written, the header last updated at the 2.0 s checkpoint,
        // most of the rest already on disk past what the header says.
        let options = WriterOptions {
            buffer_capacity: 1024,
            ..WriterOptions::default()
        };
        let mut w = WavWriter::create(&path, PcmFormat::stereo(8000), options).unwrap();
        w.write_frames(&vec![100i16; 2 * 18_400]).unwrap();
        std::mem::forget(w);
        assert_eq!(
            hound::WavReader::open(&path).unwrap().duration(),
            16_000,
            "stale header before recovery"
        );
        store
            .insert_call(&CallRecord {
                call_id: "call-1".into(),
                profile: "carrier".into(),
                caller: "+15550100".into(),
                callee: "1001".into(),
                started_at: 1_000,
            })
            .await
            .unwrap();
        let path_text = path.to_string_lossy().into_owned();
        store
            .insert_recording(&RecordingRow::new("call-1", &path_text, 2, 8000, 1_000))
            .await
            .unwrap();

        recover(&store, dir.path()).await.unwrap();

        let cdr = store.call("call-1").await.unwrap().unwrap();
        assert_eq!(cdr.disposition, Some(Disposition::Interrupted));
        assert!(cdr.ended_at.is_some());
        let rec = &store.recordings_for_call("call-1").await.unwrap()[0];
        assert_eq!(rec.state, RecordingState::Repaired);
        assert!(rec.duration_ms.unwrap() >= 2_200, "{rec:?}");
        assert!(store.open_recordings().await.unwrap().is_empty());
        // The file now plays to (nearly) its end: all but what was still
        // in the writer's 1 KiB buffer.
        let frames = hound::WavReader::open(&path).unwrap().duration();
        assert!((18_400 - 256..=18_400).contains(&frames), "{frames}");
    }
}
