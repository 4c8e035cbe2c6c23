#!/usr/bin/env python3
"""Times statements of the writer's catch-ups against each other on a copy of a store.

Usage: scripts/catch-up-statements.py COPY_OF_STORE.duckdb [RUNS]

Needs DuckDB's Python package at the version keylens links (1.5.6: `pip install duckdb==1.5.6`).
Works on a copy (it rolls the kept tables' changes back and drops the two tables it builds, but
writes the file): e.g. `cp $CARGO_TARGET_DIR/bench-store-1000000/keylens.duckdb /tmp/copy.duckdb`.

What it times, each inside a transaction it rolls back (so every run starts from the same
table), alternating the variants:

- folding a tail of later uses (50,000 licenses the table holds, 1,000 new ones) into
  `license_last_use`: session 15's statements (merge the kept rows with the tail into a new
  table, find which licenses the table holds, update those, append the others) against one
  `MERGE INTO` updating only where the tail's use is later (session 16, in_place.rs).

- excluding the values a license already has from a tail's distinct (license, kind, value)
  triples (200,000 validations of 150,000 licenses, each with its latest machine, IP, country
  and place): the strings compared against all of `license_values` (what the spread catch-up
  does) against an md5 digest of each triple kept in a column (measured in session 16, not
  kept: no faster). Both must find the same number of new values.
- the same exclusion by each value's 64-bit digest (`hash(license_id, kind, value)`, kept in
  `license_values.h` since session 18): the tail's digests probing the kept ones (what the
  catch-up does now), and digests alone made distinct with the strings read again for the new
  values only (measured in session 18, not kept). Also an import's first catch-up: a tail of
  about 3.3M stored events against no kept values, every value new, both digest forms.
- reading 20 licenses' histories (their lifecycle events) from `events` against a table of the
  lifecycle events alone (as ClickHouse keeps one; measured in session 16, not kept).

- a commit's re-fold of one or two licenses taking their rows, the ids in a subquery or as
  literals (session 18).
- finding 20 licenses' rows in `licenses`, `terms` and `segments` (what each statement of a
  re-fold does), without and with an ART index on `license_id` (built, timed, dropped; measured
  in session 16, not built into the store yet). Every delete is rolled back.

Every variant must leave the same table, or find the same rows (printed beside each time).
"""

import sys
import time

import duckdb

SESSION_15 = """
CREATE TEMP TABLE last_new AS SELECT license_id, max(ts) AS ts, arg_max(version, ts) AS version FROM (
  SELECT license_id, ts, version FROM license_last_use WHERE license_id IN (SELECT license_id FROM last_tail)
  UNION ALL SELECT license_id, ts, version FROM last_tail) GROUP BY license_id;
CREATE OR REPLACE TEMP TABLE replaced_kept AS
  SELECT license_id FROM license_last_use WHERE license_id IN (SELECT license_id FROM last_new);
UPDATE license_last_use t SET ts = s.ts, version = s.version FROM last_new s WHERE t.license_id = s.license_id;
INSERT INTO license_last_use (license_id, ts, version) SELECT license_id, ts, version FROM last_new
  WHERE license_id NOT IN (SELECT license_id FROM replaced_kept);
DROP TABLE replaced_kept;
DROP TABLE last_new;
"""

MERGE = """
MERGE INTO license_last_use t USING last_tail s ON t.license_id = s.license_id
  WHEN MATCHED AND (s.ts > t.ts) THEN UPDATE SET ts = s.ts, version = s.version
  WHEN NOT MATCHED THEN INSERT (license_id, ts, version) VALUES (s.license_id, s.ts, s.version);
"""


HASHED = "s18_values_hashed"

DIGEST = "md5_number(CAST(length(license_id) AS VARCHAR) || ':' || license_id || kind || ':' || value)"

