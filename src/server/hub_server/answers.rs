//! The answers to requests the hub cannot serve as asked: one-line reasons, `400` for a
//! parameter, `415` for a body that is not text.

use crate::reactor::Response;
use crate::server::query::BadParam;

/// A refusal with a one-line reason as its body.
pub(super) fn refusal(status: u16, reason: &str) -> Response {
    Response::new(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(format!("{reason}\n").into_bytes())
}

/// A published body as text; `415` if it is not UTF-8 (RFC 9110 §15.5.16: the content is in a
/// form this resource does not take).
pub(super) fn text_of(body: &[u8]) -> Result<&str, Response> {
    std::str::from_utf8(body).map_err(|e| {
        refusal(
            415,
            &format!(
                "the body must be UTF-8 text: invalid byte at offset {}",
                e.valid_up_to()
            ),
        )
    })
}

/// `400 Bad Request` naming the parameter and what was wrong with it.
pub(super) fn bad_request(e: BadParam) -> Response {
    refusal(400, &e.to_string())
}
