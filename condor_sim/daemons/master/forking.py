"""Daemons as forks of the master, so that a pool's processes share one copy of what
they all import (the client library, cryptography, DaemonCore, the daemon modules).

A fresh interpreter per daemon costs every daemon its own copy of every imported module
(some 29 MB PSS each); a fork shares those pages with the master until either writes
them.  So, once the pool's config names its daemons, the master imports their modules
(:func:`preload`, then ``gc.freeze()``: the collector then never writes the shared
objects' headers) and :func:`fork_daemon` makes each daemon a child that looks like one
started from its executable:

* its own pid and process group, a child of the master (which reaps and restarts it as
  before), with the signal dispositions and mask of a new process;
* holding no descriptor the master opened (what ``exec`` would have closed: every
  close-on-exec one), and no trace of the master's event loop or signal thread;
* with the environment the exec path gives it (``CONDOR_INHERIT``, the family session,
  ``<NAME>_ENVIRONMENT``), ``sys.argv`` as its launcher would see it, the process name
  ``condor_schedd`` (``prctl(PR_SET_NAME)``) and the command line
  ``$(SBIN)/condor_schedd [-local-name L ...]`` (written over the master's own, as
  setproctitle does), so that ``ps``, psutil and the pool handle name it as before;
* with ``/proc/PID/environ`` (the initial environment) listing that environment less
  the family session, as a pre-started daemon's does.  The kernel keeps it in a fixed
  area, the master's own: so the master starts with ``ENV_ROOM`` spare bytes there
  (its background parent gives them; a master started otherwise re-executes itself
  once, before anything else, to get them).

The master's sigwaitinfo thread (and any other) does not exist in a fork; the fork
unblocks the signals the master keeps for that thread.  A daemon is exec'd instead while
a call of the client library runs in one of the master's threads (its locks would be
copied held).

Linux only (the command line cannot be rewritten elsewhere, and fork after threads is
unsafe on macOS); a daemon path that is not one of our launchers, an environment that
needs a fresh interpreter (``PYTHON*``/``LD_*``), ``CONDOR_SIM_FORK_DAEMONS = false`` (config
or environment) or a title that does not fit take the exec path.
"""
from __future__ import annotations

import os
import sys

from ... import procs
from ...procs import set_process_name, set_title
from .executables import exec_command, launcher_module

FORK_KNOB = "CONDOR_SIM_FORK_DAEMONS"
# Room in the master's initial environment for its forks' own (see set_environ_block).
ENV_ROOM = "CONDOR_SIM_ENV_ROOM"
ENV_ROOM_SIZE = 2048

_preloaded: set[str] = set()
# Imported by every daemon on its first connection (lazily, in security/handshake.py):
# once in the master instead of once in each fork.
ALSO_SHARED = ("cryptography.hazmat.primitives.serialization",)


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _false(text: str | None) -> bool:
    return (text or "").strip().lower() in ("false", "0", "no", "off")


def enabled(config) -> bool:
    """Forking is on unless the environment or the config turns it off (or unsupported)."""
    if not supported():
        return False
    env = os.environ.get(FORK_KNOB)
    if env is not None:
        return not _false(env)
    return config.get_bool(FORK_KNOB, True)


def may_fork() -> bool:
    """What the master can tell before reading its config: forks are possible here and
    the environment does not turn them off."""
    return supported() and not _false(os.environ.get(FORK_KNOB))


def env_with_room(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus the room a master started with it needs for its forks' environments."""
    out = dict(env)
    out[ENV_ROOM] = "0" * ENV_ROOM_SIZE
    return out


def reexec_with_room() -> None:
    """A master started without that room execs itself once with it (same pid, same
    command line), before anything else; a background master gets it from its parent."""
    if not may_fork() or ENV_ROOM in os.environ or not getattr(sys, "orig_argv", None):
        return
    argv = list(sys.orig_argv)
    path = sys.executable
    script = sys.argv[0] if sys.argv else ""
    if len(argv) > 1 and argv[1] == script and os.access(script, os.X_OK):
        # our launcher again (its #! line names this interpreter): the kernel then names
        # the process after it, as the first time
        path, argv = script, argv[1:]
    try:
        os.execve(path, argv, env_with_room(os.environ))
    except OSError:
        pass             # then our daemons are exec'd: they will not fit


def take_room() -> None:
    """The master's children never see the room variable (it stays in /proc only)."""
    os.environ.pop(ENV_ROOM, None)


def forkable(config, path: str | None, extra_env: dict[str, str],
             module: str | None = None) -> str | None:
    """The module to run in a fork for this daemon (``module``, the one that stands in
    for ``path``, else the one its launcher runs), or None when it must be exec'd."""
    if not enabled(config) or any(k.startswith(("PYTHON", "LD_")) for k in extra_env):
        return None
    return module or launcher_module(path)


def preload(modules) -> None:
    """Import the daemons' modules in the master, then freeze what exists by now, so the
    forks share it (and their collector never touches it)."""
    import gc
    import importlib
    procs.libc()                    # ctypes and libc, for the forks to name themselves
    new = [m for m in list(modules) + list(ALSO_SHARED) if m and m not in _preloaded]
    for m in new:
        try:
            importlib.import_module(m)
        except Exception:         # the fork imports it again and reports the failure
            pass
        _preloaded.add(m)
    if new:
        gc.collect()
        gc.freeze()


def fork_daemon(module: str, path: str, args: list[str], env: dict[str, str],
                drop_env: tuple[str, ...] = ()) -> int:
    """Fork the daemon ``module`` as if ``path`` had been exec'd with ``args`` and the
    master's environment plus ``env`` less ``drop_env``; its pid (in the master)."""
    import warnings
    pid = -1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    import signal
    # Nothing is delivered between fork and the child's own dispositions: a handler of
    # the master's run in the child would write to the master's wakeup pipe.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)    # "multi-threaded ... fork()"
            pid = os.fork()
    finally:
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    if pid:
        try:
            os.setpgid(pid, pid)       # also done by the child: whoever runs first
        except OSError:
            pass
        return pid
    code = 1
    try:
        code = _child(module, path, args, env, drop_env)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, (int, type(None))):
            sys.stderr.write(f"{e.code}\n")
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        os._exit(code)


