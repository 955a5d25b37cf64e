//! Calendars (`ivr-flows/calendars.toml`): when a contact center is open.
//! Opening hours per weekday in an IANA time zone, holidays (whole local
//! days) and one-off closures (local date-times), or `always = "open"` /
//! `"closed"`. An admin may force a calendar open or closed; forced states
//! are kept apart from the loaded calendars so they survive reloads.
//!
//! ```toml
//! [calendars.office]
//! timezone = "Europe/London"
//! mon = ["09:00-18:00"]            # local hours, half-open; "00:00-24:00" = all day
//! holidays = ["2026-12-25"]
//! closures = [{ from = "2026-11-30T12:00", to = "2026-11-30T14:00" }]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use serde::Deserialize;
use toml::Spanned;

use crate::config::{ConfigProblem, ProblemSink};

/// Weekday keys, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Opening hours of one day: half-open `[from, to)` minutes after local
/// midnight.
pub type Hours = Vec<(u16, u16)>;

/// One validated calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub name: String,
    /// `Some` for `always = "open" | "closed"`: nothing else applies.
    pub always: Option<bool>,
    pub timezone: TimeZone,
    /// Monday first.
    pub week: [Hours; 7],
    pub holidays: BTreeSet<Date>,
    /// Half-open local `[from, to)` periods.
    pub closures: Vec<(DateTime, DateTime)>,
}

impl Calendar {
    /// Whether the calendar says open at `at` (ignoring any admin force).
    pub fn is_open(&self, at: Timestamp) -> bool {
        if let Some(open) = self.always {
            return open;
        }
        let local = at.to_zoned_datetime(self.timezone.clone());
        let date = local.date();
        let datetime = local.datetime();
        if self.holidays.contains(&date)
            || self
                .closures
                .iter()
                .any(|(from, to)| *from <= datetime && datetime < *to)
        {
            return false;
        }
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        self.week[weekday_index(local.weekday())]
            .iter()
            .any(|&(from, to)| from <= minute && minute < to)
    }
}

fn weekday_index(w: Weekday) -> usize {
    match w {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday => 2,
        Weekday::Thursday => 3,
        Weekday::Friday => 4,
        Weekday::Saturday => 5,
        Weekday::Sunday => 6,
    }
}

/// Admin overrides by calendar name: `true` forced open, `false` closed.
/// Shared by every loaded version.
#[derive(Debug, Default)]
pub struct ForcedStates(RwLock<BTreeMap<String, bool>>);

impl ForcedStates {
    pub fn get(&self, name: &str) -> Option<bool> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
    }

    /// `None` lifts the override.
    pub fn set(&self, name: &str, state: Option<bool>) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        match state {
            Some(s) => map.insert(name.to_string(), s),
            None => map.remove(name),
        };
    }

    pub fn all(&self) -> BTreeMap<String, bool> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The calendars of one loaded version, with the shared admin overrides.
#[derive(Debug, Clone, Default)]
pub struct Calendars {
    map: BTreeMap<String, Calendar>,
    forced: Arc<ForcedStates>,
}

