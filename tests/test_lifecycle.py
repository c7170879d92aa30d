"""Pool lifecycle end to end: `condor-sim`, `condor_master`, the master's children,
its admin commands (v2 and v1 numbers), restarts, logs, and no process left behind.

Every statement about the pool comes from the real client (``run_client``), from the
files a real pool leaves (MasterLog, address files) or from the OS (psutil); every test
that starts a pool stops it by pid and checks that none of its processes is left.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import psutil
import pytest

from condor_sim.pool import Pool
from support.clients import require_v1
from support.pools import (CONDOR_MASTER, FAST, SINFUL, ad_types, assert_nothing_left, client,
                           daemon_pids, log, run_cli, running_pool, send, started_pid, wait_ads,
                           wait_gone, wait_log)



def test_cli_up_status_down(tmp_path):
    d = tmp_path / "pool"
    cfg = [a for k, v in FAST.items() for a in ("--config", f"{k}={v}")]
    up = run_cli("up", "--dir", str(d), *cfg)
    pool = Pool(d)
    try:
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip().splitlines()[-1] == f"export CONDOR_CONFIG={d}/condor_config"
        assert (d / "config.d" / "00-condor-sim-overrides").read_text().count("MASTER_BACKOFF_CONSTANT = 1") == 1
        for sub in ("log", "spool", "execute", "lock"):
            assert (d / sub).is_dir()
        # the real client: locate all three, and each MyAddress answers
        r = client(pool, """
import htcondor2
c = htcondor2.Collector()
out = {}
for t in ("Master", "Collector", "Schedd"):
    ad = c.locate(getattr(htcondor2.DaemonType, t))
    htcondor2.ping(ad)
    out[t] = ad["MyAddress"]
p = htcondor2.param
out["logs"] = [p["MASTER_LOG"], p["COLLECTOR_LOG"], p["SCHEDD_LOG"]]
out["interval"] = p["UPDATE_INTERVAL"]
return out
""")
        assert r["interval"] == 5
        for t in ("Master", "Collector", "Schedd"):
            assert SINFUL.match(r[t]), r[t]
        assert r["logs"] == [f"{d}/log/MasterLog", f"{d}/log/CollectorLog", f"{d}/log/SchedLog"]
        # status lists the daemons with the real pids and the addresses clients use
        st = run_cli("status", "--dir", str(d))
        assert st.returncode == 0
        pids = daemon_pids(pool)
        assert set(pids) == {"MASTER", "COLLECTOR", "SCHEDD"}
        for name, pid in pids.items():
            assert str(pid) in st.stdout and name in st.stdout
            assert psutil.Process(pid).is_running()
        assert r["Schedd"] in st.stdout
        assert run_cli("env", "--dir", str(d)).stdout.strip() == f"export CONDOR_CONFIG={d}/condor_config"
        # a second `up` uses the running pool: its export line again, the pool left alone
        again = run_cli("up", "--dir", str(d))
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == f"export CONDOR_CONFIG={d}/condor_config"
        assert "already running" in again.stderr and str(pids["MASTER"]) in again.stderr
        # ... but not with settings it cannot apply to a running pool
        changed = run_cli("up", "--dir", str(d), "--config", "FOO=1")
        assert changed.returncode == 1 and changed.stdout == ""
        assert "first to start it with --config" in changed.stderr
        assert daemon_pids(pool) == pids
        down = run_cli("down", "--dir", str(d))
        assert down.returncode == 0, down.stderr
        for pid in pids.values():
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert run_cli("status", "--dir", str(d)).returncode != 0
        assert run_cli("down", "--dir", str(d)).returncode != 0
    finally:
        if pool.processes():
            pool.stop(fast=True)
        assert_nothing_left(pool)


def test_default_dir_from_environment(tmp_path):
    d = tmp_path / "envpool"
    r = run_cli("env", env={"CONDOR_SIM_DIR": str(d)})
    assert r.stdout.strip() == f"export CONDOR_CONFIG={d}/condor_config"


# ---------------------------------------------------------------------------- start-up, ads, logs
def test_startup_logs_pids_and_ads(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        d = pool.directory
        pids = daemon_pids(pool)
        text = log(pool)
        # the master's log, as condor_who reads it
        assert re.search(r"^\S+ \S+ \*\* condor_master \(CONDOR_MASTER\) STARTING UP$", text, re.M)
        assert f"** PID = {pids['MASTER']} " in text
        coll = started_pid(pool, "COLLECTOR")
        schedd = started_pid(pool, "SCHEDD")
        assert (coll, schedd) == (pids["COLLECTOR"], pids["SCHEDD"])
        order = [m.group(0) for m in re.finditer(
            r"Started DaemonCore process \S+ pid|Waiting for \S+ to appear\.|Found \S+\.|"
            r"Daemons::StartAllDaemons all daemons were started", text)]
        assert order[:2] == [f'Started DaemonCore process "{d}/sbin/condor_collector", pid',
                             f"Waiting for {d}/log/.collector_address to appear."]
        assert f"Found {d}/log/.collector_address." in order
        assert order.index(f"Found {d}/log/.collector_address.") < \
            order.index(f'Started DaemonCore process "{d}/sbin/condor_schedd", pid')
        # real OS processes, each leading its own process group, CONDOR_INHERIT as real
        master_ad_addr = (d / "log" / ".master_address").read_text().splitlines()[0]
        for name, pid in pids.items():
            proc = psutil.Process(pid)
            assert os.getpgid(pid) == pid
            assert f"{d}/sbin/condor_{name.lower()}" in proc.cmdline()
            if name != "MASTER":
                assert proc.ppid() == pids["MASTER"]
                env = proc.environ()          # the initial environment, as the kernel keeps it
                assert env["CONDOR_INHERIT"] == f"{pids['MASTER']} {master_ad_addr} 0 0"
                assert env["CONDOR_CONFIG"] == str(pool.config_file)
        # address files, .super included, in the real format
        for rel in ("log/.master_address", "log/.collector_address", "log/.collector_address.super",
                    "spool/.schedd_address", "spool/.schedd_address.super"):
            lines = (d / rel).read_text().splitlines()
            assert SINFUL.match(lines[0]), (rel, lines)
            assert lines[1].startswith("$CondorVersion: ") and lines[2].startswith("$CondorPlatform: ")
        # the ads, through the real client: pids are the OS pids, the master ad has what
        # locate() and RemoteParam need
        r = client(pool, """
