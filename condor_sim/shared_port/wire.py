"""Shared port, sans IO: the client's preamble, endpoint names, sinfuls with ``sock=``,
the address of an endpoint's named socket and the shared port daemon's ad file.

With ``USE_SHARED_PORT`` every daemon listens on a named Unix socket instead of a TCP
port of its own and advertises the shared port daemon's TCP address with
``sock=<endpoint id>``.  A client connecting to such an address first sends one message,
the preamble (commands.md §1.3)::

    [int 75 SHARED_PORT_CONNECT]["<id>"]["<client name>"][int deadline][int more_args]...  EOM

The shared port daemon reads it, then connects to the named socket of ``<id>`` and sends
``[int 76 SHARED_PORT_PASS_SOCK] EOM`` followed by one byte carrying the accepted
connection's descriptor (SCM_RIGHTS).  The daemon serves that connection as if it had
accepted it itself.  A connection that starts with anything but the preamble goes to
``SHARED_PORT_DEFAULT_ID`` (the collector when unset).
"""
from __future__ import annotations

import os
import random
import re
import sys

from ..cedar.commands import Cmd
from ..cedar.framing import HEADER
from ..cedar.stream import MessageReader, MessageWriter

SHARED_PORT_CONNECT = int(Cmd.SHARED_PORT_CONNECT)    # 75
SHARED_PORT_PASS_SOCK = 76
SELF_ID = "self"
DEFAULT_ID = "collector"
COOKIE_ENV = "CONDOR_PRIVATE_SHARED_PORT_COOKIE"
MAX_ID = 1023             # the server reads ids and client names into 1024-byte buffers
MAX_MORE_ARGS = 100
INT_SIZE = 8
PEEK_SIZE = HEADER.size + INT_SIZE   # a packet header and the first int of its message
SUN_PATH_MAX = 103        # sockaddr_un.sun_path less its NUL (104 on macOS, 108 on Linux)
LONGEST_ID = 18           # what the real endpoint allows for when it checks a directory


class PreambleError(ValueError):
    """The first message of a shared-port connection is not a valid request."""


def preamble(shared_port_id: str, client_name: str = "", deadline: int = -1) -> bytes:
    """The payload of the client's SHARED_PORT_CONNECT message (not yet framed)."""
    w = MessageWriter()
    w.put_int(SHARED_PORT_CONNECT).put_string(shared_port_id).put_string(client_name)
    return w.put_int(deadline).put_int(0).getvalue()


class ConnectRequest:
    """A parsed SHARED_PORT_CONNECT request."""

    __slots__ = ("shared_port_id", "client_name", "deadline")

    def __init__(self, shared_port_id: str, client_name: str, deadline: int):
        self.shared_port_id = shared_port_id
        self.client_name = client_name
        self.deadline = deadline

    def __repr__(self) -> str:
        return f"ConnectRequest({self.shared_port_id!r}, {self.client_name!r}, {self.deadline})"


def parse_request(payload: bytes) -> ConnectRequest:
    """The request in a SHARED_PORT_CONNECT message's payload (its command int first)."""
    r = MessageReader(payload)
    try:
        if r.get_int() != SHARED_PORT_CONNECT:
            raise PreambleError("not a SHARED_PORT_CONNECT request")
        sp_id, name, deadline, more = r.get_str(), r.get_str(), r.get_int(), r.get_int()
        if len(sp_id) > MAX_ID or len(name) > MAX_ID:
            raise PreambleError("shared port id or client name too long")
        if not 0 <= more <= MAX_MORE_ARGS:
            raise PreambleError(f"got invalid more_args={more}")
        for _ in range(more):
            r.get_str()
    except PreambleError:
        raise
    except Exception as e:
        raise PreambleError(f"failed to receive request: {e}") from None
    return ConnectRequest(sp_id, name, deadline)


def first_int(peeked: bytes) -> int | None:
    """The command int of a connection's first packet (``PEEK_SIZE`` bytes), or None."""
    if len(peeked) < PEEK_SIZE:
        return None
    return int.from_bytes(peeked[HEADER.size:PEEK_SIZE], "big", signed=True)


