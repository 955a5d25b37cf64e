//! UDP transport: one reader task per socket, sends straight from the
//! socket. A datagram is one message (RFC 3261 18.1.1).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;

use super::{Flow, Ingress, Limits, ProfileId, SendError, Transport};

/// Binds a UDP socket with generous kernel buffers (bursts of SIP traffic).
pub(super) fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = if addr.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let sock = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    sock.set_reuse_address(true)?;
    let _ = sock.set_recv_buffer_size(4 << 20);
    let _ = sock.set_send_buffer_size(4 << 20);
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

pub(super) fn spawn_reader(
    profile: ProfileId,
    sock: Arc<UdpSocket>,
    limits: Limits,
    ingress: Arc<dyn Ingress>,
) {
    tokio::spawn(async move {
        let local = match sock.local_addr() {
            Ok(a) => a,
            Err(_) => return,
        };
        let mut buf = vec![0u8; limits.max_message.max(1500) + 1];
        loop {
            let (n, remote) = match sock.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors surface here on some systems; keep reading.
                    tracing::debug!(%local, "udp recv: {e}");
                    continue;
                }
            };
            if n > limits.max_message {
                tracing::debug!(%remote, n, "udp datagram over the size limit dropped");
                continue;
            }
            // Keep-alives (RFC 5626 CRLF) carry no message.
            if buf[..n].iter().all(|b| matches!(b, b'\r' | b'\n')) {
                continue;
            }
            let flow = Flow {
                profile,
                transport: Transport::Udp,
                local,
                remote,
                conn: None,
            };
            ingress.on_message(flow, Bytes::copy_from_slice(&buf[..n]));
        }
    });
}

/// Sends one datagram without waiting: a full kernel buffer is an error the
/// transaction layer recovers from by retransmitting.
pub(super) fn send(sock: &UdpSocket, to: SocketAddr, data: Bytes) -> Result<(), SendError> {
    sock.try_send_to(&data, to)
        .map(|_| ())
        .map_err(SendError::Io)
}
