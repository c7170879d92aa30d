"""Shared port: with USE_SHARED_PORT every daemon sits behind condor_shared_port's one
TCP port, on a named socket, and advertises that port with ``sock=<id>``; the real
client (v2 and v1) sends the preamble and talks to the daemon it names, and a
connection without one reaches the collector.  A pool without it is unchanged."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket

import pytest

from condor_sim.cedar.framing import Framer
from condor_sim.shared_port import endpoint as sp
from condor_sim.shared_port import wire
from support.clients import require_v1
from support.pools import (FIVE_DAEMONS, SINFUL, client, daemon_pids, log, running_pool, started_pid,
                           wait_gone, wait_log)

SHARED = re.compile(r"^<127\.0\.0\.1:(\d+)\?addrs=127\.0\.0\.1-(\d+)&alias=[^&>]+&noUDP&sock=([a-z0-9_]+)>$")


# ---------------------------------------------------------------------------- sans IO
def test_preamble_is_the_documented_message():
    payload = wire.preamble("schedd_20_9c63", "TOOL")
    assert payload == (b"\0" * 7 + b"\x4b" + b"schedd_20_9c63\0" + b"TOOL\0"
                       + b"\xff" * 8 + b"\0" * 8)
    req = wire.parse_request(payload)
    assert (req.shared_port_id, req.client_name, req.deadline) == ("schedd_20_9c63", "TOOL", -1)


@pytest.mark.parametrize("payload", [
    wire.preamble("x")[:10],                                           # cut short
    b"\0" * 7 + b"\x4c" + wire.preamble("x")[8:],                     # not command 75
    wire.preamble("x")[:-8] + (101).to_bytes(8, "big"),               # more_args out of range
])
def test_bad_preambles_are_refused(payload):
    with pytest.raises(wire.PreambleError):
        wire.parse_request(payload)


def test_first_int_of_a_connection_decides_where_it_goes():
    framed = Framer().encode_message(wire.preamble("collector"))
    assert wire.first_int(framed[:wire.PEEK_SIZE]) == wire.SHARED_PORT_CONNECT
    auth = Framer().encode_message((60010).to_bytes(8, "big"))
    assert wire.first_int(auth[:wire.PEEK_SIZE]) == 60010
    assert wire.first_int(auth[:5]) is None


def test_sinfuls_and_endpoint_names():
    base = "<127.0.0.1:9618?addrs=127.0.0.1-9618&alias=host&noUDP>"
    s = wire.sinful_for(base, "schedd_20_9c63")
    assert s == "<127.0.0.1:9618?addrs=127.0.0.1-9618&alias=host&noUDP&sock=schedd_20_9c63>"
    assert wire.sock_of(s) == "schedd_20_9c63" and wire.sock_of(base) is None
    assert wire.sinful_for(s, "collector").endswith("&sock=collector>")
    assert wire.sinful_for("<127.0.0.1:5>", "a") == "<127.0.0.1:5?sock=a>"
    assert wire.endpoint_name("SCHEDD", 20, 0x9c63) == "schedd_20_9c63"
    assert re.fullmatch(r"startd_\d+_[0-9a-f]{4}", wire.endpoint_name("STARTD"))
    assert not wire.valid_id("../x") and wire.valid_id("collector")


def test_ad_file_round_trip():
    text = wire.ad_file_text("<127.0.0.1:5?noUDP>", {"RequestsSucceeded": 2})
    assert wire.address_from_ad_text(text) == "<127.0.0.1:5?noUDP>"
    assert wire.address_from_ad_text("garbage [") is None


def test_socket_dir_auto_falls_back_when_too_long():
    assert wire.socket_dir_for("auto", "/var/lock/condor") == "/var/lock/condor/daemon_sock"
    assert wire.socket_dir_for(None, "/x" * 60) is None
    assert wire.socket_dir_for("/run/sock", None) == "/run/sock"


# ---------------------------------------------------------------------------- a descriptor passed
def test_a_connection_is_passed_with_its_unread_bytes(tmp_path):
    """What the client sent after the preamble reaches the endpoint's daemon intact."""
    async def scenario():
        got: asyncio.Future = asyncio.get_running_loop().create_future()

        async def take(sock: socket.socket):
            assert not os.get_inheritable(sock.fileno())
            reader, writer = await asyncio.open_connection(sock=sock)
            got.set_result(await reader.readexactly(5))
            writer.close()

        cookie = sp.make_cookie(str(tmp_path / "socks"), None)
        ep = sp.Endpoint(wire.endpoint_address(cookie, "schedd_1_0001"), take)
        ep.start()
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        port = server.getsockname()[1]
        reader, writer = await sp.open_connection(f"<127.0.0.1:{port}?sock=schedd_1_0001>", "TOOL")
        writer.write(b"hello")
        conn, _ = await asyncio.get_running_loop().sock_accept(server)
        conn.setblocking(False)
        req = wire.parse_request(await sp.read_message_exactly(conn))
        assert req.shared_port_id == "schedd_1_0001"
        await sp.pass_socket(wire.endpoint_address(cookie, req.shared_port_id), conn.fileno())
        conn.close()
        data = await asyncio.wait_for(got, 5)
        writer.close()
        ep.close()
        server.close()
        return data

    assert asyncio.run(scenario()) == b"hello"


