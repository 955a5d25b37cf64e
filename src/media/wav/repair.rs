//! Repair of WAV recordings left open by a crash.
//!
//! A crashed [`WavWriter`](super::WavWriter) leaves a header whose sizes stop
//! at the last checkpoint, audio past that point, and possibly a partial frame
//! at the end. [`repair`] treats everything after the `data` chunk header as
//! audio, cuts a trailing partial frame, and rewrites the RIFF and `data`
//! sizes so the whole file plays.
//!
//! Safety rules:
//! * The file is first analysed read-only; a healthy file (RIFF size matches
//!   the length, `data` chunk inside the file) is never opened for writing.
//! * Non-WAV files, non-PCM formats and files without `fmt `/`data` chunks
//!   are refused with an error and left untouched.
//! * If well-formed chunks (e.g. `LIST`) follow the declared `data` chunk and
//!   end exactly at end of file, only the RIFF size is fixed.
//! * A file whose RIFF size matches its length is healthy even if bytes follow
//!   the `data` chunk: our writer updates both sizes in one write, so a stale
//!   recording always has a stale RIFF size, and foreign files are respected.
//!
//! [`scan_and_repair`] is meant for start-up, when no recording is open: run
//! on a file being written, it would race the writer.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Result, WavError, io_err};

/// What [`repair`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepairOutcome {
    /// Header and length agree; the file was not modified.
    Healthy,
    /// The header was rewritten (and the file possibly truncated).
    Repaired {
        /// `data` size in the header before repair.
        old_data_len: u32,
        /// `data` size after repair.
        new_data_len: u32,
        /// Bytes cut from the end (a partial frame). A pad byte added after
        /// odd-length 8-bit data is not counted.
        bytes_truncated: u64,
    },
}

/// Result of [`scan_and_repair`].
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Files found healthy.
    pub healthy: Vec<PathBuf>,
    /// Files repaired, with what was done.
    pub repaired: Vec<(PathBuf, RepairOutcome)>,
    /// Files (or sub-directories) that could not be checked or repaired.
    pub failed: Vec<(PathBuf, WavError)>,
}

/// The layout facts repair needs.
struct Layout {
    riff_size: u32,
    block_align: u64,
    /// Offset of the `data` chunk's 8-byte header.
    data_header: u64,
    data_size: u32,
}

