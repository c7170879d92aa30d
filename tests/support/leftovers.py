"""The end-of-run check: no process of a pool this run started survives it.  Hooks for a
conftest (``from support.leftovers import pytest_sessionfinish, pytest_testnodedown``)."""
from __future__ import annotations

import os
import uuid

import psutil
import pytest


def leftovers(base: str) -> list[tuple[int, str]]:
    """Pool processes started under ``base`` (a pytest base temp directory) still alive."""
    base = base.rstrip(os.sep) + os.sep
    left = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if p.pid == os.getpid() or p.status() == psutil.STATUS_ZOMBIE:
                continue
            env = p.environ()
            cfg = env.get("CONDOR_CONFIG", "")
            cmd = " ".join(p.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        scratch = env.get("_CONDOR_SCRATCH_DIR", "")
        if (cfg.startswith(base) and ("CONDOR_INHERIT" in env or "condor_" in cmd)) \
                or (base in cmd and "/sbin/condor_" in cmd) or scratch.startswith(base):
            left.append((p.pid, cmd))      # a daemon, a starter, or a job of a pool's slot
    return left


def sleep_marker() -> str:
    """A word no other process's command line holds: the seconds a test job sleeps
    (a whole number of seconds and a unique fraction, e.g. ``4321.083517``)."""
    n = uuid.uuid4().int
    return f"{1000 + n % 8000}.{n // 8000 % 10**6:06d}"


def procs_with(marker: str) -> list[psutil.Process]:
    """Processes whose command line holds ``marker`` (a test job's own words) as whole
    words: a marker that is a number must not match a port or a path that holds it."""
    want = marker.split()
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            words = " ".join(p.info["cmdline"] or []).split()
        except (psutil.Error, TypeError):
            continue
        if any(words[i:i + len(want)] == want for i in range(len(words) - len(want) + 1)):
            found.append(p)
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    """After every test (of this worker, or of the whole run): nothing started under the
    run's temp directory survives.  A leftover is killed by pid, so that it does not outlive
    the run, and fails the run; an xdist worker reports it to the controller (first, before
    xdist sends the worker's output)."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    left = []
    if factory is not None:
        try:
            left = leftovers(str(factory.getbasetemp()))
        except OSError:
            left = []
    for pid, _ in left:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
    left += session.config.stash.get(_FROM_WORKERS, [])
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:                # an xdist worker: tell the controller
        workeroutput["condor_sim_leftovers"] = left
        return
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("pool processes left behind by the suite: "
                                + "; ".join(f"{pid} {cmd}" for pid, cmd in left), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_FROM_WORKERS = pytest.StashKey[list]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist controller: collect what each worker found left behind."""
    found = getattr(node, "workeroutput", {}).get("condor_sim_leftovers") or []
    node.config.stash.setdefault(_FROM_WORKERS, []).extend(tuple(x) for x in found)
