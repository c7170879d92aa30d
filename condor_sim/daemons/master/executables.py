"""Which program runs for a daemon executable the config names.

A pool written by someone else than ``condor-sim up`` (``htcondor2.personal.PersonalPool``,
HTCondor's test harness) names the daemons of an HTCondor install:
``COLLECTOR = $(SBIN)/condor_collector`` with ``SBIN`` under ``/usr``, where nothing (or a
real HTCondor) is.  The master runs its own implementation of every daemon it simulates
whatever path names it: a path called ``condor_<subsystem>`` of a simulated subsystem (so
``SCHEDD2 = $(SCHEDD)`` too) stands for that subsystem's module, unless it is one of our
launchers (which says itself which module it runs).  The master still logs, watches and
shows the path the config names, as a real master does.  Any other path (``/bin/false``, a
wrapper script) is executed as it is.

Import-light: the master's early start reads it.
"""
from __future__ import annotations

import os
import re
import sys

from ...registry import spec

PREFIX = "condor_"
MASTER_MODULE = "condor_sim.daemons.master"

LAUNCHER_MARK = b"# condor-sim daemon launcher"
_RUN_MODULE = re.compile(rb"runpy\.run_module\(\s*['\"]([\w.]+)['\"]")


def launcher_module(path: str | None) -> str | None:
    """The module one of our ``$(SBIN)/condor_*`` launchers runs; None for anything else."""
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return None
    if not head.startswith(b"#!") or LAUNCHER_MARK not in head:
        return None
    m = _RUN_MODULE.search(head)
    return m.group(1).decode() if m else None


def subsystem_of(path: str | None) -> str | None:
    """The simulated subsystem a daemon path is named after (``.../condor_schedd``:
    SCHEDD), or None."""
    if not path:
        return None
    base = os.path.basename(path)
    if not base.startswith(PREFIX) or len(base) == len(PREFIX):
        return None
    s = spec(base[len(PREFIX):])
    return s.subsystem if s is not None and s.simulated else None


def own_module(path: str | None) -> str | None:
    """The module of ours that stands in for the daemon executable ``path`` (not the
    master's own), or None when ``path`` runs as it is: one of our launchers, or a
    program not named after a daemon we simulate."""
    sub = subsystem_of(path)
    if sub is None or sub == "MASTER":
        return None
    if launcher_module(path) is not None:
        return None
    return spec(sub).module


def exec_command(module: str, path: str, args: list[str]) -> tuple[str, list[str]]:
    """The program and argv that run ``module`` in a new process as if ``path`` had been
    executed with ``args`` (``args[0]`` its name): this interpreter, with ``sys.argv[0]``
    set to ``path`` (the daemon's log banner names it)."""
    code = (f"import runpy, sys; sys.argv[0] = {path!r}; "
            f"runpy.run_module({module!r}, run_name='__main__')")
    return sys.executable, [sys.executable, "-c", code] + list(args[1:])


def master_command(path: str, running: str, args: list[str]) -> tuple[str, list[str]]:
    """What a master restarting itself executes for ``MASTER = path``: that path when it
    is a program; else (no HTCondor there) the program this master runs from
    (``running``, its ``sys.argv[0]``) when it is one, else this interpreter running our
    master module.  ``args`` are the arguments after the program name."""
    if os.access(path, os.X_OK) and not os.path.isdir(path):
        return path, [path] + list(args)
    if running and os.access(running, os.X_OK) and not os.path.isdir(running):
        return running, [running] + list(args)
    return sys.executable, [sys.executable, "-m", MASTER_MODULE] + list(args)
