//! `redis://[user[:password]@]host[:port][/db]` (the form Redis clients share; `rediss://`,
//! TLS, is not served here).

use crate::hub::redis::MirrorConfig;

/// Where Redis is and how to log in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisUrl {
    /// `host:port` (port 6379 when not given).
    pub addr: String,
    /// The handshake's settings (user, password, database).
    pub config: MirrorConfig,
}

/// A URL that is not `redis://…`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a redis:// URL ({0})")]
pub struct BadUrl(pub &'static str);

impl core::str::FromStr for RedisUrl {
    type Err = BadUrl;

    fn from_str(url: &str) -> Result<RedisUrl, BadUrl> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or(BadUrl("it must start with redis://"))?;
        let (login, rest) = match rest.rsplit_once('@') {
            Some((login, rest)) => (Some(login), rest),
            None => (None, rest),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((hostport, "")) => (hostport, 0),
            Some((hostport, db)) => (
                hostport,
                db.parse().map_err(|_| BadUrl("the database is a number"))?,
            ),
            None => (rest, 0),
        };
        if hostport.is_empty() {
            return Err(BadUrl("no host"));
        }
        let has_port = match hostport.rsplit_once(':') {
            // `[::1]` alone has colons but no port.
            Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
                port.parse::<u16>()
                    .map_err(|_| BadUrl("the port is a number from 1 to 65535"))?;
                true
            }
            _ => false,
        };
        let addr = if has_port {
            hostport.to_string()
        } else {
            format!("{hostport}:6379")
        };
        let mut config = MirrorConfig {
            db,
            ..MirrorConfig::default()
        };
        if let Some(login) = login {
            let (user, password) = match login.split_once(':') {
                Some((user, password)) => (user, password),
                None => ("", login),
            };
            config.user = (!user.is_empty()).then(|| decode(user)).transpose()?;
            config.password = Some(decode(password)?);
        }
        Ok(RedisUrl { addr, config })
    }
}

/// Percent-decoding (RFC 3986 §2.1) of a user or password.
fn decode(text: &str) -> Result<String, BadUrl> {
    let bad = BadUrl("an invalid percent-escape in the login");
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [
                bytes.next().ok_or(bad.clone())?,
                bytes.next().ok_or(bad.clone())?,
            ];
            let hex = std::str::from_utf8(&hex).map_err(|_| bad.clone())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad.clone())?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_as_clients_read_them() {
        let u: RedisUrl = "redis://127.0.0.1:6390".parse().unwrap();
        assert_eq!(
            (u.addr.as_str(), u.config.db, u.config.password),
            ("127.0.0.1:6390", 0, None)
        );
        let u: RedisUrl = "redis://localhost".parse().unwrap();
        assert_eq!(u.addr, "localhost:6379");
        let u: RedisUrl = "redis://app:p%40ss@r.example:7000/3".parse().unwrap();
        assert_eq!(u.addr, "r.example:7000");
        assert_eq!(u.config.user.as_deref(), Some("app"));
        assert_eq!(u.config.password.as_deref(), Some("p@ss"));
        assert_eq!(u.config.db, 3);
        let u: RedisUrl = "redis://:secret@h".parse().unwrap();
        assert_eq!(
            (u.config.user, u.config.password.as_deref()),
            (None, Some("secret"))
        );
        let u: RedisUrl = "redis://[::1]:6380/".parse().unwrap();
        assert_eq!(u.addr, "[::1]:6380");
        for bad in [
            "http://h",
            "redis://",
            "redis://h:x",
            "redis://h/x",
            "redis://:%zz@h",
            "redis://h:70000",
        ] {
            assert!(bad.parse::<RedisUrl>().is_err(), "{bad}");
        }
    }
}
