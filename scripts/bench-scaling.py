#!/usr/bin/env python3
"""The scaling curve of the performance issue: the same figures at each size, side by side.

Usage: scripts/bench-scaling.py LOG [LOG ...]

Each LOG is the whole output of one `scripts/bench.sh N` run (`scripts/bench.sh 10000 > LOG
2>&1`). The size is read from the log's "== generate N licenses" line, and the logs are shown
from the smallest size to the largest. Prints, as markdown tables: the import (events,
seconds, events/s, its batches and derivation from the log lines of `keylens import`, peak
RSS, and the import_floor bench beside the bare appender), each criterion case's estimate with
the growth from each size to the next, keylens's time over the hand-written SQL's, the live
figures under ingest, and HTTP ingest. A figure a log lacks (a step that failed) is shown as
"-", so that a broken run cannot pass for a complete one unnoticed. Nothing is measured here:
the figures are the logs' own (BENCHMARKS.md, "Session 38").
"""

import re
import sys

COLOURS = re.compile(r"\x1b\[[0-9;]*m")
UNITS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}


def parse(path):
    """The figures of one bench.sh log, keyed by what they are."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [COLOURS.sub("", line.rstrip("\n")) for line in f]
    run = {"cases": {}, "baseline": {}, "live": {}, "http": {}}
    case = None
    section = ""
    for line in lines:
        if line.startswith("== "):
            section = line[3:]
        m = re.match(r"== generate (\d+) licenses", line)
        if m:
            run["licenses"] = int(m.group(1))
        m = re.match(r"events: (\d+) \(([^,]+),", line)
        if m:
            run["events"], run["size"] = int(m.group(1)), m.group(2)
        m = re.match(r"import: ([0-9.]+) s, max RSS (\d+) KiB", line)
        if m:
            run["import_s"], run["import_rss"] = float(m.group(1)), int(m.group(2))
        for key in ("append_s", "derive_s"):
            m = re.search(key + r"=([0-9.]+)", line)
            if m and section.startswith("import (durable"):
                run[key] = float(m.group(1))
        m = re.match(r"\| `keylens import` .*\| ([0-9.]+) \| (\d+) \|$", line)
        if m:
            run["floor_keylens"] = int(m.group(2))
        m = re.match(r"\| floor: .*\| ([0-9.]+) \| (\d+) \|$", line)
        if m:
            run["floor_bare"] = int(m.group(2))
        # criterion: the case's name on its own line, or before its time on the same line.
        m = re.match(r"((?:metric|answer_json)/\S+)(?:\s+time:\s+\[(.*)\])?$", line)
        if m:
            case = m.group(1)
            if m.group(2):
                run["cases"][case] = middle(m.group(2))
                case = None
            continue
        m = re.match(r"\s+time:\s+\[(.*)\]$", line)
        if m and case:
            run["cases"][case] = middle(m.group(1))
            case = None
        if section.startswith("keylens beside hand-written"):
            m = re.match(r"\| (.+?) \| ([0-9.]+) ms \| ([0-9.]+) ms \| [0-9.]+ \| (<= [0-9/]+) \|", line)
            if m:
                run["baseline"][m.group(1).strip()] = (float(m.group(2)), float(m.group(3)), m.group(4))
        if section.startswith("live figures"):
            m = re.match(r"\| (.+?) \| (.+?) \|$", line)
            if m and not m.group(1).startswith(("live figure", "---")):
                run["live"][label(m.group(1))] = m.group(2)
        if section.startswith("HTTP ingest"):
            m = re.match(r"\| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", line)
            if m:
                run["http"][(int(m.group(1)), int(m.group(2)))] = int(m.group(4))
    if "licenses" not in run:
        sys.exit(f"{path}: no '== generate N licenses' line: not a scripts/bench.sh log")
    return run


def middle(triple):
    """Criterion's estimate (the middle of its three figures), in ms."""
    parts = triple.split()
    return float(parts[2]) * UNITS[parts[3]]


def label(text):
    """A live figure's name without the counts that differ from run to run (licenses calling,
    requests, probes), so that one row holds the figure of every size."""
    return re.sub(r"\s*\(\d+ (licenses calling|requests|probes)\)", "", text).strip()


def num(x, digits=1):
    return "-" if x is None else f"{x:,.{digits}f}"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    runs = sorted((parse(p) for p in sys.argv[1:]), key=lambda r: r["licenses"])
    sizes = [f"{r['licenses']:,}" for r in runs]

    print("| licenses | events (NDJSON) | import | events/s | batches / derive | max RSS | import_floor: keylens / bare appender |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        secs, events = r.get("import_s"), r.get("events")
        rate = f"{events / secs:,.0f}" if secs and events else "-"
        floor = "-"
        if r.get("floor_keylens") and r.get("floor_bare"):
            floor = f"{r['floor_keylens']:,} / {r['floor_bare']:,} events/s ({r['floor_keylens'] / r['floor_bare']:.2f} x)"
        # The log's append_s is the writing thread's time in the batches' appends, derive_s the
        # derivation after the last batch.
        shown = f"{events:,} ({r['size']})" if events else "-"
        rss = f"{r['import_rss']:,} KiB" if "import_rss" in r else "-"
        print(
            f"| {r['licenses']:,} | {shown} | {num(secs, 2)} s | {rate} "
            f"| {num(r.get('append_s'), 2)} / {num(r.get('derive_s'), 2)} s | {rss} | {floor} |"
        )
    print()

    names = union(runs, "cases")
    growth = [f"{b} / {a}" for a, b in zip(sizes, sizes[1:])]
    header("case", sizes + growth)
    for name in names:
        times = [r["cases"].get(name) for r in runs]
        ratios = [f"{b / a:.1f}" if a and b else "-" for a, b in zip(times, times[1:])]
        shown = name.removeprefix("metric/").replace("answer_json/", "answer JSON: ")
        row(shown, [f"{num(t)} ms" if t else "-" for t in times] + ratios)
    print()

    header("metric: keylens / hand-written SQL (target)", sizes)
    for name in union(runs, "baseline"):
        found = [r["baseline"].get(name) for r in runs]
        target = next(b[2] for b in found if b)
        cells = [f"{b[0] / b[1]:.2f} ({b[0]:.1f} / {b[1]:.1f} ms)" if b else "-" for b in found]
        row(f"{name} ({target})", cells)
    print()

    header("live figure", sizes)
    for fig in union(runs, "live"):
        row(fig, [r["live"].get(fig, "-") for r in runs])
    print()

    header("HTTP ingest: clients x events per request", sizes)
    for shape in sorted(union(runs, "http"), key=lambda s: (s[1], s[0])):
        cells = [f"{r['http'][shape]:,} events/s" if shape in r["http"] else "-" for r in runs]
        row(f"{shape[0]} x {shape[1]:,}", cells)


def union(runs, field):
    """The keys of `field` over all runs, each once, in the order the logs first give them."""
    keys = []
    for r in runs:
        keys += [k for k in r[field] if k not in keys]
    return keys


def header(first, columns):
    print(f"| {first} | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))


def row(first, cells):
    print(f"| {first} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