fn read_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn read_exact_at(file: &mut File, pos: u64, buf: &mut [u8]) -> std::io::Result<bool> {
    file.seek(SeekFrom::Start(pos))?;
    match file.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn analyse(path: &Path, file: &mut File, len: u64) -> Result<Layout> {
    let not_wav = |reason| WavError::NotWav {
        path: path.to_path_buf(),
        reason,
    };
    let unsupported = |reason: &str| WavError::Unsupported {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let mut head = [0u8; 12];
    if !read_exact_at(file, 0, &mut head).map_err(io_err(path))? {
        return Err(not_wav("shorter than a RIFF header"));
    }
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(not_wav("no RIFF/WAVE signature"));
    }
    let riff_size = read_u32(&head[4..8]);
    let mut block_align = None;
    let mut pos = 12u64;
    loop {
        let mut chunk = [0u8; 8];
        if !read_exact_at(file, pos, &mut chunk).map_err(io_err(path))? {
            return Err(unsupported("no data chunk (header truncated)"));
        }
        let size = read_u32(&chunk[4..8]);
        match &chunk[0..4] {
            b"data" => {
                let block_align =
                    block_align.ok_or_else(|| unsupported("data chunk before fmt chunk"))?;
                return Ok(Layout {
                    riff_size,
                    block_align,
                    data_header: pos,
                    data_size: size,
                });
            }
            b"fmt " => {
                let mut fmt = [0u8; 16];
                if size < 16 || !read_exact_at(file, pos + 8, &mut fmt).map_err(io_err(path))? {
                    return Err(unsupported("truncated fmt chunk"));
                }
                let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
                // PCM, IEEE float, A-law, mu-law, extensible: all fixed frame size.
                if !matches!(tag, 1 | 3 | 6 | 7 | 0xFFFE) {
                    return Err(unsupported(&format!(
                        "format tag {tag:#x} has no fixed frame size"
                    )));
                }
                let align = u16::from_le_bytes([fmt[12], fmt[13]]);
                if align == 0 {
                    return Err(unsupported("block align 0"));
                }
                block_align = Some(u64::from(align));
            }
            _ => {}
        }
        pos += 8 + u64::from(size) + u64::from(size & 1);
        if pos >= len {
            return Err(unsupported("no data chunk"));
        }
    }
}

/// Whether `[pos, len)` is a sequence of plausible RIFF chunks ending exactly
/// at `len` (e.g. a `LIST` chunk after the audio).
fn chunks_fill_to_end(file: &mut File, mut pos: u64, len: u64) -> std::io::Result<bool> {
    while pos < len {
        let mut chunk = [0u8; 8];
        if !read_exact_at(file, pos, &mut chunk)?
            || !chunk[0..4]
                .iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ')
        {
            return Ok(false);
        }
        let size = u64::from(read_u32(&chunk[4..8]));
        pos += 8 + size + (size & 1);
    }
    Ok(pos == len)
}

/// Fixes the header sizes of a WAV file left open by a crash. See the module
/// docs for what is and is not changed.
pub fn repair(path: impl AsRef<Path>) -> Result<RepairOutcome> {
    let path = path.as_ref();
    let mut file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let layout = analyse(path, &mut file, len)?;
    let data_start = layout.data_header + 8;
    let declared_end = data_start + u64::from(layout.data_size) + u64::from(layout.data_size & 1);
    let riff_ok = u64::from(layout.riff_size) + 8 == len;
    if riff_ok && declared_end <= len {
        return Ok(RepairOutcome::Healthy);
    }
    if declared_end < len
        && chunks_fill_to_end(&mut file, declared_end, len).map_err(io_err(path))?
    {
        // Audio is complete; only the RIFF size is stale.
        let riff = u32::try_from(len - 8).map_err(|_| WavError::TooLarge { path: path.into() })?;
        let mut file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        write_at(&mut file, 4, riff).map_err(io_err(path))?;
        file.sync_all().map_err(io_err(path))?;
        let size = layout.data_size;
        return Ok(RepairOutcome::Repaired {
            old_data_len: size,
            new_data_len: size,
            bytes_truncated: 0,
        });
    }
    drop(file);
    let available = len - data_start;
    let new_data = available / layout.block_align * layout.block_align;
    let pad = new_data & 1;
    let new_len = data_start + new_data + pad;
    if new_len - 8 > u64::from(u32::MAX) {
        return Err(WavError::TooLarge { path: path.into() });
    }
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    (|| {
        file.set_len(new_len)?; // cuts a partial frame, or adds the pad byte
        write_at(&mut file, 4, (new_len - 8) as u32)?;
        write_at(&mut file, layout.data_header + 4, new_data as u32)?;
        file.sync_all()
    })()
    .map_err(io_err(path))?;
    Ok(RepairOutcome::Repaired {
        old_data_len: layout.data_size,
        new_data_len: new_data as u32,
        bytes_truncated: len.saturating_sub(new_len),
    })
}

fn write_at(file: &mut File, pos: u64, value: u32) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(pos))?;
    file.write_all(&value.to_le_bytes())
}

/// Walks `dir` recursively (not following symlinks) and [`repair`]s every
/// `*.wav` file (extension case-insensitive). Per-file problems are collected
/// in the report; only an unreadable `dir` itself is an error.
pub fn scan_and_repair(dir: impl AsRef<Path>) -> Result<ScanReport> {
    let dir = dir.as_ref();
    let mut report = ScanReport::default();
    let meta = std::fs::metadata(dir).map_err(io_err(dir))?;
    if !meta.is_dir() {
        let e = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory");
        return Err(io_err(dir)(e));
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) => {
                report.failed.push((current.clone(), io_err(&current)(e)));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    report.failed.push((current.clone(), io_err(&current)(e)));
                    continue;
                }
            };
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
            {
                match repair(&path) {
                    Ok(RepairOutcome::Healthy) => report.healthy.push(path),
                    Ok(outcome) => report.repaired.push((path, outcome)),
                    Err(e) => report.failed.push((path, e)),
                }
            }
        }
    }
    Ok(report)
}
