"""DaemonCore for the simulated daemons: the thin asyncio layer around the sans-IO codec.

One :class:`DaemonCore` per daemon process.  It listens on 127.0.0.1, reads the first
integer of each connection, runs the security handshake (``security/handshake.py``) and
dispatches to a handler registered with its command number and permission level.  It
also owns what every real daemon shares: the config (``config.DaemonConfig``), the
dprintf log (``dlog.DaemonLog``), the address files, timers and the signal handlers
(SIGHUP reconfigures, SIGTERM is a graceful and SIGQUIT a fast shutdown).

Handlers are ``async def handler(req: Request)``.  A handler reads the command's payload
with ``await req.read()`` and answers with ``await req.send(req.message().put_...)``.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from . import CONDOR_PLATFORM, CONDOR_VERSION
from .cedar import ProtocolError
from .cedar import commands as C
from .cedar.framing import DEFAULT_MAX_MESSAGE, Framer
from .cedar.stream import MessageReader, MessageWriter
from .security.perms import Perm

READ_TIMEOUT = 20.0          # DaemonCore's command socket timeout
MAX_CONNECTIONS = 2000

# Until a connection is trusted (its command authorized, or its resumed session's key
# proven), the peer is unknown: its messages are small, its whole handshake has a
# deadline, and the memory all such peers hold together is bounded.  The largest message a
# real client sends before authenticating is its DC_AUTHENTICATE ad, about 650 bytes in
# the captures (a TOKEN round adds a JWT of a few KiB).
PREAUTH_MAX_MESSAGE = 64 << 10
PREAUTH_DEADLINE = 10.0
PREAUTH_BUDGET = 32 << 20


class ConnectionClosed(Exception):
    """The peer closed the connection (or timed out) in the middle of an exchange."""


class ResourceLimit(ConnectionClosed):
    """The connection was dropped to keep a daemon-wide resource bounded."""


class PreauthBudget:
    """Bytes buffered by all untrusted connections of one daemon, against a limit."""

    def __init__(self, limit: int = PREAUTH_BUDGET):
        self.limit = limit
        self.held = 0

    def adjust(self, delta: int) -> bool:
        """Account ``delta`` more bytes; False (and nothing accounted) past the limit."""
        if delta > 0 and self.held + delta > self.limit:
            return False
        self.held += delta
        return True


class Channel:
    """One accepted TCP connection, message by message (wraps a :class:`Framer`).

    A channel starts untrusted (see PREAUTH_*); :meth:`trust` lifts the limits once the
    peer has been authorized for a command.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float = READ_TIMEOUT, budget: PreauthBudget | None = None,
                 preauth_deadline: float = PREAUTH_DEADLINE):
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.framer = Framer(PREAUTH_MAX_MESSAGE)
        self.trusted = False
        self.opened = time.monotonic()
        self._deadline = self.opened + preauth_deadline
        self._budget = budget
        self._held = 0
        peer = writer.get_extra_info("peername") or ("?", 0)
        local = writer.get_extra_info("sockname") or ("?", 0)
        self.peer_ip, self.peer_port = peer[0], peer[1]
        self.sock_ip, self.sock_port = local[0], local[1]

    @property
    def peer_description(self) -> str:
        return f"<{self.peer_ip}:{self.peer_port}>"

    @property
    def encrypted(self) -> bool:
        return self.framer.encrypted

    def enable_crypto(self, key: bytes) -> None:
        self.framer.enable_crypto(key)

    def trust(self) -> None:
        """The peer is authorized: ordinary message sizes and timeouts from now on."""
        if not self.trusted:
            self.trusted = True
            self.framer.max_message = DEFAULT_MAX_MESSAGE
            self._account(0)

    def _account(self, buffered: int) -> None:
        """Keep this channel's share of the untrusted-memory budget at ``buffered``."""
        if self._budget is None:
            return
        want = 0 if self.trusted else buffered
        if not self._budget.adjust(want - self._held):
            raise ResourceLimit(f"unauthenticated connections hold {self._budget.held} bytes, "
                                   f"the most allowed; dropping this one")
        self._held = want

    async def read_message(self, timeout: float | None = None) -> MessageReader:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            msg = self.framer.next_message()
            if msg is not None:
                self._account(self.framer.buffered)
                return MessageReader(msg, self.framer.encrypted)
            end = deadline if self.trusted else min(deadline, self._deadline)
            left = end - time.monotonic()
            if left <= 0:
                raise ConnectionClosed("timed out waiting for a message" if self.trusted else
                                       "security handshake not finished in time")
            try:
                data = await asyncio.wait_for(self.reader.read(65536), left)
            except asyncio.TimeoutError:
                raise ConnectionClosed("timed out waiting for a message" if self.trusted else
                                       "security handshake not finished in time") from None
            except (ConnectionError, OSError) as e:
                raise ConnectionClosed(str(e)) from None
            if not data:
                raise ConnectionClosed("peer closed the connection")
            self.framer.feed(data)
            self._account(self.framer.buffered)

    def new_message(self) -> MessageWriter:
        return MessageWriter(self.framer.encrypted)

    async def send(self, msg: MessageWriter | bytes) -> None:
        payload = msg.getvalue() if isinstance(msg, MessageWriter) else msg
        data = self.framer.encode_message(payload)
        if not data:
            return
        try:
            self.writer.write(data)
            await asyncio.wait_for(self.writer.drain(), self.timeout)
        except (ConnectionError, OSError, asyncio.TimeoutError) as e:
            raise ConnectionClosed(str(e)) from None

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:   # already gone
            pass
        self.framer.release()
        if self._held and self._budget is not None:
            self._budget.adjust(-self._held)
            self._held = 0


