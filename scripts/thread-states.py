#!/usr/bin/env python3
"""How many of a process's threads are runnable at once, sampled from /proc.

Usage: scripts/thread-states.py PID [SECONDS]

Every 3 ms for SECONDS (default 15) reads each thread's state (`R` running or waiting for a
core, `S` sleeping, `D` waiting for I/O) and prints the most frequent combinations, the share of
samples with 0, 1, 2, ... runnable threads, and each thread's shares. On a 2-core machine the
samples with one runnable thread are those where a core had nothing to do. Run it against a
`keylens import` mid-batches, e.g. `keylens import --data FRESH events.ndjson & sleep 20;
scripts/thread-states.py $!` (BENCHMARKS.md, "Session 27"). The sampler itself takes a few
percent of a core.
"""

import collections
import os
import sys
import time


def state(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            stat = f.read()
    except OSError:
        return "?"
    return stat[stat.rindex(")") + 2]


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pid = int(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    combos = collections.Counter()
    per_thread = collections.defaultdict(collections.Counter)
    end = time.time() + seconds
    samples = 0
    while time.time() < end:
        states = [state(pid, t) for t in tids]
        combos["".join(states)] += 1
        for t, s in zip(tids, states):
            per_thread[t][s] += 1
        samples += 1
        time.sleep(0.003)
    print(f"threads {tids}, {samples} samples")
    for combo, n in combos.most_common(8):
        print(f"  {combo} {n / samples:.3f}")
    runnable = collections.Counter()
    for combo, n in combos.items():
        runnable[combo.count("R")] += n
    print("runnable at once:", {k: round(n / samples, 3) for k, n in sorted(runnable.items())})
    for t in tids:
        print(f"  {t}", {s: round(n / samples, 3) for s, n in sorted(per_thread[t].items())})


if __name__ == "__main__":
    main()
