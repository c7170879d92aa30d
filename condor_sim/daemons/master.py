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

Start-up speed ("pre-start", see ``HeldProcess``): before its own heavy imports the
master launches the interpreters of the daemons it will start; they import and wait.
Starting a daemon then means logging ``Started DaemonCore process`` and letting that
process go; its imports have overlapped with everybody else's.
"""
from __future__ import annotations

import errno
import math
import os
import signal
import struct
import sys
import time

from .. import procs
from ..registry import SIMULATED

BACKGROUND_FD_ENV = "CONDOR_SIM_BACKGROUND_FD"   # the pipe to the `condor_master` that forked us
HOLD_FD_ENV = "CONDOR_SIM_HOLD_FD"               # a pre-started daemon waits on it (base.py)
PID_FILE_NAME = "condor_master.pid"              # in $(RUN); condor-sim's own (Pool uses it)

# EXCEPT() reports the file and line of the failing check: the line numbers are those of
# the 25.14 source; the directory part of __FILE__ depends on the build, so it is made up.
_EXCEPT_FILES = {
    "master.cpp": "/build/htcondor/src/condor_master.V6/master.cpp",
    "masterDaemon.cpp": "/build/htcondor/src/condor_master.V6/masterDaemon.cpp",
}
JOB_EXCEPTION = 4          # exit status of EXCEPT()
DAEMON_NO_RESTART = 99     # a child exiting with this is put on hold
JOB_EXEC_FAILED = 110

# Command numbers (condor_commands.h)
RESTART, DAEMONS_OFF, DAEMONS_ON, MASTER_OFF = 453, 454, 455, 456
DAEMONS_OFF_FAST, MASTER_OFF_FAST = 461, 462
DAEMON_OFF, DAEMON_OFF_FAST, DAEMON_ON = 467, 468, 469
DAEMON_OFF_PEACEFUL, DAEMONS_OFF_PEACEFUL, RESTART_PEACEFUL = 483, 484, 485
CHILD_ON, CHILD_OFF, CHILD_OFF_FAST = 490, 491, 492
DAEMONS_OFF_FLEX, SET_SHUTDOWN_PROGRAM = 452, 508
DC_OFF_GRACEFUL, DC_OFF_FAST, DC_CHILDALIVE = 60005, 60006, 60008
DC_OFF_PEACEFUL, DC_SET_PEACEFUL_SHUTDOWN = 60015, 60016
DC_SET_FORCE_SHUTDOWN, DC_OFF_FORCE, DC_SET_READY, DC_QUERY_READY = 60041, 60042, 60043, 60044

_CMD_NAMES = {
    RESTART: "RESTART", DAEMONS_OFF: "DAEMONS_OFF", DAEMONS_ON: "DAEMONS_ON",
    MASTER_OFF: "MASTER_OFF", DAEMONS_OFF_FAST: "DAEMONS_OFF_FAST",
    MASTER_OFF_FAST: "MASTER_OFF_FAST", DAEMON_OFF: "DAEMON_OFF",
    DAEMON_OFF_FAST: "DAEMON_OFF_FAST", DAEMON_ON: "DAEMON_ON",
    DAEMON_OFF_PEACEFUL: "DAEMON_OFF_PEACEFUL", DAEMONS_OFF_PEACEFUL: "DAEMONS_OFF_PEACEFUL",
    RESTART_PEACEFUL: "RESTART_PEACEFUL", CHILD_ON: "CHILD_ON", CHILD_OFF: "CHILD_OFF",
    CHILD_OFF_FAST: "CHILD_OFF_FAST", DAEMONS_OFF_FLEX: "DAEMONS_OFF_FLEX",
    SET_SHUTDOWN_PROGRAM: "SET_SHUTDOWN_PROGRAM",
}

# stop states (masterDaemon.cpp StopStateT)
NONE, PEACEFUL, GRACEFUL, FAST, KILL = "NONE", "PEACEFUL", "GRACEFUL", "FAST", "KILL"
# what to do when every child is gone
MASTER_RESET, MASTER_RESTART, MASTER_EXIT = "RESET", "RESTART", "EXIT"

CAUGHT_SIGNALS = {signal.SIGTERM, signal.SIGQUIT}
_SIGNAMES = {signal.SIGHUP: "SIGHUP", signal.SIGTERM: "SIGTERM", signal.SIGQUIT: "SIGQUIT",
             signal.SIGKILL: "SIGKILL", signal.SIGINT: "SIGINT", signal.SIGUSR1: "SIGUSR1",
             signal.SIGUSR2: "SIGUSR2", signal.SIGSTOP: "SIGSTOP", signal.SIGCONT: "SIGCONT"}


# ---------------------------------------------------------------------------- arguments
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


# ---------------------------------------------------------------------------- helpers
def _strsignal(sig: int) -> str:
    try:
        return signal.strsignal(sig) or f"Unknown signal {sig}"
    except ValueError:
        return f"Unknown signal {sig}"


def _mtime(path: str | None) -> int:
    try:
        return int(os.stat(path).st_mtime) if path else 0
    except OSError:
        return 0


def _parse_environment(text: str | None) -> dict[str, str]:
    """``<NAME>_ENVIRONMENT``: V2 (``"A=1 B='x y'"``) or V1 (``A=1;B=2``) syntax."""
    if not text:
        return {}
    text = text.strip()
    out: dict[str, str] = {}
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        import shlex
        try:
            words = shlex.split(text[1:-1])
        except ValueError:
            words = text[1:-1].split()
    else:
        words = [w for w in text.split(";") if w]
    for w in words:
        k, sep, v = w.partition("=")
        if sep and k:
            out[k.strip()] = v
    return out


def linux_caps_hex() -> str | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return "0x" + format(int(line.split()[1], 16), "x")
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------- one child
class ChildDaemon:
    """One DAEMON_LIST entry (``class daemon`` in masterDaemon.cpp)."""

    def __init__(self, master: "Master", name: str):
        self.m = master
        self.name = name
        self.runs_here = name != "MASTER"
        self.process_name: str | None = None
        self.pid = 0
        self.restarts = 0
        self.on_hold = False
        self.stop_state = NONE
        self.start_time = 0
        self.timestamp = 0
        self.new_exec = False
        self.needs_update = False
        self.ready_state: str | None = None
        self.waiting_for_startup = False
        self.wait_file: str | None = None
        self._logged_waiting = False
        self.start_timer = None
        self.stop_fast_timer = None
        self.hard_kill_timer = None
        self.recover_timer = None
        self.env: dict[str, str] = {}
        self.hung_timer = None            # armed by each DC_CHILDALIVE
        self.was_not_responding = False
        self.alive_messages = 0
        self.do_config(init=True)

    # -- config
    def do_config(self, init: bool = False) -> None:
        c = self.m.config
        m = self.m
        self.backoff_constant = max(1, c.get_int(f"MASTER_{self.name}_BACKOFF_CONSTANT", m.backoff_constant))
        self.backoff_ceiling = max(1, c.get_int(f"MASTER_{self.name}_BACKOFF_CEILING", m.backoff_ceiling))
        factor = _get_float(c, f"MASTER_{self.name}_BACKOFF_FACTOR", m.backoff_factor)
        self.backoff_factor = factor if factor > 0 else m.backoff_factor
        self.recover_time = max(1, c.get_int(f"MASTER_{self.name}_RECOVER_FACTOR", m.recover_time))
        self.env = child_environment(c, self.name)
        self.wait_file = c.get("COLLECTOR_ADDRESS_FILE") if self.name == "COLLECTOR" else None

    def init_params(self) -> None:
        old = self.process_name
        self.process_name = self.m.config.get(self.name)
        if not self.process_name:
            self.m.log.log(f"{self.name} is in the DAEMON_LIST parameter, but there is no executable "
                           f"path for it defined in the config files!")
            self.m.except_(f"Must have the path to {self.name} defined.", "masterDaemon.cpp", 1689)
        if old and old != self.process_name:
            self.new_exec = True
        if not self.runs_here:
            self.timestamp = _mtime(self.process_name)

    # -- timers
    def _later(self, delay: float, fn):
        return self.m.loop.call_later(delay, fn)

    @staticmethod
    def _cancel(handle) -> None:
        if handle is not None:
            handle.cancel()

    def cancel_all_timers(self) -> None:
        for attr in ("stop_fast_timer", "hard_kill_timer", "recover_timer", "start_timer", "hung_timer"):
            self._cancel(getattr(self, attr))
            setattr(self, attr, None)

    def cancel_restart_timers(self) -> None:
        self._cancel(self.recover_timer)
        self.recover_timer = None
        if self.start_timer is not None:
            self.m.log.log(f"Canceling timer to re-start {self.name}")
            self._cancel(self.start_timer)
            self.start_timer = None

    # -- start
    def hold(self, on: bool) -> None:
        self.ready_state = None
        self.on_hold = on

    def next_start(self) -> int:
        try:
            seconds = self.backoff_constant + int(math.ceil(self.backoff_factor ** self.restarts))
        except OverflowError:
            seconds = self.backoff_ceiling
        if seconds > self.backoff_ceiling or seconds < 0:
            seconds = self.backoff_ceiling
        return seconds

    def start(self) -> bool:
        if self.start_timer is not None:
            self._cancel(self.start_timer)
            self.start_timer = None
        if self.on_hold:
            return False
        if self.pid:
            return True
        return self.real_start()

    def real_start(self) -> bool:
        m = self.m
        if self.on_hold:
            return False
        if self.pid:
            return True
        if m.shutting_down:
            m.log.log(f"Master is shutting down, so skipping startup of {self.name}")
            return False
        path = self.process_name or ""
        if not os.access(path, os.X_OK):
            e = _errno_of_access(path)
            m.log.log(f"{path}: Cannot execute (errno={e}, {os.strerror(e)})")
            self.pid = 0
            self.restart()
            return False
        if self.wait_file:
            try:
                os.unlink(self.wait_file)
            except FileNotFoundError:
                pass
            except OSError:
                m.log.log(f"Cannot remove wait-for-startup file {self.wait_file}")
        shortname = os.path.basename(path)
        args = [shortname] + daemon_args(m.config, self.name)
        extra = dict(self.env)
        extra["CONDOR_INHERIT"] = f"{os.getpid()} {m.core.sinful} 0 0"
        held = m.held.pop(self.name, None)
        private = {"CONDOR_PRIVATE_INHERIT": m.private_inherit}
        if held is not None and (held.path != path or held.args != args or held.extra != extra
                                 or not held.go(private)):
            held.cancel()        # started with something else than we would start now
            held = None
        try:
            if held is not None:
                self.pid = held.pid
            else:
                env = dict(os.environ)
                env.pop(BACKGROUND_FD_ENV, None)
                env.update(extra)
                env.update(private)
                self.pid = procs.spawn(path, args, env)
        except OSError:
            m.log.log(f"ERROR: Create_Process failed trying to start {path}", "D_ERROR")
            self.pid = 0
            self.restart()
            return False
        self.waiting_for_startup = True
        self._logged_waiting = False
        if self.restarts > 0:
            self._cancel(self.recover_timer)
            self.recover_timer = self._later(self.recover_time, self.recover)
        shown = path
        if len(args) > 1 and m.fulldebug():
            shown = path + " " + " ".join(args[1:])
        m.log.log(f'Started DaemonCore process "{shown}", pid and pgroup = {self.pid}')
        self.timestamp = _mtime(path)
        self.start_time = int(time.time())
        self.new_exec = False
        if self.needs_update:
            self.needs_update = False
            m.update_collector()
        return True

    def wait_before_starting_others(self, first_time: bool) -> bool:
        if not self.waiting_for_startup:
            return False
        wait = False
        if self.wait_file:
            if not os.path.exists(self.wait_file):
                wait = True
                if not self._logged_waiting:
                    # A real master logs this at every poll; it polls every ~100 ms and the
                    # collector is normally up before the second one.  We poll faster, so
                    # we log it once.
                    self.m.log.log(f"Waiting for {self.wait_file} to appear.")
                    self._logged_waiting = True
            elif not first_time:
                self.m.log.log(f"Found {self.wait_file}.")
        if not wait:
            self.waiting_for_startup = False
        return wait

    def recover(self) -> None:
        self.restarts = 0
        self.recover_timer = None
        self.m.log.log(f"{self.name} recovered", "D_FULLDEBUG")

    def restart(self, by_command: bool = False) -> bool:
        if self.on_hold:
            return False
        if self.new_exec:
            self.restarts = 0
            self.new_exec = False
            n = self.m.new_bin_delay
        elif by_command:
            n = 1
            self.restarts = 0
        else:
            n = self.next_start()
            self.restarts += 1
        self.ready_state = None
        self._cancel(self.recover_timer)
        self.recover_timer = None
        self._cancel(self.start_timer)
        self.start_timer = self._later(n, self._do_start)
        self.m.log.log(f"restarting {self.process_name} in {n} seconds")
        self.m.update_collector()
        self.needs_update = True
        return True

    def _do_start(self) -> None:
        self.start_timer = None
        self.start()

    # -- stop
    def _begin_stop(self, already: tuple) -> bool:
        """What every stop does first (daemon::Stop*): a pending restart is cancelled; the
        caller goes on only for a running daemon not already stopping in one of ``already``."""
        if not self.runs_here:
            return False
        if self.start_timer is not None:
            self.m.log.log(f"Canceling timer to re-start {self.name}")
            self._cancel(self.start_timer)
            self.start_timer = None
        return bool(self.pid) and self.stop_state not in already

    def stop(self) -> None:
        if not self._begin_stop((GRACEFUL, PEACEFUL)):
            return
        self.stop_state = GRACEFUL
        self.kill(signal.SIGTERM)
        self._cancel(self.stop_fast_timer)
        self.stop_fast_timer = self._later(self.m.shutdown_graceful_timeout, self._stop_fast_timer)

    def stop_peaceful(self) -> None:
        if not self._begin_stop((PEACEFUL, GRACEFUL)):
            return
        self.stop_state = PEACEFUL
        self.kill(signal.SIGTERM)

    def _stop_fast_timer(self) -> None:
        self.stop_fast()

    def stop_fast(self) -> None:
        if not self._begin_stop((FAST,)):
            return
        self.stop_state = FAST
        if self.stop_fast_timer is not None:
            # (the real master says this whenever a graceful stop was pending)
            self.m.log.log(f"Timeout for graceful shutdown has expired for {self.name}.")
            self._cancel(self.stop_fast_timer)
            self.stop_fast_timer = None
        self.kill(signal.SIGQUIT)
        self._cancel(self.hard_kill_timer)
        self.hard_kill_timer = self._later(self.m.shutdown_fast_timeout, self._hard_kill_timer)

    def _hard_kill_timer(self) -> None:
        self.hard_kill()

    def hard_kill(self) -> None:
        if not self.runs_here or not self.pid:
            return
        if self.stop_state == KILL:
            return
        self.stop_state = KILL
        if self.hard_kill_timer is not None:
            self.m.log.log(f"Timeout for fast shutdown has expired for {self.name}.")
            self._cancel(self.hard_kill_timer)
            self.hard_kill_timer = None
        self.kill_family()
        self.m.log.log(f"Sent SIGKILL to {self.name} (pid {self.pid}) and all its children.")

    def kill(self, sig: int) -> None:
        if not self.pid or self.pid == -1:
            return
        name = _SIGNAMES.get(sig, f"signal {sig}")
        try:
            os.kill(self.pid, sig)
        except OSError:
            self.m.log.log(f"ERROR: failed to send {name} to pid {self.pid}")
        else:
            self.m.log.log(f"Sent {name} to {self.name} (pid {self.pid})")

    def kill_family(self) -> None:
        """Every process of the daemon's process group (it leads one: pid == pgid)."""
        if not self.pid:
            return
        procs.kill_tree(self.pid)

    def reconfig(self) -> None:
        if self.stop_state not in (NONE, PEACEFUL):
            return
        self.do_config()
        if self.pid:
            self.kill(signal.SIGHUP)

    # -- exit
    # -- keep-alive (daemon_keep_alive.cpp)
    def alive(self, secs: int) -> None:
        """A DC_CHILDALIVE: the child promises another within ``secs``."""
        self.was_not_responding = False
        self.alive_messages += 1
        self._cancel(self.hung_timer)
        self.hung_timer = self._later(max(1, secs), self.hung)

    def hung(self) -> None:
        """KillHungChild: no keep-alive in time."""
        self.hung_timer = None
        if not self.pid:
            return
        self.was_not_responding = True
        self.m.log.log(f"ERROR: Child pid {self.pid} appears hung! Killing it hard.")
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def exited(self, status: int) -> bool:
        msg = f"The {self.name} (pid {self.pid}) "
        had_failure = True
        expected = False
        if self.was_not_responding:
            msg += "was killed because it was no longer responding"
            self.was_not_responding = False
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            msg += f"died due to signal {sig} ({_strsignal(sig)})"
        else:
            code = os.WEXITSTATUS(status)
            msg += f"exited with status {code}"
            if code == DAEMON_NO_RESTART:
                had_failure = False
                msg += " (daemon will not restart automatically)"
                self.on_hold = True
            elif code == 0 and (self.on_hold or self.m.shutting_down or self.stop_state != NONE):
                had_failure = False
                expected = True
        self.m.log.log(msg, "D_ERROR" if had_failure else "D_ALWAYS")
        # leftovers of its process group go too
        procs.kill_group(self.pid)
        self.ready_state = None
        self.pid = 0
        self.cancel_all_timers()
        self.stop_state = NONE
        return expected

    def obituary(self, status: int) -> None:
        if self.restarts > 3 or self.name == "KBDD":
            return
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            return
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) in (0, JOB_EXEC_FAILED, DAEMON_NO_RESTART):
            return
        self.m.log.log(f'Sending obituary for "{self.process_name}"')


