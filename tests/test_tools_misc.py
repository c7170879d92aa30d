"""condor_wait, condor_suspend/condor_continue/condor_vacate_job and the ``htcondor`` command
against what the real 25.14 tools printed (fixtures/cli): first in-process (condor_wait on the
captured event logs, the job-state tools with the schedd replaced by a stand-in answering as
the real one did), then end to end on a simulated pool through ``python -m``."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import classad2
import pytest

from condor_sim.tools import condor_wait, htcondor_main, job_actions as JA, job_state
from support import captures
from support.captures import capture as read_capture
from support.pools import client, running_pool

CAPTURES = captures.CLI
USER_LOGS = CAPTURES / "user-logs"


def capture(tool: str, case: str) -> tuple[dict, str, str]:
    """(header, stdout, stderr) of one captured run; the header's rc as an int."""
    c = read_capture(CAPTURES / tool / f"{case}.txt")
    return {**c["fields"], "rc": c["rc"]}, c["stdout"], c["stderr"]


def log_as_of(text: str, stamp: str) -> str:
    """The events of a log written up to ``stamp`` (``YYYY-MM-DD HH:MM:SS``): the captured
    logs were copied after the pool had moved on."""
    events = re.findall(r"^\d{3} \(.*?^\.\.\.\n", text, re.M | re.S)
    return "".join(e for e in events if e.split(" ", 3)[2] + " " + e.split(" ", 4)[3] <= stamp)


@pytest.fixture
def logs_dir(tmp_path, monkeypatch):
    d = tmp_path / "jobs"
    shutil.copytree(USER_LOGS, d)
    monkeypatch.chdir(d)
    return d


def run_wait(capsys, argv) -> tuple[str, str, int]:
    rc = condor_wait.main(argv)
    got = capsys.readouterr()
    return got.out, got.err, rc


# ---------------------------------------------------------------------------- condor_wait
WAIT_CASES = ["echo-log", "echo-log-jobid", "echo-log-jobid-wrong", "echo-log-status",
              "exit3-log", "missing-log", "noargs", "removed-log"]


@pytest.mark.parametrize("case", WAIT_CASES)
def test_wait_matches_capture(capsys, logs_dir, case):
    header, stdout, stderr = capture("condor_wait", case)
    argv = header["command"].split()[1:]
    assert run_wait(capsys, argv) == (stdout, stderr, header["rc"])


@pytest.mark.parametrize("case,shorter", [("running-log-wait3", ["-wait", "1", "running.log"]),
                                          ("num-1-running-log-wait2",
                                           ["-num", "1", "-wait", "1", "running.log"])])
def test_wait_time_expired_matches_capture(capsys, logs_dir, case, shorter):
    """The log as it was at capture time (both jobs running); the limit shortened to 1 s."""
    header, stdout, stderr = capture("condor_wait", case)
    stamp = header["captured"].split("+")[0].replace("T", " ")
    (logs_dir / "running.log").write_text(log_as_of((logs_dir / "running.log").read_text(), stamp))
    assert run_wait(capsys, shorter) == (stdout, stderr, header["rc"])


def test_wait_status_echo_num_and_job_selection(capsys, logs_dir):
    out, err, rc = run_wait(capsys, ["-status", "removed.log"])
    assert (out, err, rc) == ("6.0.0 submitted\n6.0.0 aborted\nAll jobs done.\n", "", 0)
    out, err, rc = run_wait(capsys, ["-echo", "removed.log", "6"])
    assert out == (USER_LOGS / "removed.log").read_text() + "All jobs done.\n" and rc == 0
    out, _, rc = run_wait(capsys, ["-num", "1", "running.log"])
    assert (out, rc) == ("Specifed number of jobs (1) done.\n", 0)
    # -wait 0: read what is there and stop; still-running jobs are not an error
    (logs_dir / "two.log").write_text(log_as_of((logs_dir / "running.log").read_text(),
                                                "2026-11-28 20:01:50"))
    assert run_wait(capsys, ["-wait", "0", "-status", "two.log"]) == \
        ("5.0.0 submitted\n5.1.0 submitted\n", "", 0)


