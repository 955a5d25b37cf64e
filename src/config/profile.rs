//! SIP profiles (`sip-profiles/<name>.toml`): a set of listening sockets
//! plus who may use them. `trunk` profiles face carriers; `internal`
//! profiles are the registrar for agents' softphones.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use super::listen::{ListenAddr, parse_listen};
use super::problem::ProblemSink;
use crate::media::sdp::Codec;

/// A validated profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The file stem: `carrier` for `sip-profiles/carrier.toml`.
    pub name: String,
    pub listen: Vec<ListenAddr>,
    /// Log every SIP message sent and received on this profile.
    pub sip_trace: bool,
    pub access: AccessPolicy,
    pub security: SecuritySettings,
    /// The profile's `[media]` table: which codecs its legs may use.
    pub media: ProfileMedia,
    pub kind: ProfileKind,
}

/// Codecs the call legs of one profile may negotiate (`[media]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileMedia {
    /// Most preferred first; always a non-empty subset of the codecs the
    /// media core relays and transcodes, without repeats.
    pub codecs: Vec<Codec>,
}

impl Default for ProfileMedia {
    /// The switch's full list, in its own order.
    fn default() -> Self {
        Self {
            codecs: supported_codecs(),
        }
    }
}

/// The codecs the media core relays and transcodes, in the switch's order.
fn supported_codecs() -> Vec<Codec> {
    crate::call::MediaContext::default_codecs()
}

#[derive(Debug, Clone)]
pub enum ProfileKind {
    Trunk(TrunkSettings),
    Internal(InternalSettings),
}

/// Who may send requests to a profile.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    /// Empty means everyone.
    pub allow: Vec<IpNet>,
    pub deny_action: DenyAction,
}

impl AccessPolicy {
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }
}

/// What a refused source gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DenyAction {
    /// Answer 403 Forbidden.
    Reject,
    /// Say nothing (scanners learn nothing).
    Drop,
}

/// Flood and scanner defence settings of one profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// Requests per second allowed from one source address.
    pub rate_limit: u32,
    /// Requests a source may send at once before the rate applies.
    pub burst: u32,
    /// Failed authentications from one source before it is banned.
    pub ban_after_failures: u32,
    /// How long a ban lasts.
    pub ban_seconds: u64,
    /// User-Agent substrings (case-insensitive) that are refused.
    pub user_agent_blocklist: Vec<String>,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            rate_limit: 200,
            burst: 400,
            ban_after_failures: 10,
            ban_seconds: 600,
            user_agent_blocklist: crate::sip::security::DEFAULT_BLOCKED_USER_AGENTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// A carrier-facing profile.
#[derive(Debug, Clone, Default)]
pub struct TrunkSettings {
    /// Numbers that match an extension of this internal profile ring the
    /// agent registered there.
    pub agents_profile: Option<String>,
    /// OPTIONS keep-alive ("qualify") targets, SIP URIs of carrier peers.
    pub qualify: Option<QualifySettings>,
    /// Registration of this trunk to a carrier.
    pub registration: Option<RegistrationSettings>,
    /// Where calls out through this trunk go (`[outbound] proxy`).
    pub outbound: Option<OutboundSettings>,
    /// Numbers answered by the switch itself (`[routing.numbers]`),
    /// looked up before the agents.
    pub numbers: std::collections::BTreeMap<String, Application>,
}

/// What the switch itself does with a call to one of a trunk's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Application {
    /// Answer and send the caller's audio back (a media test).
    Echo,
    /// Answer, record the caller until `#` or 30 s, play it back.
    RecordPlayback,
    /// Run the IVR flow `flow` (`"flow:demo"`); `calendar` replaces the
    /// flow's default calendar (`{ flow = "demo", calendar = "always-closed" }`).
    Flow {
        flow: String,
        calendar: Option<String>,
    },
    /// An agent's feature code, dialled from their (authenticated) phone
    /// on an internal profile; never written in a profile.
    AgentFeature {
        agent: String,
        code: crate::acd::feature::FeatureCode,
    },
}

