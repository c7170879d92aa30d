"""A daemon without a process: a fixed config, a log kept in memory, and connections fed
with bytes, so a handler can be driven byte by byte in the test's own event loop."""
from __future__ import annotations

import asyncio

from condor_sim.cedar.framing import Framer
from condor_sim.connection import Channel

# A policy that lets an unauthenticated peer send raw commands (no handshake).
OPEN_POLICY = {
    "SEC_DEFAULT_NEGOTIATION": "OPTIONAL", "SEC_DEFAULT_AUTHENTICATION": "OPTIONAL",
    "SEC_DEFAULT_ENCRYPTION": "OPTIONAL", "SEC_DEFAULT_INTEGRITY": "OPTIONAL",
    "ALLOW_READ": "*", "ALLOW_WRITE": "*", "ALLOW_DAEMON": "*", "ALLOW_ADMINISTRATOR": "*",
    "ALLOW_ADVERTISE_MASTER": "*", "ALLOW_ADVERTISE_SCHEDD": "*", "ALLOW_ADVERTISE_STARTD": "*",
    "ALLOW_NEGOTIATOR": "*", "FULL_HOSTNAME": "testhost", "UID_DOMAIN": "testhost",
}


class MemoryLog:
    """DaemonLog's interface; every line is kept in ``lines``."""

    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def log(self, msg: str, cat: str = "D_ALWAYS", verbose: bool = False) -> None:
        self.lines.append((cat, msg))

    def text(self) -> str:
        return "\n".join(m for _, m in self.lines)

    def reconfigure(self) -> None:
        pass

    def banner(self, extra=None) -> None:
        pass

    def exiting(self, status: int) -> None:
        self.lines.append(("D_ALWAYS", f"EXITING WITH STATUS {status}"))


class _Writer:
    def __init__(self):
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str):
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 9618)}.get(name)


def messages(*payloads: bytes) -> bytes:
    """Plaintext CEDAR messages, as a client writes them."""
    f = Framer()
    return b"".join(f.encode_message(p) for p in payloads)


def replies(data: bytes) -> list[bytes]:
    """The messages in what a daemon wrote back."""
    f = Framer()
    f.feed(data)
    out = []
    while (m := f.next_message()) is not None:
        out.append(m)
    return out


async def converse(core, data: bytes) -> bytes:
    """One connection to ``core``: the peer sends ``data`` and closes its side; returns
    everything the daemon wrote back."""
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    writer = _Writer()
    await core.serve_channel(Channel(reader, writer, budget=core.preauth))
    assert writer.closed
    return bytes(writer.data)
