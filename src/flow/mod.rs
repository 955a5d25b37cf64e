//! IVR flows (`ivr-flows/`): one flow per TOML file plus the calendars,
//! loaded and checked as one version. The runtime asks [`Flows`] for the
//! current [`FlowSet`] when a call starts and keeps that `Arc` for the
//! whole call, so a reload changes new calls only.
//!
//! - `model`: the validated flow (nodes, prompts, exits).
//! - `expr`: conditions and values (`customer.tier == 'VIP'`).
//! - `calendar`: opening hours, holidays, closures, admin overrides.
//! - `raw`, `load`: the files as written, turned into the model.
//! - `validate`: checks over the graph of all flows.
//! - `engine`: one call's walk through the flows, sans-IO.

pub mod calendar;
pub mod engine;
pub mod expr;
mod load;
pub mod model;
mod raw;
#[cfg(test)]
mod tests_engine;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

pub use calendar::{Calendar, Calendars, ForcedStates};
pub use expr::{Expr, Value, Variables};
pub use model::{Flow, Node, NodeKind, Prompt, PromptItem};

use crate::config::{ConfigProblem, ProblemSink};

/// All flows and calendars of one load.
#[derive(Debug, Default)]
pub struct FlowSet {
    flows: BTreeMap<String, Arc<Flow>>,
    calendars: Calendars,
}

impl FlowSet {
    /// The flow `name` (the file stem).
    pub fn get(&self, name: &str) -> Option<Arc<Flow>> {
        self.flows.get(name).cloned()
    }

    /// Flow names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.flows.keys().map(String::as_str)
    }

    /// Every text prompt of every flow, once: (voice, text).
    pub fn sayings(&self) -> BTreeSet<(String, String)> {
        self.flows
            .values()
            .flat_map(|flow| flow.nodes.values())
            .flat_map(|node| node.kind.prompts())
            .flat_map(Prompt::items)
            .filter_map(|item| match item {
                PromptItem::Say { text, voice } => Some((voice.clone(), text.clone())),
                PromptItem::File(_) => None,
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    pub fn calendars(&self) -> &Calendars {
        &self.calendars
    }
}

/// The live flows: the current version, swapped whole on a good reload.
pub struct Flows {
    /// The `ivr-flows` folder.
    dir: PathBuf,
    prompts: PathBuf,
    forced: Arc<ForcedStates>,
    current: RwLock<Arc<FlowSet>>,
}

impl fmt::Debug for Flows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.current();
        f.debug_struct("Flows")
            .field("dir", &self.dir)
            .field("flows", &set.names().collect::<Vec<_>>())
            .field("calendars", &set.calendars().names().collect::<Vec<_>>())
            .finish()
    }
}

impl Flows {
    /// Loads `dir` (the `ivr-flows` folder; a missing folder is no flows)
    /// with prompt files looked up in `prompts`.
    pub fn load(dir: &Path, prompts: &Path) -> Result<Flows, Vec<ConfigProblem>> {
        let forced = Arc::new(ForcedStates::default());
        let set = load_set(dir, prompts, forced.clone())?;
        Ok(Flows {
            dir: dir.to_path_buf(),
            prompts: prompts.to_path_buf(),
            forced,
            current: RwLock::new(Arc::new(set)),
        })
    }

    /// The version new calls use; a call keeps it to its end (`goto` and
    /// calendars resolve within it).
    pub fn current(&self) -> Arc<FlowSet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The current version of flow `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Flow>> {
        self.current().get(name)
    }

    /// Reads the folder again; the new version replaces the current one
    /// only when it has no problem at all, otherwise the current one stays
    /// and the problems are returned.
    pub fn reload(&self) -> Result<(), Vec<ConfigProblem>> {
        let set = load_set(&self.dir, &self.prompts, self.forced.clone())?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(())
    }

    /// An admin forces calendar `name` open (`Some(true)`), closed, or
    /// back to its hours (`None`); false for an unknown calendar. The
    /// override outlives reloads.
    pub fn force_calendar(&self, name: &str, state: Option<bool>) -> bool {
        self.current().calendars().force(name, state)
    }
}

/// `*.toml` flow files of `dir` (not `calendars.toml`), sorted, by name.
pub fn flow_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .filter(|p| p.file_name().is_some_and(|n| n != "calendars.toml"))
                .filter_map(|p| Some((p.file_stem()?.to_string_lossy().into_owned(), p)))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Loads and checks every flow and the calendars of `dir` as one version.
pub fn load_set(
    dir: &Path,
    prompts: &Path,
    forced: Arc<ForcedStates>,
) -> Result<FlowSet, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let calendar_list = calendar::load_calendars(dir, &mut problems);
    let calendar_names: BTreeSet<String> = calendar_list.iter().map(|c| c.name.clone()).collect();

    // Read and parse every file first: flows refer to each other.
    let mut parsed = Vec::new();
    for (name, path) in flow_files(dir) {
        let shown = Path::new("ivr-flows").join(path.file_name().unwrap_or_default());
        match std::fs::read_to_string(&path) {
            Ok(text) => parsed.push((name, shown, text)),
            Err(e) => problems.push(ConfigProblem {
                file: shown,
                line: 0,
                field: String::new(),
                message: format!("cannot read: {e}"),
            }),
        }
    }
    let mut raws = Vec::new();
    let mut names: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    for (name, shown, text) in &parsed {
        let mut sink = ProblemSink::new(shown, text);
        if !load::is_name(name) {
            sink.push(
                0,
                "",
                format!(
                    "`{name}` is not a flow name; name the file with letters, digits, `_` and `-`"
                ),
            );
        }
        let raw = load::parse_raw(text, &mut sink);
        names.insert(
            name.clone(),
            raw.as_ref().map(|r| r.nodes.keys().cloned().collect()),
        );
        problems.append(&mut sink.problems);
        raws.push((name, shown, text, raw));
    }

    let prompts_shown = prompts
        .strip_prefix(dir.parent().unwrap_or(Path::new("")))
        .unwrap_or(prompts);
    let ctx = load::Context {
        prompts_dir: prompts,
        prompts_shown,
        calendars: &calendar_names,
        flows: &names,
    };
    let mut flows = BTreeMap::new();
    for (name, shown, text, raw) in raws {
        let Some(raw) = raw else { continue };
        let mut sink = ProblemSink::new(shown, text);
        if let Some(flow) = load::build_flow(name, raw, &ctx, &mut sink) {
            flows.insert(name.clone(), flow);
        }
        problems.append(&mut sink.problems);
    }
    problems.extend(validate::check_graph(&flows));
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(FlowSet {
        flows: flows.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        calendars: Calendars::new(calendar_list, forced),
    })
}

#[cfg(test)]
mod tests;
