"""Bad input never takes a daemon down: it logs, closes, and answers the next real ping."""
from __future__ import annotations

import os
import socket
import struct


from support.daemons import DaemonProcess, schedd_fixture



schedd = schedd_fixture("hostile", overrides={"SCHEDD_DEBUG": "D_SECURITY D_NETWORK"})


def connect(d: DaemonProcess) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    return s


def send_and_wait_close(d: DaemonProcess, data: bytes, close_write: bool = False) -> bytes:
    """Send ``data``, then read until the daemon closes; returns what it sent back."""
    s = connect(d)
    try:
        s.sendall(data)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        got = b""
        s.settimeout(5)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    finally:
        s.close()


def packet(end: int, body: bytes) -> bytes:
    return struct.pack(">BI", end, len(body)) + body


def test_random_bytes(schedd):
    for seed in range(5):
        send_and_wait_close(schedd, os.urandom(200 + seed * 1000), close_write=True)
    schedd.wait_for_log("closing connection from", timeout=5)
    schedd.assert_serving(within=5.0)


def test_header_claiming_two_gibibytes(schedd):
    assert send_and_wait_close(schedd, struct.pack(">BI", 1, 0x80000000)) == b""
    schedd.wait_for_log("bad packet length 2147483648", timeout=5)
    schedd.assert_serving(within=5.0)


def test_truncated_message(schedd):
    data = struct.pack(">BI", 1, 100) + b"x" * 10
    assert send_and_wait_close(schedd, data, close_write=True) == b""
    schedd.wait_for_log("peer closed the connection", timeout=5)
    schedd.assert_serving(within=5.0)


def test_ad_count_of_ten_to_the_twelfth(schedd):
    body = struct.pack(">q", 60010) + struct.pack(">q", 10**12)
    assert send_and_wait_close(schedd, packet(1, body)) == b""
    schedd.wait_for_log("getPODClassAd: too many attributes (1000000000000 > 100), rejecting.", timeout=5)
    schedd.assert_serving(within=5.0)


def test_unknown_raw_command(schedd):
    assert send_and_wait_close(schedd, packet(1, struct.pack(">q", 987654))) == b""
    schedd.wait_for_log("received unknown command 987654", timeout=5)
    schedd.assert_serving(within=5.0)


def test_non_literal_handshake_ad(schedd):
    ad = b"".join(s + b"\0" for s in (b'Command = 60020', b'Enact = 1 + 2', b"", b""))
    body = struct.pack(">q", 60010) + struct.pack(">q", 2) + ad
    assert send_and_wait_close(schedd, packet(1, body)) == b""
    schedd.wait_for_log("getPODClassAd: trailing tokens after literal for attr Enact", timeout=5)
    schedd.assert_serving(within=5.0)


def test_valid_header_then_silence_does_not_block_others(schedd):
    s = connect(schedd)
    try:
        s.sendall(struct.pack(">BI", 0, 8) + struct.pack(">q", 60010))   # more packets promised
        schedd.assert_serving(within=5.0)
    finally:
        s.close()


def test_two_hundred_idle_connections(schedd):
    socks = [connect(schedd) for _ in range(200)]
    try:
        schedd.assert_serving(within=5.0)
    finally:
        for s in socks:
            s.close()
    schedd.assert_serving(within=5.0)
