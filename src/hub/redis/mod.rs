//! The hub over Redis, sans-IO: hub operations become RESP commands, replies and pushes become
//! events in a local [`Hub`] that caches what the broker holds.
//!
//! Several nodes share one numbering per topic through Redis:
//!
//! - **Publishing** runs one script (loaded with `SCRIPT LOAD` on each connection, then called
//!   by its SHA-1 with `EVALSHA`), atomically: `INCR` the topic's counter (a counter that did
//!   not exist — a new topic, or Redis lost its data — starts at Redis's clock in microseconds,
//!   above every number issued before, and the number before it is stored as the topic's base);
//!   `XADD` the event to the topic's stream under its number, trimmed to the history length;
//!   `PUBLISH` it to the topic's channel. The number is returned only once all of that is done.
//! - **Following** a topic is `SUBSCRIBE` to its channel, then reading the counter, the base and
//!   the newest entries of the stream into the hub; pushes that arrive meanwhile wait their turn.
//! - **A hole** (event N+k arrives while the hub's last is N) is filled from the stream before
//!   anything is delivered; what the stream no longer has stays a hole, which readers get as
//!   an explicit [`super::Gap`].
//!
//! Keys (with the configured prefix, `pushwire:` by default; `{topic}` is a cluster hash tag):
//! `{topic}:seq` (the counter), `{topic}:base`, `{topic}:log` (the stream, entries `<seq>-0`
//! with fields `t` (publish time, ns) and `d` (the published text)); the channel is `{topic}`.
//! A channel message is `<seq> <base> <t> <text>`, `base` 0 unless this publish started a new
//! numbering.
//!
//! Against a Redis Cluster (`MirrorConfig::sharded`), one machine runs per primary, over the
//! topics whose slot it serves ([`cluster`]): channels are sharded (`SSUBSCRIBE`, `SPUBLISH`,
//! pushes `smessage`), a topic whose slot is not served here (an error `MOVED` or `ASK`, or
//! a `sunsubscribe` Redis sends when the slot moves) is given up with [`Outcome::Moved`] for
//! the driver to follow where the map says, and `CLUSTER SLOTS` answers [`Outcome::Slots`].
//!
//! The machine needs RESP3 (`HELLO 3`, Redis 6 or later and its compatible forks): Pub/Sub
//! pushes then arrive on the same connection as command replies.

use super::Hub;
use crate::hub::Arc;
use crate::resp::{self, RespError, RespLimits, encode_command};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The publish script (Lua, run by `EVAL`): KEYS = counter, base, stream; ARGV = publish time,
/// text, history length, channel.
pub const PUBLISH_SCRIPT: &str = r#"local seq = redis.call('INCR', KEYS[1])
local base = 0
if seq == 1 then
  local now = redis.call('TIME')
  seq = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local newest = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  if newest[1] then
    local n = tonumber(string.match(newest[1][1], '^(%d+)'))
    if n and n >= seq then seq = n + 1 end
  end
  base = seq - 1
  redis.call('SET', KEYS[1], string.format('%d', seq))
  redis.call('SET', KEYS[2], string.format('%d', base))
