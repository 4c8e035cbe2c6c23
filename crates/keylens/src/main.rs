//! `keylens`: license lifecycle analytics. A thin command line over the library crates:
//! `keylens-event` (contract), `keylens-store` (embedded store), `keylens-lifecycle` (fold),
//! `keylens-query` (metrics), `keylens-generate` (synthetic data).

mod alloc;
mod cli;
mod cmd;

use clap::Parser;
use std::process::ExitCode;

/// Exit status for a request that was understood but failed (bad events, unknown metric).
pub const EXIT_FAILED: u8 = 1;
/// Exit status for a usage error.
pub const EXIT_USAGE: u8 = 2;

/// An error that carries its exit status.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn failed(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Exit {
            code: EXIT_FAILED,
            message: message.into(),
        })
    }
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Exit {
            code: EXIT_USAGE,
            message: message.into(),
        })
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// The reader of our standard output stopped reading (`keylens query ... | head`): nothing is
/// wrong, and nothing more is wanted. Only [`write_stdout`] gives it: a broken pipe elsewhere (a
/// ClickHouse connection) is a failure.
#[derive(Debug)]
pub struct OutputClosed;

impl std::fmt::Display for OutputClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the reader of the output stopped reading")
    }
}

impl std::error::Error for OutputClosed {}

/// Writes `bytes` to standard output, all of them or an error (`print!` would panic).
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(OutputClosed.into()),
        other => Ok(other?),
    }
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYLENS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is::<OutputClosed>() => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.downcast_ref::<Exit>().map_or(EXIT_FAILED, |x| x.code);
            // One line a person can act on: the error and its causes, joined.
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("keylens: {}", msg.join(": "));
            ExitCode::from(code)
        }
    }
}
