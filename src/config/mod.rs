//! Configuration: reads a configuration folder (`switchboard.toml`,
//! `sip-profiles/*.toml`, `ivr-flows/`, `contact-center/`, `qa/`), checks everything before anything
//! is used, and reports each problem with file, line and field.

mod listen;
mod problem;
mod profile;
mod qa_settings;
mod switch_file;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::flow::{FlowSet, Flows};

pub use listen::{ListenAddr, Transport, parse_listen};
pub use problem::{ConfigProblem, ProblemSink, read_optional};
pub use profile::{
    AccessPolicy, Application, DenyAction, InternalSettings, Profile, ProfileKind, ProfileMedia,
    QualifySettings, RegistrarSettings, RegistrationSettings, SecuritySettings, SipUser,
    TrunkSettings, UriTarget, uri_target,
};
pub use qa_settings::{QaSettings, RecognizerSettings};
pub use switch_file::{LogFormat, LogSettings, MediaSettings, SwitchSettings};

/// A whole, valid configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration folder.
    pub dir: PathBuf,
    pub switch: SwitchSettings,
    /// Profiles sorted by name.
    pub profiles: Vec<Profile>,
    /// The IVR flows and calendars of `ivr-flows/` (none when the folder
    /// is absent or empty); shared, reloadable.
    pub flows: Arc<Flows>,
    /// Agents and queues (`contact-center/`).
    pub contact_center: crate::acd::config::ContactCenter,
    /// The QA rules (`qa/rules.toml`); `None` when there is no such file.
    pub qa_rules: Option<crate::qa::rules::Rules>,
}

impl Config {
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Internal profiles that listen beyond loopback while users still have
    /// the published demo passwords: (profile, extensions).
    pub fn exposed_demo_credentials(&self) -> Vec<(&str, Vec<&str>)> {
        self.profiles
            .iter()
            .filter(|p| p.listen.iter().any(|l| !l.addr.ip().is_loopback()))
            .filter_map(|p| match &p.kind {
                ProfileKind::Internal(s) => {
                    let demo: Vec<&str> = s
                        .users
                        .iter()
                        .filter(|u| u.has_demo_password())
                        .map(|u| u.extension.as_str())
                        .collect();
                    (!demo.is_empty()).then_some((p.name.as_str(), demo))
                }
                ProfileKind::Trunk(_) => None,
            })
            .collect()
    }
}

/// The switch's settings and SIP profiles, without the IVR flows: what
/// the admin commands that only read the database need (they work while a
/// flow file is being edited and is broken).
#[derive(Debug)]
pub struct Settings {
    pub switch: SwitchSettings,
    pub profiles: Vec<Profile>,
    pub contact_center: crate::acd::config::ContactCenter,
}

/// Loads and checks `switchboard.toml` and `sip-profiles/` of `dir`.
pub fn load_settings(dir: &Path) -> Result<Settings, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let (switch, profiles, complete) = settings_parts(dir, &mut problems);
    let contact_center = contact_center(dir, &profiles, complete, &mut problems);
    match switch {
        Some(switch) if problems.is_empty() => Ok(Settings {
            switch,
            profiles,
            contact_center,
        }),
        _ => Err(problems),
    }
}

/// Loads and checks the configuration folder `dir`.
pub fn load(dir: &Path) -> Result<Config, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let (switch, profiles, complete) = settings_parts(dir, &mut problems);

    let prompts = switch
        .as_ref()
        .map_or_else(|| dir.join("prompts"), |s| s.prompts.clone());
    let flows_dir = dir.join("ivr-flows");
    let flows = match Flows::load(&flows_dir, &prompts) {
        Ok(f) => Some(f),
        Err(mut p) => {
            problems.append(&mut p);
            None
        }
    };
    check_numbers(
        dir,
        &profiles,
        flows.as_ref().map(|f| f.current()).as_deref(),
        &crate::flow::flow_files(&flows_dir),
        &mut problems,
    );
    let contact_center = contact_center(dir, &profiles, complete, &mut problems);
    if let Some(f) = &flows {
        check_transfers(&profiles, &f.current(), &mut problems);
        check_queues(&contact_center, &f.current(), &mut problems);
    }
    let qa_rules = crate::qa::rules::load(dir, &mut problems);

    match (switch, flows) {
        (Some(switch), Some(flows)) if problems.is_empty() => Ok(Config {
            dir: dir.to_path_buf(),
            switch,
            profiles,
            flows: Arc::new(flows),
            contact_center,
            qa_rules,
        }),
        _ => Err(problems),
    }
}

