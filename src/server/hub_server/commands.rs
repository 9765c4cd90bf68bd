//! The `pushwire.v1` WebSocket subprotocol: each text message from the client is one JSON
//! command, answered on the same socket.
//!
//! | command | answer |
//! |---|---|
//! | `{"subscribe":"t"}`, `{"subscribe":"t","cursor":N}` | `{"ok":R,"subscribe":"t","cursor":C}`, then what follows C |
//! | `{"unsubscribe":"t"}` | `{"ok":R,"unsubscribe":"t"}` |
//! | `{"publish":"t","data":"…"}` | `{"ok":R,"publish":"t","seq":N}` |
//!
//! Each may carry `"ref"` (a string or a number), echoed as `R` (else `R` is `true`). A command
//! that cannot be carried out — unknown, malformed, over `max_topics_per_connection`, outside
//! the token's grants, over the publish rate — is answered `{"error":"…","ref":R}` and the
//! connection stays. A message that is not JSON closes it `1007` (RFC 6455 §7.4.1: data not
//! consistent with the type of the message). `cursor` is a decimal number (or a string of
//! one); without it the topic is followed from now.

use super::event::Bytes;
use super::follow::PENDING;
use super::{HubServer, Local, Notice};
use crate::json::{self, Value};
use crate::reactor::ConnId;
use crate::server::Ctx;
use crate::server::auth::scope::Action;
use crate::ws::CloseCode;
use std::fmt::Write as _;

/// A command's `ref`, as it is echoed.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ref {
    None,
    Text(String),
    Number(f64),
}

impl Ref {
    fn of(command: &Value<'_>) -> Result<Ref, &'static str> {
        match command.get("ref") {
            None | Some(Value::Null) => Ok(Ref::None),
            Some(Value::String(s)) => Ok(Ref::Text(s.to_string())),
            Some(Value::Number(n)) if n.is_finite() => Ok(Ref::Number(*n)),
            Some(_) => Err("ref must be a string or a number"),
        }
    }

    /// The value written back: the ref, or `true` (for `ok`) / `null` (beside an `error`).
    fn write(&self, out: &mut Vec<u8>, absent: &str) {
        match self {
            Ref::None => out.extend_from_slice(absent.as_bytes()),
            Ref::Text(s) => json::push_string(s, out),
            Ref::Number(n) => {
                let _ = write!(Bytes(out), "{n}");
            }
        }
    }
}

/// `{"error":why,"ref":R}`.
pub(super) fn error(why: &str, reference: &Ref) -> String {
    let mut out = b"{\"error\":".to_vec();
    json::push_string(why, &mut out);
    out.extend_from_slice(b",\"ref\":");
    reference.write(&mut out, "null");
    out.push(b'}');
    String::from_utf8(out).expect("JSON written from strings")
}

/// `{"ok":R,<what>:topic[,<more>]}`.
pub(super) fn ok(reference: &Ref, what: &str, topic: &str, more: &str) -> String {
    let mut out = b"{\"ok\":".to_vec();
    reference.write(&mut out, "true");
    let _ = write!(Bytes(&mut out), ",\"{what}\":");
    json::push_string(topic, &mut out);
    out.extend_from_slice(more.as_bytes());
    out.push(b'}');
    String::from_utf8(out).expect("JSON written from strings")
}

impl HubServer {
    /// One command from a `pushwire.v1` connection.
    pub(super) fn command(
        &self,
        local: &mut Local,
        conn: ConnId,
        text: &str,
        cx: &mut Ctx<'_, Notice>,
    ) {
        let Ok(command) = json::parse(text.as_bytes()) else {
            let why = "not JSON: pushwire.v1 takes one JSON object per message";
            let _ = cx.close_ws(conn, CloseCode::INVALID_PAYLOAD, why);
            return;
        };
        let answer = match Ref::of(&command) {
            Err(why) => error(why, &Ref::None),
            Ok(reference) => match self.carry_out(local, conn, &command, &reference, cx) {
                Ok(Some(answer)) => answer,
                // Answered later (a publish over the broker).
                Ok(None) => return,
                Err(why) => error(&why, &reference),
            },
        };
        let _ = cx.send_text(conn, &answer);
    }

