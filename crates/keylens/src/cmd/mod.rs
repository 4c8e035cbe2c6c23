//! One module per subcommand.

mod demo;
mod export;
mod generate;
mod import;
mod license;
mod query;
mod serve;

use crate::cli::DataDir;
use crate::cli::{Cli, Command};
use crate::Exit;
use anyhow::Result;
use keylens_backend::{Store, Target};

pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Import {
            data,
            files,
            format,
            map,
        } => import::run(&data.target(), &files, format, &map),
        Command::Query(args) => query::run(*args),
        Command::License {
            id,
            data,
            as_of,
            grace,
            limit,
        } => license::run(&data, &id, as_of, &grace, limit),
        Command::Generate(args) => generate::run(&args),
        Command::Demo { gen, data, listen } => demo::run(&gen, data, listen),
        Command::Serve(args) => serve::run(args),
        Command::Export(args) => export::run(args),
    }
}

/// Opens an existing store for reading commands: a missing data directory is an error, not a new
/// empty store. (A ClickHouse database is created on first use, empty.)
pub(crate) fn open_existing(data: &DataDir) -> Result<Store> {
    let target = data.target();
    if let Target::Dir(dir) = &target {
        if !dir.join(keylens_store::DB_FILE).exists() {
            return Err(Exit::failed(format!(
                "no keylens store in {}; import events first (keylens import --data {} FILE) or pass --data",
                dir.display(),
                dir.display()
            )));
        }
    }
    Ok(Store::open(&target)?)
}

/// Parses an instant flag, as a usage error naming the flag when it is bad.
pub(crate) fn instant(flag: &str, v: &str) -> Result<i64> {
    keylens_event::time::parse_instant(v).map_err(|m| Exit::usage(format!("--{flag}: {m}")))
}
