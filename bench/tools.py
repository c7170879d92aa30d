#!/usr/bin/env python3
"""The condor_* tools on a big pool, as a user types them: ``condor_q`` on 10,000 jobs and
``condor_status`` on 1,000 slots (issue 14 asks for both; the real tools take 0.1-0.8 s).

One pool: 10,000 held jobs submitted with the real client, and ``--slots`` simulated
slots (``CONDOR_SIM_SIMULATED_SLOTS``: machines of partitionable and dynamic slots with
the real startd's ads).  Each command is run ``--runs`` times as a whole process; the
median wall time is printed, next to the time of ``python -c "import htcondor2"`` alone
(every tool pays it).  Also ``condor_q -better-analyze`` of one job against those slots
and ``condor_submit -dry-run`` of a 100-job submit file (which runs a private queue in a
child process).

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
import time
deadline = time.time() + 120
while len(htcondor2.Collector().query(htcondor2.AdTypes.Startd, projection=["Name"])) < slots:
    if time.time() > deadline:
        raise SystemExit("the simulated slots did not all arrive")
    time.sleep(0.2)
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
    ("condor_q -better-analyze 1.0", [str(BIN / "condor_q"), "-better-analyze", "1.0"]),
    ("condor_submit -dry-run - (100 jobs)", [str(BIN / "condor_submit"), "-dry-run", "-", "SUBMIT_FILE"]),
]
SUBMIT_FILE = "executable = /bin/true\narguments = $(Process)\nqueue 100\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10000)
    ap.add_argument("--slots", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as d:
        pool = Pool(Path(d) / "pool", config={"CONDOR_SIM_SIMULATED_SLOTS": str(args.slots),
                                              "DAEMON_LIST": "MASTER COLLECTOR SCHEDD"})
        submit_file = Path(d) / "bench.sub"
        submit_file.write_text(SUBMIT_FILE)
        pool.start(timeout=60)
        try:
            subprocess.run([sys.executable, "-c", FILL, str(args.jobs), str(args.slots)],
                           env=pool.env, check=True)
            print(f"machine: {machine()}  ({time.strftime('%Y-%m-%d')})")
            print(f"{args.jobs} jobs, {args.slots} simulated slots; median of {args.runs} runs")
            for label, cmd in COMMANDS:
                cmd = [str(submit_file) if w == "SUBMIT_FILE" else w for w in cmd]
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
