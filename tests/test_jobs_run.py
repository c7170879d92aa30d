"""Jobs really run: submitted through the real client to a five-daemon pool (master,
collector, negotiator, schedd, startd), matched, claimed, executed by a starter, and
finished in the job queue, the history and the user event log as real HTCondor does."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from support.leftovers import procs_with, sleep_marker
from support.pools import FIVE_DAEMONS, client, daemon_pids, log, running_pool


WAIT_DONE = """
import htcondor2 as htcondor, time
schedd = htcondor.Schedd()
def main():
    r = schedd.submit(htcondor.Submit({desc!r}), count={count})
    c = r.cluster()
    deadline = time.time() + {timeout}
    while time.time() < deadline:
        if not schedd.query(f"ClusterId == {{c}}", ["ProcId"]):
            break
        time.sleep(0.1)
    hist = schedd.history(f"ClusterId == {{c}}", [], match={count})
    return {{"cluster": c, "history": [dict(a) for a in hist],
             "left": [dict(a) for a in schedd.query(f"ClusterId == {{c}}")]}}
"""

WAIT_STATUS = """
import htcondor2 as htcondor, time
schedd = htcondor.Schedd()
def main():
    deadline = time.time() + {timeout}
    while time.time() < deadline:
        ads = schedd.query({constraint!r}, ["ProcId", "JobStatus", "HoldReason", "HoldReasonCode",
                                            "HoldReasonSubCode", "RemoteHost", "NumJobStarts"])
        if len(ads) >= {n}:
            return [dict(a) for a in ads]
        time.sleep(0.1)
    return [dict(a) for a in schedd.query("true", ["ProcId", "ClusterId", "JobStatus", "HoldReason"])]
"""

EVENTS = """
import htcondor2 as htcondor
def main():
    out = []
    for e in htcondor.JobEventLog({path!r}).events(stop_after=0):
        out.append({{"type": htcondor.JobEventType(e.type).name, "cluster": e.cluster, "proc": e.proc,
                    **{{k: e[k] for k in e.keys()}}}})
    return out
"""


def call(pool, body: str, **kw):
    """Run a client script that defines ``main()`` and return what it returns."""
    return client(pool, body + "\nreturn main()\n", **kw)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    base = tmp_path_factory.mktemp("jobs")
    with running_pool(base / "pool", DAEMON_LIST=FIVE_DAEMONS, NUM_CPUS="4", MEMORY="4096",
                      KILLING_TIMEOUT="3", PERIODIC_EXPR_INTERVAL="1") as p:
        yield p


def run_to_end(pool, desc: dict, count: int = 1, timeout: float = 60) -> dict:
    return call(pool, WAIT_DONE.format(desc=desc, count=count, timeout=timeout))


def wait_status(pool, constraint: str, n: int = 1, timeout: float = 60) -> list[dict]:
    return call(pool, WAIT_STATUS.format(constraint=constraint, n=n, timeout=timeout))


def events(pool, path: Path) -> list[dict]:
    return call(pool, EVENTS.format(path=str(path)))


WAIT_GONE = """
import htcondor2 as htcondor, time
schedd = htcondor.Schedd()
def main():
    deadline = time.time() + {timeout}
    while time.time() < deadline and schedd.query("ClusterId == {c}", ["ProcId"]):
        time.sleep(0.1)
    return [dict(a) for a in schedd.query("ClusterId == {c}", ["ProcId", "JobStatus"])]
