"""A handle on one HTCondor pool for tests, shaped like HTCondor's ornithology ``Condor``.

``SimPool`` is a pool condor-sim starts (``condor_sim.pool.Pool``) in a directory of its
own; ``ExternalPool`` is the pool ``CONDOR_CONFIG`` already names (a real HTCondor, a
container, or another condor-sim pool).  Both offer the same surface::

    pool.config_file  pool.local_dir  pool.env          paths, and an environment for child processes
    pool.collector()  pool.schedd()                     htcondor2 objects bound to this pool
    pool.locate("SCHEDD")  pool.remote_param("SCHEDD")  a daemon's location ad, its RemoteParam
    pool.log("MASTER").lines / .wait_for(regex)         the daemons' logs
    pool.run_command([...])                             a command with this pool's CONDOR_CONFIG
    pool.use_config()                                   make it the process's client config
    pool.reset()                                        back to how the pool started (fast)
    pool.reconfig({KEY: VALUE})                         config.d drop-in plus a reconfig
    pool.kill("SCHEDD")  pool.pause(..)  pool.resume(..)  pool.restart(mode, daemon)

The handle only starts processes, reads the files a pool leaves (address files, logs,
``config.d``), signals processes by pid and talks to the daemons through the real
client library.  Helpers that need a pool condor-sim started (signals, config files)
skip the calling test, with the reason, on an ``ExternalPool``.
"""
from __future__ import annotations

import atexit
import contextlib
import enum
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from . import procs as ptools
from .pool import ADDRESS_FILES, Pool, PoolError, PoolNotRunning
from .registry import DAEMONS as REGISTRY

__all__ = ["CondorPool", "SimPool", "ExternalPool", "DaemonLog", "RestartMode", "ClientConfig",
           "NotSupportedHere"]

# subsystem -> (MyType of its ad, file name of its log in $(LOG))
DAEMONS = {name: (s.my_type, s.log_name) for name, s in REGISTRY.items()}
TEST_DROP_IN = "90-condor-sim-pytest"         # config.d file that reconfig() and the marker write
_KNOB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class NotSupportedHere(Exception):
    """Raised (outside pytest) by a helper that cannot work on this pool's backend."""


class RestartMode(str, enum.Enum):
    """How ``restart()`` takes daemons down before they come back."""
    GRACEFUL = "graceful"    # the master's Restart / DaemonOff command: daemons shut down cleanly
    FAST = "fast"            # DaemonsOffFast / DaemonOffFast: SIGQUIT, no clean-up
    CRASH = "crash"          # SIGKILL by pid, nothing is told


def _skip(reason: str):
    try:
        import pytest
    except ImportError:        # pragma: no cover - the handle is a test helper
        raise NotSupportedHere(reason) from None
    pytest.skip(reason)


def _subsys(name: str) -> str:
    n = str(name).upper()
    if n.startswith("CONDOR_"):
        n = n[len("CONDOR_"):]
    return n


