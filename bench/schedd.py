#!/usr/bin/env python3
"""Job queue benchmark, through the real v2 client (``htcondor2``), as issue 12 measures
the real schedd.

For each size N (default 1,000 and 10,000), in a fresh pool: submit N held procs in one
``submit(count=N)``, query all of them (full ads, then a 3-attribute projection), read the
schedd's RSS, remove them all (and wait until the queue is empty), then read all N back
from the history.  Every figure is wall time in the client process and includes the
client's own decoding, as the real figures do (the answer of one step is freed before
the next is timed).  Prints the median of ``--runs`` runs.

    python bench/schedd.py [--sizes 1000 10000] [--runs 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.pool_startup import machine  # noqa: E402
from condor_sim.pool import Pool  # noqa: E402

REAL = {"submit_procs_per_s": 3300, "query_full_s": 0.77, "query_projection_s": 0.173,
        "remove_all_s": 2.05, "history_full_s": 2.71, "schedd_rss_mb": 38.6}

CLIENT = r"""
import gc, json, sys, time
import htcondor2
n = int(sys.argv[1])
s = htcondor2.Schedd()
out = {}
sub = htcondor2.Submit({"executable": "/bin/sleep", "arguments": "600", "hold": "true"})
t = time.perf_counter(); r = s.submit(sub, count=n); out["submit_s"] = time.perf_counter() - t
c = r.cluster()
t = time.perf_counter(); ads = s.query(f"ClusterId == {c}"); out["query_full_s"] = time.perf_counter() - t
assert len(ads) == n, len(ads)
del ads; gc.collect()        # the previous answer's objects are not this query's cost
t = time.perf_counter(); ads = s.query(projection=["ClusterId", "ProcId", "JobStatus"])
out["query_projection_s"] = time.perf_counter() - t
assert len(ads) == n
del ads; gc.collect()
print(json.dumps(out), flush=True)
sys.stdin.readline()          # the parent reads the schedd's RSS now
t = time.perf_counter()
s.act(htcondor2.JobAction.Remove, f"ClusterId == {c}")
while s.query(projection=["ProcId"], limit=1):
    time.sleep(0.01)
out2 = {"remove_all_s": time.perf_counter() - t}
t = time.perf_counter(); h = list(s.history(None, [], match=n)); out2["history_full_s"] = time.perf_counter() - t
assert len(h) == n, len(h)
print(json.dumps(out2), flush=True)
"""


def one_run(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-schedd-") as d:
        pool = Pool(Path(d) / "pool")
        pool.start(timeout=60)
        try:
            schedd = next(p for p in pool.processes() if "condor_schedd" in " ".join(p.cmdline()))
            proc = subprocess.Popen([sys.executable, "-c", CLIENT, str(n)], env=pool.env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            first = json.loads(proc.stdout.readline())
            first["schedd_rss_mb"] = schedd.memory_info().rss / 1e6
            proc.stdin.write("\n")
            proc.stdin.flush()
            second = json.loads(proc.stdout.readline())
            proc.wait(60)
            out = {**first, **second}
            out["submit_procs_per_s"] = n / out.pop("submit_s")
            return out
        finally:
            pool.stop(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = {}
    for n in args.sizes:
        runs = [one_run(n) for _ in range(args.runs)]
        results[n] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    if args.json:
        print(json.dumps({"machine": machine(), "results": results}, indent=1))
        return
    print(f"machine: {machine()}  ({time.strftime('%Y-%m-%d')}, median of {args.runs})")
    names = list(REAL)
    print(f"{'figure':22}" + "".join(f"{n:>12}" for n in args.sizes) + f"{'real@10k':>12}")
    for k in names:
        print(f"{k:22}" + "".join(f"{results[n][k]:12.3f}" for n in args.sizes) + f"{REAL[k]:12}")


if __name__ == "__main__":
    main()
