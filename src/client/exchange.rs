//! Blocking HTTP/1.1 and WebSocket on a [`Stream`], driven by the crate's own sans-IO client
//! machines ([`http::client::Connection`], [`ws::ClientHandshake`], [`ws::Connection`]).

use super::target::{Stream, Target, TlsConfig};
use crate::entropy::OsEntropy;
use crate::http::client::{self, RequestBody};
use crate::limits::Limits;
use crate::time::Instant;
use crate::ws;
use std::io::{self, Read, Write};
use std::time::Duration;

/// A response's status and header fields.
#[derive(Clone, Debug, Default)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// The fields, names as sent.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    /// The first field named `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// What reading a response gave.
enum Piece {
    Head(Head),
    Data(Vec<u8>),
    End,
}

/// HTTP/1.1 exchanges on one connection.
pub struct Http {
    stream: Stream,
    machine: client::Connection,
    buf: Vec<u8>,
}

impl Http {
    /// Exchanges on `stream`.
    pub fn new(stream: Stream) -> Self {
        Http {
            stream,
            machine: client::Connection::new(&Limits::default()),
            buf: Vec::new(),
        }
    }

    /// Sends a request: `fields` besides `Host`, `body` with its length.
    ///
    /// # Errors
    /// The stream failed, or the request is not one the machine can write.
    pub fn send(
        &mut self,
        host: &str,
        method: &str,
        target: &str,
        fields: &[(&str, &[u8])],
        body: Option<&[u8]>,
    ) -> io::Result<()> {
        let mut headers: Vec<(&str, &[u8])> = vec![("Host", host.as_bytes())];
        headers.extend_from_slice(fields);
        let framing = match body {
            Some(b) => RequestBody::Length(b.len() as u64),
            None => RequestBody::Empty,
        };
        let mut out = Vec::new();
        self.machine
            .send_request(method, target, &headers, framing, &mut out)
            .map_err(io::Error::other)?;
        if let Some(b) = body.filter(|b| !b.is_empty()) {
            self.machine
                .send_body(b, &mut out)
                .map_err(io::Error::other)?;
        }
        self.stream.write_all(&out)
    }

    /// The response's head (interim `1xx` heads are skipped).
    ///
    /// # Errors
    /// The stream failed or ended first, or the response is malformed.
    pub fn head(&mut self) -> io::Result<Head> {
        match self.piece()? {
            Piece::Head(head) => Ok(head),
            Piece::Data(_) | Piece::End => Err(io::Error::other("a body before a response head")),
        }
    }

    /// The next piece of the body; `None` once it ended.
    ///
    /// # Errors
    /// As [`Http::head`].
    pub fn data(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self.piece()? {
            Piece::Data(d) => Ok(Some(d)),
            Piece::End => Ok(None),
            Piece::Head(_) => Err(io::Error::other("a second response head")),
        }
    }