impl Application {
    pub const NAMES: [&'static str; 2] = ["echo", "record-playback"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "echo" => Some(Application::Echo),
            "record-playback" => Some(Application::RecordPlayback),
            _ => None,
        }
    }

    /// The name journals and CDRs use: `echo`, `flow:demo`.
    pub fn label(&self) -> String {
        match self {
            Application::Echo => "echo".into(),
            Application::RecordPlayback => "record-playback".into(),
            Application::Flow { flow, .. } => format!("flow:{flow}"),
            Application::AgentFeature { code, .. } => format!("feature:{}", code.dialled()),
        }
    }
}

/// One value of `[routing.numbers]`: `"echo"`, `"flow:NAME"` or
/// `{ flow = "NAME", calendar = "NAME" }`.
fn parse_application(value: &toml::Value) -> Result<Application, String> {
    let valid = || {
        format!(
            "valid: {}, \"flow:NAME\", {{ flow = \"NAME\", calendar = \"NAME\" }}",
            Application::NAMES.join(", ")
        )
    };
    match value {
        toml::Value::String(s) => {
            if let Some(flow) = s.strip_prefix("flow:") {
                if flow.is_empty() {
                    return Err(format!("`{s}` names no flow; {}", valid()));
                }
                return Ok(Application::Flow {
                    flow: flow.to_string(),
                    calendar: None,
                });
            }
            Application::from_name(s)
                .ok_or_else(|| format!("unknown application `{s}`; {}", valid()))
        }
        toml::Value::Table(t) => {
            if let Some(k) = t.keys().find(|k| *k != "flow" && *k != "calendar") {
                return Err(format!(
                    "unknown key `{k}`; a flow number has `flow` and optionally `calendar`"
                ));
            }
            let text = |key: &str| match t.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(_) => Err(format!("`{key}` must be a name (a non-empty string)")),
            };
            let flow = text("flow")?
                .ok_or_else(|| "missing `flow`: the flow this number runs".to_string())?;
            Ok(Application::Flow {
                flow,
                calendar: text("calendar")?,
            })
        }
        other => Err(format!("`{other}` is not an application; {}", valid())),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualifySettings {
    pub peers: Vec<String>,
    #[serde(default = "default_qualify_interval")]
    pub interval_seconds: u64,
}

fn default_qualify_interval() -> u64 {
    30
}

/// The carrier proxy that calls out through a trunk are sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundSettings {
    /// As written, e.g. `sip:127.0.0.1:5090;transport=tcp`.
    pub proxy: String,
    /// The proxy's host (an IP address or a DNS name).
    pub host: String,
    pub port: u16,
    pub transport: super::Transport,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundFile {
    proxy: Spanned<String>,
}

/// Where a SIP URI sends to: its host (an IP address or a DNS name), port
/// and transport, and its user part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTarget {
    pub host: String,
    pub port: u16,
    pub transport: super::Transport,
    pub user: String,
}

/// Reads a `sip:` URI with a host, over UDP (the default) or TCP; the
/// error says what is wrong with it.
pub fn uri_target(text: &str) -> Result<UriTarget, &'static str> {
    use crate::sip::codec::{Host, Scheme, Uri};
    let uri = match Uri::parse(text) {
        Ok(u) if u.scheme == Scheme::Sip => u,
        _ => return Err("is not a sip: URI"),
    };
    let host = match uri.host {
        Some(Host::Domain(d)) => d.to_string(),
        Some(Host::V4(a)) => a.to_string(),
        Some(Host::V6(a)) => a.to_string(),
        None => return Err("names no host"),
    };
    let transport = match uri.params.get("transport") {
        None => super::Transport::Udp,
        Some(t) if t.eq_ignore_ascii_case("udp") => super::Transport::Udp,
        Some(t) if t.eq_ignore_ascii_case("tcp") => super::Transport::Tcp,
        Some(_) => return Err("names a transport other than udp or tcp"),
    };
    let user = uri
        .user_unescaped()
        .map(|u| String::from_utf8_lossy(&u).into_owned())
        .unwrap_or_default();
    Ok(UriTarget {
        host,
        port: uri.port.unwrap_or(5060),
        transport,
        user,
    })
}