# ---------------------------------------------------------------------------- a pool behind one port
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    base = tmp_path_factory.mktemp("sp")
    with running_pool(base / "pool", USE_SHARED_PORT="True", AUTO_INCLUDE_SHARED_PORT_IN_DAEMON_LIST="True",
                      DAEMON_LIST=FIVE_DAEMONS, NUM_CPUS="2", MEMORY="2048") as p:
        yield p


def test_master_adds_and_starts_shared_port_first(pool):
    text = log(pool)
    assert "Adding SHARED_PORT to DAEMON_LIST, because USE_SHARED_PORT=true (to disable this, " \
           "set AUTO_INCLUDE_SHARED_PORT_IN_DAEMON_LIST=False)" in text
    started = re.findall(r'Started DaemonCore process ".*/condor_(\w+)"', text)
    assert started[:2] == ["shared_port", "collector"], started
    assert log(pool, "SharedPortLog")


def test_every_daemon_advertises_the_shared_port_with_its_id(pool):
    shared = SINFUL.match(pool.address("SHARED_PORT"))
    assert shared
    ids = {}
    for name in ("MASTER", "COLLECTOR", "NEGOTIATOR", "SCHEDD", "STARTD"):
        m = SHARED.match(pool.address(name) or "")
        assert m, (name, pool.address(name))
        assert m.group(1) == m.group(2) == shared.group(1)
        ids[name] = m.group(3)
    assert ids["COLLECTOR"] == "collector"
    assert re.fullmatch(r"schedd_\d+_[0-9a-f]{4}", ids["SCHEDD"])
    assert len(set(ids.values())) == 5


def test_v2_collector_locate_and_ping(pool):
    r = client(pool, """
import htcondor2
c = htcondor2.Collector()
out = {"schedds": [a["Name"] for a in c.query(htcondor2.AdTypes.Schedd, projection=["Name"])]}
for t in ("Master", "Collector", "Negotiator", "Schedd", "Startd"):
    ad = c.locate(getattr(htcondor2.DaemonType, t))
    out[t] = ad["MyAddress"]
    out[t + "-ping"] = bool(htcondor2.ping(ad, "READ")["AuthorizationSucceeded"])
return out
""")
    assert len(r["schedds"]) == 1
    for t, subsys in (("Master", "MASTER"), ("Schedd", "SCHEDD"), ("Collector", "COLLECTOR")):
        assert r[t] == pool.address(subsys)
    assert all(r[t + "-ping"] for t in ("Master", "Collector", "Negotiator", "Schedd", "Startd")), r


def test_a_connection_without_preamble_reaches_the_collector(pool):
    port = SINFUL.match(pool.address("SHARED_PORT")).group(1)
    r = client(pool, f"""
import htcondor2
return len(htcondor2.Collector("127.0.0.1:{port}").query(htcondor2.AdTypes.Schedd, projection=["Name"]))
""")
    assert r == 1


