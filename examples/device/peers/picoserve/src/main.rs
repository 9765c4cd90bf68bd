//! The device's HTTP server with a WebSocket echo at `/ws` and an event stream of 100 events at
//! `/events`, written with picoserve (async, no allocator): a router with three routes, a
//! WebSocket callback that echoes text and binary messages and answers pings, an event source.
//! One connection at a time over the same link as pushwire's firmware, its futures polled to
//! the end by a minimal executor (the link never makes a future wait for a waker).

#![no_std]
#![no_main]

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use cortex_m as _;
use cortex_m_rt::entry;
use panic_halt as _;
use picoserve::io::{ErrorKind, ErrorType, Read};
use picoserve::mem::BorrowedBuffer;
#[cfg(feature = "events")]
use picoserve::response::sse::{EventSource, EventStream, EventWriter};
use picoserve::response::ws::{Message, SocketRx, SocketTx, WebSocketCallback, WebSocketUpgrade};
use picoserve::routing::get;
use picoserve::time::Duration;
use picoserve::{Config, Router, Server, Timeouts};

#[path = "../../../src/rings.rs"]
mod rings;

use rings::{Link, Rings};

/// The runtime this firmware gives picoserve: none but the link's clock.
struct Device;

/// A delay on the link's clock.
struct Clock;

impl picoserve::Timer<Device> for Clock {
    async fn delay(&self, duration: Duration) {
        let until = Rings
            .micros()
            .saturating_add(duration.as_millis().saturating_mul(1000));
        core::future::poll_fn(|_| {
            if Rings.micros() >= until {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Either half of the connection (the link's rings are statics).
struct Half;

impl ErrorType for Half {
    type Error = ErrorKind;
}

impl Read for Half {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        Ok(Rings.recv(buf).unwrap_or(0))
    }
}

impl picoserve::io::BaseWrite for Half {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Rings.send(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl picoserve::io::Write for Half {
    async fn write_with<F: FnOnce(picoserve::mem::BorrowedCursor<'_>) -> R, R>(
        &mut self,
        f: F,
    ) -> Result<R, ErrorKind> {
        let mut space = [0u8; 512];
        let mut buffer = BorrowedBuffer::new(&mut space);
        let output = f(buffer.unfilled());
        Rings.send(buffer.filled());
        Ok(output)
    }
}

/// The connection, as picoserve's socket.
struct Socket(Half, Half);

impl picoserve::io::Socket<Device> for Socket {
    type Error = ErrorKind;
    type ReadHalf<'a> = &'a mut Half;
    type WriteHalf<'a> = &'a mut Half;

    fn split(&mut self) -> (&mut Half, &mut Half) {
        (&mut self.0, &mut self.1)
    }

    async fn abort<T: picoserve::Timer<Device>>(
        self,
        _: &Timeouts,
        _: &T,
    ) -> Result<(), picoserve::Error<ErrorKind>> {
        Ok(())
    }

    async fn shutdown<T: picoserve::Timer<Device>>(
        self,
        _: &Timeouts,
        _: &T,
    ) -> Result<(), picoserve::Error<ErrorKind>> {
        Ok(())
    }
}

/// The WebSocket echo.
struct Echo;

impl WebSocketCallback for Echo {
    async fn run<R: Read, W: picoserve::io::Write<Error = R::Error>>(
        self,
        mut rx: SocketRx<R>,
        mut tx: SocketTx<W>,
    ) -> Result<(), W::Error> {
        let mut buffer = [0u8; 4096];
        loop {
            let message = match rx
                .next_message(&mut buffer, core::future::pending::<()>())
                .await?
            {
                picoserve::futures::Either::First(Ok(message)) => message,
                _ => return tx.close(Some((1002, ""))).await,
            };
            match message {
                Message::Text(text) => tx.send_text(text).await?,
                Message::Binary(data) => tx.send_binary(data).await?,
                Message::Ping(data) => tx.send_pong(data).await?,
                Message::Pong(_) => {}
                Message::Close(_) => return tx.close(None).await,
            }
        }
    }
}

/// The event stream: 100 events.
#[cfg(feature = "events")]
struct Events;

#[cfg(feature = "events")]
impl EventSource for Events {
    async fn write_events<W: picoserve::io::Write>(
        self,
        mut writer: EventWriter<'_, W>,
    ) -> Result<(), W::Error> {
        for _ in 1..=100u32 {
            writer.write_event("message", "{\"reading\":42}").await?;
        }
        Ok(())
    }
}

/// Polls `future` until it is done.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[entry]
fn main() -> ! {
    let router = Router::new()
        .route("/", get(|| async { "picoserve on a device\n" }))
        .route(
            "/ws",
            get(|upgrade: WebSocketUpgrade| async move { upgrade.on_upgrade(Echo) }),
        );
    #[cfg(feature = "events")]
    let router = router.route("/events", get(|| async { EventStream(Events) }));
    let config = Config::const_default();
    let mut http_buffer = [0u8; 2048];
    loop {
        let server = Server::custom(&router, Clock, &config, &mut http_buffer);
        let _ = block_on(server.serve(Socket(Half, Half)));
    }
}
