//! The demo page's wire view: samples of raw protocol text, published to `WIRE_TOPIC` while
//! someone watches `GET /wire`.

use super::*;

/// The least time between two wire samples of one technique.
pub(super) const WIRE_SAMPLE_NS: u64 = 300_000_000;

/// The techniques, as the wire panel names them.
#[derive(Clone, Copy, Debug)]
pub(super) enum Technique {
    ShortPoll,
    LongPoll,
    Sse,
    WebSocket,
}

impl Technique {
    pub(super) fn name(self) -> &'static str {
        match self {
            Technique::ShortPoll => "short-poll",
            Technique::LongPoll => "long-poll",
            Technique::Sse => "sse",
            Technique::WebSocket => "websocket",
        }
    }
}

impl HubServer {
    /// Publishes a sample of raw protocol text to the wire topic, if anyone watches and the
    /// technique was not sampled just now.
    pub(super) fn wire(
        &self,
        technique: Technique,
        cx: &mut Ctx<'_, Notice>,
        text: impl FnOnce() -> String,
    ) {
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
        json::push_string(&text(), &mut event);
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

/// A response head as it goes on the wire (Date abbreviated), for the wire panel.
pub(super) fn head_text(response: &Response) -> String {
    let mut text = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        crate::http::reason_phrase(response.status)
    );
    for (name, value) in &response.headers {
        let _ = write!(text, "{name}: {}\r\n", String::from_utf8_lossy(value));
    }
    if response.status != 204 {
        let _ = write!(text, "Content-Length: {}\r\n", response.body.len());
    }
    text.push_str("Date: …\r\n\r\n");
    text
}

/// A request head reconstructed from the parsed request, for the wire panel.
pub(super) fn request_text(req: &Request<'_>) -> String {
    let mut text = format!(
        "{} {} HTTP/1.{}\r\n",
        req.method,
        req.target,
        u8::from(req.version == crate::http::Version::Http11)
    );
    for (name, value) in req.headers() {
        let _ = write!(text, "{name}: {}\r\n", String::from_utf8_lossy(value));
    }
    text.push_str("\r\n");
    text
}

/// A text frame's header decoded field by field (RFC 6455 §5.2), then its payload.
pub(super) fn frame_text(direction: &str, masked: bool, payload: &str) -> String {
    let len = payload.len();
    let length_form = match len {
        0..=125 => format!("len={len}"),
        126..=65535 => format!("len=126 → 16-bit length {len}"),
        _ => format!("len=127 → 64-bit length {len}"),
    };
    let mask = if masked {
        "MASK=1 + 4-byte masking key (the payload is XORed with it)"
    } else {
        "MASK=0"
    };
    format!(
        "{direction} frame: FIN=1 RSV1-3=000 opcode=0x1 (text) {mask} {length_form}\n{}",
        preview(payload.as_bytes())
    )
}

/// Text shortened for display.
pub(super) fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.into_owned(),
    }
}
