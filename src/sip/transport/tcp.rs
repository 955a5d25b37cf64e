//! TCP transport: accepts and opens connections, frames the byte stream
//! by Content-Length (RFC 3261 18.3), reuses connections for responses and
//! later requests, and closes idle, oversized or stalled ones.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{ConnHandle, ConnId, Flow, Ingress, ProfileId, Transport, Transports};
use crate::sip::codec::{Frame, frame_stream};

/// Messages queued for one connection before sends fail (back-pressure).
const WRITE_QUEUE: usize = 1024;
/// How long a connection stays open for replies after a framing error.
const LINGER: Duration = Duration::from_secs(2);

pub(super) fn spawn_acceptor(
    profile: ProfileId,
    listener: TcpListener,
    transports: Transports,
    ingress: Arc<dyn Ingress>,
) {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, remote)) => {
                    start_connection(
                        profile,
                        stream,
                        remote,
                        transports.clone(),
                        Some(ingress.clone()),
                        None,
                    );
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!("tcp accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
}

/// Opens a connection to `remote` for `first` (a request or response with
/// no connection yet) and keeps it for later messages.
/// Opens a connection to `remote` for `first` (a request or response with
/// no connection yet) and keeps it for later messages. The connection is
/// registered at once, so what is sent while it is being set up queues
/// behind `first` instead of opening a second connection. False when the
/// profile has no room for another connection.
pub(super) fn spawn_connect(
    transports: Transports,
    profile: ProfileId,
    remote: SocketAddr,
    first: Bytes,
) -> bool {
    let id = transports.next_conn_id();
    let (tx, rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    let _ = tx.try_send(first);
    if !transports.add_conn(profile, remote, ConnHandle { id, tx }) {
        tracing::warn!(%remote, "tcp connect refused: too many connections on this profile");
        return false;
    }
    tokio::spawn(async move {
        let connect =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(remote)).await;
        match connect {
            Ok(Ok(stream)) => {
                let ingress = transports.ingress(profile);
                start_connection(profile, stream, remote, transports, ingress, Some((id, rx)));
            }
            Ok(Err(e)) => {
                tracing::debug!(%remote, "tcp connect failed: {e}");
                transports.remove_conn(profile, remote, id);
            }
            Err(_) => {
                tracing::debug!(%remote, "tcp connect timed out");
                transports.remove_conn(profile, remote, id);
            }
        }
    });
    true
}

/// Runs a connection: `registered` is the id and write queue of an
/// outbound connection already in the table; an accepted one is
/// registered here.
fn start_connection(
    profile: ProfileId,
    stream: TcpStream,
    remote: SocketAddr,
    transports: Transports,
    ingress: Option<Arc<dyn Ingress>>,
    registered: Option<(ConnId, mpsc::Receiver<Bytes>)>,
) {
    let Ok(local) = stream.local_addr() else {
        if let Some((id, _)) = registered {
            transports.remove_conn(profile, remote, id);
        }
        return;
    };
    let _ = stream.set_nodelay(true);
    let (id, mut rx) = match registered {
        Some(r) => r,
        None => {
            let id = transports.next_conn_id();
            let (tx, rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
            if !transports.add_conn(profile, remote, ConnHandle { id, tx }) {
                tracing::warn!(%remote, "tcp connection refused: too many connections on this profile");
                return;
            }
            (id, rx)
        }
    };
    let (mut reader, mut writer) = stream.into_split();
    let limits = transports.limits();

    // Writer: drains the queue until the reader side drops the sender.
    let writer_task = tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if writer.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });

    tokio::spawn(async move {
        let flow = Flow {
            profile,
            transport: Transport::Tcp,
            local,
            remote,
            conn: Some(id),
        };
        let mut buf = BytesMut::with_capacity(4096);
        let mut partial_since: Option<Instant> = None;
        'conn: loop {
            let deadline = match partial_since {
                Some(t) => t + limits.partial_timeout,
                None => Instant::now() + limits.idle_timeout,
            };
            let read = tokio::time::timeout_at(deadline, reader.read_buf(&mut buf)).await;
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => {
                    tracing::debug!(%remote, partial = partial_since.is_some(), "tcp connection timed out");
                    break;
                }
            }
            loop {
                match frame_stream(&buf, limits.max_message) {
                    Ok(Frame::KeepAlive(n)) => buf.advance(n),
                    Ok(Frame::Complete(n)) => {
                        let msg = buf.split_to(n).freeze();
                        if let Some(ingress) = &ingress {
                            ingress.on_message(flow, msg);
                        }
                    }
                    Ok(Frame::Incomplete) => break,
                    Err(e) => {
                        // The stream cannot be re-synchronised: let the
                        // ingress answer what it can (a 400 for a bad
                        // Content-Length), give the answer time to leave,
                        // then close.
                        tracing::debug!(%remote, "tcp framing error, closing: {e}");
                        if let Some(ingress) = &ingress {
                            ingress.on_message(flow, buf.split().freeze());
                        }
                        tokio::time::sleep(LINGER).await;
                        break 'conn;
                    }
                }
            }
            partial_since = if buf.is_empty() {
                None
            } else {
                partial_since.or_else(|| Some(Instant::now()))
            };
        }
        transports.remove_conn(profile, remote, id);
        writer_task.abort();
    });
}
