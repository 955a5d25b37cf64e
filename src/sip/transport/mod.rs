//! SIP transports (RFC 3261 section 18): the UDP sockets and TCP
//! connections of every profile. This layer moves bytes only: it frames
//! TCP streams, hands each message (as raw bytes) to an [`Ingress`], and
//! sends what the layers above ask for. TLS and WebSocket plug in beside
//! UDP and TCP behind the same [`Flow`].

mod tcp;
mod udp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub use crate::config::Transport;

/// Index of a profile in the running switch.
pub type ProfileId = u16;

/// Identifies one TCP connection.
pub type ConnId = u64;

/// Where a message came from, or where it goes: the profile's local socket
/// and the peer's address (and, on TCP, the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub profile: ProfileId,
    pub transport: Transport,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The TCP connection a message arrived on, if any.
    pub conn: Option<ConnId>,
}

impl Flow {
    /// `udp:127.0.0.1:5062`: how a flow is shown in logs and stored.
    pub fn remote_label(&self) -> String {
        format!("{}:{}", self.transport, self.remote)
    }
}

impl crate::sip::transaction::Destination for Flow {
    fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

/// Receives every message the transports read. Implementations parse,
/// police and dispatch; they must not block (a slow ingress stalls a socket).
pub trait Ingress: Send + Sync + 'static {
    fn on_message(&self, flow: Flow, data: Bytes);
}

/// Limits every transport enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest SIP message accepted or sent (header section and body).
    pub max_message: usize,
    /// A TCP connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// A partial message may not take longer than this to complete.
    pub partial_timeout: Duration,
    /// Concurrent TCP connections per profile.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message: 65_535,
            idle_timeout: Duration::from_secs(180),
            partial_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no {0} socket for this profile")]
    NoSocket(Transport),
    #[error("message of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("connection to {0} is gone or congested")]
    ConnectionLost(SocketAddr),
    #[error("udp send failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Sender side of one TCP connection.
#[derive(Clone)]
struct ConnHandle {
    id: ConnId,
    tx: mpsc::Sender<Bytes>,
}

/// A profile's sockets as the rest of the switch sees them.
struct ProfileSockets {
    ingress: Arc<dyn Ingress>,
    udp: Vec<Arc<UdpSocket>>,
    tcp_local: Vec<SocketAddr>,
}

/// Shared handle to all transports; cheap to clone.
#[derive(Clone)]
pub struct Transports {
    inner: Arc<Inner>,
}

struct Inner {
    limits: Limits,
    profiles: Mutex<HashMap<ProfileId, ProfileSockets>>,
    /// Open TCP connections by (profile, peer address).
    conns: Mutex<HashMap<(ProfileId, SocketAddr), ConnHandle>>,
    next_conn: AtomicU64,
}

impl Transports {
    pub fn new(limits: Limits) -> Self {
        Self {
            inner: Arc::new(Inner {
                limits,
                profiles: Mutex::new(HashMap::new()),
                conns: Mutex::new(HashMap::new()),
                next_conn: AtomicU64::new(1),
            }),
        }
    }

    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// Binds every socket of a profile and starts its reader tasks.
    pub async fn bind(
        &self,
        profile: ProfileId,
        listen: &[crate::config::ListenAddr],
        ingress: Arc<dyn Ingress>,
    ) -> std::io::Result<()> {
        let mut sockets = ProfileSockets {
            ingress: ingress.clone(),
            udp: Vec::new(),
            tcp_local: Vec::new(),
        };
        for l in listen {
            match l.transport {
                Transport::Udp => {
                    let sock = Arc::new(udp::bind(l.addr)?);
                    udp::spawn_reader(profile, sock.clone(), self.inner.limits, ingress.clone());
                    sockets.udp.push(sock);
                }
                Transport::Tcp => {
                    let listener = tokio::net::TcpListener::bind(l.addr).await?;
                    sockets.tcp_local.push(listener.local_addr()?);
                    tcp::spawn_acceptor(profile, listener, self.clone(), ingress.clone());
                }
            }
        }
        lock(&self.inner.profiles).insert(profile, sockets);
        Ok(())
    }

    /// The local address this profile sends from on `transport`.
    pub fn local_addr(&self, profile: ProfileId, transport: Transport) -> Option<SocketAddr> {
        let profiles = lock(&self.inner.profiles);
        let p = profiles.get(&profile)?;
        match transport {
            Transport::Udp => p.udp.first().and_then(|s| s.local_addr().ok()),
            Transport::Tcp => p.tcp_local.first().copied(),
        }
    }

