#!/usr/bin/env python3
"""An event type stored as an ENUM or as text: what writing it costs, and a filter through a view.

Usage: scripts/duckdb-enum-type.py

Writing: 983,040 types (nine in ten `license.validated`, the rest `license.activated`) written
into a fresh file as `keylens import` writes (DuckDB on one thread, a row group of 122,880 rows
per transaction, `INSERT ... SELECT` from an Arrow batch, then `COMMIT`), three rounds in turns:
into a text column with the dictionary set (as `narrow_events.type`), into an ENUM column from
Arrow text (DuckDB casts each value) and from an Arrow dictionary, and integer codes into a
`UTINYINT` column, each through `scripts/duckdb-constant-column.py`'s `write`; microseconds a
row, and the rows of each type read back.

Filtering: a fresh DuckDB file with two tables of the same 100 row groups of 122,880 rows, each row group
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


def constant_column():
    """`scripts/duckdb-constant-column.py`, whose `write` writes a column as an import does."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "duckdb-constant-column.py")
    spec = importlib.util.spec_from_file_location("duckdb_constant_column", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def writing(tmp) -> None:
    import pyarrow as pa

    column = constant_column()
    rows = column.ROWS
    types = ["license.validated"] * (rows * 9 // 10) + ["license.activated"] * (rows // 10)
    codes = pa.array([1 if t == "license.validated" else 0 for t in types], pa.uint8())
    cases = {
        "text column <- text": ("VARCHAR USING COMPRESSION dictionary", pa.array(types)),
        "ENUM column <- text": ("etype", pa.array(types)),
        "ENUM column <- dictionary": (
            "etype",
            pa.DictionaryArray.from_arrays(
                codes, pa.array(["license.activated", "license.validated"])
            ),
        ),
        "UTINYINT column <- codes": ("UTINYINT", codes),
    }
    write = column.write
    times = {k: [] for k in cases}
    counts = {}
    for r in range(3):
        for kind, (sql_type, values) in cases.items():
            path = os.path.join(tmp, f"write-{r}-{len(times[kind])}.duckdb")
            us, _, counts[kind] = write(
                path,
                sql_type,
                values,
                setup="CREATE TYPE etype AS ENUM ('license.activated', 'license.validated')",
                read="SELECT v::VARCHAR, count(*) FROM x GROUP BY 1 ORDER BY 1",
            )
            times[kind].append(us)
            os.remove(path)
    for kind in cases:
        each = " / ".join(f"{t:.3f}" for t in times[kind])
        print(f"writing, {kind}: {each} us a row, {counts[kind]}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        writing(tmp)
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