"""


def wait_left_queue(pool, c: int, timeout: float = 20) -> list[dict]:
    """Poll (in one client) until cluster ``c`` has left the queue; what is left of it."""
    return call(pool, WAIT_GONE.format(c=c, timeout=timeout), timeout=timeout + 30)


def wait_procs(marker: str, timeout: float = 15) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while not (found := procs_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def wait_no_procs(marker: str, timeout: float = 15) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := procs_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# ---------------------------------------------------------------------------- a job runs
def test_echo_job_runs_and_completes(pool, tmp_path):
    out = tmp_path / "echo.out"
    desc = {"executable": "/bin/echo", "arguments": "hello from a simulated job",
            "output": str(out), "error": str(tmp_path / "echo.err"), "log": str(tmp_path / "echo.log")}
    r = run_to_end(pool, desc)
    assert not r["left"], r["left"]
    [ad] = r["history"]
    assert ad["JobStatus"] == 4 and ad["ExitCode"] == 0 and ad["ExitBySignal"] is False
    assert ad["NumJobStarts"] == 1 and ad["CompletionDate"] >= ad["JobStartDate"] > 0
    assert ad["RemoteWallClockTime"] >= 0 and ad["LastRemoteHost"].startswith("slot1_")
    assert out.read_text() == "hello from a simulated job\n"
    evs = events(pool, tmp_path / "echo.log")
    types = [e["type"] for e in evs]
    assert types[0] == "SUBMIT" and "EXECUTE" in types and types[-1] == "JOB_TERMINATED", types
    assert types.index("EXECUTE") < types.index("JOB_TERMINATED")
    term = evs[-1]
    assert term["TerminatedNormally"] is True and term["ReturnValue"] == 0
    execute = evs[types.index("EXECUTE")]
    assert execute["SlotName"].startswith("slot1_")
    assert "Started transferring" not in str(evs) or True
    for name in ("NegotiatorLog", "MatchLog", "StartLog", "ShadowLog", "SchedLog"):
        assert log(pool, name), f"{name} is empty"
    assert "Started shadow for job" in log(pool, "SchedLog")
    assert "Request to run on slot1_" in log(pool, "ShadowLog")


def test_exit_code_and_signal_are_reported(pool, tmp_path):
    r = run_to_end(pool, {"executable": "/bin/sh", "arguments": "\"-c 'exit 3'\"",
                          "log": str(tmp_path / "x.log")})
    [ad] = r["history"]
    assert ad["ExitCode"] == 3 and ad["ExitBySignal"] is False
    term = events(pool, tmp_path / "x.log")[-1]
    assert term["type"] == "JOB_TERMINATED" and term["ReturnValue"] == 3
    r = run_to_end(pool, {"executable": "/bin/sh", "arguments": "\"-c 'kill -9 $$'\"",
                          "log": str(tmp_path / "s.log")})
    [ad] = r["history"]
    assert ad["ExitBySignal"] is True and ad["ExitSignal"] == 9
    term = events(pool, tmp_path / "s.log")[-1]
    assert term["TerminatedNormally"] is False and term["TerminatedBySignal"] == 9


def test_file_transfer_runs_in_a_scratch_dir(pool, tmp_path):
    (tmp_path / "in.txt").write_text("input data\n")
    script = tmp_path / "job.sh"
    script.write_text('#!/bin/sh\ncat in.txt > result.txt\necho "$_CONDOR_SCRATCH_DIR" > where.txt\n'
                      'pwd\n')
    script.chmod(0o755)
    desc = {"executable": str(script), "initialdir": str(tmp_path), "should_transfer_files": "YES",
            "when_to_transfer_output": "ON_EXIT", "transfer_input_files": "in.txt",
            "transfer_output_files": "result.txt, where.txt",
            "output": "job.out", "log": "job.log"}
    r = run_to_end(pool, desc)
    [ad] = r["history"]
    assert ad["ExitCode"] == 0
    assert (tmp_path / "result.txt").read_text() == "input data\n"
    scratch = (tmp_path / "where.txt").read_text().strip()
    assert scratch and scratch != str(tmp_path) and "execute" in scratch
    assert not os.path.exists(scratch), "the scratch dir is removed after the job"
    types = [e["type"] for e in events(pool, tmp_path / "job.log")]
    assert "FILE_TRANSFER" in types


def test_many_jobs_run_at_once(pool, tmp_path):
    r = run_to_end(pool, {"executable": "/bin/sleep", "arguments": "1",
                          "log": str(tmp_path / "m.log")}, count=4, timeout=90)
    assert len(r["history"]) == 4 and all(a["ExitCode"] == 0 for a in r["history"])
    starts = sorted(a["JobCurrentStartDate"] for a in r["history"])
    ends = sorted(a["CompletionDate"] for a in r["history"])
    assert starts[-1] <= ends[0] + 1, "four 1-cpu jobs on a 4-cpu slot overlap"


# ---------------------------------------------------------------------------- stopping a running job
def _submit_sleeper(pool, tmp_path, marker: str) -> int:
    body = f"""
