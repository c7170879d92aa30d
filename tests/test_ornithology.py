"""HTCondor's own test harness, ornithology (vendored in tests/vendor/ornithology), drives a
condor-sim pool through its whole lifecycle: ``Condor(local_dir, config=...)`` copies the
machine's base config (``condor_config_val -write:up``), starts ``condor_master -f`` found
on PATH, waits with ``condor_who -wait``, queries the collector, runs a job to completion,
restarts the pool (``condor_restart``, the master re-executing itself) and stops it
(``condor_off -fast -daemon master``).

The machine's base config stands for what an installed HTCondor puts in
/etc/condor/condor_config: ``use ROLE : Personal`` with ``use SECURITY : recommended``
and the user who runs the tests allowed in.  The daemons' paths are the wheel's own
defaults (under /usr), where no HTCondor is."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from support.tool_bin import REPO, environment, make_bin, processes_of

pytestmark = pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")),
                                reason="POSIX pools only")

BASE_CONFIG = """\
use ROLE : Personal
use SECURITY : recommended
ALLOW_ADMINISTRATOR = $(ALLOW_ADMINISTRATOR) $(USERNAME)@*
ALLOW_DAEMON = $(ALLOW_DAEMON) $(USERNAME)@*
ALLOW_NEGOTIATOR = $(ALLOW_NEGOTIATOR) $(USERNAME)@*
ALLOW_WRITE = $(ALLOW_WRITE) $(USERNAME)@*
ALLOW_READ = $(ALLOW_READ) $(USERNAME)@*
"""

SCRIPT = textwrap.dedent("""
    import json, re, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    import htcondor2
    from vendor.ornithology import ClusterState, Condor

    local_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    report = {}

    def who(condor):
        text = condor.run_command(["condor_who", "-quick"], echo=False).stdout
        return dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)

    with Condor(local_dir, config={"NUM_CPUS": "2", "MEMORY": "2048"}) as condor:
        report["ready"] = condor.condor_is_ready
        report["master_pid"] = condor.condor_master.pid
        report["who_before"] = who(condor)
        report["startds"] = sorted(a["Name"] for a in condor.status(
            htcondor2.AdTypes.Startd, projection=["Name"]))
        deadline = time.time() + 20       # every daemon's first update has arrived
        while True:
            report["types"] = sorted({a["MyType"] for a in condor.status(projection=["MyType"])})
            if "DaemonMaster" in report["types"] or time.time() > deadline:
                break
            time.sleep(0.2)
        handle = condor.submit({"executable": "/bin/echo", "arguments": "hello from ornithology",
                                "output": str(out_dir / "echo.out"), "error": str(out_dir / "echo.err"),
                                "log": str(out_dir / "echo.log")})
        report["completed"] = handle.wait(condition=ClusterState.all_complete, timeout=60)
        report["history"] = [dict(a) for a in condor.get_local_schedd().history(
            f"ClusterId == {handle.clusterid}", ["JobStatus", "ExitCode"], match=1)]
        condor.restart()
        report["who_after"] = who(condor)
        with condor.use_config():
            report["schedd_after"] = htcondor2.Collector().locate(htcondor2.DaemonType.Schedd)["MyAddress"]
        again = condor.submit({"executable": "/bin/echo", "arguments": "after the restart",
                               "output": str(out_dir / "again.out"), "log": str(out_dir / "again.log")})
        report["completed_again"] = again.wait(condition=ClusterState.all_complete, timeout=60)
    report["master_rc"] = condor.condor_master.returncode
    print(json.dumps(report, default=str))
""")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("ornithology")
    bin_dir = make_bin(base / "bin")
    (base / "etc").mkdir()
    (base / "etc" / "condor_config").write_text(BASE_CONFIG)
    local_dir, out_dir = base / "pool", base / "out"
    out_dir.mkdir()
    env = environment(bin_dir, CONDOR_CONFIG=str(base / "etc" / "condor_config"))
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(local_dir), str(out_dir), str(REPO / "tests")],
                       env=env, cwd=base, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-6000:]
    return {"report": json.loads(p.stdout.strip().splitlines()[-1]), "local_dir": local_dir,
            "out_dir": out_dir, "base": base}


def test_its_config_is_the_base_config_plus_its_own(run):
    text = (run["local_dir"] / "condor_config").read_text()
    assert text.startswith(f"\n#\n# from {run['base']}/etc/condor_config\n#\n")
    assert "DAEMON_LIST = MASTER COLLECTOR NEGOTIATOR STARTD SCHEDD" in text
    assert "COLLECTOR_HOST = $(CONDOR_HOST):0" in text          # any port: found by its address file


def test_it_starts_and_waits_for_readiness(run):
    r = run["report"]
    assert r["ready"] is True
    who = r["who_before"]
    assert who["IsReady"] == "true" and who["STARTD_State"] == '"Ready"'
    assert all(who[d] == '"Alive"' for d in ("MASTER", "COLLECTOR", "NEGOTIATOR", "SCHEDD", "STARTD"))
    assert who["MASTER_PID"] == str(r["master_pid"])
    log = (run["local_dir"] / "log" / "MasterLog").read_text()
    assert re.search(r'Started DaemonCore process "/usr/sbin/condor_collector", pid and pgroup = \d+$',
                     log, re.M)


def test_the_collector_answers(run):
    r = run["report"]
    slots = [n for n in r["startds"] if "@" in n]
    assert len(slots) == 1 and slots[0].startswith("slot1@")      # and the startd's own ad
    assert {"DaemonMaster", "Collector", "Negotiator", "Scheduler", "Machine"} <= set(r["types"])


def test_a_job_completes(run):
    r = run["report"]
    assert r["completed"] is True
    assert [(h["JobStatus"], h["ExitCode"]) for h in r["history"]] == [(4, 0)]
    assert (run["out_dir"] / "echo.out").read_text() == "hello from ornithology\n"


def test_restart_reexecutes_the_master_and_the_pool_works_after_it(run):
    r = run["report"]
    before, after = r["who_before"], r["who_after"]
    assert after["MASTER_PID"] == before["MASTER_PID"]            # the master exec'd itself
    assert after["SCHEDD_PID"] != before["SCHEDD_PID"] and after["IsReady"] == "true"
    assert after["SCHEDD_Addr"].strip('"').split("?")[0].rstrip(">") in r["schedd_after"]
    log = (run["local_dir"] / "log" / "MasterLog").read_text()
    assert 'Doing exec( "/usr/sbin/condor_master" )' in log
    assert log.count("** condor_master (CONDOR_MASTER) STARTING UP") == 2
    assert r["completed_again"] is True
    assert (run["out_dir"] / "again.out").read_text() == "after the restart\n"


def test_it_stops(run):
    assert run["report"]["master_rc"] == 0
    log = (run["local_dir"] / "log" / "MasterLog").read_text()
    assert log.rstrip().endswith("EXITING WITH STATUS 0")
    assert not processes_of(run["local_dir"] / "condor_config")
    assert os.path.exists(run["local_dir"] / "log" / "StartLog")