/// Parses `[outbound] proxy`.
fn parse_outbound(file: OutboundFile, sink: &mut ProblemSink<'_>) -> Option<OutboundSettings> {
    let text = file.proxy.get_ref();
    match uri_target(text) {
        Ok(t) => Some(OutboundSettings {
            proxy: text.clone(),
            host: t.host,
            port: t.port,
            transport: t.transport,
        }),
        Err(why) => {
            sink.at_span(
                file.proxy.span(),
                "outbound.proxy",
                format!(
                    "`{text}` {why}; write e.g. \"sip:192.0.2.10:5060\" or \"sip:proxy.example.com;transport=tcp\""
                ),
            );
            None
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSettings {
    /// The carrier's registrar, e.g. `sip:127.0.0.1:5090`.
    pub registrar: String,
    pub username: String,
    pub password: String,
    /// Address of record; defaults to `sip:username@registrar-host`.
    #[serde(default)]
    pub aor: Option<String>,
    #[serde(default = "default_registration_expires")]
    pub expires: u32,
}

fn default_registration_expires() -> u32 {
    3600
}

/// The agents' registrar profile.
#[derive(Debug, Clone)]
pub struct InternalSettings {
    pub realm: String,
    /// Digest algorithms offered, strongest first: `SHA-256`, `MD5`.
    pub digest_algorithms: Vec<String>,
    pub registrar: RegistrarSettings,
    pub users: Vec<SipUser>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarSettings {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
}

impl Default for RegistrarSettings {
    fn default() -> Self {
        Self {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 600,
            max_contacts: 5,
        }
    }
}

/// A SIP account on an internal profile (an agent's softphone).
#[derive(Debug, Clone)]
pub struct SipUser {
    pub extension: String,
    pub password: String,
    pub display_name: Option<String>,
}

impl SipUser {
    /// True for the published demo credentials (`pw1001`...).
    pub fn has_demo_password(&self) -> bool {
        self.password == format!("pw{}", self.extension)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    kind: Spanned<String>,
    listen: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    sip_trace: bool,
    #[serde(default)]
    access: AccessFile,
    #[serde(default)]
    security: SecuritySettings,
    media: Option<MediaFile>,
    // trunk
    routing: Option<RoutingFile>,
    qualify: Option<QualifySettings>,
    registration: Option<RegistrationSettings>,
    outbound: Option<OutboundFile>,
    // internal
    realm: Option<String>,
    digest_algorithms: Option<Vec<Spanned<String>>>,
    registrar: Option<RegistrarSettings>,
    #[serde(default)]
    users: Vec<UserFile>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AccessFile {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    deny_action: Option<DenyAction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaFile {
    codecs: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    agents_profile: Option<Spanned<String>>,
    #[serde(default)]
    numbers: std::collections::BTreeMap<String, Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    extension: Spanned<String>,
    password: Spanned<String>,
    display_name: Option<String>,
}

const ALGORITHMS: [&str; 2] = ["SHA-256", "MD5"];

/// Parses and checks one profile file; problems go to `sink`.
pub fn parse_profile(name: &str, text: &str, sink: &mut ProblemSink<'_>) -> Option<Profile> {
    let file: ProfileFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            sink.toml_error(&e);
            return None;
        }
    };
    let before = sink.problems.len();

    let mut listen = Vec::new();
    if file.listen.get_ref().is_empty() {
        sink.at_span(
            file.listen.span(),
            "listen",
            "no listen address; add at least one, e.g. \"udp:127.0.0.1:5060\"".into(),
        );
    }
    for (i, l) in file.listen.get_ref().iter().enumerate() {
        match parse_listen(l.get_ref()) {
            Ok(a) if listen.contains(&a) => sink.at_span(
                l.span(),
                &format!("listen[{i}]"),
                format!("`{a}` is listed twice"),
            ),
            Ok(a) => listen.push(a),
            Err(msg) => sink.at_span(l.span(), &format!("listen[{i}]"), msg),
        }
    }

    let mut allow = Vec::new();
    for (i, a) in file.access.allow.iter().enumerate() {
        let text = a.get_ref();
        let parsed = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from));
        match parsed {
            Ok(n) => allow.push(n),
            Err(_) => sink.at_span(
                a.span(),
                &format!("access.allow[{i}]"),
                format!("`{text}` is not a network; write e.g. \"127.0.0.0/8\" or \"192.0.2.10\""),
            ),
        }
    }
    let access = AccessPolicy {
        allow,
        deny_action: file.access.deny_action.unwrap_or(DenyAction::Reject),
    };
    check_security(&file.security, sink);
    let media = match file.media.and_then(|m| m.codecs) {
        Some(list) => ProfileMedia {
            codecs: parse_codecs(&list, sink),
        },
        None => ProfileMedia::default(),
    };

    let kind = match file.kind.get_ref().as_str() {
        "trunk" => {
            for (field, present) in [
                ("realm", file.realm.is_some()),
                ("digest_algorithms", file.digest_algorithms.is_some()),
                ("registrar", file.registrar.is_some()),
                ("users", !file.users.is_empty()),
            ] {
                if present {
                    sink.push(
                        sink.line_of_key(field),
                        field,
                        "only internal profiles have this; remove it or set kind = \"internal\""
                            .into(),
                    );
                }
            }
            let (agents_profile, numbers_file) = match file.routing {
                Some(r) => (r.agents_profile.map(|s| s.into_inner()), r.numbers),
                None => (None, Default::default()),
            };
            let mut numbers = std::collections::BTreeMap::new();
            for (number, app) in numbers_file {
                let field = format!("routing.numbers.{number}");
                if number.is_empty()
                    || !number
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+*#-_.".contains(c))
                {
                    sink.at_span(
                        app.span(),
                        &field,
                        format!("`{number}` is not a dialled number; use digits, + * # or letters"),
                    );
                    continue;
                }
                match parse_application(app.get_ref()) {
                    Ok(a) => {
                        numbers.insert(number, a);
                    }
                    Err(msg) => sink.at_span(app.span(), &field, msg),
                }
            }
            ProfileKind::Trunk(TrunkSettings {
                agents_profile,
                numbers,
                qualify: file.qualify,
                registration: file.registration,
                outbound: file.outbound.and_then(|o| parse_outbound(o, sink)),
            })
        }
        "internal" => {
            for (field, present) in [
                ("routing", file.routing.is_some()),
                ("qualify", file.qualify.is_some()),
                ("registration", file.registration.is_some()),
                ("outbound", file.outbound.is_some()),
            ] {
                if present {
                    sink.push(
                        sink.line_of_key(field),
                        field,
                        "only trunk profiles have this; remove it or set kind = \"trunk\"".into(),
                    );
                }
            }
            internal_settings(
                file.realm,
                file.digest_algorithms,
                file.registrar,
                file.users,
                sink,
            )
        }
        other => {
            sink.at_span(
                file.kind.span(),
                "kind",
                format!("unknown profile kind `{other}`; valid kinds: trunk, internal"),
            );
            return None;
        }
    };
    (sink.problems.len() == before).then(|| Profile {
        name: name.to_string(),
        listen,
        sip_trace: file.sip_trace,
        access,
        security: file.security,
        media,
        kind,
    })
}

fn internal_settings(
    realm: Option<String>,
    algorithms: Option<Vec<Spanned<String>>>,
    registrar: Option<RegistrarSettings>,
    users: Vec<UserFile>,
    sink: &mut ProblemSink<'_>,
) -> ProfileKind {
    let mut digest_algorithms = Vec::new();
    for (i, a) in algorithms.unwrap_or_default().iter().enumerate() {
        match ALGORITHMS
            .iter()
            .find(|v| v.eq_ignore_ascii_case(a.get_ref()))
        {
            Some(v) => digest_algorithms.push(v.to_string()),
            None => sink.at_span(
                a.span(),
                &format!("digest_algorithms[{i}]"),
                format!("unknown algorithm `{}`; valid: SHA-256, MD5", a.get_ref()),
            ),
        }
    }
    if digest_algorithms.is_empty() {
        digest_algorithms = vec!["MD5".to_string(), "SHA-256".to_string()];
    }
    let registrar = registrar.unwrap_or_default();
    if registrar.min_expires > registrar.max_expires
        || !(registrar.min_expires..=registrar.max_expires).contains(&registrar.default_expires)
    {
        sink.push(
            sink.line_of_key("registrar"),
            "registrar",
            "need min_expires <= default_expires <= max_expires".into(),
        );
    }
    if registrar.max_contacts == 0 {
        sink.push(
            sink.line_of_key("max_contacts"),
            "registrar.max_contacts",
            "must be at least 1".into(),
        );
    }
    let mut out: Vec<SipUser> = Vec::new();
    for (i, u) in users.into_iter().enumerate() {
        let ext = u.extension.get_ref();
        let field = format!("users[{i}].extension");
        if ext.is_empty()
            || !ext
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            sink.at_span(
                u.extension.span(),
                &field,
                format!("`{ext}` is not a valid extension; use digits, letters, - _ ."),
            );
        } else if out.iter().any(|o| &o.extension == ext) {
            sink.at_span(
                u.extension.span(),
                &field,
                format!("extension `{ext}` is defined twice"),
            );
        }
        if u.password.get_ref().len() < 4 {
            sink.at_span(
                u.password.span(),
                &format!("users[{i}].password"),
                "too short; use at least 4 characters (12 or more outside a demo)".into(),
            );
        }
        out.push(SipUser {
            extension: u.extension.into_inner(),
            password: u.password.into_inner(),
            display_name: u.display_name,
        });
    }
    ProfileKind::Internal(InternalSettings {
        realm: realm.unwrap_or_else(|| "switchboard".into()),
        digest_algorithms,
        registrar,
        users: out,
    })
}

/// `media.codecs`: names of supported codecs (any case), each once, at
/// least one.
fn parse_codecs(list: &Spanned<Vec<Spanned<String>>>, sink: &mut ProblemSink<'_>) -> Vec<Codec> {
    let supported = supported_codecs();
    let valid = || {
        supported
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if list.get_ref().is_empty() {
        sink.at_span(
            list.span(),
            "media.codecs",
            format!(
                "no codec; list at least one of {} (or remove the key for all of them)",
                valid()
            ),
        );
    }
    let mut codecs: Vec<Codec> = Vec::new();
    for (i, name) in list.get_ref().iter().enumerate() {
        let field = format!("media.codecs[{i}]");
        match supported
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name.get_ref()))
        {
            Some(c) if codecs.iter().any(|o| o.matches(c)) => sink.at_span(
                name.span(),
                &field,
                format!("`{}` is listed twice", name.get_ref()),
            ),
            Some(c) => codecs.push(c.clone()),
            None => sink.at_span(
                name.span(),
                &field,
                format!("unknown codec `{}`; valid: {}", name.get_ref(), valid()),
            ),
        }
    }
    codecs
}

fn check_security(s: &SecuritySettings, sink: &mut ProblemSink<'_>) {
    if s.rate_limit == 0 {
        sink.push(
            sink.line_of_key("rate_limit"),
            "security.rate_limit",
            "must be at least 1 request per second".into(),
        );
    }
    if s.burst == 0 {
        sink.push(
            sink.line_of_key("burst"),
            "security.burst",
            "must be at least 1".into(),
        );
    }
    if s.ban_after_failures == 0 {
        sink.push(
            sink.line_of_key("ban_after_failures"),
            "security.ban_after_failures",
            "must be at least 1".into(),
        );
    }
}

/// Loads `sip-profiles/<name>.toml`.
pub fn load_profile(
    path: &Path,
    shown: &Path,
    sink_out: &mut Vec<super::ConfigProblem>,
) -> Option<Profile> {
    let name = path.file_stem()?.to_string_lossy().into_owned();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            sink_out.push(super::ConfigProblem {
                file: shown.to_path_buf(),
                line: 0,
                field: String::new(),
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    let mut sink = ProblemSink::new(shown, &text);
    let profile = parse_profile(&name, &text, &mut sink);
    sink_out.append(&mut sink.problems);
    profile
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "kind = \"trunk\"\nlisten = [\"udp:127.0.0.1:5080\"]\n";

    fn parse(text: &str) -> (Option<Profile>, Vec<super::super::ConfigProblem>) {
        let mut sink = ProblemSink::new(Path::new("sip-profiles/t.toml"), text);
        let p = parse_profile("t", text, &mut sink);
        (p, sink.problems)
    }

    fn names(p: &Profile) -> Vec<&str> {
        p.media.codecs.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn without_media_a_profile_may_use_every_codec_in_the_switch_order() {
        let (p, problems) = parse(HEAD);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(names(&p.unwrap()), ["PCMU", "PCMA", "G722", "opus"]);
        // A [media] table without `codecs` is the same.
        let (p, _) = parse(&format!("{HEAD}[media]\n"));
        assert_eq!(names(&p.unwrap()), ["PCMU", "PCMA", "G722", "opus"]);
    }

    #[test]
    fn codecs_keep_their_order_and_take_any_case() {
        let (p, problems) = parse(&format!(
            "{HEAD}[media]\ncodecs = [\"OPUS\", \"g722\", \"pcma\"]\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        let p = p.unwrap();
        assert_eq!(names(&p), ["opus", "G722", "PCMA"]);
        assert_eq!(p.media.codecs[0], Codec::opus());
    }

    #[test]
    fn unknown_repeated_and_missing_codecs_are_located() {
        let (p, problems) = parse(&format!(
            "{HEAD}[media]\ncodecs = [\n  \"PCMU\",\n  \"G729\",\n  \"pcmu\",\n]\n"
        ));
        assert!(p.is_none());
        let found: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(found, [(6, "media.codecs[1]"), (7, "media.codecs[2]")]);
        assert_eq!(
            problems[0].message,
            "unknown codec `G729`; valid: PCMU, PCMA, G722, opus"
        );
        assert_eq!(problems[1].message, "`pcmu` is listed twice");

        let (p, problems) = parse(&format!("{HEAD}\n[media]\ncodecs = []\n"));
        assert!(p.is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].line, problems[0].field.as_str()),
            (5, "media.codecs")
        );
        assert!(problems[0].message.starts_with("no codec"), "{problems:?}");
    }

    #[test]
    fn media_takes_no_other_key() {
        let (p, problems) = parse(&format!("{HEAD}[media]\nprefer = \"ours\"\n"));
        assert!(p.is_none());
        assert_eq!(problems[0].field, "prefer");
        assert_eq!(problems[0].line, 4);
    }

    #[test]
    fn numbers_run_flows_with_an_optional_calendar() {
        let (p, problems) = parse(&format!(
            "{HEAD}[routing.numbers]\n\"9196\" = \"echo\"\n\"100\" = \"flow:demo\"\n\"199\" = {{ flow = \"demo\", calendar = \"always-closed\" }}\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        let ProfileKind::Trunk(t) = p.unwrap().kind else {
            panic!("trunk");
        };
        assert_eq!(t.numbers["9196"], Application::Echo);
        assert_eq!(
            t.numbers["100"],
            Application::Flow {
                flow: "demo".into(),
                calendar: None
            }
        );
        assert_eq!(
            t.numbers["199"],
            Application::Flow {
                flow: "demo".into(),
                calendar: Some("always-closed".into())
            }
        );
        assert_eq!(t.numbers["100"].label(), "flow:demo");

        let (p, problems) = parse(&format!(
            "{HEAD}[routing.numbers]\n\"1\" = \"flow:\"\n\"2\" = {{ calendar = \"x\" }}\n\"3\" = {{ flow = \"d\", hours = \"x\" }}\n\"4\" = 4\n"
        ));
        assert!(p.is_none());
        let found: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (4, "routing.numbers.1"),
                (5, "routing.numbers.2"),
                (6, "routing.numbers.3"),
                (7, "routing.numbers.4")
            ]
        );
        assert!(
            problems[1].message.starts_with("missing `flow`"),
            "{problems:?}"
        );
        assert!(
            problems[2].message.starts_with("unknown key `hours`"),
            "{problems:?}"
        );
    }
}
