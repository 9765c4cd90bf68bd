//! What Redis sends a [`Mirror`]: replies to its commands in order (RESP3, `HELLO 3`), and
//! Pub/Sub pushes of the channels it subscribed to. Each becomes hub events or an [`Outcome`];
//! a hole in a topic's numbering is filled from its stream (`XREVRANGE`) before anything of it
//! is delivered.

use super::cluster::{Redirect, SlotMap};
use super::{Expect, Follow, MakeEvent, Message, Mirror, MirrorError, Outcome, Phase};
use crate::hub::Arc;
use crate::hub::Hub;
use crate::resp::{Value, encode_command};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

impl Mirror {
    /// Reads replies and pushes from `input`; new events go into `hub`, each made into the
    /// bytes readers get by `make(topic, seq, ts, text)`. Returns the bytes consumed.
    ///
    /// # Errors
    /// [`MirrorError`]: close the connection.
    pub fn feed(
        &mut self,
        input: &[u8],
        hub: &mut Hub,
        make: &MakeEvent,
        out: &mut Vec<u8>,
        outcomes: &mut Vec<Outcome>,
    ) -> Result<usize, MirrorError> {
        let mut consumed = 0;
        loop {
            let step = self.parser.feed(
                input
                    .get(consumed..)
                    .expect("the parser consumes at most its input"),
            )?;
            consumed += step.consumed;
            match step.value {
                Some(Value::Push(items)) => self.on_push(&items, hub, make, out, outcomes)?,
                Some(value) => self.on_reply(value, hub, make, out, outcomes)?,
                None if step.consumed == 0 => return Ok(consumed),
                None => {}
            }
        }
    }

    fn on_reply(
        &mut self,
        value: Value,
        hub: &mut Hub,
        make: &MakeEvent,
        out: &mut Vec<u8>,
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), MirrorError> {
        let expect = self
            .in_flight
            .pop_front()
            .ok_or(MirrorError::Unexpected("nothing (no command was sent)"))?;
        match expect {
            Expect::Hello | Expect::Select => {
                if let Value::Error(e) = value {
                    outcomes.push(Outcome::Refused(String::from_utf8_lossy(&e).into()));
                    return Ok(());
                }
                if self.in_flight.iter().any(|e| matches!(e, Expect::Select)) {
                    return Ok(());
                }
                self.phase = Phase::Ready;
                outcomes.push(Outcome::Ready);
                let topics: Vec<Arc<str>> = self.topics.keys().cloned().collect();
                for topic in topics {
                    self.sync(&topic, hub, out);
                }
            }
            Expect::Ping => {}
            Expect::ScriptLoad => {
                if let Value::Error(e) = value {
                    // No scripting (a fork without Lua): publishing cannot work here.
                    outcomes.push(Outcome::Refused(String::from_utf8_lossy(&e).into()));
                }
            }
            Expect::Publish { ticket } => {
                let outcome = self.published(ticket, value, out)?;
                match outcome {
                    // Stored on the primary: acknowledged once the replicas have it.
                    Outcome::Published { ticket, seq } if self.config.wait_replicas > 0 => {
                        self.unconfirmed.push_back((ticket, seq));
                    }
                    Outcome::NotPublished { ref reason, .. }
                        if Redirect::is_cluster_error(reason.as_bytes()) =>
                    {
                        outcomes.push(Outcome::MapStale);
                        outcomes.push(outcome);
                    }
                    outcome => outcomes.push(outcome),
                }
            }
            Expect::Wait { ticket } => self.confirmed(ticket, &value, outcomes),
            Expect::Bump => {}
            Expect::Counters { topic } | Expect::Fill { topic } | Expect::Subscribe { topic }
                if matches!(value, Value::Error(_)) =>
            {
                self.refused_for(topic, &value, outcomes)?;
            }
            Expect::Subscribe { .. } => {}
            Expect::Slots => match SlotMap::from_reply(&value) {
                Ok(map) => outcomes.push(Outcome::Slots(map)),
                Err(_) => outcomes.push(Outcome::MapStale),
            },
            Expect::Counters { topic } => {
                let numbers = value
                    .as_list()
                    .ok_or(MirrorError::Unexpected("MGET"))?
                    .iter()
                    .map(|v| v.as_integer().map_or(0, |n| n.max(0) as u64))
                    .collect::<Vec<u64>>();
                let (last, base) = match numbers.as_slice() {
                    [last, base] => (*last, *base),
                    _ => return Err(MirrorError::Unexpected("MGET")),
                };
                if let Some(Follow::Syncing { counters, .. }) = self.topics.get_mut(&topic) {
                    *counters = Some((last, base));
                }
                let seen = hub.last_seq(&topic);
                if last > 0 && last < seen {
                    // The counter went back (a failover lost the newest publishes): raise it
                    // past what this node's readers have seen, so that no number is issued
                    // twice for different events.
                    self.bump(&topic, seen, out);
                }
            }
            Expect::Fill { topic } => self.on_filled(topic, &value, hub, make, out, outcomes)?,
        }
        Ok(())
    }

