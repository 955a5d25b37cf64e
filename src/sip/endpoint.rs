//! The interface between the SIP core task (which owns the transaction
//! layer) and the transaction users above it: call tasks send [`ToCore`]
//! messages and receive [`TuEvent`]s. Every channel is bounded.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::codec::SipMessage;
use super::transaction::TransactionKey;
use super::transport::{Flow, ProfileId, Transport, Transports};

/// Events for one transaction user (a call).
pub type TuSender = mpsc::Sender<TuEvent>;

/// Capacity of a call's event channel.
pub const TU_QUEUE: usize = 256;

/// What the core tells a transaction user. Messages are boxed so that a
/// call's channel stays small (it is allocated per call).
#[derive(Debug)]
pub enum TuEvent {
    /// A new server transaction: an initial or in-dialog request.
    Request {
        key: TransactionKey,
        flow: Flow,
        msg: Box<SipMessage>,
    },
    /// An ACK for a 2xx (no transaction of its own).
    Ack { flow: Flow, msg: Box<SipMessage> },
    /// The caller cancelled a pending INVITE; the core has answered the
    /// CANCEL with 200, the TU must answer the INVITE with 487.
    Cancelled { invite: TransactionKey },
    /// A response to one of the TU's client transactions.
    Response {
        key: TransactionKey,
        msg: Box<SipMessage>,
    },
    /// A client transaction failed without a response (RFC 3261 8.1.3.1):
    /// a timeout counts as 408, a transport error as 503.
    Failed { key: TransactionKey, status: u16 },
    /// A server transaction ended without its ACK (Timer H).
    AckTimeout { key: TransactionKey },
}

/// What a transaction user asks of the core.
#[derive(Debug)]
pub enum ToCore {
    /// A message read by a transport (parsed and policed by the ingress).
    Inbound { flow: Flow, msg: SipMessage },
    /// Start a client transaction; responses go to `owner`.
    SendRequest {
        owner: TuSender,
        key: TransactionKey,
        flow: Flow,
        msg: SipMessage,
    },
    /// Answer a server transaction.
    SendResponse {
        key: TransactionKey,
        status: u16,
        bytes: Bytes,
    },
    /// Send outside any transaction: the ACK for a 2xx, or a 2xx
    /// retransmission (RFC 3261 13.3.1.4, 17.1.1.3).
    SendStateless { flow: Flow, bytes: Bytes },
    /// Route in-dialog requests with this Call-ID to `owner`.
    Bind { call_id: String, owner: TuSender },
    /// The call is over: forget its Call-IDs.
    Unbind { call_ids: Vec<String> },
    /// The live contacts of `extensions` on the agents profile of trunk
    /// profile `trunk` (an IVR flow's queue rings them); `None` when the
    /// trunk has no agents profile.
    FindAgents {
        trunk: String,
        extensions: Vec<String>,
        reply: tokio::sync::oneshot::Sender<Option<AgentContacts>>,
    },
    /// Where an IVR flow's `transfer` from a call on trunk profile `trunk`
    /// rings, or why it cannot.
    FindTransfer {
        trunk: String,
        target: crate::flow::model::TransferTarget,
        reply: tokio::sync::oneshot::Sender<Result<TransferRoute, String>>,
    },
}

/// Where a transfer rings, as [`ToCore::FindTransfer`] answers.
#[derive(Debug, Clone)]
pub enum TransferRoute {
    /// An agent's registered phones.
    Agents(AgentContacts),
    /// A SIP URI, or a number at a trunk's outbound proxy: the caller
    /// resolves `host` (it may be a DNS name) and sends there.
    Out {
        /// The profile sending the INVITE.
        profile: String,
        id: ProfileId,
        transport: Transport,
        host: String,
        port: u16,
        /// The INVITE's Request-URI.
        uri: String,
        /// Its user part: the number or name called.
        user: String,
    },
}

/// Agents' registered contacts, as [`ToCore::FindAgents`] answers.
#[derive(Debug, Clone)]
pub struct AgentContacts {
    /// The agents profile.
    pub profile: String,
    pub contacts: Vec<AgentContact>,
}

/// One registered contact of an agent.
#[derive(Debug, Clone)]
pub struct AgentContact {
    pub extension: String,
    /// The Contact URI (the INVITE's Request-URI).
    pub contact: String,
    /// Where to send it.
    pub flow: Flow,
}

/// A cheap handle for transaction users: the core's channel plus the
/// transports (for local addresses).
#[derive(Clone)]
pub struct Endpoint {
    pub core: mpsc::Sender<ToCore>,
    pub transports: Transports,
}

impl Endpoint {
    /// Sends to the core; a full core queue waits (calls are not on the
    /// hot receive path, so back-pressure here is right).
    pub async fn send(&self, msg: ToCore) {
        if self.core.send(msg).await.is_err() {
            tracing::debug!("core is gone; message dropped");
        }
    }

    /// The address this profile sends from on `transport`, for Via and
    /// Contact. Falls back to the UDP socket's.
    pub fn local_addr(
        &self,
        profile: ProfileId,
        transport: Transport,
    ) -> Option<std::net::SocketAddr> {
        self.transports
            .local_addr(profile, transport)
            .or_else(|| self.transports.local_addr(profile, Transport::Udp))
    }
}