import htcondor2
c = htcondor2.Collector()
m = c.query(htcondor2.AdType.Master)[0]
s = c.query(htcondor2.AdType.Schedd)[0]
loc = c.locate(htcondor2.DaemonType.Master)
named = c.locate(htcondor2.DaemonType.Master, m["Name"])
return {"m": dict(m), "s": dict(s), "loc": dict(loc), "named": dict(named)}
""")
        m, s = r["m"], r["s"]
        assert m["MyPid"] == pids["MASTER"] and s["MyPid"] == pids["SCHEDD"]
        assert m["MyType"] == "DaemonMaster" and m["MyAddress"] == master_ad_addr == m["MasterIpAddr"]
        assert r["loc"]["MyAddress"] == r["named"]["MyAddress"] == m["MyAddress"]
        for attr in ("Name", "Machine", "CondorVersion", "CondorPlatform", "AddressV1", "RealUid",
                     "DaemonStartTime", "COLLECTOR_StartTime", "SCHEDD_StartTime", "MASTER_StartTime"):
            assert attr in m, attr
        assert m["SCHEDD_StartTime"] > 0 and "noUDP" in m["MyAddress"]
        assert s["MyAddress"] == (d / "spool" / ".schedd_address.super").read_text().splitlines()[0]


def test_locate_and_ping_v1(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        r = client(pool, """
import htcondor
c = htcondor.Collector()
out = {}
for t in ("Master", "Collector", "Schedd"):
    ad = c.locate(getattr(htcondor.DaemonTypes, t))
    out[t] = ad["MyAddress"]
out["schedds"] = len(c.query(htcondor.AdTypes.Schedd))
return out
""", api="v1")
        assert r["Master"] == pool.address("MASTER") and r["Schedd"] == pool.address("SCHEDD")
        assert r["schedds"] == 1


def test_plaintext_posture_pool_works(tmp_path):
    with running_pool(tmp_path / "p", security="plaintext") as pool:   # ready: the ads got in
        mark = len(log(pool))
        send(pool, "Reconfig")
        wait_log(pool, r"Reconfiguring all managed daemons\.$", start=mark)


def test_two_pools_side_by_side(tmp_path):
    with running_pool(tmp_path / "a") as a, running_pool(tmp_path / "b") as b:
        pa, pb = daemon_pids(a), daemon_pids(b)
        assert not set(pa.values()) & set(pb.values())
        addrs = {a.address(n) for n in pa} | {b.address(n) for n in pb}
        assert len(addrs) == 6
        for pool in (a, b):
            ads = ad_types(pool)
            assert ads["Scheduler"]["MyPid"] == daemon_pids(pool)["SCHEDD"]


def test_periodic_updates_and_remote_param_on_the_master(tmp_path):
    with running_pool(tmp_path / "p", MASTER_UPDATE_INTERVAL="1", SCHEDD_INTERVAL="1") as pool:
        q = """
