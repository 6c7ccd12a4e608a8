//! The listening socket, bounded against slow and idle clients (slowloris):
//! at most `--web.max-connections` connections at once (further ones wait
//! in the kernel's queue, as Prometheus's own server does), and a
//! connection with no traffic at all for [`idle_backstop`] is closed,
//! whatever it speaks (an idle HTTP/2 connection has no other bound).
//!
//! The tighter bounds are set in `exporter.rs` from `--web.idle-timeout`:
//! the TLS handshake, the first request, and each HTTP/1 request's headers
//! (hyper's header-read timeout, which also closes an idle keep-alive
//! connection). The backstop is far longer because it cannot tell a
//! connection waiting for a slow handler (hyper keeps reading to notice a
//! client that leaves) from an idle one.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// No traffic for this long closes a connection: twelve idle timeouts (two
/// minutes by default), past any handler of ours.
pub fn idle_backstop(idle_timeout: Duration) -> Duration {
    idle_timeout.saturating_mul(12)
}

/// The address type of a [`LimitedListener`], for axum-server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitedAddr(pub SocketAddr);

impl axum_server::Address for LimitedAddr {
    type Stream = LimitedStream;
    type Listener = LimitedListener;
}

/// A TCP listener that accepts only while a connection slot is free.
#[derive(Debug)]
pub struct LimitedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    idle_timeout: Duration,
}

impl LimitedListener {
    /// Wraps a bound, non-blocking listener; connections with no traffic
    /// for `idle_timeout` are closed.
    pub fn new(listener: std::net::TcpListener, max_connections: usize, idle_timeout: Duration) -> io::Result<Self> {
        let slots = Arc::new(Semaphore::new(max_connections.clamp(1, Semaphore::MAX_PERMITS)));
        Ok(Self { inner: TcpListener::from_std(listener)?, slots, idle_timeout })
    }
}

impl axum_server::AddrListener<LimitedStream, LimitedAddr> for LimitedListener {
    async fn bind_to(addr: LimitedAddr) -> io::Result<Self> {
        // Built from an already bound socket only (`exporter.rs` binds, so
        // that a busy port fails the start with its own message).
        Err(io::Error::new(io::ErrorKind::Unsupported, format!("bind {} through LimitedListener::new", addr.0)))
    }

    async fn accept_stream(&self) -> io::Result<(LimitedStream, LimitedAddr)> {
        // A slot first: while every slot is taken, connections wait in the
        // kernel's accept queue instead of costing a task and a descriptor.
        let slot = Arc::clone(&self.slots).acquire_owned().await.map_err(io::Error::other)?;
        let (stream, peer) = self.inner.accept().await?;
        Ok((LimitedStream::new(stream, slot, self.idle_timeout), LimitedAddr(peer)))
    }

    fn get_local_addr(&self) -> io::Result<LimitedAddr> {
        self.inner.local_addr().map(LimitedAddr)
    }
}

/// An accepted connection holding its slot, closed when idle too long.
#[derive(Debug)]
pub struct LimitedStream {
    inner: TcpStream,
    idle_timeout: Duration,
    /// Moves forward on every byte read or written.
    idle_deadline: Pin<Box<Sleep>>,
    _slot: OwnedSemaphorePermit,
}

impl LimitedStream {
    fn new(inner: TcpStream, slot: OwnedSemaphorePermit, idle_timeout: Duration) -> Self {
        let idle_deadline = Box::pin(tokio::time::sleep(idle_timeout));
        Self { inner, idle_timeout, idle_deadline, _slot: slot }
    }

    fn active(&mut self) {
        let next = Instant::now() + self.idle_timeout;
        self.idle_deadline.as_mut().reset(next);
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.active();
                }
                Poll::Ready(Ok(()))
            }
            // Waiting for the client: a deadline passed ends the connection
            // (the error closes it; the slot goes back with it).
            Poll::Pending if this.idle_deadline.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "connection without traffic for too long")))
            }
            other => other,
        }
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.active();
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, data);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.active();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum_server::AddrListener as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn listener(max: usize, idle: Duration) -> LimitedListener {
        let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std.set_nonblocking(true).unwrap();
        LimitedListener::new(std, max, idle).unwrap()
    }

    #[tokio::test]
    async fn a_full_listener_accepts_again_once_a_connection_closes() {
        let listener = listener(1, Duration::from_secs(60));
        let addr = listener.get_local_addr().unwrap().0;
        let _first_client = TcpStream::connect(addr).await.unwrap();
        let (first, _) = listener.accept_stream().await.unwrap();
        let _second_client = TcpStream::connect(addr).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(200), listener.accept_stream()).await;
        assert!(waiting.is_err(), "the only slot is taken");
        drop(first);
        let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept_stream()).await;
        assert!(accepted.is_ok(), "the slot came back");
    }

    #[tokio::test]
    async fn an_idle_connection_fails_its_read_and_traffic_keeps_one_open() {
        let listener = listener(4, Duration::from_millis(300));
        let addr = listener.get_local_addr().unwrap().0;
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept_stream().await.unwrap();
        // Traffic every 100 ms for a second keeps it open.
        for _ in 0..10 {
            client.write_all(b"x").await.unwrap();
            let mut byte = [0; 1];
            server.read_exact(&mut byte).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let started = Instant::now();
        let mut byte = [0; 1];
        let error = server.read(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(150), "{:?}", started.elapsed());
    }
}
