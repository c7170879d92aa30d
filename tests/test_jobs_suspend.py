"""Suspending and continuing running jobs on a five-daemon pool, through the real v2 client
and our condor_suspend / condor_continue: the job's processes are really stopped
(SIGSTOP) and continued, the job ad and the user log change as the real ones do, and a
job removed or held while suspended leaves no process; plus the pure job-ad steps."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from condor_sim.jobqueue import suspension as SU
from support.captures import NOBATCH_ROW, SCHEDD_LINE, capture
from support.leftovers import procs_with, sleep_marker
from support.pools import FIVE_DAEMONS, client, running_pool

CLI = Path(__file__).resolve().parent.parent / "fixtures" / "cli"

QUERY = """
import htcondor2 as htcondor, time
schedd = htcondor.Schedd()
def main():
    deadline = time.time() + {timeout}
    while True:
        ads = [dict(a) for a in schedd.query({constraint!r}, {attrs!r})]
        if len(ads) >= {n} or time.time() > deadline:
            return ads
        time.sleep(0.1)
"""

EVENTS = """
import htcondor2 as htcondor
def main():
    return [{{"type": htcondor.JobEventType(e.type).name, **{{k: e[k] for k in e.keys()}}}}
            for e in htcondor.JobEventLog({path!r}).events(stop_after=0)]
"""

ACT = """
import htcondor2 as htcondor
def main():
    return dict(htcondor.Schedd().act(htcondor.JobAction.{action}, {ids!r}))
"""

ATTRS = ["ProcId", "JobStatus", "LastJobStatus", "EnteredCurrentStatus", "LastSuspensionTime",
         "TotalSuspensions", "CumulativeSuspensionTime", "UncommittedSuspensionTime",
         "JobCurrentStartDate",
         "CommittedSuspensionTime"]


def call(pool, body: str, **kw):
    return client(pool, body + "\nreturn main()\n", **kw)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("suspend") / "pool", DAEMON_LIST=FIVE_DAEMONS,
                      NUM_CPUS="4", MEMORY="4096", KILLING_TIMEOUT="3") as p:
        yield p


def wait_jobs(pool, constraint: str, n: int = 1, timeout: float = 60) -> list[dict]:
    return call(pool, QUERY.format(constraint=constraint, attrs=ATTRS, n=n, timeout=timeout),
                timeout=timeout + 30)


def act(pool, action: str, ids: str) -> dict:
    return call(pool, ACT.format(action=action, ids=ids))


def events(pool, path: Path) -> list[dict]:
    return call(pool, EVENTS.format(path=str(path)))


def wait_events(pool, path: Path, kind: str, count: int = 1, timeout: float = 15) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        evs = events(pool, path)
        if sum(e["type"] == kind for e in evs) >= count or time.monotonic() > deadline:
            return evs
        time.sleep(0.1)


def wait_until(predicate, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def status_of(procs: list[psutil.Process]) -> set[str]:
    out = set()
    for p in procs:
        try:
            out.add(p.status())
        except psutil.Error:
            pass
    return out


def submit_sleepers(pool, tmp_path: Path, marker: str, count: int = 1) -> int:
    """``count`` jobs of ``/bin/sleep <marker>``, once all run."""
    c = call(pool, f"""
import htcondor2 as htcondor
def main():
    return htcondor.Schedd().submit(htcondor.Submit({{"executable": "/bin/sleep", "arguments": "{marker}",
        "log": {str(tmp_path / 'run.log')!r}}}), count={count}).cluster()
