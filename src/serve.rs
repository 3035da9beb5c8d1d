//! The HTTP servers' accept loop (the sandbox's and the run's notification receiver): bounded,
//! in front of an axum router.
//!
//! ```text
//! TCP accept ─► Gate (at most max_connections open; beyond it the connection is closed at once)
//!    └─(TLS: handshake within tls::HANDSHAKE_TIMEOUT)─► hyper HTTP/1 connection
//!         headers of each request within idle_timeout (also the longest idle keep-alive gap)
//!         whole request body within BODY_TIMEOUT (else 408)
//! shutdown ─► stop accepting ─► in-flight requests finish (at most SHUTDOWN_GRACE) ─► closed
//! ```
//! A peer that opens connections and sends nothing holds a slot for at most the idle timeout,
//! so a thousand idle connections neither exhaust file descriptors nor stall the server for
//! longer than that. The limits are documented in `docs/src/sandbox-behaviour.md` and
//! `docs/src/security.md`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::Frame;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt as _;

/// Connections open at once, by default (`apoflow sandbox --max-connections`).
pub const MAX_CONNECTIONS: usize = 512;
/// How long a connection may take to send a request's headers, by default; the same bound
/// applies to the wait for the next request on a kept-alive connection
/// (`apoflow sandbox --idle-timeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request's whole body may take to arrive, by default
/// (`apoflow sandbox --body-timeout`).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a shutdown waits for in-flight requests before closing their connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// The most header bytes (request line included) a request may send; beyond it the answer is
/// 431 and the connection is closed.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The server's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once (TLS handshakes included).
    pub max_connections: usize,
    /// Time for a request's headers, and the longest idle gap between requests.
    pub idle_timeout: Duration,
    /// Time for a request's whole body.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            idle_timeout: IDLE_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
        }
    }
}

/// A TCP listener that admits at most `max_connections` open connections: each accepted
/// stream holds a permit until it is dropped; a connection beyond the limit is closed at once
/// (the peer sees a reset or an empty answer), never queued.
pub struct GatedListener {
    listener: TcpListener,
    gate: Arc<Semaphore>,
}

impl GatedListener {
    /// Gates `listener`.
    pub fn new(listener: TcpListener, max_connections: usize) -> Self {
        GatedListener {
            listener,
            gate: Arc::new(Semaphore::new(max_connections.max(1))),
        }
    }
}

impl axum::serve::Listener for GatedListener {
    type Io = Admitted<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait, as axum does.
                    tracing::warn!("sandbox accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Answers go out in more than one write (headers, body, TLS records); with Nagle's
            // algorithm on, a client's delayed ACK holds the last one back about 40 ms.
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY on {peer}: {e}");
            }
            match self.gate.clone().try_acquire_owned() {
                Ok(permit) => {
                    return (
                        Admitted {
                            io: stream,
                            _permit: permit,
                        },
                        peer,
                    );
                }
                Err(_) => {
                    tracing::debug!("sandbox: {peer} refused, the connection limit is reached");
                    drop(stream);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A stream that holds a connection slot until dropped.
#[derive(Debug)]
pub struct Admitted<IO> {
    io: IO,
    _permit: OwnedSemaphorePermit,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Admitted<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Admitted<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish (at most [`SHUTDOWN_GRACE`]). Each request carries `ConnectInfo<SocketAddr>`.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let body_timeout = limits.body_timeout;
    let router = router.layer(axum::middleware::from_fn(move |req, next| {
        body_deadline(body_timeout, req, next)
    }));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = router
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.idle_timeout)
            .max_header_size(MAX_HEADER_BYTES);
        let conn = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection with {peer} ended: {e}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {}s; closing them",
            SHUTDOWN_GRACE.as_secs()
        );
    }
}

/// Gives every request body `limit` to arrive in full; a body still arriving then fails its
/// read with [`BodyTimeout`] (the APIs answer 408, other routes 400).
async fn body_deadline(limit: Duration, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let body = Body::new(Deadline {
        body,
        limit,
        sleep: Box::pin(tokio::time::sleep(limit)),
    });
    next.run(Request::from_parts(parts, body)).await
}

/// A body that errs once its deadline has passed.
struct Deadline {
    body: Body,
    limit: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

/// The error of a body that took longer than its limit.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} seconds", .0.as_secs())]
pub struct BodyTimeout(Duration);

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimeout(self.limit).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// The [`BodyTimeout`] behind a failed body read, if that is why it failed.
pub fn body_timeout(e: &axum::Error) -> Option<&BodyTimeout> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(timeout) = err.downcast_ref::<BodyTimeout>() {
            return Some(timeout);
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;

    #[tokio::test]
    async fn admitted_connections_send_without_waiting_for_acks() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut gated = GatedListener::new(listener, 4);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (admitted, _) = gated.accept().await;
        assert!(admitted.io.nodelay().unwrap());
    }
}