end
local id = string.format('%d', seq)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], id .. '-0', 't', ARGV[1], 'd', ARGV[2])
redis.call('PUBLISH', ARGV[4], id .. ' ' .. string.format('%d', base) .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
return seq"#;

/// The hash slot of `topic`'s keys and channel under `prefix` (each carries the topic as its
/// hash tag: `prefix{topic}…`).
pub fn topic_slot(prefix: &str, topic: &str) -> u16 {
    cluster::key_slot(format!("{prefix}{{{topic}}}").as_bytes())
}

/// Makes the bytes readers get for an event from its number, publish time (ns) and text.
pub type MakeEvent = dyn Fn(&str, u64, u64, &str) -> Arc<[u8]>;

/// How the machine reaches Redis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorConfig {
    /// Prefix of every key and channel. Default `pushwire:`.
    pub prefix: String,
    /// ACL user for `HELLO … AUTH` (`default` when only a password is given).
    pub user: Option<String>,
    /// Password for `HELLO … AUTH`.
    pub password: Option<String>,
    /// Database for `SELECT` (0: none sent).
    pub db: u32,
    /// Entries kept in each topic's stream (`XADD MAXLEN ~`), and read when following.
    pub history_events: usize,
    /// Commands awaiting replies before [`Mirror::publish`] says [`NotSent::Busy`].
    pub max_in_flight: usize,
    /// A Redis Cluster primary: sharded Pub/Sub (`SSUBSCRIBE`, `SPUBLISH`).
    pub sharded: bool,
    /// Replicas that must have a publish before it is acknowledged (`WAIT`, after the publish
    /// script); 0: acknowledged once the primary has it. With asynchronous replication an event
    /// only the primary had is lost if the primary fails; `WAIT` trades a round trip to the
    /// replicas per publish for keeping every acknowledged event.
    pub wait_replicas: u32,
    /// How long `WAIT` waits for the replicas (ms); fewer by then: the publish is answered as
    /// not stored (it may be, on the primary alone).
    pub wait_timeout_ms: u64,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            prefix: "pushwire:".into(),
            user: None,
            password: None,
            db: 0,
            history_events: 4096,
            max_in_flight: 4096,
            sharded: false,
            wait_replicas: 0,
            wait_timeout_ms: 1000,
        }
    }
}

/// What happened, for the driver to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The handshake is done: publishing works, followed topics are being synced.
    Ready,
    /// Redis refused the handshake (a wrong password, no RESP3): close and try later.
    Refused(String),
    /// Publish `ticket` is stored under `seq`.
    Published {
        /// The driver's ticket.
        ticket: u64,
        /// The topic's number for it.
        seq: u64,
    },
    /// Publish `ticket` was not stored (Redis answered with an error, or the connection
    /// ended before the answer: then it may have been stored; it was not acknowledged).
    NotPublished {
        /// The driver's ticket.
        ticket: u64,
        /// Why.
        reason: String,
    },
    /// The topic's cache is live: requests that waited for it may be served.
    Synced(Arc<str>),
    /// New events of the topic are in the hub.
    Events(Arc<str>),
    /// The topic is not served by this node (any more): it is no longer followed here; follow
    /// it on the node the slot map names (cluster only).
    Moved(Arc<str>),
    /// The cluster's slot map, as `CLUSTER SLOTS` answered ([`Mirror::ask_slots`]).
    Slots(cluster::SlotMap),
    /// A command was answered `MOVED`, `ASK`, `TRYAGAIN` or `CLUSTERDOWN`: the slot map is
    /// stale (cluster only).
    MapStale,
}

/// Why a publish was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotSent {
    /// No connection ready.
    #[error("the broker is not connected")]
    Down,
    /// `max_in_flight` commands await replies.
    #[error("too many commands in flight")]
    Busy,
}

