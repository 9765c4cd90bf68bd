//! [`Subscriber`]: follows topics on one or more servers over WebSocket, Server-Sent Events or
//! long-polling, and never loses its place. It learns where "now" is before it first connects,
//! keeps a cursor per topic, resumes from its position on every reconnect (to the same server
//! or the next one), and drops what it has seen already — each event once, in order, per topic.

use super::exchange::{Http, Received, WebSocket};
use super::target::{Target, TlsConfig, UrlError};
use crate::hub::position;
use crate::json::{self, Value};
use crate::sse;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::time::{Duration, Instant};

/// How a [`Subscriber`] receives events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// `GET /ws`: one upgraded connection.
    WebSocket,
    /// `GET /events`: one `text/event-stream` response.
    Sse,
    /// `GET /poll`, asked again after every answer.
    LongPoll,
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ws" | "websocket" => Ok(Transport::WebSocket),
            "sse" | "events" => Ok(Transport::Sse),
            "poll" | "long-poll" | "longpoll" => Ok(Transport::LongPoll),
            other => Err(format!("unknown transport {other:?} (ws, sse or poll)")),
        }
    }
}

/// An event as a subscriber receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its topic.
    pub topic: String,
    /// Its number in the topic.
    pub seq: u64,
    /// The published text.
    pub data: String,
    /// The event's line of JSON, as the server sent it.
    pub line: String,
}

/// What [`Subscriber::next`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// An event not seen before.
    Event(Event),
    /// Events of `topic` this subscriber can no longer get (its line of JSON, as sent).
    Gap {
        /// The topic.
        topic: String,
        /// `{"topic":…,"gap":{…}}`.
        line: String,
    },
    /// Connected to `url` over `transport`.
    Connected {
        /// The server.
        url: String,
        /// How.
        transport: Transport,
    },
    /// The connection to `url` failed or ended; the subscriber reconnects.
    Disconnected {
        /// The server.
        url: String,
        /// Why.
        error: String,
    },
}

/// The live connection.
enum Session {
    Sse(Http, sse::Parser),
    Ws(WebSocket, bool),
    Poll(Http),
}

/// Follows topics, resuming by position across reconnects and servers.
pub struct Subscriber {
    servers: Vec<Target>,
    at: usize,
    topics: Vec<String>,
    cursors: BTreeMap<String, u64>,
    transport: Transport,
    token: Option<String>,
    tls: Option<TlsConfig>,
    timeout: Duration,
    backoff: Duration,
    session: Option<(Session, Instant)>,
    queue: VecDeque<Item>,
}

/// The least and most time between reconnects.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

impl Subscriber {
    /// Follows `topics` on the servers `urls` (tried in turn), over WebSocket, from now.
    ///
    /// # Errors
    /// [`UrlError`] for a URL that is not one; no URL or no topic is `UrlError::Authority`.
    pub fn new<U: AsRef<str>, T: AsRef<str>>(urls: &[U], topics: &[T]) -> Result<Self, UrlError> {
        let servers = urls
            .iter()
            .map(|u| u.as_ref().parse())
            .collect::<Result<Vec<Target>, _>>()?;
        if servers.is_empty() || topics.is_empty() {
            return Err(UrlError::Authority);
        }
        let mut topics: Vec<String> = topics.iter().map(|t| t.as_ref().to_string()).collect();
        topics.dedup();
        Ok(Subscriber {
            servers,
            at: 0,
            topics,
            cursors: BTreeMap::new(),
            transport: Transport::WebSocket,
            token: None,
            tls: None,
            timeout: Duration::from_secs(45),
            backoff: BACKOFF.0,
            session: None,
            queue: VecDeque::new(),
        })
    }

