#!/usr/bin/env python3
"""Jobs benchmark: how fast a fresh five-daemon pool runs jobs, through the real v2 client.

For each run, a fresh pool (``NUM_CPUS`` from ``--cpus``, ``MEMORY`` 1 GiB per CPU and at
least 4 GiB) and one client process (``htcondor2``) that measures, in this order:

* **latency**: ``--singles`` times, one ``/bin/true`` job submitted alone (with a user log)
  and waited for: from the start of ``submit()`` to the first query that no longer finds
  it in the queue (polled every 10 ms);
* **submit → EXECUTE**: in those same jobs, from the start of ``submit()`` to the moment
  the EXECUTE event can be read from the job's user log (``JobEventLog``, polled with the
  queue).  The event's own time stamp has whole seconds only, so the client's clock is
  used instead;
* **throughput**: ``--jobs`` (100) x ``/bin/true`` in one ``submit(count=...)``, then
  ``--jobs``/5 (20) x ``sleep 1``, each from the start of ``submit()`` until the last of
  them has left the queue, in jobs/s.  With C CPUs, 20 one-second jobs cannot finish in
  less than ceil(20/C) s.

Also the pool's CPU time per job in each step (each daemon's user + system; the startd's
includes the starters it forked and their jobs), which the machine's load moves much less
than the wall times.  Every figure is the median over ``--repeat`` runs (each on a fresh
pool).  Prints a table.

The queue is polled every 10 ms by the client, so figures include up to that much
polling delay, and the schedd answers those queries while it runs the jobs.

    python bench/jobs.py [--jobs 100] [--singles 10] [--cpus 4] [--repeat 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.pool_startup import machine  # noqa: E402
from condor_sim.pool import Pool  # noqa: E402

FIVE = "MASTER COLLECTOR NEGOTIATOR SCHEDD STARTD"
POLL = 0.01

CLIENT = r"""
import json, statistics, sys, time
import htcondor2 as htcondor

spec = json.loads(sys.argv[1])
work = spec["work"]
poll = spec["poll"]
schedd = htcondor.Schedd()


def in_queue(c):
    return len(schedd.query(f"ClusterId == {c}", ["ProcId"]))


def one_job(i):
    log = f"{work}/one{i}.log"
    sub = htcondor.Submit({"executable": "/bin/true", "log": log,
                           "output": f"{work}/one{i}.out", "error": f"{work}/one{i}.err"})
    t0 = time.perf_counter()
    c = schedd.submit(sub).cluster()
    execute = None
    events = None
    while True:
        if execute is None:
            if events is None:
                try:
                    events = htcondor.JobEventLog(log)
                except Exception:
                    pass
            if events is not None:
                for e in events.events(stop_after=0):
                    if e.type == htcondor.JobEventType.EXECUTE:
                        execute = time.perf_counter() - t0
        if not in_queue(c):
            done = time.perf_counter() - t0
            break
        time.sleep(poll)
    if execute is None and events is not None:      # written before the job left
        for e in events.events(stop_after=0):
            if e.type == htcondor.JobEventType.EXECUTE:
                execute = done
    if events is not None:
        events.close()
    return done, execute


def phase(name):
    # the parent reads the pool's CPU times before the next step
    print(json.dumps({"phase": name}), flush=True)
    sys.stdin.readline()


def many(desc, n, timeout):
    phase(desc["executable"])
    t0 = time.perf_counter()
    c = schedd.submit(htcondor.Submit(desc), count=n).cluster()
    deadline = time.monotonic() + timeout
    while in_queue(c):
        if time.monotonic() > deadline:
            raise SystemExit(f"{n} jobs of {desc['executable']} not done in {timeout} s")
        time.sleep(poll)
    elapsed = time.perf_counter() - t0
    hist = list(schedd.history(f"ClusterId == {c}", ["ExitCode", "JobStatus"], match=n))
    ok = sum(1 for a in hist if a.get("JobStatus") == 4 and a.get("ExitCode") == 0)
    return elapsed, ok


out = {"latency": [], "execute": []}
phase("singles")
for i in range(spec["jobs"]):
    done, execute = one_job(i)
    out["latency"].append(done)
    out["execute"].append(execute)
out["true_s"], out["true_ok"] = many({"executable": "/bin/true"}, spec["n_true"], 300)
out["sleep_s"], out["sleep_ok"] = many({"executable": "/bin/sleep", "arguments": "1"},
                                       spec["n_sleep"], 300)