def packet_length(header: bytes) -> tuple[bool, int]:
    """(last packet?, length) of a CEDAR packet header."""
    end, length = HEADER.unpack(header)
    return bool(end), length


def pass_header() -> bytes:
    """The framed SHARED_PORT_PASS_SOCK message the server sends before the descriptor."""
    body = MessageWriter().put_int(SHARED_PORT_PASS_SOCK).getvalue()
    return HEADER.pack(1, len(body)) + body


PASS_HEADER_SIZE = len(pass_header())


def is_pass_header(data: bytes) -> bool:
    return data == pass_header()


# ---------------------------------------------------------------------------- names and sinfuls
def endpoint_name(daemon_name: str, pid: int | None = None, tag: int | None = None) -> str:
    """An endpoint id as the real daemons make it: ``<lowercased name>_<pid>_<4 hex>``."""
    pid = os.getpid() if pid is None else pid
    tag = random.randrange(1, 0x10000) if tag is None else tag
    return f"{daemon_name.lower()}_{pid}_{tag:04x}"


_SOCK = re.compile(r"[?&]sock=([^&>]*)")


def sock_of(sinful: str) -> str | None:
    """The ``sock=`` id of a sinful, or None."""
    m = _SOCK.search(sinful or "")
    return m.group(1) if m else None


def host_port(sinful: str) -> tuple[str, int] | None:
    m = re.match(r"<([^:>?]+):(\d+)", sinful or "")
    return (m.group(1), int(m.group(2))) if m else None


def sinful_for(shared_sinful: str, shared_port_id: str) -> str:
    """The address a daemon with endpoint ``shared_port_id`` advertises: the shared port
    daemon's, with ``sock=`` added after its other parameters."""
    base = re.sub(r"[?&]sock=[^&>]*", "", shared_sinful.strip())
    if not base.endswith(">"):
        raise ValueError(f"not a sinful: {shared_sinful!r}")
    sep = "&" if "?" in base else "?"
    return f"{base[:-1]}{sep}sock={shared_port_id}>"


# ---------------------------------------------------------------------------- named sockets
def abstract_namespace() -> bool:
    """Linux names endpoints in the abstract namespace (no file, no length trouble)."""
    return sys.platform.startswith("linux")


def socket_dir_for(configured: str | None, lock_dir: str | None) -> str | None:
    """DAEMON_SOCKET_DIR made concrete: ``auto`` is ``$(LOCK)/daemon_sock`` when a socket
    path under it fits in sun_path; None when it does not (the caller makes a short
    directory under /tmp)."""
    d = configured or "auto"
    if d.lower() == "auto":
        if not lock_dir:
            return None
        d = os.path.join(lock_dir, "daemon_sock")
    return d if len(d) + LONGEST_ID <= SUN_PATH_MAX else None


def endpoint_address(cookie: str, shared_port_id: str) -> str:
    """The address of an endpoint's Unix socket: under the pool's cookie in the abstract
    namespace on Linux, else a file in the socket directory the cookie names."""
    if abstract_namespace() and not cookie.startswith("/"):
        return f"\0{cookie}/{shared_port_id}"
    return os.path.join(cookie, shared_port_id)


def valid_id(shared_port_id: str) -> bool:
    """An id that names one socket in the directory (nothing that walks out of it)."""
    return bool(shared_port_id) and len(shared_port_id) <= MAX_ID and \
        re.fullmatch(r"[A-Za-z0-9_.\-]+", shared_port_id) is not None and shared_port_id not in (".", "..")


# ---------------------------------------------------------------------------- the ad file
def ad_file_text(sinful: str, stats: dict[str, int] | None = None) -> str:
    """SHARED_PORT_DAEMON_AD_FILE: the daemon's address and its counters, as a ClassAd."""
    import classad2
    ad = classad2.ClassAd()
    ad["MyAddress"] = sinful
    for k, v in (stats or {}).items():
        ad[k] = v
    return ad.printOld()


def address_from_ad_text(text: str) -> str | None:
    """MyAddress of the shared port daemon's ad file, or None (absent or unreadable)."""
    import classad2
    try:
        value = classad2.parseOne(text).get("MyAddress")
    except Exception:
        return None
    return value if isinstance(value, str) and value.startswith("<") else None