def _normalize_knobs(knobs: Mapping | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (knobs or {}).items():
        k = str(k).strip()
        if not _KNOB_NAME.match(k):
            raise ValueError(f"not a configuration knob name: {k!r}")
        if isinstance(v, bool):
            v = "true" if v else "false"
        v = "" if v is None else str(v)
        if "\n" in v or "\r" in v:
            raise ValueError(f"the value of {k} spans lines; use one line (or a config file)")
        out[k] = v
    return out


# ============================================================================ the client's config
class ClientConfig:
    """The client library's configuration is per process: this keeps a stack of pools that
    ``CONDOR_CONFIG`` named, so that leaving one restores the one before (or none)."""

    _lock = threading.RLock()
    _stack: list[tuple["CondorPool", dict[str, str | None]]] = []

    @staticmethod
    def _strip(name: str) -> bool:
        # Knobs from the environment would override the pool's own config; debugging
        # knobs (e.g. _CONDOR_TOOL_DEBUG) are kept.
        up = name.upper()
        return (up.startswith("_CONDOR_") and "DEBUG" not in up) or up in ("CONDOR_INHERIT",
                                                                          "CONDOR_PRIVATE_INHERIT")

    @classmethod
    def push(cls, pool: "CondorPool") -> None:
        with cls._lock:
            saved: dict[str, str | None] = {"CONDOR_CONFIG": os.environ.get("CONDOR_CONFIG")}
            if pool.backend == "sim":        # (an external pool may need the environment's knobs)
                for k in list(os.environ):
                    if cls._strip(k):
                        saved[k] = os.environ.pop(k)
            os.environ["CONDOR_CONFIG"] = str(pool.config_file)
            cls._stack.append((pool, saved))
            reload_client_config()

    @classmethod
    def pop(cls, pool: "CondorPool") -> None:
        with cls._lock:
            for i in range(len(cls._stack) - 1, -1, -1):
                if cls._stack[i][0] is pool:
                    break
            else:
                return
            _, saved = cls._stack.pop(i)
            if i < len(cls._stack):
                # left out of order: the one above now restores what this one saved
                above, above_saved = cls._stack[i]
                merged = dict(saved)
                merged.update({k: v for k, v in above_saved.items() if k not in saved})
                cls._stack[i] = (above, merged)
                return
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            reload_client_config()

    @classmethod
    def current(cls) -> "CondorPool | None":
        with cls._lock:
            if not cls._stack:
                return None
            pool = cls._stack[-1][0]
        return pool if os.environ.get("CONDOR_CONFIG") == str(pool.config_file) else None


def reload_client_config() -> None:
    """Make the client library re-read ``CONDOR_CONFIG`` (htcondor2, and the v1 module if loaded)."""
    import htcondor2
    if os.environ.get("CONDOR_CONFIG") or os.path.exists("/etc/condor/condor_config"):
        htcondor2.reload_config()
    else:
        # Back to no config at all, as before the pool: the library says so on fd 2
        # ("can't find config source"), which is no news here.
        with _quiet_stderr():
            htcondor2.reload_config()
    v1 = sys.modules.get("htcondor")
    if v1 is not None and hasattr(v1, "reload_config"):
        try:
            v1.reload_config()
        except Exception:
            pass


@contextlib.contextmanager
def _quiet_stderr():
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# ============================================================================ logs
class DaemonLog:
    """One daemon's log file, read from an offset: ``lines``, ``search()``, ``wait_for()``.

    ``pool.log("SCHEDD")`` covers the whole file; ``.mark()`` gives a view that starts at
    the current end, to wait for what an action is about to cause::

        log = pool.log("MASTER").mark()
        pool.kill("SCHEDD")
        log.wait_for(r"The SCHEDD \\(pid \\d+\\) died")
    """

    def __init__(self, path: str | os.PathLike, subsystem: str = "", start: int = 0):
        self.path = Path(path)
        self.subsystem = subsystem
        self.start = start

    def __repr__(self) -> str:
        return f"DaemonLog({str(self.path)!r}, start={self.start})"

    def _read(self) -> str:
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                # a rotated log (the file is shorter than our offset) is read from its start
                f.seek(self.start if self.start <= size else 0)
                data = f.read()
        except FileNotFoundError:
            return ""
        text = data.decode("utf-8", errors="replace")
        cut = text.rfind("\n")
        return text[:cut + 1] if cut >= 0 else ""     # complete lines only

    @property
    def text(self) -> str:
        return self._read()

    @property
    def lines(self) -> list[str]:
        """The complete lines written so far (from this view's start)."""
        return self._read().splitlines()

    def mark(self) -> "DaemonLog":
        """A view of this log that starts at its current end."""
        try:
            size = self.path.stat().st_size
        except OSError:
            size = 0
        return DaemonLog(self.path, self.subsystem, size)

    def search(self, pattern: str | re.Pattern) -> re.Match | None:
        """The first line matching the regex (``re.search``), or None; no waiting."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        for line in self.lines:
            m = rx.search(line)
            if m:
                return m
        return None

    def __contains__(self, pattern) -> bool:
        return self.search(pattern) is not None

    def wait_for(self, pattern: str | re.Pattern, timeout: float = 10.0) -> re.Match:
        """Wait until a line matches the regex; returns the match, raises TimeoutError."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            m = self.search(rx)
            if m:
                return m
            if time.monotonic() > deadline:
                tail = "\n".join(self.lines[-30:]) or "(nothing)"
                raise TimeoutError(f"no line of {self.path} matched /{rx.pattern}/ within {timeout:g} s; "
                                   f"last lines:\n{tail}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


# ============================================================================ the common surface
class CondorPool:
    """What a test sees of a pool, whichever backend runs it (see the module docstring)."""

    backend = "?"

    def __init__(self, config_file: str | os.PathLike, local_dir: str | os.PathLike | None = None):
        self.config_file = Path(config_file)
        self.local_dir = Path(local_dir) if local_dir is not None else self.config_file.parent

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.config_file)!r})"

    # ------------------------------------------------------------------ environment
    @property
    def env(self) -> dict[str, str]:
        """An environment for a child process that should use this pool."""
        env = {k: v for k, v in os.environ.items() if not ClientConfig._strip(k)}
        env["CONDOR_CONFIG"] = str(self.config_file)
        return env

    def is_current(self) -> bool:
        """Does this process's client library use this pool's config right now?"""
        return ClientConfig.current() is self

    @contextlib.contextmanager
    def use_config(self) -> Iterator["CondorPool"]:
        """``CONDOR_CONFIG`` names this pool (and the client library re-read it) inside the block."""
        self.activate()
        try:
            yield self
        finally:
            self.deactivate()

    def activate(self) -> None:
        ClientConfig.push(self)

    def deactivate(self) -> None:
        ClientConfig.pop(self)

    def run_command(self, args, **kwargs) -> subprocess.CompletedProcess:
        """``subprocess.run`` with this pool's environment (text output captured by default)."""
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(args, **kwargs)

    # ------------------------------------------------------------------ client objects
    def collector(self):
        raise NotImplementedError

    def schedd(self):
        raise NotImplementedError

    def locate(self, daemon: str):
        raise NotImplementedError

    def address(self, daemon: str) -> str | None:
        """The daemon's address (sinful string)."""
        return self.locate(daemon).get("MyAddress")

    def remote_param(self, daemon: str = "MASTER"):
        """``htcondor2.RemoteParam`` of one of the pool's daemons."""
        import htcondor2
        return htcondor2.RemoteParam(self.locate(daemon))

    # ------------------------------------------------------------------ logs
    def log_path(self, daemon: str) -> Path:
        raise NotImplementedError

    def log(self, daemon: str) -> DaemonLog:
        """The log of ``daemon`` ("MASTER", "COLLECTOR", "SCHEDD", ...)."""
        name = _subsys(daemon)
        return DaemonLog(self.log_path(name), name)

    @property
    def master_log(self) -> DaemonLog:
        return self.log("MASTER")

    @property
    def collector_log(self) -> DaemonLog:
        return self.log("COLLECTOR")

    @property
    def schedd_log(self) -> DaemonLog:
        return self.log("SCHEDD")

    # ------------------------------------------------------------------ state and faults
    def reset(self) -> None:
        raise NotImplementedError

    def reconfig(self, knobs: Mapping | None = None, timeout: float = 20.0) -> None:
        raise NotImplementedError

    def kill(self, daemon: str, sig: int = signal.SIGKILL) -> int:
        raise NotImplementedError

    def pause(self, daemon: str) -> int:
        raise NotImplementedError

    def resume(self, daemon: str | None = None) -> None:
        raise NotImplementedError

    def restart(self, mode: RestartMode | str = RestartMode.GRACEFUL, daemon: str | None = None,
                timeout: float = 30.0) -> None:
        raise NotImplementedError