def test_wait_bad_arguments(capsys, logs_dir):
    out, err, rc = run_wait(capsys, ["echo.log", "x.y"])
    assert (out, err, rc) == ("", "Couldn't understand job number: x.y\n", 1)
    out, err, rc = run_wait(capsys, ["echo.log", "1.0", "extra"])
    assert err.startswith("Extra argument: extra\n\n\nUse: condor_wait [options]") and rc == 1
    out, err, rc = run_wait(capsys, ["-num", "0", "echo.log"])
    assert err.startswith("-num must be greater than zero\n\nUse:") and rc == 1
    out, err, rc = run_wait(capsys, ["-help"])
    assert err == capture("condor_wait", "noargs")[2] and rc == 0
    out, err, rc = run_wait(capsys, ["-bogus", "echo.log"])
    assert err.startswith("\nUse: condor_wait") and rc == 1


def test_wait_job_number_reads_like_sscanf():
    assert condor_wait.job_number("1406.35") == (1406, 35, -1)
    assert condor_wait.job_number("13.25.3") == (13, 25, 3)
    assert condor_wait.job_number("35") == (35, -1, -1)
    assert condor_wait.job_number("7x") == (7, -1, -1)
    assert condor_wait.job_number("abc") is None


# ---------------------------------------------------------------------------- suspend/continue/vacate
class StandInSchedd:
    """Answers ``act`` as the real schedd did for the captured queue (status per job)."""

    def __init__(self, jobs: dict[str, int]):
        self.jobs = jobs
        self.calls = []

    def act(self, action, spec, reason=None):
        self.calls.append((action.name, spec, reason))
        totals = [0] * 6
        for jid in spec:
            status = self.jobs.get(jid)
            if status is None:
                r = JA.AR_NOT_FOUND
            elif action.name == "Continue":
                r = JA.AR_SUCCESS if status == 7 else JA.AR_BAD_STATUS
            else:
                r = JA.AR_SUCCESS if status == 2 else JA.AR_BAD_STATUS
            totals[r] += 1
        ad = classad2.ClassAd(dict(zip(JA.TOTAL_KEYS, totals)))
        ad["TotalJobAds"] = 12
        return ad


STATE_CASES = [
    ("condor_suspend", "job-5.0", {"5.0": 2}),
    ("condor_suspend", "already-suspended", {"5.0": 7}),
    ("condor_suspend", "idle-job", {"4.0": 1}),
    ("condor_continue", "job-5.0", {"5.0": 7}),
    ("condor_continue", "not-suspended", {"5.1": 2}),
    ("condor_vacate_job", "idle-job", {"4.0": 1}),
    ("condor_vacate_job", "job-5.1", {"5.1": 2}),
]
MAINS = {"condor_suspend": job_state.suspend_main, "condor_continue": job_state.continue_main,
         "condor_vacate_job": job_state.vacate_main}


@pytest.mark.parametrize("tool,case,jobs", STATE_CASES)
def test_job_state_tools_match_capture(monkeypatch, capsys, tool, case, jobs):
    header, stdout, stderr = capture(tool, case)
    fake = StandInSchedd(jobs)
    monkeypatch.setattr(JA, "find_schedd", lambda req, out: fake)
    rc = MAINS[tool](header["command"].split()[1:])
    got = capsys.readouterr()
    assert (got.out, got.err, rc) == (stdout, stderr, header["rc"])
    assert fake.calls[0][2] == (job_state.DEFAULT_REASON[job_state.SUSPEND if tool == "condor_suspend"
                                else job_state.CONTINUE if tool == "condor_continue"
                                else job_state.VACATE], None)