phase("end")
print(json.dumps(out), flush=True)
"""


def pool_cpu(pool: Pool) -> dict[str, float]:
    """CPU seconds (user + system) so far of each daemon; the startd's include the
    starters it has reaped (and their jobs)."""
    out: dict[str, float] = {}
    for p in pool.processes():
        try:
            name = next((a.rsplit("/", 1)[-1] for a in p.cmdline() if "/sbin/condor_" in a), p.name())
            t = p.cpu_times()
            out[name] = out.get(name, 0.0) + t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            continue
    return out


def pool_config(cpus: int) -> dict[str, str]:
    return {"DAEMON_LIST": FIVE, "NUM_CPUS": str(cpus), "MEMORY": str(max(4096, 1024 * cpus))}


def one_run(cpus: int, jobs: int, n_true: int, n_sleep: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as d:
        work = Path(d) / "work"
        work.mkdir()
        pool = Pool(Path(d) / "pool", config=pool_config(cpus))
        pool.start(timeout=60)
        try:
            spec = {"work": str(work), "poll": POLL, "jobs": jobs, "n_true": n_true, "n_sleep": n_sleep}
            proc = subprocess.Popen([sys.executable, "-c", CLIENT, json.dumps(spec)], env=pool.env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            marks: list[tuple[str, dict[str, float]]] = []
            for line in proc.stdout:
                msg = json.loads(line)
                if "phase" not in msg:
                    result = msg
                    break
                marks.append((msg["phase"], pool_cpu(pool)))
                proc.stdin.write("\n")
                proc.stdin.flush()
            if proc.wait(60) != 0:
                raise RuntimeError("client failed")
            result["cpu"] = {name: {d: after[d] - before.get(d, 0.0) for d in after}
                             for (name, before), (_, after) in zip(marks, marks[1:])}
            return result
        finally:
            pool.stop(timeout=60)


def summarize(runs: list[dict], n_true: int, n_sleep: int) -> dict:
    lat = [x for r in runs for x in r["latency"]]
    exe = [x for r in runs for x in r["execute"] if x is not None]
    return {
        "latency_median_s": statistics.median(lat), "latency_min_s": min(lat), "latency_max_s": max(lat),
        "execute_median_s": statistics.median(exe) if exe else None,
        "execute_min_s": min(exe) if exe else None, "execute_max_s": max(exe) if exe else None,
        "true_jobs_per_s": statistics.median(n_true / r["true_s"] for r in runs),
        "true_s": statistics.median(r["true_s"] for r in runs),
        "true_ok": min(r["true_ok"] for r in runs),
        "sleep_jobs_per_s": statistics.median(n_sleep / r["sleep_s"] for r in runs),
        "sleep_s": statistics.median(r["sleep_s"] for r in runs),
        "sleep_ok": min(r["sleep_ok"] for r in runs),
        # pool CPU ms per job, per daemon, in each step (median over runs)
        "cpu_ms_per_job": {
            step: {d: 1000 * statistics.median(r["cpu"][step].get(d, 0.0) for r in runs) / n
                   for d in runs[0]["cpu"][step]}
            for step, n in (("singles", len(runs[0]["latency"])), ("/bin/true", n_true), ("/bin/sleep", n_sleep))
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100,
                    help="/bin/true jobs for the throughput (default 100); a fifth as many 'sleep 1' jobs")
    ap.add_argument("--singles", type=int, default=10, help="single /bin/true jobs timed one by one (default 10)")
    ap.add_argument("--cpus", type=int, default=4, help="the startd's NUM_CPUS (default 4)")
    ap.add_argument("--repeat", type=int, default=1, help="runs, each on a fresh pool (default 1)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.n_true, args.n_sleep = args.jobs, max(1, args.jobs // 5)
    runs = [one_run(args.cpus, args.singles, args.n_true, args.n_sleep) for _ in range(args.repeat)]
    s = summarize(runs, args.n_true, args.n_sleep)
    if args.json:
        print(json.dumps({"machine": machine(), "cpus": args.cpus, "runs": runs, "summary": s}, indent=1))
        return 0
    floor = math.ceil(args.n_sleep / args.cpus)
    print(f"machine: {machine()}")
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC; NUM_CPUS {args.cpus}; {args.repeat} run(s); "
          f"{args.singles} single jobs per run")
    print(f"{'figure':44} {'median':>10} {'min':>8} {'max':>8}")
    print(f"{'one /bin/true: submit -> left the queue (s)':44} {s['latency_median_s']:10.3f} "
          f"{s['latency_min_s']:8.3f} {s['latency_max_s']:8.3f}")
    if s["execute_median_s"] is not None:
        print(f"{'one /bin/true: submit -> EXECUTE in log (s)':44} {s['execute_median_s']:10.3f} "
              f"{s['execute_min_s']:8.3f} {s['execute_max_s']:8.3f}")
    print(f"{f'{args.n_true} x /bin/true (jobs/s)':44} {s['true_jobs_per_s']:10.2f}   "
          f"({s['true_s']:.2f} s, {s['true_ok']} exited 0)")
    print(f"{f'{args.n_sleep} x sleep 1 (jobs/s)':44} {s['sleep_jobs_per_s']:10.2f}   "
          f"({s['sleep_s']:.2f} s, floor {floor} s = {args.n_sleep / floor:.2f} jobs/s; "
          f"{s['sleep_ok']} exited 0)")
    print("pool CPU per job (ms; user + system, the startd's with its starters and their jobs):")
    steps = {"singles": "single /bin/true", "/bin/true": f"{args.n_true} x /bin/true",
             "/bin/sleep": f"{args.n_sleep} x sleep 1"}
    daemons = sorted({d for v in s["cpu_ms_per_job"].values() for d in v})
    print(f"  {'step':22}" + "".join(f"{d.replace('condor_', ''):>12}" for d in daemons) + f"{'total':>10}")
    for step, label in steps.items():
        row = s["cpu_ms_per_job"][step]
        print(f"  {label:22}" + "".join(f"{row.get(d, 0.0):12.1f}" for d in daemons)
              + f"{sum(row.values()):10.1f}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
