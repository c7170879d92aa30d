"""CEDAR packet framing (ReliSock), with the AES-GCM mode of HTCondor >= 9.

Wire format of one packet::

    [end: 1 byte][len: 4 bytes big-endian][body: len bytes]

``end`` is 0 while more packets of the same message follow; any value 1..10 marks the
last packet.  A message is one or more packets; message boundaries matter to the
protocol (each side reads exactly what the other wrote before its end-of-message).

Once a session key is installed (:meth:`Framer.enable_crypto`) every packet in both
directions is AES-256-GCM sealed: ``body = [base IV (first packet of a direction only)]
[ciphertext][16-byte tag]``.  The IV of packet *n* adds *n* to the first 32 bits of the
base IV.  The additional data is the 5-byte header, except for the first encrypted
packet of each direction, which also authenticates SHA-256 digests of all plaintext that
went each way before (so a tampered negotiation is detected).
"""
from __future__ import annotations

import hashlib
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import ProtocolError

HEADER = struct.Struct(">BI")
MAX_PACKET = 1024 * 1024          # the real receiver drops a connection on a larger packet
SEND_CHUNK = 4096 - HEADER.size   # what the real sender puts in one packet
MAX_END_FLAG = 10
IV_LEN = 16
TAG_LEN = 16
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024
_ZERO_DIGEST = bytes(32)


class _Direction:
    """AES-GCM state of one direction: base IV and packet counter."""

    def __init__(self, base_iv: bytes | None):
        self.base_iv = base_iv
        self.count = 0

    def iv(self) -> bytes:
        first = (int.from_bytes(self.base_iv[:4], "big") + self.count) & 0xFFFFFFFF
        return first.to_bytes(4, "big") + self.base_iv[4:]


class Framer:
    """Both directions of one CEDAR connection, as bytes in and bytes out.

    ``feed(data)`` adds received bytes; ``next_message()`` returns the payload of the
    next complete message (or None when more bytes are needed); ``encode_message``
    returns the bytes to send for one message.
    """

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE):
        self.max_message = max_message
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._part_len = 0
        self._aes: AESGCM | None = None
        self._tx: _Direction | None = None
        self._rx: _Direction | None = None
        # Digests of the plaintext exchanged before encryption; None = nothing went that way.
        self._sent_md = None
        self._recv_md = None
        self._frozen: tuple[bytes, bytes] | None = None

    def release(self) -> None:
        """Drop whatever is buffered (the connection is closing)."""
        self._buf = bytearray()
        self._parts = []
        self._part_len = 0

    # ------------------------------------------------------------------ crypto
    @property
    def encrypted(self) -> bool:
        return self._aes is not None

    def enable_crypto(self, key: bytes) -> None:
        """Switch both directions to AES-GCM with a 32-byte session key."""
        if len(key) != 32:
            raise ValueError("AES-GCM session keys are 32 bytes")
        self._aes = AESGCM(key)
        self._tx = _Direction(os.urandom(IV_LEN))
        self._rx = _Direction(None)

    def _digests(self) -> tuple[bytes, bytes]:
        # Frozen at the first encrypted packet in either direction, then reused.
        if self._frozen is None:
            sent = self._sent_md.digest() if self._sent_md else _ZERO_DIGEST
            recv = self._recv_md.digest() if self._recv_md else _ZERO_DIGEST
            self._frozen = (sent, recv)
        return self._frozen

    # ------------------------------------------------------------------ receive
    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        """Received bytes not yet turned into a message (a partial message is pending if > 0)."""
        return len(self._buf) + self._part_len

    def take_raw(self, n: int) -> bytes:
        """Up to ``n`` received bytes that are not in a packet (a file sent in clear after
        its size message, ``ReliSock::put_bytes_nobuffer``); only between messages."""
        if self._parts:
            raise ProtocolError("raw bytes asked for in the middle of a message")
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def next_message(self) -> bytes | None:
        while True:
            if len(self._buf) < HEADER.size:
                return None
            end, length = HEADER.unpack_from(self._buf)
            if end > MAX_END_FLAG:
                raise ProtocolError(f"bad end-of-message flag {end}")
            if length == 0 or length > MAX_PACKET:
                raise ProtocolError(f"bad packet length {length}")
            if self._part_len + length > self.max_message + IV_LEN + TAG_LEN:
                # refused on the header, before the body is buffered
                raise ProtocolError(f"message larger than {self.max_message} bytes")
            if len(self._buf) < HEADER.size + length:
                return None
            header = bytes(self._buf[:HEADER.size])
            body = bytes(self._buf[HEADER.size:HEADER.size + length])
            del self._buf[:HEADER.size + length]
            body = self._open(header, body)
            self._part_len += len(body)
            if self._part_len > self.max_message:
                raise ProtocolError(f"message larger than {self.max_message} bytes")
            self._parts.append(body)
            if end:
                msg = b"".join(self._parts)
                self._parts.clear()
                self._part_len = 0
                return msg

    def _open(self, header: bytes, body: bytes) -> bytes:
        if self._aes is None:
            if self._recv_md is None:
                self._recv_md = hashlib.sha256()
            self._recv_md.update(header)
            self._recv_md.update(body)
            return body
        rx = self._rx
        aad = header
        if rx.base_iv is None:
            if len(body) < IV_LEN + TAG_LEN:
                raise ProtocolError("first encrypted packet too short")
            rx.base_iv, body = body[:IV_LEN], body[IV_LEN:]
            sent, recv = self._digests()
            aad = recv + sent + header      # the peer's "sent" is what we received
        elif len(body) < TAG_LEN:
            raise ProtocolError("encrypted packet too short")
        try:
            plain = self._aes.decrypt(rx.iv(), body, aad)
        except InvalidTag:
            raise ProtocolError("failed to unwrap an encrypted packet") from None
        rx.count += 1
        if not plain:
            raise ProtocolError("empty encrypted packet")
        return plain

    # ------------------------------------------------------------------ send
    def encode_message(self, payload: bytes, chunk: int = SEND_CHUNK) -> bytes:
        """Bytes for one message.  An empty message puts nothing on the wire, as in CEDAR."""
        out = bytearray()
        for start in range(0, len(payload), chunk):
            part = payload[start:start + chunk]
            out += self._seal(1 if start + chunk >= len(payload) else 0, part)
        return bytes(out)

    def seal_packet(self, body: bytes, last: bool) -> bytes:
        """One packet of a message being sent piece by piece (``last`` ends the message);
        ``body`` at most SEND_CHUNK bytes, and not empty."""
        return self._seal(1 if last else 0, bytes(body))

    def _seal(self, end: int, body: bytes) -> bytes:
        if self._aes is None:
            header = HEADER.pack(end, len(body))
            if self._sent_md is None:
                self._sent_md = hashlib.sha256()
            self._sent_md.update(header)
            self._sent_md.update(body)
            return header + body
        tx = self._tx
        first = tx.count == 0
        header = HEADER.pack(end, len(body) + TAG_LEN + (IV_LEN if first else 0))
        aad = header
        if first:
            sent, recv = self._digests()
            aad = sent + recv + header
        sealed = self._aes.encrypt(tx.iv(), body, aad)
        tx.count += 1
        return header + (tx.base_iv if first else b"") + sealed
