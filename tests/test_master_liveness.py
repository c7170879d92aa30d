"""The master notices a hung child and always finishes a shutdown it has begun."""
from __future__ import annotations

import os
import re
import signal
import time

import psutil
import pytest

from support.clients import run_client
from condor_sim.pool import Pool

QUERY = """
import htcondor2
return sorted(a["MyType"] for a in htcondor2.Collector().query(htcondor2.AdTypes.Any, projection=["MyType"]))
"""


def master_log(pool: Pool) -> str:
    return (pool.directory / "log" / "MasterLog").read_text(errors="replace")


def wait_for(pool: Pool, pattern: str, timeout: float = 30) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, master_log(pool))
        if m:
            return m
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not in MasterLog:\n{master_log(pool)[-4000:]}")


def pid_of(pool: Pool, name: str) -> int:
    return next(d["pid"] for d in pool.status()["daemons"] if d["name"] == name)


@pytest.fixture
def pool(pool_factory):
    p = pool_factory(NOT_RESPONDING_TIMEOUT="6", MASTER_DEBUG="D_DAEMONCORE")
    yield p
    for proc in p.processes():          # a test may leave a daemon stopped
        try:
            proc.send_signal(signal.SIGCONT)
        except psutil.Error:
            pass


def test_children_send_keep_alives_over_the_family_session(pool):
    collector, schedd = pid_of(pool, "COLLECTOR"), pid_of(pool, "SCHEDD")
    wait_for(pool, rf"received childalive, pid={collector}, secs=6,")
    wait_for(pool, rf"received childalive, pid={schedd}, secs=6,")
    assert "appears hung" not in master_log(pool)


def test_a_stopped_collector_is_killed_and_restarted(pool):
    old = pid_of(pool, "COLLECTOR")
    wait_for(pool, rf"received childalive, pid={old},")
    os.kill(old, signal.SIGSTOP)
    wait_for(pool, rf"ERROR: Child pid {old} appears hung! Killing it hard\.")
    wait_for(pool, rf"The COLLECTOR \(pid {old}\) was killed because it was no longer responding")
    deadline = time.monotonic() + 30
    while True:
        started = re.findall(r'Started DaemonCore process "[^"]*condor_collector", pid and pgroup = (\d+)',
                             master_log(pool))
        if started and int(started[-1]) != old:
            break
        assert time.monotonic() < deadline, master_log(pool)[-3000:]
        time.sleep(0.1)
    assert not psutil.pid_exists(old)
    others = master_log(pool).replace(f"The COLLECTOR (pid {old}) was killed", "")
    # nobody else: the schedd's updates to the stopped collector do not block it
    assert "was killed because it was no longer responding" not in others
    while True:
        r = run_client(QUERY, pool.config_file)
        if r["ok"] and "Collector" in r["result"]:
            break
        assert time.monotonic() < deadline, r
        time.sleep(0.2)


SEQUENCE = """
import htcondor2
ad = htcondor2.Collector().locate(htcondor2.DaemonType.Master)
htcondor2.send_command(ad, htcondor2.DaemonCommand.DaemonsOff)
htcondor2.send_command(ad, htcondor2.DaemonCommand.OffFast)
htcondor2.send_command(ad, htcondor2.DaemonCommand.DaemonsOff)
return True
"""


def test_daemons_off_during_a_fast_shutdown_still_ends_in_exit(pool_factory):
    """DAEMONS_OFF, DC_OFF_FAST, DAEMONS_OFF.  A stopped schedd keeps the fast shutdown
    going (until SHUTDOWN_FAST_TIMEOUT kills it hard), so the last command arrives while
    the shutdown is under way, every time."""
    pool = pool_factory(SHUTDOWN_FAST_TIMEOUT="2")
    master, schedd = pool.master_pid(), pid_of(pool, "SCHEDD")
    os.kill(schedd, signal.SIGSTOP)
    r = run_client(SEQUENCE, pool.config_file)
    assert r["ok"], r
    wait_for(pool, r"Handling admin command DAEMONS_OFF\.[\s\S]*Got SIGQUIT[\s\S]*"
                   r"Handling admin command DAEMONS_OFF\.")
    wait_for(pool, rf"\*\*\*\* condor_master \(condor_MASTER\) pid {master} EXITING WITH STATUS 0")
    deadline = time.monotonic() + 10
    while psutil.pid_exists(master) and psutil.Process(master).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the master did not exit"
        time.sleep(0.05)
    assert not psutil.pid_exists(schedd)


SCHEDD_QUERY = """
import htcondor2, time
t0 = time.monotonic()
ads = htcondor2.Collector({schedd!r}).query(htcondor2.AdTypes.Schedd, projection=["MyType"])
return [len(ads), time.monotonic() - t0]
"""


def test_a_stopped_collector_does_not_stall_the_other_daemons(pool_factory):
    """The daemons' updates go out on their event loops: while the collector is stopped,
    the schedd keeps answering (its update waits, the daemon does not)."""
    pool = pool_factory(SCHEDD_INTERVAL="1")
    collector = pid_of(pool, "COLLECTOR")
    schedd_addr = pool.address("SCHEDD")
    os.kill(collector, signal.SIGSTOP)
    try:
        for _ in range(5):              # spans several of the schedd's 1 s update attempts
            r = run_client(SCHEDD_QUERY.format(schedd=schedd_addr), pool.config_file)
            assert r["ok"], r
            assert r["result"][0] == 1 and r["result"][1] < 2.0, r
    finally:
        os.kill(collector, signal.SIGCONT)
