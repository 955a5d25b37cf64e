//! `switchboard.toml`: settings of the whole switch (database, recordings,
//! logging). Relative paths resolve against the configuration folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::problem::ProblemSink;

/// Validated switch-wide settings, paths already resolved.
#[derive(Debug, Clone)]
pub struct SwitchSettings {
    /// SQLite database file.
    pub database: PathBuf,
    pub recordings: PathBuf,
    /// Where the switch's own prompts are (`beep.wav`, `en/...`).
    pub prompts: PathBuf,
    pub log: LogSettings,
    /// Upper bound on concurrent SIP transactions before new work gets 503.
    pub max_transactions: usize,
    pub media: MediaSettings,
    /// RFC 4028 session timers on every call leg.
    pub session_timer: crate::call::TimerConfig,
    /// The key that seals personal data at rest (unless
    /// `SWITCHBOARD_PII_KEY` is set); never inside the database.
    pub pii_key_file: PathBuf,
    /// How recordings are checked after the call (`[qa]`).
    pub qa: super::qa_settings::QaSettings,
}

/// Where anchored media lives: the address RTP sockets bind to and are
/// announced with, and the port range they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSettings {
    pub rtp_ip: std::net::IpAddr,
    pub rtp_ports: std::ops::RangeInclusive<u16>,
    /// No RTP on a leg for this long ends the call.
    pub media_timeout_seconds: u64,
    /// What a held party hears (a WAV of any rate, looped); `None`: the
    /// holder's own stream, if it sends one.
    pub music_on_hold: Option<PathBuf>,
    /// The media threads' real-time (SCHED_RR) priority, 1 to 99; 0: they
    /// run at normal priority (see `media::runtime`).
    pub realtime_priority: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `human` or `json`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `info,sip_trace=debug`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SwitchFile {
    #[serde(default)]
    database: DatabaseFile,
    #[serde(default)]
    recordings: RecordingsFile,
    #[serde(default)]
    prompts: PromptsFile,
    #[serde(default)]
    log: LogSettings,
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    media: MediaFile,
    #[serde(default)]
    session_timer: SessionTimerFile,
    #[serde(default)]
    privacy: PrivacyFile,
    #[serde(default)]
    qa: super::qa_settings::QaFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct SessionTimerFile {
    session_expires_seconds: u32,
    min_se_seconds: u32,
}

impl Default for SessionTimerFile {
    fn default() -> Self {
        let d = crate::call::TimerConfig::default();
        Self {
            session_expires_seconds: d.session_expires,
            min_se_seconds: d.min_se,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct MediaFile {
    rtp_ip: String,
    rtp_ports: String,
    media_timeout_seconds: u64,
    music_on_hold: String,
    realtime_priority: u8,
}

impl Default for MediaFile {
    fn default() -> Self {
        Self {
            rtp_ip: "127.0.0.1".into(),
            rtp_ports: "50000-59999".into(),
            media_timeout_seconds: 30,
            music_on_hold: String::new(),
            realtime_priority: 0,
        }
    }
}

/// `"50000-59999"`: an even first port, at least two ports, within 1024..=65535.
fn parse_port_range(text: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let bad = || {
        format!(
            "`{text}` is not a port range; write e.g. \"50000-59999\" (first port even, at least 2 ports)"
        )
    };
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a < 1024 || b <= a || a % 2 != 0 {
        return Err(bad());
    }
    Ok(a..=b)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseFile {
    path: String,
}

impl Default for DatabaseFile {
    fn default() -> Self {
        Self {
            path: "switchboard.db".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordingsFile {
    path: String,
}

impl Default for RecordingsFile {
    fn default() -> Self {
        Self {
            path: "recordings".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivacyFile {
    key_file: String,
}

impl Default for PrivacyFile {
    fn default() -> Self {
        Self {
            key_file: "pii.key".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptsFile {
    path: String,
}

impl Default for PromptsFile {
    fn default() -> Self {
        Self {
            path: "prompts".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LimitsFile {
    max_transactions: usize,
}

impl Default for LimitsFile {
    fn default() -> Self {
        Self {
            max_transactions: 50_000,
        }
    }
}

/// Parses `switchboard.toml` text; paths resolve against `dir`.
pub fn parse_switch(text: &str, dir: &Path, sink: &mut ProblemSink<'_>) -> Option<SwitchSettings> {
    let file: SwitchFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            sink.toml_error(&e);
            return None;
        }
    };
    if file.database.path.trim().is_empty() {
        sink.push(
            sink.line_of_key("path"),
            "database.path",
            "empty; give a file name such as \"switchboard.db\"".into(),
        );
        return None;
    }
    if file.limits.max_transactions == 0 {
        sink.push(
            sink.line_of_key("max_transactions"),
            "limits.max_transactions",
            "must be at least 1".into(),
        );
        return None;
    }
    let rtp_ip = match file.media.rtp_ip.parse() {
        Ok(ip) => ip,
        Err(_) => {
            sink.push(
                sink.line_of_key("rtp_ip"),
                "media.rtp_ip",
                format!(
                    "`{}` is not an IP address; write e.g. \"127.0.0.1\"",
                    file.media.rtp_ip
                ),
            );
            return None;
        }
    };
    let rtp_ports = match parse_port_range(&file.media.rtp_ports) {
        Ok(r) => r,
        Err(msg) => {
            sink.push(sink.line_of_key("rtp_ports"), "media.rtp_ports", msg);
            return None;
        }
    };
    if file.media.media_timeout_seconds == 0 {
        sink.push(
            sink.line_of_key("media_timeout_seconds"),
            "media.media_timeout_seconds",
            "must be at least 1 second".into(),
        );
        return None;
    }
    if file.media.realtime_priority > 99 {
        sink.push(
            sink.line_of_key("realtime_priority"),
            "media.realtime_priority",
            format!(
                "{} is not a real-time priority: give 1 to 99 (SCHED_RR), or 0 for normal priority",
                file.media.realtime_priority
            ),
        );
        return None;
    }
    let music_on_hold =
        (!file.media.music_on_hold.is_empty()).then(|| dir.join(&file.media.music_on_hold));
    if let Some(path) = &music_on_hold
        && !path.is_file()
    {
        sink.push(
            sink.line_of_key("music_on_hold"),
            "media.music_on_hold",
            format!(
                "`{}` is not a file; give a WAV file (relative to this folder), or \"\" for no music",
                path.display()
            ),
        );
        return None;
    }
    let st = &file.session_timer;
    if st.min_se_seconds < 2 || st.session_expires_seconds < st.min_se_seconds {
        sink.push(
            sink.line_of_key("session_expires_seconds"),
            "session_timer.session_expires_seconds",
            format!(
                "{} with min_se_seconds {}: min_se_seconds must be at least 2 (RFC 4028 says 90) and session_expires_seconds at least min_se_seconds",
                st.session_expires_seconds, st.min_se_seconds
            ),
        );
        return None;
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&file.log.level) {
        sink.push(
            sink.line_of_key("level"),
            "log.level",
            format!("not a log filter ({e}); write e.g. \"info\" or \"debug,sqlx=warn\""),
        );
        return None;
    }
    let qa = super::qa_settings::parse_qa(file.qa, dir, sink)?;
    Some(SwitchSettings {
        database: dir.join(&file.database.path),
        recordings: dir.join(&file.recordings.path),
        prompts: dir.join(&file.prompts.path),
        log: file.log,
        max_transactions: file.limits.max_transactions,
        media: MediaSettings {
            rtp_ip,
            rtp_ports,
            media_timeout_seconds: file.media.media_timeout_seconds,
            music_on_hold,
            realtime_priority: file.media.realtime_priority,
        },
        session_timer: crate::call::TimerConfig {
            session_expires: st.session_expires_seconds,
            min_se: st.min_se_seconds,
        },
        pii_key_file: dir.join(&file.privacy.key_file),
        qa,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_are_checked() {
        assert_eq!(parse_port_range("50000-59999"), Ok(50000..=59999));
        assert_eq!(parse_port_range(" 20000 - 20001 "), Ok(20000..=20001));
        for bad in [
            "50001-59999",
            "500-600",
            "6000-5000",
            "6000",
            "a-b",
            "6000-6000",
        ] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn media_errors_name_the_field() {
        let text = "[media]\nrtp_ip = \"127.0.0.1\"\nrtp_ports = \"10-20\"\n";
        let mut sink = ProblemSink::new(Path::new("switchboard.toml"), text);
        assert!(parse_switch(text, Path::new("."), &mut sink).is_none());
        assert_eq!(sink.problems.len(), 1);
        assert_eq!(sink.problems[0].line, 3);
        assert_eq!(sink.problems[0].field, "media.rtp_ports");
    }

    #[test]
    fn realtime_priority_is_off_by_default_and_checked() {
        let text = "[media]\nrtp_ports = \"20000-20999\"\n";
        let mut sink = ProblemSink::new(Path::new("switchboard.toml"), text);
        let settings = parse_switch(text, Path::new("."), &mut sink).expect("valid");
        assert_eq!(settings.media.realtime_priority, 0);
        let text = "[media]\nrealtime_priority = 20\n";
        let mut sink = ProblemSink::new(Path::new("switchboard.toml"), text);
        let settings = parse_switch(text, Path::new("."), &mut sink).expect("valid");
        assert_eq!(settings.media.realtime_priority, 20);
        let text = "[media]\nrtp_ip = \"127.0.0.1\"\nrealtime_priority = 100\n";
        let mut sink = ProblemSink::new(Path::new("switchboard.toml"), text);
        assert!(parse_switch(text, Path::new("."), &mut sink).is_none());
        assert_eq!(sink.problems.len(), 1);
        assert_eq!(sink.problems[0].line, 3);
        assert_eq!(sink.problems[0].field, "media.realtime_priority");
        assert!(
            sink.problems[0].message.contains("1 to 99"),
            "{:?}",
            sink.problems[0]
        );
    }
}
