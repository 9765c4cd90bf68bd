//! `redis://[user[:password]@]host[:port][/db]` (the form Redis clients share; `rediss://`,
//! TLS, is not served here), and `redis+cluster://[user[:password]@]host[:port][,host[:port]…]`
//! for a Redis Cluster: seed nodes, any of which tells the slot map.

use crate::hub::redis::MirrorConfig;

/// Where Redis is and how to log in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisUrl {
    /// `host:port` (port 6379 when not given); the first seed of a cluster.
    pub addr: String,
    /// A cluster's seed nodes, `host:port` each (`redis+cluster://`); empty for one Redis.
    pub seeds: Vec<String>,
    /// The handshake's settings (user, password, database).
    pub config: MirrorConfig,
}

/// A URL that is not `redis://…`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a redis:// or redis+cluster:// URL ({0})")]
pub struct BadUrl(pub &'static str);

impl core::str::FromStr for RedisUrl {
    type Err = BadUrl;

    fn from_str(url: &str) -> Result<RedisUrl, BadUrl> {
        let (cluster, rest) = match url.strip_prefix("redis+cluster://") {
            Some(rest) => (true, rest),
            None => (
                false,
                url.strip_prefix("redis://")
                    .ok_or(BadUrl("it must start with redis:// or redis+cluster://"))?,
            ),
        };
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
        if cluster && db != 0 {
            return Err(BadUrl("a cluster has only database 0"));
        }
        let seeds = if cluster {
            hostport
                .split(',')
                .map(with_port)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        let addr = match seeds.first() {
            Some(first) => first.clone(),
            None => with_port(hostport)?,
        };
        let mut config = MirrorConfig {
            db,
            sharded: cluster,
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
        Ok(RedisUrl {
            addr,
            seeds,
            config,
        })
    }
}

/// `host:port`, with port 6379 when not given.
fn with_port(hostport: &str) -> Result<String, BadUrl> {
    if hostport.is_empty() {
        return Err(BadUrl("no host"));
    }
    match hostport.rsplit_once(':') {
        // `[::1]` alone has colons but no port.
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
            port.parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or(BadUrl("the port is a number from 1 to 65535"))?;
            Ok(hostport.to_string())
        }
        _ => Ok(format!("{hostport}:6379")),
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
        let u: RedisUrl = "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2,[::1]:7002"
            .parse()
            .unwrap();
        assert_eq!(u.seeds, ["10.0.0.1:7000", "10.0.0.2:6379", "[::1]:7002"]);
        assert_eq!(u.addr, "10.0.0.1:7000");
        assert!(u.config.sharded);
        assert_eq!(u.config.password.as_deref(), Some("pw"));
        let single: RedisUrl = "redis://h".parse().unwrap();
        assert!(single.seeds.is_empty() && !single.config.sharded);
        for bad in [
            "redis+cluster://a:7000,,b:7001",
            "redis+cluster://a:7000/2",
            "redis+cluster://",
            "redis://h:0",
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
