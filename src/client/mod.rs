//! Clients of the hub server, on the crate's own machines and blocking sockets (std): a
//! [`Subscriber`] that follows topics over WebSocket, Server-Sent Events or long-polling and
//! never loses its place, and [`publish`].
//!
//! ```no_run
//! use pushwire::client::{Item, Subscriber, Transport};
//!
//! let news = Subscriber::new(&["http://127.0.0.1:8080"], &["news", "sport"])?
//!     .transport(Transport::Sse);
//! for item in news {
//!     match item {
//!         Item::Event(e) => println!("{} #{}: {}", e.topic, e.seq, e.data),
//!         Item::Disconnected { error, .. } => eprintln!("reconnecting: {error}"),
//!         _ => {}
//!     }
//! }
//! # Ok::<(), pushwire::client::UrlError>(())
//! ```

mod exchange;
mod subscriber;
mod target;

pub use exchange::{Head, Http, Received, WebSocket};
pub use subscriber::{Event, Item, Subscriber, Transport};
pub use target::{Stream, Target, TlsConfig, UrlError};

use std::io;
use std::time::Duration;

/// Publishes `data` to `topic` on the server at `url` (with `token` as a bearer token, if
/// any); the event's sequence number.
///
/// # Errors
/// The URL is not one, the connection failed, or the server refused (its status and reason
/// are in the message).
pub fn publish(
    url: &str,
    topic: &str,
    data: &[u8],
    token: Option<&str>,
    tls: Option<&TlsConfig>,
) -> io::Result<u64> {
    let target: Target = url
        .parse()
        .map_err(|e: UrlError| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut http = Http::new(target.connect(tls, Duration::from_secs(10))?);
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut fields: Vec<(&str, &[u8])> = vec![("Content-Type", b"text/plain; charset=utf-8")];
    fields.extend(auth.iter().map(|a| ("Authorization", a.as_bytes())));
    let path = format!(
        "{}/publish?topic={}",
        target.base,
        subscriber::encode(topic)
    );
    http.send(&target.authority(), "POST", &path, &fields, Some(data))?;
    let head = http.head()?;
    let body = http.body()?;
    let text = String::from_utf8_lossy(&body);
    match (head.status, text.trim().parse()) {
        (200, Ok(seq)) => Ok(seq),
        (status, _) => Err(io::Error::other(format!(
            "publish answered {status}: {}",
            text.trim()
        ))),
    }
}
