#!/usr/bin/env python3
"""Times forms of the spread's distinct values over every stored event (an import's catch-up).

Usage: scripts/spread-values-forms.py STORE.duckdb [ROUNDS]

Opens the store read-only (DuckDB's Python package at the version keylens links, 1.5.6) on two
threads and computes, for every event, the distinct (license, kind, value) rows with their
digests three ways, alternating, checking that each gives the count and digest sum of the
first:

- `spread_values` as keylens builds it (crates/query/src/metrics/misuse.rs): the four kinds'
  rows in one union, made distinct together;
- each kind made distinct on its own, then the union (the kinds differ, so the union of the
  distinct parts is distinct);
- each event's (license, machine if an activation, IP, country, place) made distinct once into
  a temporary table, the kinds made distinct from it.

BENCHMARKS.md, "Session 27", has the figures: the second form, built, did not shorten the import's
catch-up, and was not kept.
"""

import sys
import time

import duckdb

CONDITION = "received_at > 0"
HASHED = "SELECT license_id, kind, value, hash(license_id, kind, value) AS h FROM ({}) d"
PLACES = (
    "SELECT license_id, 'place' AS kind, CAST(lat AS VARCHAR) || ',' || CAST(lon AS VARCHAR) "
    "AS value FROM (SELECT DISTINCT license_id, lat, lon, signbit(lat) AS lat_sign, "
    "signbit(lon) AS lon_sign FROM {source} WHERE license_id IS NOT NULL AND lat IS NOT NULL "
    "AND lon IS NOT NULL AND {condition}) p"
)
KINDS = [
    ("machine", "machine_id", "type = 'license.activated' AND machine_id IS NOT NULL"),
    ("ip", "ip", "ip IS NOT NULL"),
    ("country", "country", "country IS NOT NULL"),
]


def part(kind, value, has, distinct):
    return (
        f"SELECT {distinct}license_id, '{kind}' AS kind, {value} AS value FROM events "
        f"WHERE license_id IS NOT NULL AND {has} AND {CONDITION}"
    )


def together():
    parts = [part(k, v, h, "") for k, v, h in KINDS]
    parts.append(PLACES.format(source="events", condition=CONDITION))
    return HASHED.format(
        f"SELECT DISTINCT license_id, kind, value FROM ({' UNION ALL '.join(parts)}) v"
    )


def each():
    parts = [part(k, v, h, "DISTINCT ") for k, v, h in KINDS]
    parts.append(PLACES.format(source="events", condition=CONDITION))
    return HASHED.format(" UNION ALL ".join(parts))


COMBOS = (
    "CREATE OR REPLACE TEMP TABLE combos AS SELECT DISTINCT license_id, CASE WHEN type = "
    "'license.activated' THEN machine_id END AS machine_id, ip, country, lat, lon, "
    "signbit(lat) AS lat_sign, signbit(lon) AS lon_sign FROM events "
    f"WHERE license_id IS NOT NULL AND {CONDITION}"
)


def from_combos():
    parts = [
        f"SELECT DISTINCT license_id, '{k}' AS kind, {v} AS value FROM combos "
        f"WHERE {v} IS NOT NULL"
        for k, v, _ in KINDS
    ]
    parts.append(PLACES.format(source="combos", condition="true"))
    return HASHED.format(" UNION ALL ".join(parts))


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    con = duckdb.connect(sys.argv[1], read_only=True)
    con.execute("SET threads = 2")
    forms = [
        ("together", None, together()),
        ("each kind", None, each()),
        ("from combos", COMBOS, from_combos()),
    ]
    for _ in range(rounds):
        expected = None
        for name, before, query in forms:
            began = time.perf_counter()
            if before:
                con.execute(before)
            got = con.execute(f"SELECT count(*), sum(h::HUGEINT) FROM ({query})").fetchone()
            took = time.perf_counter() - began
            expected = expected or got
            same = "same rows" if got == expected else f"DIFFERENT: {got} against {expected}"
            print(f"{name:12s} {took:.2f} s, {got[0]} rows, {same}")


if __name__ == "__main__":
    main()
