//! The validated, immutable model of an IVR flow: what the interpreter
//! runs. Every exit names a node of the same flow that exists; every
//! prompt file exists; every expression is parsed; every calendar exists.
//! Durations are in milliseconds unless the name says otherwise.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::expr::Expr;

/// One flow: `ivr-flows/<name>.toml`.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The file stem.
    pub name: String,
    /// The first node.
    pub entry: String,
    /// The flow's prompt language, used when a prompt has no variant in
    /// the caller's language.
    pub language: String,
    /// The calendar of `branch` nodes that name none; a trunk number may
    /// give another one (`{ flow = "demo", calendar = "always-closed" }`).
    pub calendar: Option<String>,
    pub nodes: BTreeMap<String, Node>,
}

impl Flow {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// The entry node.
    pub fn entry_node(&self) -> &Node {
        &self.nodes[&self.entry]
    }
}

/// One step of a flow.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// Where the node is written (its `type` line), for journals and errors.
    pub line: usize,
    pub kind: NodeKind,
}

/// What a node does, with its settings and exits.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// Plays prompts, then `next`.
    Play {
        prompts: Vec<Prompt>,
        next: String,
    },
    /// The legal recording notice: the call is recorded only once it has
    /// played, and not at all if the caller presses `opt_out` during it.
    Disclosure {
        prompts: Vec<Prompt>,
        opt_out: Option<char>,
        next: String,
    },
    /// One key picks an exit.
    Menu(Menu),
    /// Several digits into the `digits` variable.
    Collect(Collect),
    /// The first case whose condition holds, else `default`.
    Branch {
        cases: Vec<Case>,
        default: String,
    },
    /// Open or closed by a calendar: the named one, or the call's (the
    /// trunk number's, else the flow's) when `None`.
    Calendar {
        calendar: Option<String>,
        open: String,
        closed: String,
    },
    /// Finds the caller: `customer.*` variables when found.
    Lookup(Lookup),
    /// Sets `vars.<name>` to the value of each expression, in name order.
    Set {
        vars: BTreeMap<String, Expr>,
        next: String,
    },
    /// Hands the call to a queue (for now: rings `agents`).
    Queue(Queue),
    /// Takes a callback request: confirm the caller's number or key another.
    Callback(Callback),
    /// Records a message after a beep.
    Voicemail(Voicemail),
    /// Sends the call elsewhere; `failed` (or the end of the call) when the
    /// target does not answer.
    Transfer {
        target: TransferTarget,
        /// How long the target may ring.
        ring_seconds: u32,
        failed: Option<String>,
    },
    Hangup,
    /// Continues in another flow, at its entry or at `node`.
    Goto {
        flow: String,
        node: Option<String>,
    },
}

/// The node types, as written in `type = "..."`.
pub const NODE_TYPES: [&str; 13] = [
    "play",
    "disclosure",
    "menu",
    "collect",
    "branch",
    "lookup",
    "set",
    "queue",
    "callback",
    "voicemail",
    "transfer",
    "hangup",
    "goto",
];

impl NodeKind {
    /// Every prompt the node may play (its main prompts, and a menu's or
    /// collect's invalid and timeout prompts).
    pub fn prompts(&self) -> Vec<&Prompt> {
        let lists: Vec<&Vec<Prompt>> = match self {
            NodeKind::Play { prompts, .. } | NodeKind::Disclosure { prompts, .. } => {
                vec![prompts]
            }
            NodeKind::Menu(m) => vec![&m.prompts, &m.invalid_prompts, &m.timeout_prompts],
            NodeKind::Collect(c) => vec![&c.prompts, &c.invalid_prompts, &c.timeout_prompts],
            NodeKind::Callback(c) => vec![&c.prompts],
            NodeKind::Voicemail(v) => vec![&v.prompts],
            _ => Vec::new(),
        };
        lists.into_iter().flatten().collect()
    }

