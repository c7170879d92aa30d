#!/usr/bin/env python3
"""Jobs benchmark, through the real v2 client (``htcondor2``): how fast a submitted job
runs to completion on a fresh five-daemon pool.

- latency: one ``/bin/true`` job from ``submit()`` until it has left the queue (the
  median of ``--repeat`` jobs, one after the other), and from ``submit()`` to its EXECUTE
  event in the user log;
- throughput: ``--jobs`` ``/bin/true`` jobs in one submit until the queue is empty, in
  jobs per second; and ``--jobs / 5`` ``sleep 1`` jobs on ``--cpus`` cores (the ideal is
  their count / cpus seconds).

Every figure is wall time in the client process.  Prints numbers only.

    python bench/jobs.py [--jobs 100] [--cpus 4] [--repeat 5]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.pool_startup import machine  # noqa: E402
from condor_sim.pool import Pool  # noqa: E402

CLIENT = r"""
import json, statistics, sys, time
import htcondor2
n, repeat, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = htcondor2.Schedd()

def wait_empty(c):
    while s.query(f"ClusterId == {c}", ["ProcId"]):
        time.sleep(0.02)

def execute_time(log):
    for e in htcondor2.JobEventLog(log).events(stop_after=0):
        if e.type == htcondor2.JobEventType.EXECUTE:
            return e.timestamp
    return None

out = {"latency_s": [], "to_execute_s": []}
for i in range(repeat):
    log = f"{work}/one{i}.log"
    t = time.time()
    c = s.submit(htcondor2.Submit({"executable": "/bin/true", "log": log})).cluster()
    wait_empty(c)
    out["latency_s"].append(time.time() - t)
    ex = execute_time(log)
    if ex is not None:
        out["to_execute_s"].append(max(0.0, ex - int(t)))
t = time.time()
c = s.submit(htcondor2.Submit({"executable": "/bin/true"}), count=n).cluster()
wait_empty(c)
out["true_jobs_per_s"] = n / (time.time() - t)
m = max(1, n // 5)
t = time.time()
c = s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "1"}), count=m).cluster()
wait_empty(c)
out["sleep_jobs"] = m
out["sleep_wall_s"] = time.time() - t
print(json.dumps(out))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100, help="jobs in the throughput run (default 100)")
    ap.add_argument("--cpus", type=int, default=4, help="NUM_CPUS of the simulated machine (default 4)")
    ap.add_argument("--repeat", type=int, default=5, help="single jobs for the latency (default 5)")
    args = ap.parse_args()
    import statistics
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="condor-sim-jobs-") as tmp:
        pool = Pool(Path(tmp) / "pool", config={
            "DAEMON_LIST": "MASTER COLLECTOR NEGOTIATOR SCHEDD STARTD",
            "NUM_CPUS": str(args.cpus), "MEMORY": str(1024 * args.cpus * 2)})
        pool.start(timeout=60)
        try:
            env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file))
            r = subprocess.run([sys.executable, "-c", CLIENT, str(args.jobs), str(args.repeat), tmp],
                               env=env, capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                print(r.stderr[-2000:])
                return 1
            out = json.loads(r.stdout.strip().splitlines()[-1])
        finally:
            pool.stop(timeout=30)
    lat = out["latency_s"]
    print(f"one /bin/true job, submit to out of the queue: median {statistics.median(lat):.3f} s "
          f"(min {min(lat):.3f}, max {max(lat):.3f}, {len(lat)} jobs)")
    if out["to_execute_s"]:
        print(f"submit to EXECUTE event (1 s resolution): median {statistics.median(out['to_execute_s']):.0f} s")
    print(f"{args.jobs} /bin/true jobs in one submit: {out['true_jobs_per_s']:.1f} jobs/s on {args.cpus} cpus")
    print(f"{out['sleep_jobs']} 'sleep 1' jobs on {args.cpus} cpus: {out['sleep_wall_s']:.2f} s "
          f"(ideal {out['sleep_jobs'] / args.cpus:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
