//! Recording file names: `<root>/YYYY/MM/DD/<call-id>.wav`.
//!
//! The date is the UTC calendar date (no time-zone database needed); the
//! call-id is sanitized so any SIP Call-ID is a safe single file name.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Result, io_err};

/// Longest sanitized call-id kept verbatim; longer ones are cut and suffixed
/// with a hash of the full id (file names are limited to 255 bytes).
const MAX_ID_LEN: usize = 180;

/// A calendar date (proleptic Gregorian) used for the directory layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordingDate {
    /// Year, e.g. 2025.
    pub year: i32,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
}

impl RecordingDate {
    /// UTC date of `time` (times before 1970 map to 1970-01-01).
    pub fn from_system_time(time: SystemTime) -> Self {
        let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self::from_days_since_epoch((secs / 86_400) as i64)
    }

    /// UTC date today.
    pub fn today() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Date `days` days after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Self {
        // Shift to a calendar starting on 0000-03-01 so leap days fall at the
        // end of each year; 146_097 days make one 400-year cycle.
        let z = days + 719_468;
        let cycle = z.div_euclid(146_097);
        let day_of_cycle = z.rem_euclid(146_097);
        let year_of_cycle = (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524
            - day_of_cycle / 146_096)
            / 365;
        let day_of_year =
            day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u8;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        } as u8;
        let year = (year_of_cycle + cycle * 400 + i64::from(month <= 2)) as i32;
        Self { year, month, day }
    }
}

/// Makes `call_id` a safe file-name stem: keeps `[A-Za-z0-9._-]`, replaces
/// every other character with `_`, replaces a leading `.` (hidden files,
/// `..`) with `_`, maps the empty id to `_`, and cuts very long ids, adding
/// a hash of the original so distinct ids stay distinct.
pub fn sanitize_call_id(call_id: &str) -> String {
    let mut out: String = call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    if out.is_empty() {
        out.push('_');
    }
    if out.len() > MAX_ID_LEN {
        out.truncate(MAX_ID_LEN);
        out.push_str(&format!("-{:016x}", fnv1a(call_id.as_bytes())));
    }
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `<root>/YYYY/MM/DD/<sanitized call-id>.wav` (no file-system access).
pub fn recording_path(root: impl AsRef<Path>, date: RecordingDate, call_id: &str) -> PathBuf {
    root.as_ref()
        .join(format!("{:04}", date.year))
        .join(format!("{:02}", date.month))
        .join(format!("{:02}", date.day))
        .join(format!("{}.wav", sanitize_call_id(call_id)))
}

/// Like [`recording_path`], and creates the date directories.
pub fn create_recording_path(
    root: impl AsRef<Path>,
    date: RecordingDate,
    call_id: &str,
) -> Result<PathBuf> {
    let path = recording_path(root, date, call_id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    Ok(path)
}