    /// The whole body.
    ///
    /// # Errors
    /// As [`Http::head`].
    pub fn body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        while let Some(piece) = self.data()? {
            body.extend_from_slice(&piece);
        }
        Ok(body)
    }

    /// The stream and what was read past the response (after a `101`).
    pub fn into_parts(self) -> (Stream, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// The stream's socket.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    fn piece(&mut self) -> io::Result<Piece> {
        loop {
            loop {
                let step = self.machine.feed(&self.buf).map_err(io::Error::other)?;
                let consumed = step.consumed;
                let piece = match step.event {
                    Some(client::Event::Response(r)) if r.status >= 200 => {
                        Some(Piece::Head(Head {
                            status: r.status,
                            headers: r
                                .headers()
                                .map(|(n, v)| (n.to_string(), v.to_vec()))
                                .collect(),
                        }))
                    }
                    Some(client::Event::Data(d)) => Some(Piece::Data(d.to_vec())),
                    Some(client::Event::End) => Some(Piece::End),
                    _ => None,
                };
                let progressed = consumed > 0 || piece.is_some();
                self.buf.drain(..consumed);
                if let Some(piece) = piece {
                    return Ok(piece);
                }
                if !progressed {
                    break;
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                self.machine.feed_eof().map_err(io::Error::other)?;
                return match self.machine.poll_event() {
                    Some(client::Event::End) => Ok(Piece::End),
                    _ => Err(io::ErrorKind::UnexpectedEof.into()),
                };
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A message from a WebSocket server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// The server's close frame: its code (1005 for none) and reason.
    Closed(u16, String),
}

/// A blocking WebSocket client connection (RFC 6455).
pub struct WebSocket {
    stream: Stream,
    machine: ws::Connection,
    buf: Vec<u8>,
    out: Vec<u8>,
    started: std::time::Instant,
}

impl WebSocket {
    /// Opens a WebSocket to `path` on `target`, offering `protocols`, with `fields` besides
    /// the handshake's own; the subprotocol the server chose, if any.
    ///
    /// # Errors
    /// The connection failed, or the server did not accept the upgrade (its status is in the
    /// message).
    pub fn connect(
        target: &Target,
        path: &str,
        protocols: &[&str],
        fields: &[(&str, &[u8])],
        tls: Option<&TlsConfig>,
        timeout: Duration,
    ) -> io::Result<(WebSocket, Option<String>)> {
        let stream = target.connect(tls, timeout)?;
        let handshake = ws::ClientHandshake::new(OsEntropy);
        let mut http = client::Connection::new(&Limits::default());
        let mut out = Vec::new();
        handshake
            .send_request(
                &target.authority(),
                path,
                protocols,
                fields,
                &mut http,
                &mut out,
            )
            .map_err(io::Error::other)?;
        let mut exchange = Http {
            stream,
            machine: http,
            buf: Vec::new(),
        };
        exchange.stream.write_all(&out)?;
        // The head is read with the machine, then checked as RFC 6455 §4.1 says.
        let (proof, protocol) = loop {
            let step = exchange
                .machine
                .feed(&exchange.buf)
                .map_err(io::Error::other)?;
            let consumed = step.consumed;
            if let Some(client::Event::Response(r)) = step.event {
                if r.status == 101 || r.status >= 200 {
                    let status = r.status;
                    let verified = handshake
                        .verify(&r, protocols)
                        .map(|(p, chosen)| (p, chosen.map(String::from)));
                    exchange.buf.drain(..consumed);
                    break verified.map_err(|e| {
                        io::Error::other(format!("upgrade refused ({status}): {e}"))
                    })?;
                }
            }
            exchange.buf.drain(..consumed);
            if consumed == 0 {
                let mut chunk = [0u8; 4096];
                let n = exchange.stream.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                exchange.buf.extend_from_slice(&chunk[..n]);
            }
        };
        let limits = Limits::default();
        let (stream, leftover) = exchange.into_parts();
        let mut machine = ws::Connection::new(proof, &limits);
        machine.start(Instant::ZERO);
        let socket = WebSocket {
            stream,
            machine,
            buf: leftover,
            out: Vec::new(),
            started: std::time::Instant::now(),
        };
        Ok((socket, protocol))
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.started.elapsed().as_micros() as u64)
    }

    /// The next message (pings are answered on the way); `Closed` once the server closed.
    ///
    /// # Errors
    /// The stream failed or ended without a close, or the server broke the protocol.
    pub fn recv(&mut self) -> io::Result<Received> {
        loop {
            loop {
                let now = self.now();
                let step = self
                    .machine
                    .feed(now, &mut self.buf, &mut self.out)
                    .map_err(io::Error::other)?;
                let consumed = step.consumed;
                let got = match step.event {
                    Some(ws::Event::Text(t)) => Some(Received::Text(t.into_owned())),
                    Some(ws::Event::Binary(b)) => Some(Received::Binary(b.into_owned())),
                    Some(ws::Event::Close { code, reason }) => Some(Received::Closed(
                        code.map_or(1005, |c| c.0),
                        reason.to_string(),
                    )),
                    _ => None,
                };
                let progressed = consumed > 0 || got.is_some();
                self.buf.drain(..consumed);
                self.flush()?;
                if let Some(got) = got {
                    return Ok(got);
                }
                if !progressed {
                    break;
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a text message.
    ///
    /// # Errors
    /// The stream failed, or the connection is closing.
    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.machine
            .send_text(text, &mut self.out)
            .map_err(io::Error::other)?;
        self.flush()
    }

    /// Sends a ping (RFC 6455 §5.5.2).
    ///
    /// # Errors
    /// The stream failed.
    pub fn ping(&mut self) -> io::Result<()> {
        self.machine
            .send_ping(b"", &mut self.out)
            .map_err(io::Error::other)?;
        self.flush()
    }

    /// Starts the closing handshake (RFC 6455 §7.1.2).
    ///
    /// # Errors
    /// The stream failed.
    pub fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        let _ = self
            .machine
            .send_close(Some(ws::CloseCode(code)), reason, &mut self.out);
        self.flush()
    }

    /// The stream's socket (for timeouts).
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }
}
