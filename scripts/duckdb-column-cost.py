#!/usr/bin/env python3
"""What each column of the stored events costs DuckDB to write, and what splitting them costs.

Usage: scripts/duckdb-column-cost.py STORE.duckdb
           [columns|split|forced|types|orders|views|dictionaries|tables|lifecycle|derived|
            layouts|storage|rowgroups]
           [ROUNDS]

Reads the events of the first eight appends of a keylens store (opened read-only; 983,040
events in the benchmark stores, whose appends are 122,880 events each), in the order each append
stored them (type, then time), then writes them into fresh database files as `keylens import`
does: DuckDB on one thread, 122,880 rows (one row group) per transaction, `INSERT ... SELECT`
from the Arrow batch, then `COMMIT`. Needs DuckDB's Python package (1.5.6 measured) and pyarrow.

- `columns`: each column alone in a table of its own, slowest first: what a column costs,
  however few of its values are set.
- `split` (the default): all the columns in one table, against the events with no value outside
  the 16 columns of `narrow_events` (schema 13) in a table of those columns and the others in
  one of all the columns, each table written in whole row groups (as an import batches them);
  ROUNDS times (default 3), alternating.
- `forced`: the narrow events (their 16 columns) into a table whose columns' compression DuckDB
  chooses, against one with the compression schema 14 sets for some (`FORCED`), ROUNDS times,
  alternating; then each column's methods in both files.
- `types`: the narrow events into the table schema 14 creates, against the same table with
  other types or compression for some columns (`TYPED`): `type`, `country` and `result` as
  DuckDB `ENUM`s or as integer codes, `id` uncompressed, `license_id`, `machine_id` and `ip`
  FSST; ROUNDS times, alternating, with each file's size (session 27, measured, not built);
  since session 31 also `license_id`, `machine_id` and `ip` as dictionaries, and the numbers
  with the method DuckDB picks for most of their row groups set.
- `orders`: the narrow events into schema 16's table (`type`, `country` and `result` as `ENUM`s,
  the compression of schema 14), each append's rows in (type, time) order against (type,
  license, time) and (type, machine, time), ROUNDS times, alternating, with each file's size
  and each column's methods (session 33, measured, not built).
- `views`: the narrow events into schema 16's table from Arrow text (`string`, as an import
  hands them over) against Arrow string views (`string_view`), ROUNDS times, alternating, with a
  check that both tables hold the same values (session 33, measured, not built).
- `dictionaries`: each text column of the narrow events alone (`TEXT`, its compression as
  schema 16 sets it) from Arrow text against an Arrow dictionary array of the same values,
  ROUNDS times in turns (session 34, measured, not built).
- `tables`: each table an import writes (the events' two, `lifecycle`, and the derived ones),
  its first 491,520 rows (four row groups) copied into a fresh file under the store's own
  `CREATE TABLE` statement (`narrow_events` under `schema_16`'s, with the compression the
  store sets, since session 35), a row group per transaction, ROUNDS
  times (default 3): what a row of each costs to write.
- `lifecycle`: as `tables` for `lifecycle`, against the same events with every column of theirs
  under `wide_events`' statement: what a row would cost were each lifecycle event stored once,
  there, with all its columns (session 34, measured, not built).
- `layouts`: `narrow_events`' first 491,520 rows under schema 16's statement, against the same
  events with the columns that repeat from call to call (`DIM`) kept once per combination in a
  table of their own, the event rows carrying its number, and against each row group a Parquet
  file of its own (pyarrow), ROUNDS times in turns (session 35, measured, not built).
- `storage`: `narrow_events`' first rows into a file of DuckDB's default storage version
  (v1.0.0+) under schema 16's statement, against one of storage version v1.5.0 (its own
  choice of methods: it refuses `fsst`), ROUNDS times in turns (session 35, measured, not built).
- `rowgroups`: `narrow_events`' first 983,040 rows under schema 16's statement into files
  whose row groups hold 122,880 (the default), 491,520 or 983,040 rows, a row group per
  transaction, ROUNDS times in turns; every file of storage version v1.2.0, the first to take
  row groups above the default (session 37, measured, not kept).
- `derived`: as `tables` for `licenses`, `terms`, `segments` and `bookings`, under the store's
  statement against the same with the methods DuckDB picks for their text columns set
  (`license_id` FSST, the attributes of few values a dictionary), ROUNDS times alternating
  (session 31, measured, not built).

BENCHMARKS.md, "Session 21", "Session 23", "Session 24", "Session 27", "Session 33",
"Session 34", "Session 35" and "Session 37", has its figures.
"""