def _get_float(config, name: str, default: float) -> float:
    v = config.get(name)
    if v is None:
        return default
    try:
        return float(v.strip())
    except ValueError:
        return default


DEFAULT_DC_DAEMONS = frozenset((
    "MASTER", "STARTD", "SCHEDD", "KBDD", "COLLECTOR", "NEGOTIATOR", "EVENTD", "VIEW_SERVER",
    "CONDOR_VIEW", "VIEW_COLLECTOR", "CREDD", "HAD", "REPLICATION", "JOB_ROUTER", "ROOSTER",
    "SHARED_PORT", "DEFRAG", "GANGLIAD", "ANNEXD", "PLACEMENTD"))
_VIEW_SERVERS = frozenset(("VIEW_COLLECTOR", "CONDOR_VIEW", "VIEW_SERVER"))


def dc_daemons(config) -> set[str]:
    """The built-in DaemonCore daemons plus DC_DAEMON_LIST (``+NAME`` adds, ``-NAME``
    removes), as the master reads them."""
    names = set(DEFAULT_DC_DAEMONS)
    for tok in config.get_list("DC_DAEMON_LIST"):
        tok = tok.upper()
        if tok.startswith("+") and len(tok) > 1:
            names.add(tok[1:])
        elif tok.startswith("-") and len(tok) > 1:
            names.discard(tok[1:])
        elif tok not in ("+", "-"):
            names.add(tok)
    return names


