//! OPTIONS keep-alive ("qualify") to a trunk's peers: every interval each
//! peer gets an OPTIONS; any final response means up (with its latency),
//! no response or a transport error means down. Changes are logged and
//! stored for `switchboard status`.

use std::time::{Duration, Instant};

use super::StatusBoard;
use super::uac::{Outcome, Uac};
use crate::sip::codec::Method;
use crate::sip::endpoint::Endpoint;
use crate::sip::ids;
use crate::sip::transport::ProfileId;

/// How long a peer has to answer before it counts as down.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

pub async fn run(
    ep: Endpoint,
    profile: ProfileId,
    peer: String,
    interval: Duration,
    board: StatusBoard,
) {
    let mut uac = Uac::new(ep, profile);
    let mut ticker = tokio::time::interval(interval.max(Duration::from_secs(1)));
    loop {
        ticker.tick().await;
        let Some(dest) = uac.destination(&peer).await else {
            board
                .set(
                    "qualify",
                    &peer,
                    "down",
                    "cannot resolve the peer's address".into(),
                )
                .await;
            continue;
        };
        let from = format!("<sip:switchboard@{}>", dest.local);
        let to = format!("<{peer}>");
        // A new Call-ID each time: every keep-alive is a call of its own.
        let req = Uac::request(
            &Method::Options,
            &peer,
            &dest,
            &from,
            &to,
            &ids::call_id(),
            1,
        )
        .header_raw("Accept", "application/sdp");
        let started = Instant::now();
        match uac.send(req, dest.flow, ANSWER_WITHIN).await {
            Outcome::Response(resp) => {
                let ms = started.elapsed().as_millis();
                let status = resp.status().unwrap_or(0);
                board
                    .set(
                        "qualify",
                        &peer,
                        "up",
                        format!("{status} {} in {ms} ms", resp.reason()),
                    )
                    .await;
            }
            Outcome::Failed(status) => {
                let why = if status == 408 {
                    "no answer"
                } else {
                    "transport error"
                };
                board.set("qualify", &peer, "down", why.into()).await;
            }
        }
    }
}