TAIL_VALUES = """SELECT DISTINCT license_id, kind, value FROM (
  SELECT license_id, 'ip' AS kind, ip AS value FROM tail WHERE ip IS NOT NULL UNION ALL
  SELECT license_id, 'country' AS kind, country AS value FROM tail WHERE country IS NOT NULL UNION ALL
  SELECT license_id, 'place' AS kind, CAST(lat AS VARCHAR) || ',' || CAST(lon AS VARCHAR) AS value
    FROM tail WHERE lat IS NOT NULL AND lon IS NOT NULL) v"""

def tail_parts(tail, columns):
    """The parts of TAIL_VALUES over `tail`, each selecting `columns`, joined by UNION ALL."""
    part = lambda kind, value, has: (
        f"SELECT {columns.format(kind=kind, value=value)} FROM {tail} WHERE {has}"
    )
    return " UNION ALL ".join(
        [
            part("ip", "ip", "ip IS NOT NULL"),
            part("country", "country", "country IS NOT NULL"),
            part(
                "place",
                "CAST(lat AS VARCHAR) || ',' || CAST(lon AS VARCHAR)",
                "lat IS NOT NULL AND lon IS NOT NULL",
            ),
        ]
    )


def digest_exclusions(tail, kept):
    """The two digest forms over `tail` (a relation with the event columns) and `kept` (a table
    of license_id, kind, value, h)."""
    strings = "license_id, '{kind}' AS kind, {value} AS value"
    hashed = "license_id, '{kind}' AS kind, {value} AS value, hash(license_id, '{kind}', {value}) AS h"
    only = "hash(license_id, '{kind}', {value}) AS h"
    probe = (
        f"NOT EXISTS (SELECT 1 FROM (SELECT v.h FROM {kept} v WHERE v.h IN "
        "(SELECT h FROM spread_tail)) k WHERE k.h = t.h)"
    )
    return [
        (
            "digest probe",
            [
                "CREATE TEMP TABLE spread_tail AS SELECT *, hash(license_id, kind, value) AS h "
                f"FROM (SELECT DISTINCT * FROM ({tail_parts(tail, strings)}))",
                f"CREATE TEMP TABLE spread_new AS SELECT t.* FROM spread_tail t WHERE {probe}",
            ],
        ),
        (
            "digests only",
            [
                f"CREATE TEMP TABLE spread_tail AS SELECT DISTINCT h FROM ({tail_parts(tail, only)})",
                "CREATE TEMP TABLE spread_new AS SELECT DISTINCT license_id, kind, value, h FROM "
                f"({tail_parts(tail, hashed)}) WHERE h IN (SELECT t.h FROM spread_tail t WHERE {probe})",
            ],
        ),
    ]


EXCLUSIONS = [
    (
        "strings",
        [
            f"CREATE TEMP TABLE spread_tail AS {TAIL_VALUES}",
            "CREATE TEMP TABLE spread_new AS SELECT t.* FROM spread_tail t WHERE NOT EXISTS ("
            "SELECT 1 FROM license_values v WHERE v.license_id = t.license_id AND v.kind = t.kind "
            "AND v.value = t.value)",
        ],
    ),
    (
        "md5 digest",
        [
            f"CREATE TEMP TABLE spread_tail AS SELECT *, {DIGEST} AS digest FROM ({TAIL_VALUES})",
            "CREATE TEMP TABLE spread_new AS SELECT t.* FROM spread_tail t WHERE NOT EXISTS ("
            "SELECT 1 FROM s16_values_digested v WHERE v.digest = t.digest)",
        ],
    ),
]

LIFECYCLE = (
    "('license.created', 'license.activated', 'license.upgraded', 'license.renewed', "
    "'license.expired', 'license.revoked')"
)


def timed(con, sql):
    started = time.perf_counter()
    con.execute(sql)
    return (time.perf_counter() - started) * 1000


