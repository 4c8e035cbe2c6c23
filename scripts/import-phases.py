#!/usr/bin/env python3
"""How busy the cores are in each phase of a `keylens import`, from its log and /proc.

Usage: scripts/import-phases.py [--perf] KEYLENS EVENTS.ndjson [DATA_DIR]

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

With `--perf`, the import runs under `perf record -e cpu-clock -F 199` (its clock the wall
clock, to place each sample in a phase), and each phase's CPU time is then split by thread
(`main`, the writing thread and the derivation's first connection; the stages named by
`keylens import`: `keylens-read`, `keylens-prepare`, `keylens-refold`; `other`, DuckDB's
workers) and by the code it ran in (`DuckDB`, `keylens`, `kernel`, `libc`), in CPU seconds,
with the whole import's in microseconds an event (BENCHMARKS.md, "Session 37").
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


def workload(pid):
    """The process `perf record` (`pid`) started and measures."""
    while True:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = f.read().split()
        except OSError:
            return pid
        if children:
            return int(children[0])
        time.sleep(0.01)


def library(dso, binary):
    """The library a sample's code is in; `binary` is the file name of the keylens run."""
    name = os.path.basename(dso)
    if name.startswith("libduckdb"):
        return "DuckDB"
    if name == binary:
        return "keylens"
    if "kernel" in name:
        return "kernel"
    if name.startswith("libc.") or name.startswith("libc-"):
        return "libc"
    return "other"


SAMPLE = re.compile(r"\s*(\S+)\s+(\d+)\s+([\d.]+):\s+(\d+)\s+\S+\s+\((.*)\)\s*$")
LIBRARIES = ["DuckDB", "keylens", "kernel", "libc", "other"]
# The threads `keylens import` names; DuckDB's take the process's name.
STAGES = {"keylens-read", "keylens-prepare", "keylens-refold"}


def cpu_by_thread(perf_data, pid, binary):
    """Each `perf record` sample as (time, thread, library, CPU seconds); `binary` is the file
    name of the keylens run (a copy of the binary may be named otherwise)."""
    out = subprocess.run(
        ["perf", "script", "-i", perf_data, "-F", "comm,tid,time,period,ip,dso"],
        capture_output=True, text=True, check=True,
    ).stdout
    samples = []
    for line in out.splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        comm, tid, at, period, dso = m.groups()
        thread = "main" if int(tid) == pid else comm if comm in STAGES else "other"
        samples.append((float(at), thread, library(dso, binary), int(period) / 1e9))
    return samples


def print_split(samples, phases, accepted):
    """Each phase's CPU seconds by thread and library, then the whole import's."""

    def table(rows):
        print(f"    {'thread':16s}" + "".join(f"{l:>9s}" for l in LIBRARIES) + f"{'all':>9s}")
        threads = sorted({t for (t, _) in rows}, key=lambda t: -sum(
            v for (th, _), v in rows.items() if th == t))
        for t in threads:
            cells = [rows.get((t, l), 0.0) for l in LIBRARIES]
            print(f"    {t:16s}" + "".join(f"{c:9.1f}" for c in cells) + f"{sum(cells):9.1f}")

    whole = {}
    for start, end, what in phases:
        rows = {}
        for at, thread, lib, cpu in samples:
            if start <= at < end:
                rows[(thread, lib)] = rows.get((thread, lib), 0.0) + cpu
        for key, cpu in rows.items():
            whole[key] = whole.get(key, 0.0) + cpu
        print(f"\n{what} ({end - start:.2f} s), CPU seconds:")
        table(rows)
    print("\nwhole import, CPU seconds:")
    table(whole)
    if accepted:
        print(f"\nwhole import, CPU microseconds an event ({accepted} events):")
        print("    " + "  ".join(
            f"{l} {sum(v for (_, lib), v in whole.items() if lib == l) / accepted * 1e6:.2f}"
            for l in LIBRARIES) + f"  all {sum(whole.values()) / accepted * 1e6:.2f}")


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--perf"]
    perf = len(args) < len(sys.argv) - 1
    if len(args) < 2:
        sys.exit(__doc__)
    keylens, events = args[0], args[1]
    own = len(args) < 3
    data = tempfile.mkdtemp() + "/store" if own else args[2]
    tick = os.sysconf("SC_CLK_TCK")
    env = dict(os.environ, KEYLENS_LOG="info,keylens_store=debug")
    command = [keylens, "import", "--data", data, events]
    perf_data = None
    if perf:
        if shutil.which("perf") is None:
            sys.exit("--perf needs perf: apt-get install -y linux-perf")
        fd, perf_data = tempfile.mkstemp(suffix=".perf")
        os.close(fd)
        command = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "199",
                   "-k", "CLOCK_REALTIME", "-o", perf_data, "--"] + command
    try:
        measure(command, perf_data, own, data, env, tick)
    finally:
        if perf_data:
            os.remove(perf_data)


def measure(command, perf_data, own, data, env, tick):
    """Runs `command` (the import, under perf when `perf_data` is set) and prints its phases."""
    with tempfile.TemporaryFile("w+") as log:
        started = time.time()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
        pid = workload(proc.pid) if perf_data else proc.pid
        samples = []
        while proc.poll() is None:
            try:
                samples.append((time.time(), cpu_seconds(pid, tick), *machine_ticks()))
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
    phases = []
    for t, message in marks:
        now = nearest(t)
        if now[0] - before[0] >= 1.0:
            row(before, now, message)
            phases.append((before[0], now[0], message))
            before = now
    whole = f"whole import ({ended - started:.2f} s with start and exit)"
    row((samples[0][0], 0.0, *samples[0][2:]), samples[-1], whole)
    if perf_data:
        # The first and last phases reach to the process's start and exit.
        phases = phases or [(started, ended, "whole import")]
        phases[0] = (started, *phases[0][1:])
        phases[-1] = (*phases[-1][:1], ended, phases[-1][2])
        accepted = next(
            (int(m.group(1)) for m in map(re.compile(r".*accepted=(\d+)").match, lines) if m),
            0,
        )
        binary = os.path.basename(command[command.index("--") + 1])
        print_split(cpu_by_thread(perf_data, pid, binary), phases, accepted)


if __name__ == "__main__":
    main()
