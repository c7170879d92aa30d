"""The start of a condor_master process, before any heavy import: options, the
background fork, the instance lock, the command port and the pre-started daemons.

Kept free of the client library and DaemonCore on purpose (the background parent is a
short-lived process, and pre-starting the daemons early is what makes a pool fast to
start); :mod:`.daemon` is imported only by the process that becomes the master.
"""
from __future__ import annotations

import os
import signal
import struct
import sys

from ... import procs
from ...registry import SIMULATED
from . import forking
from .executables import own_module
from .children import _default_tz, child_environment, daemon_args
from .constants import BACKGROUND_FD_ENV, CAUGHT_SIGNALS, HOLD_FD_ENV

class Options:
    def __init__(self) -> None:
        self.foreground = False
        self.termlog = False
        self.name: str | None = None
        self.pidfile: str | None = None
        self.rest: list[str] = []


def parse_args(argv: list[str]) -> Options:
    """DaemonCore's own options (``-f``, ``-t``, ``-b``, ``-pidfile``) and the master's ``-n``."""
    o = Options()
    args = list(argv[1:])
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-f", "-foreground"):
            o.foreground = True
        elif a in ("-b", "-background"):
            o.foreground = False
        elif a in ("-t", "-termlog"):
            o.termlog = o.foreground = True
        elif a in ("-p", "-pidfile") and i + 1 < len(args):
            i += 1
            o.pidfile = args[i]
        elif a == "-n" and i + 1 < len(args):
            i += 1
            o.name = args[i]
        else:
            o.rest.append(a)
        i += 1
    return o


def _take_background_fd() -> int | None:
    v = os.environ.pop(BACKGROUND_FD_ENV, None)
    if not v:
        return None
    try:
        fd = int(v)
        os.fstat(fd)
        os.set_inheritable(fd, False)
        return fd
    except (ValueError, OSError):
        return None


# ---------------------------------------------------------------------------- entry points
def background(argv: list[str]) -> int:
    """``condor_master`` without ``-f``: run the master detached, return when it says so.

    The real one forks; the child tells the parent through a pipe once all daemons
    were started, and the parent exits with that status (0 if the child died first,
    e.g. because another master holds the instance lock)."""
    r, w = os.pipe()
    os.set_inheritable(w, True)
    env = forking.env_with_room(os.environ) if forking.may_fork() else dict(os.environ)
    env[BACKGROUND_FD_ENV] = str(w)
    script = os.path.abspath(argv[0]) if argv and os.path.exists(argv[0]) else None
    if script:
        cmd = [sys.executable, script] + argv[1:]
    else:
        cmd = [sys.executable, "-m", "condor_sim.daemons.master"] + argv[1:]
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        os.posix_spawn(sys.executable, cmd, env, setsid=True,
                       file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                                     (os.POSIX_SPAWN_DUP2, devnull, 2)])
    finally:
        os.close(devnull)
        os.close(w)
    data = b""
    while len(data) < 4:
        try:
            chunk = os.read(r, 4 - len(data))
        except InterruptedError:
            continue
        if not chunk:
            break
        data += chunk
    os.close(r)
    status = struct.unpack("i", data)[0] if len(data) == 4 else 0
    if status != 0:
        sys.stderr.write(f"forked condor_master status is {status}\n")
    return status


class Early:
    """What the master does before its heavy imports: signals, port, lock, pre-start."""

    def __init__(self, opts: Options, argv: list[str] | None = None):
        # SIGTERM and SIGQUIT are taken with sigwaitinfo() by one thread (see
        # Master._signal_thread) so that, like DaemonCore, we can log who sent them.
        # Blocked before any thread exists; every child gets an empty mask back.
        signal.pthread_sigmask(signal.SIG_BLOCK, CAUGHT_SIGNALS)
        self.bg_fd = _take_background_fd()
        forking.take_room()
        # Our command port, reserved now (bound, not listening; DaemonCore binds it again
        # with SO_REUSEADDR and listens), so that CONDOR_INHERIT is known before we start
        # anybody and is in every child's initial environment, as with a real master.
        self.port_reservation, self.port = _reserve_port()
        self.inherit = f"{os.getpid()} {predicted_sinful(self.port)} 0 0"
        # Before the client library is even imported: the daemons next to us in sbin/
        # are (nearly always) the ones the config names, with the default environment.
        self.held: dict[str, HeldProcess] = _speculative_prestart(argv or sys.argv, self.inherit)
        from ...config import DaemonConfig
        self.config = DaemonConfig("MASTER")
        self.lock_fd, self.lock_path, self.lock_error = _try_instance_lock(self.config)
        wanted: dict[str, tuple[str, list[str], dict]] = {}
        if self.lock_fd is not None and self.config.get_bool("START_DAEMONS", True) \
                and self.config.get_bool("CONDOR_SIM_PRESTART_DAEMONS", True):
            names = []
            for n in self.config.get_list("DAEMON_LIST"):
                n = n.upper()
                if n != "MASTER" and n not in names:
                    names.append(n)
            if "COLLECTOR" in names:
                names.remove("COLLECTOR")
                names.insert(0, "COLLECTOR")
            for n in names:
                path = self.config.get(n)
                extra = child_environment(self.config, n)
                if path and os.access(path, os.X_OK) and not _needs_fresh_interpreter(extra) \
                        and own_module(path) is None and forking.forkable(self.config, path, extra) is None:
                    extra["CONDOR_INHERIT"] = self.inherit
                    wanted[n] = (path, [os.path.basename(path)] + daemon_args(self.config, n), extra)
        for n, h in list(self.held.items()):
            if wanted.get(n) != (h.path, h.args, h.extra):
                self.held.pop(n).cancel()
        for n, (path, args, extra) in wanted.items():
            if n not in self.held:
                try:
                    self.held[n] = HeldProcess(n, path, args[1:], extra)
                except OSError:
                    pass