Handler = Callable[["Request"], Awaitable[None]]


@dataclass
class Command:
    num: int
    name: str
    perm: Perm
    handler: Handler
    force_auth: bool = False
    alt_perms: tuple = ()
    has_payload: bool = True
    no_effect: bool = False        # the handler does nothing (the DC_NOP family)

    @property
    def resumable(self) -> bool:
        """May a resumed session run it?  Only if the client's payload proves the session
        key before the handler runs, or if there is nothing to run."""
        return self.has_payload or self.no_effect


@dataclass
class Request:
    """One authorized command, as a handler sees it."""
    core: "DaemonCore"
    chan: Channel
    command: Command
    cmd: int
    user: str                      # authenticated identity, or unauthenticated@unmapped
    authenticated: bool
    policy: dict = field(default_factory=dict)   # the session's policy (AuthMethods, token claims ...)
    pending: MessageReader | None = None        # raw commands: the payload rides with the command int

    @property
    def peer_ip(self) -> str:
        return self.chan.peer_ip

    async def read(self, timeout: float | None = None) -> MessageReader:
        if self.pending is not None:
            r, self.pending = self.pending, None
            return r
        return await self.chan.read_message(timeout)

    def message(self) -> MessageWriter:
        return self.chan.new_message()

    async def send(self, msg: MessageWriter) -> None:
        await self.chan.send(msg)


