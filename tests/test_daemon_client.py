"""The daemons' own client (security/client.py): a new FS + AES session on the event loop,
as the real client makes one; the collector sees the same identity the client library's
update would give."""
from __future__ import annotations

import asyncio
import time

from condor_sim.cedar.classad_wire import put_ad
from condor_sim.cedar.commands import Cmd
from condor_sim.cedar.stream import MessageWriter
from condor_sim.security import client
from support.clients import run_client
from support.daemons import DaemonProcess

QUERY = """
import htcondor2
return [dict(a) for a in htcondor2.Collector({addr!r}).query(
    htcondor2.AdTypes.Generic, projection=["Name", "Answer", "AuthenticationMethod", "AuthenticatedIdentity"])]
"""


def update(addr: str, name: str) -> None:
    payload = put_ad(MessageWriter(True), {"MyType": "Generic", "Name": name, "Answer": 42}).getvalue()
    asyncio.run(client.send_command(addr, Cmd.UPDATE_AD_GENERIC, [payload], subsystem="SCHEDD"))


LIBRARY_UPDATE = """
import classad2, htcondor2
htcondor2.Collector({addr!r}).advertise([classad2.ClassAd({{"MyType": "Generic", "Name": "library"}})],
                                        "UPDATE_AD_GENERIC")
return True
"""


def test_an_update_through_the_daemons_client(tmp_path):
    d = DaemonProcess(tmp_path, "collector").start()
    try:
        update(d.sinful, "own-client")
        assert run_client(LIBRARY_UPDATE.format(addr=d.sinful), d.config)["ok"]
        r = run_client(QUERY.format(addr=d.sinful), d.config)
        assert r["ok"], r
        ads = {a["Name"]: a for a in r["result"]}
        assert ads["own-client"]["Answer"] == 42
        # the same identity and method as the client library's own update
        for attr in ("AuthenticationMethod", "AuthenticatedIdentity"):
            assert ads["own-client"][attr] == ads["library"][attr], (attr, ads)
        assert ads["own-client"]["AuthenticationMethod"] == "FS"
    finally:
        d.stop()


def test_a_collector_without_encryption_gets_an_authenticated_plain_session(tmp_path):
    """The plaintext posture offers no AES: the first request (encryption required) is
    refused, the second asks for none and authenticates with FS all the same; the next
    command goes straight to the plain terms."""
    d = DaemonProcess(tmp_path, "collector", security="plaintext").start()   # offers no AES
    try:
        for name in ("plain-1", "plain-2"):
            asyncio.run(client.send_command(d.sinful, Cmd.UPDATE_AD_GENERIC,
                                            [lambda w, n=name: put_ad(w, {"MyType": "Generic", "Name": n,
                                                                          "Answer": 42})],
                                            subsystem="SCHEDD"))
        r = run_client(QUERY.format(addr=d.sinful), d.config)
        assert r["ok"], r
        ads = {a["Name"]: a for a in r["result"]}
        assert ads["plain-1"]["Answer"] == 42 and ads["plain-2"]["AuthenticationMethod"] == "FS"
        log = (tmp_path / "log" / "CollectorLog").read_text()
        assert log.count("Unable to reconcile") == 1, "the second command asks for plain terms at once"
        assert d.alive()
    finally:
        d.stop()


def log_with(pool_dir, text: str, timeout: float = 10) -> str:
    """The collector's log once it holds ``text`` (the client is done before the server
    has logged what it did)."""
    deadline = time.monotonic() + timeout
    while True:
        log = (pool_dir / "log" / "CollectorLog").read_text()
        if text in log or time.monotonic() > deadline:
            assert text in log, log
            return log
        time.sleep(0.02)


def test_the_next_command_resumes_the_kept_session(tmp_path):
    """A second command to the same daemon resumes the session the first one opened (one
    message each way, no new key); a session the daemon no longer knows (SID_NOT_FOUND) is
    dropped and a new one opened for the same command, which is not lost."""
    client.forget_sessions()
    d = DaemonProcess(tmp_path, "collector", overrides={"COLLECTOR_DEBUG": "D_SECURITY"}).start()
    try:
        update(d.sinful, "first")
        kept = client._KEPT[d.sinful]
        assert Cmd.UPDATE_AD_GENERIC in kept.commands and len(kept.key) == 32
        update(d.sinful, "second")
        assert client._KEPT[d.sinful] is kept
        log = log_with(tmp_path, f"resuming session id {kept.sid}")
        assert log.count("generating AES key for session") == 1

        client._KEPT[d.sinful] = client._Kept("vm:1:2:3", kept.key, kept.commands, kept.until)
        update(d.sinful, "third")
        assert client._KEPT[d.sinful].sid not in ("vm:1:2:3", kept.sid)
        log = log_with(tmp_path, "session vm:1:2:3 NOT FOUND")
        assert log.count("generating AES key for session") == 2

        r = run_client(QUERY.format(addr=d.sinful), d.config)
        assert r["ok"], r
        assert {a["Name"] for a in r["result"]} >= {"first", "second", "third"}
        assert d.alive()
    finally:
        d.stop()
        client.forget_sessions()


def test_sessions_without_a_key_are_not_kept(tmp_path):
    client.forget_sessions()
    d = DaemonProcess(tmp_path, "collector", security="plaintext").start()
    try:
        update_plain = [lambda w: put_ad(w, {"MyType": "Generic", "Name": "plain"})]
        asyncio.run(client.send_command(d.sinful, Cmd.UPDATE_AD_GENERIC, update_plain, subsystem="SCHEDD"))
        assert d.sinful not in client._KEPT
    finally:
        d.stop()
