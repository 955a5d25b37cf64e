//! The contact center's configuration: `contact-center/agents.toml` (who
//! the agents are, their team and skills with proficiencies) and
//! `contact-center/queues.toml` (each queue's skills, strategy, timers and
//! what happens when a caller waits too long). Checked with file, line and
//! field, like every other configuration file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::queue::{MAX_PROFICIENCY, QueueSpec, Relaxation, SkillId, Strategy};
use crate::config::{ConfigProblem, ProblemSink};
use crate::store::StoredAgent;

/// One agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The agent's extension on the agents profile (their phone).
    pub id: String,
    pub name: String,
    pub team: String,
    pub skills: Vec<(SkillId, u8)>,
}

/// Where a caller goes after the queue's maximum wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaxWait {
    /// Into another queue, keeping their time waited.
    Queue(String),
    /// The flow's next node for a queue that gave up (its `no_answer`).
    Exit,
}

/// One queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub spec: QueueSpec,
    pub ring_timeout_ms: i64,
    pub wrap_up_ms: i64,
    pub max_wait_ms: i64,
    pub on_max_wait: MaxWait,
    /// Callers may join while no agent of the queue is logged in.
    pub join_empty: bool,
    /// Position and estimated wait announced this often (0: never).
    pub announce_every_ms: i64,
    /// Answered within this counts toward the service level.
    pub service_level_ms: i64,
    /// Callbacks: how a request is made, tried and given up.
    pub callback: CallbackPolicy,
    /// After the agent hangs up, the caller rates the call (1 to 5).
    pub survey: bool,
    /// Messages spoken to waiting callers in turn, every
    /// `message_every_ms` (the music resuming between them).
    pub messages: std::sync::Arc<[QueueMessage]>,
    pub message_every_ms: i64,
}

/// A message for waiting callers: its English text, and its Mandarin one
/// for callers whose language is Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueMessage {
    pub en: String,
    pub zh: Option<String>,
}

/// A queue's callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackPolicy {
    /// The key a waiting caller presses to be called back, keeping their
    /// place in line (`None`: not offered).
    pub digit: Option<char>,
    /// Attempts to reach the customer before the request fails.
    pub attempts: u32,
    /// Wait between attempts.
    pub retry_ms: i64,
    /// How long the customer's phone rings.
    pub ring_ms: i64,
}

impl Default for CallbackPolicy {
    fn default() -> Self {
        CallbackPolicy {
            digit: None,
            attempts: 3,
            retry_ms: 300_000,
            ring_ms: 30_000,
        }
    }
}

/// Agents and queues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactCenter {
    /// Skill names; a skill's id is its index.
    pub skills: Vec<String>,
    pub agents: Vec<AgentConfig>,
    pub queues: Vec<QueueConfig>,
    /// Offers missed in a row before an agent is made not ready.
    pub max_missed: u32,
}

impl ContactCenter {
    pub fn queue(&self, name: &str) -> Option<usize> {
        self.queues.iter().position(|q| q.spec.name == name)
    }

    pub fn agent(&self, id: &str) -> Option<usize> {
        self.agents.iter().position(|a| a.id == id)
    }

    /// Adds the agents the database keeps: one with the id of an agent of
    /// the file replaces it; skills no queue asks for are added too.
    pub fn add_stored_agents(&mut self, stored: &[StoredAgent]) {
        for s in stored {
            let skills = s
                .skills
                .iter()
                .map(|(name, &p)| (self.skill_id(name), p))
                .collect();
            let a = AgentConfig {
                id: s.id.clone(),
                name: s.name.clone(),
                team: s.team.clone(),
                skills,
            };
            match self.agent(&s.id) {
                Some(i) => self.agents[i] = a,
                None => self.agents.push(a),
            }
        }
    }

    /// The id of skill `name`, added when new.
    fn skill_id(&mut self, name: &str) -> SkillId {
        match self.skills.iter().position(|s| s == name) {
            Some(id) => id,
            None => {
                self.skills.push(name.to_string());
                self.skills.len() - 1
            }
        }
    }
}

