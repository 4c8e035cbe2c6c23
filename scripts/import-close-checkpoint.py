#!/usr/bin/env python3
"""What the checkpoint at the end of a `keylens import` does, and what DuckDB's vacuum costs in it.

Usage: scripts/import-close-checkpoint.py KEYLENS EVENTS.ndjson [ROUNDS]

Runs `KEYLENS import` into a fresh folder and kills it (SIGKILL) as soon as it logs "licenses
derived": everything is committed then, the last catch-ups' rows still in the write-ahead log,
and the process would otherwise close the database, a checkpoint with DuckDB's vacuum on (the
import does not turn it off, `VACUUM_TASKS` in crates/store/src/lib.rs). Then:

- lists, per table, the row groups holding fewer than a full row group's rows (122,880): those
  the vacuum merges;
- ROUNDS times (default 2), in turns, on fresh copies of the killed store: opens it with DuckDB's
  Python package (replaying the log), sets `max_vacuum_tasks` to 100 (DuckDB's default, as the
  import) or 0 (as a server), and times `CHECKPOINT`.

Needs the `duckdb` Python package of the library's version (1.5.6). BENCHMARKS.md, "Session 36".
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import duckdb

ROW_GROUP = 122_880


def killed_after_derive(keylens, events, data):
    """Runs the import into `data` and kills it once the derivation is logged."""
    env = dict(os.environ, KEYLENS_LOG="info")
    with tempfile.NamedTemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [keylens, "import", "--data", data, events],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
        while proc.poll() is None:
            with open(log.name) as f:
                if "licenses derived" in f.read():
                    proc.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.05)
        proc.wait()
        with open(log.name) as f:
            if "licenses derived" not in f.read():
                sys.exit(f"the import ended ({proc.returncode}) before deriving licenses")


def part_filled(store):
    con = duckdb.connect(store, read_only=True)
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1").fetchall()]
    print("row groups under 122,880 rows, per table (rows in each):")
    for t in tables:
        sizes = [r[0] for r in con.execute(
            f"SELECT sum(count) FROM pragma_storage_info('{t}') "
            "WHERE column_id = 0 AND column_path = '[0]' GROUP BY row_group_id "
            "ORDER BY row_group_id").fetchall()]
        part = [int(n) for n in sizes if n < ROW_GROUP]
        if len(sizes) > 1 and part:
            print(f"  {t:20s} {len(part):3d} of {len(sizes):3d}: {part}")
    con.close()


def checkpoint(source, tasks, work):
    copy = os.path.join(work, f"copy-{tasks}")
    shutil.copytree(source, copy)
    started = time.time()
    con = duckdb.connect(os.path.join(copy, "keylens.duckdb"))
    opened = time.time()
    con.execute(f"SET max_vacuum_tasks = {tasks}")
    con.execute("CHECKPOINT")
    done = time.time()
    con.close()
    size = os.path.getsize(os.path.join(copy, "keylens.duckdb"))
    shutil.rmtree(copy)
    return opened - started, done - opened, size


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    keylens, events = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    work = tempfile.mkdtemp()
    try:
        store = os.path.join(work, "store")
        killed_after_derive(keylens, events, store)
        # Read in place: a read-only open replays the log in memory and leaves both files as
        # they were (checked: the same bytes after it), so each copy below starts the same.
        part_filled(os.path.join(store, "keylens.duckdb"))
        for r in range(rounds):
            for tasks in (100, 0) if r % 2 == 0 else (0, 100):
                opened, took, size = checkpoint(store, tasks, work)
                print(f"round {r + 1} max_vacuum_tasks = {tasks:3d}: open {opened:.2f} s, "
                      f"CHECKPOINT {took:.2f} s, file {size / 1e6:.0f} MB", flush=True)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