import htcondor2
c = htcondor2.Collector()
return {a["MyType"]: [a["UpdateSequenceNumber"], a["MyCurrentTime"]]
        for a in c.query(htcondor2.AdType.Any, projection=["MyType", "UpdateSequenceNumber", "MyCurrentTime"])}
"""
        first = client(pool, q)
        deadline = time.monotonic() + 10      # poll until both have advertised again
        while True:
            later = client(pool, q)
            if all(later[t][0] > first[t][0] and later[t][1] > first[t][1]
                   for t in ("DaemonMaster", "Scheduler")):
                break
            assert time.monotonic() < deadline, (first, later)
            time.sleep(0.2)
        # the tutorial's RemoteParam steps against the located master
        r = client(pool, """
import htcondor2
m = htcondor2.Collector().locate(htcondor2.DaemonType.Master)
rp = htcondor2.RemoteParam(m)
return {"n": len(list(rp.keys())), "ui": rp["UPDATE_INTERVAL"], "log": rp["MASTER_LOG"]}
""")
        assert r["ui"] == "5" and r["log"] == f"{pool.directory}/log/MasterLog" and r["n"] > 100


# ---------------------------------------------------------------------------- commands
@pytest.mark.parametrize("api", ["v2", "v1"])
def test_reconfig_sighups_children_in_order(tmp_path, api):
    with running_pool(tmp_path / "p") as pool:
        pids = daemon_pids(pool)
        mark = len(log(pool))
        slog = len(log(pool, "SchedLog"))
        send(pool, "Reconfig", api=api)
        m = wait_log(pool, r"Reconfiguring all managed daemons\.\n.*Sent SIGHUP to COLLECTOR \(pid (\d+)\)\n"
                           r".*Sent SIGHUP to SCHEDD \(pid (\d+)\)$", start=mark)
        assert (int(m.group(1)), int(m.group(2))) == (pids["COLLECTOR"], pids["SCHEDD"])
        wait_log(pool, r"Got SIGHUP\.  Re-reading config files\.$", "SchedLog", start=slog)
        assert "Got SIGHUP" not in log(pool)[mark:]        # the command path logs no signal
        assert daemon_pids(pool) == pids
        if api == "v2":                                    # the signal path does
            mark = len(log(pool))
            os.kill(pids["MASTER"], signal.SIGHUP)
            wait_log(pool, r"Got SIGHUP\.  Re-reading config files\.\n.*Reconfiguring all managed daemons\.\n"
                           r".*Sent SIGHUP to COLLECTOR", start=mark)


def test_reconfig_adds_and_removes_daemons(tmp_path):
    with running_pool(tmp_path / "p", DAEMON_LIST="MASTER COLLECTOR") as pool:
        assert set(daemon_pids(pool)) == {"MASTER", "COLLECTOR"}
        extra = pool.directory / "config.d" / "50-more"
        extra.write_text("DAEMON_LIST = MASTER COLLECTOR SCHEDD\n")
        send(pool, "Reconfig")
        pid = started_pid(pool, "SCHEDD")
        assert wait_ads(pool, present=["Scheduler"])["Scheduler"]["MyPid"] == pid
        extra.write_text("DAEMON_LIST = MASTER COLLECTOR\n")
        mark = len(log(pool))
        send(pool, "Reconfig")
        wait_gone(pid)
        wait_log(pool, rf"Sent SIGTERM to SCHEDD \(pid {pid}\)\n(.*\n)*.*The SCHEDD \(pid {pid}\) exited with status 0",
                 start=mark)
        assert set(daemon_pids(pool)) == {"MASTER", "COLLECTOR"}


def test_daemon_off_and_on(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        pids = daemon_pids(pool)
        mark = len(log(pool))
        send(pool, "DaemonOff", "SCHEDD")
        wait_gone(pids["SCHEDD"])
        wait_log(pool, rf"Handling DAEMON_OFF command for SCHEDD\n.*Sent SIGTERM to SCHEDD \(pid {pids['SCHEDD']}\)\n"
                       rf"(.*\n)*.*The SCHEDD \(pid {pids['SCHEDD']}\) exited with status 0$", start=mark)
        wait_ads(pool, present=["DaemonMaster"], absent=["Scheduler"])
        # held: a crash-style restart would come after the back-off (2 s here); watch the
        # whole window and fail as soon as one appears
        window = time.monotonic() + 2.5
        while time.monotonic() < window:
            assert "SCHEDD" not in daemon_pids(pool)
            assert "restarting" not in log(pool)[mark:]
            time.sleep(0.1)
        send(pool, "DaemonOn", "SCHEDD")
        new = started_pid(pool, "SCHEDD", start=mark)
        assert new != pids["SCHEDD"]
        assert "Handling DAEMON_ON command for SCHEDD" in log(pool)[mark:]
        ads = wait_ads(pool, present=["Scheduler"])
        assert ads["Scheduler"]["MyPid"] == new == daemon_pids(pool)["SCHEDD"]
        # unknown subsystem: logged and ignored
        send(pool, "DaemonOff", "NOSUCH")
        wait_log(pool, r"Error: Can't find daemon of type NOSUCH$", start=mark)


def test_v1_daemons_off_on_and_fast(tmp_path):
    require_v1()
    with running_pool(tmp_path / "p") as pool:
        pids = daemon_pids(pool)
        mark = len(log(pool))
        send(pool, "DaemonsOff", api="v1")
        for name in ("COLLECTOR", "SCHEDD"):
            wait_gone(pids[name])
        wait_log(pool, r"Handling admin command DAEMONS_OFF\.\n.*Sent SIGTERM to COLLECTOR.*\n"
                       r".*Sent SIGTERM to SCHEDD(.*\n)*.*All daemons are gone\.$", start=mark)
        assert pool.is_running() and set(daemon_pids(pool)) == {"MASTER"}
        # DaemonsOn exists only in v1 (v2 sends 483 instead, see below)
        send(pool, "DaemonsOn", api="v1")
        pool.wait_ready(20)
        assert "Handling admin command DAEMONS_ON." in log(pool)[mark:]
        new = daemon_pids(pool)
        mark = len(log(pool))
        # v2's DaemonsOn is really DAEMON_OFF_PEACEFUL with no subsystem: nothing happens
        send(pool, "DaemonsOn")
        wait_log(pool, r"Can't read subsystem name$", start=mark)
        assert daemon_pids(pool) == new
        send(pool, "DaemonOffFast", "SCHEDD", api="v1")
        wait_gone(new["SCHEDD"])
        wait_log(pool, rf"Handling DAEMON_OFF_FAST command for SCHEDD\n.*Sent SIGQUIT to SCHEDD \(pid {new['SCHEDD']}\)",
                 start=mark)


def test_kill_9_schedd_is_restarted_with_backoff(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        d = pool.directory
        pids = daemon_pids(pool)
        mark = len(log(pool))
        os.kill(pids["SCHEDD"], signal.SIGKILL)
        wait_log(pool, rf"The SCHEDD \(pid {pids['SCHEDD']}\) died due to signal 9 \(Killed\)\n"
                       rf".*restarting {re.escape(str(d))}/sbin/condor_schedd in 2 seconds$", start=mark)
        new = started_pid(pool, "SCHEDD", start=mark)
        assert new != pids["SCHEDD"] and psutil.Process(new).ppid() == pids["MASTER"]
        ads = wait_ads(pool, present=["Scheduler"])
        deadline = time.monotonic() + 15
        while ads["Scheduler"]["MyPid"] != new and time.monotonic() < deadline:
            time.sleep(0.3)
            ads = ad_types(pool)
        assert ads["Scheduler"]["MyPid"] == new
        assert daemon_pids(pool)["COLLECTOR"] == pids["COLLECTOR"]


def test_off_fast_then_condor_master_brings_it_back(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        pids = daemon_pids(pool)
        mark = len(log(pool))
        send(pool, "OffFast")
        for pid in pids.values():
            wait_gone(pid)
        assert not pool.processes() and not pool.is_running()
        text = log(pool)[mark:]
        lines = [ln.split(" ", 2)[2] for ln in text.splitlines()]
        assert lines[0] == "Got SIGQUIT.  Performing fast shutdown."
        assert lines[1:3] == [f"Sent SIGQUIT to COLLECTOR (pid {pids['COLLECTOR']})",
                              f"Sent SIGQUIT to SCHEDD (pid {pids['SCHEDD']})"]
        for name in ("COLLECTOR", "SCHEDD"):
            assert f"The {name} (pid {pids[name]}) exited with status 0" in lines
        assert lines[-2:] == ["All daemons are gone.  Exiting.",
                              f"**** condor_master (condor_MASTER) pid {pids['MASTER']} EXITING WITH STATUS 0"]
        assert not (pool.directory / "log" / ".master_address").exists()
        # `condor_master`, as a user would type it, brings the pool back and returns
        rc = os.system(f"CONDOR_CONFIG={pool.config_file} {CONDOR_MASTER}")
        assert rc == 0
        pool.wait_ready(20)
        back = daemon_pids(pool)
        assert set(back) == {"MASTER", "COLLECTOR", "SCHEDD"} and back["MASTER"] != pids["MASTER"]
        # a second master for the same pool is refused (in the background: exit 0, as real)
        mark = len(log(pool))
        assert subprocess.run([CONDOR_MASTER], env=pool.env).returncode == 0
        fg = subprocess.run([CONDOR_MASTER, "-f"], env=pool.env)
        assert fg.returncode == 4
        lock = pool.directory / "lock" / "InstanceLock"
        m = wait_log(pool, rf'^\S+ \S+ ERROR "Can\'t get lock on "{re.escape(str(lock))}"" at line \d+ in file '
                           r'\S+/condor_master\.V6/master\.cpp$', start=mark)
        assert m
        assert daemon_pids(pool) == back


def test_restart_command_reexecs_the_master(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        pids = daemon_pids(pool)
        mark = len(log(pool))
        send(pool, "Restart")
        wait_log(pool, r"Handling admin command RESTART\.(.*\n)*.*All daemons are gone\.  Restarting\.\n"
                       r".*Restarting master right away\.\n"
                       rf'.*Doing exec\( "{re.escape(str(pool.directory))}/sbin/condor_master" \)\n'
                       r".*\*{54}\n.*\*\* condor_master \(CONDOR_MASTER\) STARTING UP", start=mark, timeout=20)
        pool.wait_ready(20)
        new = daemon_pids(pool)
        assert new["MASTER"] == pids["MASTER"]                   # exec: same process
        assert new["SCHEDD"] != pids["SCHEDD"] and new["COLLECTOR"] != pids["COLLECTOR"]


def test_sigterm_is_graceful_and_ads_leave(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        pids = daemon_pids(pool)
        mark = len(log(pool))
        os.kill(pids["MASTER"], signal.SIGTERM)
        for pid in pids.values():
            wait_gone(pid)
        text = log(pool)[mark:]
        assert "Got SIGTERM. Performing graceful shutdown." in text
        assert f"Sent SIGTERM to COLLECTOR (pid {pids['COLLECTOR']})" in text
        assert "All daemons are gone.  Exiting." in text
        assert "EXITING WITH STATUS 0" in log(pool, "SchedLog")


def test_sigkilled_master_leaves_no_orphans(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        pids = daemon_pids(pool)
        os.kill(pids["MASTER"], signal.SIGKILL)
        for name in ("COLLECTOR", "SCHEDD"):
            wait_gone(pids[name], timeout=10)
            assert not psutil.pid_exists(pids[name]) or \
                psutil.Process(pids[name]).status() == psutil.STATUS_ZOMBIE
        wait_log(pool, rf"Our parent process \(pid {pids['MASTER']}\) went away; shutting down fast$", "SchedLog")
        assert not pool.processes()


# ---------------------------------------------------------------------------- logs
def test_log_levels_format_and_rotation(tmp_path):
    with running_pool(tmp_path / "p", MASTER_DEBUG="D_FULLDEBUG D_SUB_SECOND", MAX_MASTER_LOG="3000",
                      DEBUG_TIME_FORMAT="%Y-%m-%dT%H:%M:%S") as pool:
        old = pool.directory / "log" / "MasterLog.old"
        def sighups() -> int:
            return (log(pool) + log(pool, "MasterLog.old")).count("Sent SIGHUP to SCHEDD")
        for n in range(1, 7):                # each reconfig adds a few lines
            if old.exists():
                break
            send(pool, "Reconfig")
            deadline = time.monotonic() + 10
            while sighups() < n and time.monotonic() < deadline:
                time.sleep(0.05)
        assert old.exists()
        text = log(pool) + log(pool, "MasterLog.old")
        assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} ", log(pool), re.M)
        assert "Obtained lock on" in text                       # a D_FULLDEBUG line
        assert re.search(r'Saving log file to "\S+/MasterLog\.old"', text)
        assert "Now in new log file" in log(pool)
        # DEBUG_TIME_FORMAT is for every daemon; D_SUB_SECOND was only the master's, and
        # the schedd has its `(pid:N)` from SCHEDD_DEBUG's default
        pid = daemon_pids(pool)["SCHEDD"]
        assert re.search(rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d \(pid:{pid}\) ", log(pool, "SchedLog"), re.M)