/// Reads agents written as in `contact-center/agents.toml` (`[[agent]]`
/// tables) from `text` (shown as `shown` in problems), for the database;
/// ids must be among `extensions`. Every problem is located.
pub fn parse_agents(
    shown: &Path,
    text: &str,
    extensions: &[&str],
) -> Result<Vec<StoredAgent>, Vec<ConfigProblem>> {
    let mut cc = ContactCenter::default();
    let mut sink = ProblemSink::new(shown, text);
    agents(text, Some(extensions), &mut cc, &mut sink);
    if !sink.problems.is_empty() {
        return Err(sink.problems);
    }
    Ok(cc
        .agents
        .iter()
        .map(|a| StoredAgent {
            id: a.id.clone(),
            name: a.name.clone(),
            team: a.team.clone(),
            skills: a
                .skills
                .iter()
                .map(|&(s, p)| (cc.skills[s].clone(), p))
                .collect(),
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentsFile {
    max_missed_offers: Option<Spanned<i64>>,
    #[serde(default)]
    agent: Vec<Spanned<AgentEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentEntry {
    id: Spanned<String>,
    name: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    skills: BTreeMap<String, Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueuesFile {
    #[serde(default)]
    queue: BTreeMap<String, Spanned<QueueEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueEntry {
    #[serde(default)]
    skills: BTreeMap<String, Spanned<i64>>,
    strategy: Option<Spanned<String>>,
    #[serde(default)]
    relax: Vec<Spanned<RelaxEntry>>,
    ring_timeout_seconds: Option<Spanned<i64>>,
    wrap_up_seconds: Option<Spanned<i64>>,
    max_wait_seconds: Option<Spanned<i64>>,
    overflow: Option<Spanned<String>>,
    join_empty: Option<bool>,
    announce_every_seconds: Option<Spanned<i64>>,
    service_level_seconds: Option<Spanned<i64>>,
    callback_digit: Option<Spanned<String>>,
    callback_attempts: Option<Spanned<i64>>,
    callback_retry_seconds: Option<Spanned<i64>>,
    callback_ring_seconds: Option<Spanned<i64>>,
    survey: Option<bool>,
    #[serde(default)]
    messages: Vec<Spanned<QueueMessage>>,
    message_every_seconds: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelaxEntry {
    after_seconds: i64,
    min_proficiency: i64,
}

/// Loads `dir/contact-center/` (absent: no agents, no queues); agents'
/// ids must be among `extensions` (the SIP users of internal profiles),
/// when known.
pub fn load(
    dir: &Path,
    extensions: Option<&[&str]>,
    problems: &mut Vec<ConfigProblem>,
) -> ContactCenter {
    let mut cc = ContactCenter {
        max_missed: 3,
        ..Default::default()
    };
    let folder = dir.join("contact-center");
    if let Some((shown, text)) = read(&folder, "agents.toml", problems) {
        let mut sink = ProblemSink::new(&shown, &text);
        agents(&text, extensions, &mut cc, &mut sink);
        problems.append(&mut sink.problems);
    }
    if let Some((shown, text)) = read(&folder, "queues.toml", problems) {
        let mut sink = ProblemSink::new(&shown, &text);
        queues(&text, &mut cc, &mut sink);
        problems.append(&mut sink.problems);
    }
    cc
}

fn read(
    folder: &Path,
    name: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<(std::path::PathBuf, String)> {
    let shown = Path::new("contact-center").join(name);
    let text = crate::config::read_optional(&folder.join(name), &shown, problems)?;
    Some((shown, text))
}

fn in_range(
    v: &Spanned<i64>,
    range: std::ops::RangeInclusive<i64>,
    field: &str,
    sink: &mut ProblemSink<'_>,
) -> Option<i64> {
    if range.contains(v.get_ref()) {
        Some(*v.get_ref())
    } else {
        sink.at_span(
            v.span(),
            field,
            format!(
                "{} is out of range; valid: {} to {}",
                v.get_ref(),
                range.start(),
                range.end()
            ),
        );
        None
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn agents(
    text: &str,
    extensions: Option<&[&str]>,
    cc: &mut ContactCenter,
    sink: &mut ProblemSink<'_>,
) {
    let file: AgentsFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => return sink.toml_error(&e),
    };
    if let Some(m) = &file.max_missed_offers {
        cc.max_missed = in_range(m, 1..=100, "max_missed_offers", sink).unwrap_or(3) as u32;
    }
    for (i, a) in file.agent.iter().enumerate() {
        let a = a.get_ref();
        let id = a.id.get_ref();
        if !id.chars().all(|c| c.is_ascii_digit()) || id.is_empty() {
            sink.at_span(
                a.id.span(),
                &format!("agent[{i}].id"),
                format!("`{id}` is not an extension (digits)"),
            );
        } else if let Some(extensions) = extensions
            && !extensions.contains(&id.as_str())
        {
            sink.at_span(
                a.id.span(),
                &format!("agent[{i}].id"),
                format!(
                    "no SIP user `{id}` on an internal profile (sip-profiles/); users: {}",
                    extensions.join(", ")
                ),
            );
        } else if cc.agents.iter().any(|o| &o.id == id) {
            sink.at_span(
                a.id.span(),
                &format!("agent[{i}].id"),
                format!("agent `{id}` is listed twice"),
            );
        }
        let mut skills = Vec::new();
        for (name, p) in &a.skills {
            let field = format!("agent[{i}].skills.{name}");
            if !is_name(name) {
                sink.at_span(
                    p.span(),
                    &field,
                    format!("`{name}` is not a skill name (letters, digits, `_`, `-`)"),
                );
                continue;
            }
            let Some(p) = in_range(p, 1..=i64::from(MAX_PROFICIENCY), &field, sink) else {
                continue;
            };
            skills.push((cc.skill_id(name), p as u8));
        }
        cc.agents.push(AgentConfig {
            id: id.clone(),
            name: a.name.clone(),
            team: a.team.clone(),
            skills,
        });
    }
}

fn queues(text: &str, cc: &mut ContactCenter, sink: &mut ProblemSink<'_>) {
    let file: QueuesFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => return sink.toml_error(&e),
    };
    let names: Vec<&String> = file.queue.keys().collect();
    for (name, q) in &file.queue {
        let at = q.span();
        let q = q.get_ref();
        let field = |f: &str| format!("queue.{name}.{f}");
        if !is_name(name) {
            sink.at_span(
                at.clone(),
                &format!("queue.{name}"),
                format!("`{name}` is not a queue name (letters, digits, `_`, `-`)"),
            );
        }
        let mut skills = Vec::new();
        for (skill, min) in &q.skills {
            let f = field(&format!("skills.{skill}"));
            let Some(min) = in_range(min, 1..=i64::from(MAX_PROFICIENCY), &f, sink) else {
                continue;
            };
            match cc.skills.iter().position(|s| s == skill) {
                Some(id) => skills.push((id, min as u8)),
                None => sink.at_span(
                    q.skills[skill].span(),
                    &f,
                    format!(
                        "no agent has skill `{skill}`; agents' skills (contact-center/agents.toml): {}",
                        if cc.skills.is_empty() {
                            "(none)".to_string()
                        } else {
                            let mut known = cc.skills.clone();
                            known.sort();
                            known.join(", ")
                        }
                    ),
                ),
            }
        }
        let strategy = match &q.strategy {
            None => Strategy::LongestIdle,
            Some(s) => Strategy::from_name(s.get_ref()).unwrap_or_else(|| {
                let valid: Vec<&str> = Strategy::NAMES.iter().map(|(n, _)| *n).collect();
                sink.at_span(
                    s.span(),
                    &field("strategy"),
                    format!(
                        "`{}` is not a strategy; valid: {}",
                        s.get_ref(),
                        valid.join(", ")
                    ),
                );
                Strategy::LongestIdle
            }),
        };
        let mut relax: Vec<Relaxation> = Vec::new();
        for (i, r) in q.relax.iter().enumerate() {
            let (span, r) = (r.span(), r.get_ref());
            let f = field(&format!("relax[{i}]"));
            let after_ms = r.after_seconds.saturating_mul(1000);
            if !(1..=3600).contains(&r.after_seconds)
                || !(1..=i64::from(MAX_PROFICIENCY)).contains(&r.min_proficiency)
            {
                sink.at_span(
                    span,
                    &f,
                    "after_seconds is 1 to 3600 and min_proficiency 1 to 10".into(),
                );
            } else if relax.last().is_some_and(|l| l.after_ms >= after_ms) {
                sink.at_span(span, &f, "steps go by increasing after_seconds".into());
            } else {
                relax.push(Relaxation {
                    after_ms,
                    min_proficiency: r.min_proficiency as u8,
                });
            }
        }
        let seconds =
            |v: &Option<Spanned<i64>>, f: &str, range, default: i64, sink: &mut ProblemSink<'_>| {
                v.as_ref()
                    .map_or(Some(default), |v| in_range(v, range, &field(f), sink))
                    .unwrap_or(default)
                    * 1000
            };
        let ring_timeout_ms = seconds(
            &q.ring_timeout_seconds,
            "ring_timeout_seconds",
            5..=120,
            15,
            sink,
        );
        let wrap_up_ms = seconds(&q.wrap_up_seconds, "wrap_up_seconds", 0..=3600, 10, sink);
        let max_wait_ms = seconds(
            &q.max_wait_seconds,
            "max_wait_seconds",
            10..=86_400,
            600,
            sink,
        );
        let announce_every_ms = seconds(
            &q.announce_every_seconds,
            "announce_every_seconds",
            0..=3600,
            0,
            sink,
        );
        let service_level_ms = seconds(
            &q.service_level_seconds,
            "service_level_seconds",
            1..=3600,
            20,
            sink,
        );
        let callback = callback_policy(q, &field, sink);
        for (i, m) in q.messages.iter().enumerate() {
            if m.get_ref().en.trim().is_empty() {
                sink.at_span(
                    m.span(),
                    &field(&format!("messages[{i}].en")),
                    "a message needs its English text".into(),
                );
            }
        }
        let message_every_ms = seconds(
            &q.message_every_seconds,
            "message_every_seconds",
            5..=3600,
            45,
            sink,
        );
        let on_max_wait = match &q.overflow {
            None => MaxWait::Exit,
            Some(o) if o.get_ref() == name => {
                sink.at_span(
                    o.span(),
                    &field("overflow"),
                    "a queue cannot overflow into itself".into(),
                );
                MaxWait::Exit
            }
            Some(o) if names.contains(&o.get_ref()) => MaxWait::Queue(o.get_ref().clone()),
            Some(o) => {
                let valid: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
                sink.at_span(
                    o.span(),
                    &field("overflow"),
                    format!("no queue `{}`; queues: {}", o.get_ref(), valid.join(", ")),
                );
                MaxWait::Exit
            }
        };
        cc.queues.push(QueueConfig {
            spec: QueueSpec {
                name: name.clone(),
                skills,
                strategy,
                relax,
            },
            ring_timeout_ms,
            wrap_up_ms,
            max_wait_ms,
            on_max_wait,
            join_empty: q.join_empty.unwrap_or(true),
            announce_every_ms,
            service_level_ms,
            callback,
            survey: q.survey.unwrap_or(false),
            messages: q.messages.iter().map(|m| m.get_ref().clone()).collect(),
            message_every_ms,
        });
    }
}

/// A queue's `callback_*` fields.
fn callback_policy(
    q: &QueueEntry,
    field: &dyn Fn(&str) -> String,
    sink: &mut ProblemSink<'_>,
) -> CallbackPolicy {
    let d = CallbackPolicy::default();
    let digit = q.callback_digit.as_ref().and_then(|v| {
        let mut chars = v.get_ref().chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
            _ => {
                sink.at_span(
                    v.span(),
                    &field("callback_digit"),
                    format!("`{}` is not one key (0-9, * or #)", v.get_ref()),
                );
                None
            }
        }
    });
    let number =
        |v: &Option<Spanned<i64>>, f: &str, range, default: i64, sink: &mut ProblemSink<'_>| {
            v.as_ref()
                .and_then(|v| in_range(v, range, &field(f), sink))
                .unwrap_or(default)
        };
    CallbackPolicy {
        digit,
        attempts: number(&q.callback_attempts, "callback_attempts", 1..=10, 3, sink) as u32,
        retry_ms: number(
            &q.callback_retry_seconds,
            "callback_retry_seconds",
            10..=86_400,
            d.retry_ms / 1000,
            sink,
        ) * 1000,
        ring_ms: number(
            &q.callback_ring_seconds,
            "callback_ring_seconds",
            5..=120,
            d.ring_ms / 1000,
            sink,
        ) * 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENTS: &str = "[[agent]]\nid = \"1001\"\nname = \"Ann\"\nskills = { orders = 9 }\n\n[[agent]]\nid = \"1002\"\nname = \"Bo\"\nteam = \"t\"\nskills = { vip = 4, orders = 2 }\n";

    #[test]
    fn stored_agents_are_parsed_and_replace_or_join_the_file_ones() {
        let stored = parse_agents(Path::new("new.toml"), AGENTS, &["1001", "1002"]).unwrap();
        assert_eq!(stored.len(), 2);
        assert_eq!(
            stored[1].skills,
            [("orders".to_string(), 2), ("vip".to_string(), 4)].into()
        );
        let mut cc = ContactCenter {
            skills: vec!["orders".into()],
            ..Default::default()
        };
        cc.agents.push(AgentConfig {
            id: "1001".into(),
            name: "Old".into(),
            team: String::new(),
            skills: vec![(0, 1)],
        });
        cc.add_stored_agents(&stored);
        assert_eq!(cc.agents.len(), 2);
        assert_eq!(
            (cc.agents[0].name.as_str(), cc.agents[0].skills.as_slice()),
            ("Ann", &[(0, 9)][..])
        );
        assert_eq!(cc.skills, ["orders", "vip"]);
        assert_eq!(cc.agents[1].skills, [(0, 2), (1, 4)]);
    }

    #[test]
    fn stored_agents_with_problems_are_located() {
        let bad = AGENTS
            .replace("1002", "1009")
            .replace("orders = 9", "orders = 11");
        let problems = parse_agents(Path::new("new.toml"), &bad, &["1001", "1002"]).unwrap_err();
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            lines[0].starts_with("new.toml:4: agent[0].skills.orders: 11 is out of range"),
            "{lines:#?}"
        );
        assert!(
            lines[1].starts_with("new.toml:7: agent[1].id: no SIP user `1009`"),
            "{lines:#?}"
        );
    }
}