import htcondor2 as htcondor
def main():
    return htcondor.Schedd().submit(htcondor.Submit({{"executable": "/bin/sleep", "arguments": "{marker}",
        "log": {str(tmp_path / 'run.log')!r}}})).cluster()
"""
    c = call(pool, body)
    [ad] = wait_status(pool, f"ClusterId == {c} && JobStatus == 2")
    assert ad["JobStatus"] == 2 and ad["RemoteHost"].startswith("slot1_")
    assert wait_procs(marker), "the job's process runs"
    return c


def _act(pool, action: str, c: int) -> None:
    call(pool, f"""
import htcondor2 as htcondor
def main():
    htcondor.Schedd().act(htcondor.JobAction.{action}, "ClusterId == {c}")
""")


def test_remove_kills_a_running_job(pool, tmp_path):
    marker = sleep_marker()
    c = _submit_sleeper(pool, tmp_path, marker)
    _act(pool, "Remove", c)
    assert not wait_no_procs(marker)
    assert not wait_left_queue(pool, c, timeout=20), "the removed job left the queue"
    types = [e["type"] for e in events(pool, tmp_path / "run.log")]
    assert types[-1] == "JOB_ABORTED" and "EXECUTE" in types


def test_hold_and_vacate_a_running_job(pool, tmp_path):
    marker = sleep_marker()
    c = _submit_sleeper(pool, tmp_path, marker)
    first = procs_with(marker)
    _act(pool, "Vacate", c)
    # the first run's process goes (the job may at once run again on the same claim)
    assert psutil.wait_procs(first, timeout=15)[1] == []
    deadline = time.monotonic() + 15
    while "JOB_EVICTED" not in (types := [e["type"] for e in events(pool, tmp_path / "run.log")]) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "JOB_EVICTED" in types
    # back to idle, then it runs again
    [ad] = wait_status(pool, f"ClusterId == {c} && JobStatus == 2 && NumJobStarts >= 2", timeout=60)
    assert ad["NumJobStarts"] >= 2
    _act(pool, "Hold", c)
    assert not wait_no_procs(marker)
    [ad] = wait_status(pool, f"ClusterId == {c} && JobStatus == 5")
    assert ad["HoldReasonCode"] == 1
    _act(pool, "Remove", c)


def test_failures_hold_the_job(pool, tmp_path):
    desc = {"executable": str(tmp_path / "missing"), "transfer_executable": "false",
            "log": str(tmp_path / "f.log")}
    c = call(pool, f"""
import htcondor2 as htcondor
def main():
    return htcondor.Schedd().submit(htcondor.Submit({desc!r})).cluster()
""")
    [ad] = wait_status(pool, f"ClusterId == {c} && JobStatus == 5")
    assert ad["HoldReasonCode"] and ad["HoldReason"]
    types = [e["type"] for e in events(pool, tmp_path / "f.log")]
    assert "JOB_HELD" in types
    _act(pool, "Remove", c)


def test_a_killed_starter_leaves_nothing_running(pool, tmp_path):
    marker = sleep_marker()
    before = daemon_pids(pool)
    c = _submit_sleeper(pool, tmp_path, marker)
    [job] = procs_with(marker)
    starter = job.parent()
    assert starter is not None
    starter.kill()
    # this run's process goes (the job may already run again, a new process)
    gone, alive = psutil.wait_procs([job], timeout=15)
    assert not alive
    # the job goes back to idle and runs again; no daemon died
    [ad] = wait_status(pool, f"ClusterId == {c} && NumJobStarts >= 2", timeout=60)
    assert ad["NumJobStarts"] >= 2
    _act(pool, "Remove", c)
    assert not wait_no_procs(marker)
    assert daemon_pids(pool) == before, "no daemon died or restarted"


def test_v1_api_job_runs(pool, tmp_path):
    out = tmp_path / "v1.out"
    body = f"""
