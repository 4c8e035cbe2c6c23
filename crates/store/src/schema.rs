//! The schema, created and upgraded by the program: each migration runs once, in order, in a
//! transaction, and `schema_version` records the ones applied.

use crate::{Error, Result};
use std::path::Path;

/// The columns of `lifecycle` (schema 11), in its order, named as in `events`: what a re-fold
/// reads, its histories' and its bookings'.
macro_rules! lifecycle_columns {
    () => {
        "license_id, id, type, ts, expires_at, term, product, model, tier, region, channel, \
         account_id, seats, amount, currency, country, version, from_version, reason, code, meter"
    };
}

/// [`lifecycle_columns`]: appends write the `lifecycle` table's columns in this order.
pub(crate) const LIFECYCLE_TABLE: &str = lifecycle_columns!();

/// Statements rewriting each named table in `license_id` order (same rows).
macro_rules! sorted_by_license {
    ($($table:literal),*) => {
        concat!($(
            "CREATE TEMP TABLE sorted AS SELECT * FROM ", $table, " ORDER BY license_id; \
             DELETE FROM ", $table, "; INSERT INTO ", $table, " SELECT * FROM sorted; DROP TABLE sorted;"
        ),*)
    };
}

/// The `events` view (schema 13): `narrow_events` and `wide_events` with the columns `events` had.
/// `events_view!(enums)` is the view of schema 16, which casts `narrow_events`' `ENUM` columns
/// (`type`, `country`, `result`) to text.
macro_rules! events_view {
    () => {
        events_view!(@ narrow_as_events!("type", "country", "result"))
    };
    (enums) => {
        events_view!(@ narrow_as_events!(enums))
    };
    (@ $narrow:expr) => {
        concat!(
            "CREATE VIEW events AS ",
            $narrow,
            " UNION ALL ",
            wide_as_events!(),
            ";"
        )
    };
}

/// `narrow_events` with the columns of `events`, those it lacks NULL; `type`, `country` and
/// `result` as given, or cast from schema 16's `ENUM`s to text (`enums`).
macro_rules! narrow_as_events {
    (enums) => {
        narrow_as_events!(
            "type::VARCHAR AS type",
            "country::VARCHAR AS country",
            "result::VARCHAR AS result"
        )
    };
    ($type:literal, $country:literal, $result:literal) => {
        concat!(
            "SELECT id, id_hash, ",
            $type,
            ", ts, license_id, NULL::VARCHAR AS user_id,
            NULL::VARCHAR AS account_id, NULL::VARCHAR AS product, NULL::VARCHAR AS tier,
            NULL::VARCHAR AS model, NULL::VARCHAR AS region, NULL::VARCHAR AS channel, machine_id,
            version, NULL::VARCHAR AS from_version, ip, ",
            $country,
            ", lat, lon, NULL::DOUBLE AS amount,
            NULL::VARCHAR AS currency, NULL::BIGINT AS seats, NULL::VARCHAR AS term,
            NULL::BIGINT AS expires_at, NULL::VARCHAR AS reason, code, ",
            $result,
            ", latency_ms,
            NULL::DOUBLE AS quantity, NULL::VARCHAR AS meter, NULL::VARCHAR AS properties, source,
            received_at
        FROM narrow_events"
        )
    };
}

/// `wide_events` with the columns of `events`, in its order.
macro_rules! wide_as_events {
    () => {
        "SELECT id, id_hash, type, ts, license_id, user_id, account_id, product, tier, model,
            region, channel, machine_id, version, from_version, ip, country, lat, lon, amount,
            currency, seats, term, expires_at, reason, code, result, latency_ms, quantity, meter,
            properties, source, received_at
        FROM wide_events"
    };
}

