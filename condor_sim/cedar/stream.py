"""Primitive encodings inside one CEDAR message (``condor_io/stream.cpp`` semantics).

* every integer (int, long, bool, enum) is 8 bytes, big-endian, two's complement;
* a double is two such integers: ``int(mantissa * 2**31-1)`` and the exponent of frexp;
* a string is its bytes plus a NUL while the connection is in clear, and an 8-byte
  length (including the NUL) followed by the bytes and the NUL once AES is on;
* the NULL string (only the CONFIG_VAL family sends it) is the single byte 0xFF.
"""
from __future__ import annotations

import math
import struct

from . import ProtocolError

_INT = struct.Struct(">q")
MAX_ENCRYPTED_STRING = 10_000_000   # the real reader's bound on a length prefix
NULL_STRING_BYTE = b"\xff"
_DOUBLE_SCALE = 2147483647


class MessageReader:
    """Reads the primitives of one received message, in order."""

    def __init__(self, payload: bytes, encrypted: bool = False):
        self.data = payload
        self.pos = 0
        self.encrypted = encrypted

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def get_bytes(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"message too short: wanted {n} bytes, {self.remaining} left")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def get_int(self) -> int:
        return _INT.unpack(self.get_bytes(8))[0]

    def peek_int(self) -> int | None:
        """The next int without taking it (None if fewer than 8 bytes are left)."""
        return _INT.unpack_from(self.data, self.pos)[0] if self.remaining >= 8 else None

    def get_double(self) -> float:
        frac = self.get_int()
        exp = self.get_int()
        try:
            return math.ldexp(frac / _DOUBLE_SCALE, exp)
        except OverflowError:
            raise ProtocolError("double out of range") from None

    def get_string(self) -> str | None:
        """A string, or None for the NULL string."""
        if self.encrypted:
            n = self.get_int()
            if n < 1 or n > MAX_ENCRYPTED_STRING:
                raise ProtocolError(f"bad string length {n}")
            raw = self.get_bytes(n)
            if raw == NULL_STRING_BYTE:
                return None
            if raw[-1] != 0:
                raise ProtocolError("string not NUL-terminated")
            raw = raw[:-1]
        else:
            if self.pos < len(self.data) and self.data[self.pos] == 0xFF:
                self.pos += 1
                return None
            end = self.data.find(b"\0", self.pos)
            if end < 0:
                raise ProtocolError("string not NUL-terminated")
            raw = self.data[self.pos:end]
            self.pos = end + 1
        return raw.decode("utf-8", "surrogateescape")

    def get_str(self) -> str:
        """A string where NULL is not expected (read as "")."""
        s = self.get_string()
        return "" if s is None else s


class MessageWriter:
    """Accumulates the primitives of one message to send."""

    def __init__(self, encrypted: bool = False):
        self.encrypted = encrypted
        self.buf = bytearray()

    def put_bytes(self, b: bytes) -> "MessageWriter":
        self.buf += b
        return self

    def put_int(self, i: int) -> "MessageWriter":
        self.buf += _INT.pack(int(i))
        return self

    def put_double(self, x: float) -> "MessageWriter":
        m, e = math.frexp(x)
        return self.put_int(int(m * _DOUBLE_SCALE)).put_int(e)

    def put_string(self, s: str | None) -> "MessageWriter":
        raw = NULL_STRING_BYTE if s is None else s.encode("utf-8", "surrogateescape") + b"\0"
        if self.encrypted:
            self.put_int(len(raw))
        self.buf += raw
        return self

    def getvalue(self) -> bytes:
        return bytes(self.buf)