import os
import re
import sys
import tempfile
import time

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

ROW_GROUP = 122_880
APPENDS = 8
NARROW = [
    "id", "id_hash", "type", "ts", "license_id", "machine_id", "version", "ip", "country", "lat",
    "lon", "code", "result", "latency_ms", "source", "received_at",
]
# The compression schema 14 sets for columns of `narrow_events` (crates/store/src/schema.rs).
FORCED = {
    "id": "fsst", "type": "dictionary", "version": "dictionary", "country": "dictionary",
    "code": "fsst", "result": "dictionary", "source": "dictionary",
}


def stored_events(store):
    source = duckdb.connect(store, read_only=True)
    rows = source.execute(
        f"""SELECT * FROM events WHERE received_at <= (
              SELECT max(received_at) FROM (
                SELECT DISTINCT received_at FROM events ORDER BY 1 LIMIT {APPENDS}))
            ORDER BY received_at, type, ts, id"""
    ).to_arrow_table()
    source.close()
    return rows


def write(con, table, rows, limit, group=ROW_GROUP):
    """Writes up to `limit` rows of `rows` into `table`, `group` rows (a row group) per
    transaction."""
    took, written = 0.0, 0
    for start in range(0, min(rows.num_rows, limit), group):
        batch = rows.slice(start, min(group, limit - start))  # noqa: F841 (read by the INSERT)
        began = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        con.execute(f"INSERT INTO {table} SELECT * FROM batch")
        con.execute("COMMIT")
        took += time.perf_counter() - began
        written += batch.num_rows
    return took, written


def fresh(tmp, name, version=None, row_group_size=None):
    """A connection to a new file `name`.duckdb in `tmp`, DuckDB on one thread; the file of
    storage version `version` when given (DuckDB's default, v1.0.0+, otherwise), with row
    groups of `row_group_size` rows when given (DuckDB's default, 122,880, otherwise)."""
    path = os.path.join(tmp, name + ".duckdb")
    if version is None and row_group_size is None:
        con = duckdb.connect(path)
    else:
        options = [f"STORAGE_VERSION '{version}'"] if version else []
        options += [f"ROW_GROUP_SIZE {row_group_size}"] if row_group_size else []
        con = duckdb.connect()
        con.execute(f"ATTACH '{path}' AS fresh ({', '.join(options)})")
        con.execute("USE fresh")
    con.execute("SET threads = 1")
    return con


def columns(rows):
    costs = []
    with tempfile.TemporaryDirectory() as tmp:
        for column in rows.column_names:
            con = fresh(tmp, column)
            one = rows.select([column])  # noqa: F841 (read by the CREATE)
            con.execute("CREATE TABLE t AS SELECT * FROM one LIMIT 0")
            took, written = write(con, "t", rows.select([column]), rows.num_rows)
            set_values = con.execute(f"SELECT count({column}) FROM t").fetchone()[0]
            con.close()
            costs.append((took / written * 1e6, column, set_values))
    for per_row, column, set_values in sorted(costs, reverse=True):
        print(f"{column:14s} {per_row:6.3f} us/row  {set_values:9d} values set")
    print(f"sum of the columns alone: {sum(c[0] for c in costs):.2f} us/row")


def split(rows, rounds):
    all_columns = rows.column_names
    wide_only = [c for c in all_columns if c not in NARROW]
    fits = pc.and_kleene(*[pc.is_null(rows[c]) for c in wide_only[:2]])
    for c in wide_only[2:]:
        fits = pc.and_kleene(fits, pc.is_null(rows[c]))
    narrow = rows.filter(fits).select(NARROW)
    wide = rows.filter(pc.invert(fits))
    share = narrow.num_rows / rows.num_rows
    print(f"{rows.num_rows} events, {share:.1%} with no value outside the narrow columns")
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            con = fresh(tmp, "one")
            con.execute("CREATE TABLE t AS SELECT * FROM rows LIMIT 0")
            took, written = write(con, "t", rows, rows.num_rows)
            con.close()
            size = os.path.getsize(os.path.join(tmp, "one.duckdb")) / 1e6
            print(f"one table:  {took / written * 1e6:.3f} us/row over {written} rows, {size:.1f} MB")
            con = fresh(tmp, "two")
            con.execute("CREATE TABLE n AS SELECT * FROM narrow LIMIT 0")
            con.execute("CREATE TABLE w AS SELECT * FROM wide LIMIT 0")
            # Whole row groups of each table: the narrow rows' share of the same total first.
            took_n, written_n = write(con, "n", narrow, narrow.num_rows)
            took_w, written_w = write(con, "w", wide, wide.num_rows)
            con.close()
            size = os.path.getsize(os.path.join(tmp, "two.duckdb")) / 1e6
            per_row = (took_n + took_w) / (written_n + written_w) * 1e6
            print(
                f"two tables: {per_row:.3f} us/row over {written_n} + {written_w} rows, "
                f"{size:.1f} MB"
            )


