#!/usr/bin/env python3
"""Pool start-up benchmark.

For each run: a fresh pool directory, ``Pool.start()`` (launch ``condor_master`` and
wait until the *real* client sees the master's and the schedd's ads in the collector and
``locate()`` agrees), then the total RSS of the pool's processes, then ``Pool.stop()``.
Prints the median over the runs of the time from launch to ready and of the RSS.

    python bench/pool_startup.py [--runs 10] [--settle 0] [--no-prestart] [--json]

``--settle S`` also measures the RSS again S seconds after ready (after the first
periodic updates).  ``--no-prestart`` turns off the master's pre-started daemon
processes (``CONDOR_SIM_PRESTART_DAEMONS = false``), for comparison.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from condor_sim.pool import READY_PROBE, Pool  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import htcondor2
        client = f"htcondor2 {htcondor2.version().split()[1]}"
    except Exception:
        client = "htcondor2 ?"
    mem = psutil.virtual_memory().total / 2**30
    return (f"{cpu}, {psutil.cpu_count()} cores, {mem:.1f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {client}")


def probe_cost(pool: Pool, runs: int = 5) -> float:
    """Seconds for the readiness check alone against a pool that is already up."""
    import subprocess
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", READY_PROBE, "20", str(pool.directory)],
                       env=pool.env, capture_output=True, check=True)
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--settle", type=float, default=0.0, help="also measure RSS this many seconds after ready")
    ap.add_argument("--no-prestart", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    config = {"CONDOR_SIM_PRESTART_DAEMONS": "false"} if args.no_prestart else {}
    env_before = os.environ.get("CONDOR_SIM_PRESTART_DAEMONS")
    if args.no_prestart:
        os.environ["CONDOR_SIM_PRESTART_DAEMONS"] = "false"
    ready, rss, pss, rss_settled, nprocs = [], [], [], [], set()
    cost = None
    with tempfile.TemporaryDirectory(prefix="condor-sim-bench-") as tmp:
        for i in range(args.runs):
            pool = Pool(Path(tmp) / f"run{i}", config=config)
            pool.create()
            try:
                ready.append(pool.start(timeout=60, create=False))
                procs = pool.processes()
                nprocs.add(len(procs))
                rss.append(sum(p.memory_info().rss for p in procs) / 1e6)
                try:
                    pss.append(sum(p.memory_full_info().pss for p in procs) / 1e6)
                except (psutil.Error, AttributeError):
                    pass
                if args.settle:
                    time.sleep(args.settle)
                    rss_settled.append(sum(p.memory_info().rss for p in pool.processes()) / 1e6)
                if i == args.runs - 1:
                    cost = probe_cost(pool)
            finally:
                pool.stop(timeout=30)
                left = pool.processes()
                if left:
                    print(f"warning: run {i} left {[p.pid for p in left]}", file=sys.stderr)
    if env_before is None:
        os.environ.pop("CONDOR_SIM_PRESTART_DAEMONS", None)

    out = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "runs": args.runs,
        "prestart": not args.no_prestart,
        "ready_median_s": round(statistics.median(ready), 3),
        "ready_min_s": round(min(ready), 3),
        "ready_max_s": round(max(ready), 3),
        "rss_median_mb": round(statistics.median(rss), 1),
        "pss_median_mb": round(statistics.median(pss), 1) if pss else None,
        "processes": sorted(nprocs),
        "readiness_check_alone_s": round(cost, 3) if cost is not None else None,
    }
    if rss_settled:
        out["rss_settled_median_mb"] = round(statistics.median(rss_settled), 1)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"machine: {out['machine']}")
    print(f"date:    {out['date']}")
    print(f"pool start-up, launch to ready ({args.runs} runs{'' if out['prestart'] else ', no pre-start'}):")
    print(f"  median {out['ready_median_s']:.3f} s   (min {out['ready_min_s']:.3f}, max {out['ready_max_s']:.3f})")
    print(f"  all runs: {' '.join(f'{t:.3f}' for t in ready)}")
    print(f"pool RSS at ready ({'/'.join(map(str, out['processes']))} processes): "
          f"median {out['rss_median_mb']:.1f} MB"
          + (f" (PSS {out['pss_median_mb']:.1f} MB: shared libraries counted once)" if pss else ""))
    if rss_settled:
        print(f"pool RSS {args.settle:g} s after ready: median {out['rss_settled_median_mb']:.1f} MB")
    if cost is not None:
        print(f"readiness check alone (real client, pool already up): {cost:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
