#!/usr/bin/env python3
"""What DuckDB itself costs to store a bulk import's events, by compression method.

Usage: scripts/duckdb-write-cost.py STORE.duckdb [METHOD ...]

Reads the first 983,040 rows (eight of DuckDB's 122,880-row row groups) of the `events` table of
a keylens store (opened read-only), then for each METHOD ("default" for DuckDB's own choice, or a
name `PRAGMA force_compression` takes: dictionary, fsst, dict_fsst, zstd, uncompressed, ...)
writes them into a fresh database file as `keylens import` does: one thread, one row group per
transaction (`INSERT INTO t SELECT * FROM batch`, then `COMMIT`). Prints, per method, the time of
the inserts and of the commits (where DuckDB compresses and writes each row group), the file's
size, and one aggregate over it. Needs DuckDB's Python package (1.5.6 measured) and pyarrow.
BENCHMARKS.md, "Session 20", has its figures.
"""

import os
import sys
import tempfile
import time

import duckdb

ROW_GROUP = 122_880
GROUPS = 8


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    store = sys.argv[1]
    methods = sys.argv[2:] or ["default", "uncompressed"]
    source = duckdb.connect(store, read_only=True)
    rows = source.execute(f"SELECT * FROM events LIMIT {ROW_GROUP * GROUPS}").to_arrow_table()
    source.close()
    print(f"{rows.num_rows} rows of {store}")
    with tempfile.TemporaryDirectory() as tmp:
        for n, method in enumerate(methods):
            path = os.path.join(tmp, f"{n}-{method}.duckdb")
            con = duckdb.connect(path)
            con.execute("SET threads = 1")
            if method != "default":
                con.execute(f"PRAGMA force_compression = '{method}'")
            con.execute("CREATE TABLE t AS SELECT * FROM rows LIMIT 0")
            inserting = committing = 0.0
            for g in range(GROUPS):
                batch = rows.slice(g * ROW_GROUP, ROW_GROUP)  # noqa: F841 (read by the INSERT)
                con.execute("BEGIN TRANSACTION")
                started = time.perf_counter()
                con.execute("INSERT INTO t SELECT * FROM batch")
                inserted = time.perf_counter()
                con.execute("COMMIT")
                inserting += inserted - started
                committing += time.perf_counter() - inserted
            started = time.perf_counter()
            con.execute("SELECT type, count(*), count(DISTINCT license_id) FROM t GROUP BY type").fetchall()
            query_ms = (time.perf_counter() - started) * 1000
            con.close()
            size_mb = os.path.getsize(path) / 1e6
            per_row_us = (inserting + committing) / rows.num_rows * 1e6
            print(
                f"{method}: inserts {inserting:.3f} s, commits {committing:.3f} s "
                f"({per_row_us:.2f} us a row), {size_mb:.0f} MB, one aggregate {query_ms:.0f} ms"
            )


if __name__ == "__main__":
    main()