    /// Carries out `command`: its answer (`None`: it comes later), or why it was refused.
    fn carry_out(
        &self,
        local: &mut Local,
        conn: ConnId,
        command: &Value<'_>,
        reference: &Ref,
        cx: &mut Ctx<'_, Notice>,
    ) -> Result<Option<String>, String> {
        if !matches!(command, Value::Object(_)) {
            return Err("a command is a JSON object".into());
        }
        let topic = |name: &str| -> Result<Option<String>, String> {
            match command.get(name) {
                None => Ok(None),
                Some(Value::String(t)) if t.is_empty() => Err(format!("{name}: an empty topic")),
                Some(Value::String(t)) if t.len() > self.limits.max_topic_name_bytes => {
                    Err(format!(
                        "{name}: longer than the limit of {} bytes",
                        self.limits.max_topic_name_bytes
                    ))
                }
                Some(Value::String(t)) => Ok(Some(t.to_string())),
                Some(_) => Err(format!("{name}: a topic is a string")),
            }
        };
        if let Some(t) = topic("subscribe")? {
            let cursor = cursor_of(command)?;
            self.subscribe(local, conn, &t, cursor, reference, cx)?;
            return Ok(None);
        }
        if let Some(t) = topic("unsubscribe")? {
            if local.ws.unsubscribe_topic(conn, &t).is_none() {
                return Err(format!("not subscribed to {t:?}"));
            }
            return Ok(Some(ok(reference, "unsubscribe", &t, "")));
        }
        if let Some(t) = topic("publish")? {
            let Some(Value::String(data)) = command.get("data") else {
                return Err("publish: data must be a string".into());
            };
            return self.publish_command(local, conn, &t, data, reference, cx);
        }
        Err("unknown command: expected subscribe, unsubscribe or publish".into())
    }

    /// `{"subscribe":…}`: within the limit and the token's grants, from the cursor or from now;
    /// answered here, before what the cursor is owed.
    fn subscribe(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        cursor: Option<u64>,
        reference: &Ref,
        cx: &mut Ctx<'_, Notice>,
    ) -> Result<(), String> {
        let already = local.ws.cursor(conn, topic).is_some();
        let limit = self.limits.max_topics_per_connection;
        if !already && local.ws.count_of(conn) >= limit {
            return Err(format!("over max_topics_per_connection ({limit})"));
        }
        if !self.ws_grants(local, conn, Action::Subscribe, topic) {
            self.metrics
                .refused(crate::server::metrics::Refusal::Forbidden);
            return Err(format!("this token may not subscribe to topic {topic}"));
        }
        let ask = super::request::Ask {
            topics: vec![topic.into()],
            cursors: vec![cursor],
        };
        let start = self.starts(&ask)[0];
        local.ws.subscribe(conn, topic, start);
        if start == PENDING {
            Self::pend(local, conn);
        }
        let more = if start == PENDING {
            ",\"cursor\":null".to_string()
        } else {
            format!(",\"cursor\":{start}")
        };
        let answer = ok(reference, "subscribe", topic, &more);
        // The answer first, then what the cursor is owed.
        let _ = cx.send_text(conn, &answer);
        if start != PENDING && cursor.is_some() {
            self.ws_catch_up(local, conn, topic, start, cx);
        }
        Ok(())
    }

    /// `{"publish":…}`: within the token's grants and the publish rate.
    fn publish_command(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        data: &str,
        reference: &Ref,
        cx: &mut Ctx<'_, Notice>,
    ) -> Result<Option<String>, String> {
        self.ws_may_publish(local, conn, topic, cx.now())?;
        if self.brokered() {
            self.ws_publish_remote(local, conn, topic, data, Some(reference.clone()), cx);
            return Ok(None);
        }
        match self.publish(topic, data.as_bytes(), cx) {
            Ok(seq) => Ok(Some(ok(
                reference,
                "publish",
                topic,
                &format!(",\"seq\":{seq}"),
            ))),
            Err(refused) => Err(String::from_utf8_lossy(&refused.body).trim().to_string()),
        }
    }
}

/// A command's `cursor`: a decimal number, or a string of one.
fn cursor_of(command: &Value<'_>) -> Result<Option<u64>, String> {
    let bad = || "cursor: a decimal number from 0 to 18446744073709551615".to_string();
    match command.get("cursor") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n))
            if *n >= 0.0 && n.fract() == 0.0 && *n <= 9_007_199_254_740_992.0 =>
        {
            Ok(Some(*n as u64))
        }
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map(Some).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}