def daemon_args(config, name: str) -> list[str]:
    """The arguments the master gives a daemon (daemon::RealStart): a DaemonCore daemon
    listed under a name of its own (``SCHEDD2 = $(SCHEDD)``) gets ``-local-name NAME``
    ahead of ``<NAME>_ARGS``, unless those already carry one."""
    extra = _split_args(config.get(f"{name}_ARGS"))
    if name in dc_daemons(config) and (name in _VIEW_SERVERS or name not in DEFAULT_DC_DAEMONS) \
            and "-local-name" not in extra:
        return ["-local-name", name] + extra
    return extra


def _split_args(text: str | None) -> list[str]:
    if not text:
        return []
    import shlex
    text = text.strip()
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        text = text[1:-1]
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _errno_of_access(path: str) -> int:
    try:
        os.stat(path)
    except OSError as e:
        return e.errno or errno.ENOENT
    return errno.EACCES


# ---------------------------------------------------------------------------- the master
def _make_master_class():
    """Defined lazily: importing the daemon base pulls in the client library."""
    from ..cedar import ProtocolError
    from ..cedar.classad_wire import get_ad
    from ..connection import ConnectionClosed
    from ..keepalive import family_session_text
    from ..security.perms import Perm
    from .base import Daemon

    class Master(Daemon):
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
            self._update_task = None
            self._update_wake = None
            self._advertising_started = False
            self._lock_fd = -1
            self._pid_file = None
            self.master_name = opts.name
            self.private_inherit = family_session_text(*self.core.security.new_family_session())
            self.lock_or_except()

        # ------------------------------------------------------------ identity
        def name(self) -> str:
            n = self.master_name or self.config.get("MASTER_NAME")
            if not n:
                return self.fqdn
            if "@" in n:
                return n
            if n.lower() in (self.fqdn.lower(), self.core.hostname.lower()):
                return self.fqdn
            return f"{n}@{self.fqdn}"

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
            self.log.log(f'ERROR "{message}" at line {line} in file {_EXCEPT_FILES[source]}', "D_ERROR")
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
            self.log.log(f"Attempting to lock {path}.", "D_FULLDEBUG")
            if early.lock_fd is None:
                line = 1616 if early.lock_error.startswith("Can't get lock") else 1607
                self.except_(early.lock_error, "master.cpp", line)
            self._lock_fd = early.lock_fd
            self.lock_path = path
            self.log.log(f"Obtained lock on {path}.", "D_FULLDEBUG")

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
                self.log.log("START_DAEMONS flag was set to FALSE.  Not starting daemons.")
                self.start_daemons = False
            if self.got_daemons_off:
                self.start_daemons = False
            self.publish_obituaries = c.get_bool("PUBLISH_OBITUARIES", True)
            self.backoff_constant = max(1, c.get_int("MASTER_BACKOFF_CONSTANT", 9))
            self.backoff_ceiling = max(1, c.get_int("MASTER_BACKOFF_CEILING", 3600))
            f = _get_float(c, "MASTER_BACKOFF_FACTOR", 2.0)
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
            self.log.log(f"Master restart (GRACEFUL) is watching {me.process_name} (mtime:{me.timestamp})")

        # ------------------------------------------------------------ startup
        def start(self) -> None:
            from ..daemoncore import run
            run(self.core, self.setup, port=self._early.port)

        async def setup(self) -> None:
            import asyncio
            self.loop = asyncio.get_running_loop()
            self._early.port_reservation.close()      # DaemonCore listens on it now
            if self.core.sinful != predicted_sinful(self._early.port):
                self.log.log(f"pre-start: expected {predicted_sinful(self._early.port)}, "
                             f"listening at {self.core.sinful}", "D_FULLDEBUG")
            for knob in self.ADDRESS_KNOBS:
                self.core.write_address_file(self.config.get(knob))
            self.write_pid_file()
            import threading
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
            self.init_daemon_list()
            self.init_daemon_paths()
            self.init_master()
            self.register_commands()
            self._update_wake = asyncio.Event()
            if self.start_daemons:
                self.start_all_daemons()
            else:
                self.release_background_parent(0)
            if "COLLECTOR" not in self.daemons or not self.daemons["COLLECTOR"].pid:
                self.start_advertising()

        def register_commands(self) -> None:
            core = self.core
            for num in (DAEMONS_OFF_FLEX, RESTART, RESTART_PEACEFUL, DAEMONS_OFF, DAEMONS_OFF_FAST,
                        DAEMONS_OFF_PEACEFUL, DAEMONS_ON, MASTER_OFF, MASTER_OFF_FAST, DAEMON_ON,
                        DAEMON_OFF, DAEMON_OFF_FAST, DAEMON_OFF_PEACEFUL, CHILD_ON, CHILD_OFF,
                        CHILD_OFF_FAST, SET_SHUTDOWN_PROGRAM):
                core.register(num, Perm.ADMINISTRATOR, self.admin_command_handler, name=_CMD_NAMES[num],
                              has_payload=num in (DAEMON_ON, DAEMON_OFF, DAEMON_OFF_FAST, DAEMON_OFF_PEACEFUL,
                                                  CHILD_ON, CHILD_OFF, CHILD_OFF_FAST, SET_SHUTDOWN_PROGRAM,
                                                  DAEMONS_OFF_FLEX))
            # DaemonCore's shutdown commands: raise the signal on ourselves, as the real ones do
            core.register(DC_OFF_GRACEFUL, Perm.ADMINISTRATOR, self._cmd_off_graceful, has_payload=False, replaces=True)
            core.register(DC_OFF_FAST, Perm.ADMINISTRATOR, self._cmd_off_fast, has_payload=False, replaces=True)
            core.register(DC_OFF_PEACEFUL, Perm.ADMINISTRATOR, self._cmd_off_peaceful, has_payload=False, replaces=True)
            core.register(DC_OFF_FORCE, Perm.ADMINISTRATOR, self._cmd_off_force, has_payload=False, replaces=True)
            core.register(DC_SET_PEACEFUL_SHUTDOWN, Perm.ADMINISTRATOR, self._cmd_set_peaceful, has_payload=False, replaces=True)
            core.register(DC_SET_FORCE_SHUTDOWN, Perm.ADMINISTRATOR, self._cmd_set_force, has_payload=False, replaces=True)
            core.register(DC_SET_READY, Perm.DAEMON, self.ready_command_handler, name="DC_SET_READY")
            core.register(DC_CHILDALIVE, Perm.DAEMON, self._child_alive, name="DC_CHILDALIVE")

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
                    if d.name == "COLLECTOR":
                        self.start_advertising()
                    continue
                if not self.start_daemon_here(d):
                    continue
                if d.wait_before_starting_others(True):
                    self._schedule_retry()
                    return
                if d.name == "COLLECTOR":
                    self.start_advertising()
            self.log.log("Daemons::StartAllDaemons all daemons were started")
            self.release_background_parent(0)

        def _schedule_retry(self) -> None:
            if self._retry_handle is None:
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
            import asyncio
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
            import asyncio
            try:
                await asyncio.wait_for(self.invalidate(), 3)
            except Exception:
                pass

        # ------------------------------------------------------------ reaping
        def cancel_held(self) -> None:
            for name in list(self.held):
                self.held.pop(name).cancel()

        def reap(self) -> None:
            for name, h in list(self.held.items()):
                if procs.reap(h.pid) is not None:        # died before we needed it
                    h.close()
                    self.held.pop(name, None)
            for pid, d in list(self.removed.items()):
                status = procs.reap(pid)
                if status is not None:
                    self.removed.pop(pid, None)
                    d.exited(status)
                    self._after_exit(None, status)
            for name in sorted(self.daemons):
                d = self.daemons[name]
                if not d.runs_here or not d.pid:
                    continue
                status = procs.reap(d.pid)
                if status is not None:
                    self._after_exit(d, status)

        async def _reap_poll(self) -> None:
            self.reap()

        def _after_exit(self, d: ChildDaemon | None, status: int) -> None:
            if self.reaper == "ALL":
                if d is not None:
                    d.exited(status)
                daemons = startds = 0
                for x in list(self.removed.values()) + list(self.daemons.values()):
                    if x.runs_here and x.pid:
                        daemons += 1
                        if x.name.startswith("STARTD"):
                            startds += 1
                if not daemons:
                    self.all_daemons_gone()
                elif not startds:
                    self.all_startds_gone()
            elif d is not None:
                expected = d.exited(status)
                if self.publish_obituaries:
                    d.obituary(status)
                d.restart(expected)

        # ------------------------------------------------------------ stopping
        def set_all_reaper(self, startds_first: bool = False) -> None:
            if self.reaper == "ALL":
                return
            self.reaper = "ALL"
            self.stop_others_when_startds_gone = GRACEFUL if startds_first else NONE

        def set_default_reaper(self) -> None:
            self.reaper = "DEFAULT"

        def _running(self):
            return [self.daemons[n] for n in sorted(self.daemons)
                    if self.daemons[n].pid and self.daemons[n].runs_here]

        def _stop_all(self, method: str, then_others: str | None = None) -> None:
            """Stop every running child with ``method``; with ``then_others``, the startds
            go first and the rest follow (that way) when the last startd is gone."""
            self._cancel_retry()
            self.set_all_reaper()
            running = self._running()
            startds = [d for d in running if d.name.startswith("STARTD")] if then_others else []
            for d in startds or running:
                getattr(d, method)()
            if startds:
                self.stop_others_when_startds_gone = then_others
            if not running:
                self.all_daemons_gone()

        def stop_all_daemons(self) -> None:
            self._stop_all("stop", GRACEFUL)

        def stop_fast_all_daemons(self) -> None:
            self._stop_all("stop_fast")

        def stop_peaceful_all_daemons(self) -> None:
            self._stop_all("stop_peaceful", PEACEFUL)

        def hard_kill_all_daemons(self) -> None:
            self._stop_all("hard_kill")

        def cancel_restart_timers(self) -> None:
            for n in sorted(self.daemons):
                self.daemons[n].cancel_restart_timers()

        def all_startds_gone(self) -> None:
            stop = self.stop_others_when_startds_gone
            self.stop_others_when_startds_gone = NONE
            if stop in (GRACEFUL, PEACEFUL):
                self.log.log("All STARTDs are gone.  Stopping other daemons "
                             + ("Gracefully" if stop == GRACEFUL else "Peacefully"))
                for d in self._running():
                    if stop == PEACEFUL:
                        d.stop_peaceful()
                    else:
                        d.stop()

        def all_daemons_gone(self) -> None:
            action = self.all_gone_action
            if action == MASTER_RESET:
                self.log.log("All daemons are gone.")
                self.set_default_reaper()
            elif action == MASTER_RESTART:
                self.log.log("All daemons are gone.  Restarting.")
                self.finish_restart_master()
            elif action == MASTER_EXIT:
                self.log.log("All daemons are gone.  Exiting.")
                self.master_exit(0)

        def master_exit(self, status: int) -> None:
            self.core.exit_status = status
            self.release_background_parent(0)
            self.core.request_shutdown(fast=False)

        # ------------------------------------------------------------ restart (re-exec)
        def finish_restart_master(self) -> None:
            if self.immediate_restart:
                self.log.log("Restarting master right away.")
                self.final_restart_master()
            else:
                self.log.log(f"Restarting master in {self.new_bin_delay} seconds.")
                self.loop.call_later(self.new_bin_delay, self.final_restart_master)

        def final_restart_master(self) -> None:
            path = self.daemons["MASTER"].process_name or self.exe_path()
            self.cancel_held()
            self.release_lock()
            os.environ.pop("CONDOR_INHERIT", None)
            os.environ.pop(BACKGROUND_FD_ENV, None)
            argv = [path, "-f"] + [a for a in self.argv[1:] if a not in ("-f", "-foreground", "-b", "-background")]
            self.log.log(f'Doing exec( "{path}" )')
            try:
                self.core.server.close()
            except Exception:
                pass
            sys.stdout.flush()
            sys.stderr.flush()
            while True:
                try:
                    os.execv(path, argv)
                except OSError as e:
                    me = self.daemons["MASTER"]
                    me.restarts += 1
                    n = me.next_start()
                    self.log.log(f"Cannot execute condor_master (errno={e.errno}), will try again in {n} seconds")
                    time.sleep(n)

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
            self.log.log(f"Caught {_SIGNAMES.get(signo, signo)}: si_pid={pid} si_uid={uid}")
            self._on_signal(signo)

        def on_signal(self, signum: int) -> bool:
            """The master's own SIGTERM/SIGQUIT handling replaces DaemonCore's."""
            self._on_signal(signum)
            return True

        def _on_signal(self, signum: int) -> None:
            if signum == signal.SIGHUP:
                self.log.log("Got SIGHUP.  Re-reading config files.")
                self.core.request_reconfig()
            elif signum in (signal.SIGTERM, signal.SIGINT):
                self.handle_dc_sigterm()
            elif signum == signal.SIGQUIT:
                self.handle_dc_sigquit()

        def handle_dc_sigterm(self) -> None:
            if self.in_shutdown_fast or self.in_shutdown_graceful or \
                    (self.peaceful_shutdown and self.in_shutdown_peaceful):
                kind = "fast" if self.in_shutdown_fast else ("graceful" if self.in_shutdown_graceful else "peaceful")
                self.log.log(f"Got SIGTERM, but we've already started {kind} shutdown.  Ignoring.", "D_STATUS")
                return
            kind = "peaceful" if self.peaceful_shutdown else "graceful"
            self.log.log(f"Got SIGTERM. Performing {kind} shutdown.", "D_STATUS")
            if self.peaceful_shutdown:
                self.in_shutdown_peaceful = True
                self.log.log("Peaceful shutdown in effect.  No timeout enforced.", "D_FULLDEBUG")
            else:
                self.in_shutdown_graceful = True
                timeout = self.config.get_int("SHUTDOWN_GRACEFUL_TIMEOUT", 1800)
                self.loop.call_later(max(0, timeout), self._graceful_timed_out)
                self.log.log(f"Started timer to call main_shutdown_fast in {timeout} seconds", "D_FULLDEBUG")
            self._spawn(self.do_basic_admin_command(MASTER_OFF))

        def _graceful_timed_out(self) -> None:
            if not self.in_shutdown_fast:
                self.log.log("Graceful shutdown timed out. Performing fast shutdown.")
                self.in_shutdown_fast = True
                self._spawn(self.do_basic_admin_command(MASTER_OFF_FAST))

        def handle_dc_sigquit(self) -> None:
            if self.in_shutdown_fast:
                self.log.log("Got SIGQUIT, but we've already done fast shutdown.  Ignoring.", "D_FULLDEBUG")
                return
            self.in_shutdown_fast = True
            self.log.log("Got SIGQUIT.  Performing fast shutdown.")
            self._spawn(self.do_basic_admin_command(MASTER_OFF_FAST))

        def _spawn(self, coro) -> None:
            self.core.spawn(coro)

        async def _cmd_off_graceful(self, req) -> None:
            self.handle_dc_sigterm()

        async def _cmd_off_fast(self, req) -> None:
            self.handle_dc_sigquit()

        async def _cmd_off_peaceful(self, req) -> None:
            self.peaceful_shutdown = True
            self.handle_dc_sigterm()

        async def _cmd_off_force(self, req) -> None:
            self.peaceful_shutdown = False
            self.handle_dc_sigterm()

        async def _cmd_set_peaceful(self, req) -> None:
            self.peaceful_shutdown = True

        async def _cmd_set_force(self, req) -> None:
            self.peaceful_shutdown = False

        # ------------------------------------------------------------ reconfig
        async def on_reconfig(self) -> None:   # after DaemonCore re-read the config
            self.main_config()

        def main_config(self) -> None:
            self.last_reconfig = int(time.time())
            old = list(self.ordered)
            self.init_params()
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
            self.log.log("Reconfiguring all managed daemons.")
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

        # ------------------------------------------------------------ admin commands
        async def admin_command_handler(self, req) -> None:
            cmd = req.cmd
            cname = _CMD_NAMES.get(cmd, str(cmd))
            if not self.allow_admin_commands:
                self.log.log(f"Got admin command {cname} while not allowed. Ignoring.", "D_STATUS")
                return
            if cmd != DAEMONS_OFF_FLEX and not (DAEMON_OFF <= cmd <= DAEMON_OFF_PEACEFUL):
                self.log.log(f"Handling admin command {cname}.", "D_STATUS")
            if cmd in (RESTART, RESTART_PEACEFUL, DAEMONS_ON, DAEMONS_OFF, DAEMONS_OFF_FAST,
                       DAEMONS_OFF_PEACEFUL, MASTER_OFF, MASTER_OFF_FAST):
                await self.do_basic_admin_command(cmd)
            elif cmd in (DAEMON_ON, DAEMON_OFF, DAEMON_OFF_FAST, DAEMON_OFF_PEACEFUL,
                         CHILD_ON, CHILD_OFF, CHILD_OFF_FAST):
                await self.handle_subsys_command(req)
            elif cmd == SET_SHUTDOWN_PROGRAM:
                await self._read_string(req)
            elif cmd == DAEMONS_OFF_FLEX:
                await self.handle_flexible_daemons_command(req)

        async def _read_string(self, req) -> str | None:
            try:
                msg = await req.read(timeout=5)
                return msg.get_str()
            except (ConnectionClosed, ProtocolError):
                return None

        async def handle_subsys_command(self, req) -> None:
            subsys = await self._read_string(req)
            if subsys is None:
                self.log.log("Can't read subsystem name")
                return
            subsys = subsys.upper()
            if subsys == "PREEN":
                return
            d = self.daemons.get(subsys)
            if d is None:
                self.log.log(f"Error: Can't find daemon of type {subsys}")
                return
            self.log.log(f"Handling {_CMD_NAMES[req.cmd]} command for {subsys}", "D_STATUS")
            if req.cmd in (DAEMON_ON, CHILD_ON):
                d.hold(False)
                d.start()
            elif req.cmd in (DAEMON_OFF, CHILD_OFF):
                d.hold(True)
                d.stop()
            elif req.cmd in (DAEMON_OFF_FAST, CHILD_OFF_FAST):
                d.hold(True)
                d.stop_fast()
            elif req.cmd == DAEMON_OFF_PEACEFUL:
                d.hold(True)
                d.stop_peaceful()

        async def handle_flexible_daemons_command(self, req) -> None:
            """DAEMONS_OFF_FLEX (condor_off -drain style): the plain part, no draining."""
            try:
                msg = await req.read(timeout=5)
                ad = get_ad(msg)
            except (ConnectionClosed, ProtocolError):
                self.log.log("Failed to receive flexible daemons command")
                return
            fast = str(ad.get("HowFast", "")).lower() in ("fast", "2", "quick")
            self.daemons_off(fast=fast)

        async def do_basic_admin_command(self, cmd: int) -> None:
            if self.shutting_down and self.all_gone_action == MASTER_EXIT and cmd in (
                    RESTART, RESTART_PEACEFUL, DAEMONS_ON):
                # Once the master is on its way out, nothing may turn it back: the real
                # master would here reset its all-gone action and never exit.
                self.log.log(f"Ignoring {_CMD_NAMES[cmd]}: the master is shutting down")
                return
            if cmd == RESTART:
                self.immediate_restart = True
                self.restart_master()
            elif cmd == RESTART_PEACEFUL:
                self.immediate_restart = True
                self.restart_master(peaceful=True)
            elif cmd == DAEMONS_ON:
                self.daemons_on()
            elif cmd == DAEMONS_OFF:
                self.daemons_off()
            elif cmd == DAEMONS_OFF_FAST:
                self.daemons_off(fast=True)
            elif cmd == DAEMONS_OFF_PEACEFUL:
                self.daemons_off(peaceful=True)
            elif cmd == MASTER_OFF:
                if self.peaceful_shutdown:
                    timeout = 5
                    if await self.set_peaceful_shutdown_children(timeout) > 0:
                        self.loop.call_later(timeout + 1, lambda: self._spawn(self._off_graceful()))
                        return
                await self._off_graceful()
            elif cmd == MASTER_OFF_FAST:
                await self._off_fast()

        async def _off_graceful(self) -> None:
            if self.shutting_down:
                return
            self.shutting_down = True
            await self.invalidate_ads()
            self.all_gone_action = MASTER_EXIT
            self.cancel_restart_timers()
            self.stop_all_daemons()

        async def _off_fast(self) -> None:
            first = not self.shutting_down
            self.shutting_down = True
            if first:
                await self.invalidate_ads()
            self.all_gone_action = MASTER_EXIT
            self.cancel_restart_timers()
            self.stop_fast_all_daemons()

        async def set_peaceful_shutdown_children(self, timeout: int) -> int:
            """Tell schedds and startds DC_SET_PEACEFUL_SHUTDOWN (fire and forget)."""
            targets = [d for d in self._running() if d.name.startswith(("SCHEDD", "STARTD"))]
            for d in targets:
                addr = self._child_address(d.name)
                if addr:
                    self._spawn(self.client_call(_send_set_peaceful, addr))
            return len(targets)

        def _child_address(self, name: str) -> str | None:
            path = self.config.get(f"{name}_SUPER_ADDRESS_FILE") if os.getuid() == 0 else None
            for p in (path, self.config.get(f"{name}_ADDRESS_FILE")):
                if p:
                    try:
                        with open(p) as f:
                            line = f.readline().strip()
                        if line.startswith("<"):
                            return line
                    except OSError:
                        pass
            return None

        def restart_master(self, peaceful: bool = False) -> None:
            self.shutting_down = True
            self.all_gone_action = MASTER_RESTART
            self.start_daemons = False
            if peaceful:
                self.stop_peaceful_all_daemons()
            else:
                self.stop_all_daemons()

        def daemons_on(self) -> None:
            self.start_daemons = True
            self.got_daemons_off = False
            self.start_all_daemons()

        def daemons_off(self, fast: bool = False, peaceful: bool = False) -> None:
            self.start_daemons = False
            self.got_daemons_off = True
            if not (self.shutting_down and self.all_gone_action == MASTER_EXIT):
                self.all_gone_action = MASTER_RESET     # a shutdown under way still ends in exit
            if peaceful:
                self.stop_peaceful_all_daemons()
            elif fast:
                self.stop_fast_all_daemons()
            else:
                self.stop_all_daemons()

        async def ready_command_handler(self, req) -> None:
            try:
                msg = await req.read(timeout=15)
                ad = get_ad(msg)
            except (ConnectionClosed, ProtocolError):
                self.log.log(f"Failed to receive ready command ({req.cmd}) on TCP: aborting")
                return
            name = str(ad.get("DaemonName", ""))
            pid = ad.get("DaemonPID", 0)
            state = str(ad.get("DaemonState", ""))
            self.log.log(f"Got ready command ({req.cmd}) from {name} pid={pid}", "D_FULLDEBUG")
            for d in self.daemons.values():
                if d.pid and d.pid == pid and d.runs_here:
                    self.log.log(f"Setting ready state '{state}' for {d.name}")
                    d.ready_state = state
                    return
            self.log.log(f"Cant find daemon {name} to set ready state '{state}'")

        async def _child_alive(self, req) -> None:
            """HandleChildAliveCommand: [int pid][int timeout][double lock delay]."""
            try:
                r = await req.read(timeout=5)
                pid, secs = r.get_int(), r.get_int()
                delay = r.get_double() if not r.at_end() else 0.0
            except (ConnectionClosed, ProtocolError):
                self.log.log("Failed to read ChildAlive packet (1)")
                return
            child = next((d for d in self.daemons.values() if d.pid and d.pid == pid), None)
            if child is None:
                self.log.log(f"Received child alive command from unknown pid {pid}")
                return
            child.alive(secs)
            self.log.log(f"received childalive, pid={pid}, secs={secs}, dprintf_lock_delay={delay:f}",
                         "D_DAEMONCORE")

        # ------------------------------------------------------------ DaemonCore exit
        async def on_shutdown(self, fast: bool) -> None:
            # The ad was invalidated when the shutdown began; the children are gone.
            self.cancel_held()
            self.remove_pid_files()
            self.release_lock()

    return Master