def exclusions(con, runs):
    started = time.perf_counter()
    con.execute(
        "CREATE OR REPLACE TABLE s16_values_digested AS SELECT license_id, kind, value, "
        f"{DIGEST} AS digest FROM license_values; CHECKPOINT"
    )
    print(f"digests of license_values: {time.perf_counter() - started:.2f} s")
    con.execute(
        "CREATE TEMP TABLE tail AS SELECT license_id, machine_id, ip, country, lat, lon FROM ("
        "SELECT license_id, arg_max(machine_id, ts) AS machine_id, arg_max(ip, ts) AS ip, "
        "arg_max(country, ts) AS country, arg_max(lat, ts) AS lat, arg_max(lon, ts) AS lon "
        "FROM events WHERE type = 'license.validated' AND result = 'valid' GROUP BY license_id) "
        "USING SAMPLE 150000 ROWS (reservoir, 5)"
    )
    con.execute("INSERT INTO tail SELECT * FROM tail USING SAMPLE 50000 ROWS (reservoir, 6)")
    con.execute(
        f"CREATE OR REPLACE TABLE {HASHED} AS SELECT license_id, kind, value, "
        "hash(license_id, kind, value) AS h FROM license_values; CHECKPOINT"
    )
    for name, statements in (EXCLUSIONS + digest_exclusions("tail", HASHED)) * runs:
        ms = [timed(con, sql) for sql in statements]
        new = con.execute("SELECT count(*) FROM spread_new").fetchone()[0]
        con.execute("DROP TABLE spread_tail; DROP TABLE spread_new")
        print(f"{name:>10}: tail values {ms[0]:6.1f} ms, exclusion {ms[1]:6.1f} ms ({new} new)")


def first_catch_up(con, runs):
    """An import's first catch-up: about 3.3M stored events, no kept value."""
    bound = con.execute(
        "SELECT received_at FROM (SELECT received_at, sum(count(*)) OVER (ORDER BY received_at) "
        "AS c FROM events GROUP BY received_at) WHERE c >= 3200000 ORDER BY c LIMIT 1"
    ).fetchone()[0]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE nothing_kept "
        "(license_id VARCHAR, kind VARCHAR, value VARCHAR, h UBIGINT)"
    )
    tail = f"(SELECT * FROM events WHERE received_at <= {bound} AND license_id IS NOT NULL)"
    for name, statements in digest_exclusions(tail, "nothing_kept") * runs:
        ms = [timed(con, sql) for sql in statements]
        new = con.execute("SELECT count(*) FROM spread_new").fetchone()[0]
        con.execute("DROP TABLE spread_tail; DROP TABLE spread_new")
        print(f"first catch-up, {name:>12}: tail values {ms[0]:6.1f} ms, exclusion {ms[1]:6.1f} ms ({new} new)")


def histories(con, runs):
    started = time.perf_counter()
    con.execute(
        f"CREATE OR REPLACE TABLE s16_lifecycle AS SELECT * FROM events WHERE type IN {LIFECYCLE}; "
        "CHECKPOINT"
    )
    print(f"lifecycle events copied: {time.perf_counter() - started:.2f} s")
    con.execute(
        "CREATE TEMP TABLE todo AS SELECT license_id FROM licenses "
        "USING SAMPLE 20 ROWS (reservoir, 9)"
    )
    columns = "license_id, id, type, ts, expires_at, term, product, model, tier, amount, currency"
    for table in ["events", "s16_lifecycle"] * runs:
        sql = (
            f"SELECT {columns} FROM {table} WHERE license_id IN (SELECT license_id FROM todo) "
            f"AND type IN {LIFECYCLE} ORDER BY license_id"
        )
        started = time.perf_counter()
        rows = len(con.execute(sql).fetchall())
        ms = (time.perf_counter() - started) * 1000
        print(f"{table:>10}: 20 licenses' histories {ms:6.1f} ms ({rows} events)")