# ---------------------------------------------------------------------------- in the child
def _child(module: str, path: str, args: list[str], env: dict[str, str], drop_env: tuple) -> int:
    import gc
    gc.freeze()        # all the master's objects: never traversed (written) by our collector
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    _forget_master_loop()
    _forget_master_sessions()
    _reset_signals()
    _close_master_fds()
    _set_environment(env, drop_env)
    argv = [path] + list(args[1:])
    initial = {k: v for k, v in os.environb.items() if k not in _NOT_INITIAL}
    if not set_environ_block(initial) or not set_title(argv):
        # no room for what /proc should show: be a fresh interpreter instead
        if launcher_module(path) == module:
            os.execve(path, [os.path.basename(path)] + list(args[1:]), dict(os.environ))
        exe, exec_argv = exec_command(module, path, args)
        os.execve(exe, exec_argv, dict(os.environ))
    set_process_name(os.path.basename(path))
    sys.argv = argv
    return _run(module)


def _forget_master_loop() -> None:
    """The master's running loop is not ours (Python < 3.12 keeps it across fork)."""
    import asyncio.events
    asyncio.events._set_running_loop(None)
    try:
        asyncio.set_event_loop_policy(None)     # no default loop of the master's either
    except Exception:
        pass


def _forget_master_sessions() -> None:
    """The security sessions the master opened are the master's: a daemon opens its own."""
    from condor_sim.security import client
    client.forget_sessions()


_FRESH = {"SIGPIPE": "ign", "SIGXFSZ": "ign", "SIGINT": "int"}


def _reset_signals() -> None:
    """Dispositions as a new interpreter has them, no wakeup fd, nothing blocked (the
    master blocks SIGTERM/SIGQUIT for its sigwaitinfo thread, which does not fork)."""
    import signal
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        how = _FRESH.get(getattr(sig, "name", ""), "dfl")
        handler = {"ign": signal.SIG_IGN, "int": signal.default_int_handler}.get(how, signal.SIG_DFL)
        try:
            if signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)
        except (OSError, ValueError, RuntimeError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _close_master_fds() -> None:
    """Close what exec would close: every close-on-exec descriptor (the master's sockets,
    event loop, instance lock, pipes).  Python objects still naming them are frozen with
    the master's state and never run again in this process."""
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd < 3:
            continue
        try:
            if not os.get_inheritable(fd):
                os.close(fd)
        except OSError:
            pass


def _set_environment(env: dict[str, str], drop: tuple) -> None:
    import time
    tz = os.environ.get("TZ")
    for k in drop:
        os.environ.pop(k, None)
    os.environ.update(env)
    if os.environ.get("TZ") != tz:
        time.tzset()


# What an exec'd daemon's initial environment lacks: the family session reaches it
# after its start (as it reached a pre-started one, through a pipe).
_NOT_INITIAL = (b"CONDOR_PRIVATE_INHERIT",)


def set_environ_block(env: dict[bytes, bytes]) -> bool:
    """Make ``/proc/self/environ`` (the initial environment, as ``ps e`` and psutil read
    it) list ``env``, written over the master's (which has ENV_ROOM bytes to spare);
    False, changing nothing, where it does not fit.

    The C library's ``environ`` points into that memory: every variable is set again
    first, so that no pointer is left there."""
    area = procs.proc_areas()
    if area is None:
        return False
    start, end = area[2], area[3]
    block = b"".join(k + b"=" + v + b"\0" for k, v in env.items())
    if len(block) + 1 > end - start:
        return False
    for k, v in os.environb.items():
        os.putenv(k, v)
    import ctypes
    buf = block + b"\0" * (end - start - len(block))
    ctypes.memmove(start, buf, len(buf))
    return True


def _run(module: str) -> int:
    """The daemon's ``main()`` (what its launcher's runpy would end up calling)."""
    import importlib
    mod = importlib.import_module(module)
    main = getattr(mod, "main", None)
    if callable(main):
        main()
    else:
        import runpy
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0