# The SQL type of each Arrow type the narrow events' columns have.
SQL_TYPE = {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE"}


def narrow_of(rows):
    """The events of `rows` with no value outside the narrow columns, those columns only."""
    fits = pc.is_null(rows["user_id"])
    for c in rows.column_names:
        if c not in NARROW:
            fits = pc.and_kleene(fits, pc.is_null(rows[c]))
    return rows.filter(fits).select(NARROW)


def written_with_methods(tmp, name, create, rows, version=None):
    """`rows` written into table `t` (made by `create`) of a fresh file `name` in `tmp` (of
    storage version `version`, as `fresh`), then checkpointed: (us a row, rows written, each
    column's compression methods, file MB)."""
    con = fresh(tmp, name, version)
    con.execute(create)
    took, written = write(con, "t", rows, rows.num_rows)
    con.execute("CHECKPOINT")
    methods = con.execute(
        "SELECT column_name, string_agg(DISTINCT compression, ',' ORDER BY compression) "
        "FROM pragma_storage_info('t') WHERE segment_type <> 'VALIDITY' GROUP BY 1"
    ).fetchall()
    con.close()
    size = os.path.getsize(os.path.join(tmp, name + ".duckdb")) / 1e6
    return took / written * 1e6, written, methods, size


def forced(rows, rounds):
    narrow = narrow_of(rows)

    def table(chosen):
        columns = ", ".join(
            f"{f.name} {SQL_TYPE[str(f.type)]}"
            + (f" USING COMPRESSION {FORCED[f.name]}" if chosen and f.name in FORCED else "")
            for f in narrow.schema
        )
        return f"CREATE TABLE t ({columns})"

    methods = {}
    for _ in range(rounds):
        for name, chosen in (("duckdb", False), ("forced", True)):
            with tempfile.TemporaryDirectory() as tmp:
                per_row, written, methods[name], size = written_with_methods(
                    tmp, name, table(chosen), narrow
                )
                print(f"{name}: {per_row:.3f} us/row over {written} rows, {size:.1f} MB")
    for name, columns in methods.items():
        print(name, dict(sorted(columns)))


# The license types, then the custom one the generator sends, in `ENUM` and code order.
TYPES = [
    "license.created", "license.assigned", "license.activated", "license.activation_failed",
    "license.deactivated", "license.validated", "license.upgraded", "license.renewed",
    "license.expired", "license.suspended", "license.reinstated", "license.revoked",
    "license.usage", "custom.feature_used",
]
COUNTRIES = [chr(a) + chr(b) for a in range(65, 91) for b in range(65, 91)]
RESULTS = ["valid", "invalid"]


def enum(values):
    return "ENUM(" + ", ".join(f"'{v}'" for v in values) + ")"


# Variants of schema 14's `narrow_events`: column -> its declaration, where it differs.
TYPED = {
    "schema 14": {},
    "enums": {"type": enum(TYPES), "country": enum(COUNTRIES), "result": enum(RESULTS)},
    "codes": {"type": "UTINYINT", "country": "USMALLINT", "result": "UTINYINT"},
    "id uncompressed": {"id": "VARCHAR USING COMPRESSION uncompressed"},
    "ids fsst": {c: "VARCHAR USING COMPRESSION fsst" for c in ("license_id", "machine_id", "ip")},
    # Session 31: the methods DuckDB picks for most row groups of these columns, set.
    "ids dictionary": {
        c: "VARCHAR USING COMPRESSION dictionary" for c in ("license_id", "machine_id", "ip")
    },
    "numbers set": {
        "id_hash": "BIGINT USING COMPRESSION uncompressed",
        "ts": "BIGINT USING COMPRESSION bitpacking",
        "lat": "DOUBLE USING COMPRESSION alp",
        "lon": "DOUBLE USING COMPRESSION alp",
        "latency_ms": "DOUBLE USING COMPRESSION alp",
    },
}


def coded(rows):
    """`rows` with `type`, `country` and `result` as the integer codes of the `codes` variant."""
    codes = {
        "type": (pa.uint8(), {v: i for i, v in enumerate(TYPES)}.get),
        "country": (pa.uint16(), lambda c: (ord(c[0]) - 65) * 26 + ord(c[1]) - 65),
        "result": (pa.uint8(), RESULTS.index),
    }
    for name, (arrow_type, code) in codes.items():
        values = [None if v is None else code(v) for v in rows[name].to_pylist()]
        rows = rows.set_column(rows.column_names.index(name), name, pa.array(values, arrow_type))
    return rows


def types(rows, rounds):
    narrow = narrow_of(rows)
    inputs = {"codes": coded(narrow)}
    for _ in range(rounds):
        for name, changed in TYPED.items():
            columns = declarations(narrow, changed)
            with tempfile.TemporaryDirectory() as tmp:
                con = fresh(tmp, "t")
                con.execute(f"CREATE TABLE t ({', '.join(columns)})")
                took, written = write(con, "t", inputs.get(name, narrow), narrow.num_rows)
                con.close()
                size = os.path.getsize(os.path.join(tmp, "t.duckdb")) / 1e6
                print(f"{name:16s} {took / written * 1e6:.3f} us/row over {written} rows, {size:.1f} MB")


def ordered(rows, keys):
    """`rows` in `keys`' order within each append (`received_at`), ties in their order."""
    place = pa.array(range(rows.num_rows))
    order = pc.sort_indices(
        rows.append_column("_place", place),
        sort_keys=[(k, "ascending") for k in ["received_at", *keys, "_place"]],
    )
    return rows.take(order)


def declarations(narrow, changed):
    """The declarations of `narrow`'s columns in schema 14's `narrow_events` (their compression
    `FORCED`), with `changed`'s (column -> declaration) instead where it has one."""
    columns = []
    for f in narrow.schema:
        if f.name in changed:
            columns.append(f"{f.name} {changed[f.name]}")
            continue
        declared = SQL_TYPE[str(f.type)]
        if f.name in FORCED:
            declared += f" USING COMPRESSION {FORCED[f.name]}"
        columns.append(f"{f.name} {declared}")
    return columns


def schema_16(narrow):
    """The declarations of `narrow`'s columns in schema 16's `narrow_events`."""
    return declarations(narrow, TYPED["enums"])


def orders(rows, rounds):
    narrow = narrow_of(rows)
    columns = schema_16(narrow)
    variants = {
        "type, time": ordered(narrow, ["type", "ts"]),
        "type, license, time": ordered(narrow, ["type", "license_id", "ts"]),
        "type, machine, time": ordered(narrow, ["type", "machine_id", "ts"]),
    }
    methods = {}
    for _ in range(rounds):
        for name, rows in variants.items():
            with tempfile.TemporaryDirectory() as tmp:
                per_row, written, methods[name], size = written_with_methods(
                    tmp, "t", f"CREATE TABLE t ({', '.join(columns)})", rows
                )
                print(f"{name:20s} {per_row:.3f} us/row over {written} rows, {size:.1f} MB")
    for name, columns in methods.items():
        print(name, dict(sorted(columns)))


def views(rows, rounds):
    narrow = narrow_of(rows)
    columns = schema_16(narrow)
    viewed = pa.table(
        [c.cast(pa.string_view()) if pa.types.is_string(c.type) else c for c in narrow.columns],
        names=narrow.column_names,
    )
    checks = set()
    for _ in range(rounds):
        for name, rows in (("string", narrow), ("string_view", viewed)):
            with tempfile.TemporaryDirectory() as tmp:
                con = fresh(tmp, "t")
                con.execute(f"CREATE TABLE t ({', '.join(columns)})")
                took, written = write(con, "t", rows, rows.num_rows)
                checks.add(con.execute(
                    "SELECT count(*), count(DISTINCT id), sum(length(license_id)), count(ip), "
                    "count(DISTINCT machine_id), max(version), count(code) FROM t"
                ).fetchone())
                con.close()
                print(f"{name:12s} {took / written * 1e6:.3f} us/row over {written} rows")
    assert len(checks) == 1, f"the tables differ: {checks}"


# The narrow events' text columns that stay text in schema 16.
TEXT = ["id", "license_id", "machine_id", "ip", "version", "source", "code"]


def dictionaries(rows, rounds):
    narrow = narrow_of(rows)
    declared = dict(zip(narrow.column_names, declarations(narrow, {})))
    for _ in range(rounds):
        for column in TEXT:
            text = narrow.select([column])
            coded = pa.table([pc.dictionary_encode(text[column])], names=[column])
            create = f"CREATE TABLE t ({declared[column]})"
            print(
                f"{column:12s} text {write_cost('t', create, text):.3f} us/row, "
                f"dictionary {write_cost('t', create, coded):.3f} us/row over {text.num_rows} rows"
            )


TABLES = [
    "narrow_events", "wide_events", "lifecycle", "licenses", "terms", "segments", "bookings",
]


def first_rows(source, table):
    """The first 491,520 rows (four row groups) of `table` in `source`, and its `CREATE TABLE`.

    DuckDB keeps a column's `USING COMPRESSION` but leaves it out of `duckdb_tables().sql`, so
    `narrow_events`, the one table whose methods the store sets, gets schema 16's statement
    (`schema_16`) instead; before session 35 it was written with DuckDB choosing its methods."""
    rows = source.execute(f"SELECT * FROM {table} LIMIT {ROW_GROUP * 4}").to_arrow_table()
    if table == "narrow_events":
        return rows, f"CREATE TABLE {table} ({', '.join(schema_16(rows))})"
    create = source.execute(
        "SELECT sql FROM duckdb_tables() WHERE table_name = ?", [table]
    ).fetchone()[0]
    return rows, create


def write_cost(table, create, rows):
    """Microseconds a row to write `rows` into `table`, made by `create` in a fresh file."""
    with tempfile.TemporaryDirectory() as tmp:
        con = fresh(tmp, table)
        con.execute(create)
        took, written = write(con, table, rows, rows.num_rows)
        con.close()
    return took / written * 1e6


def tables(store, rounds):
    source = duckdb.connect(store, read_only=True)
    for table in TABLES:
        rows, create = first_rows(source, table)
        for _ in range(rounds):
            per_row = write_cost(table, create, rows)
            print(f"{table:14s} {per_row:.3f} us/row over {rows.num_rows} rows")
    source.close()


def lifecycle(store, rounds):
    """`lifecycle`'s first rows as the store has them, against the same events with every column
    of theirs (from the two events tables, in `lifecycle`'s order) under `wide_events`'
    statement."""
    source = duckdb.connect(store, read_only=True)
    stored, create = first_rows(source, "lifecycle")
    full = source.execute(
        f"""SELECT e.* FROM (SELECT id, rowid AS r FROM lifecycle ORDER BY rowid
                               LIMIT {ROW_GROUP * 4}) l
              JOIN (SELECT * FROM wide_events UNION ALL BY NAME SELECT * FROM narrow_events) e
                USING (id)
            ORDER BY l.r"""
    ).to_arrow_table()
    _, wide = first_rows(source, "wide_events")
    order = [c for (c,) in source.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'wide_events' "
        "ORDER BY column_index"
    ).fetchall()]
    source.close()
    full = full.select(order)
    every = wide.replace("wide_events", "lifecycle")
    for _ in range(rounds):
        print(
            f"as stored {write_cost('lifecycle', create, stored):.3f} us/row, "
            f"every column {write_cost('lifecycle', every, full):.3f} us/row "
            f"over {stored.num_rows} rows"
        )


