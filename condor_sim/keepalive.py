"""DC_CHILDALIVE: a daemon started by the master tells it, every so often, that it is alive
(``daemon_keep_alive.cpp``).  The master kills a child that stays silent past the time
the child itself announced (``NOT_RESPONDING_TIMEOUT``) and restarts it.

The child speaks over the family session the master handed down in
``CONDOR_PRIVATE_INHERIT``: it resumes that session (no authentication round) and sends
``[int pid][int max_hang_time][double dprintf_lock_delay]`` under the session key, which
is what proves it holds the key.
"""
from __future__ import annotations

import asyncio
import base64
import os
import re

from . import CONDOR_VERSION
from .cedar.classad_wire import get_ad, put_ad
from .cedar.commands import Cmd
from .cedar.framing import Framer
from .cedar.stream import MessageReader, MessageWriter

PRIVATE_INHERIT = "CONDOR_PRIVATE_INHERIT"


def family_session_text(sid: str, key: bytes) -> str:
    return f"FamilySessionKey={sid} {base64.b64encode(key).decode()}"


def parse_family_session(text: str | None) -> tuple[str, bytes] | None:
    m = re.search(r"FamilySessionKey=(\S+) (\S+)", text or "")
    if not m:
        return None
    try:
        return m.group(1), base64.b64decode(m.group(2), validate=True)
    except ValueError:
        return None


def parent_address(inherit: str | None) -> tuple[int, str] | None:
    """(ppid, sinful) from CONDOR_INHERIT ("<ppid> <sinful> ...")."""
    fields = (inherit or "").split()
    if len(fields) < 2 or not fields[0].isdigit() or not fields[1].startswith("<"):
        return None
    return int(fields[0]), fields[1]


def alive_period(max_hang: int) -> int:
    """How often to send: a third of the announced time, less 30 s, at least 1 s."""
    return max(1, max_hang // 3 - 30)


def max_hang_time(config, subsystem: str) -> int:
    v = config.get_int(f"{subsystem}_NOT_RESPONDING_TIMEOUT",
                       config.get_int("NOT_RESPONDING_TIMEOUT", 3600))
    return max(1, v)


def resume_request(sid: str, target: str) -> tuple[Framer, bytes]:
    """The connection's framer and its first message: the request to resume the family
    session for DC_CHILDALIVE (in clear, as every resume request)."""
    f = Framer()
    resume = {"Command": int(Cmd.DC_CHILDALIVE), "ConnectSinful": target, "CryptoMethods": "AES",
              "Nonce": base64.b64encode(os.urandom(33)).decode(), "RemoteVersion": CONDOR_VERSION,
              "ResumeResponse": True, "Sid": sid, "UseSession": "YES"}
    first = f.encode_message(put_ad(MessageWriter().put_int(Cmd.DC_AUTHENTICATE), resume).getvalue())
    return f, first


async def send_alive(sinful: str, sid: str, key: bytes, pid: int, max_hang: int,
                     timeout: float = 20.0) -> bool:
    """One DC_CHILDALIVE to the master at ``sinful``; True when it was delivered."""
    m = re.match(r"<([^:>?]+):(\d+)", sinful)
    if not m:
        return False
    framer, first = resume_request(sid, sinful)

    async def exchange() -> bool:
        from .shared_port.endpoint import open_connection
        reader, writer = await open_connection(sinful, "DAEMON")
        try:
            writer.write(first)
            await writer.drain()
            while (msg := framer.next_message()) is None:
                data = await reader.read(65536)
                if not data:
                    return False
                framer.feed(data)
            if get_ad(MessageReader(msg)).get("ReturnCode") != "AUTHORIZED":
                return False
            framer.enable_crypto(key)
            payload = MessageWriter(True).put_int(pid).put_int(max_hang).put_double(0.0)
            writer.write(framer.encode_message(payload.getvalue()))
            await writer.drain()
            return True
        finally:
            writer.close()

    try:
        return await asyncio.wait_for(exchange(), timeout)
    except (OSError, asyncio.TimeoutError, ValueError):
        return False
