"""One command connection as a handler sees it: the thin asyncio layer over the sans-IO
:class:`~condor_sim.cedar.framing.Framer`.

Both DaemonCore (which accepts connections and dispatches them) and the security
handshake (which runs on them first) import this module; neither imports the other.
:class:`Channel` needs only a reader with ``read(n)`` and a writer with ``write``,
``drain``, ``close`` and ``get_extra_info``: asyncio's streams in a daemon, an in-memory
pair in a test.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from .cedar.framing import DEFAULT_MAX_MESSAGE, SEND_CHUNK, Framer
from .cedar.stream import MessageReader, MessageWriter

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


SEND_BUFFER = 256 << 10       # bytes a send may leave queued before it waits for the peer


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
        self._watchdog: asyncio.TimerHandle | None = None
        self._read_deadline: float | None = None
        self._watch_at = 0.0
        self._timed_out = False
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
            late = ("timed out waiting for a message" if self.trusted else
                    "security handshake not finished in time")
            left = end - time.monotonic()
            if left <= 0:
                raise ConnectionClosed(late)
            try:
                if self.trusted:
                    data = await self._read_watched(end)
                else:
                    data = await asyncio.wait_for(self.reader.read(65536), left)
            except asyncio.TimeoutError:
                raise ConnectionClosed(late) from None
            except (ConnectionError, OSError) as e:
                raise ConnectionClosed(str(e)) from None
            if not data:
                raise ConnectionClosed(late if self._timed_out else "peer closed the connection")
            self.framer.feed(data)
            self._account(self.framer.buffered)

    async def read_raw(self, n: int, timeout: float | None = None) -> bytes:
        """Exactly ``n`` bytes outside the packet framing (a trusted peer only)."""
        if not self.trusted:
            raise ConnectionClosed("raw bytes from an untrusted peer")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        out = bytearray(self.framer.take_raw(n))
        while len(out) < n:
            if time.monotonic() >= deadline:
                raise ConnectionClosed("timed out waiting for file data")
            try:
                data = await self._read_watched(deadline)
            except (ConnectionError, OSError) as e:
                raise ConnectionClosed(str(e)) from None
            if not data:
                raise ConnectionClosed("peer closed the connection")
            self.framer.feed(data)
            out += self.framer.take_raw(n - len(out))
        return bytes(out)

    async def _read_watched(self, deadline: float) -> bytes:
        """A read bounded by ``deadline`` through one watchdog timer per channel, moved
        only when it fires, instead of a timer made and cancelled for every read (a
        trusted connection makes thousands of reads, a submit one per job)."""
        self._read_deadline = deadline
        if self._watchdog is None or deadline < self._watch_at:
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._arm(deadline)
        try:
            return await self.reader.read(65536)
        finally:
            self._read_deadline = None

    def _check_deadline(self) -> None:
        self._watchdog = None
        deadline = self._read_deadline
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            self._timed_out = True
            try:
                self.writer.close()         # the pending read sees the end of the stream
            except Exception:
                pass
            feed_eof = getattr(self.reader, "feed_eof", None)
            if feed_eof is not None:
                feed_eof()
            return
        self._arm(deadline)

    def _arm(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        self._watch_at = deadline
        self._watchdog = loop.call_at(loop.time() + max(0.0, deadline - time.monotonic()),
                                      self._check_deadline)

    def new_message(self) -> MessageWriter:
        return MessageWriter(self.framer.encrypted)

    async def send(self, msg: MessageWriter | bytes) -> None:
        payload = msg.getvalue() if isinstance(msg, MessageWriter) else msg
        data = self.framer.encode_message(payload)
        if data:
            await self.send_raw(data)

    async def send_many(self, payloads) -> None:
        """Many messages, written in large pieces (a query's thousands of job ads)."""
        pending = bytearray()
        for payload in payloads:
            pending += self.framer.encode_message(payload)
            if len(pending) >= SEND_BUFFER // 4:
                await self.send_raw(bytes(pending))
                pending.clear()
        if pending:
            await self.send_raw(bytes(pending))

    async def send_stream(self, pieces) -> None:
        """One message made of ``pieces``, sent packet by packet as they are made, so the
        peer decodes the first ads of a long reply while the rest are still being built."""
        chunk = SEND_CHUNK
        buf = bytearray()
        out = bytearray()
        for piece in pieces:
            buf += piece
            if len(buf) > chunk:
                cut = (len(buf) - 1) // chunk * chunk      # keep a tail for the last packet
                view = memoryview(buf)
                for start in range(0, cut, chunk):
                    out += self.framer.seal_packet(view[start:start + chunk], last=False)
                view.release()
                del buf[:cut]
            if len(out) >= SEND_BUFFER // 4:
                await self.send_raw(bytes(out))
                out.clear()
        if buf:
            out += self.framer.seal_packet(bytes(buf), last=True)
        if out:
            await self.send_raw(bytes(out))

    async def send_raw(self, data: bytes) -> None:
        """Bytes already framed by this channel's framer.  A send waits only when the peer
        is not keeping up (a wait costs more than a write)."""
        try:
            self.writer.write(data)
            transport = getattr(self.writer, "transport", None)
            if transport is None or transport.get_write_buffer_size() > SEND_BUFFER or \
                    transport.is_closing():
                await asyncio.wait_for(self.writer.drain(), self.timeout)
        except (ConnectionError, OSError, asyncio.TimeoutError) as e:
            raise ConnectionClosed(str(e)) from None

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        try:
            self.writer.close()
        except Exception:   # already gone
            pass
        self.framer.release()
        if self._held and self._budget is not None:
            self._budget.adjust(-self._held)
            self._held = 0


@dataclass
class Request:
    """One authorized command, as a handler sees it."""
    chan: Channel
    command: object                # the table entry being run (a command_table.Command)
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
