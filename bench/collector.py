#!/usr/bin/env python3
"""Collector at scale, through the real v2 client, as issue 16 measures the real one.

For each size N (default 1,000 and 10,000), in a fresh pool: advertise N slot ads
(``UPDATE_STARTD_AD``, batches of 1,000; each ad the captured ``slot1@vm`` Machine ad with
its own name and a ``Rack`` number, cut to 77 attributes as the ads real was measured with), then query them all (whole ads), a tenth of them
(``Rack == 0``), and all with a 3-attribute projection, and read the collector's RSS.
Times include the client's own decoding.  Median of ``--runs`` query repetitions.

    python bench/collector.py [--sizes 1000 10000] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.pool_startup import machine  # noqa: E402
from condor_sim.pool import Pool  # noqa: E402

SLOT_AD = Path(__file__).resolve().parent.parent / "fixtures" / "cli" / "condor_status" / "long-slot1.txt"
REAL = {1000: {"advertise_ads_per_s": 17700, "query_full_s": 0.129, "query_constrained_s": 0.018,
               "query_projected_s": 0.012, "collector_rss_mb": 25.0},
        10000: {"advertise_ads_per_s": 23800, "query_full_s": 1.20, "query_constrained_s": 0.143,
                "query_projected_s": 0.103, "collector_rss_mb": 102.5}}

CLIENT = r"""
import json, statistics, sys, time
import classad2, htcondor2
n, runs, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
text = open(path).read().split("--- stdout ---\n", 1)[1].split("--- stderr ---", 1)[0]
full_ad = classad2.parseOne(text)
# 77 attributes, as the ads the real collector was measured with
keep = ["MyType", "Name", "Machine", "MyAddress", "State", "Activity", "Cpus", "Memory", "Disk",
        "Arch", "OpSys", "SlotType", "StartdIpAddr", "CondorVersion", "LastHeardFrom"]
keep += [k for k in sorted(full_ad.keys()) if k not in keep][:77 - len(keep) - 1]
lines = [f"{k} = {full_ad.lookup(k)}" for k in keep if k in full_ad]
ad_text = "[" + "; ".join(lines) + "]"
base = classad2.parseOne(ad_text)
ads = []
for i in range(n):
    ad = classad2.parseOne(ad_text)
    ad["Name"] = f"slot1@node{i:05d}.sim"
    ad["Machine"] = f"node{i:05d}.sim"
    ad["Rack"] = i % 10
    ads.append(ad)
coll = htcondor2.Collector()
t = time.perf_counter()
for start in range(0, n, 1000):
    coll.advertise(ads[start:start + 1000], "UPDATE_STARTD_AD")
out = {"advertise_ads_per_s": n / (time.perf_counter() - t), "attributes": len(base)}
deadline = time.time() + 30
while len(coll.query(htcondor2.AdType.Startd, projection=["Name"])) < n and time.time() < deadline:
    time.sleep(0.05)
def timed(fn):
    times = []
    for _ in range(runs):
        t = time.perf_counter(); got = fn(); times.append(time.perf_counter() - t)
    return statistics.median(times), len(got)
out["query_full_s"], full = timed(lambda: coll.query(htcondor2.AdType.Startd))
out["query_constrained_s"], tenth = timed(lambda: coll.query(htcondor2.AdType.Startd, constraint="Rack == 0"))
out["query_projected_s"], proj = timed(lambda: coll.query(htcondor2.AdType.Startd, projection=["Name", "State", "Cpus"]))
assert full == n and tenth == n // 10 and proj == n, (full, tenth, proj)
print(json.dumps(out))
"""


def one(n: int, runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as d:
        pool = Pool(Path(d) / "pool", config={"DAEMON_LIST": "MASTER COLLECTOR"})
        pool.start(timeout=60)
        try:
            collector = next(p for p in pool.processes() if "condor_collector" in " ".join(p.cmdline()))
            r = subprocess.run([sys.executable, "-c", CLIENT, str(n), str(runs), str(SLOT_AD)],
                               env=pool.env, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"client failed:\n{r.stderr[-3000:]}")
            out = json.loads(r.stdout.strip().splitlines()[-1])
            out["collector_rss_mb"] = collector.memory_info().rss / 1e6
            return out
        finally:
            pool.stop(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    results = {n: one(n, args.runs) for n in args.sizes}
    print(f"machine: {machine()}  ({time.strftime('%Y-%m-%d %H:%M')})")
    attrs = next(iter(results.values()))["attributes"]
    print(f"slot ads of {attrs} attributes; query times are medians of {args.runs}")
    print(f"{'figure':24}" + "".join(f"{n:>12}" for n in args.sizes) + "".join(
        f"{'real@' + str(n):>12}" for n in args.sizes if n in REAL))
    for k in ("advertise_ads_per_s", "query_full_s", "query_constrained_s", "query_projected_s",
              "collector_rss_mb"):
        row = "".join(f"{results[n][k]:12.3f}" for n in args.sizes)
        row += "".join(f"{REAL[n][k]:12}" for n in args.sizes if n in REAL)
        print(f"{k:24}{row}")


if __name__ == "__main__":
    main()