    /// Receives over `transport`.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Sends `token` as `Authorization: Bearer` (RFC 6750 §2.1).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Trusts this TLS configuration for `https` and `wss` (default: Mozilla's roots).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Starts from `position` (a cursor for one topic, a position for several; `0` for the
    /// history of all of them) instead of from now.
    ///
    /// # Errors
    /// The position does not parse, or names other topics.
    pub fn from_position(mut self, text: &str) -> Result<Self, position::PositionError> {
        let names: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        let cursors = position::parse(text, &names, usize::MAX)?;
        for (topic, cursor) in self.topics.iter().zip(cursors) {
            if let Some(cursor) = cursor {
                self.cursors.insert(topic.clone(), cursor);
            }
        }
        Ok(self)
    }

    /// Where this subscriber stands: what to resume from.
    pub fn current_position(&self) -> String {
        let mut out = String::new();
        let known = self
            .topics
            .iter()
            .filter_map(|t| Some((t.as_str(), *self.cursors.get(t)?)));
        // Several topics take the `1.` form even while only some cursors are known.
        if self.topics.len() == 1 {
            position::encode(known, &mut out);
        } else {
            position::encode_set(known, &mut out);
        }
        out
    }

    /// The next event, gap or change of connection; blocks until there is one (the
    /// subscriber reconnects for ever: as an iterator it never ends).
    pub fn wait(&mut self) -> Item {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return item;
            }
            match self.session.take() {
                None => self.open(),
                Some((session, since)) => match self.read(session) {
                    Ok(session) => self.session = Some((session, since)),
                    Err(e) => {
                        if since.elapsed() > BACKOFF.1 {
                            self.backoff = BACKOFF.0;
                        }
                        self.fail(e);
                    }
                },
            }
        }
    }

    /// Drops the connection (the next [`Subscriber::wait`] reconnects, from the position).
    pub fn disconnect(&mut self) {
        self.session = None;
    }

    /// Receives over `transport` from now on: the connection is dropped and made again the
    /// new way, from the position.
    pub fn switch(&mut self, transport: Transport) {
        self.transport = transport;
        self.session = None;
    }

    /// The current server.
    fn server(&self) -> &Target {
        &self.servers[self.at % self.servers.len()]
    }

    /// A connection failed: report it, wait, and try the next server.
    fn fail(&mut self, error: io::Error) {
        let url = self.server().url();
        self.queue.push_back(Item::Disconnected {
            url,
            error: error.to_string(),
        });
        self.at += 1;
        std::thread::sleep(jitter(self.backoff));
        self.backoff = (self.backoff * 2).min(BACKOFF.1);
    }

    fn open(&mut self) {
        match self.connect() {
            Ok(session) => {
                let url = self.server().url();
                self.queue.push_back(Item::Connected {
                    url,
                    transport: self.transport,
                });
                self.session = Some((session, Instant::now()));
            }
            Err(e) => self.fail(e),
        }
    }

    fn auth(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// Connects, first learning where "now" is in the topics without a cursor (so that a
    /// reconnect resumes from there rather than from a later "now").
    fn connect(&mut self) -> io::Result<Session> {
        let target = self.server().clone();
        let auth = self.auth();
        let fields: Vec<(&str, &[u8])> = auth
            .iter()
            .map(|a| ("Authorization", a.as_bytes()))
            .collect();
        let unknown: Vec<String> = self
            .topics
            .iter()
            .filter(|t| !self.cursors.contains_key(*t))
            .cloned()
            .collect();
        for topic in unknown {
            let mut http = Http::new(target.connect(self.tls.as_ref(), self.timeout)?);
            let path = format!("{}/cursor?topic={}", target.base, encode(&topic));
            http.send(&target.authority(), "GET", &path, &fields, None)?;
            let head = http.head()?;
            let body = http.body()?;
            let cursor = std::str::from_utf8(&body)
                .ok()
                .and_then(|b| b.trim().parse().ok());
            match (head.status, cursor) {
                (200, Some(cursor)) => {
                    self.cursors.insert(topic, cursor);
                }
                (status, _) => return Err(refused("/cursor", status, &body)),
            }
        }
        let topics: String = self
            .topics
            .iter()
            .map(|t| format!("topic={}&", encode(t)))
            .collect();
        let at = self.current_position();
        match self.transport {
            Transport::Sse => {
                let mut http = Http::new(target.connect(self.tls.as_ref(), self.timeout)?);
                let path = format!("{}/events?{}", target.base, topics.trim_end_matches('&'));
                let mut fields = fields.clone();
                fields.push(("Accept", b"text/event-stream"));
                fields.push(("Last-Event-ID", at.as_bytes()));
                http.send(&target.authority(), "GET", &path, &fields, None)?;
                let head = http.head()?;
                if head.status != 200 {
                    return Err(refused(
                        "/events",
                        head.status,
                        &http.body().unwrap_or_default(),
                    ));
                }
                Ok(Session::Sse(http, sse::Parser::new(64 * 1024, 16 << 20)))
            }
            Transport::WebSocket => {
                let path = format!("{}/ws?{topics}cursor={at}", target.base);
                let (socket, _) = WebSocket::connect(
                    &target,
                    &path,
                    &[],
                    &fields,
                    self.tls.as_ref(),
                    self.timeout,
                )?;
                Ok(Session::Ws(socket, false))
            }
            Transport::LongPoll => {
                let http = Http::new(target.connect(self.tls.as_ref(), self.timeout)?);
                Ok(Session::Poll(http))
            }
        }
    }

    /// Reads from the session until it yields something (or fails).
    fn read(&mut self, session: Session) -> io::Result<Session> {
        match session {
            Session::Sse(mut http, mut parser) => {
                let Some(piece) = http.data()? else {
                    return Err(io::Error::other("the event stream ended"));
                };
                let mut rest = &piece[..];
                while !rest.is_empty() {
                    let step = parser
                        .feed(rest)
                        .map_err(|_| io::Error::other("an event too large"))?;
                    rest = &rest[step.consumed..];
                    if let Some(sse::Item::Event(event)) = step.item {
                        self.accept(&event.data);
                    } else if step.consumed == 0 {
                        break;
                    }
                }
                Ok(Session::Sse(http, parser))
            }
            Session::Ws(mut socket, pinged) => match socket.recv() {
                Ok(Received::Text(line)) => {
                    self.accept(&line);
                    Ok(Session::Ws(socket, false))
                }
                Ok(Received::Binary(_)) => Ok(Session::Ws(socket, pinged)),
                Ok(Received::Closed(code, reason)) => {
                    let _ = socket.close(1000, "");
                    Err(io::Error::other(format!("closed {code}: {reason}")))
                }
                Err(e) if is_timeout(&e) && !pinged => {
                    // Quiet for a whole timeout: a ping tells a dead connection from a calm one
                    // (a live server's pong resets the wait; a dead one times out again).
                    socket.ping()?;
                    Ok(Session::Ws(socket, true))
                }
                Err(e) => Err(e),
            },
            Session::Poll(mut http) => {
                let target = self.server().clone();
                let auth = self.auth();
                let fields: Vec<(&str, &[u8])> = auth
                    .iter()
                    .map(|a| ("Authorization", a.as_bytes()))
                    .collect();
                let topics: String = self
                    .topics
                    .iter()
                    .map(|t| format!("topic={}&", encode(t)))
                    .collect();
                let path = format!(
                    "{}/poll?{topics}cursor={}",
                    target.base,
                    self.current_position()
                );
                http.send(&target.authority(), "GET", &path, &fields, None)?;
                let head = http.head()?;
                let body = http.body()?;
                match head.status {
                    200 => {
                        for line in String::from_utf8_lossy(&body).lines() {
                            self.accept(line);
                        }
                    }
                    204 => {}
                    status => return Err(refused("/poll", status, &body)),
                }
                Ok(Session::Poll(http))
            }
        }
    }

    /// One line of JSON from the server: an event not seen before, or a gap, is queued.
    fn accept(&mut self, line: &str) {
        let Ok(value) = json::parse(line.as_bytes()) else {
            return;
        };
        let topic = match value.get("topic") {
            Some(Value::String(t)) => t.to_string(),
            _ => match self.topics.as_slice() {
                [only] => only.clone(),
                _ => return,
            },
        };
        if let Some(gap) = value.get("gap") {
            match (gap.get("to"), gap.get("reset")) {
                (Some(Value::Number(to)), _) => {
                    let to = *to as u64;
                    let cursor = self.cursors.entry(topic.clone()).or_default();
                    *cursor = (*cursor).max(to);
                }
                // The topic began again (a server that lost its history): what follows is new.
                (_, Some(_)) => {
                    self.cursors.insert(topic.clone(), 0);
                }
                _ => {}
            }
            self.queue.push_back(Item::Gap {
                topic,
                line: line.to_string(),
            });
            return;
        }
        let Some(seq) = seq_of(line) else {
            return;
        };
        let cursor = self.cursors.entry(topic.clone()).or_default();
        if seq <= *cursor {
            return;
        }
        *cursor = seq;
        let data = match value.get("data") {
            Some(Value::String(d)) => d.to_string(),
            _ => String::new(),
        };
        self.queue.push_back(Item::Event(Event {
            topic,
            seq,
            data,
            line: line.to_string(),
        }));
    }
}

