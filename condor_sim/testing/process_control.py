"""A simulated pool's processes: reset, kill, pause, resume and restart, each waiting
until the pool is whole again (a mixin of SimPool)."""
from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Iterable, Mapping

from .. import procs as ptools
from ..pool import ADDRESS_FILES, PoolError, PoolNotRunning
from .client_config import ClientConfig
from .common import DAEMONS, RestartMode, TEST_DROP_IN, _normalize_knobs, _subsys
from .processes import _can_connect, _process_state
from .lifetime import _LIVE, _LIVE_LOCK


class ProcessControl:
    """The process side of :class:`~.sim_pool.SimPool`."""

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
