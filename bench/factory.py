#!/usr/bin/env python3
"""Late materialization benchmark: what a job factory costs on a fresh five-daemon pool,
through the real v2 client.

* **learning the digest**: the schedd learns a factory's jobs by running its digest
  through the real submit code (a child process that submits it to a private recording
  queue).  Timed alone, as the schedd runs it, for digests of ``--sizes`` jobs
  (``arguments = $(Process)``, ``Queue N``), as a whole command;
* **first job**: from the start of ``submit()`` of a factory of ``--jobs`` ``/bin/true``
  (``max_materialize = --limit``) to the first query that finds one of its jobs;
* **all jobs**: from the start of that ``submit()`` to the moment the last of them has
  left the queue, in jobs/s, beside the same jobs submitted as an ordinary cluster;
* **a big factory's first job**: the same for a factory of ``--big`` jobs (its jobs are
  streamed from the child as the client makes them, so the first is queued before the
  last is learned).

Medians over ``--repeat`` runs, each on a fresh pool (4 CPUs).  Prints a table.

    python bench/factory.py [--jobs 100] [--limit 10] [--sizes 100,1000,5000] [--big 20000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.pool_startup import machine  # noqa: E402
from condor_sim.pool import Pool  # noqa: E402

FIVE = "MASTER COLLECTOR NEGOTIATOR SCHEDD STARTD"

CLIENT = r"""
import json, sys, time
import htcondor2 as htcondor
spec = json.loads(sys.argv[1])
schedd = htcondor.Schedd()
out = {}
for name, extra in (("factory", {"max_materialize": str(spec["limit"])}), ("plain", {})):
    desc = {"executable": "/bin/true", **extra}
    t0 = time.perf_counter()
    c = schedd.submit(htcondor.Submit(desc), count=spec["jobs"]).cluster()
    first = None
    while True:
        n = len(schedd.query(f"ClusterId == {c}", ["ProcId"]))
        now = time.perf_counter()
        if n and first is None:
            first = now - t0
        if not n and first is not None and now - t0 > 0.05:
            break
        if now - t0 > 300:
            raise SystemExit("timed out")
        time.sleep(0.01)
    out[name] = {"first": first, "all": now - t0}
if spec["big"]:
    t0 = time.perf_counter()
    c = schedd.submit(htcondor.Submit({"executable": "/bin/true", "max_materialize": "10"}),
                      count=spec["big"]).cluster()
    while not schedd.query(f"ClusterId == {c}", ["ProcId"]):
        time.sleep(0.01)
    out["big"] = {"first": time.perf_counter() - t0}
    schedd.act(htcondor.JobAction.Remove, f"{c}")
print(json.dumps(out))
"""


def learn(pool: Pool, n: int, work: Path) -> float:
    digest = work / f"d{n}.digest"
    digest.write_text(f"arguments=$(Process)\nFACTORY.Iwd={work}\nQueue {n}\n")
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "condor_sim.daemons.schedd.digest_jobs", str(digest), "1"],
                       env=env, capture_output=True, text=True, timeout=600, cwd=work)
    took = time.perf_counter() - t0
    lines = r.stdout.splitlines()
    if r.returncode != 0 or json.loads(lines[-1]) != {"done": n} or len(lines) != n + 1:
        raise SystemExit(f"digest of {n} jobs: {r.stderr[-500:]}")
    return took


def one_run(args, sizes: list[int]) -> dict:
    with tempfile.TemporaryDirectory(prefix="condor-sim-bench-") as d:
        work = Path(d)
        pool = Pool(work / "pool", config={"DAEMON_LIST": FIVE, "NUM_CPUS": "4", "MEMORY": "4096"})
        pool.start(timeout=60)
        try:
            out = {f"learn{n}": learn(pool, n, work) for n in sizes}
            env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file))
            r = subprocess.run([sys.executable, "-c", CLIENT, json.dumps({"jobs": args.jobs, "limit": args.limit,
                                                                 "big": args.big})],
                               env=env, capture_output=True, text=True, timeout=900, cwd=work)
            if r.returncode != 0:
                raise SystemExit(r.stderr[-2000:])
            out.update(json.loads(r.stdout))
            return out
        finally:
            pool.stop(timeout=60)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", type=int, default=20000, help="jobs of the big factory (0: none)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    runs = [one_run(args, sizes) for _ in range(args.repeat)]
    med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
    print(f"machine: {machine()}")
    print(f"load average: {os.getloadavg()[0]:.2f}; median of {args.repeat} runs\n")
    print("| measure | value |\n|---|---|")
    for n in sizes:
        t = med(lambda r: r[f"learn{n}"])
        print(f"| learning a digest of {n} jobs | {t:.2f} s ({1000 * t / n:.2f} ms/job) |")
    print(f"| factory of {args.jobs} x /bin/true (limit {args.limit}): first job queued | "
          f"{med(lambda r: r['factory']['first']):.3f} s |")
    print(f"| same, all done | {args.jobs / med(lambda r: r['factory']['all']):.2f} jobs/s |")
    if args.big:
        print(f"| factory of {args.big} x /bin/true (limit 10): first job queued | "
              f"{med(lambda r: r['big']['first']):.3f} s |")
    print(f"| {args.jobs} x /bin/true as one ordinary cluster, all done | "
          f"{args.jobs / med(lambda r: r['plain']['all']):.2f} jobs/s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
