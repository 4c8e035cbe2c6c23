//! The command line, as `docs/cli.md` documents it. Every flag documents itself in `--help`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "keylens",
    version,
    about = "License lifecycle analytics: ingest events, derive licenses, query metrics."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Data directory of the embedded store (created if missing).
    #[arg(long, env = "KEYLENS_DATA", default_value = "./keylens-data")]
    pub data: PathBuf,
    /// Use ClickHouse instead of the data directory:
    /// clickhouse://[user[:password]@]host:port/database (the HTTP port), or for a sharded
    /// cluster clickhouse://host:port,host:port/database?cluster=NAME with one server per shard.
    #[arg(long, env = "KEYLENS_STORE", value_name = "URL")]
    pub store: Option<String>,
}

impl DataDir {
    pub fn target(&self) -> keylens_backend::Target {
        keylens_backend::Target::new(&self.data, self.store.as_deref())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest NDJSON or JSON files ('-' = stdin). Prints {"accepted","duplicates","rejected"} as
    /// JSON; exits 1 if any event was rejected, after storing the good ones.
    Import {
        #[command(flatten)]
        data: DataDir,
        /// Files to read: NDJSON (one event per line), a JSON array of events, one event, or CSV.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Input format: json (NDJSON, an array or one event) or csv (a header row naming event
        /// fields); auto picks csv for files ending in .csv.
        #[arg(long, value_enum, default_value = "auto")]
        format: InputFormat,
        /// CSV: read column COLUMN as the event field FIELD (repeatable), e.g. --map key=license_id.
        #[arg(long = "map", value_name = "COLUMN=FIELD")]
        map: Vec<String>,
    },
    /// Answer one metric of the catalog (see docs/metrics.md).
    Query(Box<QueryArgs>),
    /// One license's derived state and its event timeline.
    License {
        /// The license id.
        id: String,
        #[command(flatten)]
        data: DataDir,
        /// Derive the state as of this instant (RFC 3339 or YYYY-MM-DD); default now.
        #[arg(long)]
        as_of: Option<String>,
        /// How long a lapsed term may still be renewed in time (ISO 8601 duration).
        #[arg(long, default_value = "P30D")]
        grace: String,
        /// Most timeline events to show.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Write a realistic synthetic event stream as NDJSON to stdout (deterministic per seed and end).
    Generate(GenerateArgs),
    /// Generate a realistic data set into a fresh store, print the headline metrics, then serve
    /// it (API and live page) while a small feed keeps adding events.
    Demo {
        #[command(flatten)]
        gen: GenerateArgs,
        /// Where to create the demo store (must not hold a store yet); default a new temporary directory.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Address to serve the demo on (loopback).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Run the server: ingest API, query API, live stream and page (see docs/http.md).
    Serve(ServeArgs),
    /// Export the stored events or the derived licenses for a warehouse.
    Export(ExportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Number of licenses to simulate.
    #[arg(long, default_value_t = 5000)]
    pub licenses: u64,
    /// Random seed: the same seed (and end) gives the same stream.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Licenses are created over the this many days before the end.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Last instant of the stream (RFC 3339 or YYYY-MM-DD); default the start of the current UTC hour.
    #[arg(long)]
    pub end: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    Auto,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Json,
    Table,
    Csv,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The metric, e.g. activation_rate, churn, revenue (an unknown name lists them all).
    pub metric: String,
    #[command(flatten)]
    pub data: DataDir,
    /// Start of the half-open interval [from, to) (RFC 3339 or YYYY-MM-DD); default 90 days before 'to'.
    #[arg(long)]
    pub from: Option<String>,
    /// End of the interval, excluded; default as-of.
    #[arg(long)]
    pub to: Option<String>,
    /// Ignore events after this instant; default now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Group by these dimensions, comma separated (e.g. tier,region).
    #[arg(long)]
    pub by: Option<String>,
    /// Filter DIM=V1,V2 (any of the values); repeat for several filters (they combine with AND).
    #[arg(long = "where", value_name = "DIM=V1,V2")]
    pub filters: Vec<String>,
    /// Series bucket: day, week (ISO, Monday 00:00 UTC) or month.
    #[arg(long)]
    pub bucket: Option<String>,
    /// How long a lapsed term may still be renewed in time (ISO 8601 duration); default P30D.
    #[arg(long)]
    pub grace: Option<String>,
    /// Window for windowed rates (ISO 8601 duration), e.g. P7D: activated within 7 days.
    #[arg(long)]
    pub window: Option<String>,
    /// expiring: list only the first N licenses (the summary's total counts them all).
    #[arg(long, value_name = "N")]
    pub limit: Option<String>,
    /// Output format; json prints exactly the HTTP answer body.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// compare: the metric to compare (activation_rate, renewal_rate, trial_conversion_rate, survival).
    #[arg(long = "metric", value_name = "METRIC")]
    pub compared: Option<String>,
    /// compare: segment a as where-filters joined by ';', e.g. 'tier=pro;region=EU'.
    #[arg(long)]
    pub a: Option<String>,
    /// compare: segment b, same syntax as --a.
    #[arg(long)]
    pub b: Option<String>,
    /// compare: significance level (default 0.05).
    #[arg(long)]
    pub alpha: Option<String>,
    /// misuse: distinct machines above this many times the seats fire machine_cycling (default 3).
    #[arg(long)]
    pub machine_cycling_factor: Option<String>,
    /// misuse: ip_spread fires above factor x seats + extra distinct IPs in a window (default 2).
    #[arg(long)]
    pub ip_spread_factor: Option<String>,
    /// misuse: the extra of ip_spread (default 2).
    #[arg(long)]
    pub ip_spread_extra: Option<String>,
    /// misuse: the window of ip_spread, ISO 8601 (default P2D).
    #[arg(long)]
    pub ip_spread_window: Option<String>,
    /// misuse: country_spread fires above this many distinct countries (default 2).
    #[arg(long)]
    pub country_spread_max: Option<String>,
    /// misuse: impossible_travel speed limit in km/h (default 1000).
    #[arg(long)]
    pub travel_speed_kmh: Option<String>,
    /// misuse: impossible_travel ignores hops shorter than this many km (default 100).
    #[arg(long)]
    pub travel_min_km: Option<String>,
    /// misuse: failure_burst fires at this many failed activations in the window (default 5).
    #[arg(long)]
    pub failure_burst_count: Option<String>,
    /// misuse: the window of failure_burst, ISO 8601 (default PT1H).
    #[arg(long)]
    pub failure_burst_window: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Address to listen on. Listening beyond loopback requires keys.
    #[arg(long, env = "KEYLENS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// JSON file of hashed keys: {"keys": [{"name": "...", "scopes": ["ingest"|"read"|"admin"], "sha256": "<hex>"}]}.
    /// Keys may also come from KEYLENS_API_KEYS as scope+scope:secret items, comma separated.
    #[arg(long, env = "KEYLENS_KEYS_FILE")]
    pub keys_file: Option<PathBuf>,
    /// Your Keygen account's Ed25519 public key (64 hex digits): turns on POST
    /// /v1/webhooks/keygen, which accepts only webhooks signed with it.
    #[arg(long, env = "KEYLENS_KEYGEN_PUBLIC_KEY")]
    pub keygen_public_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportWhat {
    /// Every stored event, as contract fields (re-importable).
    Events,
    /// One row per created license: attributes and state as of --as-of.
    Licenses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Ndjson,
    Csv,
    /// Written by DuckDB's own Parquet writer; needs --out.
    Parquet,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// What to export.
    #[arg(long, value_enum)]
    pub what: ExportWhat,
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: ExportFormat,
    /// Events: only those at or after this instant (default: all).
    #[arg(long)]
    pub from: Option<String>,
    /// Events: only those before this instant (default: all).
    #[arg(long)]
    pub to: Option<String>,
    /// Licenses: their state as of this instant (default now).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Licenses: renewal grace (ISO 8601 duration, default P30D).
    #[arg(long)]
    pub grace: Option<String>,
    /// Write to this file instead of stdout (required for parquet).
    #[arg(long)]
    pub out: Option<PathBuf>,
}
