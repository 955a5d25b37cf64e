//! The QA rules as the scorer uses them, checked: categories of weighted
//! items, each listening for phrases in one channel or reading one signal
//! figure.

use crate::qa::Channel;
use crate::qa::matcher::Phrase;

/// Default fuzzy-match threshold (`[matching] threshold`).
pub const DEFAULT_THRESHOLD: f64 = 0.8;

/// The whole rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// A phrase is heard when it matches at least this well (0..1).
    pub threshold: f64,
    /// In file order.
    pub categories: Vec<Category>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            threshold: DEFAULT_THRESHOLD,
            categories: Vec::new(),
        }
    }
}

impl Rules {
    /// Every item with its category, in file order.
    pub fn items(&self) -> impl Iterator<Item = (&Category, &Item)> {
        self.categories
            .iter()
            .flat_map(|c| c.items.iter().map(move |i| (c, i)))
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items().map(|(_, i)| i).find(|i| i.id == id)
    }

    pub fn is_empty(&self) -> bool {
        self.categories.iter().all(|c| c.items.is_empty())
    }
}

/// A group of items scored together (attitude, process...).
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub name: String,
    /// Its share of the call's score, relative to the other categories.
    pub weight: f64,
    pub items: Vec<Item>,
}

/// One thing a QA listener checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Unique in the file; results name it.
    pub id: String,
    /// For people reading a score.
    pub description: String,
    /// Its share of its category's score, relative to the other items.
    pub weight: f64,
    /// Failing it makes the call's score 0.
    pub fatal: bool,
    /// Whose words are checked (agent unless said).
    pub channel: Channel,
    /// Overrides the rules' threshold for this item's phrases.
    pub threshold: Option<f64>,
    pub check: Check,
}

/// The kinds of item, as written in `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Banned,
    Required,
    Resolution,
    Silence,
    Overtalk,
    Hold,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Banned,
        Kind::Required,
        Kind::Resolution,
        Kind::Silence,
        Kind::Overtalk,
        Kind::Hold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Banned => "banned",
            Kind::Required => "required",
            Kind::Resolution => "resolution",
            Kind::Silence => "silence",
            Kind::Overtalk => "overtalk",
            Kind::Hold => "hold",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// What an item checks, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Fails when any phrase is heard.
    Banned { phrases: Vec<Phrase> },
    /// Passes when any phrase is heard inside `window`; N/A when its
    /// condition was not heard.
    Required {
        phrases: Vec<Phrase>,
        window: Window,
        condition: Option<Condition>,
    },
    /// The last of the commitments and deflections heard decides: a
    /// commitment passes, a deflection fails; N/A when neither was heard.
    Resolution {
        commitments: Vec<Phrase>,
        deflections: Vec<Phrase>,
    },
    /// Fails when the longest silence is longer.
    Silence { max_seconds: f64 },
    /// Fails when both spoke at once for more of the call.
    Overtalk { max_percent: f64 },
    /// Fails when the caller was on hold longer.
    Hold { max_minutes: f64 },
}

impl Check {
    pub fn kind(&self) -> Kind {
        match self {
            Check::Banned { .. } => Kind::Banned,
            Check::Required { .. } => Kind::Required,
            Check::Resolution { .. } => Kind::Resolution,
            Check::Silence { .. } => Kind::Silence,
            Check::Overtalk { .. } => Kind::Overtalk,
            Check::Hold { .. } => Kind::Hold,
        }
    }
}

/// Where in the call a required phrase counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    Anywhere,
    /// Starting within this many seconds of the recording's start.
    FirstSeconds(f64),
    /// Ending within this many seconds of the recording's end.
    LastSeconds(f64),
}

/// A required item applies only when this was heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub channel: Channel,
    pub phrases: Vec<Phrase>,
}