impl Calendars {
    pub fn new(calendars: Vec<Calendar>, forced: Arc<ForcedStates>) -> Self {
        Self {
            map: calendars.into_iter().map(|c| (c.name.clone(), c)).collect(),
            forced,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Calendar> {
        self.map.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Open at `at`, an admin's force first; `None` for an unknown name.
    pub fn is_open(&self, name: &str, at: Timestamp) -> Option<bool> {
        let calendar = self.map.get(name)?;
        Some(
            self.forced
                .get(name)
                .unwrap_or_else(|| calendar.is_open(at)),
        )
    }

    /// Forces `name` open (`Some(true)`), closed, or back to its hours
    /// (`None`); false for an unknown calendar.
    pub fn force(&self, name: &str, state: Option<bool>) -> bool {
        if !self.map.contains_key(name) {
            return false;
        }
        self.forced.set(name, state);
        true
    }

    /// The calendars an admin has forced, and how.
    pub fn forced(&self) -> BTreeMap<String, bool> {
        self.forced.all()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarsFile {
    #[serde(default)]
    calendars: BTreeMap<String, CalendarFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    always: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    mon: Option<Vec<Spanned<String>>>,
    tue: Option<Vec<Spanned<String>>>,
    wed: Option<Vec<Spanned<String>>>,
    thu: Option<Vec<Spanned<String>>>,
    fri: Option<Vec<Spanned<String>>>,
    sat: Option<Vec<Spanned<String>>>,
    sun: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
    #[serde(default)]
    closures: Vec<ClosureFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClosureFile {
    from: Spanned<String>,
    to: Spanned<String>,
}

/// Parses and checks the text of `calendars.toml`.
pub fn parse_calendars(text: &str, sink: &mut ProblemSink<'_>) -> Vec<Calendar> {
    let file: CalendarsFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            sink.toml_error(&e);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (name, c) in file.calendars {
        let before = sink.problems.len();
        let field = |key: &str| format!("calendars.{name}.{key}");
        let week_files = [c.mon, c.tue, c.wed, c.thu, c.fri, c.sat, c.sun];
        let always = match &c.always {
            None => None,
            Some(a) => {
                match a.get_ref().as_str() {
                    "open" => Some(true),
                    "closed" => Some(false),
                    other => {
                        sink.at_span(
                        a.span(),
                        &field("always"),
                        format!("`{other}`; valid: \"open\", \"closed\" (or remove it and give hours)"),
                    );
                        None
                    }
                }
            }
        };
        if always.is_some() {
            let extra = c.timezone.is_some()
                || week_files.iter().any(Option::is_some)
                || !c.holidays.is_empty()
                || !c.closures.is_empty();
            if let (true, Some(a)) = (extra, &c.always) {
                sink.at_span(
                    a.span(),
                    &field("always"),
                    "a calendar that is always open or closed has no hours, holidays or closures; remove one or the other".into(),
                );
            }
        }
        let timezone = match &c.timezone {
            Some(tz) => match TimeZone::get(tz.get_ref()) {
                Ok(z) => z,
                Err(_) => {
                    sink.at_span(
                        tz.span(),
                        &field("timezone"),
                        format!(
                            "unknown time zone `{}`; use an IANA name such as \"Europe/London\", \"America/New_York\", \"Asia/Shanghai\" or \"UTC\"",
                            tz.get_ref()
                        ),
                    );
                    TimeZone::UTC
                }
            },
            None if always.is_none() && c.always.is_none() => {
                sink.push(
                    header_line(sink, &name),
                    &field("timezone"),
                    "missing; give the IANA time zone of the hours, e.g. timezone = \"Europe/London\" (or always = \"open\")".into(),
                );
                TimeZone::UTC
            }
            None => TimeZone::UTC,
        };
        let mut week: [Hours; 7] = Default::default();
        for (day, ranges) in week_files.iter().enumerate() {
            for (i, r) in ranges.iter().flatten().enumerate() {
                match parse_hours(r.get_ref()) {
                    Ok(h) => week[day].push(h),
                    Err(msg) => sink.at_span(
                        r.span(),
                        &format!("calendars.{name}.{}[{i}]", WEEKDAYS[day]),
                        msg,
                    ),
                }
            }
        }
        let mut holidays = BTreeSet::new();
        for (i, h) in c.holidays.iter().enumerate() {
            match h.get_ref().parse::<Date>() {
                Ok(d) => {
                    holidays.insert(d);
                }
                Err(_) => sink.at_span(
                    h.span(),
                    &format!("calendars.{name}.holidays[{i}]"),
                    format!("`{}` is not a date; write \"YYYY-MM-DD\"", h.get_ref()),
                ),
            }
        }
        let mut closures = Vec::new();
        for (i, cl) in c.closures.iter().enumerate() {
            let at = |s: &Spanned<String>, key: &str, sink: &mut ProblemSink<'_>| match parse_local(
                s.get_ref(),
            ) {
                Some(d) => Some(d),
                None => {
                    sink.at_span(
                        s.span(),
                        &format!("calendars.{name}.closures[{i}].{key}"),
                        format!(
                            "`{}` is not a local date and time; write \"YYYY-MM-DDTHH:MM\"",
                            s.get_ref()
                        ),
                    );
                    None
                }
            };
            let (from, to) = (at(&cl.from, "from", sink), at(&cl.to, "to", sink));
            if let (Some(from), Some(to)) = (from, to) {
                if from < to {
                    closures.push((from, to));
                } else {
                    sink.at_span(
                        cl.to.span(),
                        &format!("calendars.{name}.closures[{i}].to"),
                        "must be after `from`".into(),
                    );
                }
            }
        }
        if sink.problems.len() == before {
            out.push(Calendar {
                name,
                always,
                timezone,
                week,
                holidays,
                closures,
            });
        }
    }
    out
}

/// The line of `[calendars.NAME]`, 0 when written another way.
fn header_line(sink: &ProblemSink<'_>, name: &str) -> usize {
    sink.line_of_key(&format!("calendars.{name}"))
        .max(sink.line_of_key(&format!("calendars.\"{name}\"")))
}

/// `"2026-11-30T12:00"` (seconds optional).
fn parse_local(text: &str) -> Option<DateTime> {
    text.parse::<DateTime>().ok().filter(|_| text.contains('T'))
}

/// `"09:00-18:00"`: minutes after midnight, half-open, `24:00` the end of
/// the day.
pub fn parse_hours(text: &str) -> Result<(u16, u16), String> {
    let bad = || {
        format!(
            "`{text}` is not opening hours; write \"HH:MM-HH:MM\" (e.g. \"09:00-18:00\"), ending after it starts; split hours past midnight over two days"
        )
    };
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    match (minutes(a), minutes(b)) {
        (Some(from), Some(to)) if from < to => Ok((from, to)),
        _ => Err(bad()),
    }
}

/// Loads `calendars.toml` from the flows folder; none is fine.
pub fn load_calendars(dir: &Path, problems: &mut Vec<ConfigProblem>) -> Vec<Calendar> {
    let path = dir.join("calendars.toml");
    let shown = Path::new("ivr-flows").join("calendars.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            problems.push(ConfigProblem {
                file: shown,
                line: 0,
                field: String::new(),
                message: format!("cannot read: {e}"),
            });
            return Vec::new();
        }
    };
    let mut sink = ProblemSink::new(&shown, &text);
    let calendars = parse_calendars(&text, &mut sink);
    problems.append(&mut sink.problems);
    calendars
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const FILE: &str = r#"
[calendars.office]
timezone = "Europe/London"
mon = ["09:00-12:30", "13:30-18:00"]
tue = ["09:00-18:00"]
wed = ["09:00-18:00"]
thu = ["09:00-18:00"]
fri = ["09:00-18:00"]
sat = ["00:00-24:00"]
holidays = ["2026-12-25"]
closures = [{ from = "2026-11-30T12:00", to = "2026-11-30T14:00" }]

[calendars.shanghai]
timezone = "Asia/Shanghai"
mon = ["09:00-17:00"]

[calendars.always-open]
always = "open"

[calendars.always-closed]
always = "closed"
"#;

    fn parse(text: &str) -> (Vec<Calendar>, Vec<ConfigProblem>) {
        let mut sink = ProblemSink::new(Path::new("ivr-flows/calendars.toml"), text);
        let c = parse_calendars(text, &mut sink);
        (c, sink.problems)
    }

    fn calendars() -> Calendars {
        let (c, problems) = parse(FILE);
        assert!(problems.is_empty(), "{problems:?}");
        Calendars::new(c, Arc::default())
    }

    /// An instant given as local time in `zone`.
    fn at(zone: &str, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
        date(y, mo, d)
            .at(h, mi, 0, 0)
            .to_zoned_datetime(TimeZone::get(zone).unwrap())
            .unwrap()
            .timestamp()
    }

    #[test]
    fn weekday_hours_in_the_calendar_zone() {
        let c = calendars();
        let open = |t| c.is_open("office", t).unwrap();
        // Monday 2026-11-23, London.
        assert!(!open(at("Europe/London", 2026, 11, 23, 8, 59)));
        assert!(open(at("Europe/London", 2026, 11, 23, 9, 0)));
        assert!(!open(at("Europe/London", 2026, 11, 23, 12, 30))); // lunch
        assert!(open(at("Europe/London", 2026, 11, 23, 13, 30)));
        assert!(!open(at("Europe/London", 2026, 11, 23, 18, 0))); // half-open
        // Friday open, Saturday all day, Sunday (no hours) closed.
        assert!(open(at("Europe/London", 2026, 11, 27, 17, 59)));
        assert!(open(at("Europe/London", 2026, 11, 28, 0, 0)));
        assert!(open(at("Europe/London", 2026, 11, 28, 23, 59)));
        assert!(!open(at("Europe/London", 2026, 11, 29, 12, 0)));
    }

    #[test]
    fn time_zones_decide_the_local_hour() {
        let c = calendars();
        // 09:30 in New York is 14:30 in London (winter): open; 04:30 in
        // New York is 09:30 London... and 03:30 is 08:30 London: closed.
        assert!(
            c.is_open("office", at("America/New_York", 2026, 11, 24, 9, 30))
                .unwrap()
        );
        assert!(
            !c.is_open("office", at("America/New_York", 2026, 11, 24, 3, 30))
                .unwrap()
        );
        // Summer time: 08:30 UTC is 09:30 in London (BST).
        assert!(c.is_open("office", at("UTC", 2026, 7, 14, 8, 30)).unwrap());
        assert!(!c.is_open("office", at("UTC", 2026, 12, 15, 8, 30)).unwrap());
        // Monday 09:00 in Shanghai is Monday 01:00 UTC.
        assert!(
            c.is_open("shanghai", at("UTC", 2026, 11, 23, 1, 0))
                .unwrap()
        );
        assert!(
            !c.is_open("shanghai", at("UTC", 2026, 11, 23, 9, 0))
                .unwrap()
        );
    }

    #[test]
    fn holidays_and_closures_close() {
        let c = calendars();
        // Christmas 2026 is a Friday.
        assert!(
            !c.is_open("office", at("Europe/London", 2026, 12, 25, 10, 0))
                .unwrap()
        );
        assert!(
            c.is_open("office", at("Europe/London", 2026, 12, 24, 10, 0))
                .unwrap()
        );
        // The closure, Monday 2026-11-30 12:00-14:00 (through lunch).
        assert!(
            c.is_open("office", at("Europe/London", 2026, 11, 30, 11, 59))
                .unwrap()
        );
        assert!(
            !c.is_open("office", at("Europe/London", 2026, 11, 30, 12, 0))
                .unwrap()
        );
        assert!(
            !c.is_open("office", at("Europe/London", 2026, 11, 30, 13, 45))
                .unwrap()
        );
        assert!(
            c.is_open("office", at("Europe/London", 2026, 11, 30, 14, 0))
                .unwrap()
        );
    }

    #[test]
    fn always_and_force_override() {
        let c = calendars();
        let t = at("UTC", 2026, 11, 29, 3, 0); // Sunday night
        assert_eq!(c.is_open("always-open", t), Some(true));
        assert_eq!(c.is_open("always-closed", t), Some(false));
        assert_eq!(c.is_open("nope", t), None);
        assert!(c.force("always-open", Some(false)));
        assert!(c.force("office", Some(true)));
        assert!(!c.force("nope", Some(true)));
        assert_eq!(c.is_open("always-open", t), Some(false));
        assert_eq!(c.is_open("office", t), Some(true));
        assert_eq!(c.forced().len(), 2);
        // A later version of the calendars shares the overrides.
        let (again, _) = parse(FILE);
        let next = Calendars::new(again, c.forced.clone());
        assert_eq!(next.is_open("office", t), Some(true));
        assert!(c.force("office", None));
        assert_eq!(next.is_open("office", t), Some(false));
    }

    #[test]
    fn bad_calendars_are_located() {
        let text = "[calendars.a]\ntimezone = \"Europe/Lundun\"\nmon = [\"09:00-18:00\", \"18:00-17:00\"]\nholidays = [\"2026-13-01\"]\nclosures = [{ from = \"2026-11-30\", to = \"2026-11-30T14:00\" }]\n\n[calendars.b]\nalways = \"sometimes\"\n\n[calendars.c]\nmon = [\"9-5\"]\n";
        let (c, problems) = parse(text);
        assert!(c.is_empty());
        let found: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (2, "calendars.a.timezone"),
                (3, "calendars.a.mon[1]"),
                (4, "calendars.a.holidays[0]"),
                (5, "calendars.a.closures[0].from"),
                (8, "calendars.b.always"),
                (10, "calendars.c.timezone"),
                (11, "calendars.c.mon[0]"),
            ]
        );
        assert!(problems[0].message.contains("IANA"), "{problems:?}");
        assert!(problems[4].message.contains("\"open\", \"closed\""));
    }

    #[test]
    fn hours_parse() {
        assert_eq!(parse_hours("09:00-18:00"), Ok((540, 1080)));
        assert_eq!(parse_hours("00:00-24:00"), Ok((0, 1440)));
        assert!(parse_hours("22:00-02:00").is_err());
        assert!(parse_hours("24:30-24:45").is_err());
        assert!(parse_hours("9:00-18:00").is_err());
    }
}