/// `contact-center/`, its agents checked against the internal profiles'
/// users.
fn contact_center(
    dir: &Path,
    profiles: &[Profile],
    complete: bool,
    problems: &mut Vec<ConfigProblem>,
) -> crate::acd::config::ContactCenter {
    // A profile with problems of its own may hold the agents' users: their
    // ids are not reported again.
    if !complete {
        return crate::acd::config::load(dir, None, problems);
    }
    crate::acd::config::load(dir, Some(&extensions(profiles)), problems)
}

/// The SIP users of the internal profiles: who may be an agent.
pub fn extensions(profiles: &[Profile]) -> Vec<&str> {
    profiles
        .iter()
        .filter_map(|p| match &p.kind {
            ProfileKind::Internal(s) => Some(s.users.iter().map(|u| u.extension.as_str())),
            ProfileKind::Trunk(_) => None,
        })
        .flatten()
        .collect()
}

/// `switchboard.toml` (if valid) and the valid profiles; problems go to
/// `problems`.
fn settings_parts(
    dir: &Path,
    problems: &mut Vec<ConfigProblem>,
) -> (Option<SwitchSettings>, Vec<Profile>, bool) {
    let switch_path = dir.join("switchboard.toml");
    let shown = PathBuf::from("switchboard.toml");
    let switch = match std::fs::read_to_string(&switch_path) {
        Ok(text) => {
            let mut sink = ProblemSink::new(&shown, &text);
            // Absolute, so the paths stored in the database (recordings)
            // mean the same to every process, whatever its working folder.
            let base = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            let s = switch_file::parse_switch(&text, &base, &mut sink);
            problems.append(&mut sink.problems);
            s
        }
        Err(e) => {
            problems.push(file_problem(
                &shown,
                format!("cannot read {}: {e}", switch_path.display()),
            ));
            None
        }
    };

    let mut profiles = Vec::new();
    // Every profile file, valid or not: a reference to one that has its
    // own problems is not reported again.
    let mut attempted = Vec::new();
    let profiles_dir = dir.join("sip-profiles");
    match std::fs::read_dir(&profiles_dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for path in &paths {
                if let Some(stem) = path.file_stem() {
                    attempted.push(stem.to_string_lossy().into_owned());
                }
            }
            for path in paths {
                let shown = Path::new("sip-profiles").join(path.file_name().unwrap_or_default());
                if let Some(p) = profile::load_profile(&path, &shown, problems) {
                    profiles.push(p);
                }
            }
        }
        Err(e) => problems.push(file_problem(
            Path::new("sip-profiles"),
            format!(
                "cannot read the profiles folder {}: {e}",
                profiles_dir.display()
            ),
        )),
    }
    if profiles.is_empty() && problems.is_empty() {
        problems.push(file_problem(
            Path::new("sip-profiles"),
            "no profiles; add at least one *.toml file (see the README)".into(),
        ));
    }
    cross_check(dir, &profiles, &attempted, problems);

    let complete = attempted.len() == profiles.len();
    (switch, profiles, complete)
}

/// Trunk numbers that run a flow name a flow and calendar that exist.
/// `flows` is `None` when the flows have problems of their own: then only
/// numbers naming no flow file at all are reported.
fn check_numbers(
    dir: &Path,
    profiles: &[Profile],
    flows: Option<&FlowSet>,
    files: &[(String, PathBuf)],
    problems: &mut Vec<ConfigProblem>,
) {
    for p in profiles {
        let ProfileKind::Trunk(t) = &p.kind else {
            continue;
        };
        let shown = Path::new("sip-profiles").join(format!("{}.toml", p.name));
        let text = std::fs::read_to_string(dir.join(&shown)).unwrap_or_default();
        let sink = ProblemSink::new(&shown, &text);
        for (number, app) in &t.numbers {
            let Application::Flow { flow, calendar } = app else {
                continue;
            };
            let line = sink
                .line_of_key(&format!("\"{number}\""))
                .max(sink.line_of_key(number));
            let mut report = |message: String| {
                problems.push(ConfigProblem {
                    file: shown.clone(),
                    line,
                    field: format!("routing.numbers.{number}"),
                    message,
                })
            };
            if !files.iter().any(|(name, _)| name == flow) {
                let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
                report(format!(
                    "no flow `{flow}`; flows (ivr-flows/*.toml): {}",
                    if names.is_empty() {
                        "(none defined)".to_string()
                    } else {
                        names.join(", ")
                    }
                ));
                continue;
            }
            let Some(set) = flows else { continue };
            if let Some(c) = calendar
                && set.calendars().get(c).is_none()
            {
                let names: Vec<&str> = set.calendars().names().collect();
                report(format!(
                    "unknown calendar `{c}`; calendars (ivr-flows/calendars.toml): {}",
                    if names.is_empty() {
                        "(none defined)".to_string()
                    } else {
                        names.join(", ")
                    }
                ));
            }
        }
    }
}

