//! Where an INVITE arriving on a trunk goes: a number of the trunk's
//! `[routing.numbers]` is answered by the switch itself; otherwise the
//! called number is looked up as an extension of the trunk's agents
//! profile. Unknown numbers get 404, known agents with no registration
//! 480, otherwise every registered contact of the agent is rung.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::runtime::ProfileRuntime;
use crate::config::{Application, Transport, TrunkSettings};
use crate::flow::model::TransferTarget;
use crate::registrar::{Binding, Lookup, Registrar};
use crate::sip::codec::{Host, SipMessage, Uri};
use crate::sip::endpoint::{AgentContact, AgentContacts, TransferRoute};
use crate::sip::transport::{Flow, ProfileId};

/// One contact to ring.
#[derive(Debug, Clone)]
pub struct Target {
    /// The registered Contact URI (the new INVITE's Request-URI).
    pub contact: String,
    /// Where to send it.
    pub flow: Flow,
    /// The agent's extension.
    pub extension: String,
}

impl From<AgentContact> for Target {
    fn from(c: AgentContact) -> Self {
        Target {
            contact: c.contact,
            flow: c.flow,
            extension: c.extension,
        }
    }
}

/// The routing decision for a new INVITE.
#[derive(Debug)]
pub enum Route {
    Reject(u16, &'static str),
    /// Ring these contacts, registered on the internal profile `profile`.
    Agents {
        profile: String,
        targets: Vec<Target>,
    },
    /// A number the switch answers itself (`[routing.numbers]`).
    Application(Application),
}

pub fn route_trunk_invite(
    msg: &SipMessage,
    trunk: &TrunkSettings,
    profiles: &[ProfileRuntime],
    registrars: &HashMap<ProfileId, Registrar>,
    now_unix: u64,
) -> Route {
    if matches!(msg.max_forwards(), Ok(Some(0))) {
        return Route::Reject(483, "Too Many Hops");
    }
    let Ok(uri) = msg.request_uri() else {
        return Route::Reject(400, "Bad Request-URI");
    };
    let Some(number) = uri
        .user_unescaped()
        .map(|u| String::from_utf8_lossy(&u).into_owned())
    else {
        return Route::Reject(404, "Not Found");
    };
    if let Some(app) = trunk.numbers.get(&number) {
        return Route::Application(app.clone());
    }
    let Some(agents) = trunk
        .agents_profile
        .as_deref()
        .and_then(|name| profiles.iter().find(|p| p.profile.name == name))
    else {
        return Route::Reject(404, "Not Found");
    };
    let Some(registrar) = registrars.get(&agents.id) else {
        return Route::Reject(404, "Not Found");
    };
    match registrar.lookup(&number, now_unix) {
        Lookup::Unknown => Route::Reject(404, "Not Found"),
        Lookup::NotRegistered => Route::Reject(480, "Temporarily Unavailable"),
        Lookup::Contacts(bindings) => {
            let targets: Vec<Target> = bindings
                .iter()
                .filter_map(|b| target_of(b, &number))
                .collect();
            if targets.is_empty() {
                Route::Reject(480, "Temporarily Unavailable")
            } else {
                Route::Agents {
                    profile: agents.profile.name.clone(),
                    targets,
                }
            }
        }
    }
}

/// The live contacts of `extensions` (in that order) on the agents
/// profile of the trunk profile named `trunk`; `None` when that trunk has
/// no agents profile.
pub fn find_agents(
    trunk: &str,
    extensions: &[String],
    profiles: &[ProfileRuntime],
    registrars: &HashMap<ProfileId, Registrar>,
    now_unix: u64,
) -> Option<AgentContacts> {
    let trunk = profiles.iter().find(|p| p.profile.name == trunk)?;
    let crate::config::ProfileKind::Trunk(t) = &trunk.profile.kind else {
        return None;
    };
    let agents = profiles
        .iter()
        .find(|p| Some(p.profile.name.as_str()) == t.agents_profile.as_deref())?;
    let registrar = registrars.get(&agents.id)?;
    let mut contacts = Vec::new();
    for ext in extensions {
        if let Lookup::Contacts(bindings) = registrar.lookup(ext, now_unix) {
            contacts.extend(bindings.iter().filter_map(|b| target_of(b, ext)).map(|t| {
                AgentContact {
                    extension: t.extension,
                    contact: t.contact,
                    flow: t.flow,
                }
            }));
        }
    }
    Some(AgentContacts {
        profile: agents.profile.name.clone(),
        contacts,
    })
}

/// Where a flow's `transfer` from a call on trunk profile `trunk` rings:
/// an extension's registered phones (on the trunk's agents profile), a SIP
/// URI (sent from the trunk profile itself), or a number at the outbound
/// proxy of the trunk profile the node names.
pub fn find_transfer(
    trunk: &str,
    target: &TransferTarget,
    profiles: &[ProfileRuntime],
    registrars: &HashMap<ProfileId, Registrar>,
    now_unix: u64,
) -> Result<TransferRoute, String> {
    let out = |name: &str, uri: &str| -> Result<TransferRoute, String> {
        let p = profiles
            .iter()
            .find(|p| p.profile.name == name)
            .ok_or_else(|| format!("no profile `{name}`"))?;
        let t = crate::config::uri_target(uri).map_err(|why| format!("`{uri}` {why}"))?;
        Ok(TransferRoute::Out {
            profile: p.profile.name.clone(),
            id: p.id,
            transport: t.transport,
            host: t.host,
            port: t.port,
            uri: uri.to_string(),
            user: t.user,
        })
    };
    match target {
        TransferTarget::Extension(ext) => {
            let found = find_agents(
                trunk,
                std::slice::from_ref(ext),
                profiles,
                registrars,
                now_unix,
            )
            .ok_or_else(|| format!("trunk `{trunk}` has no agents profile"))?;
            if found.contacts.is_empty() {
                return Err(format!("extension {ext} has no registered phone"));
            }
            Ok(TransferRoute::Agents(found))
        }
        TransferTarget::Uri(uri) => out(trunk, uri),
        TransferTarget::Trunk { trunk, number } => {
            let p = profiles
                .iter()
                .find(|p| &p.profile.name == trunk)
                .ok_or_else(|| format!("no trunk profile `{trunk}`"))?;
            let crate::config::ProfileKind::Trunk(t) = &p.profile.kind else {
                return Err(format!("profile `{trunk}` is not a trunk"));
            };
            let o = t
                .outbound
                .as_ref()
                .ok_or_else(|| format!("trunk `{trunk}` has no [outbound] proxy"))?;
            let host = if o.host.contains(':') {
                format!("[{}]", o.host)
            } else {
                o.host.clone()
            };
            let transport = match o.transport {
                Transport::Tcp => ";transport=tcp",
                Transport::Udp => "",
            };
            out(trunk, &format!("sip:{number}@{host}:{}{transport}", o.port))
        }
    }
}

/// Where to send requests for a registered contact: the Contact's address
/// and transport when it names an IP address, otherwise the flow the
/// REGISTER came from (the phone is behind NAT or named by a host name).
fn target_of(b: &Binding, extension: &str) -> Option<Target> {
    let uri = Uri::parse(&b.contact).ok()?;
    let transport = match uri.params.get("transport") {
        Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        Some(t) if t.eq_ignore_ascii_case("udp") => Transport::Udp,
        Some(_) => return None,
        None => b.source.transport,
    };
    let ip: Option<IpAddr> = match uri.host {
        Some(Host::V4(a)) => Some(a.into()),
        Some(Host::V6(a)) => Some(a.into()),
        _ => None,
    };
    let remote = match ip {
        Some(ip) => SocketAddr::new(ip, uri.port.unwrap_or(5060)),
        None => b.source.remote,
    };
    Some(Target {
        contact: b.contact.clone(),
        flow: Flow {
            transport,
            remote,
            conn: None,
            ..b.source
        },
        extension: extension.to_string(),
    })
}
