"""condor_master: starts the pool's daemons as OS processes and keeps them running.

What a user sees is modelled on ``condor_master.V6/master.cpp`` and ``masterDaemon.cpp``:

* ``condor_master`` with no ``-f`` goes into the background (a detached copy of itself)
  and returns once every daemon was started (the copy reports through a pipe, like
  DaemonCore's "background parent"); ``-f`` keeps it in front.  A second master for
  the same ``$(LOCK)/InstanceLock`` fails to get the lock and dies with EXCEPT's
  ``ERROR "Can't get lock on ..."`` line in the MasterLog (status 4; the background
  parent still exits 0, as the real one does).
* every ``DAEMON_LIST`` entry is one process, started from the path in the knob of the
  same name (``SCHEDD = $(SBIN)/condor_schedd``), in its own process group, with
  ``CONDOR_INHERIT`` in its environment; COLLECTOR is started first and the others
  only once its address file exists.
* a child that dies is restarted after ``MASTER_BACKOFF_CONSTANT +
  ceil(MASTER_BACKOFF_FACTOR ** restarts)`` seconds; children are signalled in
  alphabetical order; the admin commands of ``send_command`` (v1 and v2 numbers) do
  what the real ones do, with the real log lines.
* the master advertises its ``DaemonMaster`` ad as soon as the collector is up (a real
  master waits 5 s) and every ``MASTER_UPDATE_INTERVAL``, and invalidates it when it
  shuts down (not when it restarts).

The heavy imports (the client library, DaemonCore) happen only in the process that
really becomes the master, so the short-lived background parent stays cheap.

Memory (see :mod:`.forking`): on Linux the master imports its daemons' modules once
and forks each daemon, instead of starting a fresh interpreter that imports everything
again; the fork makes itself look like the exec'd daemon (pid, process group, name,
command line, initial environment, no descriptor of the master's).  Daemons that are
not ours, that need a fresh interpreter, or ``CONDOR_SIM_FORK_DAEMONS = false`` take the
exec path.

Start-up speed on that path ("pre-start", see ``HeldProcess``): before its own heavy
imports the master launches the interpreters of the daemons it will start; they import
and wait.  Starting a daemon then means logging ``Started DaemonCore process`` and
letting that process go; its imports have overlapped with everybody else's.
"""
from __future__ import annotations

import os
import sys

from . import forking
from .constants import BACKGROUND_FD_ENV
from .launch import Early, background, parse_args

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """``condor_master``: into the background unless ``-f``; then the early, import-light
    steps; only the process that becomes the master imports the daemon."""
    argv = list(sys.argv if argv is None else argv)
    opts = parse_args(argv)
    if opts.rest or len(argv) > 4:
        # main_init's usage(); the real one only logs it, which a user at a terminal (or
        # with a running pool, whose lock this one would fail to get) never sees
        sys.stderr.write(f"Usage: {os.path.basename(argv[0]) or 'condor_master'} [-f] [-t] [-n name]\n")
        sys.exit(2)
    if not opts.foreground and BACKGROUND_FD_ENV not in os.environ:
        sys.exit(background(argv))
    forking.reexec_with_room()
    early = Early(opts, argv)
    from .daemon import Master
    Master(argv, opts, early).start()