/// The connection broke the protocol: close it (the driver reconnects).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MirrorError {
    /// Not RESP.
    #[error("malformed reply: {0}")]
    Resp(#[from] RespError),
    /// A reply of a shape the command does not have.
    #[error("unexpected reply to {0}")]
    Unexpected(&'static str),
}

/// What each reply in flight answers, in the order sent.
#[derive(Clone, Debug)]
enum Expect {
    Hello,
    Select,
    /// `SCRIPT LOAD` of the publish script (publishes then send only its SHA-1).
    ScriptLoad,
    Ping,
    Publish {
        ticket: u64,
    },
    /// `MGET counter base`.
    Counters {
        topic: Arc<str>,
    },
    /// `XREVRANGE log + <from> COUNT n`.
    Fill {
        topic: Arc<str>,
    },
    /// `WAIT replicas timeout` after publish `ticket`.
    Wait {
        ticket: u64,
    },
    /// Raising a topic's counter to the hub's last number (after a failover lost some).
    Bump,
    /// `SSUBSCRIBE channel` (sharded): confirmed by an `ssubscribe` push, refused by an error.
    Subscribe {
        topic: Arc<str>,
    },
    /// `CLUSTER SLOTS`.
    Slots,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Down,
    Handshake,
    Ready,
}

/// A channel message waiting for its topic's sync.
#[derive(Clone, Debug)]
struct Message {
    seq: u64,
    base: u64,
    ts: u64,
    text: String,
}

#[derive(Clone, Debug)]
enum Follow {
    /// Commands sent; replies and pushes are collected until the fill arrives.
    Syncing {
        counters: Option<(u64, u64)>,
        waiting: Vec<Message>,
    },
    Live,
}

/// The machine that keeps a [`Hub`] a mirror of the topics Redis holds and publishes through
/// Redis (see the [module docs](self)).
#[derive(Debug)]
pub struct Mirror {
    config: MirrorConfig,
    /// The publish script ([`PUBLISH_SCRIPT`], with `SPUBLISH` when sharded).
    script: String,
    /// The publish script's SHA-1, in hex (`EVALSHA`).
    script_sha: String,
    parser: resp::Parser,
    phase: Phase,
    in_flight: VecDeque<Expect>,
    topics: BTreeMap<Arc<str>, Follow>,
    /// Publishes stored on the primary, awaiting their `WAIT` (ticket, number).
    unconfirmed: VecDeque<(u64, u64)>,
}

impl Mirror {
    /// A machine with no connection yet.
    pub fn new(config: MirrorConfig) -> Self {
        use sha1::Digest as _;
        let script = if config.sharded {
            PUBLISH_SCRIPT.replace("redis.call('PUBLISH'", "redis.call('SPUBLISH'")
        } else {
            String::from(PUBLISH_SCRIPT)
        };
        let digest = sha1::Sha1::digest(script.as_bytes());
        let script_sha = digest.iter().map(|b| format!("{b:02x}")).collect();
        Mirror {
            config,
            script,
            script_sha,
            parser: resp::Parser::new(RespLimits::default()),
            phase: Phase::Down,
            in_flight: VecDeque::new(),
            topics: BTreeMap::new(),
            unconfirmed: VecDeque::new(),
        }
    }

    /// Whether publishing works now.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Whether `topic` is followed and its cache live.
    pub fn is_live(&self, topic: &str) -> bool {
        matches!(self.topics.get(topic), Some(Follow::Live)) && self.is_ready()
    }

    /// The topics followed.
    pub fn followed(&self) -> impl Iterator<Item = &Arc<str>> {
        self.topics.keys()
    }

    /// Replies awaited.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// A new connection is open: writes the handshake (`HELLO 3`, with `AUTH` if configured;
    /// `SELECT`).
    pub fn connected(&mut self, out: &mut Vec<u8>) {
        self.parser = resp::Parser::new(RespLimits::default());
        self.in_flight.clear();
        self.phase = Phase::Handshake;
        let mut hello: Vec<&[u8]> = alloc::vec![b"HELLO", b"3"];
        if let Some(password) = &self.config.password {
            hello.push(b"AUTH");
            hello.push(self.config.user.as_deref().unwrap_or("default").as_bytes());
            hello.push(password.as_bytes());
        }
        hello.extend_from_slice(&[b"SETNAME", b"pushwire"]);
        encode_command(&hello, out);
        self.in_flight.push_back(Expect::Hello);
        if self.config.db != 0 {
            let db = format!("{}", self.config.db);
            encode_command(&[b"SELECT", db.as_bytes()], out);
            self.in_flight.push_back(Expect::Select);
        }
        self.load_script(out);
    }

    /// `SCRIPT LOAD`: ahead of every publish on this connection (Redis forgets scripts when it
    /// restarts).
    fn load_script(&mut self, out: &mut Vec<u8>) {
        encode_command(&[&b"SCRIPT"[..], b"LOAD", self.script.as_bytes()], out);
        self.in_flight.push_back(Expect::ScriptLoad);
    }

    /// The connection ended: publishes awaiting replies are reported not published, and every
    /// followed topic will sync again on the next connection.
    pub fn disconnected(&mut self) -> Vec<Outcome> {
        self.phase = Phase::Down;
        self.unconfirmed.clear();
        let failed = self
            .in_flight
            .drain(..)
            .filter_map(|e| match e {
                Expect::Publish { ticket } => Some(Outcome::NotPublished {
                    ticket,
                    reason: "the connection to the broker ended before it answered".into(),
                }),
                Expect::Wait { ticket } => Some(Outcome::NotPublished {
                    ticket,
                    reason: "the connection to the broker ended before the replicas answered"
                        .into(),
                }),
                _ => None,
            })
            .collect();
        for follow in self.topics.values_mut() {
            *follow = Follow::Syncing {
                counters: None,
                waiting: Vec::new(),
            };
        }
        failed
    }

    /// Follows `topic`: subscribes and syncs its cache (now if ready, else on
    /// [`Outcome::Ready`]).
    pub fn follow(&mut self, topic: &str, hub: &Hub, out: &mut Vec<u8>) {
        if self.topics.contains_key(topic) {
            return;
        }
        let topic: Arc<str> = topic.into();
        self.topics.insert(
            topic.clone(),
            Follow::Syncing {
                counters: None,
                waiting: Vec::new(),
            },
        );
        if self.phase == Phase::Ready {
            self.sync(&topic, hub, out);
        }
    }

    /// Stops following `topic` (its cache stays, and is synced again if followed again).
    pub fn unfollow(&mut self, topic: &str, out: &mut Vec<u8>) {
        if self.topics.remove(topic).is_some() && self.phase == Phase::Ready {
            let command: &[u8] = if self.config.sharded {
                b"SUNSUBSCRIBE"
            } else {
                b"UNSUBSCRIBE"
            };
            encode_command(&[command, self.channel(topic).as_bytes()], out);
        }
    }

    /// Asks for the cluster's slot map (`CLUSTER SLOTS`): [`Outcome::Slots`] follows.
    pub fn ask_slots(&mut self, out: &mut Vec<u8>) {
        if self.phase != Phase::Down {
            encode_command(&[&b"CLUSTER"[..], b"SLOTS"], out);
            self.in_flight.push_back(Expect::Slots);
        }
    }

    /// Publishes `text` to `topic` at `ts` (ns since the Unix epoch) as `ticket`; the outcome
    /// arrives as [`Outcome::Published`] or [`Outcome::NotPublished`].
    ///
    /// # Errors
    /// [`NotSent`] when not connected or too busy: nothing was sent.
    pub fn publish(
        &mut self,
        ticket: u64,
        topic: &str,
        ts: u64,
        text: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), NotSent> {
        if self.phase != Phase::Ready {
            return Err(NotSent::Down);
        }
        if self.in_flight.len() >= self.config.max_in_flight {
            return Err(NotSent::Busy);
        }
        let ts = format!("{ts}");
        let history = format!("{}", self.config.history_events);
        encode_command(
            &[
                b"EVALSHA",
                self.script_sha.as_bytes(),
                b"3",
                self.key(topic, "seq").as_bytes(),
                self.key(topic, "base").as_bytes(),
                self.key(topic, "log").as_bytes(),
                ts.as_bytes(),
                text.as_bytes(),
                history.as_bytes(),
                self.channel(topic).as_bytes(),
            ],
            out,
        );
        self.in_flight.push_back(Expect::Publish { ticket });
        if self.config.wait_replicas > 0 {
            let replicas = format!("{}", self.config.wait_replicas);
            let timeout = format!("{}", self.config.wait_timeout_ms);
            encode_command(&[b"WAIT", replicas.as_bytes(), timeout.as_bytes()], out);
            self.in_flight.push_back(Expect::Wait { ticket });
        }
        Ok(())
    }

    /// A `PING`, to learn whether the connection still answers.
    pub fn ping(&mut self, out: &mut Vec<u8>) {
        if self.phase != Phase::Down {
            encode_command(&[b"PING"], out);
            self.in_flight.push_back(Expect::Ping);
        }
    }

    /// The hash slot of `topic`'s keys and channel on a cluster.
    pub fn slot(&self, topic: &str) -> u16 {
        topic_slot(&self.config.prefix, topic)
    }

    fn key(&self, topic: &str, what: &str) -> String {
        format!("{}{{{topic}}}:{what}", self.config.prefix)
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}{{{topic}}}", self.config.prefix)
    }

    fn topic_of<'a>(&self, channel: &'a [u8]) -> Option<&'a str> {
        let rest = channel.strip_prefix(self.config.prefix.as_bytes())?;
        let inner = rest.strip_prefix(b"{")?.strip_suffix(b"}")?;
        core::str::from_utf8(inner).ok()
    }
}

pub mod cluster;
mod receive;
#[cfg(test)]
mod tests;
