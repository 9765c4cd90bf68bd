//! Every bound pushwire enforces, with its default and the reason for it.
//!
//! A peer controls what it sends; these limits decide how much of it we hold. Each one, when hit,
//! produces the protocol's own answer (an HTTP status, a WebSocket close code) rather than a
//! silent drop. The defaults suit a public server; embedded users shrink them, test suites that
//! push large messages (the WebSocket conformance suite sends 16 MiB) grow them.

use core::time::Duration;

/// Size, count and time bounds for every machine in the crate.
///
/// Build with [`Limits::default`] and override fields:
///
/// ```
/// let limits = pushwire::Limits { max_body_bytes: 64 * 1024, ..Default::default() };
/// assert_eq!(limits.max_body_bytes, 65536);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    // ----- HTTP/1.1 (RFC 9112) -----
    /// Longest request line, CRLF included. Over it: `414 URI Too Long`.
    /// Default 8 KiB: RFC 9112 §3 recommends supporting at least 8000 octets.
    pub max_request_line_bytes: usize,
    /// Longest request or response head (start line + fields + the blank line). Over it:
    /// `431 Request Header Fields Too Large`. Default 16 KiB: browsers' heads are under 2 KiB;
    /// large cookies still fit.
    pub max_head_bytes: usize,
    /// Most header fields in one head. Over it: `431`. Default 64: a browser sends about 20.
    pub max_headers: usize,
    /// Largest request body, declared (Content-Length, refused before a body byte is read) or
    /// counted (chunked). Over it: `413 Content Too Large`. Default 1 MiB.
    pub max_body_bytes: u64,
    /// Longest chunk-size line, extensions included, and longest trailer field line. Over it:
    /// `400`. Default 4 KiB: nothing legitimate needs more, and it bounds what the decoder scans.
    pub max_chunk_line_bytes: usize,
    /// The most a server holds on behalf of its clients, all of them together: write queues
    /// and the hub server's history (see `reactor::Memory` for what gives way first). Default
    /// 1 GiB.
    pub memory_budget: usize,
    /// A topic nobody follows and nobody has published to for this long is dropped with its
    /// history (between one and two of these after its last use); a reader that comes back
    /// with a cursor is told its numbering began again. `None`: topics stay until `max_topics`.
    /// Default one hour.
    pub topic_idle_ttl: Option<Duration>,
    /// Largest trailer section after a chunked body. Over it: `431`. Default 8 KiB.
    pub max_trailer_bytes: usize,
    /// Most chunk-extension bytes in one chunked body, all its chunks together (RFC 9112
    /// §7.1.1: a server ought to limit their total length). Extensions are read and ignored, so
    /// without it a small body could carry any amount of them. Over it: `413`. Default 16 KiB
    /// (Node's parser allows the same).
    pub max_chunk_extension_bytes: usize,
    /// How long a client has, from accept (or from its first byte after a keep-alive pause), to
    /// send a complete request head. Not reset per byte, so one byte a second does not keep a
    /// connection alive. At the deadline: `408` and close. Default 20 s.
    pub header_timeout: Duration,
    /// How long an idle keep-alive connection (no request in progress) stays open. At the
    /// deadline: closed without a response (RFC 9112 §9.5). Default 10 s.
    pub idle_timeout: Duration,
    /// The slow-body defence: a request body must deliver at least `min_body_bytes_per_window`
    /// in every window of this length, or the request gets `408` and the connection closes.
    /// Default 10 s.
    pub body_rate_window: Duration,
    /// See `body_rate_window`. Default 1 KiB per window (about 100 B/s): well below any real
    /// client, well above a slow-drip attack.
    pub min_body_bytes_per_window: u64,

    // ----- WebSocket (RFC 6455) -----
    /// Largest single frame payload. Over it (decided from the frame header): close `1009`.
    /// Default 16 MiB.
    pub max_frame_bytes: u64,
    /// Largest message, summed over its fragments. Over it: close `1009`. Default 16 MiB.
    pub max_message_bytes: u64,
    /// How long to wait for the peer's close frame (or, for a client, the server's TCP close)
    /// after sending ours. Default 5 s.
    pub close_timeout: Duration,
    /// Send a ping after this long without hearing from the peer, and fail the connection
    /// (close `1001`) if another interval passes in silence. `None` (the default) sends no
    /// pings: the peer or a proxy decides about idle connections.
    pub ping_interval: Option<Duration>,

    // ----- push: hub, SSE, long-polling -----
    /// Events kept per topic for readers that fall behind or reconnect. Default 4096.
    pub history_events: usize,
    /// Bytes of event data kept per topic. Default 16 MiB.
    pub history_bytes: usize,
    /// Most topics. Publishing to one more is refused (`409`). Default 10 000.
    pub max_topics: usize,
    /// Longest topic name. Default 128 bytes.
    pub max_topic_name_bytes: usize,
    /// Most topics one connection follows (repeated `topic` parameters, or `pushwire.v1`
    /// subscriptions); more is `400`, or an error answer. Default 64: a page with many rooms
    /// follows them on one connection (a browser allows six per origin over HTTP/1.1).
    pub max_topics_per_connection: usize,
    /// Most parked long-poll requests per topic; over it: `503` with `Retry-After`. Default
    /// 20 000.
    pub max_parked_per_topic: usize,
    /// Most parked long-poll requests in all. Default 50 000.
    pub max_parked: usize,
    /// Most events in one long-poll response; the response says where to continue.
    /// Default 1000.
    pub max_events_per_response: usize,
    /// How long a long-poll request is held before `204 No Content`. Default 30 s.
    pub longpoll_timeout: Duration,
    /// Most open event streams; past it a new one gets `200` with a `retry:` hint and is
    /// closed (a browser's EventSource gives up for good on 503). Default 50 000.
    pub max_streams: usize,
    /// SSE keep-alive: a comment is sent when a stream has been quiet this long (proxies close
    /// idle connections). Default 15 s.
    pub sse_keepalive: Duration,

    // ----- the reactor -----
    /// Most open connections per server. Over it, new connections are closed at accept.
    /// Default 50 000: above the 20 000 descriptors a process usually gets, so the operating
    /// system's limit is what binds unless this is set lower.
    pub max_connections: usize,
    /// Most open connections from one client address (the socket's peer); a connection over
    /// it is answered `429` and closed. Default `usize::MAX` (off): behind a proxy every
    /// connection comes from the proxy's address.
    pub max_connections_per_address: usize,
    /// Bytes a connection may have queued for writing before the reactor stops reading from
    /// it (a slow reader gets no new work). Default 1 MiB.
    pub write_queue_bytes: usize,
    /// How long a connection may stay over `write_queue_bytes` before it is dropped (a
    /// WebSocket or SSE consumer that does not keep up). Default 30 s.
    pub slow_consumer_timeout: Duration,
    /// After the last response, how long a closing connection keeps reading (and discarding)
    /// so the client receives what was sent instead of a reset. Also how long a graceful
    /// shutdown waits for writes to drain. Default 2 s.
    pub linger_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line_bytes: 8 * 1024,
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
            max_chunk_line_bytes: 4 * 1024,
            max_trailer_bytes: 8 * 1024,
            memory_budget: 1 << 30,
            topic_idle_ttl: Some(Duration::from_secs(3600)),
            max_chunk_extension_bytes: 16 * 1024,
            header_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(10),
            body_rate_window: Duration::from_secs(10),
            min_body_bytes_per_window: 1024,
            max_frame_bytes: 16 * 1024 * 1024,
            max_message_bytes: 16 * 1024 * 1024,
            close_timeout: Duration::from_secs(5),
            ping_interval: None,
            history_events: 4096,
            history_bytes: 16 * 1024 * 1024,
            max_topics: 10_000,
            max_topic_name_bytes: 128,
            max_topics_per_connection: 64,
            max_parked_per_topic: 20_000,
            max_parked: 50_000,
            max_events_per_response: 1000,
            longpoll_timeout: Duration::from_secs(30),
            max_streams: 50_000,
            sse_keepalive: Duration::from_secs(15),
            max_connections: 50_000,
            max_connections_per_address: usize::MAX,
            write_queue_bytes: 1024 * 1024,
            slow_consumer_timeout: Duration::from_secs(30),
            linger_timeout: Duration::from_secs(2),
        }
    }
}
