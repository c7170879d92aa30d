"""The condor_master daemon: DAEMON_LIST, start order, advertising, reaping, stopping,
restarting itself, and the master's own handling of SIGTERM and SIGQUIT
(``condor_master.V6/master.cpp``, ``masterDaemon.cpp``).  Its commands are in :mod:`.admin`.
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import struct
import sys
import threading
import time

from ... import texts as T
from ...cedar.commands import Cmd
from ...keepalive import family_session_text
from ..base import Daemon, valid_daemon_name

# COLLECTOR_HOST entries: host[:port], [v6]:port, or a sinful string
_HOST_PORT = re.compile(r"<[^<>\s]+>|\[[0-9A-Fa-f:.]+\](:\d+)?|[A-Za-z0-9_.-]+(:\d+)?")
from .admin import MasterAdmin
from .stopping import MasterStopping
from .launch import Early, Options, predicted_sinful
from . import executables, forking
from .children import ChildDaemon, _mtime, linux_caps_hex
from .constants import (CAUGHT_SIGNALS, EXCEPT_FILES, JOB_EXCEPTION, MASTER_RESET, NONE, PID_FILE_NAME,
                        SIGNAMES)


class Master(MasterAdmin, MasterStopping, Daemon):
    SUBSYS = "MASTER"
    MY_TYPE = "DaemonMaster"
    UPDATE_COMMAND = "UPDATE_MASTER_AD"
    INVALIDATE_COMMAND = "INVALIDATE_MASTER_ADS"
    INTERVAL_KNOB = "MASTER_UPDATE_INTERVAL"
    INTERVAL_DEFAULT = 300
    ADDRESS_KNOBS = ("MASTER_ADDRESS_FILE", "MASTER_SUPER_ADDRESS_FILE")

    def __init__(self, argv: list[str], opts: Options, early: "Early | None" = None):
        self.opts = opts
        early = early or Early(opts)
        self.bg_fd = early.bg_fd
        self.held = early.held
        self._early = early
        config, log = self.process_config_and_log(argv)
        super().__init__(config, log, argv=argv)
        self.loop = None
        self.daemons: dict[str, ChildDaemon] = {}
        self.ordered: list[str] = []
        self.removed: dict[int, ChildDaemon] = {}
        self.shutting_down = False
        self.start_daemons = True
        self.got_daemons_off = False
        self.immediate_restart = False
        self.all_gone_action = MASTER_RESET
        self.reaper = "DEFAULT"
        self.stop_others_when_startds_gone = NONE
        self.peaceful_shutdown = False
        self.in_shutdown_fast = self.in_shutdown_graceful = self.in_shutdown_peaceful = False
        self._retry_handle = None
        self._preloaded = False
        self._update_task = None
        self._update_wake = None
        self._advertising_started = False
        self._lock_fd = -1
        self._pid_file = None
        self.master_name = opts.name
        self.shared_port_cookie: str | None = None
        self.shared_port_port: int | None = None
        self.private_inherit = family_session_text(*self.core.security.new_family_session())
        self.lock_or_except()

    # ------------------------------------------------------------ identity
    def name(self) -> str:
        return valid_daemon_name(self.master_name or self.config.get("MASTER_NAME"), self.fqdn,
                                 self.core.hostname)

    def config_problem(self) -> str | None:
        """A setting the pool cannot start with, though the config language accepts it
        (the library takes ``COLLECTOR_HOST = $(`` as the text "$(").  Ours: the real
        master would start its daemons and let them fail to find the collector."""
        value = (self.config.get("COLLECTOR_HOST") or "").strip()
        if not value or all(_HOST_PORT.fullmatch(v) for v in re.split(r"[\s,]+", value) if v):
            return None
        where = self.config.where_defined("COLLECTOR_HOST")
        at = f" (set in {where[0]}, line {where[1]})" if where else ""
        return f"ERROR: COLLECTOR_HOST = {value} is not a host[:port] or an address{at}"

    def fulldebug(self) -> bool:
        cats = getattr(self.log, "cats", None)
        if isinstance(cats, dict):
            return cats.get("D_ALWAYS", 0) >= 2 or cats.get("D_FULLDEBUG", 0) >= 1
        return False

    def ad(self) -> dict:
        ad = super().ad()
        ad["MasterIpAddr"] = self.core.sinful
        ad["RealUid"] = os.getuid()
        caps = linux_caps_hex()
        if caps:
            ad["LinuxCapabilities"] = caps
        for name in sorted(self.daemons):
            d = self.daemons[name]
            if d.runs_here or name == "MASTER":
                ad[f"{name}_Timestamp"] = d.timestamp
                if name == "MASTER":
                    ad[f"{name}_StartTime"] = self.core.start_time
                else:
                    ad[f"{name}_StartTime"] = d.start_time if d.pid else 0
        return ad

    # ------------------------------------------------------------ EXCEPT / lock
    def except_(self, message: str, source: str, line: int) -> None:
        self.log.log(f'ERROR "{message}" at line {line} in file {EXCEPT_FILES[source]}', "D_ERROR")
        for d in getattr(self, "daemons", {}).values():
            if d.pid:
                d.kill_family()
        for h in getattr(self, "held", {}).values():
            h.close()
        sys.stdout.flush()
        os._exit(JOB_EXCEPTION)

    def lock_or_except(self) -> None:
        """main_pre_command_sock_init: we must be the only master of this pool.

        The lock was taken (or not) before the banner, to know whether to pre-start
        daemons; its outcome is reported here, where the real master reports it."""
        early = self._early
        path = early.lock_path
        self.log.log(T.ATTEMPTING_LOCK.format(path=path), "D_FULLDEBUG")
        if early.lock_fd is None:
            line = 1616 if early.lock_error.startswith("Can't get lock") else 1607
            self.except_(early.lock_error, "master.cpp", line)
        self._lock_fd = early.lock_fd
        self.lock_path = path
        self.log.log(T.OBTAINED_LOCK.format(path=path), "D_FULLDEBUG")

    def release_lock(self) -> None:
        if self._lock_fd >= 0:
            try:
                os.close(self._lock_fd)      # closing drops the fcntl lock
            except OSError:
                pass
            self._lock_fd = -1

    def write_pid_file(self) -> None:
        paths = []
        if self.opts.pidfile:
            paths.append(self.opts.pidfile)
        run_dir = self.config.get("RUN") or self.config.get("LOCK")
        if run_dir:
            paths.append(os.path.join(run_dir, PID_FILE_NAME))
        self._pid_files = []
        for p in paths:
            try:
                os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
                with open(p + ".new", "w") as f:
                    f.write(f"{os.getpid()}\n")
                os.replace(p + ".new", p)
                self._pid_files.append(p)
            except OSError as e:
                self.log.log(f"DaemonCore: ERROR: Can't open pid file {p}: {e}")

    def remove_pid_files(self) -> None:
        for p in getattr(self, "_pid_files", []):
            try:
                with open(p) as f:
                    if f.read().strip() != str(os.getpid()):
                        continue
                os.unlink(p)
            except OSError:
                pass

    def release_background_parent(self, status: int = 0) -> None:
        if self.bg_fd is not None:
            try:
                os.write(self.bg_fd, struct.pack("i", status))
            except OSError:
                pass
            try:
                os.close(self.bg_fd)
            except OSError:
                pass
            self.bg_fd = None

    # ------------------------------------------------------------ config
    def init_params(self) -> None:
        c = self.config
        if self.opts.name is None and c.get("MASTER_NAME"):
            self.master_name = None   # name() reads the knob each time
        self.start_daemons = True
        if not c.get_bool("START_DAEMONS", True):
            self.log.log(T.NOT_STARTING)
            self.start_daemons = False
        if self.got_daemons_off:
            self.start_daemons = False
        self.publish_obituaries = c.get_bool("PUBLISH_OBITUARIES", True)
        self.backoff_constant = max(1, c.get_int("MASTER_BACKOFF_CONSTANT", 9))
        self.backoff_ceiling = max(1, c.get_int("MASTER_BACKOFF_CEILING", 3600))
        f = c.get_float("MASTER_BACKOFF_FACTOR", 2.0)
        self.backoff_factor = f if f > 0 else 2.0
        self.recover_time = max(1, c.get_int("MASTER_RECOVER_FACTOR", 300))
        self.master_update_interval = max(1, c.get_int("MASTER_UPDATE_INTERVAL", 300))
        self.new_bin_delay = max(1, c.get_int("MASTER_NEW_BINARY_DELAY", 120))
        self.shutdown_fast_timeout = max(1, c.get_int("SHUTDOWN_FAST_TIMEOUT", 300))
        self.shutdown_graceful_timeout = max(1, c.get_int("SHUTDOWN_GRACEFUL_TIMEOUT", 1800))
        self.allow_admin_commands = c.get_bool("ALLOW_ADMIN_COMMANDS", True)

    def init_daemon_list(self) -> None:
        names: list[str] = []
        for n in self.config.get_list("DAEMON_LIST"):
            n = n.upper()
            if n not in names:
                names.append(n)
        if not names:
            names = ["MASTER"]
        if "MASTER" not in names:
            names.append("MASTER")
        if "COLLECTOR" in names:                 # swapped to the front, as init_daemon_list does
            i = names.index("COLLECTOR")
            names[0], names[i] = names[i], names[0]
        if "SHARED_PORT" in names:
            i = names.index("SHARED_PORT")
            names[0], names[i] = names[i], names[0]
        elif self.core.uses_shared_port() and \
                self.config.get_bool("AUTO_INCLUDE_SHARED_PORT_IN_DAEMON_LIST", True):
            self.log.log(T.ADDING_SHARED_PORT)
            names.insert(0, "SHARED_PORT")
        self.ordered = names
        for n in names:
            if n not in self.daemons:
                self.daemons[n] = ChildDaemon(self, n)

    def init_daemon_paths(self) -> None:
        for name in sorted(self.daemons):
            self.daemons[name].init_params()

    def init_master(self) -> None:
        me = self.daemons["MASTER"]
        me.pid = os.getpid()
        me.start_time = self.core.start_time
        me.timestamp = _mtime(me.process_name)
        self.log.log(T.WATCHING.format(path=me.process_name, mtime=me.timestamp))

    # ------------------------------------------------------------ startup
    def start(self) -> None:
        from ...daemoncore import run
        run(self.core, self.setup, port=self._early.port)

    async def setup(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._early.port_reservation.close()      # DaemonCore listens on it now
        if self.core.sinful != predicted_sinful(self._early.port):
            self.log.log(f"pre-start: expected {predicted_sinful(self._early.port)}, "
                         f"listening at {self.core.sinful}", "D_FULLDEBUG")
        for knob in self.ADDRESS_KNOBS:
            self.core.write_address_file(self.config.get(knob))
        self.write_pid_file()
        threading.Thread(target=self._signal_thread, name="sigwait", daemon=True).start()
        # main_init: the master's own arguments
        if self.opts.rest or len(self.argv) > 4:
            self.log.log(f"Usage: {self.argv[0]} [-f] [-t] [-n name]")
            self.cancel_held()
            self.core.exit_status = 2
            self.core.request_shutdown(fast=True)
            return
        if self.opts.name:
            self.log.log(f"Using name: {self.name()}")
        self.loop.add_signal_handler(signal.SIGCHLD, self.reap)
        self.core.every(1.0, self._reap_poll, first=1.0)   # belt and braces for SIGCHLD
        self.init_params()
        problem = self.config_problem()
        if problem:      # found before any daemon starts: say where, and stop
            sys.stderr.write(problem + "\n")
            sys.stderr.flush()
            self.log.log(problem)
            self.cancel_held()
            self.core.exit_status = 1
            self.core.request_shutdown(fast=True)
            return
        self.init_daemon_list()
        self.init_daemon_paths()
        self.init_master()
        self._update_wake = asyncio.Event()
        if self.start_daemons:
            self.start_all_daemons()
        else:
            self.release_background_parent(0)
        if "COLLECTOR" not in self.daemons or not self.daemons["COLLECTOR"].pid:
            self.start_advertising()

    def start_daemon_here(self, d: ChildDaemon) -> bool:
        if not d.runs_here:
            return False
        d.hold(False)
        return d.start()

    def start_all_daemons(self) -> None:
        self._cancel_retry()
        for name in list(self.ordered):
            d = self.daemons.get(name)
            if d is None:
                continue
            if d.pid > 0 and d.runs_here:
                if d.wait_before_starting_others(False):
                    self._schedule_retry()
                    return
                self._started_first(d)
                continue
            if d.name == "SHARED_PORT":
                self.prepare_shared_port()
            if not self.start_daemon_here(d):
                continue
            if d.wait_before_starting_others(True):
                self._schedule_retry()
                return
            self._started_first(d)
        self.log.log(T.ALL_STARTED)
        self.release_background_parent(0)

    def _started_first(self, d: ChildDaemon) -> None:
        """A daemon the others wait for is up: the collector (advertise to it), the shared
        port daemon (move our own command socket behind it)."""
        if d.name == "COLLECTOR":
            self.start_advertising()
        elif d.name == "SHARED_PORT":
            self.remember_shared_port()
        if d.name == "SHARED_PORT" and self.core.shared_port_id is None:
            if self.core.start_shared_endpoint():
                for knob in self.ADDRESS_KNOBS:
                    self.core.write_address_file(self.config.get(knob))
                self.log.log(T.COMMAND_SOCKET.format(sinful=self.core.sinful))

    def remember_shared_port(self) -> None:
        """The port the shared port daemon took (SHARED_PORT_PORT = 0: one the OS picked).
        A restarted shared port daemon takes it again, so that every address the other
        daemons advertise stays good."""
        from ...shared_port import wire
        try:
            with open(self.config.get("SHARED_PORT_DAEMON_AD_FILE") or "") as f:
                hp = wire.host_port(wire.address_from_ad_text(f.read()) or "")
        except OSError:
            hp = None
        if hp is not None:
            self.shared_port_port = hp[1]

    def prepare_shared_port(self) -> None:
        """Before the shared port daemon starts: where the pool's named sockets live,
        handed to every child (CONDOR_PRIVATE_SHARED_PORT_COOKIE)."""
        from ...shared_port import endpoint as sp, wire
        if self.shared_port_cookie is None:
            self.shared_port_cookie = sp.cookie_from_environment(None, None) or \
                sp.make_cookie(self.config.get("DAEMON_SOCKET_DIR"), self.config.get("LOCK"))
            os.environ[wire.COOKIE_ENV] = self.shared_port_cookie
        self.log.log(T.STARTING_SHARED_PORT.format(port=self.config.get_int("SHARED_PORT_PORT", 9618)))

    # ------------------------------------------------------------ daemons as forks
    @staticmethod
    def own_module(path: str) -> str | None:
        """Our module that runs for the daemon path the config names, when that path is
        not run as it is (:mod:`.executables`)."""
        return executables.own_module(path)

    def fork_module(self, path: str, extra_env: dict[str, str], own: str | None = None) -> str | None:
        """The module to fork for a daemon started from ``path`` (``own``, when ours stands
        in for that path; imported here first), or None to exec it: not one of ours,
        forking off, or a call of the client library running in a thread (a fork would
        copy its locks held)."""
        if self._client_lock.locked():
            return None
        module = forking.forkable(self.config, path, extra_env, own)
        if module:
            forking.preload([module])
        return module

    def preload_daemons(self) -> None:
        """Import every forkable daemon's module now (while we wait for the collector)."""
        modules = []
        for name in self.ordered:
            d = self.daemons.get(name)
            if d is not None and d.runs_here and d.process_name:
                modules.append(forking.forkable(self.config, d.process_name, d.env,
                                                executables.own_module(d.process_name)))
        forking.preload(modules)

    def _schedule_retry(self) -> None:
        if self._retry_handle is None:
            if not self._preloaded:
                self._preloaded = True
                self.preload_daemons()
            self._retry_handle = self.loop.call_later(0.005, self._retry_start_all)

    def _retry_start_all(self) -> None:
        self._retry_handle = None
        self.start_all_daemons()

    def _cancel_retry(self) -> None:
        if self._retry_handle is not None:
            self._retry_handle.cancel()
            self._retry_handle = None

    # ------------------------------------------------------------ advertising
    def start_advertising(self) -> None:
        """The first update goes out now (a real master waits 5 s), then every interval."""
        if self._advertising_started:
            return
        self._advertising_started = True
        self._update_task = self.loop.create_task(self._update_loop())
        self.core._timers.append(self._update_task)

    async def _update_loop(self) -> None:
        while True:
            if not self.shutting_down:
                try:
                    await self.advertise()
                except Exception as e:   # never let the loop die
                    self.log.log(f"Failed to send UPDATE_MASTER_AD: {e}", "D_FULLDEBUG")
            try:
                await asyncio.wait_for(self._update_wake.wait(), self.master_update_interval)
            except asyncio.TimeoutError:
                pass
            self._update_wake.clear()

    def update_collector(self) -> None:
        """Daemons::UpdateCollector: an update now, and the periodic timer restarts."""
        if self.shutting_down or self._update_wake is None:
            return
        if self._advertising_started:
            self._update_wake.set()

    async def invalidate_ads(self) -> None:
        try:
            await asyncio.wait_for(self.invalidate(), 3)
        except Exception:
            pass

    # ------------------------------------------------------------ DaemonCore signals
    def _signal_thread(self) -> None:
        while True:
            try:
                info = signal.sigwaitinfo(CAUGHT_SIGNALS)
            except InterruptedError:
                continue
            try:
                self.loop.call_soon_threadsafe(self._caught, info.si_signo, info.si_pid, info.si_uid)
            except RuntimeError:      # the loop is closed: we are exiting anyway
                return

    def _caught(self, signo: int, pid: int, uid: int) -> None:
        self.log.log(T.CAUGHT_SIGNAL.format(signame=SIGNAMES.get(signo, signo), pid=pid, uid=uid))
        self._on_signal(signo)

    def on_signal(self, signum: int) -> bool:
        """The master's own SIGTERM/SIGQUIT handling replaces DaemonCore's."""
        self._on_signal(signum)
        return True

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            self.log.log(T.GOT_SIGHUP)
            self.core.request_reconfig()
        elif signum in (signal.SIGTERM, signal.SIGINT):
            self.handle_dc_sigterm()
        elif signum == signal.SIGQUIT:
            self.handle_dc_sigquit()

    def handle_dc_sigterm(self) -> None:
        if self.in_shutdown_fast or self.in_shutdown_graceful or \
                (self.peaceful_shutdown and self.in_shutdown_peaceful):
            kind = "fast" if self.in_shutdown_fast else ("graceful" if self.in_shutdown_graceful else "peaceful")
            self.log.log(T.MASTER_SIGTERM_IGNORED.format(kind=kind), "D_STATUS")
            return
        kind = "peaceful" if self.peaceful_shutdown else "graceful"
        self.log.log(T.MASTER_SIGTERM.format(kind=kind), "D_STATUS")
        if self.peaceful_shutdown:
            self.in_shutdown_peaceful = True
            self.log.log("Peaceful shutdown in effect.  No timeout enforced.", "D_FULLDEBUG")
        else:
            self.in_shutdown_graceful = True
            timeout = self.config.get_int("SHUTDOWN_GRACEFUL_TIMEOUT", 1800)
            self.loop.call_later(max(0, timeout), self._graceful_timed_out)
            self.log.log(f"Started timer to call main_shutdown_fast in {timeout} seconds", "D_FULLDEBUG")
        self._spawn(self.do_basic_admin_command(Cmd.MASTER_OFF))

    def _graceful_timed_out(self) -> None:
        if not self.in_shutdown_fast:
            self.log.log("Graceful shutdown timed out. Performing fast shutdown.")
            self.in_shutdown_fast = True
            self._spawn(self.do_basic_admin_command(Cmd.MASTER_OFF_FAST))

    def handle_dc_sigquit(self) -> None:
        if self.in_shutdown_fast:
            self.log.log(T.MASTER_SIGQUIT_IGNORED, "D_FULLDEBUG")
            return
        self.in_shutdown_fast = True
        self.log.log(T.GOT_SIGQUIT)
        self._spawn(self.do_basic_admin_command(Cmd.MASTER_OFF_FAST))

    def _spawn(self, coro) -> None:
        self.core.spawn(coro)

    # ------------------------------------------------------------ reconfig
    async def on_reconfig(self) -> None:   # after DaemonCore re-read the config
        self.main_config()

    def main_config(self) -> None:
        self.last_reconfig = int(time.time())
        old = list(self.ordered)
        self.init_params()
        problem = self.config_problem()
        if problem:      # a running pool keeps running; the daemons will say what fails
            self.log.log(problem)
        self.init_daemon_list()
        for name in old:
            if name not in self.ordered and name in self.daemons:
                self.remove_daemon(name)
        self.init_daemon_paths()
        for knob in self.ADDRESS_KNOBS:
            path = self.config.get(knob)
            if path:
                self.core.write_address_file(path)
        if self.start_daemons:
            self.reconfig_all_daemons()
            for name in self.ordered:
                d = self.daemons.get(name)
                if d is not None and name not in old:
                    self.start_daemon_here(d)
        else:
            self.daemons_off()
        self.update_collector()

    def reconfig_all_daemons(self) -> None:
        self.log.log(T.RECONFIG_ALL)
        for name in sorted(self.daemons):
            d = self.daemons[name]
            if d.runs_here:
                d.reconfig()

    def remove_daemon(self, name: str) -> None:
        d = self.daemons.pop(name, None)
        if d is None:
            return
        if d.pid > 0:
            self.removed[d.pid] = d
            d.stop()
        else:
            d.cancel_all_timers()

    # ------------------------------------------------------------ DaemonCore exit
    async def on_shutdown(self, fast: bool) -> None:
        # The ad was invalidated when the shutdown began; the children are gone.
        self.cancel_held()
        self.remove_pid_files()
        self.release_lock()