# Session 35: the narrow events' columns that repeat from one call of a machine to the next,
# kept once per distinct combination in `dims` under a number that each event row carries.
DIM = ["license_id", "machine_id", "version", "ip", "country", "lat", "lon", "source"]


def normalized(rows):
    """`rows` split into the event rows, `DIM`'s columns replaced by the number of their
    combination (in order of first appearance), and a table of one row per new combination for
    each row group, as an import would write them beside each row group's events."""
    numbers, dim = {}, []
    news, new = [], []
    for start in range(0, rows.num_rows, ROW_GROUP):
        chunk = rows.slice(start, ROW_GROUP)
        fresh_rows = []
        for place, key in enumerate(zip(*(chunk[c].to_pylist() for c in DIM))):
            if key not in numbers:
                numbers[key] = len(numbers)
                fresh_rows.append(start + place)
            dim.append(numbers[key])
        new.append(len(fresh_rows))
        news.extend(fresh_rows)
    facts = rows.drop_columns(DIM).append_column("dim", pa.array(dim, pa.int32()))
    dims = rows.select(DIM).take(pa.array(news, pa.int64()))
    dims = dims.append_column("dim", pa.array(range(len(news)), pa.int32()))
    return facts, dims, new


def layouts(store, rounds):
    """`narrow_events`' first rows under schema 16's statement, against the same events in two
    layouts that cost less to write: (1) event rows carrying the number of their `DIM`
    combination, each row group's new combinations in a table of their own in the same
    transaction; (2) each row group a Parquet file of its own (pyarrow, dictionaries, no
    compression), synced to disk. ROUNDS times in turns (session 35, measured, not built)."""
    import pyarrow.parquet as pq

    source = duckdb.connect(store, read_only=True)
    rows, create = first_rows(source, "narrow_events")
    source.close()
    facts, dims, new = normalized(rows)
    declared = dict(zip(rows.column_names, schema_16(rows)))
    fact_columns = [declared[c] for c in facts.column_names if c != "dim"] + ["dim INTEGER"]
    dim_columns = [declared[c] for c in DIM] + ["dim INTEGER"]
    print(f"{rows.num_rows} rows, {dims.num_rows} combinations of {', '.join(DIM)} "
          f"(new in each row group: {new})")

    def split_cost():
        with tempfile.TemporaryDirectory() as tmp:
            con = fresh(tmp, "t")
            con.execute(f"CREATE TABLE facts ({', '.join(fact_columns)})")
            con.execute(f"CREATE TABLE dims ({', '.join(dim_columns)})")
            took, first = 0.0, 0
            for group, start in enumerate(range(0, facts.num_rows, ROW_GROUP)):
                batch = facts.slice(start, ROW_GROUP)  # noqa: F841 (read by the INSERT)
                fresh_dims = dims.slice(first, new[group])  # noqa: F841 (read by the INSERT)
                first += new[group]
                began = time.perf_counter()
                con.execute("BEGIN TRANSACTION")
                con.execute("INSERT INTO facts SELECT * FROM batch")
                con.execute("INSERT INTO dims SELECT * FROM fresh_dims")
                con.execute("COMMIT")
                took += time.perf_counter() - began
            con.close()
        return took / facts.num_rows * 1e6

    def parquet_cost():
        with tempfile.TemporaryDirectory() as tmp:
            took = 0.0
            for group, start in enumerate(range(0, rows.num_rows, ROW_GROUP)):
                path = os.path.join(tmp, f"{group}.parquet")
                began = time.perf_counter()
                pq.write_table(rows.slice(start, ROW_GROUP), path, compression="none")
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
                took += time.perf_counter() - began
        return took / rows.num_rows * 1e6

    for _ in range(rounds):
        print(
            f"schema 16 {write_cost('narrow_events', create, rows):.3f} us/row, "
            f"numbered combinations {split_cost():.3f}, Parquet {parquet_cost():.3f}"
        )


