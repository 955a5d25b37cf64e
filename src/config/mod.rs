//! Configuration: reads a configuration folder (`switchboard.toml`,
//! `sip-profiles/*.toml`, `ivr-flows/`), checks everything before anything
//! is used, and reports each problem with file, line and field.

mod listen;
mod problem;
mod profile;
mod switch_file;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use listen::{ListenAddr, Transport, parse_listen};
pub use problem::{ConfigProblem, ProblemSink};
pub use profile::{
    AccessPolicy, DenyAction, InternalSettings, Profile, ProfileKind, QualifySettings,
    RegistrarSettings, RegistrationSettings, SecuritySettings, SipUser, TrunkSettings,
};
pub use switch_file::{LogFormat, LogSettings, SwitchSettings};

/// A whole, valid configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration folder.
    pub dir: PathBuf,
    pub switch: SwitchSettings,
    /// Profiles sorted by name.
    pub profiles: Vec<Profile>,
}

impl Config {
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }
}

/// Loads and checks the configuration folder `dir`.
pub fn load(dir: &Path) -> Result<Config, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let switch_path = dir.join("switchboard.toml");
    let shown = PathBuf::from("switchboard.toml");
    let switch = match std::fs::read_to_string(&switch_path) {
        Ok(text) => {
            let mut sink = ProblemSink::new(&shown, &text);
            let s = switch_file::parse_switch(&text, dir, &mut sink);
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
    let profiles_dir = dir.join("sip-profiles");
    match std::fs::read_dir(&profiles_dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                let shown = Path::new("sip-profiles").join(path.file_name().unwrap_or_default());
                if let Some(p) = profile::load_profile(&path, &shown, &mut problems) {
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
    cross_check(dir, &profiles, &mut problems);

    match switch {
        Some(switch) if problems.is_empty() => Ok(Config {
            dir: dir.to_path_buf(),
            switch,
            profiles,
        }),
        _ => Err(problems),
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
fn cross_check(dir: &Path, profiles: &[Profile], problems: &mut Vec<ConfigProblem>) {
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
                .any(|q| &q.name == target && matches!(q.kind, ProfileKind::Internal(_)));
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
