"""The security handshake and authorization, end to end with the real htcondor client.

A simulated schedd runs in its own process; every assertion is about what the real
client (v2 ``htcondor2`` 25.x, and v1 ``htcondor`` 24.0.x where the tutorial's API
applies) returned or raised, or about the daemon's log.
"""
from __future__ import annotations

import getpass

import pytest

from support.clients import run_client
from support.daemons import DaemonProcess, schedd_fixture

ME = getpass.getuser()
LEVELS = ["READ", "WRITE", "ADMINISTRATOR", "DAEMON"]


def pool_domain(d: DaemonProcess) -> str:
    r = run_client("import htcondor2; return htcondor2.param['UID_DOMAIN']", d.config)
    return r["result"]


# The default (secure) personal-pool posture, plus CLAIMTOBE for the method tests.
schedd = schedd_fixture("sec", overrides={"SEC_DEFAULT_AUTHENTICATION_METHODS": "FS, IDTOKENS, CLAIMTOBE",
                                          "SCHEDD_DEBUG": "D_SECURITY D_COMMAND"})


@pytest.fixture
def refusing_schedd(tmp_path):
    """ADMINISTRATOR and DAEMON given to someone else (like the captures' `noadmin` pool)."""
    d = DaemonProcess(tmp_path, "schedd", "spool/.schedd_address",
                      overrides={"ALLOW_ADMINISTRATOR": "nobody@nowhere", "ALLOW_DAEMON": "nobody@nowhere"})
    d.start()
    yield d
    d.stop()


PING = """
import htcondor2
r = htcondor2.ping({addr!r}, {level!r})
return {{k: r[k] for k in r.keys()}}
"""

PING_V1 = """
import htcondor, classad
ad = classad.ClassAd({{"MyAddress": {addr!r}, "MyType": "Scheduler", "Name": "x"}})
r = htcondor.SecMan().ping(ad, {level!r})
return {{k: r[k] for k in r.keys()}}
"""


@pytest.mark.parametrize("level", LEVELS)
def test_ping_allowed_levels_v2(schedd, level):
    r = run_client(PING.format(addr=schedd.sinful, level=level), schedd.config)
    assert r["ok"], r
    ad = r["result"]
    assert ad["AuthorizationSucceeded"] is True
    assert ad["Command"] == 60040
    assert ad["AuthCommand"] == {"READ": 60020, "WRITE": 60021, "ADMINISTRATOR": 60023, "DAEMON": 60026}[level]
    assert ad["MyRemoteUserName"] == f"{ME}@{pool_domain(schedd)}"
    assert ad["AuthMethods"] == "FS"
    assert ad["Encryption"] == "YES" and ad["Integrity"] == "YES"
    assert ad["CryptoMethods"] == "AES"
    assert str(ad["AuthCommand"]) in ad["ValidCommands"].split(",")


@pytest.mark.parametrize("level", LEVELS)
def test_ping_allowed_levels_v1(schedd, level):
    r = run_client(PING_V1.format(addr=schedd.sinful, level=level), schedd.config, api="v1")
    assert r["ok"], r
    assert r["result"]["AuthorizationSucceeded"] is True
    assert r["result"]["MyRemoteUserName"] == f"{ME}@{pool_domain(schedd)}"


@pytest.mark.parametrize("level", ["ADMINISTRATOR", "DAEMON"])
def test_refused_levels_fail_as_with_a_real_daemon(refusing_schedd, level):
    d = refusing_schedd
    r = run_client(PING.format(addr=d.sinful, level=level), d.config)
    assert not r["ok"]
    assert (r["error"], r["message"]) == ("HTCondorException", "Failed to start command.")
    v1 = run_client(PING_V1.format(addr=d.sinful, level=level), d.config, api="v1")
    assert (v1["error"], v1["message"]) == ("HTCondorIOError", "Unable to send security query to daemon.")
    assert run_client(PING.format(addr=d.sinful, level="WRITE"), d.config)["ok"]
    log = d.log_text("SchedLog")
    code = {"ADMINISTRATOR": 60023, "DAEMON": 60026}[level]
    assert f"PERMISSION DENIED to {ME}@" in log
    assert f"for command {code} (DC_NOP_{level}), access level {level}: reason: " in log
    assert "DC_AUTHENTICATE: Command not authorized, done!" in log


