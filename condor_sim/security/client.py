"""The client side of a new security session, for the daemons' own outgoing commands
(their updates to the collector), on the event loop.

The daemons used to send these through the client library in a thread; but the bindings
keep Python's GIL while they wait on the network, so a collector that answered nothing
froze the whole daemon (no commands served, no keep-alives) for the library's 20 s. This
client speaks the same exchange as the real one (security.md §5: the policy ad, FS
authentication with channel binding, ECDH, AES-GCM, the session ad) without blocking,
so the collector sees the same FS identity as before.

It offers only FS and AES: a server that wants anything else refuses, and the caller
falls back to the client library.

Like a real daemon, it keeps the sessions it opened (the session ad's Sid, the ECDH key
and the ValidCommands) and resumes one for the next command to the same address that the
session covers (security.md §6.3): one message each way instead of the policy exchange,
FS and a key agreement.  A server that no longer knows the session answers SID_NOT_FOUND;
the session is dropped and a new one opened at once.  Sessions without a key (the
plaintext posture) are not kept: a resumed session must prove its key.
"""
from __future__ import annotations

import asyncio
import base64
import os
import re
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from .. import CONDOR_VERSION
from ..cedar.classad_wire import get_ad, put_ad
from ..cedar.commands import Cmd
from ..cedar.framing import Framer
from ..cedar.stream import MessageReader, MessageWriter
from ..shared_port import endpoint as shared_port
from .handshake import derive_session_key, encode_public_key
from .methods import METHOD_BITS


class ClientRefused(Exception):
    """The server did not take the command the way this client offers it."""


class _Conn:
    """One client connection, message by message."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.framer = Framer()

    async def send(self, payload: bytes) -> None:
        self.writer.write(self.framer.encode_message(payload))
        await self.writer.drain()

    async def read(self) -> MessageReader:
        while (msg := self.framer.next_message()) is None:
            data = await self.reader.read(65536)
            if not data:
                raise ClientRefused("the server closed the connection")
            self.framer.feed(data)
        return MessageReader(msg, self.framer.encrypted)

    def message(self) -> MessageWriter:
        return MessageWriter(self.framer.encrypted)

    def close(self) -> None:
        self.writer.close()


# how long a kept session is used: the duration asked for (``SessionDuration``), less a
# margin, so it is never resumed just as the server forgets it
SESSION_DURATION = 60
SESSION_MARGIN = 10
MAX_KEPT = 256


@dataclass(frozen=True)
class _Kept:
    """A session this process opened: what resuming it takes."""
    sid: str
    key: bytes
    commands: frozenset
    until: float

    def covers(self, cmd: int, now: float) -> bool:
        return now < self.until and int(cmd) in self.commands


# address → the session kept for it
_KEPT: dict[str, _Kept] = {}


def _keep(sinful: str, session: dict, key: bytes | None, now: float) -> None:
    sid, valid = session.get("Sid"), session.get("ValidCommands")
    if key is None or not isinstance(sid, str) or not isinstance(valid, str):
        return
    commands = frozenset(int(c) for c in valid.split(",") if c.strip().lstrip("-").isdigit())
    if len(_KEPT) >= MAX_KEPT and sinful not in _KEPT:
        _KEPT.pop(next(iter(_KEPT)))
    _KEPT[sinful] = _Kept(sid, key, commands, now + SESSION_DURATION - SESSION_MARGIN)


def forget_sessions() -> None:
    """Drop every kept session (the next command to each address opens a new one)."""
    _KEPT.clear()


def _request_ad(cmd: int, sinful: str, public_key: str, subsystem: str, crypto: str = "REQUIRED") -> dict:
    """What the real client sends to start a new session (the captures' first message);
    ``crypto`` NEVER for a server whose policy turns encryption off."""
    return {"Enact": "NO", "Command": int(cmd), "NewSession": "YES", "AuthMethods": "FS",
            "CryptoMethods": "AES" if crypto == "REQUIRED" else "AES,3DES", "ECDHPublicKey": public_key, "Authentication": "REQUIRED",
            "AuthenticationNew": "REQUIRED", "Encryption": crypto, "Integrity": crypto,
            "SessionDuration": str(SESSION_DURATION), "SessionLease": 3600, "NegotiatedSession": True,
            "OutgoingNegotiation": "REQUIRED", "RemoteVersion": CONDOR_VERSION,
            "Subsystem": subsystem, "ServerPid": os.getpid(), "ConnectSinful": sinful}


async def _fs(conn: _Conn, endpoint: str) -> None:
    """FS: create the directory the server names (plus our view of its endpoint, the
    channel binding), let it check the owner, remove it."""
    await conn.send(conn.message().put_int(METHOD_BITS["FS"]).getvalue())
    if (await conn.read()).get_int() != METHOD_BITS["FS"]:
        raise ClientRefused("the server chose no FS authentication")
    path = (await conn.read()).get_str() + endpoint
    try:
        os.mkdir(path, 0o700)
        made = 0
    except OSError:
        made = -1
    try:
        await conn.send(conn.message().put_int(made).put_string(endpoint).getvalue())
        if (await conn.read()).get_int() != 0:
            raise ClientRefused("FS authentication failed")
    finally:
        if made == 0:
            os.rmdir(path)


async def open_command(sinful: str, cmd: int, subsystem: str = "DAEMON") -> _Conn:
    """Connect to ``sinful`` and start ``cmd``: in the session kept for that address when
    it covers the command, else in a new FS-authenticated session, under AES when the
    server's policy allows it (a server that turns encryption off, as the plaintext
    posture does, refuses a request that requires it: we ask again without encryption).
    The connection is returned ready for the command's payload (the caller closes it)."""
    kept = _KEPT.get(sinful)
    if kept is not None and kept.covers(cmd, time.time()):
        try:
            return await _resume(sinful, cmd, subsystem, kept)
        except (ClientRefused, OSError):
            if _KEPT.get(sinful) is kept:
                del _KEPT[sinful]
    if sinful not in _PLAIN:
        try:
            return await _open(sinful, cmd, subsystem, "REQUIRED")
        except ClientRefused as e:
            if not e.args or e.args[0] != "the server closed the connection":
                raise
    conn = await _open(sinful, cmd, subsystem, "NEVER")
    _PLAIN.add(sinful)
    return conn


