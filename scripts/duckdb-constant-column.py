#!/usr/bin/env python3
"""What a column holding one value costs DuckDB to write, by its type.

Usage: scripts/duckdb-constant-column.py [ROUNDS]

983,040 rows of one column, all the same value ('sdk', the `source` of nearly every event, or
the number 1), written into a fresh database file as `keylens import` writes: DuckDB on one
thread, 122,880 rows (one row group) per transaction, `INSERT ... SELECT` from an Arrow batch,
then `COMMIT`; ROUNDS times (default 3), the types in turns. Prints microseconds a row and the
compression DuckDB stored each column with. DuckDB stores a text column of one value with a
dictionary, hashing every value, where it stores an `ENUM` or integer column of one value as a
constant (BENCHMARKS.md, "Session 32"). Needs DuckDB's Python package (1.5.6 measured) and
pyarrow.
"""

import os
import sys
import tempfile
import time

import duckdb
import pyarrow as pa

ROW_GROUP = 122_880
ROWS = 8 * ROW_GROUP
KINDS = {
    "text, dictionary set": ("VARCHAR USING COMPRESSION dictionary", pa.array(["sdk"] * ROWS)),
    "text, DuckDB's choice": ("VARCHAR", pa.array(["sdk"] * ROWS)),
    "enum": ("ENUM('sdk', 'api')", pa.array(["sdk"] * ROWS)),
    "utinyint": ("UTINYINT", pa.array([1] * ROWS, pa.uint8())),
}


def write(path, sql_type, values, setup="", read=None):
    """Writes `values` into a fresh file's table `x (v sql_type)`, after running `setup` (the
    types it needs), a row group per transaction on one thread: microseconds a row, the methods
    DuckDB stored `v` with, and the rows of `read` (a statement over `x`) when given.
    `scripts/duckdb-enum-type.py` writes through it too."""
    con = duckdb.connect(path)
    con.execute("SET threads = 1")
    if setup:
        con.execute(setup)
    con.execute(f"CREATE TABLE x (v {sql_type})")
    rows = pa.table({"v": values})
    took = 0.0
    for start in range(0, ROWS, ROW_GROUP):
        batch = rows.slice(start, ROW_GROUP)  # noqa: F841 (read by the INSERT)
        began = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO x SELECT * FROM batch")
        con.execute("COMMIT")
        took += time.perf_counter() - began
    methods = sorted(
        m for (m,) in con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('x') "
            "WHERE segment_type <> 'VALIDITY'"
        ).fetchall()
    )
    answer = con.execute(read).fetchall() if read else None
    con.close()
    return took / ROWS * 1e6, methods, answer


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    times = {k: [] for k in KINDS}
    methods = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for kind, (sql_type, values) in KINDS.items():
                path = os.path.join(tmp, f"{r}-{len(times[kind])}.duckdb")
                us, methods[kind], _ = write(path, sql_type, values)
                times[kind].append(us)
                os.remove(path)
    for kind in KINDS:
        each = " / ".join(f"{t:.3f}" for t in times[kind])
        print(f"{kind:24s} {each} us a row, stored as {', '.join(methods[kind])}")


if __name__ == "__main__":
    main()