impl Iterator for Subscriber {
    type Item = Item;

    /// [`Subscriber::wait`]: never `None`.
    fn next(&mut self) -> Option<Item> {
        Some(self.wait())
    }
}

/// The digits after `"seq":`, read exactly (every `u64`, unlike a JSON number).
fn seq_of(line: &str) -> Option<u64> {
    let at = line.find("\"seq\":")? + 6;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn refused(what: &str, status: u16, body: &[u8]) -> io::Error {
    let why = String::from_utf8_lossy(body);
    io::Error::other(format!("{what} answered {status}: {}", why.trim()))
}

/// `d`, give or take a half, so that many clients do not come back at once.
fn jitter(d: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    d / 2 + d * u32::from(byte[0]) / 255
}

/// Percent-encodes a query value (RFC 3986 §2.3: unreserved characters stay).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriber(topics: &[&str]) -> Subscriber {
        Subscriber::new(&["http://127.0.0.1:1"], topics).unwrap()
    }

    #[test]
    fn each_event_is_taken_once_per_topic_and_gaps_move_the_cursor() {
        let mut s = subscriber(&["a", "b"]);
        for line in [
            r#"{"topic":"a","seq":1,"ts":1,"data":"x"}"#,
            r#"{"topic":"b","seq":7,"ts":1,"data":"y"}"#,
            r#"{"topic":"a","seq":1,"ts":1,"data":"x"}"#,
            r#"{"topic":"a","gap":{"from":2,"to":4}}"#,
            r#"{"topic":"a","seq":3,"ts":1,"data":"stale"}"#,
            r#"{"topic":"a","seq":5,"ts":1,"data":"z"}"#,
            "not json",
        ] {
            s.accept(line);
        }
        let got: Vec<String> = s
            .queue
            .iter()
            .map(|i| match i {
                Item::Event(e) => format!("{}{}", e.topic, e.seq),
                Item::Gap { topic, .. } => format!("gap {topic}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(got, ["a1", "b7", "gap a", "a5"]);
        let position = s.current_position();
        assert_eq!(
            position::parse(&position, &["a", "b"], 1000),
            Ok(vec![Some(5), Some(7)])
        );
        let resumed = subscriber(&["a", "b"]).from_position(&position).unwrap();
        assert_eq!(resumed.current_position(), position);
    }

    #[test]
    fn a_query_value_is_percent_encoded() {
        assert_eq!(encode("chat room/1&x=é"), "chat%20room%2F1%26x%3D%C3%A9");
        assert_eq!(
            seq_of(r#"{"topic":"t","seq":18446744073709551615,"ts":1}"#),
            Some(u64::MAX)
        );
    }
}