    /// The outcome of publish `ticket`, from its reply.
    fn published(
        &mut self,
        ticket: u64,
        value: Value,
        out: &mut Vec<u8>,
    ) -> Result<Outcome, MirrorError> {
        Ok(match value {
            Value::Integer(seq) if seq > 0 => Outcome::Published {
                ticket,
                seq: seq as u64,
            },
            Value::Error(e) => {
                if e.starts_with(b"NOSCRIPT") {
                    // The script cache was flushed: load it again for what follows.
                    self.load_script(out);
                }
                Outcome::NotPublished {
                    ticket,
                    reason: String::from_utf8_lossy(&e).into(),
                }
            }
            _ => return Err(MirrorError::Unexpected("EVAL")),
        })
    }

    /// `WAIT`'s answer for publish `ticket`: the replicas that have it.
    fn confirmed(&mut self, ticket: u64, value: &Value, outcomes: &mut Vec<Outcome>) {
        let Some(at) = self.unconfirmed.iter().position(|(t, _)| *t == ticket) else {
            // The publish itself failed (reported then).
            return;
        };
        let (_, seq) = self
            .unconfirmed
            .remove(at)
            .expect("the position was just found");
        let wanted = i64::from(self.config.wait_replicas);
        outcomes.push(match value.as_integer() {
            Some(n) if n >= wanted => Outcome::Published { ticket, seq },
            n => Outcome::NotPublished {
                ticket,
                reason: format!(
                    "stored on the primary, but {} of {wanted} replicas confirmed it in time",
                    n.unwrap_or(0)
                ),
            },
        });
    }

    /// Raises `topic`'s counter to `seen` if it is lower.
    fn bump(&mut self, topic: &str, seen: u64, out: &mut Vec<u8>) {
        let seen = format!("{seen}");
        encode_command(
            &[
                b"EVAL",
                BUMP_SCRIPT.as_bytes(),
                b"1",
                self.key(topic, "seq").as_bytes(),
                seen.as_bytes(),
            ],
            out,
        );
        self.in_flight.push_back(Expect::Bump);
    }

    /// A command of `topic`'s sync was refused. Not served here (a cluster's redirection or
    /// pause): the topic is given up on this node ([`Outcome::Moved`]); a topic unfollowed
    /// meanwhile: nothing; anything else breaks the protocol.
    fn refused_for(
        &mut self,
        topic: Arc<str>,
        value: &Value,
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), MirrorError> {
        let Value::Error(e) = value else {
            return Ok(());
        };
        if !self.topics.contains_key(&topic) {
            return Ok(());
        }
        if !Redirect::is_cluster_error(e) {
            return Err(MirrorError::Unexpected("a topic's sync"));
        }
        self.topics.remove(&topic);
        outcomes.push(Outcome::MapStale);
        outcomes.push(Outcome::Moved(topic));
        Ok(())
    }

    /// The stream's newest entries for a topic being synced: into the hub, then what arrived
    /// meanwhile, then where the numbering stands; the topic is live.
    fn on_filled(
        &mut self,
        topic: Arc<str>,
        value: &Value,
        hub: &mut Hub,
        make: &MakeEvent,
        out: &mut Vec<u8>,
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), MirrorError> {
        let entries = self.entries(value)?;
        let Some(follow) = self.topics.get_mut(&topic) else {
            // Unfollowed meanwhile.
            return Ok(());
        };
        let Follow::Syncing { counters, waiting } = core::mem::replace(follow, Follow::Live) else {
            return Ok(());
        };
        let was_synced = counters.is_none();
        for message in entries.iter().rev() {
            let _ = hub.insert(
                &topic,
                message.seq,
                make(&topic, message.seq, message.ts, &message.text),
            );
        }
        // What the stream did not have stays a hole (no second fill for it).
        for message in waiting {
            self.deliver(&topic, message, true, hub, make, out);
        }
        // Last, where the numbering stands: numbers up to the counter that neither the
        // stream nor a push brought are holes.
        if let Some((last, base)) = counters {
            let _ = hub.align(&topic, base, last);
        }
        if !was_synced {
            outcomes.push(Outcome::Synced(topic.clone()));
        }
        outcomes.push(Outcome::Events(topic));
        Ok(())
    }

