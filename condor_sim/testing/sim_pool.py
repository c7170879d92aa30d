"""A pool condor-sim starts, and what keeps one from outliving the process that started
it (the watchdog).  Its config and process control are mixins of their own modules."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from ..pool import ADDRESS_FILES, Pool, PoolError, PoolNotRunning, daemon_name
from .client_config import ClientConfig
from .common import DAEMONS, _normalize_knobs, _subsys
from .condor_pool import CondorPool
from .config_control import ConfigControl
from .process_control import ProcessControl
from .lifetime import WATCHDOG, _LIVE, _LIVE_LOCK, _install_process_hooks
from .processes import _children, _cmdline, _process_state


class SimPool(ConfigControl, ProcessControl, CondorPool):
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
            name = daemon_name(_cmdline(pid), prefix)
            if name is not None:
                out[name] = pid
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