# ============================================================================ a pool we started
_LIVE: dict[int, "SimPool"] = {}         # pools started by this process and not stopped yet
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False

# The watchdog: a tiny process that stops a pool if the process that started it dies
# without stopping it (SIGKILL, a crashed xdist worker).  It learns of the death from
# EOF on its stdin, a pipe whose other end only the starting process holds.
WATCHDOG = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
got = b""
while True:
    try:
        chunk = os.read(0, 64)
    except InterruptedError:
        continue
    if not chunk:
        break
    got += chunk
if b"stopped" in got:
    sys.exit(0)
from condor_sim.pool import Pool
pool = Pool(sys.argv[1])
for p in pool.processes():          # a pause()d daemon could not act on a stop
    try:
        p.resume()
    except Exception:
        pass
try:
    pool.stop(fast=True, timeout=10)
except Exception:
    pass
try:
    for p in pool.processes():
        p.kill()
except Exception:
    pass
"""


def _stop_all_live(fast: bool = True) -> None:
    with _LIVE_LOCK:
        # only in the process that started them (not in a forked child exiting)
        pools = [p for p in _LIVE.values() if p._owner == os.getpid()]
    for p in pools:
        try:
            p.stop(fast=fast, timeout=10)
        except Exception:
            pass


def _install_process_hooks() -> None:
    """A normal exit stops this process's pools at once (atexit).  SIGTERM and SIGHUP keep
    their disposition: a Python handler cannot run while the main thread is blocked in a
    client call (on a pause()d daemon, say), so a handler would make the process immune to
    SIGTERM.  The process dies as it would without us, and each pool's watchdog, seeing
    its pipe close, stops that pool."""
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_stop_all_live)


def _read_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    return rest[0].decode(), int(rest[19])


def _process_state(pid: int) -> tuple[str, float] | None:
    """(state, start key) of a process; psutil where there is no /proc."""
    if _HAVE_PROC:
        return _read_stat(pid)
    import psutil
    try:
        p = psutil.Process(pid)
        st = p.status()
        letter = {psutil.STATUS_ZOMBIE: "Z", psutil.STATUS_STOPPED: "T"}.get(st, "R")
        return letter, p.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return "R", 0.0


_HAVE_PROC = os.path.isdir("/proc/self/task")


def _children(pid: int) -> list[int]:
    if _HAVE_PROC:
        kids: list[int] = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        kids.extend(int(x) for x in f.read().split())
                except FileNotFoundError:
                    continue
            return kids
        except FileNotFoundError:
            return []
        except OSError:
            pass
    import psutil
    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def _cmdline(pid: int) -> list[str]:
    if _HAVE_PROC:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            return []
    import psutil
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def _port_of(sinful: str) -> int | None:
    m = re.match(r"<[^:>]+:(\d+)", sinful or "")
    return int(m.group(1)) if m else None


def _can_connect(sinful: str) -> bool:
    port = _port_of(sinful)
    if port is None:
        return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class SimPool(CondorPool):
    """A pool condor-sim runs in ``directory``; started by ``start()``, stopped by ``stop()``."""

    backend = "sim"

    def __init__(self, directory: str | os.PathLike, config: Mapping | None = None,
                 security: str = "secure", name: str | None = None):
        self.pool = Pool(directory, config=_normalize_knobs(config), security=security)
        super().__init__(self.pool.config_file, self.pool.local_dir)
        self.directory = self.pool.directory
        self.config = dict(self.pool.config)
        self.security = security
        self.name = name or self.directory.name
        self.daemons: tuple[str, ...] = ()     # the master's children once the pool was ready
        self._master: tuple[int, int] | None = None
        self._baseline: dict[str, tuple[tuple, bytes]] = {}
        self._paused: set[int] = set()
        self._applied: bytes | None = None      # the test drop-in the daemons run with
        self._watchdog: subprocess.Popen | None = None
        self._started = False
        self._owner = os.getpid()

    def __enter__(self) -> "SimPool":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> "SimPool":
        """Create the directory, start the pool and wait until the real client sees it."""
        _install_process_hooks()
        self._owner = os.getpid()
        self.pool.create()
        self.local_dir = Path(os.path.realpath(self.directory))     # LOCAL_DIR in condor_config
        self._start_watchdog()
        with _LIVE_LOCK:
            _LIVE[id(self)] = self
        self._started = True
        try:
            self.pool.start(timeout=timeout, create=False)
            self._after_start()
        except BaseException:
            self.stop(fast=True)
            raise
        self._baseline = self._snapshot_config()
        return self

    def _after_start(self) -> None:
        self._master = None
        pid = self._master_pid()
        names = sorted(self._children_by_name(pid)) if pid else []
        if names or not self.daemons:
            self.daemons = tuple(names)
        self._paused.clear()

    def _start_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.poll() is None:
            return
        env = {k: v for k, v in os.environ.items() if k != "CONDOR_CONFIG" and not ClientConfig._strip(k)}
        try:
            self._watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG, str(self.directory)],
                                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, cwd="/", env=env,
                                              start_new_session=True)
        except OSError:
            self._watchdog = None

    def _stop_watchdog(self) -> None:
        w, self._watchdog = self._watchdog, None
        if w is None:
            return
        try:
            w.stdin.write(b"stopped")
            w.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            w.wait(timeout=5)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()

    def is_running(self) -> bool:
        return self._master_pid() is not None

    def stop(self, fast: bool = False, timeout: float = 30.0) -> None:
        """Stop the pool (its master and every process of it) and wait until all are gone."""
        try:
            self.deactivate()
            self._resume_all()
            try:
                self.pool.stop(fast=fast, timeout=timeout)
            except PoolNotRunning:
                pass
            left = self.pool.processes()
            if left:
                self._sigkill(left)
        finally:
            self._master = None
            self._started = False
            with _LIVE_LOCK:
                _LIVE.pop(id(self), None)
            self._stop_watchdog()

    def remove(self) -> None:
        """Delete the pool directory (after ``stop()``)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    # ------------------------------------------------------------------ processes
    def _master_pid(self) -> int | None:
        if self._master is not None:
            pid, start = self._master
            st = _process_state(pid)
            if st is not None and st[0] != "Z" and st[1] == start:
                return pid
            self._master = None
        pid = self.pool.master_pid()
        if pid is None:
            return None
        st = _process_state(pid)
        if st is None:
            return None
        self._master = (pid, st[1])
        return pid

    def _children_by_name(self, master: int) -> dict[str, int]:
        # the master starts $(SBIN)/condor_*, with LOCAL_DIR as the config has it (resolved)
        prefix = str(self.local_dir / "sbin" / "condor_")
        out: dict[str, int] = {}
        for pid in _children(master):
            st = _process_state(pid)
            if st is None or st[0] == "Z":
                continue
            cmd = _cmdline(pid)
            for arg in cmd:
                if arg.startswith(prefix):
                    name = arg[len(prefix):].upper()
                    if "-local-name" in cmd[:-1]:      # listed under its own name
                        name = cmd[cmd.index("-local-name") + 1].upper()
                    out[name] = pid
                    break
        return out

    def _reap(self) -> None:
        """Reap the master if it was our child and has exited (Pool keeps its pid)."""
        self.pool.reap()

    def _diagnostics(self) -> str:
        """The master's stderr and the tail of its log, for error messages."""
        return self.pool.diagnostics()

    def pids(self) -> dict[str, int]:
        """Subsystem -> pid of every running daemon of the pool (MASTER included)."""
        master = self._master_pid()
        if master is None:
            return {}
        out = {"MASTER": master}
        out.update(self._children_by_name(master))
        return out

    def pid(self, daemon: str) -> int | None:
        return self.pids().get(_subsys(daemon))

    def processes(self):
        """psutil.Process of everything the pool runs."""
        return self.pool.processes()

    def _require_pid(self, daemon: str) -> int:
        name = _subsys(daemon)
        pid = self.pids().get(name)
        if pid is None:
            raise PoolError(f"{name} is not running in {self.directory} "
                            f"(running: {', '.join(sorted(self.pids())) or 'nothing'})")
        return pid

    # ------------------------------------------------------------------ addresses and client objects
    def address(self, daemon: str) -> str | None:
        """The daemon's sinful string from its address file."""
        return self.pool.address(_subsys(daemon))

    def _address_files(self, daemon: str) -> list[Path]:
        rel = ADDRESS_FILES.get(_subsys(daemon))
        if rel is None:
            return []
        return [self.directory / rel, self.directory / (rel + ".super")]

    def locate(self, daemon: str):
        """A location ClassAd for the daemon (``MyAddress``, ``MyType``, ``CondorVersion``, ``Name``),
        built from its address file, as ``Collector.locate()`` would return it."""
        import classad2
        name = _subsys(daemon)
        rel = ADDRESS_FILES.get(name)
        if rel is None:
            raise ValueError(f"unknown daemon {daemon!r} (one of {', '.join(ADDRESS_FILES)})")
        for path in (self.directory / (rel + ".super"), self.directory / rel):
            try:
                lines = path.read_text().splitlines()
            except OSError:
                continue
            if lines and lines[0].startswith("<"):
                ad = classad2.ClassAd()
                ad["MyAddress"] = lines[0].strip()
                ad["MyType"] = DAEMONS.get(name, (name.capitalize(),))[0]
                ad["Name"] = socket.getfqdn()
                if len(lines) > 1 and lines[1].startswith("$CondorVersion"):
                    ad["CondorVersion"] = lines[1].strip()
                if len(lines) > 2 and lines[2].startswith("$CondorPlatform"):
                    ad["CondorPlatform"] = lines[2].strip()
                return ad
        raise PoolError(f"{name} of {self.directory} has no address file (is it running?)")

    def collector(self):
        """``htcondor2.Collector()`` of this pool (from its address file if another pool is current)."""
        import htcondor2
        if self.is_current():
            return htcondor2.Collector()
        addr = self.address("COLLECTOR")
        if addr is None:
            raise PoolError(f"the collector of {self.directory} has no address file (is it running?)")
        return htcondor2.Collector(addr)

    def schedd(self):
        """``htcondor2.Schedd()`` of this pool (from its address file if another pool is current)."""
        import htcondor2
        if self.is_current():
            return htcondor2.Schedd()
        return htcondor2.Schedd(self.locate("SCHEDD"))

    def log_path(self, daemon: str) -> Path:
        name = _subsys(daemon)
        knob = self.config.get(f"{name}_LOG")
        if knob and "$(" not in knob:
            return Path(knob)
        log_dir = self.config.get("LOG")
        base = Path(log_dir) if log_dir and "$(" not in log_dir else self.directory / "log"
        return base / DAEMONS.get(name, (None, name.capitalize() + "Log"))[1]

    # ------------------------------------------------------------------ config files
    def _config_files(self) -> list[Path]:
        files = [self.config_file]
        try:
            files += sorted(p for p in (self.directory / "config.d").iterdir() if p.is_file())
        except OSError:
            pass
        return files

    @staticmethod
    def _stat_key(path: Path) -> tuple:
        st = path.stat()
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _snapshot_config(self) -> dict[str, tuple[tuple, bytes]]:
        snap = {}
        for p in self._config_files():
            try:
                snap[str(p)] = (self._stat_key(p), p.read_bytes())
            except OSError:
                continue
        return snap

    def _restore_config(self, keep: tuple[str, bytes] | None = None) -> bool:
        """Put condor_config and config.d back as they were at start (plus ``keep``, a file
        and its content); True if anything changed."""
        if not self._baseline:
            return False
        baseline = dict(self._baseline)
        if keep is not None:
            baseline[keep[0]] = (self._stat_key(Path(keep[0])), keep[1])
        changed = False
        seen = set()
        for p in self._config_files():
            key = str(p)
            seen.add(key)
            base = baseline.get(key)
            if base is None:
                p.unlink(missing_ok=True)
                changed = True
                continue
            try:
                if self._stat_key(p) == base[0]:
                    continue
                if p.read_bytes() == base[1]:
                    continue
            except OSError:
                pass
            self._write(p, base[1])
            changed = True
        for key, (_, data) in baseline.items():
            if key not in seen:
                self._write(Path(key), data)
                changed = True
        if changed:
            # (new inodes and times, same bytes)
            self._baseline = {k: v for k, v in self._snapshot_config().items()
                              if keep is None or k != keep[0]}
        return changed

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".condor-sim-tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    # ------------------------------------------------------------------ reconfig
    def reconfig(self, knobs: Mapping | None = None, timeout: float = 20.0) -> None:
        """Add ``knobs`` to the pool's config (``config.d/90-condor-sim-pytest``) and reconfigure
        every daemon (as ``condor_reconfig``); returns once each has re-read its config.
        ``reset()`` takes the knobs away again.  Knobs a daemon reads only when it starts
        need a pool of their own (``condor_pool_factory(config=...)``)."""
        knobs = _normalize_knobs(knobs)
        if knobs:
            path = self.directory / "config.d" / TEST_DROP_IN
            try:
                now = path.read_bytes()
            except OSError:
                now = b""
            current = self._parse_drop_in(now)
            current.update(knobs)
            text = self._render_drop_in(current)
            if text == now and self._applied == now and not self._config_changed_besides_drop_in():
                return            # the daemons already run with exactly this (a kept marker)
            self._write(path, text)
            self._reconfig_and_wait(timeout)
            self._applied = text
            return
        self._reconfig_and_wait(timeout)

    @staticmethod
    def _parse_drop_in(data: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in data.decode(errors="replace").splitlines():
            k, sep, v = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                out[k.strip()] = v.strip()
        return out

    @staticmethod
    def _render_drop_in(knobs: Mapping[str, str]) -> bytes:
        text = "## set by a test (condor-sim pytest plugin); removed by reset()\n"
        text += "".join(f"{k} = {v}\n" for k, v in knobs.items())
        return text.encode()

    def _config_changed_besides_drop_in(self) -> bool:
        drop_in = str(self.directory / "config.d" / TEST_DROP_IN)
        files = {str(p): p for p in self._config_files() if str(p) != drop_in}
        if set(files) != set(self._baseline):
            return True
        for key, p in files.items():
            try:
                if self._stat_key(p) != self._baseline[key][0] and p.read_bytes() != self._baseline[key][1]:
                    return True
            except OSError:
                return True
        return False

    def _reconfig_and_wait(self, timeout: float) -> None:
        master = self._master_pid()
        if master is None:
            raise PoolNotRunning(self.directory)
        running = self.pids()
        before = {}
        for name in running:
            for f in self._address_files(name):
                try:
                    before[(name, f)] = os.stat(f).st_ino
                except OSError:
                    pass
        marks = {name: self.log(name).mark() for name in running}
        stopped = {name for name, pid in running.items()
                   if (st := _process_state(pid)) is not None and st[0] in ("T", "t")}
        # SIGHUP, which a master takes as condor_reconfig's command: no authorization
        # involved, so a knob that locks the tests' identity out cannot keep reset() from
        # undoing it.
        os.kill(master, signal.SIGHUP)
        pending = set(running) - stopped          # a paused daemon reconfigures once resumed
        deadline = time.monotonic() + timeout
        delay = 0.002
        while pending:
            for name in list(pending):
                files = [k for k in before if k[0] == name]
                for key in files:
                    try:
                        if os.stat(key[1]).st_ino != before[key]:
                            pending.discard(name)
                            break
                    except OSError:
                        continue
                if not files and name in pending and marks[name].search(r"Re-reading config files"):
                    pending.discard(name)
            if not pending:
                break
            for name in pending:
                m = marks[name].search(r"ERROR: reconfig failed.*")
                if m:
                    raise PoolError(f"{name} rejected the new configuration: {m.group(0)}")
            if time.monotonic() > deadline:
                raise PoolError(f"{', '.join(sorted(pending))} did not finish reconfiguring within "
                                f"{timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        if self.is_current():
            reload_client_config()          # the tests' own client sees the new config too

    # ------------------------------------------------------------------ reset
    def reset(self, timeout: float = 30.0, keep_knobs: Mapping | None = None) -> None:
        """Back to the pool as it started: config files restored (and a reconfig, only if
        they had changed), paused daemons resumed, daemons that are not running started
        again (the master too).  Costs well under a millisecond when nothing changed.

        ``keep_knobs``: leave ``config.d/90-condor-sim-pytest`` in place if it holds exactly
        these knobs (the plugin passes the marker's knobs when the next test has the same
        marker, so that a class of marked tests reconfigures once, not twice per test)."""
        master = self._master_pid()
        if master is None:
            self._applied = None
            self._restart_whole_pool(timeout)
            return
        self._resume_all(master)
        keep = None
        if keep_knobs and self._applied is not None:
            wanted = self._render_drop_in(_normalize_knobs(keep_knobs))
            path = self.directory / "config.d" / TEST_DROP_IN
            try:
                if path.read_bytes() == wanted == self._applied:
                    keep = (str(path), wanted)
            except OSError:
                pass
        changed = self._restore_config(keep)
        if changed or (self._applied is not None and keep is None):
            self._reconfig_and_wait(timeout)
            self._applied = keep[1] if keep else None
        running = self._children_by_name(master)
        missing = [n for n in self.daemons if n not in running]
        if missing:
            self._revive(missing, running, timeout)
        # (when the schedd keeps a job queue, emptying it belongs here)

    def _resume_all(self, master: int | None = None) -> None:
        master = master if master is not None else self._master_pid()
        pids = set(self._paused)
        if master is not None:
            pids.add(master)
            pids.update(self._children_by_name(master).values())
        for pid in pids:
            st = _process_state(pid)
            if st is not None and st[0] in ("T", "t"):
                try:
                    os.kill(pid, signal.SIGCONT)
                except OSError:
                    pass
        self._paused.clear()

    def _sigkill(self, procs) -> None:
        """SIGKILL processes of the pool (their process groups too) and wait until they are gone."""
        pids = [p.pid for p in procs]
        for pid in pids:
            ptools.kill_tree(pid)
        self._wait_gone(pids, 10, reaped=False)
        self._reap()

    def _restart_whole_pool(self, timeout: float) -> None:
        left = self.pool.processes()
        if left:
            self._sigkill(left)
        self._restore_config()
        self._start_watchdog()
        with _LIVE_LOCK:
            _LIVE[id(self)] = self
        self.pool.start(timeout=timeout, create=False)
        self._after_start()

    def _send_master(self, command: str, target: str | None = None) -> None:
        import htcondor2
        cmd = getattr(htcondor2.DaemonCommand, command)
        with self._client():
            if target is None:
                htcondor2.send_command(self.locate("MASTER"), cmd)
            else:
                htcondor2.send_command(self.locate("MASTER"), cmd, target)

    def _revive(self, names: list[str], old: Mapping[str, int], timeout: float) -> None:
        """Have the master start daemons now (not after its back-off) and wait for them."""
        if not old:
            self._send_master("DaemonsOn")        # all were off (DaemonsOff): undo that too
        for name in names:
            self._send_master("DaemonOn", name)
        self._wait_up(names, old, timeout)

    def _wait_up(self, names: Iterable[str], old: Mapping[str, int], timeout: float) -> None:
        """Wait until each daemon runs as a new process, has written its address file and
        listens; if the collector is among them, have everybody advertise again and wait
        until the collector has every daemon's ad."""
        names = list(names)
        deadline = time.monotonic() + timeout
        pending = set(names)
        delay = 0.002
        while pending:
            master = self._master_pid()       # (None for a moment while a master re-execs)
            running = self._children_by_name(master) if master is not None else {}
            for name in list(pending):
                pid = running.get(name)
                if not pid or pid == old.get(name):
                    continue
                if self._listening_since(name, pid):
                    pending.discard(name)
            if not pending:
                break
            if time.monotonic() > deadline:
                raise PoolError(f"{', '.join(sorted(pending))} did not come back within {timeout:g} s"
                                f"{self._diagnostics()}")
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        if "COLLECTOR" in names:
            # the others advertise to the new collector at their next update: now, please
            self._reconfig_and_wait(max(1.0, deadline - time.monotonic()))
            self._wait_ads(("MASTER",) + self.daemons, deadline)
        else:
            self._wait_ads(names, deadline)

    def _listening_since(self, name: str, pid: int) -> bool:
        files = [f for f in self._address_files(name) if f.exists()]
        if not ADDRESS_FILES.get(name):
            return True
        if not files:
            return False
        import psutil
        try:
            started = psutil.Process(pid).create_time()
        except psutil.Error:
            return False
        f = files[0]
        try:
            if f.stat().st_mtime < started - 0.05:
                return False
            sinful = f.read_text().splitlines()[0]
        except (OSError, IndexError):
            return False
        return _can_connect(sinful)

    def _wait_ads(self, names: list[str], deadline: float) -> None:
        import htcondor2
        wanted = {}
        for n in names:
            if n in DAEMONS and n != "COLLECTOR":
                addr = self.address(n)
                if addr:
                    wanted[DAEMONS[n][0]] = addr
        if not wanted:
            return
        delay = 0.005
        last = ""
        while True:
            try:
                with self._client():
                    ads = htcondor2.Collector(self.address("COLLECTOR")).query(htcondor2.AdType.Any,
                        constraint=" || ".join(f'MyType == "{t}"' for t in sorted(wanted)),
                        projection=["MyType", "MyAddress"])
                have = {(a.get("MyType"), a.get("MyAddress")) for a in ads}
                missing = [t for t, addr in wanted.items() if (t, addr) not in have]
                if not missing:
                    return
                last = "no current ad for " + ", ".join(missing)
            except Exception as e:         # the collector may be coming up
                last = f"{type(e).__name__}: {e}"
            if time.monotonic() > deadline:
                raise PoolError(f"the collector of {self.directory} does not have the daemons' ads: {last}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    # ------------------------------------------------------------------ faults
    def kill(self, daemon: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` (SIGKILL) to the daemon's process and wait until it is gone; returns its
        pid.  The master restarts a child after its back-off; ``reset()`` does at once.
        Killing the MASTER takes the whole pool down (its children follow it)."""
        name = _subsys(daemon)
        pid = self._require_pid(name)
        os.kill(pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGQUIT, signal.SIGINT):
            if sig != signal.SIGKILL and pid in self._paused:
                os.kill(pid, signal.SIGCONT)
            self._wait_gone([pid], 10.0 if sig == signal.SIGKILL else 30.0, reaped=name != "MASTER")
            if name == "MASTER":
                self._master = None
                self._wait_gone([p.pid for p in self.pool.processes()], 10.0, reaped=False)
        return pid

    def _wait_gone(self, pids: list[int], timeout: float, reaped: bool = True) -> None:
        """Wait until the processes are gone; with ``reaped``, until their parent (the
        master) has also reaped them, so that it knows when we send it the next command."""
        deadline = time.monotonic() + timeout
        while True:
            self._reap()                       # the master is our child: reap it ourselves
            alive = [p for p in pids if (st := _process_state(p)) is not None
                     and (reaped or st[0] != "Z")]
            if not alive or time.monotonic() > deadline:
                return
            time.sleep(0.002)

    @contextlib.contextmanager
    def _client(self):
        """This pool's config for the client library while the handle talks to the pool
        (a client with another pool's config, or none, may not be allowed in)."""
        if self.is_current():
            yield
            return
        ClientConfig.push(self)
        try:
            yield
        finally:
            ClientConfig.pop(self)

    def pause(self, daemon: str) -> int:
        """SIGSTOP the daemon: it stays up but answers nothing until ``resume()``/``reset()``."""
        pid = self._require_pid(daemon)
        os.kill(pid, signal.SIGSTOP)
        self._paused.add(pid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            st = _process_state(pid)
            if st is None or st[0] in ("T", "t"):
                break
            time.sleep(0.001)
        return pid

    def resume(self, daemon: str | None = None) -> None:
        """SIGCONT a paused daemon (every paused one without an argument)."""
        if daemon is None:
            self._resume_all()
            return
        pid = self._require_pid(daemon)
        os.kill(pid, signal.SIGCONT)
        self._paused.discard(pid)

    def restart(self, mode: RestartMode | str = RestartMode.GRACEFUL, daemon: str | None = None,
                timeout: float = 30.0) -> None:
        """Restart one daemon, or the whole pool (``daemon=None`` or "MASTER"), and wait until
        it is back: new processes, listening, and their ads in the collector.

        GRACEFUL/FAST use the master's commands (``Restart``, ``DaemonsOffFast`` then
        ``Restart``, ``DaemonOff``/``DaemonOffFast`` then ``DaemonOn``); CRASH SIGKILLs
        the processes and then has them started again at once."""
        mode = RestartMode(mode)
        name = _subsys(daemon) if daemon else None
        self._resume_all()
        old = self.pids()
        if not old:
            raise PoolNotRunning(self.directory)
        deadline = time.monotonic() + timeout
        if name in (None, "MASTER"):
            if mode is RestartMode.CRASH:
                self._sigkill(self.pool.processes())
                self._master = None
                self.pool.start(timeout=timeout, create=False)
                self._after_start()
                return
            children = {n: p for n, p in old.items() if n != "MASTER"}
            if mode is RestartMode.FAST:
                self._send_master("DaemonsOffFast")
                self._wait_gone(list(children.values()), max(1.0, deadline - time.monotonic()))
            self._send_master("Restart")
            self._wait_gone(list(children.values()), max(1.0, deadline - time.monotonic()))
            self._master = None
            self._wait_up(self.daemons, children, max(1.0, deadline - time.monotonic()))
            return
        if name not in old:
            raise PoolError(f"{name} is not running in {self.directory}")
        pid = old[name]
        if mode is RestartMode.CRASH:
            os.kill(pid, signal.SIGKILL)
        else:
            self._send_master("DaemonOff" if mode is RestartMode.GRACEFUL else "DaemonOffFast", name)
        self._wait_gone([pid], max(1.0, deadline - time.monotonic()))
        self._send_master("DaemonOn", name)
        self._wait_up([name], old, max(1.0, deadline - time.monotonic()))


# ============================================================================ somebody else's pool
class ExternalPool(CondorPool):
    """The pool the environment's ``CONDOR_CONFIG`` names (e.g. a real HTCondor).

    Everything that talks the wire works; what needs a pool condor-sim started (its
    processes, its config files) skips the test with the reason."""

    backend = "external"

    def __init__(self, config_file: str | os.PathLike | None = None):
        cfg = config_file or os.environ.get("CONDOR_CONFIG") or "/etc/condor/condor_config"
        super().__init__(cfg, None)
        try:
            import htcondor2
            local = htcondor2.param.get("LOCAL_DIR")
            if local:
                self.local_dir = Path(local)
        except Exception:
            pass

    def is_current(self) -> bool:
        return os.environ.get("CONDOR_CONFIG", str(self.config_file)) == str(self.config_file)

    @property
    def env(self) -> dict[str, str]:
        """This process's environment (``_CONDOR_*`` knobs included: a real pool may need them)."""
        env = dict(os.environ)
        env["CONDOR_CONFIG"] = str(self.config_file)
        return env

    def _unsupported(self, what: str) -> None:
        _skip(f"{what} needs a pool started by condor-sim; this run uses --condor-backend=external "
              f"({self.config_file})")

    def collector(self):
        import htcondor2
        return htcondor2.Collector()

    def locate(self, daemon: str):
        import htcondor2
        name = _subsys(daemon)
        s = REGISTRY.get(name)
        if s is None:
            raise ValueError(f"unknown daemon {daemon!r}")
        return self.collector().locate(getattr(htcondor2.DaemonType, s.daemon_type))

    def schedd(self):
        import htcondor2
        return htcondor2.Schedd(self.locate("SCHEDD"))

    def log_path(self, daemon: str) -> Path:
        import htcondor2
        name = _subsys(daemon)
        path = htcondor2.param.get(f"{name}_LOG")
        if not path:
            _skip(f"the external pool's config has no {name}_LOG")
        return Path(path)

    def log(self, daemon: str) -> DaemonLog:
        log = super().log(daemon)
        if not os.access(log.path, os.R_OK):
            _skip(f"{log.path} (the {log.subsystem} log of the external pool) is not readable here")
        return log

    def reset(self, timeout: float = 30.0) -> None:
        """Nothing to restore: the plugin changes nothing in an external pool."""

    def reconfig(self, knobs: Mapping | None = None, timeout: float = 20.0) -> None:
        self._unsupported("changing the configuration (reconfig, @pytest.mark.condor_config)")

    def kill(self, daemon: str, sig: int = signal.SIGKILL) -> int:
        self._unsupported(f"kill({daemon!r})")
        return 0

    def pause(self, daemon: str) -> int:
        self._unsupported(f"pause({daemon!r})")
        return 0

    def resume(self, daemon: str | None = None) -> None:
        self._unsupported("resume()")

    def restart(self, mode: RestartMode | str = RestartMode.GRACEFUL, daemon: str | None = None,
                timeout: float = 30.0) -> None:
        self._unsupported(f"restart({RestartMode(mode).value!r})")