    fn on_push(
        &mut self,
        items: &[Value],
        hub: &mut Hub,
        make: &MakeEvent,
        out: &mut Vec<u8>,
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), MirrorError> {
        let kind = items.first().and_then(Value::as_bytes);
        let sharded = self.config.sharded;
        match kind {
            Some(b"message") if !sharded => {}
            Some(b"smessage") if sharded => {}
            Some(b"ssubscribe") if sharded => {
                // The answer to an `SSUBSCRIBE`, in its place among the replies.
                if matches!(self.in_flight.front(), Some(Expect::Subscribe { .. })) {
                    self.in_flight.pop_front();
                }
                return Ok(());
            }
            Some(b"sunsubscribe") if sharded => return self.unsubscribed(items, outcomes),
            // Other subscription confirmations (RESP3 sends them as pushes) and anything else.
            _ => return Ok(()),
        }
        let (Some(channel), Some(payload)) = (
            items.get(1).and_then(Value::as_bytes),
            items.get(2).and_then(Value::as_bytes),
        ) else {
            return Err(MirrorError::Unexpected("a Pub/Sub message"));
        };
        let Some(topic) = self.topic_of(channel) else {
            return Ok(());
        };
        let Some(message) = parse_message(payload) else {
            return Err(MirrorError::Unexpected("a channel message"));
        };
        let Some(topic) = self.topics.get_key_value(topic).map(|(t, _)| t.clone()) else {
            return Ok(());
        };
        let Some(follow) = self.topics.get_mut(&topic) else {
            return Ok(());
        };
        match follow {
            Follow::Syncing { waiting, .. } => {
                if waiting.len() >= self.config.history_events.max(1) {
                    waiting.remove(0);
                }
                waiting.push(message);
            }
            Follow::Live => {
                if self.deliver(&topic, message, false, hub, make, out) {
                    outcomes.push(Outcome::Events(topic));
                }
            }
        }
        Ok(())
    }

    /// A `sunsubscribe` push: the answer to an `SUNSUBSCRIBE` (the topic is unfollowed
    /// already), or Redis saying that the channel's slot is no longer served here.
    fn unsubscribed(
        &mut self,
        items: &[Value],
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), MirrorError> {
        let channel = items
            .get(1)
            .and_then(Value::as_bytes)
            .ok_or(MirrorError::Unexpected("a sunsubscribe push"))?;
        let Some(topic) = self.topic_of(channel) else {
            return Ok(());
        };
        if let Some((topic, _)) = self.topics.remove_entry(topic) {
            outcomes.push(Outcome::MapStale);
            outcomes.push(Outcome::Moved(topic));
        }
        Ok(())
    }

    /// Puts a channel message into the hub, or starts filling the hole before it (unless
    /// `after_fill`: then the hole stays). Whether there is something new to deliver.
    fn deliver(
        &mut self,
        topic: &Arc<str>,
        message: Message,
        after_fill: bool,
        hub: &mut Hub,
        make: &MakeEvent,
        out: &mut Vec<u8>,
    ) -> bool {
        if message.base > 0 && hub.last_seq(topic) < message.seq {
            // A new numbering: what came before it on this hub is another life of the topic.
            let _ = hub.align(topic, message.base, message.base);
        }
        let last = hub.last_seq(topic);
        if message.seq <= last {
            return false;
        }
        if message.seq == last + 1 || after_fill {
            let event = make(topic, message.seq, message.ts, &message.text);
            return hub.insert(topic, message.seq, event).unwrap_or(false);
        }
        // A hole: read the stream from the first missing number, deliver after.
        self.fill(topic, last + 1, out);
        if let Some(Follow::Syncing { waiting, .. }) = self.topics.get_mut(topic) {
            waiting.push(message);
        }
        false
    }

