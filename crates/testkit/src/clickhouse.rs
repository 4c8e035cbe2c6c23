//! A private ClickHouse server for tests that must stop and restart one (fault tests): Debian's
//! `clickhouse-server` on a free loopback port with its own config and data in a folder.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ClickHouse {
    child: Option<Child>,
    dir: PathBuf,
    /// HTTP port.
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .unwrap()
        .port()
}

/// True once `GET /ping` answers `Ok.`.
pub fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.contains("Ok.")
}

impl ClickHouse {
    /// Starts a server keeping its data in `dir`; panics, saying what to install, if it cannot.
    pub fn start(dir: &Path) -> ClickHouse {
        let (http, tcp, inter) = (free_port(), free_port(), free_port());
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(
            dir.join("users.xml"),
            "<?xml version=\"1.0\"?><yandex><profiles><default></default></profiles>\
             <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>\
             <quotas><default></default></quotas></yandex>",
        )
        .unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("config.xml"),
            format!(
                "<?xml version=\"1.0\"?><yandex>\
                 <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><console>0</console></logger>\
                 <listen_host>127.0.0.1</listen_host><http_port>{http}</http_port><tcp_port>{tcp}</tcp_port>\
                 <interserver_http_port>{inter}</interserver_http_port>\
                 <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><users_config>{d}/users.xml</users_config>\
                 <default_profile>default</default_profile><default_database>default</default_database>\
                 <mark_cache_size>134217728</mark_cache_size></yandex>"
            ),
        )
        .unwrap();
        let mut ch = ClickHouse {
            child: None,
            dir: dir.to_path_buf(),
            port: http,
        };
        ch.restart();
        ch
    }

    /// `clickhouse://127.0.0.1:PORT/database`.
    pub fn url(&self, database: &str) -> String {
        format!("clickhouse://127.0.0.1:{}/{database}", self.port)
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and data, and waits until it answers.
    pub fn restart(&mut self) {
        self.kill9();
        let child = Command::new("clickhouse-server")
            .arg(format!("--config-file={}", self.dir.join("config.xml").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run clickhouse-server ({e}): apt-get install -y clickhouse-server (scripts/clickhouse.sh does)")
            });
        self.child = Some(child);
        let started = Instant::now();
        while !answers(self.port) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "clickhouse-server did not answer on port {} within 60 s; see {}",
                self.port,
                self.dir.join("error.log").display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The ClickHouse address in `var` (`KEYLENS_CLICKHOUSE_URL` or `KEYLENS_CLICKHOUSE_CLUSTER_URL`);
/// a test needing it fails, saying how to provide it, when it is not set.
pub fn env_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: this test needs ClickHouse. Run the suite with scripts/test.sh, or \
             eval \"$(scripts/clickhouse.sh start)\" and export the addresses it prints"
        )
    })
}

/// `url` with its database replaced by `name` (a test's own database).
pub fn with_database(url: &str, name: &str) -> String {
    let (head, tail) = url.rsplit_once('/').expect("a database in the address");
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{head}/{name}{query}")
}
