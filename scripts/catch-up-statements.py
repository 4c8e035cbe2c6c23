#!/usr/bin/env python3
"""Times statements of the writer's catch-ups against each other on a copy of a store.

Usage: scripts/catch-up-statements.py COPY_OF_STORE.duckdb [RUNS]

Needs DuckDB's Python package at the version keylens links (1.5.6: `pip install duckdb==1.5.6`).
Works on a copy (it writes temporary tables and rolls every change back, but opens the file
read-write): e.g. `cp $CARGO_TARGET_DIR/bench-store-1000000/keylens.duckdb /tmp/copy.duckdb`.

What it times, each inside a transaction it rolls back (so every run starts from the same
table), alternating the variants:

- folding a tail of later uses (50,000 licenses the table holds, 1,000 new ones) into
  `license_last_use`: session 15's statements (merge the kept rows with the tail into a new
  table, find which licenses the table holds, update those, append the others) against one
  `MERGE INTO` updating only where the tail's use is later (session 16, in_place.rs).

Every variant must leave the same table (count and sum of `ts` printed beside each time).
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


if __name__ == "__main__":
    main()
