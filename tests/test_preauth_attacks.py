"""Attacks by a peer that holds no key, on a whole pool (master, collector, schedd).

Each test attacks as a hostile local user would: raw sockets, session ids guessed from
what /proc shows (pid, start time), oversized or deeply nested ads, memory and connection
floods.  After each, every daemon has its old pid, MasterLog shows no shutdown, and the
real client is served.
"""
from __future__ import annotations

import base64
import os
import re
import socket
import struct
import threading
import time

import psutil
import pytest

from support.clients import python_for_other_users, run_client
from condor_sim.cedar.framing import Framer
from condor_sim.cedar.stream import MessageWriter
from condor_sim.cedar.classad_wire import put_ad
from condor_sim.pool import Pool
from support.pools import running_pool

DAEMONS = ("MASTER", "COLLECTOR", "SCHEDD")
DEBUG = {f"{d}_DEBUG": "D_SECURITY" for d in DAEMONS}
LOGS = {"MASTER": "MasterLog", "COLLECTOR": "CollectorLog", "SCHEDD": "SchedLog"}
SHUTDOWN = re.compile(r"Got SIG(TERM|QUIT)|Performing (graceful|fast) shutdown|DaemonsOff|"
                      r"EXITING WITH STATUS|Shutting down|Got DAEMONS_OFF|Restarting")


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("preauth") / "pool", **DEBUG) as p:
        yield p


def pids(pool: Pool) -> dict[str, int]:
    found = {d["name"]: d["pid"] for d in pool.status()["daemons"]}
    return {d: found[d] for d in DAEMONS}


def port_of(pool: Pool, daemon: str) -> int:
    return int(re.match(r"<127\.0\.0\.1:(\d+)", pool.address(daemon)).group(1))


def log(pool: Pool, daemon: str) -> str:
    return (pool.directory / "log" / LOGS[daemon]).read_text(errors="replace")


