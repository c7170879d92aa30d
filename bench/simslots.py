#!/usr/bin/env python3
"""Simulated large pools: what N simulated slots cost the collector.

For each N: a fresh pool (``DAEMON_LIST = MASTER COLLECTOR``, secure posture) with
``CONDOR_SIM_SIMULATED_SLOTS = N`` and the simulated machines' ``UPDATE_INTERVAL`` set
to ``--interval`` (``SIMSLOTS.UPDATE_INTERVAL``; the real default is 300 s), then:

* **load**: seconds from ``Pool.start()`` returning until the collector holds N slot ads
  (the first round goes out at once, as N startds starting together), and the CPU
  seconds the collector and the simulating process spent meanwhile (on a shared machine
  the CPU seconds are the numbers to compare; the wall time depends on the neighbours);
* **collector RSS** once loaded, and its growth over the steady window;
* **collector CPU**: CPU seconds per wall second (100% = one core) over ``--window``
  seconds of steady state: the regular updates spread over the interval, plus the churn
  (``CONDOR_SIM_SIMULATED_SLOTS_CHURN`` of the slots change per interval) and one query;
* the simulating process's own CPU over the same window;
* **query**: one ``htcondor2.Collector().query(AdTypes.Startd)`` of all slots, in seconds
  (from a fresh interpreter, its start-up not counted) and in the collector's CPU seconds.

    python bench/simslots.py [--slots 10000,50000] [--interval 300] [--window 30] [--config KEY=VALUE ...]

Prints numbers only.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from condor_sim.pool import Pool  # noqa: E402

WAIT = r"""
import sys, time, htcondor2
c = htcondor2.Collector()
want, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while True:
    n = len(c.query(htcondor2.AdTypes.Startd, projection=["Name"]))
    if n >= want or time.monotonic() > deadline:
        break
    time.sleep(1.0)
print(n)
"""
QUERY = r"""
import json, time, htcondor2
c = htcondor2.Collector()
t = time.monotonic()
ads = c.query(htcondor2.AdTypes.Startd)
print(json.dumps({"seconds": time.monotonic() - t, "count": len(ads)}))
"""


def daemon(pool: Pool, exe: str) -> psutil.Process:
    master = psutil.Process(pool.master_pid())
    for p in master.children(recursive=True):
        try:
            if any(a.endswith(exe) for a in p.cmdline()):
                return p
        except psutil.Error:
            continue
    raise SystemExit(f"no {exe} process")


def cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def run(n: int, interval: int, window: float, extra: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="simslots-bench-") as d:
        config = {"DAEMON_LIST": "MASTER COLLECTOR", "CONDOR_SIM_SIMULATED_SLOTS": str(n),
                  "SIMSLOTS.UPDATE_INTERVAL": str(interval), **extra}
        pool = Pool(Path(d) / "pool", config=config)
        pool.start(timeout=60)
        try:
            coll, sim = daemon(pool, "condor_collector"), daemon(pool, "condor_simslots")
            env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file))
            t0, c0, s0 = time.monotonic(), cpu(coll), cpu(sim)
            seen = int(subprocess.run([sys.executable, "-c", WAIT, str(n), "900"], env=env,
                                      capture_output=True, text=True, check=True).stdout)
            load = {"load_s": round(time.monotonic() - t0, 1), "load_coll_cpu_s": round(cpu(coll) - c0, 1),
                    "load_sim_cpu_s": round(cpu(sim) - s0, 1)}
            rss0 = coll.memory_info().rss
            c0, s0, w0 = cpu(coll), cpu(sim), time.monotonic()
            time.sleep(window)
            c1, s1, w1 = cpu(coll), cpu(sim), time.monotonic()
            q = json.loads(subprocess.run([sys.executable, "-c", QUERY], env=env, capture_output=True,
                                          text=True, check=True).stdout)
            return {"slots": n, "seen": seen, **load,
                    "query_s": round(q["seconds"], 2), "query_coll_cpu_s": round(cpu(coll) - c1, 2),
                    "collector_rss_mb": round(rss0 / 2**20, 1),
                    "collector_rss_growth_mb": round((coll.memory_info().rss - rss0) / 2**20, 1),
                    "collector_cpu_pct": round(100 * (c1 - c0) / (w1 - w0), 1),
                    "simslots_cpu_pct": round(100 * (s1 - s0) / (w1 - w0), 1),
                    "simslots_rss_mb": round(sim.memory_info().rss / 2**20, 1)}
        finally:
            pool.stop(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slots", default="10000,50000")
    ap.add_argument("--interval", type=int, default=300)
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()
    extra = dict(item.split("=", 1) for item in a.config)
    print(f"UPDATE_INTERVAL (simulated machines) = {a.interval} s, steady window {a.window:g} s, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    cols = [("slots", "slots"), ("load_s", "load s"), ("load_coll_cpu_s", "load coll CPU s"),
            ("load_sim_cpu_s", "load sim CPU s"), ("collector_rss_mb", "coll RSS MB"),
            ("collector_rss_growth_mb", "RSS +MB"), ("collector_cpu_pct", "steady coll CPU %"),
            ("simslots_cpu_pct", "steady sim CPU %"), ("simslots_rss_mb", "sim RSS MB"),
            ("query_s", "query s"), ("query_coll_cpu_s", "query coll CPU s")]
    print("  ".join(h for _, h in cols))
    for n in (int(x) for x in a.slots.split(",")):
        r = run(n, a.interval, a.window, extra)
        print("  ".join(f"{r[k]:>{len(h)}}" for k, h in cols), flush=True)
        if r["seen"] < n:
            print(f"        (the collector held only {r['seen']} of {n} slot ads)")


if __name__ == "__main__":
    main()
