//! Connections: the listener `serve` accepts them with ([`NoDelayListener`]), the peer
//! address it hands to the per-address rate limit ([`PeerAddr`]), and a limit on
//! clients that stop reading ([`StallGuard`]).
//!
//! A client that stops reading leaves the server's writes pending for ever: once its
//! buffers are full, the HTTP server stops polling the response body, so nothing inside a handler can notice. [`StallGuard`] fails a
//! write that has waited too long for the client, the HTTP server then drops the
//! connection, and the response body (an export, say) is dropped with it (issue 15).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// How long a connection may wait for the client to take a byte of its response.
/// Generous: a phone on a poor network pauses for seconds, not for a minute.
pub const SEND_STALL: Duration = Duration::from_secs(60);

/// A TCP connection whose writes fail once one has waited `limit` for the client
/// (the connection is then reset, so the kernel drops its unsent bytes too).
/// Reads are untouched: an idle keep-alive connection is not stalled.
#[derive(Debug)]
pub struct StallGuard {
    inner: TcpStream,
    limit: Duration,
    waiting: Option<Pin<Box<Sleep>>>,
}

impl StallGuard {
    /// Guards `inner`: a write pending for `limit` fails.
    pub fn new(inner: TcpStream, limit: Duration) -> Self {
        Self { inner, limit, waiting: None }
    }

    /// The connection.
    pub fn get_ref(&self) -> &TcpStream {
        &self.inner
    }

    /// Passes on a write's progress; a write still pending `limit` after the first
    /// pending one becomes an error.
    fn guard<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.waiting = None;
            return polled;
        }
        let limit = self.limit;
        let timer = self.waiting.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        // A reset rather than a close: a close would leave the unsent bytes in the kernel,
        // retried towards a client that takes none.
        if let Err(error) = self.inner.set_zero_linger() {
            tracing::debug!(%error, "SO_LINGER not set on a stalled connection");
        }
        tracing::info!(seconds = limit.as_secs_f64(), "dropping a connection whose client reads nothing");
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, format!("the client read nothing for {limit:?}"))))
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A TCP listener that sets TCP_NODELAY on every connection it accepts. A streamed
/// export writes its body in chunks; with Nagle's algorithm on, a small write after a
/// large one waits for the client's delayed ACK (40 ms on Linux) — measured: every
/// export took at least 40 ms, and a 180 KB NDJSON export seconds under load
/// (docs/RELIABILITY.md). A connection whose client reads nothing for
/// [`SEND_STALL`] is dropped (issue 15).
pub struct NoDelayListener(pub TcpListener);

impl axum::serve::Listener for NoDelayListener {
    type Io = StallGuard;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set on a connection");
        }
        (StallGuard::new(stream, SEND_STALL), addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The peer address of a connection accepted by [`NoDelayListener`] (what the per-address
/// rate limit keys on).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, NoDelayListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, NoDelayListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::StallGuard;

    /// A peer that reads nothing: writes go through until the buffers are full, then the
    /// next write fails instead of waiting for ever; a peer that reads is never cut off.
    #[tokio::test]
    async fn a_write_the_client_never_takes_fails_and_one_it_takes_does_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("addr");
        let _idle_peer = tokio::net::TcpStream::connect(address).await.expect("connect");
        let (accepted, _) = listener.accept().await.expect("accept");
        let mut guarded = StallGuard::new(accepted, Duration::from_millis(200));
        let chunk = vec![b'x'; 64 * 1024];
        let mut written = 0usize;
        let error = loop {
            match tokio::time::timeout(Duration::from_secs(30), guarded.write_all(&chunk)).await {
                Ok(Ok(())) => written += chunk.len(),
                Ok(Err(error)) => break error,
                Err(_) => panic!("a write to a peer that reads nothing is still pending"),
            }
        };
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert!(written > 0, "writes went through while the buffers had room");

        // A slow reader that keeps taking bytes is never cut off.
        let mut reader = tokio::net::TcpStream::connect(address).await.expect("connect");
        let (accepted, _) = listener.accept().await.expect("accept");
        let mut guarded = StallGuard::new(accepted, Duration::from_secs(2));
        let total = 8 * 1024 * 1024;
        let drain = tokio::spawn(async move {
            let mut buf = vec![0u8; 256 * 1024];
            let mut seen = 0;
            while seen < total {
                tokio::time::sleep(Duration::from_millis(20)).await;
                seen += reader.read(&mut buf).await.expect("read");
            }
            seen
        });
        for _ in 0..total / chunk.len() {
            guarded.write_all(&chunk).await.expect("a reading client is never cut off");
        }
        assert_eq!(drain.await.expect("reader"), total);
    }
}