    /// Sends `data` along `flow`. UDP goes out of the profile's socket; TCP
    /// uses the flow's connection or any open one to the peer, and opens a
    /// new connection when there is none (the message waits for it).
    pub fn send(&self, flow: &Flow, data: Bytes) -> Result<(), SendError> {
        if data.len() > self.inner.limits.max_message {
            return Err(SendError::TooLarge(data.len()));
        }
        match flow.transport {
            Transport::Udp => {
                let sock = {
                    let profiles = lock(&self.inner.profiles);
                    let p = profiles
                        .get(&flow.profile)
                        .ok_or(SendError::NoSocket(Transport::Udp))?;
                    p.udp
                        .iter()
                        .find(|s| s.local_addr().ok() == Some(flow.local))
                        .or_else(|| p.udp.first())
                        .cloned()
                        .ok_or(SendError::NoSocket(Transport::Udp))?
                };
                udp::send(&sock, flow.remote, data)
            }
            Transport::Tcp => {
                let existing = lock(&self.inner.conns)
                    .get(&(flow.profile, flow.remote))
                    .cloned();
                match existing {
                    Some(c) => {
                        c.tx.try_send(data)
                            .map_err(|_| SendError::ConnectionLost(flow.remote))
                    }
                    None if tcp::spawn_connect(self.clone(), flow.profile, flow.remote, data) => {
                        Ok(())
                    }
                    None => Err(SendError::ConnectionLost(flow.remote)),
                }
            }
        }
    }

    /// Where messages read on this profile's connections go.
    fn ingress(&self, profile: ProfileId) -> Option<Arc<dyn Ingress>> {
        lock(&self.inner.profiles)
            .get(&profile)
            .map(|p| p.ingress.clone())
    }

    fn next_conn_id(&self) -> ConnId {
        self.inner.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    fn add_conn(&self, profile: ProfileId, remote: SocketAddr, handle: ConnHandle) -> bool {
        let mut conns = lock(&self.inner.conns);
        let count = conns.keys().filter(|(p, _)| *p == profile).count();
        if count >= self.inner.limits.max_connections {
            return false;
        }
        conns.insert((profile, remote), handle);
        true
    }

    fn remove_conn(&self, profile: ProfileId, remote: SocketAddr, id: ConnId) {
        let mut conns = lock(&self.inner.conns);
        if conns.get(&(profile, remote)).is_some_and(|c| c.id == id) {
            conns.remove(&(profile, remote));
        }
    }

    /// Number of open TCP connections (for status and tests).
    pub fn connection_count(&self) -> usize {
        lock(&self.inner.conns).len()
    }
}

/// Locks a mutex, recovering the data if a holder panicked.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn messages_sent_while_connecting_share_one_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let remote = listener.local_addr().unwrap();
        let transports = Transports::new(Limits::default());
        let flow = Flow {
            profile: 0,
            transport: Transport::Tcp,
            local: "127.0.0.1:5060".parse().unwrap(),
            remote,
            conn: None,
        };
        transports
            .send(&flow, Bytes::from_static(b"first\r\n"))
            .unwrap();
        transports
            .send(&flow, Bytes::from_static(b"second\r\n"))
            .unwrap();
        let wait = Duration::from_secs(2);
        let (mut stream, _) = tokio::time::timeout(wait, listener.accept())
            .await
            .unwrap()
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 15 {
            let mut buf = [0u8; 64];
            let n = tokio::time::timeout(wait, stream.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "connection closed early");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"first\r\nsecond\r\n");
        let second = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(second.is_err(), "a second connection was opened");
        assert_eq!(transports.connection_count(), 1);
    }

    #[tokio::test]
    async fn a_failed_connect_is_forgotten() {
        // Nothing listens on this port: the pending connection goes away.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let remote = free.local_addr().unwrap();
        drop(free);
        let transports = Transports::new(Limits::default());
        let flow = Flow {
            profile: 0,
            transport: Transport::Tcp,
            local: "127.0.0.1:5060".parse().unwrap(),
            remote,
            conn: None,
        };
        transports.send(&flow, Bytes::from_static(b"x")).unwrap();
        for _ in 0..100 {
            if transports.connection_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the failed connection stayed registered");
    }
}
