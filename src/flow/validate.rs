//! Checks over the graph of all flows (nodes joined by their exits and by
//! `goto`): nodes nothing reaches, loops that never wait for the caller,
//! and nodes from which no path ends the flow.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use super::model::{Flow, NodeKind};
use crate::config::ConfigProblem;

/// A node of the whole set: (flow, node).
type Id<'a> = (&'a str, &'a str);

struct Graph<'a> {
    flows: &'a BTreeMap<String, Flow>,
    edges: BTreeMap<Id<'a>, Vec<Id<'a>>>,
}

impl<'a> Graph<'a> {
    fn new(flows: &'a BTreeMap<String, Flow>) -> Self {
        let mut edges = BTreeMap::new();
        for flow in flows.values() {
            for node in flow.nodes.values() {
                let mut out: Vec<Id<'a>> = node
                    .kind
                    .exits()
                    .into_iter()
                    .map(|(_, n)| (flow.name.as_str(), n))
                    .collect();
                if let Some(target) = goto_target(flows, &node.kind) {
                    out.push(target);
                }
                out.sort();
                out.dedup();
                edges.insert((flow.name.as_str(), node.name.as_str()), out);
            }
        }
        Self { flows, edges }
    }

    fn kind(&self, id: Id<'_>) -> &'a NodeKind {
        &self.flows[id.0].nodes[id.1].kind
    }

    /// Nodes reached from `starts` following `edges`, `starts` included.
    fn reach(
        &self,
        starts: impl IntoIterator<Item = Id<'a>>,
        follow: impl Fn(Id<'a>) -> bool,
    ) -> BTreeSet<Id<'a>> {
        let mut seen = BTreeSet::new();
        let mut todo: VecDeque<Id<'a>> = starts.into_iter().collect();
        while let Some(id) = todo.pop_front() {
            if !seen.insert(id) {
                continue;
            }
            for &next in self.edges.get(&id).into_iter().flatten() {
                if follow(next) && !seen.contains(&next) {
                    todo.push_back(next);
                }
            }
        }
        seen
    }
}

/// Where a `goto` continues, when that flow was loaded.
fn goto_target<'a>(flows: &'a BTreeMap<String, Flow>, kind: &'a NodeKind) -> Option<Id<'a>> {
    let NodeKind::Goto { flow, node } = kind else {
        return None;
    };
    let target = flows.get(flow)?;
    let node = node.as_deref().unwrap_or(&target.entry);
    Some((target.name.as_str(), node))
}

fn problem(flows: &BTreeMap<String, Flow>, id: Id<'_>, message: String) -> ConfigProblem {
    ConfigProblem {
        file: Path::new("ivr-flows").join(format!("{}.toml", id.0)),
        line: flows[id.0].nodes[id.1].line,
        field: format!("nodes.{}", id.1),
        message,
    }
}

/// Checks the graph of `flows` (each valid on its own).
pub(super) fn check_graph(flows: &BTreeMap<String, Flow>) -> Vec<ConfigProblem> {
    let g = Graph::new(flows);
    let mut problems = Vec::new();

    // Reachable: from each flow's entry, and from `goto`s into a node.
    let roots = flows.values().map(|f| (f.name.as_str(), f.entry.as_str()));
    let reached = g.reach(roots, |_| true);
    for &id in g.edges.keys() {
        if !reached.contains(&id) {
            problems.push(problem(
                flows,
                id,
                format!(
                    "unreachable: no exit leads to `{}` and it is not the entry (`{}`); route to it or remove it",
                    id.1, flows[id.0].entry
                ),
            ));
        }
    }

    // Loops that never wait for the caller (nor for an answer).
    let passive = |id: Id<'_>| {
        let k = g.kind(id);
        !k.takes_input() && !matches!(k, NodeKind::Hangup)
    };
    let mut in_loop = BTreeSet::new();
    for &id in g.edges.keys() {
        if !passive(id) || in_loop.contains(&id) {
            continue;
        }
        let successors = g.edges[&id].iter().copied().filter(|&n| passive(n));
        let from_here = g.reach(successors, passive);
        if !from_here.contains(&id) {
            continue;
        }
        // The loop: what `id` reaches that also reaches `id`.
        let members: Vec<Id<'_>> = from_here
            .iter()
            .copied()
            .filter(|&m| {
                let succ = g.edges[&m].iter().copied().filter(|&n| passive(n));
                g.reach(succ, passive).contains(&id)
            })
            .collect();
        in_loop.extend(members.iter().copied());
        let names: Vec<String> = members
            .iter()
            .map(|m| {
                if m.0 == id.0 {
                    format!("`{}`", m.1)
                } else {
                    format!("`{}` (flow {})", m.1, m.0)
                }
            })
            .collect();
        problems.push(problem(
            flows,
            id,
            format!(
                "loop without caller input through {}: a caller would go round forever; put a menu or collect in it, or end it",
                names.join(", ")
            ),
        ));
    }

    // A way out: some path to a hangup, a queue or a transfer.
    let ends: Vec<Id<'_>> = g
        .edges
        .keys()
        .copied()
        .filter(|&id| {
            let k = g.kind(id);
            k.may_end() || (matches!(k, NodeKind::Goto { .. }) && goto_target(flows, k).is_none())
        })
        .collect();
    let mut reverse: BTreeMap<Id<'_>, Vec<Id<'_>>> = BTreeMap::new();
    for (&from, tos) in &g.edges {
        for &to in tos {
            reverse.entry(to).or_default().push(from);
        }
    }
    let mut can_end: BTreeSet<Id<'_>> = BTreeSet::new();
    let mut todo: VecDeque<Id<'_>> = ends.into_iter().collect();
    while let Some(id) = todo.pop_front() {
        if can_end.insert(id) {
            todo.extend(reverse.get(&id).into_iter().flatten().copied());
        }
    }
    for &id in g.edges.keys() {
        if reached.contains(&id) && !can_end.contains(&id) && !in_loop.contains(&id) {
            problems.push(problem(
                flows,
                id,
                "no way out: no path from here reaches a hangup, queue or transfer; give one of its exits a way to end".into(),
            ));
        }
    }
    problems
}
