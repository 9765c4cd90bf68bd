//! Every setting of `pushwire serve`: its name (the file's key, `PUSHWIRE_<NAME>` in the
//! environment, `--<name-with-dashes>` on the command line), what it takes, where it lands in
//! [`Config`], and one line of help.

use super::value::Kind;
use pushwire::Limits;
use std::time::Duration;

/// The effective configuration of `pushwire serve`.
#[derive(Clone, Debug)]
pub struct Config {
    pub limits: Limits,
    /// Worker threads (0: one per core).
    pub threads: u64,
    /// `epoll` or `uring` (checked).
    pub driver: String,
    pub bind: String,
    pub port: u16,
    pub listen: Vec<String>,
    pub tls_listen: Vec<String>,
    pub tls_port: u16,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub metrics_listen: Option<String>,
    /// `None`: on when every listener is a loopback address.
    pub demo_page: Option<bool>,
    pub ws_deflate: bool,
    pub drain_delay: Duration,
    pub shutdown_timeout: Duration,
    pub log_level: String,
    pub log_format: String,
    pub token_secret_file: Option<String>,
    pub audience: Option<String>,
    pub token_cookie: Option<String>,
    pub allow_origins: Vec<String>,
    /// Publishes per second per WebSocket and per token (`usize::MAX`: off).
    pub publish_rate: usize,
    pub trusted_proxies: Vec<String>,
    pub insecure: bool,
    pub redis: Option<String>,
    /// Replicas that must have a publish before it is acknowledged (`WAIT`; 0: off).
    pub redis_wait_replicas: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            threads: 0,
            driver: "epoll".into(),
            bind: "127.0.0.1".into(),
            port: 8080,
            listen: Vec::new(),
            tls_listen: Vec::new(),
            tls_port: 8443,
            tls_cert: None,
            tls_key: None,
            metrics_listen: None,
            demo_page: None,
            ws_deflate: true,
            drain_delay: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(10),
            log_level: "info".into(),
            log_format: "logfmt".into(),
            token_secret_file: None,
            audience: None,
            token_cookie: None,
            allow_origins: Vec::new(),
            publish_rate: usize::MAX,
            trusted_proxies: Vec::new(),
            insecure: false,
            redis: None,
            redis_wait_replicas: 0,
        }
    }
}