import htcondor, time
def main():
    schedd = htcondor.Schedd()
    sub = htcondor.Submit({{"executable": "/bin/echo", "arguments": "v1", "output": {str(out)!r}}})
    with schedd.transaction() as txn:
        c = sub.queue(txn)
    deadline = time.time() + 60
    while time.time() < deadline and schedd.query(f"ClusterId == {{c}}", ["ProcId"]):
        time.sleep(0.1)
    return [dict(a) for a in schedd.history(f"ClusterId == {{c}}", ["ExitCode", "JobStatus"], 1)]
"""
    [ad] = call(pool, body, api="v1")
    assert ad["ExitCode"] == 0 and ad["JobStatus"] == 4
    assert out.read_text() == "v1\n"


# ---------------------------------------------------------------------------- policies
def _submit(pool, desc: dict, count: int = 1) -> int:
    return call(pool, f"""
import htcondor2 as htcondor
def main():
    return htcondor.Schedd().submit(htcondor.Submit({desc!r}), count={count}).cluster()
""")


def test_periodic_hold_release_and_remove(pool, tmp_path):
    c = _submit(pool, {"executable": "/bin/sleep", "arguments": "300", "log": str(tmp_path / "p.log"),
                       "periodic_hold": "JobStatus == 2 && NumJobStarts >= 1",
                       "periodic_release": "NumHolds < 2",
                       "periodic_remove": "NumHolds >= 2 && JobStatus == 5"})
    # runs, is held by its policy, released, runs again, held again, then removed
    assert not wait_left_queue(pool, c, timeout=60)
    evs = events(pool, tmp_path / "p.log")
    types = [e["type"] for e in evs]
    assert types.count("JOB_HELD") == 2 and "JOB_RELEASED" in types and types[-1] == "JOB_ABORTED", types
    held = [e for e in evs if e["type"] == "JOB_HELD"][0]
    assert held["HoldReasonCode"] == 3 and "PeriodicHold" in held["HoldReason"]


def test_on_exit_hold_and_max_retries(pool, tmp_path):
    c = _submit(pool, {"executable": "/bin/sh", "arguments": "\"-c 'exit 7'\"",
                       "on_exit_hold": "ExitCode == 7", "log": str(tmp_path / "h.log")})
    [ad] = wait_status(pool, f"ClusterId == {c} && JobStatus == 5")
    assert ad["HoldReasonCode"] == 3 and "OnExitHold" in ad["HoldReason"]
    _act(pool, "Remove", c)
    r = run_to_end(pool, {"executable": "/bin/sh", "arguments": "\"-c 'exit 1'\"", "max_retries": "2",
                          "log": str(tmp_path / "r.log")}, timeout=90)
    [ad] = r["history"]
    assert ad["NumJobCompletions"] == 3 and ad["ExitCode"] == 1, ad
    types = [e["type"] for e in events(pool, tmp_path / "r.log")]
    assert types.count("EXECUTE") == 3 and types[-1] == "JOB_TERMINATED"


# ---------------------------------------------------------------------------- hostile jobs
def test_garbage_executable_and_directory_output_hold(pool, tmp_path):
    garbage = tmp_path / "garbage"
    garbage.write_bytes(os.urandom(512))
    garbage.chmod(0o755)
    (tmp_path / "outdir").mkdir()
    c1 = _submit(pool, {"executable": str(garbage), "log": str(tmp_path / "g.log")})
    c2 = _submit(pool, {"executable": "/bin/echo", "arguments": "x", "output": str(tmp_path / "outdir"),
                        "log": str(tmp_path / "d.log")})
    for c in (c1, c2):
        [ad] = wait_status(pool, f"ClusterId == {c} && JobStatus == 5")
        assert ad["HoldReasonCode"] > 0 and ad["HoldReason"], ad
        _act(pool, "Remove", c)


def test_a_job_that_forks_and_exits_leaves_nothing(pool, tmp_path):
    marker = sleep_marker()
    script = tmp_path / "fork.sh"
    script.write_text(f"#!/bin/sh\n(sleep {marker} &)\nsleep {marker} &\nexit 0\n")
    script.chmod(0o755)
    r = run_to_end(pool, {"executable": str(script), "log": str(tmp_path / "f.log")})
    [ad] = r["history"]
    assert ad["ExitCode"] == 0
    assert not wait_no_procs(marker), "the job's leftovers are killed"


def test_a_job_ignoring_sigterm_is_killed_on_remove(pool, tmp_path):
    marker = sleep_marker()
    script = tmp_path / "stubborn.sh"
    script.write_text(f"#!/bin/sh\ntrap '' TERM\nsleep {marker} &\nwait\nwait\n")
    script.chmod(0o755)
    c = _submit(pool, {"executable": str(script), "log": str(tmp_path / "t.log")})
    wait_status(pool, f"ClusterId == {c} && JobStatus == 2")
    wait_procs(marker)
    _act(pool, "Remove", c)
    assert not wait_no_procs(marker, timeout=15), "gone within the killing timeout"
    assert not wait_left_queue(pool, c, timeout=20)


# ---------------------------------------------------------------------------- fidelity
REAL_HISTORY = Path(__file__).resolve().parent.parent / "fixtures" / "lifecycle" / "main25-condor_history-long.txt"


def test_the_completed_job_ad_has_the_real_attributes(pool, tmp_path):
    """The real 25.14 echo job's history ad and ours carry the same attribute names, and
    the values that do not depend on time, host or paths agree."""
    import classad2
    real = next(iter(classad2.parseAds(REAL_HISTORY.read_text())))
    r = run_to_end(pool, {"executable": "/bin/echo", "arguments": "hello from a capture job",
                          "output": str(tmp_path / "o"), "error": str(tmp_path / "e"),
                          "log": str(tmp_path / "l"), "should_transfer_files": "YES",
                          "when_to_transfer_output": "ON_EXIT"})
    [ad] = r["history"]
    assert set(ad) == set(real.keys())
    for name in ("JobStatus", "ExitCode", "ExitBySignal", "NumJobStarts", "NumShadowStarts",
                 "NumJobMatches", "JobRunCount", "NumJobCompletions", "Args", "Cmd",
                 "CpusProvisioned", "MemoryProvisioned", "TransferIn", "ShouldTransferFiles"):
        assert ad[name] == real[name], name


STARTD_FIX = Path(__file__).resolve().parent.parent / "fixtures" / "startd"
# the collector's own per-ad update statistics; the time in a state that has lasted 0 s
NOT_YET = {"TotalTimeUnclaimedIdle"}


def test_machine_and_startd_ads_in_the_collector_are_the_real_ones(pool, tmp_path):
    import classad2
    run_to_end(pool, {"executable": "/bin/true"})      # a claim and a release on the slot
    real = {n: set(next(iter(classad2.parseAds((STARTD_FIX / n).read_text()))).keys())
            for n in ("pslot-idle.ad", "startd.ad")}
    machines, daemons = client(pool, """
