#!/usr/bin/env python3
"""The condor_* tools on a big pool, as a user types them: ``condor_q`` on 10,000 jobs and
``condor_status`` on 1,000 slots (issue 14 asks for both; the real tools take 0.1-0.8 s).

One pool: 10,000 held jobs submitted with the real client, and 1,000 Machine ads
advertised to its collector (there is no startd yet, so the slots are ads only).  Each
command is run ``--runs`` times as a whole process; the median wall time is printed,
next to the time of ``python -c "import htcondor2"`` alone (every tool pays it).

    python bench/tools.py [--jobs 10000] [--slots 1000] [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.pool_startup import machine  # noqa: E402
from condor_sim.pool import Pool  # noqa: E402

BIN = Path(sys.executable).parent
FILL = r"""
import sys, htcondor2, classad2
jobs, slots = int(sys.argv[1]), int(sys.argv[2])
htcondor2.Schedd().submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "600",
                                            "hold": "true"}), count=jobs)
ads = []
for i in range(slots):
    name = f"slot{i % 8 + 1}@node{i // 8:04d}.sim"
    ads.append(classad2.ClassAd({"MyType": "Machine", "Name": name, "Machine": f"node{i // 8:04d}.sim",
        "State": "Unclaimed", "Activity": "Idle", "Arch": "X86_64", "OpSys": "LINUX",
        "LoadAvg": 0.0, "Memory": 2048, "Cpus": 1, "Disk": 10000000, "KeyboardIdle": 600,
        "EnteredCurrentActivity": 0, "MyCurrentTime": 0, "StartdIpAddr": "<127.0.0.1:9>",
        "MyAddress": "<127.0.0.1:9>", "SlotType": "Static", "CondorVersion": "$CondorVersion: 25.14.0 $"}))
for start in range(0, slots, 500):
    htcondor2.Collector().advertise(ads[start:start + 500], "UPDATE_STARTD_AD")
"""
COMMANDS = [
    ("import htcondor2 (floor)", [sys.executable, "-c", "import htcondor2"]),
    ("condor_q (batch view)", [str(BIN / "condor_q")]),
    ("condor_q -nobatch", [str(BIN / "condor_q"), "-nobatch"]),
    ("condor_q -af ClusterId ProcId", [str(BIN / "condor_q"), "-af", "ClusterId", "ProcId"]),
    ("condor_q -totals", [str(BIN / "condor_q"), "-totals"]),
    ("condor_status", [str(BIN / "condor_status")]),
    ("condor_status -af Name", [str(BIN / "condor_status"), "-af", "Name"]),
    ("condor_status -total", [str(BIN / "condor_status"), "-total"]),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10000)
    ap.add_argument("--slots", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as d:
        pool = Pool(Path(d) / "pool")
        pool.start(timeout=60)
        try:
            subprocess.run([sys.executable, "-c", FILL, str(args.jobs), str(args.slots)],
                           env=pool.env, check=True)
            print(f"machine: {machine()}  ({time.strftime('%Y-%m-%d')})")
            print(f"{args.jobs} jobs, {args.slots} slot ads; median of {args.runs} runs")
            for label, cmd in COMMANDS:
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    r = subprocess.run(cmd, env=pool.env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
                    times.append(time.perf_counter() - t0)
                    if r.returncode != 0:
                        raise SystemExit(f"{label}: exit {r.returncode}: {r.stderr[-500:]}")
                print(f"  {label:32} {statistics.median(times):7.3f} s")
        finally:
            pool.stop(timeout=60)


if __name__ == "__main__":
    main()
