//! QA scorecards and period reports (`switchboard qa report`): what the
//! stored QA results of a period say about each agent and about the
//! contact center as a whole.
//!
//! What it owns, one module each:
//! - this module: the reporting [`Period`] (UTC calendar days, `--to`
//!   inclusive) and the output [`Format`]s;
//! - [`model`]: the figures, computed from `&[QaResultRow]` into a
//!   serialisable [`Report`] (the `json` format is that model);
//! - [`phrases`]: the customers' frequent 2- and 3-word phrases;
//! - [`markdown`] and [`html`] (with [`svg`] charts): the renderings.
//!
//! Dates are UTC: a day runs from 00:00 UTC to the next 00:00 UTC, whatever
//! the switch's or the reader's time zone.

pub mod html;
pub mod markdown;
pub mod model;
pub mod phrases;
pub mod svg;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_render;

use jiff::civil::Date;
use jiff::tz::TimeZone;

pub use model::{Report, TRAINING_THRESHOLD, build};

/// Milliseconds in a (UTC) day.
pub const DAY_MS: i64 = 86_400_000;

/// Days a report covers when `--from` is not given.
pub const DEFAULT_DAYS: i64 = 7;

/// The days a report covers: `from` 00:00 UTC up to the end of `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    /// Inclusive: the whole of this day is in the period.
    pub to: Date,
}

impl Period {
    /// The period `--from`/`--to` give (`YYYY-MM-DD`). Without `--to`, up
    /// to `today`; without `--from`, the [`DEFAULT_DAYS`] days ending on
    /// `--to`.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: Date) -> Result<Period, String> {
        let to = match to {
            Some(text) => parse_date("--to", text)?,
            None => today,
        };
        let from = match from {
            Some(text) => parse_date("--from", text)?,
            None => to
                .checked_sub(jiff::Span::new().days(DEFAULT_DAYS - 1))
                .map_err(|e| format!("no period of {DEFAULT_DAYS} days ends on {to}: {e}"))?,
        };
        if from > to {
            return Err(format!("--from {from} is after --to {to}"));
        }
        Ok(Period { from, to })
    }

    /// The period's first millisecond (unix ms).
    pub fn from_ms(&self) -> i64 {
        midnight_ms(self.from)
    }

    /// The first millisecond after the period (unix ms, exclusive).
    pub fn to_ms(&self) -> i64 {
        midnight_ms(self.to) + DAY_MS
    }

    /// Days in the period (at least 1).
    pub fn days(&self) -> i64 {
        ((self.to_ms() - self.from_ms()) / DAY_MS).max(1)
    }

    /// The date of the period's day number `n` (0 = `from`).
    pub fn day(&self, n: i64) -> Date {
        date_of_ms(self.from_ms() + n * DAY_MS)
    }
}

fn parse_date(flag: &str, text: &str) -> Result<Date, String> {
    text.trim()
        .parse::<Date>()
        .map_err(|_| format!("{flag} `{text}`: give a date as YYYY-MM-DD"))
}

/// 00:00 UTC of `date`, in unix ms.
fn midnight_ms(date: Date) -> i64 {
    date.to_zoned_datetime(TimeZone::UTC)
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(0)
}

/// The UTC date of a unix ms time.
pub fn date_of_ms(ms: i64) -> Date {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(TimeZone::UTC)
        .date()
}

/// Today's UTC date.
pub fn today() -> Date {
    jiff::Timestamp::now()
        .to_zoned_datetime(TimeZone::UTC)
        .date()
}

/// How a report is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown tables.
    Markdown,
    /// The [`Report`] model, pretty-printed.
    Json,
    /// One self-contained HTML page (inline CSS and SVG charts).
    Html,
}

/// Writes `report` out in `format`.
pub fn render(report: &Report, format: Format) -> Result<String, serde_json::Error> {
    Ok(match format {
        Format::Markdown => markdown::render(report),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report)?;
            text.push('\n');
            text
        }
        Format::Html => html::render(report),
    })
}