/// A flow's `queue` node names a queue of `contact-center/queues.toml`,
/// or lists the `agents` it rings; a `callback` node's queue is one too.
fn check_queues(
    cc: &crate::acd::config::ContactCenter,
    flows: &FlowSet,
    problems: &mut Vec<ConfigProblem>,
) {
    for name in flows.names() {
        let Some(flow) = flows.get(name) else {
            continue;
        };
        for node in flow.nodes.values() {
            let (queue, why) = match &node.kind {
                crate::flow::model::NodeKind::Queue(q) if q.agents.is_empty() => {
                    (q.queue.as_str(), " and no `agents` to ring")
                }
                crate::flow::model::NodeKind::Callback(c) => match &c.queue {
                    Some(q) => (q.as_str(), ""),
                    None => continue,
                },
                _ => continue,
            };
            if cc.queue(queue).is_some() {
                continue;
            }
            let known: Vec<&str> = cc.queues.iter().map(|q| q.spec.name.as_str()).collect();
            problems.push(ConfigProblem {
                file: Path::new("ivr-flows").join(format!("{name}.toml")),
                line: node.line,
                field: format!("nodes.{}.queue", node.name),
                message: format!(
                    "no queue `{queue}` in contact-center/queues.toml ({}){why}",
                    if known.is_empty() {
                        "no queues defined".to_string()
                    } else {
                        format!("queues: {}", known.join(", "))
                    }
                ),
            });
        }
    }
}