import htcondor2
c = htcondor2.Collector()
return [[dict(a) for a in c.query(htcondor2.AdTypes.Startd, "SlotType == \\"Partitionable\\"")],
        [dict(a) for a in c.query(htcondor2.AdTypes.Any, "MyType == \\"StartD\\"")]]
""")
    [slot] = machines
    [daemon] = daemons
    assert slot["MyType"] == "Machine" and slot["Name"].startswith("slot1@")
    assert set(slot) ^ real["pslot-idle.ad"] <= NOT_YET, set(slot) ^ real["pslot-idle.ad"]
    assert set(daemon) ^ real["startd.ad"] <= NOT_YET, set(daemon) ^ real["startd.ad"]
    assert slot["TotalCpus"] == 4 and slot["TotalMemory"] == 4096      # NUM_CPUS, MEMORY
    # answers to the schedd's claims are no updates: the collector sees none lost
    assert slot["UpdatesTotal"] >= 2 and slot["UpdatesLost"] == 0, slot


REAL_EPOCHS = Path(__file__).resolve().parent.parent / "fixtures" / "lifecycle" / "main25-epoch_history"


def epoch_records(text: str) -> list[tuple[str, dict]]:
    """(banner line, ad) for each record of an epoch history file, oldest first."""
    import classad2
    out, lines = [], []
    for line in text.splitlines():
        if line.startswith("*** "):
            out.append((line, classad2.parseOne("\n".join(lines), classad2.ParserType.Old)))
            lines = []
        else:
            lines.append(line)
    return out


def test_a_run_leaves_its_spawn_and_epoch_records_as_the_real_shadow(pool, tmp_path):
    """JOB_EPOCH_HISTORY gets the real records of the same echo job: a SPAWN projection
    when the shadow starts and the EPOCH job ad when the job has exited (before the schedd
    marks it completed), each sorted by name (byte order), with the run number in its banner."""
    real = epoch_records(REAL_EPOCHS.read_text())
    r = run_to_end(pool, {"executable": "/bin/echo", "arguments": "hello from a capture job",
                          "output": str(tmp_path / "o"), "error": str(tmp_path / "e"),
                          "log": str(tmp_path / "l"), "should_transfer_files": "YES",
                          "when_to_transfer_output": "ON_EXIT"})
    [done] = r["history"]
    ours = [(b, ad) for b, ad in epoch_records((pool.directory / "spool" / "epoch_history").read_text())
            if f"ClusterId={done['ClusterId']} " in b]
    assert [b.split()[1] for b, _ in ours] == ["SPAWN", "EPOCH"] == [b.split()[1] for b, _ in real]
    for (banner, ad), (real_banner, real_ad) in zip(ours, real):
        assert re.fullmatch(rf'\*\*\* {ad["EpochAdType"]} ClusterId={done["ClusterId"]} ProcId=0 '
                            rf'RunInstanceId=0 Owner="{done["Owner"]}" CurrentTime=\d+', banner)
        names, real_names = {k.lower() for k in ad.keys()}, {k.lower() for k in real_ad.keys()}
        assert names == real_names, (names - real_names, real_names - names)
    spawn, epoch = ours[0][1], ours[1][1]
    assert spawn["NumShadowStarts"] == 1 and spawn["RunInstanceID"] == 0
    assert epoch["JobStatus"] == 2 and epoch["ExitCode"] == 0 and "CompletionDate" not in epoch
    text = (pool.directory / "spool" / "epoch_history").read_text()
    body = text.split(ours[1][0])[0].rsplit("*** ", 1)[-1].split("\n", 1)[1]
    names = [line.split(" = ")[0] for line in body.splitlines()]
    assert names[:-1] == sorted(names[:-1]) and names[-1] == "EpochWriteDate"
    # and condor_history -epochs reads it
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file))
    out = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_history", "-epochs", "-af",
                          "ClusterId", "ProcId", "ExitCode"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and f"{done['ClusterId']} 0 0\n" in out.stdout, out



def test_a_job_runs_in_a_pool_without_encryption(tmp_path):
    """The plaintext posture (SEC_DEFAULT_ENCRYPTION = NEVER): the startd's claim ids reach
    the collector and the negotiator in clear, as the real startd's put_secret sends them
    without a session key, so jobs still match and run."""
    from support.pools import FIVE_DAEMONS, running_pool
    with running_pool(tmp_path / "p", security="plaintext", DAEMON_LIST=FIVE_DAEMONS) as p:
        r = run_to_end(p, {"executable": "/bin/echo", "arguments": "in clear",
                           "output": str(tmp_path / "out"), "log": str(tmp_path / "l")})
        [ad] = r["history"]
        assert ad["ExitCode"] == 0 and ad["JobStatus"] == 4
        assert (tmp_path / "out").read_text() == "in clear\n"


def test_a_pool_stopped_while_a_job_runs_leaves_no_job_behind(tmp_path):
    """The startd stops its jobs when the pool shuts down, and activates no claim from
    then on: a job the schedd tries to start again in that moment is refused, not left
    running without a starter."""
    from support.pools import FIVE_DAEMONS, running_pool
    marker = sleep_marker()
    with running_pool(tmp_path / "p", DAEMON_LIST=FIVE_DAEMONS) as p:
        _submit_sleeper(p, tmp_path, marker)
        p.stop(timeout=20)
    assert not wait_no_procs(marker, timeout=5)