def test_job_state_usage_and_fast(monkeypatch, capsys):
    fake = StandInSchedd({"4.0": 1})
    monkeypatch.setattr(JA, "find_schedd", lambda req, out: fake)
    assert job_state.vacate_main(["-fast", "4.0"]) == 1
    assert capsys.readouterr().err == "\nJob 4.0 not running to be fast-vacated\n"
    assert fake.calls[-1][0] == "VacateFast"
    assert job_state.suspend_main(["-fast", "4.0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("-fast is only valid with condor_vacate_job\nUsage: condor_suspend ")
    assert "  cluster.proc        Suspend the given job\n" in err and "-reason" not in err
    job_state.vacate_main([])
    err = capsys.readouterr().err
    assert "  -fast               Use a fast vacate (hardkill)\n and where" in err
    assert "  -all                Vacate all jobs (cannot be used" in err
    assert JA.result_string(job_state.CONTINUE, "3.1", JA.AR_ALREADY_DONE) == "Job 3.1 already running"
    assert JA.result_string(job_state.SUSPEND, "3.1", JA.AR_PERMISSION_DENIED) == \
        "Permission denied to suspend job 3.1"
    # the existing names are untouched
    assert JA.result_string(JA.HOLD, "3.1", JA.AR_ALREADY_DONE) == "Job 3.1 already held"


# ---------------------------------------------------------------------------- htcondor
def test_htcondor_usage_names_the_program(caplog):
    assert htcondor_main.main([]) == 2
    text = caplog.records[-1].getMessage()
    assert text.startswith("usage: htcondor [-h]") and "{dag,job,jobset" in text


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("misc") / "p") as p:
        yield p


def tool(pool, cwd, module: str, *args: str) -> tuple[str, str, int]:
    env = dict(pool.env)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                         env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, "-m", f"condor_sim.tools.{module}", *args], cwd=cwd,
                       env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in p.stderr, p.stderr
    return p.stdout, p.stderr, p.returncode


def submit_sleep(pool, log: Path, count: int = 2) -> int:
    return client(pool, f"""
        import htcondor2
        s = htcondor2.Submit({{"executable": "/bin/sleep", "arguments": "600", "log": {str(log)!r}}})
        return htcondor2.Schedd().submit(s, count={count}).cluster()
    """)


def test_e2e_wait_on_idle_then_removed_jobs(pool, tmp_path):
    c = submit_sleep(pool, tmp_path / "job.log")
    assert tool(pool, tmp_path, "condor_wait", "-wait", "2", "job.log") == ("Time expired.\n", "", 1)
    assert tool(pool, tmp_path, "condor_wait", "-wait", "0", "-status", "job.log") == \
        (f"{c}.0.0 submitted\n{c}.1.0 submitted\n", "", 0)
    assert tool(pool, tmp_path, "condor_rm", str(c))[2] == 0
    assert tool(pool, tmp_path, "condor_wait", "job.log") == ("All jobs done.\n", "", 0)
    assert tool(pool, tmp_path, "condor_wait", "-status", "job.log", f"{c}.1") == \
        (f"{c}.1.0 submitted\n{c}.1.0 aborted\nAll jobs done.\n", "", 0)


def test_e2e_suspend_continue_vacate_on_idle_jobs(pool, tmp_path):
    c = submit_sleep(pool, tmp_path / "job.log")
    for module, case in (("condor_suspend", "idle-job"), ("condor_vacate_job", "idle-job")):
        _, stdout, stderr = capture(module, case)
        got = tool(pool, tmp_path, module, f"{c}.0")
        assert got == (stdout, stderr.replace("4.0", f"{c}.0"), 1)
    assert tool(pool, tmp_path, "condor_continue", f"{c}.1") == \
        ("", f"\nJob {c}.1 not running to be continued\n", 1)
    assert tool(pool, tmp_path, "condor_vacate_job", "-fast", f"{c}.1") == \
        ("", f"\nJob {c}.1 not running to be fast-vacated\n", 1)
    assert tool(pool, tmp_path, "condor_suspend", str(c)) == \
        ("", f"\nCouldn't find/suspend all jobs in cluster {c}\n", 1)
    assert tool(pool, tmp_path, "condor_suspend", f"{c + 100}.0") == \
        ("", f"\nJob {c + 100}.0 not found\n", 1)
    states = client(pool, f"""
        import htcondor2
        return [a["JobStatus"] for a in htcondor2.Schedd().query("ClusterId == {c}", ["JobStatus"])]
    """)
    assert states == [1, 1]