def storage(store, rounds):
    """`narrow_events`' first rows into a file of DuckDB's default storage version (v1.0.0+, what
    the store's files are) under schema 16's statement, against a file of storage version
    v1.5.0, where DuckDB has `dict_fsst` for text and refuses to compress with `fsst`, so the
    statement's methods are left for DuckDB to choose; ROUNDS times in turns, with the methods
    each file's text columns got (session 35, measured, not built)."""
    source = duckdb.connect(store, read_only=True)
    rows, _ = first_rows(source, "narrow_events")
    source.close()
    create = f"CREATE TABLE t ({', '.join(schema_16(rows))})"
    files = {
        "v1.0.0+": (None, create),
        "v1.5.0": ("v1.5.0", re.sub(r" USING COMPRESSION \w+", "", create)),
    }
    methods = {}
    for r in range(rounds):
        costs = []
        for name in list(files) if r % 2 == 0 else list(reversed(files)):
            version, statement = files[name]
            with tempfile.TemporaryDirectory() as tmp:
                per_row, _, methods[name], size = written_with_methods(
                    tmp, "t", statement, rows, version
                )
            costs.append(f"{name} {per_row:.3f} us/row, {size:.1f} MB")
        print("; ".join(costs))
    for name, columns in methods.items():
        print(name, dict(columns))


