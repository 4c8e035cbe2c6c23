//! `clickhouse://[user[:password]@]host:port[,host:port...]/database[?cluster=NAME]`: where the
//! store lives. With a cluster, list the HTTP address of one server per shard: keylens creates
//! the tables on each (without ZooKeeper there is no `ON CLUSTER`) and talks to the first.

use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// `http://host:port` of the server keylens talks to (its HTTP interface).
    pub http: String,
    /// Every server listed, the first being `http`.
    pub servers: Vec<String>,
    pub database: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// A cluster from the servers' `remote_servers`: keylens then writes and reads through
    /// `Distributed` tables sharded by license.
    pub cluster: Option<String>,
}

fn bad(url: &str, why: &str) -> Error {
    Error::Url(format!(
        "{url}: {why}; expected clickhouse://[user[:password]@]host:port[,host:port...]/database[?cluster=NAME] (HTTP ports, usually 8123)"
    ))
}

fn identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

impl Location {
    pub fn parse(url: &str) -> Result<Location> {
        let rest = url
            .strip_prefix("clickhouse://")
            .ok_or_else(|| bad(url, "not a clickhouse:// address"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, database) = rest
            .split_once('/')
            .ok_or_else(|| bad(url, "no database"))?;
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (Some(n.to_string()), Some(p.to_string())),
                None => (Some(u.to_string()), None),
            },
            None => (None, None),
        };
        let servers: Vec<String> = host.split(',').map(|h| format!("http://{h}")).collect();
        if host.split(',').any(|h| h.is_empty() || !h.contains(':')) {
            return Err(bad(url, "host:port needed"));
        }
        // Names become identifiers in DDL: only plain ones are accepted.
        if !identifier(database) {
            return Err(bad(
                url,
                "the database must be a plain name (letters, digits, _)",
            ));
        }
        let mut cluster = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("cluster", c)) if identifier(c) => cluster = Some(c.to_string()),
                Some(("cluster", _)) => return Err(bad(url, "the cluster must be a plain name")),
                _ => {
                    return Err(bad(
                        url,
                        &format!("unknown parameter '{pair}' (only cluster)"),
                    ))
                }
            }
        }
        if servers.len() > 1 && cluster.is_none() {
            return Err(bad(
                url,
                "several servers are for a cluster: add ?cluster=NAME",
            ));
        }
        Ok(Location {
            http: servers[0].clone(),
            servers,
            database: database.to_string(),
            user,
            password,
            cluster,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_cluster_addresses() {
        let l = Location::parse("clickhouse://127.0.0.1:8123/keylens").unwrap();
        assert_eq!(l.http, "http://127.0.0.1:8123");
        assert_eq!(l.database, "keylens");
        assert_eq!(l.cluster, None);
        let l = Location::parse("clickhouse://me:secret@db:8123,db2:8123/k?cluster=two_shards")
            .unwrap();
        assert_eq!(l.servers, ["http://db:8123", "http://db2:8123"]);
        assert_eq!(
            (l.user.as_deref(), l.password.as_deref()),
            (Some("me"), Some("secret"))
        );
        assert_eq!(l.cluster.as_deref(), Some("two_shards"));
    }

    #[test]
    fn refuses_what_would_reach_sql_or_is_incomplete() {
        for url in [
            "http://x:1/db",
            "clickhouse://x:1",
            "clickhouse://x/db",
            "clickhouse://x:1/db; DROP TABLE events",
            "clickhouse://x:1/db?cluster=a'b",
            "clickhouse://x:1/db?shards=2",
            "clickhouse://x:1,y:2/db",
        ] {
            assert!(Location::parse(url).is_err(), "{url}");
        }
    }
}