class DaemonCore:
    """The command server and shared machinery of one daemon process."""

    def __init__(self, subsystem: str, config, log, exe_name: str | None = None):
        self.subsystem = subsystem.upper()
        self.config = config
        self.log = log
        self.exe_name = exe_name or f"condor_{subsystem.lower()}"
        self.commands: dict[int, Command] = {}
        self.pid = os.getpid()
        self.hostname = socket.gethostname()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.sinful = ""
        self.start_time = int(time.time())
        self._connections: dict[asyncio.Task, Channel] = {}     # in the order they opened
        self.preauth = PreauthBudget()
        self._quiet: dict[str, list] = {}                        # rate-limited log lines
        self._timers: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self.stopping: asyncio.Event | None = None
        self.exit_status = 0
        self.address_files: list[str] = []
        from .security.handshake import SecurityManager   # late: it imports this module
        self.security = SecurityManager(self)
        self._register_dc_commands()

    # ------------------------------------------------------------------ commands
    def register(self, num: int, perm: Perm, handler: Handler, *, force_auth: bool = False,
                 alt_perms: tuple = (), has_payload: bool = True, no_effect: bool = False,
                 name: str | None = None) -> None:
        self.commands[num] = Command(num, name or C.command_name(num), perm, handler,
                                     force_auth, tuple(alt_perms), has_payload, no_effect)

    def valid_commands(self, perm: Perm, mapped: bool, keyed: bool = True) -> list[int]:
        """GetCommandsInAuthLevel: commands a session at this level may be reused for;
        only those a resumed session may run (see ``Command.resumable``)."""
        from .security.perms import implies
        levels = implies(perm)
        return [c.num for c in self.commands.values()
                if c.perm in levels and c.perm != Perm.ALLOW and (mapped or not c.force_auth)
                and (c.resumable if keyed else c.no_effect)]

    def _register_dc_commands(self) -> None:
        async def nop(req: Request) -> None:
            return None

        self.register(C.DC_NOP, Perm.ALLOW, nop, has_payload=False, no_effect=True)
        for num, perm in ((C.DC_NOP_READ, Perm.READ), (C.DC_NOP_WRITE, Perm.WRITE),
                          (C.DC_NOP_NEGOTIATOR, Perm.NEGOTIATOR),
                          (C.DC_NOP_ADMINISTRATOR, Perm.ADMINISTRATOR),
                          (C.DC_NOP_OWNER, Perm.ADMINISTRATOR), (C.DC_NOP_CONFIG, Perm.CONFIG),
                          (C.DC_NOP_DAEMON, Perm.DAEMON),
                          (C.DC_NOP_ADVERTISE_STARTD, Perm.ADVERTISE_STARTD),
                          (C.DC_NOP_ADVERTISE_SCHEDD, Perm.ADVERTISE_SCHEDD),
                          (C.DC_NOP_ADVERTISE_MASTER, Perm.ADVERTISE_MASTER)):
            self.register(num, perm, nop, has_payload=False, no_effect=True)

        async def reconfig(req: Request) -> None:
            self.request_reconfig()

        # The real handlers signal the daemon itself, so the shutdown logs as for a signal.
        async def off_graceful(req: Request) -> None:
            self._on_signal(signal.SIGTERM)

        async def off_fast(req: Request) -> None:
            self._on_signal(signal.SIGQUIT)

        for num in (C.DC_RECONFIG, C.DC_RECONFIG_FULL):
            self.register(num, Perm.ADMINISTRATOR, reconfig, has_payload=False)
        for num in (C.DC_OFF_GRACEFUL, C.DC_OFF_PEACEFUL, C.DC_OFF_FORCE):
            self.register(num, Perm.ADMINISTRATOR, off_graceful, has_payload=False)
        self.register(C.DC_OFF_FAST, Perm.ADMINISTRATOR, off_fast, has_payload=False)
        for num in (C.DC_SET_PEACEFUL_SHUTDOWN, C.DC_SET_FORCE_SHUTDOWN):
            self.register(num, Perm.ADMINISTRATOR, nop, has_payload=False)
        try:
            from . import remote_config
        except ImportError:      # config commands arrive with the config-fidelity work
            return
        remote_config.register(self)

    # ------------------------------------------------------------------ serving
    async def listen(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", port,
                                                 limit=1 << 16, backlog=256)
        self.port = self.server.sockets[0].getsockname()[1]
        alias = self.hostname
        self.sinful = f"<127.0.0.1:{self.port}?addrs=127.0.0.1-{self.port}&alias={alias}&noUDP>"
        self.log.log("WARNING: Condor is running on a loopback address")
        self.log.log("         of this machine, and may not visible to other hosts!")
        self.log.log(f"Daemoncore: Listening at <127.0.0.1:{self.port}> on TCP (ReliSock).")
        self.log.log(f"DaemonCore: command socket at {self.sinful}")
        self.log.log(f"DaemonCore: private command socket at {self.sinful}")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        chan = Channel(reader, writer, budget=self.preauth)
        if len(self._connections) >= MAX_CONNECTIONS and not self._evict_oldest_untrusted():
            self.log_rate_limited("too-many", f"Too many connections; closing the one from "
                                              f"{chan.peer_description}")
            chan.close()
            return
        self._connections[task] = chan
        try:
            await self.security.serve(chan)
        except ResourceLimit as e:
            self.log_rate_limited("preauth-memory", f"DaemonCore: closing connection from "
                                                    f"{chan.peer_description}: {e}")
        except (ConnectionClosed, ProtocolError) as e:
            self.log.log(f"DaemonCore: closing connection from {chan.peer_description}: {e}",
                         "D_NETWORK" if isinstance(e, ConnectionClosed) else "D_ALWAYS")
        except asyncio.CancelledError:
            raise
        except Exception as e:   # a client must never take a daemon down
            self.log.log(f"ERROR: unexpected {type(e).__name__} handling connection from "
                         f"{chan.peer_description}: {e}")
        finally:
            chan.close()
            self._connections.pop(task, None)

    def _evict_oldest_untrusted(self) -> bool:
        """Make room for a new connection by closing the oldest one that has not been
        authorized yet; False when every connection is trusted."""
        for task, chan in self._connections.items():
            if not chan.trusted:
                del self._connections[task]
                chan.close()
                task.cancel()
                self.log_rate_limited("evict", f"Too many connections; closed the oldest "
                                               f"unauthenticated one, from {chan.peer_description}")
                return True
        return False

    def log_rate_limited(self, key: str, msg: str, every: float = 10.0) -> None:
        """Log ``msg`` at most once per ``every`` seconds per ``key``, with a count of the
        lines held back since the last one."""
        now = time.monotonic()
        last = self._quiet.setdefault(key, [-every, 0])
        if now - last[0] < every:
            last[1] += 1
            return
        if last[1]:
            msg += f" ({last[1]} more like this in the last {now - last[0]:.0f} s)"
        self.log.log(msg)
        self._quiet[key] = [now, 0]

    async def run_command(self, req: Request) -> None:
        req.chan.trust()
        self.log.log(f"Calling HandleReq <{req.command.name}> (0) for command {req.cmd} "
                     f"({req.command.name}) from {req.user} {req.chan.peer_ip}", "D_COMMAND")
        await req.command.handler(req)

    # ------------------------------------------------------------------ timers
    def every(self, interval: Callable[[], float] | float, func: Callable[[], Awaitable[None]],
              first: float = 0.0) -> asyncio.Task:
        """Run ``func`` after ``first`` seconds, then every ``interval`` seconds (re-read each time)."""
        async def loop():
            delay = first
            while True:
                await asyncio.sleep(delay)
                try:
                    await func()
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self.log.log(f"ERROR: timer {getattr(func, '__name__', func)} failed: {e}")
                delay = interval() if callable(interval) else interval
        task = asyncio.get_running_loop().create_task(loop())
        self._timers.append(task)
        return task

    # ------------------------------------------------------------------ address files
    def write_address_file(self, path: str | None) -> None:
        if not path:
            return
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(f"{self.sinful}\n{CONDOR_VERSION}\n{CONDOR_PLATFORM}\n")
        os.replace(tmp, path)
        self.address_files.append(path)

    def remove_address_files(self) -> None:
        for path in self.address_files:
            try:
                os.unlink(path)
            except OSError:
                pass
        self.address_files.clear()

    # ------------------------------------------------------------------ lifecycle hooks
    # A daemon subclass overrides these.
    def request_reconfig(self) -> None:
        self.spawn(self._reconfig())

    def spawn(self, coro) -> asyncio.Task:
        """Run a background coroutine; its failure is logged, never lost."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)

        def done(t: asyncio.Task) -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                e = t.exception()
                self.log.log(f"ERROR: {type(e).__name__} in background task: {e}")
        task.add_done_callback(done)
        return task

    async def _reconfig(self) -> None:
        err = self.config.reload()
        if err:
            self.log.log(f"ERROR: reconfig failed, keeping the previous configuration: {err}")
            return
        self.log.reconfigure()
        self.security.reconfigure()
        await self.on_reconfig()

    async def on_reconfig(self) -> None:
        """Daemon-specific work after the config was re-read."""

    def request_shutdown(self, fast: bool) -> None:
        if self.stopping is not None and not self.stopping.is_set():
            self.shutdown_fast = fast
            self.stopping.set()

    async def on_shutdown(self, fast: bool) -> None:
        """Daemon-specific shutdown (e.g. invalidate our ad at the collector)."""

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            self.log.log("Got SIGHUP.  Re-reading config files.")
            self.request_reconfig()
        elif signum == signal.SIGTERM:
            self.log.log("Got SIGTERM. Performing graceful shutdown.")
            self.request_shutdown(fast=False)
        elif signum == signal.SIGQUIT:
            self.log.log("Got SIGQUIT.  Performing fast shutdown.")
            self.request_shutdown(fast=True)

    async def main(self, setup: Callable[[], Awaitable[None]] | None = None, port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self.shutdown_fast = False
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, signal.SIGTERM if sig == signal.SIGINT else sig)
        await self.listen(port)
        if setup is not None:
            await setup()
        await self.stopping.wait()
        try:
            await asyncio.wait_for(self.on_shutdown(self.shutdown_fast), 10)
        except Exception as e:
            self.log.log(f"ERROR: during shutdown: {e}")
        self.server.close()
        for t in self._timers + list(self._connections):
            t.cancel()
        self.remove_address_files()
        self.log.exiting(self.exit_status)
        return self.exit_status


def raise_fd_limit(want: int = MAX_CONNECTIONS + 256) -> None:
    """Let the process hold MAX_CONNECTIONS sockets (the real daemons raise their soft
    descriptor limit too)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    except (ValueError, OSError):
        pass


def run(core: DaemonCore, setup=None, port: int = 0) -> None:
    """Entry point of a daemon process."""
    raise_fd_limit()
    status = asyncio.run(core.main(setup, port))
    sys.stdout.flush()
    os._exit(status)