""")
    assert len(wait_jobs(pool, f"ClusterId == {c} && JobStatus == 2", n=count)) == count
    assert wait_until(lambda: len(procs_with(f"/bin/sleep {marker}")) >= count), "the jobs' processes run"
    return c


# ---------------------------------------------------------------------------- end to end
def test_suspend_continue_then_remove_while_suspended(pool, tmp_path):
    marker = sleep_marker()
    c = submit_sleepers(pool, tmp_path, marker)
    [proc] = procs_with(marker)
    before = int(time.time())
    result = act(pool, "Suspend", f"{c}.0")
    assert result["TotalSuccess"] == 1
    [ad] = wait_jobs(pool, f"ClusterId == {c} && JobStatus == 7")
    assert ad["JobStatus"] == 7 and ad["LastJobStatus"] == 2 and ad["TotalSuspensions"] == 1
    # as on the real 25.14 pool: EnteredCurrentStatus stays at the start of the run
    assert ad["LastSuspensionTime"] >= before and ad["EnteredCurrentStatus"] < before + 1
    assert ad["EnteredCurrentStatus"] >= ad["JobCurrentStartDate"] - 1
    assert wait_until(lambda: status_of([proc]) == {psutil.STATUS_STOPPED})
    evs = wait_events(pool, tmp_path / "run.log", "JOB_SUSPENDED")
    [sus] = [e for e in evs if e["type"] == "JOB_SUSPENDED"]
    assert sus["NumberOfPIDs"] == 1
    assert re.search(r"^010 \(\d{3}\.000\.000\) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d Job was suspended\.\n"
                     r"\tNumber of processes actually suspended: 1\n\.\.\.\n", (tmp_path / "run.log").read_text(), re.M)
    # a second suspend finds nothing to do
    assert act(pool, "Suspend", f"{c}.0")["TotalBadStatus"] == 1

    assert act(pool, "Continue", f"{c}.0")["TotalSuccess"] == 1
    [ad] = wait_jobs(pool, f"ClusterId == {c} && JobStatus == 2 && TotalSuspensions == 1")
    assert ad["LastJobStatus"] == 7 and ad["LastSuspensionTime"] == 0
    assert ad["CumulativeSuspensionTime"] >= 0 and "UncommittedSuspensionTime" not in ad  # the shadow's own
    assert wait_until(lambda: psutil.STATUS_STOPPED not in status_of([proc]) and status_of([proc]))
    evs = wait_events(pool, tmp_path / "run.log", "JOB_UNSUSPENDED")
    types = [e["type"] for e in evs]
    assert types.index("JOB_SUSPENDED") < types.index("JOB_UNSUSPENDED")
    assert re.search(r"^011 \(\d{3}\.000\.000\) \S+ \d\d:\d\d:\d\d Job was unsuspended\.\n\.\.\.\n",
                     (tmp_path / "run.log").read_text(), re.M)

    # suspended again, then removed: the stopped process is continued and killed
    assert act(pool, "Suspend", f"{c}.0")["TotalSuccess"] == 1
    assert wait_jobs(pool, f"ClusterId == {c} && JobStatus == 7 && TotalSuspensions == 2")
    assert wait_until(lambda: status_of([proc]) == {psutil.STATUS_STOPPED})
    assert act(pool, "Remove", f"{c}.0")["TotalSuccess"] == 1
    assert psutil.wait_procs([proc], timeout=15)[1] == []
    assert wait_until(lambda: not procs_with(marker))
    assert wait_until(lambda: not wait_jobs(pool, f"ClusterId == {c}", timeout=0), timeout=20)
    evs = wait_events(pool, tmp_path / "run.log", "JOB_ABORTED")
    assert [e["type"] for e in evs][-1] == "JOB_ABORTED"


def test_hold_while_suspended_leaves_no_process(pool, tmp_path):
    marker = sleep_marker()
    c = submit_sleepers(pool, tmp_path, marker)
    procs = procs_with(marker)
    assert act(pool, "Suspend", f"{c}.0")["TotalSuccess"] == 1
    assert wait_until(lambda: status_of(procs) == {psutil.STATUS_STOPPED})
    assert act(pool, "Hold", f"{c}.0")["TotalSuccess"] == 1
    assert psutil.wait_procs(procs, timeout=15)[1] == []
    [ad] = wait_jobs(pool, f"ClusterId == {c} && JobStatus == 5")
    assert ad["TotalSuspensions"] == 1 and not procs_with(marker)
    act(pool, "Remove", f"{c}.0")


def test_continue_of_a_running_job_finds_nothing_to_do(pool, tmp_path):
    marker = sleep_marker()
    c = submit_sleepers(pool, tmp_path, marker)
    assert act(pool, "Continue", f"{c}.0")["TotalBadStatus"] == 1
    assert status_of(procs_with(marker)) <= {psutil.STATUS_SLEEPING, psutil.STATUS_RUNNING}
    act(pool, "Remove", f"{c}.0")


# ---------------------------------------------------------------------------- the captured tools
# The captured cluster 5 was two `sleep 600`; condor_suspend 5.0, then condor_q 5 -nobatch.
# Masked: the job ids, owner, submit times, RUN_TIME and SIZE (the real image sizes were
# sampled at other moments), the schedd's address and time stamp, and the all-users totals
# (the captured queue held other jobs).
ALL_USERS = re.compile(r"^Total for all users: .*$", re.M)


def masked(text: str) -> str:
    text = SCHEDD_LINE.sub("-- Schedd: HOST : <ADDRESS?... @ TIME", text)
    text = ALL_USERS.sub("Total for all users: TOTALS", text)
    return NOBATCH_ROW.sub(lambda m: f"ID OWNER SUBMITTED RUN_TIME{m[1]}SIZE ", text)


def tool(pool, cwd: Path, name: str, *args: str) -> tuple[str, str, int]:
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file), TZ="UTC")
    r = subprocess.run([sys.executable, "-m", f"condor_sim.tools.{name}", *args], env=env, cwd=cwd,
                       capture_output=True, text=True, timeout=60)
    return r.stdout, r.stderr, r.returncode


def test_condor_suspend_then_condor_q_matches_the_capture(pool, tmp_path):
    marker = "600"
    c = submit_sleepers(pool, tmp_path, marker, count=2)
    want = capture(CLI / "condor_suspend" / "job-5.0.txt")
    got = tool(pool, tmp_path, "condor_suspend", f"{c}.0")
    assert got == (want["stdout"].replace("5.0", f"{c}.0"), want["stderr"], want["rc"])
    assert wait_jobs(pool, f"ClusterId == {c} && ProcId == 0 && JobStatus == 7")
    want = capture(CLI / "condor_suspend" / "after-condor_q.txt")
    out, err, rc = tool(pool, tmp_path, "condor_q", str(c), "-nobatch")
    assert want["argv"] == ["5", "-nobatch"]
    assert (masked(out), err, rc) == (masked(want["stdout"]), want["stderr"], want["rc"])
    assert " S " in out and "1 suspended" in out
    # suspending it again: the captured refusal
    want = capture(CLI / "condor_suspend" / "already-suspended.txt")
    got = tool(pool, tmp_path, "condor_suspend", f"{c}.0")
    assert got == (want["stdout"], want["stderr"].replace("5.0", f"{c}.0"), want["rc"])
    # condor_continue: 5.0 continued, 5.1 (running) refused
    for case, job in (("job-5.0", 0), ("not-suspended", 1)):
        want = capture(CLI / "condor_continue" / f"{case}.txt")
        assert want["argv"] == [f"5.{job}"]
        got = tool(pool, tmp_path, "condor_continue", f"{c}.{job}")
        assert got == (want["stdout"].replace(f"5.{job}", f"{c}.{job}"),
                       want["stderr"].replace(f"5.{job}", f"{c}.{job}"), want["rc"])
    assert wait_jobs(pool, f"ClusterId == {c} && JobStatus == 2 && TotalSuspensions == 1")
    assert tool(pool, tmp_path, "condor_rm", str(c))[2] == 0


# ---------------------------------------------------------------------------- the pure steps
def test_suspended_sets_the_status_and_counts():
    job = {"JobStatus": "2", "EnteredCurrentStatus": "100", "LastSuspensionTime": "0"}
    assert SU.on_suspended(job, 500) == {"TotalSuspensions": "1", "LastSuspensionTime": "500",
                                          "LastJobStatus": "2", "JobStatus": "7"}
    assert SU.on_suspended({**job, "TotalSuspensions": "3"}, 500)["TotalSuspensions"] == "4"


def test_continued_adds_up_the_time_spent_suspended():
    job = {"JobStatus": "7", "LastSuspensionTime": "500", "TotalSuspensions": "1",
           "CumulativeSuspensionTime": "10", "UncommittedSuspensionTime": "4"}
    assert SU.on_continued(job, 530) == ({"CumulativeSuspensionTime": "40", "LastSuspensionTime": "0",
                                          "LastJobStatus": "7", "JobStatus": "2"}, 30)
    # no suspension under way: nothing is added
    ups, stopped = SU.on_continued({"JobStatus": "7", "LastSuspensionTime": "0"}, 530)
    assert ups["CumulativeSuspensionTime"] == "0" and stopped == 0


def test_commit_moves_the_uncommitted_time():
    assert SU.commit({"CommittedSuspensionTime": "5"}, 30) == {"CommittedSuspensionTime": "35"}
    assert SU.commit({"CommittedSuspensionTime": "5"}, 0) == {}
    assert SU.is_suspended({"JobStatus": "7"}) and not SU.is_suspended({"JobStatus": "2"})


STOP_AND_CONTINUE = """
import signal, subprocess, time, psutil
from condor_sim.execute.starter import signal_job
p = subprocess.Popen(["/bin/sleep", "30"], start_new_session=True)
def wait(pred):
    deadline = time.monotonic() + 10
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.02)
    return psutil.Process(p.pid).status()
