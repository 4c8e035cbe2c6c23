//! Runs the real `keylens serve` for tests and benchmarks: on a loopback port (0 = any free
//! one), reading the address the server prints once it listens.

pub mod clickhouse;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Server {
    /// Starts `bin serve --data DATA --listen LISTEN` with `env` set (and `KEYLENS_API_KEYS`
    /// cleared unless given) and `extra` arguments; stderr goes to `stderr` (null when `None`).
    pub fn start_with(
        bin: &Path,
        data: &Path,
        listen: &str,
        env: &[(&str, &str)],
        extra: &[&str],
        stderr: Option<std::fs::File>,
    ) -> Server {
        let mut cmd = Command::new(bin);
        cmd.args([
            "serve",
            "--data",
            data.to_str().expect("utf-8 path"),
            "--listen",
            listen,
        ])
        .args(extra);
        cmd.env_remove("KEYLENS_API_KEYS");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let stderr = stderr.map_or_else(Stdio::null, Stdio::from);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the keylens binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout is piped"))
            .read_line(&mut line)
            .expect("the server prints its address");
        let url = line
            .trim()
            .strip_prefix("keylens: listening on ")
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, url }
    }

    /// On any free loopback port, stderr discarded.
    pub fn start(bin: &Path, data: &Path, env: &[(&str, &str)], extra: &[&str]) -> Server {
        Server::start_with(bin, data, "127.0.0.1:0", env, extra, None)
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the text file at `path` (a server's log) contains `needle`; panics with `what`
/// after 20 s.
pub fn wait_for_log(path: &Path, needle: &str, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(path)
        .expect("the log file exists")
        .contains(needle)
    {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// For benchmarks: how many licenses, from `KEYLENS_BENCH_LICENSES` (default 100,000).
pub fn bench_licenses() -> u64 {
    env_number("KEYLENS_BENCH_LICENSES", 100_000)
}

/// A benchmark setting from the environment variable `name`, or `default` when it is unset or
/// not a number.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `cargo test --benches` runs custom-harness benchmarks with `--list`: they have nothing to
/// test, and return at once when this is true.
pub fn listing() -> bool {
    std::env::args().any(|a| a == "--list")
}
