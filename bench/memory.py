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

With ``--jobs N`` each run measures the pool twice: idle as above, then with N jobs
running (``/bin/sleep 600``, submitted through the real v2 client, which then exits;
measured once the schedd says all N run and N job processes are in the pool's process
tree).  The processes are then split by role: *daemons* (the master and its children),
*starters* (the startd's forked children, one per running job) and *jobs* (what the
starters run).  The pool's own cost is daemons + starters; the jobs are listed apart.
``NUM_CPUS`` is raised to N where it is lower, ``MEMORY`` to 256 MB per CPU.

    python bench/memory.py [--daemons COLLECTOR,SCHEDD] [--repeat 3] [--jobs 8] [--config KEY=VALUE ...]

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


def roles(pool: Pool, procs: list[psutil.Process]) -> dict[int, str]:
    """pid -> "daemon" (the master and its children), "starter" (a child of the startd
    running the same program, i.e. forked) or "job" (anything below a starter)."""
    master = pool.master_pid()
    out: dict[int, str] = {}
    by_pid = {p.pid: p for p in procs}
    for p in procs:
        try:
            ppid = p.ppid()
            if p.pid == master or ppid == master:
                out[p.pid] = "daemon"
            elif ppid in by_pid and by_pid[ppid].ppid() == master and p.exe() == by_pid[ppid].exe():
                out[p.pid] = "starter"
            else:
                out[p.pid] = "job"
        except psutil.Error:
            out[p.pid] = "job"
    return out


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
import sys, time
import htcondor2 as htcondor
n, timeout = int(sys.argv[1]), float(sys.argv[2])
schedd = htcondor.Schedd()
c = schedd.submit(htcondor.Submit({"executable": "/bin/sleep", "arguments": "600"}), count=n).cluster()
deadline = time.monotonic() + timeout
while len(schedd.query(f"ClusterId == {c} && JobStatus == 2", ["ProcId"])) < n:
    if time.monotonic() > deadline:
        sys.exit(f"not all {n} jobs running after {timeout} s")
    time.sleep(0.05)
"""


def start_jobs(pool: Pool, n: int, timeout: float = 60) -> None:
    """Submit n sleep jobs through the real client, and return once all n run and n job
    processes are in the pool's process tree."""
    subprocess.run([sys.executable, "-c", SUBMIT_AND_WAIT, str(n), str(timeout)], env=pool.env,
                   check=True, timeout=timeout + 30)
    deadline = time.monotonic() + timeout
    while True:
        procs = pool_processes(pool)
        jobs = [p for p, r in zip(procs, roles(pool, procs).values()) if r == "job"]
        if len(jobs) >= n or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def snapshot(pool: Pool) -> dict:
    procs = pool_processes(pool)
    role = roles(pool, procs)
    rows, kind = measure(procs)
    rows = [r + (role.get(r[1], "job"),) for r in rows]
    own = [p.pid for p in procs if role.get(p.pid) != "job"]
    return {"rows": rows, "kind": kind, "footprint": pool_footprint(own)}


def one_run(directory: Path, config: dict[str, str], jobs: int = 0) -> tuple[dict, float, dict | None]:
    pool = Pool(directory, config=config)
    pool.create()
    busy = None
    try:
        ready = pool.start(timeout=60, create=False)
        time.sleep(1.0)
        idle = snapshot(pool)
        if jobs:
            start_jobs(pool, jobs)
            time.sleep(1.0)
            busy = snapshot(pool)
    finally:
        if pool.is_running():
            pool.stop(timeout=30)
    return idle, ready, busy


