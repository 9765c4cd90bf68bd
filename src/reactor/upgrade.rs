//! The hand-off from HTTP to WebSocket (RFC 6455 §4.2.2), in one place: the application's
//! `Reply::WebSocket` is checked and answered `101` (or refused) here, and when the HTTP machine
//! reports `Upgraded`, the WebSocket machine takes the connection over from the proof the
//! handshake left. The dispatcher (`dispatch.rs`) calls both.

use super::conn::{HttpConn, Pending, Proto};
use super::turn::Turn;
use crate::http;
use crate::ws;
use std::borrow::Cow;

/// Answers an upgrade request the application accepted: `101` with `protocol` (and
/// permessage-deflate when configured and offered), or the refusal the check calls for.
pub(crate) fn accept(
    turn: &mut Turn<'_>,
    protocol: Option<Cow<'static, str>>,
    request: &http::Request<'_>,
) {
    let (conn, env) = turn.parts();
    let mut held = false;
    let mut status = 101;
    let Proto::Http(h) = conn.proto_mut() else {
        return;
    };
    let HttpConn { http, pending } = &mut **h;
    match ws::check_request(request) {
        Ok(offer) => {
            // Compression is agreed only while what is in flight has room in its share of the
            // memory budget for the state the connection may keep between messages (RFC 7692
            // §5 lets a server decline); otherwise it goes on uncompressed.
            #[cfg(feature = "deflate")]
            let offer = match env.deflate {
                Some(config) if env.memory.room_in_flight() >= kept_codec_bytes(&config) => {
                    offer.with_deflate(config)
                }
                _ => offer,
            };
            match offer.accept(protocol.as_deref(), &[], http, &mut env.scratch) {
                Ok(proof) => {
                    *pending = Pending::Upgrading(proof);
                    held = true;
                }
                Err(_) => {
                    let _ = http.respond(500, &[], b"", &mut env.scratch);
                    status = 500;
                }
            }
        }
        Err(e) => {
            let _ = ws::reject(e, http, &mut env.scratch);
            status = e.status();
        }
    }
    if held {
        conn.set_held(true);
    }
    turn.note_status(status);
    turn.flush();
}

/// The most a connection agreed compression under `config` keeps between messages: an
/// inflater (unless the client resets its context: known only once it has offered, so counted),
/// and a compressor if the server keeps its own context.
#[cfg(feature = "deflate")]
fn kept_codec_bytes(config: &ws::deflate::ServerConfig) -> usize {
    use crate::ws::deflate::message::{DEFLATER_BYTES, INFLATER_BYTES};
    let compressor = if config.server_no_context_takeover {
        0
    } else {
        DEFLATER_BYTES
    };
    INFLATER_BYTES + compressor
}

/// The `101` is out and the HTTP machine handed over: the WebSocket machine takes the
/// connection, starting its clocks now. False if no accepted handshake was pending.
pub(crate) fn take_over(turn: &mut Turn<'_>) -> bool {
    let (conn, env) = turn.parts();
    let Proto::Http(h) = conn.proto_mut() else {
        return false;
    };
    let Pending::Upgrading(proof) = std::mem::replace(&mut h.pending, Pending::None) else {
        return false;
    };
    let mut machine = ws::Connection::new(proof, &env.limits);
    machine.start(env.now);
    conn.set_proto(Proto::Ws(Box::new(machine)));
    true
}