    /// Subscribes and reads the topic's counters and its stream after the hub's last event.
    pub(super) fn sync(&mut self, topic: &Arc<str>, hub: &Hub, out: &mut Vec<u8>) {
        if self.config.sharded {
            encode_command(&[b"SSUBSCRIBE", self.channel(topic).as_bytes()], out);
            self.in_flight.push_back(Expect::Subscribe {
                topic: topic.clone(),
            });
        } else {
            encode_command(&[b"SUBSCRIBE", self.channel(topic).as_bytes()], out);
        }
        encode_command(
            &[
                b"MGET",
                self.key(topic, "seq").as_bytes(),
                self.key(topic, "base").as_bytes(),
            ],
            out,
        );
        self.in_flight.push_back(Expect::Counters {
            topic: topic.clone(),
        });
        self.topics.insert(
            topic.clone(),
            Follow::Syncing {
                counters: None,
                waiting: Vec::new(),
            },
        );
        self.fill_request(topic, hub.last_seq(topic) + 1, out);
    }

    /// Starts filling from `from` (pushes wait meanwhile).
    fn fill(&mut self, topic: &Arc<str>, from: u64, out: &mut Vec<u8>) {
        if let Some(follow) = self.topics.get_mut(topic) {
            *follow = Follow::Syncing {
                counters: None,
                waiting: Vec::new(),
            };
        }
        self.fill_request(topic, from, out);
    }

    fn fill_request(&mut self, topic: &Arc<str>, from: u64, out: &mut Vec<u8>) {
        let from = if from <= 1 {
            String::from("-")
        } else {
            format!("{from}")
        };
        let count = format!("{}", self.config.history_events.max(1));
        encode_command(
            &[
                b"XREVRANGE",
                self.key(topic, "log").as_bytes(),
                b"+",
                from.as_bytes(),
                b"COUNT",
                count.as_bytes(),
            ],
            out,
        );
        self.in_flight.push_back(Expect::Fill {
            topic: topic.clone(),
        });
    }

    /// Stream entries of an `XREVRANGE` reply (newest first).
    fn entries(&self, value: &Value) -> Result<Vec<Message>, MirrorError> {
        let bad = MirrorError::Unexpected("XREVRANGE");
        let list = match value {
            Value::Null => return Ok(Vec::new()),
            v => v.as_list().ok_or(bad.clone())?,
        };
        let mut entries = Vec::with_capacity(list.len());
        for entry in list {
            let (Some(id), Some(fields)) = (
                entry
                    .as_list()
                    .and_then(|e| e.first())
                    .and_then(Value::as_bytes),
                entry.as_list().and_then(|e| e.get(1)),
            ) else {
                return Err(bad);
            };
            let seq = core::str::from_utf8(id)
                .ok()
                .and_then(|id| id.split('-').next())
                .and_then(|n| n.parse().ok())
                .ok_or(bad.clone())?;
            let field = |name: &[u8]| -> Option<&[u8]> {
                match fields {
                    Value::Map(pairs) => pairs
                        .iter()
                        .find(|(k, _)| k.as_bytes() == Some(name))
                        .and_then(|(_, v)| v.as_bytes()),
                    v => {
                        let list = v.as_list()?;
                        list.chunks(2)
                            .find(|kv| kv.first().and_then(Value::as_bytes) == Some(name))
                            .and_then(|kv| kv.get(1))
                            .and_then(Value::as_bytes)
                    }
                }
            };
            let ts = field(b"t")
                .and_then(|t| core::str::from_utf8(t).ok()?.parse().ok())
                .unwrap_or(0);
            let text = field(b"d")
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .ok_or(bad.clone())?;
            entries.push(Message {
                seq,
                base: 0,
                ts,
                text,
            });
        }
        Ok(entries)
    }
}

/// Raises a counter (KEYS[1]) to ARGV[1] if it is lower.
const BUMP_SCRIPT: &str = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
if n < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end return 0";

/// `<seq> <base> <t> <text>`.
fn parse_message(payload: &[u8]) -> Option<Message> {
    let text = core::str::from_utf8(payload).ok()?;
    let mut parts = text.splitn(4, ' ');
    let seq = parts.next()?.parse().ok()?;
    let base = parts.next()?.parse().ok()?;
    let ts = parts.next()?.parse().ok()?;
    let text = parts.next()?.into();
    Some(Message {
        seq,
        base,
        ts,
        text,
    })
}
