//! The device's HTTP server with a WebSocket echo at `/ws`, written with embedded-websocket (no
//! allocator: fixed buffers), after that crate's own server example: the request head parsed
//! with httparse, the upgrade checked by `read_http_header`, then its `Framer` echoes text and
//! binary messages until the close. Other paths get a 200. One connection at a time over the
//! same link as pushwire's firmware.

#![no_std]
#![no_main]

use cortex_m as _;
use cortex_m_rt::entry;
use embedded_websocket as ews;
use ews::framer::{Framer, ReadResult, Stream};
use ews::{WebSocketSendMessageType, WebSocketServer};
use panic_halt as _;

// (Its clock goes unused: this server keeps no time.)
#[allow(dead_code)]
#[path = "../../../src/rings.rs"]
mod rings;

use rings::{Link, Rings};

/// The link as the framer's stream (`Err(())` once the peer has closed).
struct Conn<'a, L: Link>(&'a mut L);

impl<L: Link> Stream<()> for Conn<'_, L> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ()> {
        self.0.recv(buf).ok_or(())
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), ()> {
        self.0.send(buf);
        Ok(())
    }
}

#[entry]
fn main() -> ! {
    let mut link = Rings;
    loop {
        let _ = serve(&mut Conn(&mut link));
    }
}

/// Serves one connection until it ends.
fn serve(stream: &mut Conn<'_, impl Link>) -> Result<(), ()> {
    let mut read_buf = [0u8; 2048];
    let mut read_cursor = 0;
    let Some(context) = read_head(stream, &mut read_buf, &mut read_cursor)? else {
        return Ok(());
    };
    let mut write_buf = [0u8; 4096];
    let mut frame_buf = [0u8; 4096];
    let mut websocket = WebSocketServer::new_server();
    let mut framer = Framer::new(
        &mut read_buf,
        &mut read_cursor,
        &mut write_buf,
        &mut websocket,
    );
    framer.accept(stream, &context).map_err(|_| ())?;
    loop {
        let (kind, payload) = match framer.read(stream, &mut frame_buf).map_err(|_| ())? {
            ReadResult::Text(text) => (WebSocketSendMessageType::Text, text.as_bytes()),
            ReadResult::Binary(data) => (WebSocketSendMessageType::Binary, data),
            ReadResult::Pong(_) => continue,
            ReadResult::Closed => return Ok(()),
        };
        framer.write(stream, kind, true, payload).map_err(|_| ())?;
    }
}

/// Reads the request head; the WebSocket upgrade's context for `/ws`, else answers it.
fn read_head(
    stream: &mut Conn<'_, impl Link>,
    buf: &mut [u8],
    cursor: &mut usize,
) -> Result<Option<ews::WebSocketContext>, ()> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut headers);
        let received = stream.read(buf.get_mut(*cursor..).ok_or(())?)?;
        if received == 0 {
            return Err(());
        }
        let whole = buf.get(..*cursor + received).ok_or(())?;
        match request.parse(whole).map_err(|_| ())? {
            httparse::Status::Complete(len) => {
                *cursor += received - len;
                let fields = request.headers.iter().map(|f| (f.name, f.value));
                let context = ews::read_http_header(fields).map_err(|_| ())?;
                return match (request.path, context) {
                    (Some("/ws"), Some(context)) => Ok(Some(context)),
                    _ => {
                        stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\nembedded-websocket on a device\n",
                        )?;
                        Ok(None)
                    }
                };
            }
            httparse::Status::Partial => *cursor += received,
        }
    }
}
