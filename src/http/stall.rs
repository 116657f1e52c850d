//! The write side of an HTTP connection's limits: a socket that accepts no bytes of a
//! response for `http-timeout` fails the write, so hyper ends the connection and its
//! `http-maxclients` slot and response buffer are freed.
//!
//! hyper's timer bounds only reads (headers, keep-alive); without this a client that asks
//! for a large value and never reads it holds the connection for ever. It owns only that
//! timer; reads pass through untouched (their limits are hyper's and `read_body`'s).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// A connection's socket whose writes fail with `TimedOut` after `limit` without progress.
pub struct StallGuard {
    io: TcpStream,
    limit: Duration,
    /// Allocated at the connection's first stalled write and reused after (most connections
    /// never stall: a write that completes at once arms nothing and allocates nothing).
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether `timer` counts down the current stall (it is left idle, not dropped, when the
    /// socket takes bytes again).
    armed: bool,
}

impl StallGuard {
    pub fn new(io: TcpStream, limit: Duration) -> StallGuard {
        StallGuard {
            io,
            limit,
            timer: None,
            armed: false,
        }
    }

    /// After a write: progress disarms the timer; `Pending` arms it (once per stall, so the
    /// deadline is from the stall's start, not from the latest wake-up) and fails the write
    /// once it fires.
    fn watch(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        if !self.armed {
            let deadline = Instant::now() + self.limit;
            match &mut self.timer {
                Some(t) => t.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        let timer = self.timer.as_mut().expect("armed above");
        ready!(timer.as_mut().poll(cx));
        self.armed = false;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing of the response for http-timeout",
        )))
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A TCP socket has nothing of its own to flush: this never waits.
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