    /// The `type` this node was written with.
    pub fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Play { .. } => "play",
            NodeKind::Disclosure { .. } => "disclosure",
            NodeKind::Menu(_) => "menu",
            NodeKind::Collect(_) => "collect",
            NodeKind::Branch { .. } | NodeKind::Calendar { .. } => "branch",
            NodeKind::Lookup(_) => "lookup",
            NodeKind::Set { .. } => "set",
            NodeKind::Queue(_) => "queue",
            NodeKind::Callback(_) => "callback",
            NodeKind::Voicemail(_) => "voicemail",
            NodeKind::Transfer { .. } => "transfer",
            NodeKind::Hangup => "hangup",
            NodeKind::Goto { .. } => "goto",
        }
    }

    /// Exits to nodes of the same flow: (key, node).
    pub fn exits(&self) -> Vec<(String, &str)> {
        fn one<'a>(k: &str, n: &'a str) -> (String, &'a str) {
            (k.to_string(), n)
        }
        match self {
            NodeKind::Play { next, .. }
            | NodeKind::Disclosure { next, .. }
            | NodeKind::Set { next, .. } => vec![one("next", next)],
            NodeKind::Menu(m) => m
                .choices
                .iter()
                .map(|(d, n)| (format!("choices.{d}"), n.as_str()))
                .chain([one("exhausted", &m.exhausted)])
                .collect(),
            NodeKind::Collect(c) => vec![one("next", &c.next), one("exhausted", &c.exhausted)],
            NodeKind::Branch { cases, default } => cases
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("cases[{i}].next"), c.next.as_str()))
                .chain([one("default", default)])
                .collect(),
            NodeKind::Calendar { open, closed, .. } => {
                vec![one("open", open), one("closed", closed)]
            }
            NodeKind::Lookup(l) => vec![
                one("found", &l.found),
                one("not_found", &l.not_found),
                one("failed", &l.failed),
            ],
            NodeKind::Queue(q) => q.no_answer.iter().map(|n| one("no_answer", n)).collect(),
            NodeKind::Callback(c) => vec![one("next", &c.next)],
            NodeKind::Voicemail(v) => vec![one("next", &v.next)],
            NodeKind::Transfer { failed, .. } => failed.iter().map(|n| one("failed", n)).collect(),
            NodeKind::Hangup | NodeKind::Goto { .. } => Vec::new(),
        }
    }

    /// Waits for the caller (keys, a message) or for someone to answer:
    /// a loop through such a node is not a busy loop.
    pub fn takes_input(&self) -> bool {
        matches!(
            self,
            NodeKind::Menu(_)
                | NodeKind::Collect(_)
                | NodeKind::Callback(_)
                | NodeKind::Voicemail(_)
                | NodeKind::Queue(_)
                | NodeKind::Transfer { .. }
        )
    }

    /// May end the flow: the call hangs up, or is handed to agents or
    /// another party.
    pub fn may_end(&self) -> bool {
        matches!(
            self,
            NodeKind::Hangup | NodeKind::Queue(_) | NodeKind::Transfer { .. }
        )
    }
}

/// Something to play: the same for everyone, or per caller language.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    One(PromptItem),
    /// Keyed by language (`en`, `zh`); always has the flow's language.
    ByLanguage(BTreeMap<String, PromptItem>),
}

impl Prompt {
    /// Every variant (each language's).
    pub fn items(&self) -> Vec<&PromptItem> {
        match self {
            Prompt::One(p) => vec![p],
            Prompt::ByLanguage(map) => map.values().collect(),
        }
    }

    /// What a caller speaking `language` hears, the flow's `fallback`
    /// language when there is no variant in theirs.
    pub fn pick<'a>(&'a self, language: Option<&str>, fallback: &str) -> &'a PromptItem {
        match self {
            Prompt::One(p) => p,
            Prompt::ByLanguage(map) => language
                .and_then(|l| map.get(l))
                .or_else(|| map.get(fallback))
                .or_else(|| map.values().next())
                .expect("a per-language prompt has at least the flow's language"),
        }
    }
}

/// One piece of audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptItem {
    /// A WAV file, relative to the prompts folder (`en/menu.wav`).
    File(PathBuf),
    /// Text spoken by the TTS backend in `voice` (one of [`VOICES`]).
    Say { text: String, voice: String },
}