def report(title: str, snap: dict) -> dict[str, tuple[float, float, int]]:
    """Print one snapshot; return role -> (RSS MB, PSS MB, processes)."""
    kind, rows = snap["kind"], snap["rows"]
    print(f"{title}: {len(rows)} processes")
    print(f"  {'name':<18} {'pid':>8} {'ppid':>8} {'RSS MB':>8} {kind + ' MB':>8}  role")
    for name, pid, ppid, rss, shared, role in rows:
        print(f"  {name:<18} {pid:>8} {ppid:>8} {rss / 1e6:>8.1f} {shared / 1e6:>8.1f}  {role}")
    sums: dict[str, tuple[float, float, int]] = {}
    for role in ("daemon", "starter", "job"):
        mine = [r for r in rows if r[5] == role]
        if mine:
            sums[role] = (sum(r[3] for r in mine) / 1e6, sum(r[4] for r in mine) / 1e6, len(mine))
    pool_rows = [r for r in rows if r[5] != "job"]
    sums["pool"] = (sum(r[3] for r in pool_rows) / 1e6, sum(r[4] for r in pool_rows) / 1e6, len(pool_rows))
    for role, (rss, shared, n) in sums.items():
        label = {"daemon": "daemons", "starter": "starters", "job": "jobs (apart)",
                 "pool": "pool = daemons+starters"}[role]
        print(f"  {label:<27} {rss:>8.1f} {shared:>8.1f}  ({n} processes)")
    if snap["footprint"] is not None:
        print(f"  distinct pages of the pool (daemons+starters): {snap['footprint'] / 1e6:.1f} MB")
    return sums


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--daemons", help="DAEMON_LIST, comma- or space-separated (default: the pool's)")
    ap.add_argument("--repeat", type=int, default=1, help="runs, each on a fresh pool (default 1)")
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--jobs", type=int, default=0, metavar="N",
                    help="also measure with N sleep jobs running (needs SCHEDD, NEGOTIATOR, STARTD)")
    args = ap.parse_args()
    config: dict[str, str] = {}
    for item in args.config:
        k, _, v = item.partition("=")
        config[k.strip()] = v.strip()
    if args.daemons:
        names = [n.upper() for n in args.daemons.replace(",", " ").split()]
        config["DAEMON_LIST"] = ", ".join(["MASTER"] + [n for n in names if n != "MASTER"])
    if args.jobs:
        cpus = int(config.get("NUM_CPUS") or 0)
        if cpus < args.jobs:
            config["NUM_CPUS"] = str(args.jobs)
        config.setdefault("MEMORY", str(256 * max(cpus, args.jobs)))
    readies: list[float] = []
    idle_sums: list[dict] = []
    busy_sums: list[dict] = []
    idle_pages: list[float] = []
    busy_pages: list[float] = []
    kind = "PSS"
    with tempfile.TemporaryDirectory(prefix="condor-sim-mem-") as tmp:
        for i in range(args.repeat):
            idle, ready, busy = one_run(Path(tmp) / f"run{i}", config, args.jobs)
            kind = idle["kind"]
            readies.append(ready)
            idle_sums.append(report(f"run {i + 1}: ready in {ready:.3f} s; idle", idle))
            if idle["footprint"] is not None:
                idle_pages.append(idle["footprint"] / 1e6)
            if busy is not None:
                busy_sums.append(report(f"run {i + 1}: {args.jobs} jobs running", busy))
                if busy["footprint"] is not None:
                    busy_pages.append(busy["footprint"] / 1e6)
    if kind == "USS":
        print("note: no PSS on this system; USS (memory private to each process) shown instead")
    print(f"median over {args.repeat} run(s), MB ({kind}); the pool is daemons + starters:")
    print(f"  {'':<28} {'RSS':>8} {kind:>8}")
    for title, sums, pages in (("idle", idle_sums, idle_pages), (f"{args.jobs} jobs running", busy_sums, busy_pages)):
        if not sums:
            continue
        for role in ("daemon", "starter", "pool", "job"):
            if role not in sums[0]:
                continue
            label = f"{title}: " + {"daemon": "daemons", "starter": "starters", "pool": "pool",
                                     "job": "jobs (apart)"}[role]
            print(f"  {label:<28} {statistics.median(s[role][0] for s in sums):>8.1f} "
                  f"{statistics.median(s[role][1] for s in sums):>8.1f}  ({sums[0][role][2]} processes)")
        if pages:
            print(f"  {title + ': distinct pages':<28} {statistics.median(pages):>8.1f}")
    print(f"  ready (median) {statistics.median(readies):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
