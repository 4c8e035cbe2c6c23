#!/usr/bin/env python3
"""Writes crates/query/tests/survival_reference.json: Kaplan-Meier curves (survival, Greenwood
standard errors, numbers at risk) and log-rank tests computed by statsmodels
(statsmodels.duration.survfunc), for the data sets below. The Rust survival module is tested
against these numbers. Needs: pip install statsmodels."""
import json
import os

import numpy as np
from statsmodels.duration.survfunc import SurvfuncRight, survdiff


def lcg(seed):
    """A small deterministic generator, so the data sets are the same everywhere."""
    state = seed
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        yield (state >> 11) / 2**53


def synthetic(seed, n, scale, censor_after):
    g = lcg(seed)
    times, events = [], []
    for _ in range(n):
        t = round(-scale * np.log(1.0 - next(g)), 1)  # exponential, rounded so ties happen
        c = round(censor_after * next(g), 1)
        times.append(min(t, c))
        events.append(1 if t <= c else 0)
    return times, events


DATA = {
    "hand_small": ([1, 2, 2, 3, 4, 5, 5, 6, 8, 9, 10, 12, 12, 15], [1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0]),
    "ties_event_and_censor": ([2, 2, 2, 3, 3, 7, 7, 7, 9], [1, 0, 1, 0, 1, 1, 1, 0, 1]),
    "synthetic_a": synthetic(1, 200, 120.0, 400.0),
    "synthetic_b": synthetic(2, 150, 80.0, 400.0),
}


def curve(times, events):
    sf = SurvfuncRight(np.array(times, float), np.array(events, float))
    steps = [
        {"t": float(t), "at_risk": int(n), "events": int(d), "survival": float(s), "se": None if np.isnan(se) else float(se)}
        for t, n, d, s, se in zip(sf.surv_times, sf.n_risk, sf.n_events, sf.surv_prob, sf.surv_prob_se)
        if d > 0
    ]
    below = [s["t"] for s in steps if s["survival"] <= 0.5]
    return {"steps": steps, "median": below[0] if below else None}


def main():
    out = {"generator": "statsmodels " + __import__("statsmodels").__version__, "curves": [], "logrank": []}
    for name, (times, events) in DATA.items():
        out["curves"].append({"name": name, "times": times, "events": events, **curve(times, events)})
    for a, b in [("synthetic_a", "synthetic_b"), ("hand_small", "ties_event_and_censor")]:
        ta, ea = DATA[a]
        tb, eb = DATA[b]
        chi2, p = survdiff(np.array(ta + tb, float), np.array(ea + eb, float), np.array([0] * len(ta) + [1] * len(tb)))
        out["logrank"].append({"a": a, "b": b, "chi2": float(chi2), "p": float(p)})
    path = os.path.join(os.path.dirname(__file__), "..", "crates", "query", "tests", "survival_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