def wait_for(pool: Pool, daemon: str, pattern: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log(pool, daemon)
        if re.search(pattern, text):
            return text
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not in {LOGS[daemon]}:\n{log(pool, daemon)[-3000:]}")


QUERY = """
import htcondor2
c = htcondor2.Collector()
return sorted(a["MyType"] for a in c.query(htcondor2.AdTypes.Any, projection=["MyType"]))
"""


def assert_pool_whole(pool: Pool, before: dict[str, int], master_log_before: str) -> None:
    assert pids(pool) == before
    for pid in before.values():
        assert psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    new = log(pool, "MASTER")[len(master_log_before):]
    assert not SHUTDOWN.search(new), new
    r = run_client(QUERY, pool.config_file)
    assert r["ok"], r
    assert {"DaemonMaster", "Collector", "Scheduler"} <= set(r["result"]), r


def packet(end: int, body: bytes) -> bytes:
    return struct.pack(">BI", end, len(body)) + body


def handshake_message(ad: dict) -> bytes:
    """[int 60010][ad] as one plaintext message, the way a client starts a command."""
    return Framer().encode_message(put_ad(MessageWriter().put_int(60010), ad).getvalue())


def exchange(port: int, data: bytes, then: bytes = b"", timeout: float = 3) -> bytes:
    """Send ``data``, read what comes back until the daemon pauses or closes, send
    ``then``, and read until it closes.  A reset counts as a close: a daemon that hangs
    up on unread data resets the connection."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            s.settimeout(0.3)
            try:
                while chunk := s.recv(65536):
                    got += chunk
                return got
            except socket.timeout:
                pass
            s.settimeout(timeout)
            if then:
                s.sendall(then)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass
    return got


# ---------------------------------------------------------------------------- 1. resumption
OWNER_CALLS = """
import htcondor2
out = []
for d in (htcondor2.DaemonType.Master, htcondor2.DaemonType.Collector, htcondor2.DaemonType.Schedd):
    ad = htcondor2.Collector().locate(d)
    out.append(htcondor2.ping(ad["MyAddress"], "ADMINISTRATOR")["AuthorizationSucceeded"])
    out.append(htcondor2.ping(ad["MyAddress"], "ADMINISTRATOR")["AuthorizationSucceeded"])
return out
"""
# DAEMONS_OFF, DC_OFF_GRACEFUL, DC_OFF_FAST, DC_RECONFIG: no payload; DAEMON_OFF: a payload
ATTACK_COMMANDS = (454, 60005, 60006, 60004, 467)


def candidate_sids(pool: Pool, daemon: str) -> list[str]:
    """What an attacker can guess: host:pid:time:counter around the daemon's start and
    over the last minute, plus every id the daemon has really issued (read from its log,
    which an attacker could not do: the strongest case)."""
    pid = pids(pool)[daemon]
    host = socket.gethostname()
    start = int(psutil.Process(pid).create_time())
    now = int(time.time())
    times = set(range(start - 1, start + 3)) | set(range(now - 60, now + 1))
    real = re.findall(r"generating AES key for session (\S+?)\.\.\.", log(pool, daemon))
    assert real, "the owner's calls created no session"
    return real + [f"{host}:{pid}:{t}:{n}" for t in sorted(times) for n in (1, 2, 3)]


def resume_attempt(port: int, sid: str, command: int) -> bytes:
    ad = {"Command": command, "Sid": sid, "UseSession": "YES", "ResumeResponse": True,
          "CryptoMethods": "AES", "Nonce": base64.b64encode(os.urandom(33)).decode(),
          "RemoteVersion": "$CondorVersion: 25.14.1 2026-09-24 BuildID: UW_Python_Wheel_Build $"}
    # What follows the resume request stands in for the payload: a packet that claims to
    # be AES-GCM (16-byte IV, ciphertext, tag) but is made without the key.
    forged = packet(1, os.urandom(16) + os.urandom(40) + os.urandom(16))
    return exchange(port, handshake_message(ad), then=forged)


def test_guessed_or_stolen_session_ids_run_nothing(pool):
    assert run_client(OWNER_CALLS, pool.config_file)["result"] == [True] * 6
    before, master_log = pids(pool), log(pool, "MASTER")
    authorized = 0
    for daemon in DAEMONS:
        port = port_of(pool, daemon)
        for sid in candidate_sids(pool, daemon):
            for command in ATTACK_COMMANDS:
                if b"AUTHORIZED" in resume_attempt(port, sid, command):
                    authorized += 1
    # The real ids still draw AUTHORIZED for DAEMON_OFF (the reply precedes the key proof,
    # as in HTCondor); what matters is that nothing runs.
    assert authorized >= 1
    text = wait_for(pool, "MASTER", r"IO: Failed to unwrap the packet")
    assert "sent no valid message under the session key" in text
    assert re.search(r"session \S+ cannot be resumed for command 60006 \(DC_OFF_FAST\)", text)
    assert_pool_whole(pool, before, master_log)


ATTACKER = r"""
import base64, os, re, socket, struct, sys, time
import psutil
from condor_sim.cedar.classad_wire import put_ad
from condor_sim.cedar.framing import Framer
from condor_sim.cedar.stream import MessageWriter
host, out = socket.gethostname(), []
for port, pid in zip(map(int, sys.argv[1::2]), map(int, sys.argv[2::2])):
    start, now = int(psutil.Process(pid).create_time()), int(time.time())   # what /proc shows anyone
    for t in sorted(set(range(start - 1, start + 3)) | set(range(now - 60, now + 1))):
        for n in (1, 2, 3):
            for cmd in (454, 60005, 60006, 60004):
                ad = {"Command": cmd, "Sid": f"{host}:{pid}:{t}:{n}", "UseSession": "YES",
                      "ResumeResponse": True, "CryptoMethods": "AES",
                      "Nonce": base64.b64encode(os.urandom(33)).decode()}
                msg = Framer().encode_message(put_ad(MessageWriter().put_int(60010), ad).getvalue())
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(msg)
                    s.shutdown(socket.SHUT_WR)
                    try:
                        while s.recv(65536):
                            pass
                    except OSError:
                        pass
print(os.getuid())
"""


def test_another_user_guessing_session_ids_stops_nothing(pool):
    """As the report did it: a process of another user (nobody, when the tests run as root)
    guesses ids from what /proc shows and resumes them with the shutdown commands."""
    import pwd
    import subprocess
    import sys
    assert run_client(OWNER_CALLS, pool.config_file)["result"] == [True] * 6
    before, master_log = pids(pool), log(pool, "MASTER")
    args = [str(x) for d in DAEMONS for x in (port_of(pool, d), before[d])]
    python, env = sys.executable, dict(os.environ)
    as_other = {}
    if os.getuid() == 0:
        nobody = pwd.getpwnam("nobody")
        as_other = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        python, extra = python_for_other_users()
        env.update(extra)
    r = subprocess.run([python, "-c", ATTACKER, *args], capture_output=True, text=True,
                       timeout=300, cwd="/", env=env, **as_other)
    assert r.returncode == 0, r.stderr
    if as_other:
        assert int(r.stdout.split()[-1]) == as_other["user"]
    assert_pool_whole(pool, before, master_log)


def test_the_owner_still_resumes_sessions(pool):
    body = """
import htcondor2
htcondor2.enable_debug()
c = htcondor2.Collector()
return [len(c.query(htcondor2.AdTypes.Schedd)) for _ in range(3)]
"""
    r = run_client(body, pool.config_file, debug=True)
    assert r["ok"] and r["result"] == [1, 1, 1], r
    assert r["stderr"].count("using session") == 2, r["stderr"][-3000:]


# ---------------------------------------------------------------------------- 2. the parser
def handshake_with(rhs: str) -> bytes:
    lines = ["Command = 60021", f"AuthCommand = {rhs}"]
    body = struct.pack(">q", 60010) + struct.pack(">q", len(lines))
    body += b"".join(line.encode() + b"\0" for line in lines) + b"\0\0"
    return Framer().encode_message(body)


# The sizes of the report (each far past where the C++ parser overflows its stack), and
# the same shapes small enough to pass the message-size bound, so that the literal check
# itself is what refuses them.
SHAPES = {
    "sum": lambda n: "+".join(["1"] * n),
    "select": lambda n: "a" + ".b" * n,
    "parens": lambda n: "(" * n + "1" + ")" * n,
}
SIZES = {"sum": 300_000, "select": 60_000, "parens": 50_000}


def test_deep_expressions_in_the_handshake_ad_never_reach_the_parser(pool):
    before, master_log = pids(pool), log(pool, "MASTER")
    for daemon in DAEMONS:
        port = port_of(pool, daemon)
        for shape, make in SHAPES.items():
            assert exchange(port, handshake_with(make(SIZES[shape]))) == b""
            assert exchange(port, handshake_with(make(4000))) == b""
        text = wait_for(pool, daemon, r"getPODClassAd: non-literal expression rejected for attr AuthCommand")
        assert "getPODClassAd: trailing tokens after literal for attr AuthCommand" in text
        assert "message larger than 65536 bytes" in text
        assert "ERROR: DC_AUTHENTICATE unable to receive auth_info from <127.0.0.1:" in text
    assert_pool_whole(pool, before, master_log)


# ---------------------------------------------------------------------------- 3. memory
def test_forty_mebibyte_messages_before_authentication(pool):
    port = port_of(pool, "COLLECTOR")
    collector = psutil.Process(pids(pool)["COLLECTOR"])
    before, master_log = pids(pool), log(pool, "MASTER")
    rss0 = collector.memory_info().rss
    peak = [rss0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], collector.memory_info().rss)
            time.sleep(0.01)

    def flood():
        chunk = packet(0, b"x" * 60_000)         # many packets of one message, none last
        sent = 0
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(packet(0, struct.pack(">q", 60010)))
                while sent < 40 << 20:
                    s.sendall(chunk)
                    sent += len(chunk)
        except OSError:
            pass                                   # the daemon hung up: what we want

    watcher = threading.Thread(target=sample)
    watcher.start()
    floods = [threading.Thread(target=flood) for _ in range(10)]
    for t in floods:
        t.start()
    for t in floods:
        t.join(60)
    done.set()
    watcher.join()
    assert peak[0] - rss0 < 100 << 20, (rss0, peak[0])
    assert collector.memory_info().rss - rss0 < 50 << 20
    wait_for(pool, "COLLECTOR", r"message larger than 65536 bytes")
    assert_pool_whole(pool, before, master_log)


# ---------------------------------------------------------------------------- 4. slow sockets
def test_two_thousand_dribbling_sockets_do_not_starve_real_clients(pool):
    port = port_of(pool, "COLLECTOR")
    before, master_log = pids(pool), log(pool, "MASTER")
    header = packet(1, struct.pack(">q", 60010) + struct.pack(">q", 1) + b"A = 1\0\0\0")
    socks = []
    stop = threading.Event()

    def dribble():
        i = 0
        while not stop.is_set() and i < len(header):
            for s in list(socks):
                try:
                    s.send(header[i:i + 1])
                except OSError:
                    pass
            i += 1
            stop.wait(1.0)

    try:
        for _ in range(2100):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            socks.append(s)
        dribbler = threading.Thread(target=dribble)
        dribbler.start()
        wait_for(pool, "COLLECTOR", r"Too many connections")       # the table is full
        results = [run_client(QUERY, pool.config_file)["ok"] for _ in range(10)]
        assert results == [True] * 10
    finally:
        stop.set()
        for s in socks:
            s.close()
    text = log(pool, "COLLECTOR")
    assert len(re.findall(r"Too many connections", text)) <= 5, "the line is not rate-limited"
    assert_pool_whole(pool, before, master_log)
