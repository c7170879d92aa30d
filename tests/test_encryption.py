"""AES-GCM after the handshake, as a real current personal pool negotiates it."""
from __future__ import annotations

import socket
import threading

import pytest

from support.clients import run_client
from support.daemons import DaemonProcess, schedd_fixture


class Relay:
    """A loopback TCP relay that records what crosses it in each direction."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.c2s = bytearray()
        self.s2c = bytearray()
        self._threads = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for a, b, buf in ((client, server, self.c2s), (server, client, self.s2c)):
                t = threading.Thread(target=self._pump, args=(a, b, buf), daemon=True)
                t.start()
                self._threads.append(t)

    @staticmethod
    def _pump(src, dst, buf):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()
        for t in self._threads:
            t.join(5)


QUERY = """
import htcondor2
ads = htcondor2.Collector({addr!r}).query(htcondor2.AdTypes.Schedd)
return [a["MyType"] for a in ads]
"""
# Through a relay FS cannot work (the FS channel binding names the relay, not the
# daemon), so this client does not insist on authenticating; READ allows that.
ANON = {"SEC_CLIENT_AUTHENTICATION": "OPTIONAL"}
AFTER_HANDSHAKE = [b"TotalJobAds", b"MyAddress", b"Scheduler", b"ValidCommands", b"ReturnCode",
                   b"Requirements", b"TargetType"]


def run_through_relay(d: DaemonProcess):
    relay = Relay(d.port)
    try:
        r = run_client(QUERY.format(addr=f"<127.0.0.1:{relay.port}>"), d.config, knobs=ANON)
    finally:
        relay.close()
    return r, bytes(relay.c2s), bytes(relay.s2c)


secure = schedd_fixture("enc", overrides={"ALLOW_READ": "*"})


def test_no_attribute_name_crosses_in_clear_after_the_handshake(secure):
    r, c2s, s2c = run_through_relay(secure)
    assert r["ok"] and r["result"] == ["Scheduler"], r
    assert b"ECDHPublicKey" in c2s and b"ECDHPublicKey" in s2c      # the handshake was in clear
    for word in AFTER_HANDSHAKE:
        assert word not in c2s and word not in s2c, word


def test_the_same_relay_sees_everything_with_the_plaintext_posture(tmp_path):
    d = DaemonProcess(tmp_path, "schedd", "spool/.schedd_address", security="plaintext").start()
    try:
        r, c2s, s2c = run_through_relay(d)
        assert r["ok"] and r["result"] == ["Scheduler"], r
        assert b"Requirements" in c2s and b"TotalJobAds" in s2c
    finally:
        d.stop()


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_ping_reports_encryption_and_integrity_with_default_client_knobs(secure, api):
    if api == "v2":
        body = f"""
import htcondor2
r = htcondor2.ping({secure.sinful!r}, "WRITE")
return [r["Encryption"], r["Integrity"], r["CryptoMethods"], r["AuthMethods"]]
"""
    else:
        body = f"""
import htcondor, classad
ad = classad.ClassAd({{"MyAddress": {secure.sinful!r}, "MyType": "Scheduler", "Name": "x"}})
r = htcondor.SecMan().ping(ad, "WRITE")
return [r["Encryption"], r["Integrity"], r["CryptoMethods"], r["AuthMethods"]]
"""
    r = run_client(body, secure.config, api=api)
    assert r["ok"], r
    assert r["result"] == ["YES", "YES", "AES", "FS"]


def test_a_client_that_refuses_encryption_is_refused(secure):
    r = run_client(QUERY.format(addr=secure.sinful), secure.config,
                   knobs={"SEC_CLIENT_ENCRYPTION": "NEVER", "SEC_CLIENT_INTEGRITY": "NEVER"})
    assert not r["ok"] and r["message"] == "Failed communication with collector."
    assert "Unable to reconcile" in secure.log_text("SchedLog")
