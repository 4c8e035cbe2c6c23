#!/usr/bin/env python3
"""Background ingest against a running `keylens serve`, as the live benchmark sends it, from a
client outside the Rust benchmark (BENCHMARKS.md, "Session 9").

    scripts/ingest_load.py URL SECONDS [--overview]

Four threads POST batches of 250 validations (license ids L1-0..L1-249, an IP and country each)
to URL/v1/events as fast as the server answers, for SECONDS. With --overview, a fifth thread
polls /v1/metrics/overview and a sixth sends a created + activated probe license every 0.5 s.
Prints the events per second the four threads got accepted.
"""
import datetime
import sys
import threading
import time
import urllib.request


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def post(base, body):
    req = urllib.request.Request(
        base + "/v1/events", data=body.encode(), headers={"Content-Type": "application/x-ndjson"}
    )
    urllib.request.urlopen(req).read()


def main():
    base, secs = sys.argv[1], int(sys.argv[2])
    with_overview = "--overview" in sys.argv[3:]
    stop = time.time() + secs
    sent = [0] * 4
    polls = [0]

    def ingest(c):
        r = 0
        while time.time() < stop:
            ts = now()
            post(base, "\n".join(
                f'{{"id":"load-{c}-{r}-{i}","type":"license.validated","timestamp":"{ts}",'
                f'"license_id":"L1-{i}","result":"valid","latency_ms":40,"ip":"10.1.{c}.{i}","country":"DE"}}'
                for i in range(250)))
            sent[c] += 250
            r += 1

    def overview():
        while time.time() < stop:
            urllib.request.urlopen(base + "/v1/metrics/overview").read()
            polls[0] += 1

    def probe():
        k = 0
        while time.time() < stop:
            k += 1
            ts, lic = now(), f"probe-{time.time()}-{k}"
            post(base,
                 f'{{"id":"{lic}-c","type":"license.created","timestamp":"{ts}","license_id":"{lic}",'
                 f'"product":"p","model":"subscription","term":"P1Y"}}\n'
                 f'{{"id":"{lic}-a","type":"license.activated","timestamp":"{ts}","license_id":"{lic}","machine_id":"m"}}')
            time.sleep(0.5)

    threads = [threading.Thread(target=ingest, args=(c,)) for c in range(4)]
    if with_overview:
        threads += [threading.Thread(target=overview), threading.Thread(target=probe)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"events/s {sum(sent) / secs:.0f}" + (f", overviews {polls[0]}" if with_overview else ""))


if __name__ == "__main__":
    main()