def test_refusal_with_the_real_client_debug_log(refusing_schedd):
    d = refusing_schedd
    r = run_client(PING.format(addr=d.sinful, level="ADMINISTRATOR"), d.config, debug=True)
    assert 'Received "DENIED" from server' in r["stderr"]


@pytest.mark.parametrize("method", ["FS", "CLAIMTOBE"])
def test_each_method_is_negotiated(schedd, method):
    r = run_client(PING.format(addr=schedd.sinful, level="WRITE"), schedd.config,
                   knobs={"SEC_CLIENT_AUTHENTICATION_METHODS": method})
    assert r["ok"], r
    assert r["result"]["AuthMethods"] == method
    assert r["result"]["MyRemoteUserName"].startswith(f"{ME}@")


def test_claimtobe_session_is_limited_to_its_level(schedd):
    """A CLAIMTOBE session is authorized only for the level it was made for."""
    body = f"""
import htcondor2
c = htcondor2.Collector({schedd.sinful!r})
first = c.query(htcondor2.AdTypes.Schedd, projection=["Name"])
return len(first)
"""
    r = run_client(body, schedd.config, knobs={"SEC_CLIENT_AUTHENTICATION_METHODS": "CLAIMTOBE"})
    assert r["ok"] and r["result"] == 1


def test_second_command_resumes_the_cached_session(schedd):
    body = f"""
import htcondor2
htcondor2.enable_debug()
c = htcondor2.Collector({schedd.sinful!r})
return [len(c.query(htcondor2.AdTypes.Schedd)) for _ in range(3)]
"""
    r = run_client(body, schedd.config, debug=True)
    assert r["ok"] and r["result"] == [1, 1, 1]
    err = r["stderr"]
    assert err.count("added session") == 1, err
    assert err.count("using session") == 2, err
    assert "Authentication was a Success" in err or "authenticate" in err.lower()


def test_unregistered_command_closes_like_the_real_daemon(schedd):
    r = run_client(PING.format(addr=schedd.sinful, level="REQUEST_CLAIM"), schedd.config, debug=True)
    assert not r["ok"]
    assert "Probably due to an unknown command" in r["stderr"]
    # a command HTCondor has but this daemon does not is named in the log
    schedd.wait_for_log("received unimplemented command REQUEST_CLAIM (442) from <127.0.0.1:")


def test_raw_unnegotiated_command_served_where_policy_allows(tmp_path):
    d = DaemonProcess(tmp_path, "schedd", "spool/.schedd_address", security="plaintext").start()
    try:
        body = f"""
import htcondor2
return [a["MyType"] for a in htcondor2.Collector({d.sinful!r}).query(htcondor2.AdTypes.Schedd)]
"""
        r = run_client(body, d.config, knobs={"SEC_CLIENT_NEGOTIATION": "NEVER"})
        assert r["ok"] and r["result"] == ["Scheduler"], r
        assert run_client(body, d.config, knobs={"SEC_CLIENT_NEGOTIATION": "NEVER"}, api="v1")["ok"]
    finally:
        d.stop()


def test_raw_command_refused_where_policy_requires_negotiation(schedd):
    body = f"""
import htcondor2
return len(htcondor2.Collector({schedd.sinful!r}).query(htcondor2.AdTypes.Schedd))
"""
    # the client's own policy must allow raw mode, or it refuses before connecting
    knobs = {"SEC_CLIENT_NEGOTIATION": "NEVER", "SEC_CLIENT_AUTHENTICATION": "OPTIONAL",
             "SEC_CLIENT_ENCRYPTION": "OPTIONAL", "SEC_CLIENT_INTEGRITY": "OPTIONAL"}
    r = run_client(body, schedd.config, knobs=knobs)
    assert not r["ok"] and r["message"] == "Failed communication with collector."
    assert "DaemonCore: PERMISSION DENIED for 6 (QUERY_SCHEDD_ADS) via TCP" in schedd.log_text("SchedLog")
