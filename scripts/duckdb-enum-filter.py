#!/usr/bin/env python3
"""A filter on an event type through a view, with the type stored as an ENUM or as text.

Usage: scripts/duckdb-enum-filter.py

Writes a fresh DuckDB file: two tables of the same 100 row groups of 122,880 rows, each row group
of one type (every tenth `license.activated`, the others `license.validated`), with a latency
and one of 5,000 machines; in one `type` is an ENUM of the two types, in the other text. Beside
each, a table of one `custom.x` row with `type` as text, and a view of the pair as the `events`
view unions `narrow_events` and `wide_events` (the ENUM cast to text). Prints each query's median
of seven warm runs (DuckDB's default threads) and its answer. BENCHMARKS.md, "Session 32". Needs
DuckDB's Python package (1.5.6 measured).
"""

import os
import statistics
import tempfile
import time

import duckdb

QUERIES = [
    "SELECT sum(latency), count(DISTINCT machine) FROM {v} WHERE type = 'license.activated'",
    "SELECT sum(latency) FROM {v} WHERE type IN ('license.activated', 'custom.x')",
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(os.path.join(tmp, "enum.duckdb"))
        con.execute("CREATE TYPE etype AS ENUM ('license.activated', 'license.validated')")
        for table, sql_type in [("as_enum", "etype"), ("as_text", "VARCHAR")]:
            con.execute(f"CREATE TABLE {table} (type {sql_type}, latency DOUBLE, machine VARCHAR)")
            for group in range(100):
                kind = "license.activated" if group % 10 == 0 else "license.validated"
                con.execute(
                    f"INSERT INTO {table} SELECT '{kind}', (i * 7919) % 1000 / 10.0, "
                    "'m-' || (i % 5000) FROM range(122880) r(i)"
                )
        con.execute("CREATE TABLE wide (type VARCHAR, latency DOUBLE, machine VARCHAR)")
        con.execute("INSERT INTO wide VALUES ('custom.x', 1, 'm')")
        con.execute("CHECKPOINT")
        con.execute(
            "CREATE VIEW via_enum AS SELECT type::VARCHAR AS type, latency, machine FROM as_enum "
            "UNION ALL SELECT * FROM wide"
        )
        con.execute(
            "CREATE VIEW via_text AS SELECT type, latency, machine FROM as_text "
            "UNION ALL SELECT * FROM wide"
        )
        for query in QUERIES:
            for view in ["via_text", "via_enum"]:
                sql = query.format(v=view)
                con.execute(sql).fetchall()  # warm
                took = []
                for _ in range(7):
                    began = time.perf_counter()
                    answer = con.execute(sql).fetchall()
                    took.append(time.perf_counter() - began)
                print(f"{view}: {sql.split(' WHERE ')[1]}: "
                      f"{statistics.median(took) * 1000:.1f} ms, {answer}")
        con.close()


if __name__ == "__main__":
    main()
