//! The demo page's wire panel: traffic shown as the protocol text it is on the wire.

use pushwire::http::{self, Request};
use pushwire::reactor::Response;
use pushwire::server::hub_server::{Technique, Wire, WireView};
use std::fmt::Write as _;

/// Describes each sample as raw protocol text: request and response heads, chunk framing,
/// WebSocket frame headers decoded field by field.
pub struct DemoWire;

impl WireView for DemoWire {
    fn describe(&self, _: Technique, wire: &Wire<'_>) -> String {
        match wire {
            Wire::Answered { request, response } => {
                request_text(request) + &head_text(response) + &preview(&response.body)
            }
            Wire::Woken {
                topic,
                cursor,
                response,
            } => {
                format!(
                    "GET /poll?topic={topic}&cursor={cursor} HTTP/1.1  (parked until this publish)\r\n…\r\n\r\n"
                ) + &head_text(response)
                    + &preview(&response.body)
            }
            Wire::SseChunk { bytes } => format!("{:x}\r\n{}\r\n", bytes.len(), preview(bytes)),
            Wire::WsText {
                from_client: true,
                payload,
            } => frame_text("client → server", true, payload),
            Wire::WsText { payload, .. } => frame_text("server → client", false, payload),
            _ => String::new(),
        }
    }
}

/// A response head as it goes on the wire (Date abbreviated).
fn head_text(response: &Response) -> String {
    let mut text = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        http::reason_phrase(response.status)
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

/// A request head reconstructed from the parsed request, with `Authorization` and `Cookie`
/// values and the `access_token` parameter left out: a view of the wire must not show
/// credentials.
fn request_text(req: &Request<'_>) -> String {
    let mut text = format!(
        "{} {} HTTP/1.{}\r\n",
        req.method,
        redact_target(req.target),
        u8::from(req.version == http::Version::Http11)
    );
    for (name, value) in req.headers() {
        let secret = ["authorization", "cookie", "proxy-authorization"]
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s));
        if secret {
            let _ = write!(text, "{name}: [redacted]\r\n");
        } else {
            let _ = write!(text, "{name}: {}\r\n", String::from_utf8_lossy(value));
        }
    }
    text.push_str("\r\n");
    text
}

/// A text frame's header decoded field by field (RFC 6455 §5.2), then its payload.
fn frame_text(direction: &str, masked: bool, payload: &str) -> String {
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
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.into_owned(),
    }
}

/// `target` with the value of every `access_token` parameter (RFC 6750 §2.3) replaced.
fn redact_target(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_string();
    };
    let pairs: Vec<&str> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("access_token", _)) => "access_token=[redacted]",
            _ => pair,
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn access_tokens_in_the_target_are_redacted() {
        assert_eq!(
            super::redact_target("/events?topic=a&access_token=x.y.z&b=1"),
            "/events?topic=a&access_token=[redacted]&b=1"
        );
        assert_eq!(super::redact_target("/ws"), "/ws");
    }
}
