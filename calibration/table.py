#!/usr/bin/env python3
"""The calibration table from calibration/run.sh's output directory: per scenario, decisions
matched, the replica timeline error, the timing offsets of matched decisions and the upstream
version the twin was compared with.

usage: calibration/table.py OUT_DIR
"""
import csv
import gzip
import json
import os
import sys

DECISIONS = ["rescales", "scaleUps", "nodeLaunches", "nodeRemovals", "preemptions",
             "evictions", "oomKills", "resizes", "statefulSetPods"]


def pct(xs, p):
    """The p-th percentile (nearest rank) of xs, or None."""
    if not xs:
        return None
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def series(path):
    """{column: [(time, value)]} of a run's timeseries.csv (or its .gz), for the replica
    columns."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        f = gzip.open(path + ".gz", "rt", newline="")
    else:
        f = open(path, newline="")
    with f:
        rows = list(csv.reader(f))
    head, out = rows[0], {}
    for i, name in enumerate(head):
        if name.startswith(("deploy/", "sts/")) and name.endswith("/desired"):
            out[name] = [(float(r[0]), float(r[i])) for r in rows[1:] if r[i] != ""]
    return out


def at(points, t):
    """The last value at or before t."""
    v = points[0][1]
    for pt, pv in points:
        if pt > t:
            break
        v = pv
    return v


def fmt(x, unit=""):
    return "–" if x is None else f"{x:g}{unit}"


def main(out):
    print("| scenario | decisions matched | steps matched | replica error p50 / p95 | "
          "decision offset p50 / p95 | diff | upstream |")
    print("|---|---|---|---|---|---|---|")
    for name in sorted(os.listdir(out)):
        d = os.path.join(out, name)
        if not os.path.isfile(os.path.join(d, "diff", "diff.json")):
            continue
        diff = json.load(open(os.path.join(d, "diff", "diff.json")))
        cats = diff["categories"]
        matched = sum(cats[c]["counts"]["matched"] for c in DECISIONS if c in cats)
        total = sum(sum(cats[c]["counts"].values()) for c in DECISIONS if c in cats)
        offsets = [abs(m["offset"]) for c in DECISIONS if c in cats
                   for m in cats[c].get("matched", []) if m.get("offset") is not None]
        steps = cats.get("steps", {}).get("counts", {})
        steps_total = sum(steps.values())
        a = series(os.path.join(d, "twin", "timeseries.csv"))
        b = series(os.path.join(d, "cluster", "timeseries.csv"))
        errors = [abs(at(a[k], t) - v) for k in a.keys() & b.keys() for t, v in b[k]]
        summary = json.load(open(os.path.join(d, "cluster", "summary.json")))
        version = (summary.get("controlPlane") or {}).get("version", "?")
        verdict = "equal" if diff["equal"] else "differs"
        print(f"| {name} | {matched}/{total} | {steps.get('matched', 0)}/{steps_total} | "
              f"{fmt(pct(errors, 50))} / {fmt(pct(errors, 95))} | "
              f"{fmt(pct(offsets, 50), ' s')} / {fmt(pct(offsets, 95), ' s')} | {verdict} | "
              f"{version} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