def test_e2e_htcondor_verbs(pool, tmp_path):
    c = submit_sleep(pool, tmp_path / "job.log", count=1)
    out, err, rc = tool(pool, tmp_path, "htcondor_main", "job", "status", f"{c}.0")
    assert rc == 0 and err.startswith(f"Job {c}.0 is currently idle.\n"), err
    out, err, rc = tool(pool, tmp_path, "htcondor_main", "ap", "status")
    assert rc == 0 and re.match(r"Access Point\s+Health\s+DutyCycle\n\S+\s+Good\s", err), err
    out, err, rc = tool(pool, tmp_path, "htcondor_main", "cm", "status")
    assert rc == 0 and re.match(r"Central Manager\s+Health\n\S+\s+Good\n", err), err
    out, err, rc = tool(pool, tmp_path, "htcondor_main", "eventlog", "read", "job.log")
    assert rc == 0 and re.search(rf"^{c}\.0\s", out, re.M), out
    out, err, rc = tool(pool, tmp_path, "htcondor_main", "--version")
    assert rc == 0 and out.startswith("$CondorVersion: ")
    # no startd yet: nothing runs, so the verbs about running jobs say so
    out, err, rc = tool(pool, tmp_path, "htcondor_main", "job", "resources", f"{c}.0")
    assert (rc, err) == (1, f"Error while trying to run job resources:\nJob {c}.0 is not running yet.\n")


# ---------------------------------------------------------------------------- advertise, then query
def advertise_until(pool, cwd, case: str, *argv: str, stdin: str | None = None) -> None:
    """Advertise, then ask the collector until the query the capture ran prints what it printed
    (the update reaches the collector on its own time)."""
    import time
    c = read_capture(CAPTURES / "condor_advertise" / f"{case}.txt")
    env = dict(pool.env)
    p = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_advertise", *argv], cwd=cwd,
                       env=env, input=stdin, capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stderr) == (0, ""), p.stderr
    assert c["argv"][0] in ("-generic", "-any")
    deadline = time.monotonic() + 20
    while True:
        got = tool(pool, cwd, "condor_status", *c["argv"])
        if got == (c["stdout"], c["stderr"], c["rc"]) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got == (c["stdout"], c["stderr"], c["rc"])


def test_e2e_advertise_then_query_as_the_captured_sequence(pool, tmp_path):
    # the capture's order: one ad, then two with -multiple, one from stdin, then one invalidated
    for name in ("generic.ad", "generic-multi.ad"):
        shutil.copy(CAPTURES / "input-files" / name, tmp_path / name)
    advertise_until(pool, tmp_path, "update_ad_generic-then-query", "UPDATE_AD_GENERIC", "generic.ad")
    advertise_until(pool, tmp_path, "update_ad_generic-multiple-then-query", "-multiple",
                    "UPDATE_AD_GENERIC", "generic-multi.ad")
    stdin = read_capture(CAPTURES / "condor_advertise" / "update_ad_generic-stdin.txt")["stdin"]
    invalidate = read_capture(CAPTURES / "condor_advertise" / "invalidate-generic.txt")["stdin"]
    subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_advertise", "UPDATE_AD_GENERIC"],
                   cwd=tmp_path, env=dict(pool.env), input=stdin, capture_output=True, text=True,
                   timeout=60, check=True)
    advertise_until(pool, tmp_path, "after-invalidate-query", "INVALIDATE_ADS_GENERIC", stdin=invalidate)