def test_v2_schedd_submit_query_act_and_a_job_runs(pool, tmp_path):
    out = tmp_path / "out"
    r = client(pool, f"""
import htcondor2, time
s = htcondor2.Schedd()
held = s.submit(htcondor2.Submit({{"executable": "/bin/sleep", "arguments": "300", "hold": "true"}})).cluster()
q = [dict(a) for a in s.query(f"ClusterId == {{held}}", ["JobStatus"])]
act = s.act(htcondor2.JobAction.Remove, f"ClusterId == {{held}}")
c = s.submit(htcondor2.Submit({{"executable": "/bin/echo", "arguments": "behind one port",
                                "output": {str(out)!r}}})).cluster()
deadline = time.time() + 60
while time.time() < deadline and s.query(f"ClusterId == {{c}}", ["ProcId"]):
    time.sleep(0.1)
hist = [dict(a) for a in s.history(f"ClusterId == {{c}}", ["ExitCode", "JobStatus"], match=1)]
return {{"q": q, "removed": act["TotalSuccess"], "hist": hist}}
""", timeout=90)
    assert [a["JobStatus"] for a in r["q"]] == [5] and r["removed"] == 1
    assert r["hist"] == [{"ExitCode": 0, "JobStatus": 4}]
    assert out.read_text() == "behind one port\n"


def test_v1_client_through_the_shared_port(pool, tmp_path):
    require_v1()
    out = tmp_path / "v1.out"
    r = client(pool, f"""
import htcondor, time
coll = htcondor.Collector()
ad = coll.locate(htcondor.DaemonTypes.Schedd)
ping = htcondor.SecMan().ping(ad, "WRITE")
schedd = htcondor.Schedd(ad)
sub = htcondor.Submit({{"executable": "/bin/echo", "arguments": "v1", "output": {str(out)!r}}})
with schedd.transaction() as txn:
    c = sub.queue(txn)
deadline = time.time() + 60
while time.time() < deadline and schedd.query(f"ClusterId == {{c}}", ["ProcId"]):
    time.sleep(0.1)
return {{"addr": ad["MyAddress"], "ping": bool(ping["AuthorizationSucceeded"]),
        "hist": [dict(a) for a in schedd.history(f"ClusterId == {{c}}", ["ExitCode", "JobStatus"], 1)]}}
""", api="v1", timeout=90)
    assert r["addr"] == pool.address("SCHEDD") and "&sock=schedd_" in r["addr"]
    assert r["ping"] and r["hist"] == [{"ExitCode": 0, "JobStatus": 4}]
    assert out.read_text() == "v1\n"


def test_without_shared_port_nothing_changes(tmp_path):
    with running_pool(tmp_path / "p") as p:
        assert SINFUL.match(p.address("SCHEDD")) and p.address("SHARED_PORT") is None
        assert "SHARED_PORT" not in log(p)


def test_a_restarted_shared_port_daemon_takes_its_port_again(tmp_path):
    with running_pool(tmp_path / "p", USE_SHARED_PORT="True", AUTO_INCLUDE_SHARED_PORT_IN_DAEMON_LIST="True") as p:
        before = p.address("SHARED_PORT")
        pid = daemon_pids(p)["SHARED_PORT"]
        mark, sp_mark = len(log(p)), len(log(p, "SharedPortLog"))
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid)
        assert started_pid(p, "SHARED_PORT", start=mark) != pid
        wait_log(p, rf"^.* DaemonCore: command socket at {re.escape(before)}$", name="SharedPortLog",
                 start=sp_mark)
        r = client(p, """
import htcondor2
return [a["MyAddress"] for a in htcondor2.Collector().query(htcondor2.AdTypes.Schedd, projection=["MyAddress"])]
""")
        assert r == [p.address("SCHEDD")]


def test_connections_not_yet_routed_are_bounded():
    """A peer that opens connections and says nothing holds at most ``limit`` of them:
    past that, the oldest is closed (the shared port reads nothing before routing, so no
    authentication can have happened)."""
    from condor_sim.daemoncore import _RawServer

    async def scenario():
        taken = []

        async def silent(conn):            # a route that waits forever for its preamble
            taken.append(conn)
            await asyncio.Event().wait()
        server = _RawServer(silent, 0, limit=3)
        try:
            clients = []
            for i in range(5):
                clients.append(await asyncio.open_connection("127.0.0.1", server.port))
                while len(taken) <= i:           # the server has taken it, in this order
                    await asyncio.sleep(0.01)
            closed = []
            for r, _ in clients:
                try:
                    closed.append(await asyncio.wait_for(r.read(1), 0.5) == b"")
                except asyncio.TimeoutError:
                    closed.append(False)
            for _, w in clients:
                w.close()
            return closed, len(server._held)
        finally:
            server.close()

    closed, held = asyncio.run(scenario())
    assert closed == [True, True, False, False, False] and held == 3
