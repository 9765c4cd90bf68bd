//! What a token lets its holder do: topic selectors for subscribing and publishing.

use alloc::string::String;
use alloc::vec::Vec;

/// One topic selector of a token's `pushwire` claim: an exact topic (`"news"`), or a prefix
/// ending in `*` (`"user.42.*"`, and `"*"` for every topic). A `*` anywhere else is not a
/// selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// This topic only.
    Exact(String),
    /// Every topic that starts with this prefix (the `*` removed).
    Prefix(String),
}

impl Selector {
    /// Reads one selector; `None` for an empty one or a `*` not at the end.
    pub fn parse(text: &str) -> Option<Selector> {
        match text.strip_suffix('*') {
            Some(prefix) if !prefix.contains('*') => Some(Selector::Prefix(prefix.into())),
            Some(_) => None,
            None if text.is_empty() || text.contains('*') => None,
            None => Some(Selector::Exact(text.into())),
        }
    }

    /// Whether `topic` is one this selector names.
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Selector::Exact(exact) => exact == topic,
            Selector::Prefix(prefix) => topic.starts_with(prefix.as_str()),
        }
    }

    /// Whether this selector names every topic (`"*"`).
    pub fn is_everything(&self) -> bool {
        matches!(self, Selector::Prefix(p) if p.is_empty())
    }
}

/// What one verified token grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// The topics the holder may follow (SSE, polling, WebSocket).
    pub subscribe: Vec<Selector>,
    /// The topics the holder may publish to.
    pub publish: Vec<Selector>,
    /// Whether the holder may read the server's own figures (`/metrics`, `/stats`).
    pub admin: bool,
}

/// An action on a topic that needs a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Receiving a topic's events.
    Subscribe,
    /// Publishing to a topic.
    Publish,
}

impl Grants {
    /// Whether these grants allow `action` on `topic`.
    pub fn allow(&self, action: Action, topic: &str) -> bool {
        self.selectors(action).iter().any(|s| s.matches(topic))
    }

    /// Whether these grants allow `action` on every topic (a `"*"` selector).
    pub fn allow_all(&self, action: Action) -> bool {
        self.selectors(action).iter().any(Selector::is_everything)
    }

    fn selectors(&self, action: Action) -> &[Selector] {
        match action {
            Action::Subscribe => &self.subscribe,
            Action::Publish => &self.publish,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn an_exact_selector_names_one_topic() {
        let grants = Grants {
            subscribe: vec![Selector::parse("a").unwrap()],
            publish: vec![],
            admin: false,
        };
        assert!(grants.allow(Action::Subscribe, "a"));
        assert!(!grants.allow(Action::Subscribe, "ab"));
        assert!(!grants.allow(Action::Subscribe, "b"));
        assert!(!grants.allow(Action::Subscribe, ""));
        assert!(!grants.allow(Action::Publish, "a"));
    }

    #[test]
    fn a_prefix_selector_names_what_starts_with_it() {
        let user = Selector::parse("user.42.*").unwrap();
        assert!(user.matches("user.42.inbox"));
        assert!(user.matches("user.42."));
        assert!(!user.matches("user.421.inbox"));
        assert!(!user.matches("user.4"));
        let all = Selector::parse("*").unwrap();
        assert!(all.is_everything() && all.matches("anything"));
        assert!(!user.is_everything());
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for bad in ["", "a*b", "**", "*a", "a**"] {
            assert_eq!(Selector::parse(bad), None, "{bad}");
        }
    }
}
