"""One DAEMON_LIST entry and the config that shapes it (``class daemon`` in
masterDaemon.cpp): starting, back-off, stopping by stages, keep-alives, exit handling.

A :class:`ChildDaemon` needs of its master only a log, a config, a loop for timers and a
few callbacks, so a test can drive one with a fake master and a fake clock.
"""
from __future__ import annotations

import errno
import math
import os
import signal
import time

from ... import procs
from ... import texts as T
from . import executables, forking
from .constants import (BACKGROUND_FD_ENV, DAEMON_NO_RESTART, FAST, GRACEFUL, JOB_EXEC_FAILED, KILL,
                        NONE, PEACEFUL, SIGNAMES)

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

    def __init__(self, master, name: str):
        """``master``: the Master, or anything with its log, config, loop, back-off
        defaults and callbacks (a test passes a fake)."""
        self.m = master
        self.name = name
        self.runs_here = name != "MASTER"
        self.process_name: str | None = None
        self.module: str | None = None     # ours, standing in for process_name (see .executables)
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
        self.hung_timer = None            # armed by each Cmd.DC_CHILDALIVE
        self.was_not_responding = False
        self.alive_messages = 0
        self.do_config(init=True)

    # -- config
    def do_config(self, init: bool = False) -> None:
        c = self.m.config
        m = self.m
        self.backoff_constant = max(1, c.get_int(f"MASTER_{self.name}_BACKOFF_CONSTANT", m.backoff_constant))
        self.backoff_ceiling = max(1, c.get_int(f"MASTER_{self.name}_BACKOFF_CEILING", m.backoff_ceiling))
        factor = c.get_float(f"MASTER_{self.name}_BACKOFF_FACTOR", m.backoff_factor)
        self.backoff_factor = factor if factor > 0 else m.backoff_factor
        self.recover_time = max(1, c.get_int(f"MASTER_{self.name}_RECOVER_FACTOR", m.recover_time))
        self.env = child_environment(c, self.name)
        self.wait_file = c.get("COLLECTOR_ADDRESS_FILE") if self.name == "COLLECTOR" else \
            c.get("SHARED_PORT_DAEMON_AD_FILE") if self.name == "SHARED_PORT" else None

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
            self.m.log.log(T.CANCEL_RESTART.format(name=self.name))
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
        """daemon::RealStart: check the executable, clear the wait file, create the
        process (or let a pre-started one go), log it and arm the recovery timer."""
        m = self.m
        if self.on_hold:
            return False
        if self.pid:
            return True
        if m.shutting_down:
            m.log.log(T.SKIP_STARTUP.format(name=self.name))
            return False
        path = self.process_name or ""
        own = getattr(m, "own_module", None)
        self.module = own(path) if own is not None else None
        if self.module is None and not os.access(path, os.X_OK):
            e = _errno_of_access(path)
            m.log.log(T.CANNOT_EXECUTE.format(path=path, errno=e, error=os.strerror(e)))
            self.pid = 0
            self.restart()
            return False
        self._remove_wait_file()
        args = [os.path.basename(path)] + daemon_args(m.config, self.name)
        try:
            self.pid = self._create_process(path, args)
        except OSError:
            m.log.log(T.CREATE_PROCESS_FAILED.format(path=path), "D_ERROR")
            self.pid = 0
            self.restart()
            return False
        self._started(path, args)
        return True

    def _remove_wait_file(self) -> None:
        if self.wait_file:
            try:
                os.unlink(self.wait_file)
            except FileNotFoundError:
                pass
            except OSError:
                self.m.log.log(f"Cannot remove wait-for-startup file {self.wait_file}")

    def _create_process(self, path: str, args: list[str]) -> int:
        """The pid of the new child: a pre-started process let go when it was started the
        way we would start it now, else a new one.  CONDOR_INHERIT goes in its environment;
        the family session (CONDOR_PRIVATE_INHERIT) never in a pre-started one's initial
        environment, only through its pipe.  One of our daemons is a fork of the master
        (:mod:`.forking`) where the master says it can be."""
        m = self.m
        extra = dict(self.env)
        extra["CONDOR_INHERIT"] = f"{os.getpid()} {m.core.sinful} 0 0"
        private = {"CONDOR_PRIVATE_INHERIT": m.private_inherit}
        cookie = getattr(m, "shared_port_cookie", None)
        if cookie:
            private["CONDOR_PRIVATE_SHARED_PORT_COOKIE"] = cookie
        if self.name == "SHARED_PORT" and getattr(m, "shared_port_port", None):
            private["CONDOR_PRIVATE_SHARED_PORT_PORT"] = str(m.shared_port_port)
        held = m.held.pop(self.name, None)
        if held is not None:
            if (held.path, held.args, held.extra) == (path, args, extra) and held.go(private):
                return held.pid
            held.cancel()        # started with something else than we would start now
        fork_module = getattr(m, "fork_module", None)
        module = fork_module(path, self.env, self.module) if fork_module is not None else None
        if module:
            return forking.fork_daemon(module, path, args, {**extra, **private}, (BACKGROUND_FD_ENV,))
        env = dict(os.environ)
        env.pop(BACKGROUND_FD_ENV, None)
        env.update(extra)
        env.update(private)
        if self.module:
            exe, argv = executables.exec_command(self.module, path, args)
            return procs.spawn(exe, argv, env)
        return procs.spawn(path, args, env)

    def _started(self, path: str, args: list[str]) -> None:
        m = self.m
        self.waiting_for_startup = True
        self._logged_waiting = False
        if self.restarts > 0:
            self._cancel(self.recover_timer)
            self.recover_timer = self._later(self.recover_time, self.recover)
        shown = path
        if len(args) > 1 and m.fulldebug():
            shown = path + " " + " ".join(args[1:])
        m.log.log(T.STARTED_PROCESS.format(shown=shown, pid=self.pid))
        self.timestamp = _mtime(path)
        self.start_time = int(time.time())
        self.new_exec = False
        if self.needs_update:
            self.needs_update = False
            m.update_collector()

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
                    self.m.log.log(T.WAITING_FOR_FILE.format(path=self.wait_file))
                    self._logged_waiting = True
            elif not first_time:
                self.m.log.log(T.FOUND_FILE.format(path=self.wait_file))
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
        self.m.log.log(T.RESTARTING_IN.format(path=self.process_name, seconds=n))
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
            self.m.log.log(T.CANCEL_RESTART.format(name=self.name))
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
            self.m.log.log(T.GRACEFUL_TIMEOUT.format(name=self.name))
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
            self.m.log.log(T.FAST_TIMEOUT.format(name=self.name))
            self._cancel(self.hard_kill_timer)
            self.hard_kill_timer = None
        self.kill_family()
        self.m.log.log(T.SIGKILL_TREE.format(name=self.name, pid=self.pid))

    def kill(self, sig: int) -> None:
        if not self.pid or self.pid == -1:
            return
        name = SIGNAMES.get(sig, f"signal {sig}")
        try:
            os.kill(self.pid, sig)
        except OSError:
            self.m.log.log(T.SIGNAL_FAILED.format(signal=name, pid=self.pid))
        else:
            self.m.log.log(T.SENT_SIGNAL.format(signal=name, name=self.name, pid=self.pid))

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
        self.m.log.log(T.CHILD_HUNG.format(pid=self.pid))
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def exited(self, status: int) -> bool:
        had_failure = True
        expected = False
        if self.was_not_responding:
            how = T.GONE_UNRESPONSIVE
            self.was_not_responding = False
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            how = T.GONE_SIGNAL.format(sig=sig, signame=_strsignal(sig))
        else:
            code = os.WEXITSTATUS(status)
            how = T.GONE_STATUS.format(status=code)
            if code == DAEMON_NO_RESTART:
                had_failure = False
                how += T.NO_RESTART
                self.on_hold = True
            elif code == 0 and (self.on_hold or self.m.shutting_down or self.stop_state != NONE):
                had_failure = False
                expected = True
        self.m.log.log(T.CHILD_GONE.format(name=self.name, pid=self.pid, how=how),
                       "D_ERROR" if had_failure else "D_ALWAYS")
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
        self.m.log.log(T.OBITUARY.format(path=self.process_name))


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