/// Where a setting's value lives in a [`Config`].
pub enum Slot<'a> {
    Usize(&'a mut usize),
    U64(&'a mut u64),
    Port(&'a mut u16),
    /// A number, or `off` (`usize::MAX`).
    Limit(&'a mut usize),
    Dur(&'a mut Duration),
    MaybeDur(&'a mut Option<Duration>),
    Bool(&'a mut bool),
    /// `true`, `false` or unset (decided from other settings).
    MaybeBool(&'a mut Option<bool>),
    Text(&'a mut String),
    MaybeText(&'a mut Option<String>),
    List(&'a mut Vec<String>),
}

/// One setting.
pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub slot: fn(&mut Config) -> Slot<'_>,
}

macro_rules! settings {
    ($($name:literal $kind:ident $slot:ident($($path:tt)+) $help:literal;)+) => {
        &[$(Setting {
            name: $name,
            kind: Kind::$kind,
            help: $help,
            slot: |c| Slot::$slot(&mut c.$($path)+),
        }),+]
    };
}

/// Every setting, grouped as `--help` lists them.
pub const SETTINGS: &[Setting] = settings! {
    "listen" List List(listen) "plaintext addresses to listen on, IP:PORT (default: bind:port)";
    "bind" Text Text(bind) "the address of the default listener (default 127.0.0.1)";
    "port" Port Port(port) "the port of the default listener (default 8080)";
    "tls_listen" List List(tls_listen) "addresses that speak https and wss, IP:PORT";
    "tls_port" Port Port(tls_port) "with tls_cert and no tls_listen: bind:tls_port speaks TLS (default 8443)";
    "tls_cert" Text MaybeText(tls_cert) "PEM certificate chain, leaf first (reloaded on SIGHUP)";
    "tls_key" Text MaybeText(tls_key) "PEM private key of tls_cert (reloaded on SIGHUP)";
    "metrics_listen" Text MaybeText(metrics_listen) "an address only operators reach: /metrics and /stats there, without a token";
    "threads" Count U64(threads) "worker threads (0: one per core)";
    "driver" Text Text(driver) "how workers do I/O: epoll (readiness, the default) or uring (io_uring completions, Linux)";
    "demo_page" Bool MaybeBool(demo_page) "serve the demo page at / (default: only on loopback addresses)";
    "ws_deflate" Bool Bool(ws_deflate) "agree to WebSocket compression, permessage-deflate (default true)";
    "drain_delay" Duration Dur(drain_delay) "on SIGTERM, how long /ready answers 503 before the listeners close (default 0s)";
    "shutdown_timeout" Duration Dur(shutdown_timeout) "how long a drain waits for connections to end (default 10s)";
    "log_level" Text Text(log_level) "error, warn, info, debug, trace or off (default info)";
    "log_format" Text Text(log_format) "logfmt or json (default logfmt)";
    "token_secret_file" Text MaybeText(token_secret_file) "require HS256 tokens signed with this file's bytes (reloaded on SIGHUP)";
    "audience" Text MaybeText(audience) "tokens must name this audience (aud)";
    "token_cookie" Text MaybeText(token_cookie) "the cookie that may carry the token (default pushwire_token)";
    "allow_origins" List List(allow_origins) "page origins allowed to use the server from a browser";
    "publish_rate" Count Limit(publish_rate) "publishes per second per WebSocket and per token (default off)";
    "max_connections_per_ip" Count Limit(limits.max_connections_per_address) "connections per client address; over it 429 (default off)";
    "trusted_proxies" List List(trusted_proxies) "proxies (CIDR) whose Forwarded / X-Forwarded-For fields are believed";
    "insecure" Bool Bool(insecure) "allow a non-loopback address without a token secret";
    "redis" Text MaybeText(redis) "share topics with other nodes: redis://[user:pass@]host:port[/db], or a cluster: redis+cluster://[user:pass@]host:port[,host:port…]";
    "redis_wait_replicas" Count U64(redis_wait_replicas) "acknowledge a publish once this many replicas have it (WAIT; default 0: once the primary has it)";
    "max_request_line_bytes" Bytes Usize(limits.max_request_line_bytes) "longest request line (414 over it)";
    "max_head_bytes" Bytes Usize(limits.max_head_bytes) "longest request head (431 over it)";
    "max_headers" Count Usize(limits.max_headers) "most header fields (431 over it)";
    "max_body_bytes" Bytes U64(limits.max_body_bytes) "largest request body, and publish (413 over it)";
    "max_chunk_line_bytes" Bytes Usize(limits.max_chunk_line_bytes) "longest chunk-size or trailer line (400 over it)";
    "max_trailer_bytes" Bytes Usize(limits.max_trailer_bytes) "largest trailer section (431 over it)";
    "memory_budget" Bytes Usize(limits.memory_budget) "the most held for clients, all together: history, write queues, frames being read, the Redis link (oldest history evicted first; past half of it in flight, consumers behind cut and frames refused 1013; then 507; 503 at accept)";
    "topic_idle_ttl" MaybeDuration MaybeDur(limits.topic_idle_ttl) "drop a topic, and its history, nobody followed or published to for this long, or off (default 1h)";
    "max_chunk_extension_bytes" Bytes Usize(limits.max_chunk_extension_bytes) "most chunk-extension bytes in one body (413 over it)";
    "header_timeout" Duration Dur(limits.header_timeout) "time to send a request head, and a TLS handshake (408)";
    "idle_timeout" Duration Dur(limits.idle_timeout) "idle keep-alive connections are closed after it";
    "body_rate_window" Duration Dur(limits.body_rate_window) "the slow-body defence's window";
    "min_body_bytes_per_window" Bytes U64(limits.min_body_bytes_per_window) "least body bytes per window (408 under it)";
    "max_frame_bytes" Bytes U64(limits.max_frame_bytes) "largest WebSocket frame (close 1009 over it)";
    "max_message_bytes" Bytes U64(limits.max_message_bytes) "largest WebSocket message (close 1009 over it)";
    "close_timeout" Duration Dur(limits.close_timeout) "how long to wait for the peer's WebSocket close";
    "ping_interval" MaybeDuration MaybeDur(limits.ping_interval) "ping quiet WebSockets this often, or off (default off)";
    "history_events" Count Usize(limits.history_events) "events kept per topic";
    "history_bytes" Bytes Usize(limits.history_bytes) "bytes of events kept per topic";
    "max_topics" Count Usize(limits.max_topics) "most topics (409 over it)";
    "max_topic_name_bytes" Count Usize(limits.max_topic_name_bytes) "longest topic name (400 over it)";
    "max_topics_per_connection" Count Usize(limits.max_topics_per_connection) "most topics one connection follows (400 over it)";
    "max_parked_per_topic" Count Usize(limits.max_parked_per_topic) "most parked long-polls per topic (503 over it)";
    "max_parked" Count Usize(limits.max_parked) "most parked long-polls (503 over it)";
    "max_events_per_response" Count Usize(limits.max_events_per_response) "most events in one long-poll answer";
    "longpoll_timeout" Duration Dur(limits.longpoll_timeout) "how long a long-poll is held before 204";
    "max_streams" Count Usize(limits.max_streams) "most open event streams (load shedding over it)";
    "sse_keepalive" Duration Dur(limits.sse_keepalive) "a comment on quiet event streams this often";
    "max_connections" Count Usize(limits.max_connections) "most open connections (closed at accept over it)";
    "write_queue_bytes" Bytes Usize(limits.write_queue_bytes) "output queued per connection before reading stops";
    "slow_consumer_timeout" Duration Dur(limits.slow_consumer_timeout) "how long a connection may stay over write_queue_bytes";
    "linger_timeout" Duration Dur(limits.linger_timeout) "how long a closing connection waits for the peer's FIN";
};

/// The setting named `name`.
pub fn find(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}
