"""``htcondor2.personal.PersonalPool``, unmodified, on condor-sim alone: with only our
programs on PATH and no CONDOR_CONFIG, it writes its config (daemons under the wheel's
RELEASE_DIR, where no HTCondor is), starts ``condor_master -f``, waits with
``condor_who -wait``, runs a job through its ``schedd`` and stops with ``condor_off``."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time

import filelock
import pytest

from support.tool_bin import environment, make_bin, processes_of

pytestmark = pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")),
                                reason="POSIX pools only")

SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    condor_config = os.environ.get("CONDOR_CONFIG")      # before the wheel sets its own
    import htcondor2
    from htcondor2.personal import PersonalPool, PersonalPoolState

    local_dir, out_dir = sys.argv[1], sys.argv[2]
    sbin = htcondor2.param["SBIN"]          # the wheel's own default: no config yet
    report = {"sbin": sbin, "condor_config": condor_config}
    pool = PersonalPool(local_dir=local_dir)
    try:
        pool.start()
        report["state"] = pool.state.name
        report["who"] = dict(pool.who())
        report["master_pid"] = pool.condor_master.pid
        schedd = pool.schedd
        sub = htcondor2.Submit({"executable": "/bin/echo", "arguments": "hello from a personal pool",
                                "output": os.path.join(out_dir, "echo.out"),
                                "error": os.path.join(out_dir, "echo.err"),
                                "log": os.path.join(out_dir, "echo.log")})
        cluster = schedd.submit(sub).cluster()
        deadline = time.time() + 60
        while time.time() < deadline and schedd.query(f"ClusterId == {cluster}", ["ProcId"]):
            time.sleep(0.1)
        report["history"] = [dict(a) for a in schedd.history(
            f"ClusterId == {cluster}", ["JobStatus", "ExitCode", "ExitBySignal", "Cmd"], match=1)]
        report["collector"] = sorted(a["MyType"] for a in pool.collector.query(
            htcondor2.AdType.Any, projection=["MyType"]))
    finally:
        pool.stop()
    report["stopped"] = pool.state.name
    report["master_rc"] = pool.condor_master.wait(timeout=30)
    print(json.dumps(report, default=str))
""")


@pytest.fixture(scope="module", params=["fork", "exec"])
def personal(request, tmp_path_factory):
    """The pool's daemons as forks of the master (Linux), or exec'd as elsewhere."""
    base = tmp_path_factory.mktemp("personal")
    extra = {"CONDOR_SIM_FORK_DAEMONS": "false"} if request.param == "exec" else {}
    bin_dir = make_bin(base / "bin")
    local_dir, out_dir = base / "pool", base / "out"
    out_dir.mkdir()
    # PersonalPool's config leaves the ports at HTCondor's defaults: its shared port takes
    # 9618, so two of these pools (other test workers) must not run at once
    with filelock.FileLock(os.path.join(tempfile.gettempdir(), "condor-sim-personal-pool-9618.lock")):
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-c", SCRIPT, str(local_dir), str(out_dir)],
                           env=environment(bin_dir, **extra), capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-4000:]
    assert time.monotonic() - t0 < 60
    report = json.loads(p.stdout.strip().splitlines()[-1])
    return {"report": report, "local_dir": local_dir, "out_dir": out_dir}


def test_the_pool_starts_with_the_wheels_config_and_no_htcondor(personal):
    r = personal["report"]
    assert r["condor_config"] is None
    assert not os.path.exists(os.path.join(r["sbin"], "condor_collector"))
    assert r["state"] == "READY"
    who = r["who"]
    assert who["IsReady"] is True and who["STARTD_State"] == "Ready"
    for d in ("MASTER", "COLLECTOR", "NEGOTIATOR", "SCHEDD", "STARTD"):
        assert who[d] == "Alive", who
    assert who["MASTER_PID"] == r["master_pid"]
    assert {"DaemonMaster", "Collector", "Negotiator", "Scheduler", "Machine"} <= set(r["collector"])


def test_the_master_starts_the_paths_the_config_names(personal):
    """The real master's lines, with the wheel's $(SBIN) paths (where nothing is)."""
    sbin = personal["report"]["sbin"]
    log = (personal["local_dir"] / "log" / "MasterLog").read_text()
    started = re.findall(r'Started DaemonCore process "([^"]+)", pid and pgroup = \d+$', log, re.M)
    # USE_SHARED_PORT is true by default, so the shared port (in $(LIBEXEC)) comes first
    assert started[0].endswith("/condor_shared_port")
    assert started[1:] == [f"{sbin}/condor_{d}" for d in ("collector", "negotiator", "startd", "schedd")]
    assert "Cannot execute" not in log
    banner = (personal["local_dir"] / "log" / "SchedLog").read_text().splitlines()[2]
    assert banner.endswith(f"** {sbin}/condor_schedd")


def test_which_program_runs_for_a_daemon_path(tmp_path):
    from condor_sim.daemons.master import executables as X
    from condor_sim.poolconfig import launcher
    assert X.own_module("/usr/sbin/condor_schedd") == "condor_sim.daemons.schedd"
    assert X.own_module("/opt/x/condor_startd") == "condor_sim.daemons.startd"
    assert X.own_module("/usr/sbin/condor_master") is None        # the master runs itself
    assert X.own_module("/usr/sbin/condor_shadow") is None        # not simulated as a daemon
    assert X.own_module("/bin/false") is None
    ours = tmp_path / "condor_schedd"
    ours.write_text(launcher("condor_sim.daemons.schedd"))
    assert X.own_module(str(ours)) is None                        # a launcher says it itself
    exe, argv = X.exec_command("condor_sim.daemons.collector", "/usr/sbin/condor_collector",
                               ["condor_collector", "-local-name", "C2"])
    assert exe == sys.executable and argv[-2:] == ["-local-name", "C2"]
    assert "sys.argv[0] = '/usr/sbin/condor_collector'" in argv[2]
    assert X.master_command("/nonexistent/condor_master", "", ["-f"]) == \
        (sys.executable, [sys.executable, "-m", "condor_sim.daemons.master", "-f"])
    assert X.master_command("/nonexistent/condor_master", "/bin/true", ["-f"]) == ("/bin/true", ["/bin/true", "-f"])
    assert X.master_command("/bin/true", "/x", ["-f"]) == ("/bin/true", ["/bin/true", "-f"])


def test_a_job_runs_through_its_schedd(personal):
    r = personal["report"]
    assert [(h["JobStatus"], h["ExitCode"], h["ExitBySignal"]) for h in r["history"]] == [(4, 0, False)]
    assert (personal["out_dir"] / "echo.out").read_text() == "hello from a personal pool\n"
    events = (personal["out_dir"] / "echo.log").read_text()
    assert events.startswith("000 (") and "005 (" in events and "Normal termination (return value 0)" in events


def test_it_stops_cleanly(personal):
    r = personal["report"]
    assert (r["stopped"], r["master_rc"]) == ("STOPPED", 0)
    log = (personal["local_dir"] / "log" / "MasterLog").read_text()
    assert log.rstrip().endswith(f"**** condor_master (condor_MASTER) pid {r['master_pid']} "
                                 f"EXITING WITH STATUS 0")
    assert not processes_of(personal["local_dir"] / "condor_config")
