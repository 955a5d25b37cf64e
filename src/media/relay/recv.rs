//! Reading a leg's socket without the empty read that ends a drain. A
//! plain drain reads until the kernel says "would block", so every wake
//! costs one read more than there were datagrams: at 50 packets a second
//! per leg nearly every wake brings one datagram, doubling the reads. Here
//! one `recvmmsg(2)` asks for two datagrams; getting only one shows the
//! queue was empty, and the socket's readiness is cleared there and then,
//! as a would-block read would clear it. A datagram arriving meanwhile is
//! not lost: its readiness event comes after the clearing (the runtime
//! compares readiness ticks), so the next wake reads it.

use socket2::SockAddr;
use std::io;
use std::net::SocketAddr;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// One datagram read into its half of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// Bytes received (a datagram filling its half entirely may have been
    /// truncated: the caller treats it as such).
    pub len: usize,
    pub from: SocketAddr,
}

/// What one read brought.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Up to two datagrams: the first in `buf[..half]`, the second in
    /// `buf[half..]`.
    pub datagrams: [Option<Datagram>; 2],
    /// Whether the socket's queue may hold more (read again before waiting).
    pub more: bool,
}

/// Reads up to two datagrams from `sock` into the two halves of `buf`
/// without waiting. An error (would block included) means nothing was read
/// and the caller waits for readiness again.
pub fn recv_batch(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<Batch> {
    let mut batch = Batch::default();
    let res = sock.try_io(Interest::READABLE, || {
        let n = recv_two(sock, buf, &mut batch.datagrams)?;
        if n < 2 {
            // Drained: clear readiness, the datagram read is kept in `batch`.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        batch.more = true;
        Ok(())
    });
    match res {
        Ok(()) => Ok(batch),
        Err(_) if batch.datagrams[0].is_some() => Ok(batch),
        Err(e) => Err(e),
    }
}

#[cfg(target_os = "linux")]
fn recv_two(
    sock: &UdpSocket,
    buf: &mut [u8],
    out: &mut [Option<Datagram>; 2],
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let half = buf.len() / 2;
    let (first, second) = buf.split_at_mut(half);
    let mut iov = [
        libc::iovec {
            iov_base: first.as_mut_ptr().cast(),
            iov_len: first.len(),
        },
        libc::iovec {
            iov_base: second.as_mut_ptr().cast(),
            iov_len: half,
        },
    ];
    // SAFETY: all-zero is a valid value for these plain C structs.
    let mut names: [libc::sockaddr_storage; 2] = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the pointers are filled in just below.
    let mut msgs: [libc::mmsghdr; 2] = unsafe { std::mem::zeroed() };
    for ((msg, name), iov) in msgs.iter_mut().zip(names.iter_mut()).zip(iov.iter_mut()) {
        msg.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
        msg.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_hdr.msg_iov = iov;
        msg.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `msgs` points at two headers whose name and iovec buffers
    // live until the call returns; the kernel writes within their lengths.
    let n = unsafe {
        libc::recvmmsg(
            sock.as_raw_fd(),
            msgs.as_mut_ptr(),
            2,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    for i in 0..n.min(2) {
        let msg = &msgs[i];
        // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes.
        let addr = unsafe { SockAddr::new(names[i], msg.msg_hdr.msg_namelen) };
        out[i] = addr.as_socket().map(|from| Datagram {
            len: msg.msg_len as usize,
            from,
        });
    }
    Ok(n)
}

/// Elsewhere: one datagram per read, drained by a would-block read.
#[cfg(not(target_os = "linux"))]
fn recv_two(
    sock: &UdpSocket,
    buf: &mut [u8],
    out: &mut [Option<Datagram>; 2],
) -> io::Result<usize> {
    let half = buf.len() / 2;
    let (len, from) = sock.try_recv_from(&mut buf[..half])?;
    out[0] = Some(Datagram { len, from });
    Ok(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_one_two_and_reports_more() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let from = tx.local_addr().unwrap();
        let mut buf = vec![0u8; 64];
        assert!(recv_batch(&rx, &mut buf).is_err(), "nothing queued yet");

        tx.send_to(b"one", to).await.unwrap();
        rx.readable().await.unwrap();
        let b = recv_batch(&rx, &mut buf).unwrap();
        assert_eq!(b.datagrams[0], Some(Datagram { len: 3, from }));
        assert_eq!(&buf[..3], b"one");

        for p in [&b"first"[..], b"second", b"third"] {
            tx.send_to(p, to).await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        rx.readable().await.unwrap();
        let b = recv_batch(&rx, &mut buf).unwrap();
        assert_eq!(b.datagrams[0].map(|d| d.len), Some(5));
        assert_eq!(b.datagrams[1].map(|d| d.len), Some(6));
        assert_eq!((&buf[..5], &buf[32..38]), (&b"first"[..], &b"second"[..]));
        assert!(b.more);
        let b = recv_batch(&rx, &mut buf).unwrap();
        assert_eq!(&buf[..5], b"third");
        assert!(b.datagrams[1].is_none());
        assert!(!b.more || cfg!(not(target_os = "linux")));

        // A datagram longer than a half fills it: the caller sees it as truncated.
        tx.send_to(&[7u8; 40], to).await.unwrap();
        rx.readable().await.unwrap();
        let b = recv_batch(&rx, &mut buf).unwrap();
        assert_eq!(b.datagrams[0].map(|d| d.len), Some(32));
    }

    #[tokio::test]
    async fn readiness_returns_for_a_datagram_after_a_drain() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let mut buf = vec![0u8; 64];
        for round in 0..50u8 {
            tx.send_to(&[round], to).await.unwrap();
            tokio::time::timeout(std::time::Duration::from_secs(2), rx.readable())
                .await
                .expect("woken for the next datagram")
                .unwrap();
            let b = recv_batch(&rx, &mut buf).unwrap();
            assert_eq!(buf[0], round);
            assert_eq!(b.datagrams[0].map(|d| d.len), Some(1));
        }
    }
}