def lookups(con, runs):
    con.execute(
        "CREATE OR REPLACE TEMP TABLE todo AS SELECT license_id FROM licenses "
        "USING SAMPLE 20 ROWS (reservoir, 13)"
    )
    ids = "(SELECT license_id FROM todo)"
    for table in ["licenses", "terms", "segments"]:
        for indexed in [False, True]:
            if indexed:
                started = time.perf_counter()
                con.execute(f"CREATE INDEX s16_{table}_license ON {table} (license_id)")
                print(f"{table}: index built in {time.perf_counter() - started:.2f} s")
            for _ in range(runs):
                con.execute("BEGIN TRANSACTION")
                deleted_ms = timed(con, f"DELETE FROM {table} WHERE license_id IN {ids}")
                con.execute("ROLLBACK")
                started = time.perf_counter()
                rows = len(con.execute(f"SELECT * FROM {table} WHERE license_id IN {ids}").fetchall())
                read_ms = (time.perf_counter() - started) * 1000
                label = f"{table}{', indexed' if indexed else ''}"
                print(f"{label:>20}: delete {deleted_ms:6.1f} ms, read {read_ms:6.1f} ms ({rows} rows)")
        con.execute(f"DROP INDEX s16_{table}_license")


def few_rows(con, runs):
    """A commit's re-fold of one or two licenses: their rows taken (`DELETE ... RETURNING`,
    rolled back) with the ids in a subquery (before session 18) or as literals (since)."""
    ids = [r[0] for r in con.execute(
        "SELECT license_id FROM licenses USING SAMPLE 40 ROWS (reservoir, 3)").fetchall()]
    times = {}
    for n in range(runs * 5):
        for k in (1, 2):
            some = ids[(2 * n) % 40:(2 * n) % 40 + k]
            con.execute("CREATE OR REPLACE TEMP TABLE todo AS SELECT unnest(?::VARCHAR[]) AS license_id", [some])
            literals = ", ".join(f"'{i}'" for i in some)
            for table in ["licenses", "terms", "segments", "bookings"]:
                for name, within in [("subquery", "(SELECT license_id FROM todo)"), ("literals", f"({literals})")]:
                    con.execute("BEGIN TRANSACTION")
                    ms = timed(con, f"DELETE FROM {table} WHERE license_id IN {within} RETURNING license_id")
                    con.execute("ROLLBACK")
                    times.setdefault((k, table, name), []).append(ms)
    for (k, table, name), ms in sorted(times.items()):
        ms.sort()
        print(f"{k} license(s), {table:>9}, ids as a {name:>8}: median {ms[len(ms) // 2]:5.2f} ms")


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    con = duckdb.connect(sys.argv[1])
    con.execute("SET threads = 2")
    con.execute(
        "CREATE TEMP TABLE last_tail AS SELECT license_id, ts + 1000000 AS ts, version "
        "FROM license_last_use USING SAMPLE 50000 ROWS (reservoir, 7)"
    )
    con.execute(
        "INSERT INTO last_tail SELECT 'NEW-' || i, 4102444800000000, '9.9' FROM range(1000) r(i)"
    )
    for name, sql in [("session 15", SESSION_15), ("merge", MERGE)] * runs:
        con.execute("BEGIN TRANSACTION")
        started = time.perf_counter()
        con.execute(sql)
        ms = (time.perf_counter() - started) * 1000
        rows, total = con.execute("SELECT count(*), sum(ts) FROM license_last_use").fetchone()
        con.execute("ROLLBACK")
        print(f"{name:>10}: {ms:7.1f} ms  ({rows} rows, sum of ts {total})")
    exclusions(con, runs)
    first_catch_up(con, runs)
    histories(con, runs)
    con.execute(f"DROP TABLE s16_values_digested; DROP TABLE {HASHED}; DROP TABLE s16_lifecycle; CHECKPOINT")
    lookups(con, runs)
    few_rows(con, runs)


if __name__ == "__main__":
    main()
