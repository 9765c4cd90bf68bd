//! What a follower's request asks: its topics (`topic`, repeatable, `default` when none) and
//! where to start in each (a cursor or a position, see [`crate::hub::position`]).

use super::answers::{bad_request, refusal};
use super::{DEFAULT_TOPIC, HubServer};
use crate::http::Request;
use crate::hub::position;
use crate::server::Response;
use crate::server::query::{self, BadParam};
use std::borrow::Cow;

/// A follower's topics and where it starts in each (`None`: from now).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Ask<'a> {
    pub topics: Vec<Cow<'a, str>>,
    pub cursors: Vec<Option<u64>>,
}

impl<'a> Ask<'a> {
    /// The topics as `&str`s.
    pub fn names(&self) -> Vec<&str> {
        self.topics.iter().map(|t| &**t).collect()
    }

    /// Topic and cursor pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, Option<u64>)> + '_ {
        self.topics
            .iter()
            .map(|t| &**t)
            .zip(self.cursors.iter().copied())
    }
}

impl HubServer {
    /// The topics a request names: every `topic` parameter in order (a repeated name counts
    /// once), [`DEFAULT_TOPIC`] when none; `400` naming the limit past
    /// `Limits::max_topics_per_connection` or `max_topic_name_bytes`.
    pub(super) fn topics<'a>(&self, req: &Request<'a>) -> Result<Vec<Cow<'a, str>>, Response> {
        let given = query::params(req, "topic").map_err(bad_request)?;
        let mut topics: Vec<Cow<'a, str>> = Vec::new();
        for topic in given {
            let topic = if topic.is_empty() {
                Cow::Borrowed(DEFAULT_TOPIC)
            } else {
                topic
            };
            if topic.len() > self.limits.max_topic_name_bytes {
                return Err(bad_request(BadParam::TooLong {
                    name: "topic",
                    limit: self.limits.max_topic_name_bytes,
                }));
            }
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
        if topics.len() > self.limits.max_topics_per_connection {
            return Err(refusal(
                400,
                &format!(
                    "topic: more than max_topics_per_connection ({}) topics",
                    self.limits.max_topics_per_connection
                ),
            ));
        }
        if topics.is_empty() {
            topics.push(Cow::Borrowed(DEFAULT_TOPIC));
        }
        Ok(topics)
    }

    /// The one topic of a request that may name only one (`/publish`, `/cursor`).
    pub(super) fn topic<'a>(&self, req: &Request<'a>) -> Result<Cow<'a, str>, Response> {
        let mut topics = self.topics(req)?;
        if topics.len() > 1 {
            return Err(bad_request(BadParam::Repeated("topic")));
        }
        Ok(topics.swap_remove(0))
    }

    /// A follower's request: its topics, and where it resumes — the `header` field if present
    /// (what EventSource sends when it reconnects), else the first of the `params` query
    /// parameters the request has.
    pub(super) fn ask<'a>(
        &self,
        req: &Request<'a>,
        header: Option<&'static str>,
        params: &[&'static str],
    ) -> Result<Ask<'a>, Response> {
        let topics = self.topics(req)?;
        let from_header = header.and_then(|name| Some((name, req.header(name)?)));
        let resume: Option<(&'static str, Cow<'a, str>)> = match from_header {
            Some((name, value)) => {
                let text =
                    std::str::from_utf8(value).map_err(|_| bad_request(BadParam::NotUtf8(name)))?;
                Some((name, Cow::Borrowed(text)))
            }
            None => {
                let mut found = None;
                for &param in params {
                    if let Some(v) = query::param(req, param).map_err(bad_request)? {
                        found = Some((param, v));
                        break;
                    }
                }
                found
            }
        };
        let cursors = match resume {
            None => vec![None; topics.len()],
            Some((name, text)) => {
                let names: Vec<&str> = topics.iter().map(|t| &**t).collect();
                let max = position::max_bytes(
                    self.limits.max_topics_per_connection,
                    self.limits.max_topic_name_bytes,
                );
                position::parse(&text, &names, max)
                    .map_err(|e| refusal(400, &format!("{name}: {e}")))?
            }
        };
        Ok(Ask { topics, cursors })
    }
}
