//! Outbound registration of a trunk to a carrier (RFC 3261 section 10.2):
//! REGISTER, answer the digest challenge with the trunk's credentials,
//! refresh before the granted expiry, and retry with back-off after a
//! failure. The state is logged and stored for `switchboard status`.

use std::time::Duration;

use super::StatusBoard;
use super::uac::{Outcome, Uac};
use crate::config::{RegistrationSettings, Transport};
use crate::sip::auth::client::{Challenge, generate_cnonce, respond_to_challenge};
use crate::sip::codec::{Contacts, Method, SipMessage};
use crate::sip::endpoint::Endpoint;
use crate::sip::ids;
use crate::sip::transport::ProfileId;

const ANSWER_WITHIN: Duration = Duration::from_secs(10);
const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(300);

pub async fn run(ep: Endpoint, profile: ProfileId, reg: RegistrationSettings, board: StatusBoard) {
    let mut uac = Uac::new(ep, profile);
    let call_id = ids::call_id();
    let mut cseq = 0u32;
    let mut backoff = FIRST_RETRY;
    let target = reg.registrar.clone();
    loop {
        let wait = match register_once(&mut uac, &reg, &call_id, &mut cseq).await {
            Ok(granted) => {
                backoff = FIRST_RETRY;
                board
                    .set(
                        "registration",
                        &target,
                        "registered",
                        format!("expires in {granted} s"),
                    )
                    .await;
                refresh_after(granted)
            }
            Err(why) => {
                board
                    .set(
                        "registration",
                        &target,
                        "failed",
                        format!("{why}; retry in {} s", backoff.as_secs()),
                    )
                    .await;
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_RETRY);
                wait
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// Refresh well before the binding runs out: at 80 % of the granted time,
/// and never sooner than 5 s.
fn refresh_after(granted: u32) -> Duration {
    Duration::from_secs(u64::from(granted) * 4 / 5).max(Duration::from_secs(5))
}

/// One registration round; returns the expiry the registrar granted.
async fn register_once(
    uac: &mut Uac,
    reg: &RegistrationSettings,
    call_id: &str,
    cseq: &mut u32,
) -> Result<u32, String> {
    let dest = uac
        .destination(&reg.registrar)
        .await
        .ok_or_else(|| format!("cannot resolve {}", reg.registrar))?;
    let aor = reg.aor.clone().unwrap_or_else(|| {
        let host = reg
            .registrar
            .trim_start_matches("sips:")
            .trim_start_matches("sip:")
            .split([';', '>'])
            .next()
            .unwrap_or("");
        format!("sip:{}@{host}", reg.username)
    });
    let contact_uri = match dest.flow.transport {
        Transport::Tcp => format!("sip:{}@{};transport=tcp", reg.username, dest.local),
        Transport::Udp => format!("sip:{}@{}", reg.username, dest.local),
    };
    let mut authorization: Option<(&'static str, String)> = None;
    for _attempt in 0..2 {
        *cseq = cseq.wrapping_add(1);
        let mut req = Uac::request(
            &Method::Register,
            &reg.registrar,
            &dest,
            &format!("<{aor}>"),
            &format!("<{aor}>"),
            call_id,
            *cseq,
        )
        .header_raw("Contact", &format!("<{contact_uri}>"))
        .header_raw("Expires", &reg.expires.to_string());
        if let Some((name, value)) = &authorization {
            req = req.header_raw(name, value);
        }
        let resp = match uac.send(req, dest.flow, ANSWER_WITHIN).await {
            Outcome::Response(r) => r,
            Outcome::Failed(408) => return Err("no answer from the registrar".into()),
            Outcome::Failed(_) => return Err("transport error".into()),
        };
        let status = resp.status().unwrap_or(0);
        match status {
            200..=299 => return Ok(granted_expiry(&resp, &contact_uri).unwrap_or(reg.expires)),
            401 | 407 if authorization.is_none() => {
                let header = if status == 401 {
                    "Authorization"
                } else {
                    "Proxy-Authorization"
                };
                let value = answer_challenge(&resp, status, reg)?;
                authorization = Some((header, value));
            }
            _ => return Err(format!("{status} {}", resp.reason())),
        }
    }
    Err("credentials refused".into())
}

/// The Authorization value for the first digest challenge we can answer.
fn answer_challenge(
    resp: &SipMessage,
    status: u16,
    reg: &RegistrationSettings,
) -> Result<String, String> {
    let challenges = if status == 401 {
        resp.www_authenticate()
    } else {
        resp.proxy_authenticate()
    }
    .map_err(|_| "malformed challenge".to_string())?;
    let challenge = challenges
        .iter()
        .filter(|c| c.is_digest())
        .find_map(|c| Challenge::from_params(c.params.iter().map(|(n, v)| (*n, v.as_ref()))).ok())
        .ok_or_else(|| "no digest challenge we support".to_string())?;
    respond_to_challenge(
        &challenge,
        &reg.username,
        &reg.password,
        "REGISTER",
        &reg.registrar,
        &generate_cnonce(),
        1,
    )
    .map_err(|e| format!("cannot answer the challenge: {e}"))
}

/// The expiry granted for our contact: its `expires` parameter, else the
/// Expires header (RFC 3261 10.2.4).
fn granted_expiry(resp: &SipMessage, contact_uri: &str) -> Option<u32> {
    if let Ok(Contacts::List(list)) = resp.contacts()
        && let Some(ours) = list.iter().find(|c| c.uri.as_str() == contact_uri)
        && let Ok(Some(e)) = ours.expires()
    {
        return Some(e);
    }
    resp.expires().ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_before_expiry() {
        assert_eq!(refresh_after(3600), Duration::from_secs(2880));
        assert_eq!(refresh_after(2), Duration::from_secs(5));
    }
}
