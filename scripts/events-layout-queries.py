#!/usr/bin/env python3
"""What the narrow events' cheaper-to-write layouts would cost the metrics.

Usage: scripts/events-layout-queries.py STORE_DIR KEYLENS [ROUNDS]

STORE_DIR is a keylens data directory (the 1M benchmark store:
`$CARGO_TARGET_DIR/bench-store-1000000`), KEYLENS a release build of `keylens`. The store is
copied three times into a temporary directory beside STORE_DIR (about 1.6 GB each at 1M):

- `stored`: as it is;
- `numbered`: `narrow_events` split into the event rows, carrying the number of their
  combination of `license_id`, `machine_id`, `version`, `ip`, `country`, `lat`, `lon` and
  `source`, and a table of one row per combination; `narrow_events` becomes the view joining
  them (the layout `scripts/duckdb-column-cost.py STORE layouts` writes);
- `parquet`: `narrow_events`' rows as Parquet files of 122,880 rows each (one an import's
  commit), in their stored order; `narrow_events` becomes the view reading them.

Every statement keylens runs reads the events through the `events` view, which reads
`narrow_events`, so each copy answers the same questions unchanged. Each case of
`crates/keylens/benches/metrics.rs` is asked of each copy with `KEYLENS query ... --format json`
(the whole command: the process, the store's open, the answer), ROUNDS times (default 5) in
turns; the answers must match the stored copy's (numbers to 1e-9 relative: sums over other
orders differ in their last digits); prints each case's median milliseconds, after the time
each copy takes to answer the question `keylens query` asks of the events before it answers. Needs DuckDB's
Python package (1.5.6 measured) and pyarrow. BENCHMARKS.md, "Session 35", has its figures.
"""

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

AS_OF = "2026-11-01T00:00:00Z"
CASES = [
    "activation_rate --by model",
    "time_to_activate --by model",
    "activations",
    "activation_failures --by reason",
    "validations",
    "validations --from 2026-08-03T09:30:00Z --to 2026-10-31T13:45:00Z",
    "validations --by tier",
    "renewal_rate --by region",
    "renewals --bucket week",
    "churn",
    "churn --bucket week",
    "churn --bucket month --by model",
    "revenue --bucket month --by model",
    "time_to_expiration --by model",
    "expiring",
    "mrr --bucket month",
    "cohort_retention --from 2025-11-01",
    "survival --by model --from 2026-08-01",
    "trial_conversion_rate --by tier",
    "compare --metric renewal_rate --a region=EU --b region=NA",
    "versions",
    "upgrades --bucket week",
    "misuse",
    "overview",
]
DIM = "license_id, machine_id, version, ip, country, lat, lon, source"
NARROW = (
    "id, id_hash, type, ts, license_id, machine_id, version, ip, country, lat, lon, code, "
    "result, latency_ms, source, received_at"
)


def replaced(con, make_narrow):
    """Drops `narrow_events` (and the `events` view over it), runs `make_narrow`, which makes
    `narrow_events` again as a view, then makes `events` again as it was."""
    events = con.execute(
        "SELECT sql FROM duckdb_views() WHERE view_name = 'events'"
    ).fetchone()[0]
    make_narrow(con)
    con.execute("DROP VIEW events")
    con.execute("DROP TABLE narrow_events")
    con.execute("ALTER VIEW narrow_events_new RENAME TO narrow_events")
    con.execute(events)
    con.execute("CHECKPOINT")


def numbered(con):
    con.execute(
        f"CREATE TABLE narrow_dims AS SELECT (row_number() OVER ())::INTEGER AS dim, * "
        f"FROM (SELECT DISTINCT {DIM} FROM narrow_events)"
    )
    same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM d.{c}" for c in DIM.split(", "))
    con.execute(
        f"""CREATE TABLE narrow_facts AS
            SELECT n.id, n.id_hash, n.type, n.ts, d.dim, n.code, n.result, n.latency_ms,
                   n.received_at
            FROM (SELECT rowid AS r, * FROM narrow_events) n JOIN narrow_dims d ON {same}
            ORDER BY n.r"""
    )
    columns = ", ".join(
        f"d.{c}" if c in DIM.split(", ") else f"f.{c}" for c in NARROW.split(", ")
    )
    con.execute(
        f"CREATE VIEW narrow_events_new AS SELECT {columns} "
        "FROM narrow_facts f JOIN narrow_dims d ON f.dim = d.dim"
    )