# servers that took a session without encryption (asked that way from then on)
_PLAIN: set[str] = set()


def _address(sinful: str) -> re.Match:
    m = re.match(r"<([^:>?]+):(\d+)", sinful)
    if not m:
        raise ClientRefused(f"not an address: {sinful}")
    return m


async def _resume(sinful: str, cmd: int, subsystem: str, kept: _Kept) -> _Conn:
    """Resume ``kept`` for ``cmd``: the request, the server's AUTHORIZED in clear, then
    AES under the kept key (the command's first message proves it to the server)."""
    _address(sinful)
    reader, writer = await shared_port.open_connection(sinful, subsystem)
    conn = _Conn(reader, writer)
    try:
        first = MessageWriter().put_int(Cmd.DC_AUTHENTICATE)
        put_ad(first, {"UseSession": "YES", "Sid": kept.sid, "Command": int(cmd),
                       "ResumeResponse": True, "RemoteVersion": CONDOR_VERSION,
                       "Nonce": base64.b64encode(os.urandom(33)).decode(),
                       "ServerPid": os.getpid()})
        await conn.send(first.getvalue())
        reply = get_ad(await conn.read(), 100, literals_only=True)
        if reply.get("ReturnCode") != "AUTHORIZED":
            raise ClientRefused(f"session {kept.sid} not resumed: {reply.get('ReturnCode')}")
        conn.framer.enable_crypto(kept.key)
    except BaseException:
        writer.close()
        raise
    return conn


async def _open(sinful: str, cmd: int, subsystem: str, crypto: str) -> _Conn:
    m = _address(sinful)
    reader, writer = await shared_port.open_connection(sinful, subsystem)
    conn = _Conn(reader, writer)
    try:
        private = ec.generate_private_key(ec.SECP256R1())
        first = MessageWriter().put_int(Cmd.DC_AUTHENTICATE)
        put_ad(first, _request_ad(cmd, sinful, encode_public_key(private), subsystem, crypto))
        await conn.send(first.getvalue())
        reply = get_ad(await conn.read(), 100, literals_only=True)
        aes = reply.get("CryptoMethods") == "AES" and isinstance(reply.get("ECDHPublicKey"), str) \
            and reply.get("Encryption") != "NO"
        if reply.get("Authentication") != "YES" or (not aes and crypto == "REQUIRED"):
            raise ClientRefused(f"the server's terms are not FS and AES: {dict(reply)}")
        await _fs(conn, f"{m.group(1)}:{m.group(2)}")
        if (await conn.read()).get_int() != 0:            # exchangeKey: no key sent
            raise ClientRefused("the server sent a key of its own")
        key = derive_session_key(private, reply["ECDHPublicKey"]) if aes else None
        if key is not None:
            conn.framer.enable_crypto(key)
        session = get_ad(await conn.read(), 100, literals_only=True)
        if session.get("ReturnCode") != "AUTHORIZED":
            raise ClientRefused(f"not authorized: {session.get('ReturnCode')}")
        _keep(sinful, session, key, time.time())
    except BaseException:
        writer.close()
        raise
    return conn


async def _command(sinful: str, cmd: int, payloads: list, subsystem: str) -> None:
    conn = await open_command(sinful, cmd, subsystem)
    try:
        for payload in payloads:
            await conn.send(payload if isinstance(payload, bytes) else payload(conn.message()).getvalue())
    finally:
        conn.close()


async def send_command(sinful: str, cmd: int, payloads: list, *, subsystem: str = "DAEMON",
                       timeout: float = 10.0) -> None:
    """Start ``cmd`` at ``sinful`` in a new FS-authenticated session and send each of
    ``payloads``: a function that fills the connection's message writer (whether the
    session encrypts or not), or message bytes already written for an encrypted stream.

    Raises :class:`ClientRefused` (or OSError, asyncio.TimeoutError) when that did not work."""
    await asyncio.wait_for(_command(sinful, cmd, payloads, subsystem), timeout)
