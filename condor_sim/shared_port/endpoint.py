"""Shared port, the thin asyncio layer: a daemon's named socket that receives passed
connections, the server's side that passes one, exact reads off raw sockets, and a
client connection that sends the preamble when the address has ``sock=``.

Raw sockets, not asyncio streams, wherever a descriptor changes hands: a stream reads
ahead, and the bytes it took would never reach the daemon the connection goes to.
"""
from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from typing import Awaitable, Callable

from ..cedar.framing import Framer
from . import wire


async def readable(sock: socket.socket) -> None:
    """Wait until ``sock`` has something to read (or its peer closed it)."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    fd = sock.fileno()
    loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """``n`` bytes and not one more; ConnectionError when the peer closes first."""
    loop = asyncio.get_running_loop()
    buf = bytearray()
    while len(buf) < n:
        data = await loop.sock_recv(sock, n - len(buf))
        if not data:
            raise ConnectionError("peer closed the connection")
        buf += data
    return bytes(buf)


async def peek(sock: socket.socket, n: int) -> bytes:
    """The first ``n`` bytes waiting on ``sock``, left there (fewer only at EOF)."""
    while True:
        await readable(sock)
        try:
            data = sock.recv(n, socket.MSG_PEEK)
        except BlockingIOError:
            continue
        if len(data) >= n or not data:
            return data
        # the rest of the first packet is on its way: a peek cannot wait for it
        await asyncio.sleep(0.002)
        try:
            again = sock.recv(n, socket.MSG_PEEK)
        except BlockingIOError:
            continue
        if len(again) == len(data):
            await asyncio.sleep(0.01)


async def read_message_exactly(sock: socket.socket, max_size: int = 1 << 16) -> bytes:
    """One CEDAR message of plain packets, read without taking a byte past its end."""
    body = bytearray()
    while True:
        last, length = wire.packet_length(await recv_exactly(sock, 5))
        if len(body) + length > max_size:
            raise ValueError(f"message of more than {max_size} bytes")
        body += await recv_exactly(sock, length)
        if last:
            return bytes(body)


# close-on-exec from the moment it arrives, where the platform can say so
_CLOEXEC = getattr(socket, "MSG_CMSG_CLOEXEC", 0)


# ---------------------------------------------------------------------------- the daemon's side
class Endpoint:
    """One daemon's named socket: every connection on it brings one client connection,
    handed to ``on_connection`` as a socket."""

    def __init__(self, address: str, on_connection: Callable[[socket.socket], Awaitable[None]],
                 on_error: Callable[[str], None] = lambda text: None):
        self.address = address
        self.on_connection = on_connection
        self.on_error = on_error
        self._listener: socket.socket | None = None
        self._task: asyncio.Task | None = None
        self._pending: set[asyncio.Task] = set()

    def start(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if not self.address.startswith("\0"):
            os.makedirs(os.path.dirname(self.address), mode=0o755, exist_ok=True)
            try:
                os.unlink(self.address)
            except FileNotFoundError:
                pass
        s.bind(self.address)
        s.listen(256)
        s.setblocking(False)
        self._listener = s
        self._task = asyncio.get_running_loop().create_task(self._accept_loop())

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self._listener)
            except OSError as e:
                self.on_error(f"SharedPortEndpoint: failed to accept connection: {e}")
                await asyncio.sleep(0.1)
                continue
            conn.setblocking(False)
            task = loop.create_task(self._receive(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _receive(self, conn: socket.socket) -> None:
        try:
            passed = await asyncio.wait_for(receive_passed(conn), 20)
        except (OSError, ValueError, asyncio.TimeoutError) as e:
            self.on_error(f"SharedPortEndpoint: failed to receive socket: {e}")
            return
        finally:
            conn.close()
        await self.on_connection(passed)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for t in list(self._pending):
            t.cancel()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            if not self.address.startswith("\0"):
                try:
                    os.unlink(self.address)
                except OSError:
                    pass


async def receive_passed(conn: socket.socket) -> socket.socket:
    """The descriptor a shared port daemon sends on ``conn``: SHARED_PORT_PASS_SOCK, then
    one byte carrying it."""
    header = await recv_exactly(conn, wire.PASS_HEADER_SIZE)
    if not wire.is_pass_header(header):
        raise ValueError("not SHARED_PORT_PASS_SOCK")
    while True:
        await readable(conn)
        try:
            data, fds, _flags, _addr = socket.recv_fds(conn, 16, 1, _CLOEXEC)
        except BlockingIOError:
            continue
        if fds:
            for extra in fds[1:]:
                os.close(extra)
            os.set_inheritable(fds[0], False)     # a job or a starter must never hold it open
            s = socket.socket(fileno=fds[0])
            s.setblocking(False)
            return s
        if not data:
            raise ValueError("the shared port daemon sent no descriptor")


# ---------------------------------------------------------------------------- the server's side
async def pass_socket(address: str, fd: int, timeout: float = 10.0) -> None:
    """Hand the connection ``fd`` to the endpoint listening at ``address``."""
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(s, address), timeout)
        await asyncio.wait_for(loop.sock_sendall(s, wire.pass_header()), timeout)
        while True:
            try:
                socket.send_fds(s, [b"\0"], [fd])
                return
            except BlockingIOError:
                fut = loop.create_future()
                loop.add_writer(s.fileno(), lambda: fut.done() or fut.set_result(None))
                try:
                    await asyncio.wait_for(fut, timeout)
                finally:
                    loop.remove_writer(s.fileno())
    finally:
        s.close()


# ---------------------------------------------------------------------------- where endpoints live
def make_cookie(configured_dir: str | None, lock_dir: str | None) -> str:
    """What the master hands its children (``CONDOR_PRIVATE_SHARED_PORT_COOKIE``) so that
    they all find one another: a random prefix in the abstract namespace on Linux, else
    the socket directory (made here; a short one under /tmp when ``$(LOCK)`` is too long)."""
    if wire.abstract_namespace():
        return os.urandom(16).hex()
    d = wire.socket_dir_for(configured_dir, lock_dir)
    if d is None:
        d = tempfile.mkdtemp(prefix="condor_shared_port_", dir="/tmp")
    os.makedirs(d, mode=0o755, exist_ok=True)
    return d


def cookie_from_environment(configured_dir: str | None, lock_dir: str | None) -> str | None:
    """The cookie our master handed down, else the socket directory the config names."""
    known = os.environ.get(wire.COOKIE_ENV)
    if known:
        return known
    return wire.socket_dir_for(configured_dir, lock_dir)


# ---------------------------------------------------------------------------- clients
async def open_connection(sinful: str, client_name: str = "", **kw):
    """asyncio streams to the daemon at ``sinful``; the preamble first when it has
    ``sock=`` (framed on its own: it is no part of the session's message digest)."""
    hp = wire.host_port(sinful)
    if hp is None:
        raise ValueError(f"not an address: {sinful}")
    reader, writer = await asyncio.open_connection(hp[0], hp[1], **kw)
    sp_id = wire.sock_of(sinful)
    if sp_id:
        writer.write(Framer().encode_message(wire.preamble(sp_id, client_name)))
    return reader, writer