/// The `events` view as schemas 13 to 15 created it, with `narrow_events`' columns all text
/// (tests take a store back to those schemas).
#[doc(hidden)]
pub const TEXT_EVENTS_VIEW: &str = events_view!();

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: events and the materialised license fold.
    "CREATE TABLE events (
        id VARCHAR NOT NULL,
        id_hash BIGINT NOT NULL,
        type VARCHAR NOT NULL,
        ts BIGINT NOT NULL,
        license_id VARCHAR,
        user_id VARCHAR,
        account_id VARCHAR,
        product VARCHAR,
        tier VARCHAR,
        model VARCHAR,
        region VARCHAR,
        channel VARCHAR,
        machine_id VARCHAR,
        version VARCHAR,
        from_version VARCHAR,
        ip VARCHAR,
        country VARCHAR,
        lat DOUBLE,
        lon DOUBLE,
        amount DOUBLE,
        currency VARCHAR,
        seats BIGINT,
        term VARCHAR,
        expires_at BIGINT,
        reason VARCHAR,
        code VARCHAR,
        result VARCHAR,
        latency_ms DOUBLE,
        quantity DOUBLE,
        meter VARCHAR,
        properties VARCHAR,
        source VARCHAR,
        received_at BIGINT NOT NULL
    );
    CREATE TABLE dirty (license_id VARCHAR NOT NULL);
    CREATE TABLE licenses (
        license_id VARCHAR NOT NULL,
        created_at BIGINT NOT NULL,
        product VARCHAR,
        model VARCHAR,
        tier VARCHAR,
        region VARCHAR,
        channel VARCHAR,
        account_id VARCHAR,
        seats BIGINT NOT NULL,
        amount DOUBLE,
        currency VARCHAR,
        first_activation_at BIGINT,
        revoked_at BIGINT,
        revoke_churn_at BIGINT,
        first_renewal_at BIGINT,
        first_model_change_at BIGINT,
        first_end_at BIGINT
    );
    CREATE TABLE terms (
        license_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        end_at BIGINT NOT NULL,
        set_at BIGINT NOT NULL,
        prev_end BIGINT,
        base_start BIGINT NOT NULL,
        next_set_at BIGINT,
        amount DOUBLE,
        currency VARCHAR
    );
    CREATE TABLE segments (
        license_id VARCHAR NOT NULL,
        valid_from BIGINT NOT NULL,
        valid_to BIGINT NOT NULL,
        tier VARCHAR,
        model VARCHAR
    );",
    // 2: terms and segments carry their license's attributes, so metric queries read one table
    // where they joined two (ClickHouse 18.16 takes one join per SELECT, equalities only), and a
    // license's segments cover all time (the one before creation too). Everything is re-derived.
    "ALTER TABLE terms ADD COLUMN created_at BIGINT;
    ALTER TABLE terms ADD COLUMN product VARCHAR;
    ALTER TABLE terms ADD COLUMN model VARCHAR;
    ALTER TABLE terms ADD COLUMN tier VARCHAR;
    ALTER TABLE terms ADD COLUMN region VARCHAR;
    ALTER TABLE terms ADD COLUMN channel VARCHAR;
    ALTER TABLE terms ADD COLUMN account_id VARCHAR;
    ALTER TABLE terms ADD COLUMN revoke_churn_at BIGINT;
    ALTER TABLE segments ADD COLUMN created_at BIGINT;
    ALTER TABLE segments ADD COLUMN product VARCHAR;
    ALTER TABLE segments ADD COLUMN region VARCHAR;
    ALTER TABLE segments ADD COLUMN channel VARCHAR;
    ALTER TABLE segments ADD COLUMN account_id VARCHAR;
    ALTER TABLE segments ADD COLUMN first_activation_at BIGINT;
    INSERT INTO dirty SELECT DISTINCT license_id FROM events WHERE license_id IS NOT NULL AND type IN ('license.created', 'license.activated', 'license.upgraded', 'license.renewed', 'license.expired', 'license.revoked');",
    // 3: the booking events joined once with the segment covering each (`s_*`, as
    // `Ctx::event_source` names them), kept by the derivation: `revenue` and the overview read
    // them instead of joining the range's events to segments per query (1M licenses: revenue by
    // model 348-461 -> 104 ms, BENCHMARKS.md). Filled for every license with a booking by
    // re-deriving it.
    "CREATE TABLE bookings (
        license_id VARCHAR NOT NULL,
        ts BIGINT NOT NULL,
        type VARCHAR NOT NULL,
        amount DOUBLE,
        product VARCHAR,
        model VARCHAR,
        tier VARCHAR,
        region VARCHAR,
        channel VARCHAR,
        account_id VARCHAR,
        country VARCHAR,
        version VARCHAR,
        from_version VARCHAR,
        reason VARCHAR,
        code VARCHAR,
        currency VARCHAR,
        meter VARCHAR,
        s_tier VARCHAR,
        s_model VARCHAR,
        s_created_at BIGINT,
        s_product VARCHAR,
        s_region VARCHAR,
        s_channel VARCHAR,
        s_account_id VARCHAR,
        s_first_activation_at BIGINT
    );
    INSERT INTO dirty SELECT DISTINCT license_id FROM events WHERE license_id IS NOT NULL AND type IN ('license.created', 'license.renewed', 'license.upgraded') AND amount IS NOT NULL;",
    // 4: validation calls counted per UTC day, latency and outcome, and each license's latest
    // use with a version, for the events received up to `counted_upto`: `validations` and
    // `versions` without grouping or filters read them instead of scanning the calls
    // (validation_counts.rs, last_uses.rs). Nothing counted yet: the first refresh counts every
    // stored event.
    "CREATE TABLE validation_counts (
        day BIGINT NOT NULL,
        latency_ms DOUBLE,
        invalid BOOLEAN NOT NULL,
        n BIGINT NOT NULL
    );
    CREATE TABLE license_last_use (
        license_id VARCHAR NOT NULL,
        ts BIGINT NOT NULL,
        version VARCHAR NOT NULL
    );
    CREATE TABLE counted_upto (received_at BIGINT NOT NULL);
    INSERT INTO counted_upto VALUES (0);",
    // 5: per license, the distinct machines, IPs, countries and places its events carried
    // (`license_values`) and their counts with its activations and failures (`license_spread`),
    // kept up to the same mark: `misuse` picks its candidates from them (spread.rs). The mark
    // goes back to 0 and the other counts are emptied, so that the first refresh counts every
    // stored event into all of them at once.
    "CREATE TABLE license_values (
        license_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        value VARCHAR NOT NULL
    );
    CREATE TABLE license_spread (
        license_id VARCHAR NOT NULL,
        acts BIGINT NOT NULL,
        fails BIGINT NOT NULL,
        machines BIGINT NOT NULL,
        ips BIGINT NOT NULL,
        countries BIGINT NOT NULL,
        places BIGINT NOT NULL
    );
    DELETE FROM validation_counts;
    DELETE FROM license_last_use;
    UPDATE counted_upto SET received_at = 0;",
    // 6: the spread gets a mark of its own (caught up less often than every 2 s, see
    // validation_counts.rs), starting where the shared one is.
    "CREATE TABLE spread_upto (received_at BIGINT NOT NULL);
    INSERT INTO spread_upto SELECT received_at FROM counted_upto;",
    // 7: validation calls are counted per tier too (the tier of the segment covering each call,
    // else the call's own), so that `validations` by tier reads counts rather than joining the
    // range's calls with `segments` (validation_counts.rs). As in 5, the mark goes back to 0 and
    // the first refresh counts every stored event again, in slices (counting them here, in one
    // statement, peaked at 3.6 GB RSS for the 1M-license benchmark store).
    // `counted_upto.latest_ts`: the latest `ts` of a counted call (retier.rs), read on open.
    "ALTER TABLE validation_counts ADD COLUMN tier VARCHAR;
    ALTER TABLE counted_upto ADD COLUMN latest_ts BIGINT;
    DELETE FROM validation_counts;
    DELETE FROM license_last_use;
    UPDATE counted_upto SET received_at = 0;",
    // 8: what `misuse` reads instead of scanning the range's events (watch.rs): the licenses the
    // default thresholds make candidates, with their spread (`watched`), and their events
    // (`watched_events`); the uses after a license's end (`lapse_uses`, with `lapse_pending` the
    // licenses to check again); copies of the `licenses` and `terms` rows of all those licenses
    // (`followed_licenses`, `followed_terms`). `watched` and the copies are shaped as the
    // tables whose rows they copy (a migration changing those changes these the same way). All
    // kept up to the spread's mark, whose `latest_use` is the latest use checked. The spread
    // goes back to 0 so that the first refresh fills them from every event.
    "CREATE TABLE watched AS SELECT * FROM license_spread LIMIT 0;
    CREATE TABLE watched_events (
        license_id VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        ts BIGINT NOT NULL,
        type VARCHAR NOT NULL,
        machine_id VARCHAR,
        ip VARCHAR,
        country VARCHAR,
        lat DOUBLE,
        lon DOUBLE
    );
    CREATE TABLE lapse_uses (
        license_id VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        ts BIGINT NOT NULL
    );
    CREATE TABLE lapse_pending (license_id VARCHAR NOT NULL);
    CREATE TABLE followed_licenses AS SELECT * FROM licenses LIMIT 0;
    CREATE TABLE followed_terms AS SELECT * FROM terms LIMIT 0;
    ALTER TABLE spread_upto ADD COLUMN latest_use BIGINT;
    DELETE FROM license_values;
    DELETE FROM license_spread;
    UPDATE spread_upto SET received_at = 0, latest_use = NULL;",
    // 9: watched licenses whose events are still being copied into `watched_events`, with how
    // far (`received_at`): a server copies them a step per catch-up rather than in one scan of
    // every event (watch.rs, `copy_watched_events`); `misuse` reads theirs from `events`.
    "CREATE TABLE watch_copying (license_id VARCHAR NOT NULL, copied_upto BIGINT NOT NULL);",
    // 10: the derived tables rewritten in `license_id` order, as re-folds now write them
    // (derive.rs): a re-fold of a few licenses then reads the few row groups whose min/max
    // cover them, where it read every row of tables of 1M-2M rows (BENCHMARKS.md, "Session 17").
    sorted_by_license!("licenses", "terms", "segments", "bookings"),
    // 11: the lifecycle events again, in a table of their own with the columns a re-fold reads
    // ([`LIFECYCLE_TABLE`]), which every append writes beside `events`. Re-folds read
    // histories and bookings from it: from `events` each re-fold also scanned every row
    // appended since the import in time order (a server's validation calls), a cost growing
    // with the server's uptime (BENCHMARKS.md, "Session 17"). Filled sorted by license.
    concat!(
        "CREATE TABLE lifecycle AS SELECT ",
        lifecycle_columns!(),
        " FROM events WHERE license_id IS NOT NULL AND type IN ('license.created', \
         'license.activated', 'license.upgraded', 'license.renewed', 'license.expired', \
         'license.revoked') ORDER BY license_id, ts;"
    ),
    // 12: each `license_values` row's digest (`keylens_query::metrics::VALUE_HASH`), which a
    // catch-up compares instead of the three strings when it drops the values a license already
    // has (spread.rs). Filled when the store opens (`spread::check_value_digests`), which also
    // fills it again should another DuckDB hash differently.
    "ALTER TABLE license_values ADD COLUMN IF NOT EXISTS h UBIGINT;",
    // 13: the events whose fields all fit [`NARROW_COLUMNS`] (validation calls and activations,
    // 90% of the benchmark's stream) stored in a table of those columns alone,
    // `narrow_events`; the others, and every event stored before, in the table that was
    // `events`, now `wide_events`; `events` is the view of both, with the columns it had.
    // DuckDB compresses and writes each column of a row group at commit, mostly null ones too:
    // half the columns for nine rows in ten took its part of an import from 2.46-2.63 to
    // 1.99-2.16 us an event (`scripts/duckdb-column-cost.py`, BENCHMARKS.md "Session 21"). A
    // store written before keeps its rows where they are.
    concat!(
        "ALTER TABLE events RENAME TO wide_events;
    CREATE TABLE narrow_events (
        id VARCHAR NOT NULL,
        id_hash BIGINT NOT NULL,
        type VARCHAR NOT NULL,
        ts BIGINT NOT NULL,
        license_id VARCHAR,
        machine_id VARCHAR,
        version VARCHAR,
        ip VARCHAR,
        country VARCHAR,
        lat DOUBLE,
        lon DOUBLE,
        code VARCHAR,
        result VARCHAR,
        latency_ms DOUBLE,
        source VARCHAR,
        received_at BIGINT NOT NULL
    );
    ",
    events_view!()
    ),
    // 14: `narrow_events` with the compression of its columns whose choice is known in advance,
    // so DuckDB does not analyse the others for every row group it writes: `id` (unique by
    // contract: a dictionary never pays) and `code` FSST, which DuckDB picks for them anyway;
    // the columns of few values by nature (types, versions, countries, results, sources) a
    // dictionary, which it picks too. Same methods, same file size, 10-17% less of DuckDB's time
    // writing an import's row groups (`scripts/duckdb-column-cost.py STORE forced`, BENCHMARKS.md
    // "Session 23"). The columns whose number of values grows with the customer base
    // (`license_id`, `machine_id`, `ip`) and the numbers keep DuckDB's choice. A store written
    // before has its `narrow_events` rows copied into the new table once, in their order. FSST
    // and the dictionary are methods of the storage format DuckDB writes a file in by default;
    // should an upgrade of DuckDB write another, where they are not offered, it would store these
    // columns uncompressed: `narrow_events_columns_keep_the_compression_set_for_them` fails then.
    concat!(
        "CREATE TABLE narrow_events_compressed (
        id VARCHAR NOT NULL USING COMPRESSION fsst,
        id_hash BIGINT NOT NULL,
        type VARCHAR NOT NULL USING COMPRESSION dictionary,
        ts BIGINT NOT NULL,
        license_id VARCHAR,
        machine_id VARCHAR,
        version VARCHAR USING COMPRESSION dictionary,
        ip VARCHAR,
        country VARCHAR USING COMPRESSION dictionary,
        lat DOUBLE,
        lon DOUBLE,
        code VARCHAR USING COMPRESSION fsst,
        result VARCHAR USING COMPRESSION dictionary,
        latency_ms DOUBLE,
        source VARCHAR USING COMPRESSION dictionary,
        received_at BIGINT NOT NULL
    );
    INSERT INTO narrow_events_compressed SELECT * FROM narrow_events;
    DROP VIEW events;
    DROP TABLE narrow_events;
    ALTER TABLE narrow_events_compressed RENAME TO narrow_events;
    ",
        events_view!()
    ),
    // 15: `license_values` keeps each value's digest alone (`h`, `keylens_query::metrics::
    // VALUE_HASH`), the only column a statement read: a catch-up drops the values a license
    // already has by digest, and `misuse` too. Writing the license, kind and text of 3.8M values
    // was 2.1-2.3 s of an import's spread catch-up at 1M licenses (BENCHMARKS.md, "Session
    // 31"). The digests are computed here from the values (those schema 12 left empty too);
    // `value_hash_probe` holds this DuckDB's digest of a fixed value (`spread::DIGEST_PROBE`),
    // by which a store opened by a DuckDB that hashes differently finds its digests stale and
    // computes them again from the events (`spread::check_value_digests`).
    "CREATE TABLE license_digests AS SELECT hash(license_id, kind, value) AS h FROM license_values;
    DROP TABLE license_values;
    ALTER TABLE license_digests RENAME TO license_values;
    CREATE TABLE value_hash_probe (h UBIGINT NOT NULL);
    INSERT INTO value_hash_probe SELECT hash('L-probe', 'ip', '192.0.2.1');",
    // 16: `narrow_events`' `type`, `country` and `result` as `ENUM`s: the contract's types, a
    // validation's `valid` or `invalid`, and every two capital letters (what validation lets
    // through as a country). DuckDB has no constant method for text and hashes every value of a
    // text column, even one of a few values, where it casts a value to an `ENUM` and stores the
    // codes as numbers: a third of the text column's writing (`scripts/duckdb-enum-type.py`), and
    // the 1M import's appends 61-64 s against 65-72 (BENCHMARKS.md, "Session 32"). A type filter
    // through the view, which casts them back to text, scanned in a third of the time too: a
    // text column's statistics keep 8 bytes, and every type begins `license.`. Events with
    // other values (a custom type, another `result`) are stored in `wide_events`
    // (`append::is_narrow`); a store written before has those moved there and the others copied
    // into the new table once, in their order.
    concat!(
        "CREATE TYPE event_type AS ENUM ('license.created', 'license.assigned',
        'license.activated', 'license.activation_failed', 'license.deactivated',
        'license.validated', 'license.upgraded', 'license.renewed', 'license.expired',
        'license.suspended', 'license.reinstated', 'license.revoked', 'license.usage');
    CREATE TYPE call_result AS ENUM ('valid', 'invalid');
    CREATE TYPE country_code AS ENUM (
        SELECT chr(CAST(65 + a AS INTEGER)) || chr(CAST(65 + b AS INTEGER))
        FROM range(26) x(a), range(26) y(b) ORDER BY 1);
    CREATE TABLE narrow_events_typed (
        id VARCHAR NOT NULL USING COMPRESSION fsst,
        id_hash BIGINT NOT NULL,
        type event_type NOT NULL,
        ts BIGINT NOT NULL,
        license_id VARCHAR,
        machine_id VARCHAR,
        version VARCHAR USING COMPRESSION dictionary,
        ip VARCHAR,
        country country_code,
        lat DOUBLE,
        lon DOUBLE,
        code VARCHAR USING COMPRESSION fsst,
        result call_result,
        latency_ms DOUBLE,
        source VARCHAR USING COMPRESSION dictionary,
        received_at BIGINT NOT NULL
    );
    INSERT INTO wide_events BY NAME SELECT * FROM narrow_events
        WHERE type NOT IN (SELECT unnest(enum_range(NULL::event_type))::VARCHAR)
           OR result NOT IN ('valid', 'invalid')
           OR NOT regexp_full_match(country, '[A-Z][A-Z]');
    INSERT INTO narrow_events_typed SELECT * FROM narrow_events
        WHERE type IN (SELECT unnest(enum_range(NULL::event_type))::VARCHAR)
          AND (result IS NULL OR result IN ('valid', 'invalid'))
          AND (country IS NULL OR regexp_full_match(country, '[A-Z][A-Z]'));
    DROP VIEW events;
    DROP TABLE narrow_events;
    ALTER TABLE narrow_events_typed RENAME TO narrow_events;
    ",
        events_view!(enums)
    ),
    // 17: `events_of(t)`, the rows of `events` whose `type` is `t`, each table filtered on its
    // own column before the view's cast. `narrow_events`' `type` is an `ENUM` (schema 16), and
    // a filter on the view's text cast of it reads every row group's `type`, where a filter on
    // the `ENUM` itself lets DuckDB skip the row groups whose statistics exclude it: at 1M
    // licenses, counting the 264,812 `license.renewed` events of 90 days (none of them narrow)
    // took 52-54 ms through the view and 14-17 ms this way, the difference the 28.9M narrow
    // rows' scan (BENCHMARKS.md, "Session 39"). A type the `ENUM` lacks (a custom one) casts to
    // NULL and selects no narrow row; `wide_events`' `type` is text. The metrics read it
    // (`keylens_query::Kept::events_of`).
    concat!(
        "CREATE OR REPLACE MACRO events_of(t) AS TABLE ",
        narrow_as_events!(enums),
        " WHERE type = TRY_CAST(t AS event_type) UNION ALL ",
        wide_as_events!(),
        " WHERE type = t;"
    ),
];

/// The columns of `narrow_events` (schema 13), in its order: an event is stored there when it
/// has no value outside them.
pub(crate) const NARROW_COLUMNS: &[&str] = &[
    "id",
    "id_hash",
    "type",
    "ts",
    "license_id",
    "machine_id",
    "version",
    "ip",
    "country",
    "lat",
    "lon",
    "code",
    "result",
    "latency_ms",
    "source",
    "received_at",
];

pub(crate) fn migrate(conn: &duckdb::Connection, path: &Path) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")?;
    let current: i64 = conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(Error::TooNew {
            path: path.to_path_buf(),
            found: current,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        tracing::info!(version, "applying schema migration");
        conn.execute_batch(&format!(
            "BEGIN TRANSACTION; {sql}; INSERT INTO schema_version (version) VALUES ({version}); COMMIT;"
        ))?;
    }
    Ok(())
}
