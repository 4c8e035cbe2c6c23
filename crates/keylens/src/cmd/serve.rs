//! `keylens serve`: the HTTP server, on the embedded store or on ClickHouse.

use crate::cli::ServeArgs;
use crate::Exit;
use anyhow::{Context, Result};
use keylens_server::{Config, Keys};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

pub fn run(args: ServeArgs) -> Result<u8> {
    let keys = load_keys(args.keys_file.as_deref())?;
    let keygen_public_key = match &args.keygen_public_key {
        Some(k) => Some(
            keylens_server::keygen::parse_public_key(k)
                .map_err(|m| Exit::usage(format!("--keygen-public-key: {m}")))?,
        ),
        None => None,
    };
    serve(
        Config {
            store: args.data.target(),
            listen: args.listen,
            keys,
            keygen_public_key,
        },
        |_| {},
    )
}

/// Keys from the file and from `KEYLENS_API_KEYS`; a mistake in either is a usage error.
fn load_keys(file: Option<&Path>) -> Result<Keys> {
    let mut keys = match file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the keys file {}", f.display()))?;
            Keys::from_file_text(&text).map_err(Exit::usage)?
        }
        None => Keys::default(),
    };
    if let Ok(spec) = std::env::var("KEYLENS_API_KEYS") {
        keys.add_plain(&spec).map_err(Exit::usage)?;
    }
    Ok(keys)
}

/// Runs the server until SIGINT or SIGTERM. `on_ready` runs once it listens.
pub fn serve(config: Config, on_ready: impl FnOnce(SocketAddr) + Send + 'static) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let ready = move |addr: SocketAddr| {
            // Tests and scripts read this line to learn the port (with --listen ...:0).
            println!("keylens: listening on http://{addr}");
            let _ = std::io::stdout().flush();
            on_ready(addr);
        };
        keylens_server::serve(config, ready, shutdown_signal())
            .await
            .map_err(|e| match e {
                keylens_server::Error::OpenWithoutKeys(_) => Exit::usage(e.to_string()),
                other => anyhow::Error::new(other),
            })
    })?;
    Ok(0)
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
