"""IDTOKENS end to end: `condor-sim token create`, then the real client authenticates with it."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from support.clients import run_client
from condor_sim.security import tokens
from support.daemons import DaemonProcess

WHO = "alice@tokens.test"
PING = """
import htcondor2
r = htcondor2.ping({addr!r}, {level!r})
return [r["MyRemoteUserName"], r["AuthMethods"], r.get("AuthTokenSubject")]
"""
PING_V1 = """
import htcondor, classad
ad = classad.ClassAd({{"MyAddress": {addr!r}, "MyType": "Scheduler", "Name": "x"}})
r = htcondor.SecMan().ping(ad, {level!r})
return [r["MyRemoteUserName"], r["AuthMethods"]]
"""
TOKEN_ONLY = {"SEC_CLIENT_AUTHENTICATION_METHODS": "IDTOKENS"}


def token_create(pool, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "condor_sim.cli", "token", "create", "--dir", str(pool),
                           *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    base = tmp_path_factory.mktemp("tok")
    d = DaemonProcess(base, "schedd", "spool/.schedd_address",
                      overrides={"ALLOW_WRITE": f"$(me) {WHO}", "SCHEDD_DEBUG": "D_SECURITY"})
    tokens.ensure_pool_signing_key(base / "passwords.d" / "POOL")   # the collector's job in a full pool
    d.start()
    yield d
    d.stop()


def mint_file(d, name, *args):
    out = d.pool_dir / f"client-tokens-{name}" / name
    r = token_create(d.pool_dir, "--identity", WHO, "--output", str(out), *args)
    assert r.returncode == 0, r.stderr
    return out.parent


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_token_identity_allowed_write_refused_administrator(pool, api):
    tdir = mint_file(pool, "alice")
    knobs = dict(TOKEN_ONLY, SEC_TOKEN_DIRECTORY=tdir)
    body = PING if api == "v2" else PING_V1
    r = run_client(body.format(addr=pool.sinful, level="WRITE"), pool.config, api=api, knobs=knobs)
    assert r["ok"], r
    # the client names the method itself: 25.x says IDTOKENS, 24.0 says TOKEN
    assert r["result"][:2] == [WHO, "IDTOKENS" if api == "v2" else "TOKEN"]
    if api == "v2":
        assert r["result"][2] == WHO          # AuthToken* attributes come back from DC_SEC_QUERY
    r = run_client(body.format(addr=pool.sinful, level="ADMINISTRATOR"), pool.config, api=api, knobs=knobs)
    assert not r["ok"]
    assert f"PERMISSION DENIED to {WHO}" in pool.log_text("SchedLog")


@pytest.mark.parametrize("kind", ["expired", "forged", "garbled"])
def test_bad_tokens_are_refused_and_the_daemon_keeps_serving(pool, kind):
    tdir = pool.pool_dir / f"bad-{kind}"
    tdir.mkdir(exist_ok=True)
    raw = tokens.load_signing_key(pool.pool_dir / "passwords.d" / "POOL")
    if kind == "expired":
        tok = tokens.mint(raw, WHO, _trust_domain(pool), lifetime=10, now=time.time() - 3600)
    elif kind == "forged":
        tok = tokens.mint(b"not-the-pool-key" * 4, WHO, _trust_domain(pool))
    else:
        good = tokens.mint(raw, WHO, _trust_domain(pool))
        head, pay, sig = good.split(".")
        tok = head + "." + pay[:-6] + "AAAAAA" + "." + sig
    (tdir / "tok").write_text(tok + "\n")
    (tdir / "tok").chmod(0o600)
    knobs = dict(TOKEN_ONLY, SEC_TOKEN_DIRECTORY=tdir)
    r = run_client(PING.format(addr=pool.sinful, level="WRITE"), pool.config, knobs=knobs)
    assert not r["ok"], r
    assert r["message"] == "Failed to start command."
    if kind == "expired":
        assert "User token has been expired for" in pool.log_text("SchedLog")
    # others are still served
    ok = run_client(PING.format(addr=pool.sinful, level="WRITE"), pool.config)
    assert ok["ok"] and ok["result"][1] == "FS"


def test_token_scopes_limit_authorization(pool):
    tdir = mint_file(pool, "alice-read", "--authz", "READ")
    knobs = dict(TOKEN_ONLY, SEC_TOKEN_DIRECTORY=tdir)
    read = run_client(PING.format(addr=pool.sinful, level="READ"), pool.config, knobs=knobs)
    assert read["ok"] and read["result"][:2] == [WHO, "IDTOKENS"], read
    write = run_client(PING.format(addr=pool.sinful, level="WRITE"), pool.config, knobs=knobs)
    assert not write["ok"]


def _trust_domain(d) -> str:
    r = run_client("import htcondor2; return htcondor2.param['TRUST_DOMAIN']", d.config)
    if r["ok"]:
        return r["result"]
    return run_client("import htcondor2; return htcondor2.param['UID_DOMAIN']", d.config)["result"]