def _reserve_port() -> tuple:
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.set_inheritable(False)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def predicted_sinful(port: int) -> str:
    """The sinful DaemonCore.listen() will publish for this port (checked once it does)."""
    import socket
    return f"<127.0.0.1:{port}?addrs=127.0.0.1-{port}&alias={socket.gethostname()}&noUDP>"


def _needs_fresh_interpreter(extra: dict) -> bool:
    return any(k.startswith(("PYTHON", "LD_")) for k in extra)


# the daemons of a default pool (SIMSLOTS runs only when asked for)
_SPECULATE = tuple(n for n in SIMULATED if n not in ("MASTER", "SIMSLOTS", "SHARED_PORT"))


def _speculative_prestart(argv: list[str], inherit: str) -> dict[str, "HeldProcess"]:
    held: dict[str, HeldProcess] = {}
    if not argv or not argv[0]:
        return held
    exe = os.path.abspath(argv[0])
    if os.path.basename(exe) != "condor_master" or os.environ.get("CONDOR_SIM_PRESTART_DAEMONS", "").lower() \
            in ("false", "0", "no"):
        return held
    if forking.supported() and not forking._false(os.environ.get(forking.FORK_KNOB)):
        return held          # our daemons will be forks of the master: nothing to overlap
    sbin = os.path.dirname(exe)
    if procs.lock_holder(os.path.join(os.path.dirname(sbin), "lock", "InstanceLock")):
        return held          # another master runs here: we are about to fail anyway
    for name in _SPECULATE:
        path = os.path.join(sbin, "condor_" + name.lower())
        if os.access(path, os.X_OK):
            try:
                held[name] = HeldProcess(name, path, [], _default_tz({"CONDOR_INHERIT": inherit}))
            except OSError:
                pass
    return held


class HeldProcess:
    """A daemon process launched ahead of time; it imports and then waits for ``go()``.

    The master launches the pool's daemons' interpreters while it is still starting
    itself, so their imports overlap (this cuts pool start-up by a third on two cores).
    The process gets the environment a child started at that moment would get
    (``CONDOR_INHERIT`` included).  Until ``go()`` it has done nothing a daemon does: no
    log, no socket, no files.  The pid the master logs at ``go()`` time is its pid."""

    def __init__(self, name: str, path: str, extra_args: list[str], extra_env: dict[str, str]):
        self.name = name
        self.path = path
        self.args = [os.path.basename(path)] + extra_args
        self.extra = dict(extra_env)
        r, w = os.pipe()
        os.set_inheritable(r, True)
        env = dict(os.environ)
        env.update(self.extra)
        env[HOLD_FD_ENV] = str(r)
        try:
            self.pid = procs.spawn(path, self.args, env)
        finally:
            os.close(r)
        self.fd = w

    def go(self, private: dict[str, str] | None = None) -> bool:
        """Let it run; ``private`` entries reach its environment through the pipe, never
        its initial environment (which /proc shows)."""
        import json
        try:
            os.write(self.fd, (json.dumps({"env": private or {}}) + "\n").encode())
            ok = True
        except OSError:
            ok = False
        self.close()
        return ok

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None

    def cancel(self) -> None:
        """Not needed after all: it exits on EOF; make sure and reap it."""
        self.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except OSError:
            pass


def _try_instance_lock(config) -> tuple[int | None, str, str | None]:
    """Open and lock the instance lock file: (fd or None, path, EXCEPT message or None)."""
    import fcntl
    path = config.get("MASTER_INSTANCE_LOCK")
    if not path:
        lock_dir = config.get("LOCK")
        path = os.path.join(lock_dir, "InstanceLock") if lock_dir else \
            (config.get("MASTER_LOG") or "/tmp/InstanceLock")
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as e:
        return None, path, (f"can't safe_open_wrapper({path},O_WRONLY|O_CREAT|O_APPEND,S_IRUSR|S_IWUSR)"
                            f" - errno {e.errno}")
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None, path, f'Can\'t get lock on "{path}"'
    return fd, path, None
