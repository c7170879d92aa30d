"""The condor_shared_port daemon: one TCP port for every daemon of the host.

It accepts each connection as a raw socket and reads nothing but what it must: a first
message that is a SHARED_PORT_CONNECT request names the endpoint to pass the connection
to (``self``: the shared port daemon's own DaemonCore serves it); a connection that
starts with anything else goes, unread, to SHARED_PORT_DEFAULT_ID (the collector). It
publishes its address in SHARED_PORT_DAEMON_AD_FILE, where the other daemons (and the
master, waiting to start them) find it.  It sends no ad to the collector.
"""
from __future__ import annotations

import asyncio
import os
import socket

from ...connection import PREAUTH_DEADLINE
from ..base import Daemon
from ...shared_port import endpoint as sp
from ...shared_port import wire


PREVIOUS_PORT_ENV = "CONDOR_PRIVATE_SHARED_PORT_PORT"


class SharedPort(Daemon):
    SUBSYS = "SHARED_PORT"
    MY_TYPE = "SharedPort"
    ADDRESS_KNOBS = ("SHARED_PORT_ADDRESS_FILE",)

    def __init__(self, config, log, **kw):
        super().__init__(config, log, **kw)
        self.core.raw_acceptor = self.take
        self.stats = {"RequestsPendingCurrent": 0, "RequestsPendingPeak": 0, "RequestsSucceeded": 0,
                      "RequestsFailed": 0, "RequestsBlocked": 0, "ForkedChildrenCurrent": 0,
                      "ForkedChildrenPeak": 0}
        self.cookie: str | None = None
        self.ad_file: str | None = None

    def start(self) -> None:
        """Listen on SHARED_PORT_PORT (0: a port the OS picks, as the pool's config says;
        after a restart, the one we had before, which the master hands down)."""
        from ...daemoncore import run
        port = max(0, self.config.get_int("SHARED_PORT_PORT", 9618))
        if port == 0:
            try:
                port = int(os.environ.pop(PREVIOUS_PORT_ENV, "0"))
            except ValueError:
                port = 0
        run(self.core, self.setup, port=port)

    # ------------------------------------------------------------------ configuration
    def default_id(self) -> str | None:
        """Where a connection without a preamble goes: SHARED_PORT_DEFAULT_ID, else the
        collector when it sits behind the shared port."""
        configured = self.config.get("SHARED_PORT_DEFAULT_ID")
        if configured:
            return configured
        if self.config.get_bool("USE_SHARED_PORT", False) and \
                self.config.get_bool("COLLECTOR_USES_SHARED_PORT", True):
            return wire.DEFAULT_ID
        return None

    async def setup(self) -> None:
        self.cookie = sp.cookie_from_environment(self.config.get("DAEMON_SOCKET_DIR"), self.config.get("LOCK"))
        if self.cookie is None:
            self.cookie = sp.make_cookie(self.config.get("DAEMON_SOCKET_DIR"), self.config.get("LOCK"))
            os.environ[wire.COOKIE_ENV] = self.cookie
        await super().setup()
        self.publish_address()
        self.core.every(300, self._publish_timer, first=300)

    async def _publish_timer(self) -> None:
        self.publish_address()

    def publish_address(self) -> None:
        """SHARED_PORT_DAEMON_AD_FILE: our address and counters, replaced in one step."""
        path = self.config.get("SHARED_PORT_DAEMON_AD_FILE")
        if not path:
            self.log.log("ERROR: SHARED_PORT_DAEMON_AD_FILE must be defined")
            return
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(wire.ad_file_text(self.core.sinful, self.stats))
        os.replace(tmp, path)
        self.ad_file = path

    async def advertise(self) -> None:      # the real one sends no ad to the collector
        return None

    async def invalidate(self) -> None:
        return None

    async def on_shutdown(self, fast: bool) -> None:
        if self.ad_file:
            try:
                os.unlink(self.ad_file)
            except OSError:
                pass

    # ------------------------------------------------------------------ connections
    async def take(self, conn: socket.socket) -> None:
        """One accepted connection: find where it goes, pass it there."""
        peer = _peer(conn)
        try:
            target = await asyncio.wait_for(self._route(conn, peer), PREAUTH_DEADLINE)
        except (OSError, ValueError, asyncio.TimeoutError) as e:
            self.log.log(f"SharedPortServer: failed to receive request from {peer}: {e or 'timed out'}")
            conn.close()
            return
        if target is None:
            conn.close()
            return
        if target == wire.SELF_ID:
            await self.core.adopt_socket(conn)
            return
        await self.pass_to(conn, target, peer)

    async def _route(self, conn: socket.socket, peer: str) -> str | None:
        first = await sp.peek(conn, wire.PEEK_SIZE)
        cmd = wire.first_int(first)
        if cmd is None:
            return None                    # closed before saying anything
        if cmd != wire.SHARED_PORT_CONNECT:
            default = self.default_id()
            if default is None:
                self.log.log(f"SharedPortServer: Got request for command {cmd} from {peer}, "
                             f"but no default client specified.", "D_FULLDEBUG")
                return None
            self.log.log(f"SharedPortServer: Passing a request from {peer} for command {cmd} "
                         f"to ID {default}.", "D_FULLDEBUG")
            return default
        try:
            req = wire.parse_request(await sp.read_message_exactly(conn, 4096))
        except wire.PreambleError as e:
            self.log.log(f"SharedPortServer: {e} (from {peer}).")
            return None
        who = f"{req.client_name} on {peer}" if req.client_name else peer
        self.log.log(f"SharedPortServer: request from {who} to connect to {req.shared_port_id}. "
                     f"(CurPending={self.stats['RequestsPendingCurrent']} "
                     f"PeakPending={self.stats['RequestsPendingPeak']})", "D_FULLDEBUG")
        if req.shared_port_id != wire.SELF_ID and not wire.valid_id(req.shared_port_id):
            self.log.log(f"SharedPortServer: refusing request from {who} for invalid id "
                         f"{req.shared_port_id!r}.")
            return None
        return req.shared_port_id

    async def pass_to(self, conn: socket.socket, target: str, peer: str) -> None:
        s = self.stats
        s["RequestsPendingCurrent"] += 1
        s["RequestsPendingPeak"] = max(s["RequestsPendingPeak"], s["RequestsPendingCurrent"])
        try:
            await sp.pass_socket(wire.endpoint_address(self.cookie, target), conn.fileno())
            s["RequestsSucceeded"] += 1
        except (OSError, asyncio.TimeoutError) as e:
            s["RequestsFailed"] += 1
            self.log.log(f"SharedPortClient: failed to connect to {target} for {peer}: {e}")
        finally:
            s["RequestsPendingCurrent"] -= 1
            conn.close()


def _peer(conn: socket.socket) -> str:
    try:
        host, port = conn.getpeername()[:2]
        return f"<{host}:{port}>"
    except OSError:
        return "<unknown>"


def main() -> None:
    SharedPort.from_process().start()


if __name__ == "__main__":
    main()
