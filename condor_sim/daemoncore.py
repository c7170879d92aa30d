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
from typing import Awaitable, Callable

from . import CONDOR_PLATFORM, CONDOR_VERSION
from . import texts as T
from .cedar import ProtocolError
from .command_table import CommandTable, Handler
from .connection import (MAX_CONNECTIONS, Channel, ConnectionClosed, PreauthBudget, Request,
                         ResourceLimit)
from .dc_commands import DaemonCoreCommands
from .remote_config import RemoteConfig
from .security.handshake import SecurityManager
from .security.perms import Perm

class CoreHooks:
    """What a daemon adds to DaemonCore's lifecycle; the defaults do nothing.

    A daemon passes itself (or any object with these methods) as ``DaemonCore(hooks=...)``.
    """

    async def on_reconfig(self) -> None:
        """After the config was re-read."""

    async def on_shutdown(self, fast: bool) -> None:
        """Before the daemon exits (e.g. invalidate its ad at the collector)."""

    def on_signal(self, signum: int) -> bool:
        """Handle SIGHUP/SIGTERM/SIGQUIT itself; return False to let DaemonCore do it."""
        return False


class DaemonCore:
    """The command server and shared machinery of one daemon process."""

    def __init__(self, subsystem: str, config, log, exe_name: str | None = None,
                 hooks: CoreHooks | None = None):
        self.subsystem = subsystem.upper()
        self.config = config
        self.log = log
        self.exe_name = exe_name or f"condor_{subsystem.lower()}"
        self.hooks = hooks or CoreHooks()
        self.commands = CommandTable()
        self.pid = os.getpid()
        self.hostname = socket.gethostname()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.sinful = ""
        self.shared_port_id: str | None = None     # our endpoint's id behind the shared port
        self.endpoint = None                       # its named socket (shared_port.endpoint.Endpoint)
        # Takes each accepted socket before any byte is read (the shared port daemon):
        # when set, listen() accepts raw sockets instead of asyncio streams.
        self.raw_acceptor: Callable[[socket.socket], Awaitable[None]] | None = None
        self.start_time = int(time.time())
        self._connections: dict[asyncio.Task, Channel] = {}     # in the order they opened
        self.preauth = PreauthBudget()
        self._quiet: dict[str, list] = {}                        # rate-limited log lines
        self._timers: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self.stopping: asyncio.Event | None = None
        self.exit_status = 0
        self.address_files: list[str] = []
        self.security = SecurityManager(config, log, self.subsystem, self.commands,
                                        dispatch=self.run_command,
                                        sid_prefix=f"{self.hostname}:{self.pid}",
                                        command_ports=lambda: (self.port,))
        self.commands.add_handlers(DaemonCoreCommands(self))
        self.remote_config = RemoteConfig(self)
        self.commands.add_handlers(self.remote_config)

    # ------------------------------------------------------------------ commands
    def register(self, num: int, perm: Perm, handler: Handler, **flags) -> None:
        """Register one handler (see :meth:`CommandTable.add`)."""
        self.commands.add(num, perm, handler, **flags)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # ------------------------------------------------------------------ serving
    async def listen(self, port: int = 0) -> None:
        if self.raw_acceptor is not None:
            self.server = _RawServer(self.raw_acceptor, port)
            self.port = self.server.port
        else:
            self.server = await asyncio.start_server(self._accept, "127.0.0.1", port,
                                                     limit=1 << 16, backlog=256)
            self.port = self.server.sockets[0].getsockname()[1]
        alias = self.hostname
        self.sinful = f"<127.0.0.1:{self.port}?addrs=127.0.0.1-{self.port}&alias={alias}&noUDP>"
        for line in T.LOOPBACK_WARNING:
            self.log.log(line)
        self.log.log(T.LISTENING.format(port=self.port))
        if self.subsystem not in ("MASTER", "SHARED_PORT") and self.uses_shared_port():
            self.start_shared_endpoint()
        self.log.log(T.COMMAND_SOCKET.format(sinful=self.sinful))
        self.log.log(T.PRIVATE_COMMAND_SOCKET.format(sinful=self.sinful))

    # ------------------------------------------------------------------ shared port
    def uses_shared_port(self) -> bool:
        """USE_SHARED_PORT (read under our subsystem, so ``SCHEDD.USE_SHARED_PORT`` counts)."""
        return self.config.get_bool("USE_SHARED_PORT", False)

    def shared_port_id_wanted(self) -> str:
        """The collector takes SHARED_PORT_DEFAULT_ID (``collector``), where connections
        without a preamble go; every other daemon a fresh ``<name>_<pid>_<tag>``."""
        from .shared_port import wire
        if self.subsystem == "COLLECTOR" and self.config.get_bool("COLLECTOR_USES_SHARED_PORT", True):
            return self.config.get("SHARED_PORT_DEFAULT_ID") or wire.DEFAULT_ID
        local = getattr(self.config, "local_name", None)
        return wire.endpoint_name(local or self.subsystem)

    def start_shared_endpoint(self) -> bool:
        """Listen on our named socket and advertise the shared port daemon's address with
        ``sock=``; False (and our own TCP address kept) when the shared port daemon has
        not published its address."""
        from .shared_port import endpoint as sp, wire
        ad_file = self.config.get("SHARED_PORT_DAEMON_AD_FILE")
        try:
            with open(ad_file or "") as f:
                shared = wire.address_from_ad_text(f.read())
        except OSError:
            shared = None
        cookie = sp.cookie_from_environment(self.config.get("DAEMON_SOCKET_DIR"), self.config.get("LOCK"))
        if not shared or not cookie:
            self.log.log(f"SharedPortEndpoint: no shared port daemon address in {ad_file}; "
                         f"staying on our own port")
            return False
        sp_id = self.shared_port_id_wanted()
        endpoint = sp.Endpoint(wire.endpoint_address(cookie, sp_id), self.adopt_socket,
                               on_error=self.log.log)
        try:
            endpoint.start()
        except OSError as e:
            self.log.log(f"ERROR: SharedPortEndpoint: failed to listen on named socket {sp_id}: {e}")
            return False
        if self.endpoint is not None:
            self.endpoint.close()
        self.endpoint = endpoint
        self.shared_port_id = sp_id
        self.sinful = wire.sinful_for(shared, sp_id)
        self.log.log(f"SharedPortEndpoint: waiting for connections to named socket {sp_id}", "D_FULLDEBUG")
        return True

    async def adopt_socket(self, sock: socket.socket) -> None:
        """Serve a connection accepted elsewhere (passed by the shared port daemon)."""
        try:
            reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
        except OSError:
            sock.close()
            return
        await self._accept(reader, writer)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        chan = Channel(reader, writer, budget=self.preauth)
        if len(self._connections) >= MAX_CONNECTIONS and not self._evict_oldest_untrusted():
            self.log_rate_limited("too-many", T.TOO_MANY_REFUSED.format(peer=chan.peer_description))
            chan.close()
            return
        self._connections[task] = chan
        try:
            await self.serve_channel(chan)
        finally:
            self._connections.pop(task, None)

    async def serve_channel(self, chan: Channel) -> None:
        """One connection, from its first message to its close: whatever the peer sends,
        the daemon logs and serves on."""
        try:
            await self.security.serve(chan)
        except ResourceLimit as e:
            self.log_rate_limited("preauth-memory", T.CLOSING.format(peer=chan.peer_description, reason=e))
        except (ConnectionClosed, ProtocolError) as e:
            self.log.log(T.CLOSING.format(peer=chan.peer_description, reason=e),
                         "D_NETWORK" if isinstance(e, ConnectionClosed) else "D_ALWAYS")
        except asyncio.CancelledError:
            raise
        except Exception as e:   # a client must never take a daemon down
            self.log.log(T.UNEXPECTED.format(kind=type(e).__name__, peer=chan.peer_description, error=e))
        finally:
            chan.close()

    def _evict_oldest_untrusted(self) -> bool:
        """Make room for a new connection by closing the oldest one that has not been
        authorized yet; False when every connection is trusted."""
        for task, chan in self._connections.items():
            if not chan.trusted:
                del self._connections[task]
                chan.close()
                task.cancel()
                self.log_rate_limited("evict", T.TOO_MANY_EVICTED.format(peer=chan.peer_description))
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
        self.log.log(T.CALLING_HANDLER.format(name=req.command.name, num=req.cmd, user=req.user,
                                              ip=req.chan.peer_ip), "D_COMMAND")
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
        await self.hooks.on_reconfig()

    def request_shutdown(self, fast: bool) -> None:
        if self.stopping is not None and not self.stopping.is_set():
            self.shutdown_fast = fast
            self.stopping.set()

    def signal(self, signum: int) -> None:
        """A signal, or a command that the real daemon turns into one (Signal_Myself)."""
        if self.hooks.on_signal(signum):
            return
        if signum == signal.SIGHUP:
            self.log.log(T.GOT_SIGHUP)
            self.request_reconfig()
        elif signum == signal.SIGTERM:
            self.log.log(T.GOT_SIGTERM)
            self.request_shutdown(fast=False)
        elif signum == signal.SIGQUIT:
            self.log.log(T.GOT_SIGQUIT)
            self.request_shutdown(fast=True)

    async def main(self, setup: Callable[[], Awaitable[None]] | None = None, port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self.shutdown_fast = False
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT, signal.SIGINT):
            loop.add_signal_handler(sig, self.signal, signal.SIGTERM if sig == signal.SIGINT else sig)
        await self.listen(port)
        if setup is not None:
            await setup()
        await self.stopping.wait()
        try:
            await asyncio.wait_for(self.hooks.on_shutdown(self.shutdown_fast), 10)
        except Exception as e:
            self.log.log(f"ERROR: during shutdown: {e}")
        self.server.close()
        if self.endpoint is not None:
            self.endpoint.close()
        for t in self._timers + list(self._connections):
            t.cancel()
        self.remove_address_files()
        self.log.exiting(self.exit_status)
        return self.exit_status


