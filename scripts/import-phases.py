#!/usr/bin/env python3
"""How busy the cores are in each phase of a `keylens import`, from its log and /proc.

Usage: scripts/import-phases.py KEYLENS EVENTS.ndjson [DATA_DIR]

Runs `KEYLENS import --data DATA_DIR EVENTS.ndjson` (DATA_DIR default: a fresh temporary
folder, removed after) with `KEYLENS_LOG=info,keylens_store=debug`, reads the process's CPU time
(user and system, all threads) from `/proc/PID/stat` every 0.25 s, and prints, for each stretch
between two log lines longer than a second, its wall time, the CPU seconds spent in it and how
many cores that is on average, named by the log line that ends it: the batches end at
"events prepared", then the re-fold, the counts' catch-up and the spread's. On a machine of N
cores, a phase near N cores can only be shortened by less CPU work, not by running its parts
side by side (BENCHMARKS.md, "Session 36").

Each phase also gets the machine's share of time waiting on the disk (`iowait` in
`/proc/stat`, all cores). Above a few percent in the batches, the stream was read from disk,
not from the page cache: read it with `cat EVENTS.ndjson > /dev/null` just before the run.
"""

import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

LINE = re.compile(r"(\S+Z)\s+\S+\s+(\S+): (.*)")
COLOURS = re.compile(r"\x1b\[[0-9;]*m")


def cpu_seconds(pid, tick):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / tick


def machine_ticks():
    """The machine's CPU ticks since boot: waiting on the disk, and all."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[4], sum(fields)


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    keylens, events = sys.argv[1], sys.argv[2]
    own = len(sys.argv) < 4
    data = tempfile.mkdtemp() + "/store" if own else sys.argv[3]
    tick = os.sysconf("SC_CLK_TCK")
    env = dict(os.environ, KEYLENS_LOG="info,keylens_store=debug")
    with tempfile.TemporaryFile("w+") as log:
        started = time.time()
        proc = subprocess.Popen(
            [keylens, "import", "--data", data, events],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
        samples = []
        while proc.poll() is None:
            try:
                samples.append((time.time(), cpu_seconds(proc.pid, tick), *machine_ticks()))
            except OSError:
                break
            time.sleep(0.25)
        proc.wait()
        ended = time.time()
        log.seek(0)
        lines = [COLOURS.sub("", l) for l in log]
    if own:
        shutil.rmtree(os.path.dirname(data))
    if proc.returncode != 0:
        sys.stdout.writelines(lines[-20:])
        sys.exit(f"the import failed ({proc.returncode})")
    marks = []
    for line in lines:
        m = LINE.match(line)
        if m:
            at = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
            marks.append((at.timestamp(), m.group(3).strip()[:90]))
    marks.append((samples[-1][0], "(last sample)"))

    def nearest(t):
        return min(samples, key=lambda s: abs(s[0] - t))

    def row(before, now, what):
        wall, cpu = now[0] - before[0], now[1] - before[1]
        waiting = (now[2] - before[2]) / max(1, now[3] - before[3])
        print(f"{wall:8.2f} {cpu:8.2f} {cpu / wall:6.2f} {100 * waiting:6.1f}%  {what}")

    print(f"{'wall s':>8} {'CPU s':>8} {'cores':>6} {'iowait':>7}  phase ending at")
    before = samples[0]
    for t, message in marks:
        now = nearest(t)
        if now[0] - before[0] >= 1.0:
            row(before, now, message)
            before = now
    whole = f"whole import ({ended - started:.2f} s with start and exit)"
    row((samples[0][0], 0.0, *samples[0][2:]), samples[-1], whole)


if __name__ == "__main__":
    main()