/// Transfers out through a trunk name a trunk profile with an outbound
/// proxy.
fn check_transfers(profiles: &[Profile], flows: &FlowSet, problems: &mut Vec<ConfigProblem>) {
    let trunks: Vec<&Profile> = profiles
        .iter()
        .filter(|p| matches!(p.kind, ProfileKind::Trunk(_)))
        .collect();
    for name in flows.names() {
        let Some(flow) = flows.get(name) else {
            continue;
        };
        for node in flow.nodes.values() {
            let crate::flow::model::NodeKind::Transfer {
                target: crate::flow::model::TransferTarget::Trunk { trunk, .. },
                ..
            } = &node.kind
            else {
                continue;
            };
            let message = match trunks.iter().find(|p| &p.name == trunk) {
                Some(Profile {
                    kind: ProfileKind::Trunk(t),
                    ..
                }) if t.outbound.is_some() => continue,
                Some(_) => format!(
                    "trunk profile `{trunk}` has no [outbound] proxy to call through; add one to sip-profiles/{trunk}.toml"
                ),
                None => format!(
                    "no trunk profile `{trunk}`; trunk profiles: {}",
                    if trunks.is_empty() {
                        "(none defined)".to_string()
                    } else {
                        trunks
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            };
            problems.push(ConfigProblem {
                file: Path::new("ivr-flows").join(format!("{name}.toml")),
                line: node.line,
                field: format!("nodes.{}.trunk", node.name),
                message,
            });
        }
    }
}

fn file_problem(file: &Path, message: String) -> ConfigProblem {
    ConfigProblem {
        file: file.to_path_buf(),
        line: 0,
        field: String::new(),
        message,
    }
}

/// Checks that need several profiles: shared sockets, references.
fn cross_check(
    dir: &Path,
    profiles: &[Profile],
    attempted: &[String],
    problems: &mut Vec<ConfigProblem>,
) {
    let mut owners: HashMap<ListenAddr, &str> = HashMap::new();
    for p in profiles {
        let shown = Path::new("sip-profiles").join(format!("{}.toml", p.name));
        let text = std::fs::read_to_string(dir.join(&shown)).unwrap_or_default();
        let sink = ProblemSink::new(&shown, &text);
        for l in &p.listen {
            if let Some(other) = owners.insert(*l, &p.name) {
                problems.push(ConfigProblem {
                    file: shown.clone(),
                    line: sink.line_of_key("listen"),
                    field: "listen".into(),
                    message: format!("`{l}` is already used by profile `{other}`; each socket belongs to one profile"),
                });
            }
        }
        if let ProfileKind::Trunk(t) = &p.kind
            && let Some(target) = &t.agents_profile
        {
            let ok = profiles
                .iter()
                .any(|q| &q.name == target && matches!(q.kind, ProfileKind::Internal(_)))
                || (attempted.contains(target) && !profiles.iter().any(|q| &q.name == target));
            if !ok {
                let internal: Vec<&str> = profiles
                    .iter()
                    .filter(|q| matches!(q.kind, ProfileKind::Internal(_)))
                    .map(|q| q.name.as_str())
                    .collect();
                problems.push(ConfigProblem {
                    file: shown.clone(),
                    line: sink.line_of_key("agents_profile"),
                    field: "routing.agents_profile".into(),
                    message: format!(
                        "no internal profile named `{target}`; valid: {}",
                        if internal.is_empty() {
                            "(none defined)".to_string()
                        } else {
                            internal.join(", ")
                        }
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository root is the demo configuration.
    fn demo() -> Config {
        load(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("the demo configuration is valid")
    }

    #[test]
    fn demo_configuration_is_valid_and_as_documented() {
        let cfg = demo();
        let carrier = cfg.profile("carrier").unwrap();
        assert_eq!(carrier.listen.len(), 2);
        assert!(
            carrier
                .listen
                .iter()
                .all(|l| l.addr == "127.0.0.1:5080".parse().unwrap())
        );
        let ProfileKind::Internal(agents) = &cfg.profile("agents").unwrap().kind else {
            panic!("agents is not internal");
        };
        let users: Vec<_> = agents
            .users
            .iter()
            .map(|u| (u.extension.as_str(), u.password.as_str()))
            .collect();
        assert_eq!(
            users,
            [
                ("1001", "pw1001"),
                ("1002", "pw1002"),
                ("1003", "pw1003"),
                ("1004", "pw1004"),
                ("1005", "pw1005")
            ]
        );
        // On loopback the demo passwords are not a warning.
        assert!(cfg.exposed_demo_credentials().is_empty());
        // The demo IVR numbers: 100 and +15550100 open, 199 closed.
        let ProfileKind::Trunk(trunk) = &carrier.kind else {
            panic!("carrier is a trunk");
        };
        let flow = |n: &str| match &trunk.numbers[n] {
            Application::Flow { flow, calendar } => (flow.clone(), calendar.clone()),
            other => panic!("{n} runs {other:?}"),
        };
        assert_eq!(flow("100"), ("demo".into(), None));
        assert_eq!(flow("+15550100"), ("demo".into(), None));
        assert_eq!(flow("199"), ("demo".into(), Some("always-closed".into())));
        assert_eq!(trunk.numbers["9196"], Application::Echo);
        assert_eq!(trunk.numbers["9197"], Application::RecordPlayback);
        let demo = cfg.flows.get("demo").expect("the demo flow is loaded");
        assert_eq!(demo.calendar.as_deref(), Some("always-open"));
        // The demo QA rules (qa/rules.toml).
        assert!(cfg.qa_rules.as_ref().is_some_and(|r| !r.is_empty()));
    }

    #[test]
    fn demo_passwords_beyond_loopback_are_reported() {
        let mut cfg = demo();
        for p in &mut cfg.profiles {
            if p.name == "agents" {
                p.listen[0].addr = "192.0.2.10:5060".parse().unwrap();
            }
        }
        let exposed = cfg.exposed_demo_credentials();
        assert_eq!(exposed.len(), 1);
        assert_eq!(exposed[0].0, "agents");
        assert_eq!(exposed[0].1.len(), 5);
    }
}
