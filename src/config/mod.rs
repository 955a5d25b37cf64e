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
    AccessPolicy, Application, DenyAction, InternalSettings, Profile, ProfileKind, ProfileMedia,
    QualifySettings, RegistrarSettings, RegistrationSettings, SecuritySettings, SipUser,
    TrunkSettings,
};
pub use switch_file::{LogFormat, LogSettings, MediaSettings, SwitchSettings};

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
    cross_check(dir, &profiles, &attempted, &mut problems);

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