# Session 31: the methods DuckDB picks for the derived tables' text columns, set.
DERIVED_FSST = {"license_id"}
DERIVED_DICTIONARY = {
    "product", "model", "tier", "region", "channel", "currency", "type", "code", "country",
    "version", "from_version", "reason", "meter", "s_tier", "s_model", "s_product", "s_region",
    "s_channel",
}


def with_methods_set(create):
    """`create` (a derived table's statement) with `DERIVED_*`'s methods set on its columns."""

    def method(match):
        column, not_null = match.group(1), match.group(2) or ""
        if column in DERIVED_FSST:
            return f"{column} VARCHAR{not_null} USING COMPRESSION fsst"
        if column in DERIVED_DICTIONARY:
            return f"{column} VARCHAR{not_null} USING COMPRESSION dictionary"
        return match.group(0)

    return re.sub(r"\b(\w+) VARCHAR( NOT NULL)?(?=[,)])", method, create)


def derived(store, rounds):
    source = duckdb.connect(store, read_only=True)
    for table in ["licenses", "terms", "segments", "bookings"]:
        rows, create = first_rows(source, table)
        took_by = {"store": [], "set": []}
        for r in range(rounds):
            for name in ("store", "set") if r % 2 == 0 else ("set", "store"):
                statement = create if name == "store" else with_methods_set(create)
                took_by[name].append(write_cost(table, statement, rows))
        for name, took in took_by.items():
            print(
                f"{table:9s} {name:5s} {min(took):.3f}-{max(took):.3f} us/row, "
                f"mean {sum(took) / len(took):.3f}"
            )
    source.close()


