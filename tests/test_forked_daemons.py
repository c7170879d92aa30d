"""The master's daemons as forks of the master (condor_sim/daemons/master/forking.py):
each is still its own process, a child and group leader that ``ps`` and psutil name and
show as the exec'd one, restarted after a crash, gone with the pool; the exec path is
still taken where a fork cannot stand in for it."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import psutil
import pytest

from condor_sim.daemons.master import forking
from condor_sim.poolconfig import launcher
from support.pools import (assert_nothing_left, daemon_pids, log, running_pool, started_pid, wait_gone,
                           wait_log)

pytestmark = pytest.mark.skipif(not forking.supported(), reason="daemons are forked on Linux only")


def _is_fork(proc: psutil.Process, sbin_exe: str) -> bool:
    """A fork shows its launcher's path as the whole command line; an exec'd daemon has
    the interpreter first (the launcher's #! line)."""
    cmd = proc.cmdline()
    assert sbin_exe in cmd
    return cmd[0] == sbin_exe


def _check_daemons(pool, forked: set[str]) -> dict[str, int]:
    d = pool.directory
    pids = daemon_pids(pool)
    assert set(pids) == {"MASTER", "COLLECTOR", "SCHEDD"}
    master_addr = (d / "log" / ".master_address").read_text().splitlines()[0]
    for name, pid in pids.items():
        if name == "MASTER":
            continue
        exe = f"{d}/sbin/condor_{name.lower()}"
        proc = psutil.Process(pid)
        assert proc.ppid() == pids["MASTER"] and os.getpgid(pid) == pid
        assert started_pid(pool, name) == pid
        assert _is_fork(proc, exe) == (name in forked), (name, proc.cmdline())
        # (an exec'd one's name is cut to 15 characters: psutil finds the rest only in a
        # command line that starts with it, as a fork's does)
        assert proc.name() == f"condor_{name.lower()}"[:15 if name not in forked else None]
        env = proc.environ()
        assert env["CONDOR_INHERIT"] == f"{pids['MASTER']} {master_addr} 0 0"
        assert env["CONDOR_CONFIG"] == str(pool.config_file)
        assert forking.ENV_ROOM not in env
        if name in forked:         # as with a pre-started daemon: it arrives later
            assert "CONDOR_PRIVATE_INHERIT" not in env
        # its own log, opened by itself
        logname = {"COLLECTOR": "CollectorLog", "SCHEDD": "SchedLog"}[name]
        assert f"** PID = {pid} " in log(pool, logname)
    return pids


def test_daemons_are_forked_children_with_their_own_pids_and_names(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        pids = _check_daemons(pool, forked={"COLLECTOR", "SCHEDD"})
        assert len(set(pids.values())) == 3
        master = psutil.Process(pids["MASTER"])          # (it re-executed itself once)
        assert master.name() == "condor_master"
        assert master.cmdline()[1:] == [f"{pool.directory}/sbin/condor_master", "-f"]
        assert master.environ()[forking.ENV_ROOM] == "0" * forking.ENV_ROOM_SIZE
        # ps names them as it names the real daemons
        out = subprocess.run(["ps", "-ww", "-o", "pid=,comm=,args=", "-p", f"{pids['SCHEDD']}"],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out == [str(pids["SCHEDD"]), "condor_schedd", f"{pool.directory}/sbin/condor_schedd"]
        # nothing of the master's: no listening socket, no instance lock
        for name in ("COLLECTOR", "SCHEDD"):
            listening = [c.laddr.port for c in psutil.Process(pids[name]).net_connections("tcp")
                         if c.status == psutil.CONN_LISTEN]
            assert listening == [int(re.search(r":(\d+)\?", pool.address(name)).group(1))]
            files = [f.path for f in psutil.Process(pids[name]).open_files()]
            assert not any(p.endswith("InstanceLock") for p in files)


def test_a_crashed_forked_daemon_is_restarted_as_a_fork(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        d = pool.directory
        pids = daemon_pids(pool)
        mark = len(log(pool))
        os.kill(pids["COLLECTOR"], signal.SIGABRT)
        wait_log(pool, rf"The COLLECTOR \(pid {pids['COLLECTOR']}\) died due to signal 6 \(Aborted\)\n"
                       rf"(?:.*\n)*?.*restarting {re.escape(str(d))}/sbin/condor_collector in 2 seconds$", start=mark)
        new = started_pid(pool, "COLLECTOR", start=mark)
        assert new != pids["COLLECTOR"]
        proc = psutil.Process(new)
        assert proc.ppid() == pids["MASTER"] and os.getpgid(new) == new
        # the fork names itself (command line, title) just after the master logged it
        wait_log(pool, rf"\*\* PID = {new} ", name="CollectorLog")
        assert _is_fork(proc, f"{d}/sbin/condor_collector")


def test_exec_fallback_when_forking_is_off(tmp_path, monkeypatch):
    monkeypatch.setenv(forking.FORK_KNOB, "false")
    with running_pool(tmp_path / "p") as pool:
        _check_daemons(pool, forked=set())


def test_exec_fallback_by_config_and_for_a_daemon_needing_a_fresh_interpreter(tmp_path):
    with running_pool(tmp_path / "p", SCHEDD_ENVIRONMENT="PYTHONHASHSEED=7") as pool:
        pids = _check_daemons(pool, forked={"COLLECTOR"})
        assert psutil.Process(pids["SCHEDD"]).environ()["PYTHONHASHSEED"] == "7"
    with running_pool(tmp_path / "q", CONDOR_SIM_FORK_DAEMONS="false") as pool:
        _check_daemons(pool, forked=set())


def test_killed_master_leaves_no_forked_daemon(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        pids = daemon_pids(pool)
        os.kill(pids["MASTER"], signal.SIGKILL)
        for name, pid in pids.items():
            if name != "MASTER":
                wait_gone(pid)
                assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert_nothing_left(pool)


# ---------------------------------------------------------------------------- units
def test_launcher_module_reads_only_our_launchers(tmp_path):
    ours = tmp_path / "condor_schedd"
    ours.write_text(launcher("condor_sim.daemons.schedd"))
    assert forking.launcher_module(str(ours)) == "condor_sim.daemons.schedd"
    other = tmp_path / "condor_other"
    other.write_text("#!/bin/sh\nexec runpy.run_module('x')\n")
    assert forking.launcher_module(str(other)) is None
    assert forking.launcher_module(str(tmp_path / "missing")) is None


_REWRITE = """
import os, sys
from condor_sim.daemons.master import forking
os.environ.pop(forking.ENV_ROOM)
os.environ["CONDOR_INHERIT"] = "1 <x> 0 0"
fits = forking.set_environ_block({k: v for k, v in os.environb.items()})
titled = forking.set_title(sys.argv[1:])
named = forking.set_process_name("condor_collector")
print(fits, titled, named, os.getenv("CONDOR_CONFIG"), flush=True)
sys.stdin.read()
"""


def test_command_line_name_and_environment_are_rewritten():
    env = forking.env_with_room({"PATH": os.environ.get("PATH", ""), "CONDOR_CONFIG": "/c/condor_config",
                                 "PYTHONPATH": os.pathsep.join(sys.path)})
    p = subprocess.Popen([sys.executable, "-c", _REWRITE, "/pool/sbin/condor_collector", "-local-name", "C2"],
                         env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().split() == ["True", "True", "True", "/c/condor_config"]
        proc = psutil.Process(p.pid)
        assert proc.cmdline() == ["/pool/sbin/condor_collector", "-local-name", "C2"]
        assert proc.name() == "condor_collector"
        shown = proc.environ()
        assert shown["CONDOR_INHERIT"] == "1 <x> 0 0" and forking.ENV_ROOM not in shown
        assert shown["CONDOR_CONFIG"] == "/c/condor_config"
    finally:
        p.communicate("")


def test_title_that_does_not_fit_changes_nothing():
    code = ("import sys; from condor_sim.daemons.master import forking;"
            "print(forking.set_title(['/x' * 5000]), open('/proc/self/cmdline','rb').read().split(b'\\0')[1])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout
    assert out.split() == ["False", "b'-c'"]
