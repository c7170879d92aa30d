"""Bad input never takes a daemon down: it logs, closes, and answers the next real ping."""
from __future__ import annotations

import os
import socket
import struct
import time


from support.clients import run_client
from support.daemons import DaemonProcess, schedd_fixture

PING = """
import htcondor2
return htcondor2.ping({addr!r}, "READ")["AuthorizationSucceeded"]
"""


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


def assert_serving(d: DaemonProcess, within: float = 5.0) -> None:
    t0 = time.monotonic()
    r = run_client(PING.format(addr=d.sinful), d.config)
    assert r["ok"] and r["result"] is True, r
    assert d.alive()
    assert time.monotonic() - t0 < within


def packet(end: int, body: bytes) -> bytes:
    return struct.pack(">BI", end, len(body)) + body


def wait_for_log(d: DaemonProcess, text: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = d.log_text("SchedLog")
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in SchedLog:\n{d.log_text('SchedLog')[-3000:]}")


def test_random_bytes(schedd):
    for seed in range(5):
        send_and_wait_close(schedd, os.urandom(200 + seed * 1000), close_write=True)
    wait_for_log(schedd, "closing connection from")
    assert_serving(schedd)


def test_header_claiming_two_gibibytes(schedd):
    assert send_and_wait_close(schedd, struct.pack(">BI", 1, 0x80000000)) == b""
    wait_for_log(schedd, "bad packet length 2147483648")
    assert_serving(schedd)


def test_truncated_message(schedd):
    data = struct.pack(">BI", 1, 100) + b"x" * 10
    assert send_and_wait_close(schedd, data, close_write=True) == b""
    wait_for_log(schedd, "peer closed the connection")
    assert_serving(schedd)


def test_ad_count_of_ten_to_the_twelfth(schedd):
    body = struct.pack(">q", 60010) + struct.pack(">q", 10**12)
    assert send_and_wait_close(schedd, packet(1, body)) == b""
    wait_for_log(schedd, "getPODClassAd: too many attributes (1000000000000 > 100), rejecting.")
    assert_serving(schedd)


def test_unknown_raw_command(schedd):
    assert send_and_wait_close(schedd, packet(1, struct.pack(">q", 987654))) == b""
    wait_for_log(schedd, "received unknown command 987654")
    assert_serving(schedd)


def test_non_literal_handshake_ad(schedd):
    ad = b"".join(s + b"\0" for s in (b'Command = 60020', b'Enact = 1 + 2', b"", b""))
    body = struct.pack(">q", 60010) + struct.pack(">q", 2) + ad
    assert send_and_wait_close(schedd, packet(1, body)) == b""
    wait_for_log(schedd, "getPODClassAd: trailing tokens after literal for attr Enact")
    assert_serving(schedd)


def test_valid_header_then_silence_does_not_block_others(schedd):
    s = connect(schedd)
    try:
        s.sendall(struct.pack(">BI", 0, 8) + struct.pack(">q", 60010))   # more packets promised
        assert_serving(schedd)
    finally:
        s.close()


def test_two_hundred_idle_connections(schedd):
    socks = [connect(schedd) for _ in range(200)]
    try:
        assert_serving(schedd, within=5.0)
    finally:
        for s in socks:
            s.close()
    assert_serving(schedd)