def parquet(folder):
    def make(con):
        os.makedirs(folder)
        reader = con.execute(f"SELECT {NARROW} FROM narrow_events").to_arrow_reader(122_880)
        files = 0

        def write(batches):
            nonlocal files
            pq.write_table(
                pa.Table.from_batches(batches), f"{folder}/{files:06d}.parquet",
                compression="none",
            )
            files += 1

        pending, rows = [], 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= 122_880:
                write(pending)
                pending, rows = [], 0
        if pending:
            write(pending)
        con.execute(
            f"CREATE VIEW narrow_events_new AS SELECT * FROM read_parquet('{folder}/*.parquet')"
        )

    return make


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(
            a, b, rel_tol=1e-9, abs_tol=1e-9
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return a == b


def tail_ms(data):
    """Milliseconds (three runs) of the question `keylens query` asks of the events twice before
    it answers, catching the kept tables up (`Store::refresh`, `Store::slices`): the events
    received after a mark, by `received_at`."""
    con = duckdb.connect(f"{data}/keylens.duckdb", read_only=True)
    upto = con.execute("SELECT received_at FROM counted_upto").fetchone()[0]
    took = []
    for _ in range(3):
        began = time.perf_counter()
        con.execute(
            f"SELECT received_at, count(*) AS n FROM events WHERE received_at > {upto} "
            "GROUP BY received_at"
        ).fetchall()
        took.append((time.perf_counter() - began) * 1000)
    con.close()
    return took


def ask(keylens, data, case):
    began = time.perf_counter()
    out = subprocess.run(
        [keylens, "query", *case.split(), "--as-of", AS_OF, "--data", data, "--format", "json"],
        check=True, capture_output=True,
    ).stdout
    return (time.perf_counter() - began) * 1000, json.loads(out)


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    store, keylens = sys.argv[1], os.path.abspath(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(store))) as tmp:
        copies = {}
        for name, make in (
            ("stored", None), ("numbered", numbered), ("parquet", parquet(f"{tmp}/parquet-files"))
        ):
            data = f"{tmp}/{name}"
            os.makedirs(data)
            shutil.copy(f"{store}/keylens.duckdb", data)
            if make:
                began = time.perf_counter()
                con = duckdb.connect(f"{data}/keylens.duckdb")
                replaced(con, make)
                print(f"made {name} in {time.perf_counter() - began:.1f} s", flush=True)
                if name == "numbered":
                    facts, dims = con.execute(
                        "SELECT (SELECT count(*) FROM narrow_facts), "
                        "(SELECT count(*) FROM narrow_dims)"
                    ).fetchone()
                    print(f"  {facts} narrow events, {dims} combinations", flush=True)
                con.close()
            copies[name] = data
        for name, data in copies.items():
            print(f"{name}: the catch-up's tail " + " / ".join(f"{t:.0f}" for t in tail_ms(data))
                  + " ms")
        print(f"{'case':60s} " + " ".join(f"{n:>9s}" for n in copies))
        for case in CASES:
            took = {name: [] for name in copies}
            answers = {}
            for r in range(rounds):
                names = list(copies) if r % 2 == 0 else list(reversed(copies))
                for name in names:
                    ms, answers[name] = ask(keylens, copies[name], case)
                    took[name].append(ms)
            for name, answer in answers.items():
                assert same(answer, answers["stored"]), f"{case}: {name} answers differently"
            print(
                f"{case:60s} "
                + " ".join(f"{statistics.median(t):9.0f}" for t in took.values()),
                flush=True,
            )


if __name__ == "__main__":
    main()