/// Voices `say` may use: espeak-ng voice names (those `media::tts` speaks).
pub const VOICES: [&str; 4] = crate::media::tts::Voice::NAMES;

/// The voice of a language's `say` prompts when none is given.
pub fn default_voice(language: &str) -> Option<&'static str> {
    match language {
        "en" => Some("en"),
        "zh" => Some("cmn"),
        _ => None,
    }
}

/// The keys DTMF has.
pub const DTMF_KEYS: &str = "0123456789*#ABCD";

#[derive(Debug, Clone)]
pub struct Menu {
    pub prompts: Vec<Prompt>,
    /// Key -> node.
    pub choices: BTreeMap<char, String>,
    /// How long to wait for the key after the prompt.
    pub timeout_ms: u64,
    /// Further attempts after the first.
    pub retries: u32,
    /// Played after a key that is not a choice, before the menu again.
    pub invalid_prompts: Vec<Prompt>,
    /// Played when no key came, before the menu again.
    pub timeout_prompts: Vec<Prompt>,
    /// Where to go when retries run out.
    pub exhausted: String,
}

#[derive(Debug, Clone)]
pub struct Collect {
    pub prompts: Vec<Prompt>,
    pub min_digits: u32,
    pub max_digits: u32,
    /// Ends the input early (not part of the digits); `None`: only
    /// `max_digits` or the inter-digit timeout end it.
    pub terminator: Option<char>,
    pub first_digit_timeout_ms: u64,
    pub inter_digit_timeout_ms: u64,
    pub retries: u32,
    /// Played after fewer than `min_digits`, before asking again.
    pub invalid_prompts: Vec<Prompt>,
    pub timeout_prompts: Vec<Prompt>,
    /// Also keep the digits in `vars.<var>`.
    pub var: Option<String>,
    pub next: String,
    pub exhausted: String,
}

/// One `branch` case.
#[derive(Debug, Clone)]
pub struct Case {
    /// As written, for journals.
    pub text: String,
    pub when: Expr,
    pub next: String,
}

#[derive(Debug, Clone)]
pub struct Lookup {
    pub source: LookupSource,
    pub found: String,
    pub not_found: String,
    /// The source failed or was too slow (defaults to `not_found`).
    pub failed: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LookupSource {
    /// The customer table, by caller number.
    Customers,
    /// An HTTP GET to a CRM.
    Crm(CrmRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CrmRequest {
    /// `https://crm.example/customers?number={caller.number}`: each
    /// `{variable}` replaced by the call's value, URL-encoded.
    pub url: String,
    /// The variables the template names, in order.
    pub placeholders: Vec<String>,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub queue: String,
    pub skills: Vec<String>,
    /// Higher is served first.
    pub priority: i64,
    /// Until queues exist: extensions rung together.
    pub agents: Vec<String>,
    pub max_wait_seconds: u32,
    /// Nobody answered within `max_wait_seconds` (none: the call ends).
    pub no_answer: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Callback {
    /// Asks the caller to confirm their number or key another.
    pub prompts: Vec<Prompt>,
    /// Keeps the caller's number.
    pub confirm_digit: char,
    /// Lets the caller key another number (ended by `#`).
    pub change_digit: char,
    /// The ACD queue whose agents call back (`None`: the first queue of
    /// `contact-center/queues.toml`).
    pub queue: Option<String>,
    pub next: String,
}

#[derive(Debug, Clone)]
pub struct Voicemail {
    pub prompts: Vec<Prompt>,
    pub max_seconds: u32,
    pub beep: bool,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// An agent's extension on the agents profile.
    Extension(String),
    /// A SIP URI.
    Uri(String),
    /// A number dialled out through a trunk profile.
    Trunk { trunk: String, number: String },
}

impl std::fmt::Display for TransferTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Extension(e) => write!(f, "extension {e}"),
            Self::Uri(u) => write!(f, "{u}"),
            Self::Trunk { trunk, number } => write!(f, "{number} through trunk {trunk}"),
        }
    }
}