def _send_set_peaceful(addr: str) -> None:
    import classad2
    import htcondor2
    ad = classad2.ClassAd({"MyAddress": addr, "MyType": "Scheduler", "Name": "peer"})
    htcondor2.send_command(ad, htcondor2.DaemonCommand.SetPeacefulShutdown)


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
    env = dict(os.environ)
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
        # Our command port, reserved now (bound, not listening; DaemonCore binds it again
        # with SO_REUSEADDR and listens), so that CONDOR_INHERIT is known before we start
        # anybody and is in every child's initial environment, as with a real master.
        self.port_reservation, self.port = _reserve_port()
        self.inherit = f"{os.getpid()} {predicted_sinful(self.port)} 0 0"
        # Before the client library is even imported: the daemons next to us in sbin/
        # are (nearly always) the ones the config names, with the default environment.
        self.held: dict[str, HeldProcess] = _speculative_prestart(argv or sys.argv, self.inherit)
        from ..config import DaemonConfig
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
                if path and os.access(path, os.X_OK) and not _needs_fresh_interpreter(extra):
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


def child_environment(config, name: str) -> dict[str, str]:
    """What the master adds to its own environment for a child (besides CONDOR_INHERIT):
    ``<NAME>_ENVIRONMENT`` and, with MASTER_SET_TZ, ``TZ=:/etc/localtime``."""
    env = _parse_environment(config.get(f"{name}_ENVIRONMENT"))
    if config.get_bool("MASTER_SET_TZ", True):
        _default_tz(env)
    return env


def _default_tz(env: dict) -> dict:
    if "TZ" not in env and "TZ" not in os.environ and os.path.exists("/etc/localtime"):
        env["TZ"] = ":/etc/localtime"
    return env


def _needs_fresh_interpreter(extra: dict) -> bool:
    return any(k.startswith(("PYTHON", "LD_")) for k in extra)


_SPECULATE = tuple(n for n in SIMULATED if n != "MASTER")


def _speculative_prestart(argv: list[str], inherit: str) -> dict[str, "HeldProcess"]:
    held: dict[str, HeldProcess] = {}
    if not argv or not argv[0]:
        return held
    exe = os.path.abspath(argv[0])
    if os.path.basename(exe) != "condor_master" or os.environ.get("CONDOR_SIM_PRESTART_DAEMONS", "").lower() \
            in ("false", "0", "no"):
        return held
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


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    opts = parse_args(argv)
    if not opts.foreground and BACKGROUND_FD_ENV not in os.environ:
        sys.exit(background(argv))
    early = Early(opts, argv)
    Master = _make_master_class()
    Master(argv, opts, early).start()


if __name__ == "__main__":
    main()