n = signal_job(p.pid, signal.SIGSTOP)
stopped = wait(lambda: psutil.Process(p.pid).status() == psutil.STATUS_STOPPED)
signal_job(p.pid, signal.SIGCONT)
running = wait(lambda: psutil.Process(p.pid).status() != psutil.STATUS_STOPPED)
p.kill()
p.wait()
print(n, stopped, running)
"""


def test_the_starter_stops_and_continues_the_job_processes():
    # in a process of its own: signal_job signals every process below its caller
    r = subprocess.run([sys.executable, "-c", STOP_AND_CONTINUE], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    n, stopped, running = r.stdout.split()
    assert (n, stopped) == ("1", "stopped") and running in ("sleeping", "running")


SUSPENSION_ATTRS = ("JobStatus", "LastJobStatus", "EnteredCurrentStatus", "LastSuspensionTime",
                    "TotalSuspensions", "CumulativeSuspensionTime", "CommittedSuspensionTime")


def captured_ad(path: Path) -> dict[str, str]:
    return {line.split(" = ", 1)[0]: line.split(" = ", 1)[1]
            for line in capture(path)["stdout"].splitlines() if " = " in line}


def test_the_suspension_steps_are_what_a_real_pool_did():
    """condor_suspend then condor_continue of job 12.1 on a real 25.14 pool (a later
    capture, fixtures/cli/README.md): the job ad before, suspended and continued.  The
    steps applied to the first give the others, attribute for attribute, and add none."""
    before = captured_ad(CLI / "condor_suspend" / "long-before-12.1.txt")
    suspended = captured_ad(CLI / "condor_suspend" / "long-after-12.1.txt")
    continued = captured_ad(CLI / "condor_continue" / "long-after-12.1.txt")
    at = int(suspended["LastSuspensionTime"])
    after = {**before, **SU.on_suspended(before, at)}
    assert {k: after[k] for k in SUSPENSION_ATTRS} == {k: suspended[k] for k in SUSPENSION_ATTRS}
    assert set(after) == set(before)
    updates, stopped = SU.on_continued(after, at + int(continued["CumulativeSuspensionTime"]))
    again = {**after, **updates}
    assert {k: again[k] for k in SUSPENSION_ATTRS} == {k: continued[k] for k in SUSPENSION_ATTRS}
    assert stopped == int(continued["CumulativeSuspensionTime"]) and set(again) == set(before)
