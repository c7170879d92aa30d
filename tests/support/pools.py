"""Pools for tests: start one (and always stop it, checking nothing is left), talk to it
through the real client, read its logs, wait for its ads.  Every test that needs a whole
pool starts it through :func:`running_pool`."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil

from condor_sim.pool import Pool
from support.clients import run_client

BIN = Path(sys.executable).parent
CONDOR_SIM = str(BIN / "condor-sim")
CONDOR_MASTER = str(BIN / "condor_master")
# first restart after 2 s; and the three daemons of a pool that never runs jobs (the
# tests of the master, the schedd's queue and the tools keep their jobs idle); the
# tests of running jobs ask for the five daemons of the default pool.
FAST = {"MASTER_BACKOFF_CONSTANT": "1", "MASTER_BACKOFF_FACTOR": "1",
        "DAEMON_LIST": "MASTER COLLECTOR SCHEDD"}
FIVE_DAEMONS = "MASTER COLLECTOR NEGOTIATOR SCHEDD STARTD"
SINFUL = re.compile(r"^<127\.0\.0\.1:(\d+)\?addrs=127\.0\.0\.1-(\d+)&alias=[^&>]+&noUDP>$")


# ---------------------------------------------------------------------------- helpers
def pool_processes_anywhere(config_file: Path) -> list[psutil.Process]:
    """Every live process on the machine whose environment names this pool's config
    and that is not a client (a daemon, or anything a daemon started)."""
    out = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if p.pid == os.getpid():
            continue
        try:
            env = p.environ()
            if env.get("CONDOR_CONFIG") != str(config_file):
                continue
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(p.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if "CONDOR_INHERIT" in env or "/sbin/condor_" in cmd or "condor_master" in cmd:
            out.append(p)
    return out


def assert_nothing_left(pool: Pool, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = set(pool.processes()) | set(pool_processes_anywhere(pool.config_file))
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"left behind: {[(p.pid, p.cmdline()) for p in left]}"


@contextmanager
def running_pool(path: Path, security: str = "secure", **config):
    pool = Pool(path, config={**FAST, **config}, security=security)
    pool.start(timeout=30)
    try:
        yield pool
    finally:
        if pool.is_running() or pool.processes():
            pool.stop(timeout=20)
        assert_nothing_left(pool)


def client(pool: Pool, body: str, api: str = "v2", **kw) -> dict:
    r = run_client(body, pool.config_file, api=api, **kw)
    assert r["ok"], f"{r.get('error')}: {r.get('message')}\n{r.get('stderr', '')[-2000:]}"
    return r["result"]


def log(pool: Pool, name: str = "MasterLog") -> str:
    p = pool.directory / "log" / name
    return p.read_text(errors="replace") if p.exists() else ""


def wait_log(pool: Pool, pattern: str, name: str = "MasterLog", timeout: float = 10, start: int = 0) -> re.Match:
    """Wait for a regex to appear in a log (after character offset ``start``)."""
    rx = re.compile(pattern, re.M)
    deadline = time.monotonic() + timeout
    while True:
        m = rx.search(log(pool, name), start)
        if m:
            return m
        if time.monotonic() > deadline:
            raise AssertionError(f"/{pattern}/ not in {name}:\n{log(pool, name)[start:][-4000:]}")
        time.sleep(0.05)


def daemon_pids(pool: Pool) -> dict[str, int]:
    return {d["name"]: d["pid"] for d in pool.status()["daemons"]}


def started_pid(pool: Pool, subsys: str, start: int = 0) -> int:
    m = wait_log(pool, rf'Started DaemonCore process "{re.escape(str(pool.directory))}/sbin/'
                       rf'condor_{subsys.lower()}", pid and pgroup = (\d+)$', start=start)
    return int(m.group(1))


def wait_gone(pid: int, timeout: float = 10) -> None:
    try:
        psutil.Process(pid).wait(timeout)
    except psutil.NoSuchProcess:
        pass


SEND = """
import htcondor2
m = htcondor2.Collector().locate(htcondor2.DaemonType.Master)
htcondor2.send_command(m, htcondor2.DaemonCommand.{cmd}{target})
return True
"""
SEND_V1 = """
import htcondor
m = htcondor.Collector().locate(htcondor.DaemonTypes.Master)
htcondor.send_command(m, htcondor.DaemonCommands.{cmd}{target})
return True
"""


def send(pool: Pool, cmd: str, target: str | None = None, api: str = "v2") -> None:
    body = (SEND if api == "v2" else SEND_V1).format(cmd=cmd, target=f", {target!r}" if target else "")
    client(pool, body, api=api)


ADS = """
import htcondor2
ads = htcondor2.Collector().query(htcondor2.AdType.Any, projection=["MyType", "Name", "MyAddress", "MyPid"])
return sorted([dict(a) for a in ads], key=lambda a: a.get("MyType", ""))
"""


def ad_types(pool: Pool) -> dict[str, dict]:
    return {a["MyType"]: a for a in client(pool, ADS)}


def wait_ads(pool: Pool, present=(), absent=(), timeout: float = 15) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        ads = ad_types(pool)
        if all(t in ads for t in present) and not any(t in ads for t in absent):
            return ads
        if time.monotonic() > deadline:
            raise AssertionError(f"collector has {sorted(ads)}; wanted {present} and not {absent}")
        time.sleep(0.2)


# ---------------------------------------------------------------------------- CLI
def run_cli(*args, env=None, timeout=60) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("_CONDOR_") and k != "CONDOR_CONFIG"}
    e.update(env or {})
    return subprocess.run([CONDOR_SIM, *args], capture_output=True, text=True, env=e, timeout=timeout)
