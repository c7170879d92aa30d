#!/usr/bin/env python3
"""Pool memory benchmark: what a started, idle pool occupies.

For each run: a fresh pool directory, ``Pool.start()``, one more second of idling, then
the RSS and PSS of the master and every one of its descendants (psutil's
``memory_full_info``; PSS counts a page shared by N processes as 1/N in each, so the PSS
total is what the pool as a whole costs).  Where the system has no PSS (macOS) it prints
USS (the memory only that process has) instead, and says so.  Where the frame numbers
in ``/proc/PID/pagemap`` are readable (root), also the distinct physical pages of the
pool's processes together: PSS divides a library's pages among *all* processes mapping
it, so other Python processes on the machine lower the pool's PSS; this does not
depend on them.  Then ``Pool.stop()``.

    python bench/memory.py [--daemons COLLECTOR,SCHEDD] [--repeat 3] [--config KEY=VALUE ...]

``--daemons`` sets the pool's DAEMON_LIST (MASTER is always added); ``--config`` adds
any other setting (e.g. ``CONDOR_SIM_FORK_DAEMONS=false`` for the exec model).  Prints
numbers only.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from condor_sim.pool import Pool  # noqa: E402


def pool_processes(pool: Pool) -> list[psutil.Process]:
    """The master and all its descendants (not orphans: a running pool has none)."""
    master = psutil.Process(pool.master_pid())
    return [master] + master.children(recursive=True)


def display_name(p: psutil.Process) -> str:
    """The process name, whole where the system cut it to 15 characters (a daemon run by
    a Python launcher has the interpreter first on its command line)."""
    name = p.name()
    if len(name) >= 15:
        for arg in p.cmdline():
            base = arg.rsplit("/", 1)[-1]
            if base.startswith(name):
                return base
    return name


def measure(procs: list[psutil.Process]) -> tuple[list[tuple], str]:
    """(name, pid, ppid, rss, pss or uss) per process, and which of PSS/USS it is."""
    rows = []
    kind = "PSS"
    for p in procs:
        try:
            info = p.memory_full_info()
            shared = getattr(info, "pss", None)
            if shared is None:
                kind = "USS"
                shared = info.uss
            rows.append((display_name(p), p.pid, p.ppid(), info.rss, shared))
        except psutil.Error:
            continue
    return rows, kind


def pool_footprint(pids: list[int]) -> int | None:
    """Bytes of distinct physical pages mapped by these processes together (Linux,
    where ``/proc/PID/pagemap`` shows frame numbers, i.e. to root): the pool's own
    cost, which PSS overstates or understates when processes outside the pool map the
    same libraries.  None where frame numbers are not readable."""
    import struct
    page = os.sysconf("SC_PAGE_SIZE")
    frames: set[int] = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pm:
                for line in maps:
                    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                    if line.rstrip().endswith("[vsyscall]"):
                        continue
                    pm.seek(lo // page * 8)
                    data = pm.read((hi - lo) // page * 8)
                    for (entry,) in struct.iter_unpack("Q", data):
                        if entry >> 63:
                            frames.add(entry & ((1 << 55) - 1))
        except OSError:
            return None
    if frames == {0} or not frames:
        return None
    return len(frames) * page


SUBMIT_AND_WAIT = r"""
import sys, time, htcondor2
n = int(sys.argv[1])
s = htcondor2.Schedd()
s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "600"}), count=n)
deadline = time.time() + 120
while time.time() < deadline and len(s.query("JobStatus == 2", ["ProcId"])) < n:
    time.sleep(0.1)
print(len(s.query("JobStatus == 2", ["ProcId"])))
"""


def start_jobs(pool: Pool, n: int) -> int:
    """Submit ``n`` sleep jobs through the real client and wait until all run."""
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file))
    out = subprocess.run([sys.executable, "-c", SUBMIT_AND_WAIT, str(n)], env=env, capture_output=True,
                         text=True, timeout=180)
    return int(out.stdout.strip() or 0)


def one_run(directory: Path, config: dict[str, str], jobs: int = 0) -> tuple[list[tuple], str, float]:
    pool = Pool(directory, config=config)
    pool.create()
    try:
        ready = pool.start(timeout=60, create=False)
        if jobs:
            running = start_jobs(pool, jobs)
            print(f"{running} of {jobs} jobs running")
        time.sleep(1.0)
        procs = pool_processes(pool)
        rows, kind = measure(procs)
        footprint = pool_footprint([p.pid for p in procs])
    finally:
        if pool.is_running():
            pool.stop(timeout=30)
    return rows, kind, ready, footprint


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--daemons", help="DAEMON_LIST, comma- or space-separated (default: the pool's)")
    ap.add_argument("--repeat", type=int, default=1, help="runs, each on a fresh pool (default 1)")
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--jobs", type=int, default=0,
                    help="measure with this many sleep jobs running (their own processes listed apart)")
    args = ap.parse_args()
    config: dict[str, str] = {}
    for item in args.config:
        k, _, v = item.partition("=")
        config[k.strip()] = v.strip()
    if args.daemons:
        names = [n.upper() for n in args.daemons.replace(",", " ").split()]
        config["DAEMON_LIST"] = ", ".join(["MASTER"] + [n for n in names if n != "MASTER"])
    totals_rss, totals_shared, readies, footprints = [], [], [], []
    kind = "PSS"
    with tempfile.TemporaryDirectory(prefix="condor-sim-mem-") as tmp:
        for i in range(args.repeat):
            rows, kind, ready, footprint = one_run(Path(tmp) / f"run{i}", config, args.jobs)
            readies.append(ready)
            print(f"run {i + 1}: ready in {ready:.3f} s; {len(rows)} processes")
            print(f"  {'name':<18} {'pid':>8} {'ppid':>8} {'RSS MB':>8} {kind + ' MB':>8}")
            for name, pid, ppid, rss, shared in rows:
                print(f"  {name:<18} {pid:>8} {ppid:>8} {rss / 1e6:>8.1f} {shared / 1e6:>8.1f}")
            ours = [r for r in rows if r[0].startswith("condor_")]     # daemons and starters
            rss_t = sum(r[3] for r in ours) / 1e6
            shared_t = sum(r[4] for r in ours) / 1e6
            totals_rss.append(rss_t)
            totals_shared.append(shared_t)
            print(f"  {'total (pool)':<18} {'':>8} {'':>8} {rss_t:>8.1f} {shared_t:>8.1f}")
            if len(ours) < len(rows):
                print(f"  {'jobs themselves':<18} {'':>8} {'':>8} "
                      f"{sum(r[3] for r in rows if r not in ours) / 1e6:>8.1f} "
                      f"{sum(r[4] for r in rows if r not in ours) / 1e6:>8.1f}")
            if footprint is not None:
                footprints.append(footprint / 1e6)
                print(f"  distinct pages of the pool: {footprint / 1e6:.1f} MB")
    if kind == "USS":
        print("note: no PSS on this system; USS (memory private to each process) shown instead")
    if args.repeat > 1:
        print(f"median over {args.repeat} runs: RSS {statistics.median(totals_rss):.1f} MB, "
              f"{kind} {statistics.median(totals_shared):.1f} MB, ready {statistics.median(readies):.3f} s"
              + (f", distinct pages {statistics.median(footprints):.1f} MB" if footprints else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
