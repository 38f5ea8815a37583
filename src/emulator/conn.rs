//! Connections the fault injector can cut ("drop" faults).
//!
//! A handler cannot close its own TCP connection through axum, and a
//! response whose body fails still sends the status line and headers first.
//! So the emulator serves through its own [`Listener`]: every accepted
//! socket is wrapped in a [`CuttableStream`] sharing a flag with a
//! [`ConnHandle`], which axum hands to each request as
//! `ConnectInfo<ConnHandle>` (see `Router::into_make_service_with_connect_info`).
//!
//! To drop a request, the fault layer calls [`ConnHandle::cut`] and returns
//! any response. hyper then touches the socket (to read, or to write that
//! response) and gets `ConnectionAborted`; it abandons the connection
//! without having written a byte of the response, and the socket is closed
//! with `SO_LINGER` 0, i.e. with a TCP RST. The client sees "connection
//! reset" / "connection closed before message completed" after it sent its
//! request, never an HTTP answer. Other connections are unaffected.
//!
//! Served without this listener (e.g. [`super::router`] under a plain
//! `axum::serve`), requests carry no `ConnHandle` and drops fall back to a
//! response that promises a body it never sends (see
//! `log::dropped_response`), which hyper also aborts.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections can be cut from a handler.
#[derive(Debug)]
pub struct CuttableListener(pub TcpListener);

impl Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's own impl retries (and backs off on) accept errors.
        let (io, addr) = Listener::accept(&mut self.0).await;
        let stream = CuttableStream {
            io,
            cut: Arc::new(AtomicBool::new(false)),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A TCP stream that fails every read and write once cut.
#[derive(Debug)]
pub struct CuttableStream {
    io: TcpStream,
    cut: Arc<AtomicBool>,
}

impl CuttableStream {
    fn check(&self) -> io::Result<()> {
        if !self.cut.load(Ordering::Acquire) {
            return Ok(());
        }
        // Reset rather than a graceful FIN when the socket is closed; zero
        // linger never blocks on drop. Failing to set it still closes.
        let _ = self.io.set_zero_linger();
        Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "connection cut by emulator fault injection",
        ))
    }
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// Per-request handle on the request's connection.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    cut: Arc<AtomicBool>,
}

impl ConnHandle {
    /// Make the connection fail from now on: no response reaches the client.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::Release);
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        ConnHandle {
            cut: Arc::clone(&stream.io().cut),
        }
    }
}