# The modes that read the store themselves, each its own tables.
# Session 37: row group sizes, in rows, beside DuckDB's default (ROW_GROUP).
ROW_GROUP_SIZES = [ROW_GROUP, ROW_GROUP * 4, ROW_GROUP * 8]


def rowgroups(store, rounds):
    """`narrow_events`' first 983,040 rows under schema 16's statement into files whose row
    groups hold `ROW_GROUP_SIZES` rows, a row group per transaction, ROUNDS times in turns.
    DuckDB takes row groups above its default only in files of storage version v1.2.0 or
    later, so every file here is one (its `fsst` still accepted): fewer, larger row groups
    would be fewer of DuckDB's fixed costs a commit (session 37, measured, not kept)."""
    source = duckdb.connect(store, read_only=True)
    rows = source.execute(f"SELECT * FROM narrow_events LIMIT {ROW_GROUP * 8}").to_arrow_table()
    source.close()
    create = f"CREATE TABLE t ({', '.join(schema_16(rows))})"
    for r in range(rounds):
        costs = []
        for size in ROW_GROUP_SIZES if r % 2 == 0 else list(reversed(ROW_GROUP_SIZES)):
            with tempfile.TemporaryDirectory() as tmp:
                con = fresh(tmp, "t", "v1.2.0", size)
                con.execute(create)
                took, _ = write(con, "t", rows, rows.num_rows, size)
                groups = con.execute(
                    "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('t')"
                ).fetchone()[0]
                con.close()
                mb = os.path.getsize(os.path.join(tmp, "t.duckdb")) / 1e6
            costs.append(
                f"{size} rows: {took / rows.num_rows * 1e6:.3f} us/row, {groups} groups, {mb:.1f} MB"
            )
        print("; ".join(costs), flush=True)


STORE_MODES = {
    "tables": tables, "derived": derived, "lifecycle": lifecycle, "layouts": layouts,
    "storage": storage, "rowgroups": rowgroups,
}


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    mode = sys.argv[2] if len(sys.argv) > 2 else "split"
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    if mode in STORE_MODES:
        STORE_MODES[mode](sys.argv[1], rounds)
        return
    rows = stored_events(sys.argv[1])
    if mode == "columns":
        columns(rows)
    elif mode == "split":
        split(rows, rounds)
    elif mode == "forced":
        forced(rows, rounds)
    elif mode == "types":
        types(rows, rounds)
    elif mode == "orders":
        orders(rows, rounds)
    elif mode == "views":
        views(rows, rounds)
    elif mode == "dictionaries":
        dictionaries(rows, rounds)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
