//! A live view of the wire, for pages that teach the protocols (the demo page's wire panel):
//! while a `GET /wire` stream is open, the hub server offers moments of its traffic to a
//! [`WireView`], and publishes the text it returns to `WIRE_TOPIC` — at most one sample per
//! technique every 300 ms, so the view stays readable. How the text looks is the view's
//! business (the demo page's is in `src/bin/pushwire/wire.rs`); without a view, `/wire` is `404`.

use super::{HubServer, Notice, WIRE_TOPIC};
use crate::http::Request;
use crate::json;
use crate::reactor::{Ctx, Response};
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

/// The least time between two wire samples of one technique.
const WIRE_SAMPLE_NS: u64 = 300_000_000;

/// The push techniques, as the wire view names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Technique {
    /// `GET /poll?wait=0`.
    ShortPoll,
    /// `GET /poll`.
    LongPoll,
    /// `GET /events`.
    Sse,
    /// `GET /ws`.
    WebSocket,
}

impl Technique {
    /// `short-poll`, `long-poll`, `sse` or `websocket`.
    pub fn name(self) -> &'static str {
        match self {
            Technique::ShortPoll => "short-poll",
            Technique::LongPoll => "long-poll",
            Technique::Sse => "sse",
            Technique::WebSocket => "websocket",
        }
    }
}

/// A moment of traffic offered to a [`WireView`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Wire<'a> {
    /// A poll answered at once: the request and its response.
    Answered {
        /// The request as it was read.
        request: &'a Request<'a>,
        /// The answer (its `Date` and framing fields are the reactor's and the HTTP machine's).
        response: &'a Response,
    },
    /// A parked long-poll answered by a publish.
    Woken {
        /// The topic it waited on.
        topic: &'a str,
        /// The cursor it asked from.
        cursor: u64,
        /// The answer.
        response: &'a Response,
    },
    /// Event-stream bytes written to a stream, before HTTP framing.
    SseChunk {
        /// The bytes.
        bytes: &'a [u8],
    },
    /// A WebSocket text message.
    WsText {
        /// Whether the client sent it (masked, RFC 6455 §5.3) or the server did.
        from_client: bool,
        /// The text.
        payload: &'a str,
    },
}

/// Describes traffic as text for a live view of the wire. A closure
/// `Fn(Technique, &Wire) -> String` is one.
pub trait WireView: Send + Sync + 'static {
    /// The text to show for `wire`.
    fn describe(&self, technique: Technique, wire: &Wire<'_>) -> String;
}

impl<F: Fn(Technique, &Wire<'_>) -> String + Send + Sync + 'static> WireView for F {
    fn describe(&self, technique: Technique, wire: &Wire<'_>) -> String {
        self(technique, wire)
    }
}

impl HubServer {
    /// Shows `view` the traffic while someone watches `GET /wire` (which answers `404`
    /// without one).
    #[must_use]
    pub fn with_wire_view(mut self, view: impl WireView) -> Self {
        self.wire_view = Some(Box::new(view));
        self
    }

    /// Whether a wire view is set (`GET /wire` is served).
    pub(super) fn has_wire_view(&self) -> bool {
        self.wire_view.is_some()
    }

    /// Publishes the view's text for `wire` to the wire topic, if anyone watches and the
    /// technique was not sampled just now.
    pub(super) fn wire(&self, technique: Technique, cx: &mut Ctx<'_, Notice>, wire: &Wire<'_>) {
        let Some(view) = &self.wire_view else {
            return;
        };
        if self.wire_watchers.load(Ordering::Relaxed) == 0 {
            return;
        }
        let now = unix_nanos();
        let last = &self.wire_last[technique as usize];
        let prev = last.load(Ordering::Relaxed);
        if now < prev + WIRE_SAMPLE_NS
            || last
                .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let mut event = Vec::from(&b"{\"technique\":\""[..]);
        event.extend_from_slice(technique.name().as_bytes());
        event.extend_from_slice(b"\",\"text\":");
        json::push_string(&view.describe(technique, wire), &mut event);
        event.push(b'}');
        let _ = self.hub().publish(WIRE_TOPIC, |_| event.into());
        cx.handle().notify(Notice::Published(WIRE_TOPIC.into()));
    }
}

pub(super) fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
