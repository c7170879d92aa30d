#!/usr/bin/env python3
"""How long ``reset()`` of the pytest plugin's pool handle takes.

The plugin calls ``condor_pool.reset()`` after every test that used the session pool, so
its cost when the test changed nothing is paid by every test (target < 20 ms).  The other
rows are what a test pays for what it changed:

* nothing changed            nothing to restore (config files and processes checked)
* after pause("SCHEDD")      SIGCONT
* after a marker             config.d restored + reconfig of every daemon, until each one
                             has re-read its config
* marker applied             the other half of a marked test: drop-in + the same reconfig
* after kill("SCHEDD")       the master starts it again at once (DaemonOn), until it listens
                             and its ad is in the collector
* after kill("COLLECTOR")    same, plus everybody advertises again (a reconfig)
* after kill("MASTER")       the whole pool is started again

    python bench/reset.py [--runs 200] [--json]

Medians, with the fastest and slowest run.  One pool (secure posture, default config),
the handle in this process with the pool as its client config, as under the plugin.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from condor_sim.testing import SimPool  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def timed(fn, runs: int, before=None) -> dict:
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"runs": runs, "median_ms": statistics.median(times) * 1e3,
            "min_ms": min(times) * 1e3, "max_ms": max(times) * 1e3}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200, help="runs of the no-op reset (others use fewer)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="condor-sim-bench-reset-") as tmp:
        pool = SimPool(Path(tmp) / "pool").start()
        try:
            pool.activate()
            pool.reset()
            rows["nothing changed"] = timed(pool.reset, args.runs)
            rows["after pause(\"SCHEDD\")"] = timed(pool.reset, 20, before=lambda: pool.pause("SCHEDD"))
            rows["marker applied (reconfig)"] = timed(lambda: pool.reconfig({"SCHEDD_INTERVAL": 17}), 10,
                                                      before=pool.reset)
            rows["after a marker"] = timed(pool.reset, 10,
                                           before=lambda: pool.reconfig({"SCHEDD_INTERVAL": 17}))
            rows["after kill(\"SCHEDD\")"] = timed(pool.reset, 5, before=lambda: pool.kill("SCHEDD"))
            rows["after kill(\"COLLECTOR\")"] = timed(pool.reset, 3, before=lambda: pool.kill("COLLECTOR"))
            rows["after kill(\"MASTER\")"] = timed(pool.reset, 3, before=lambda: pool.kill("MASTER"))
            rows["nothing changed (again)"] = timed(pool.reset, args.runs)
        finally:
            pool.stop()

    if args.json:
        print(json.dumps({"machine": machine(), "rows": rows}, indent=1))
        return 0
    print(f"reset() of the pool handle; {machine()}")
    print(f"{'case':<28} {'runs':>5} {'median':>10} {'min':>10} {'max':>10}")
    for name, r in rows.items():
        print(f"{name:<28} {r['runs']:>5} {r['median_ms']:>8.2f}ms {r['min_ms']:>8.2f}ms {r['max_ms']:>8.2f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