class _RawServer:
    """A listening TCP socket whose connections go, unread, to ``acceptor``.  At most
    ``limit`` of them are in its hands at once: past that the oldest one is dropped, as
    DaemonCore drops its oldest untrusted connection (nothing has authenticated yet)."""

    def __init__(self, acceptor: Callable[[socket.socket], Awaitable[None]], port: int,
                 limit: int = MAX_CONNECTIONS):
        self.acceptor = acceptor
        self.limit = limit
        self._held: dict[asyncio.Task, socket.socket] = {}     # oldest first
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(256)
        s.setblocking(False)
        self.sock = s
        self.port = s.getsockname()[1]
        self._loop = asyncio.get_running_loop().create_task(self._accept_loop())

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self.sock)
            except OSError:
                await asyncio.sleep(0.1)       # out of descriptors: let some close
                continue
            conn.setblocking(False)
            if len(self._held) >= self.limit:
                oldest = next(iter(self._held))
                self._held.pop(oldest).close()
                oldest.cancel()
            task = loop.create_task(self.acceptor(conn))
            self._held[task] = conn
            task.add_done_callback(lambda t: self._held.pop(t, None))

    def close(self) -> None:
        self._loop.cancel()
        for t in list(self._held):
            t.cancel()
        self.sock.close()


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
