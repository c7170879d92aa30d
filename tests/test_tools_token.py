"""condor_token_create, condor_token_list, condor_token_fetch and condor_advertise.

The local cases run against the captured pool's own config (``fixtures/cli/pool-condor_config``,
its LOCAL_DIR moved to a temporary directory, with a POOL signing key of our own) and are
compared with what the real 25.14 tools printed: byte for byte, except in a token the
signature, ``iat``/``exp`` and ``jti`` (they depend on the key and the moment).  End to end,
against a simulated pool: a token made by the tool authenticates the real client to the
schedd, one fetched from the schedd (DC_GET_SESSION_TOKEN) too, and ads sent with
condor_advertise are found, then invalidated, through the real client."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from condor_sim.security import tokens
from condor_sim.tools import _token_files as T
from condor_sim.tools import condor_advertise as ADV
from support.captures import CLI, capture
from support.clients import run_client
from support.pools import client, running_pool

REPO = Path(__file__).resolve().parent.parent




def run(module: str, argv: list[str], config: Path | str, cwd: Path | None = None,
        env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("_CONDOR_")}
    e.update({"CONDOR_CONFIG": str(config), "PYTHONPATH": str(REPO)}, **(env or {}))
    return subprocess.run([sys.executable, "-m", f"condor_sim.tools.{module}", *argv],
                          capture_output=True, text=True, cwd=cwd, env=e, timeout=60,
                          input=stdin if stdin is not None else "")


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def unb64(seg: str) -> str:
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)).decode()


def masked_payload(text: str) -> str:
    """A payload's JSON with what depends on the moment and chance replaced (exp kept relative)."""
    claims = json.loads(text)
    iat = claims.get("iat")
    text = re.sub(r'"jti":"[0-9a-f]{32}"', '"jti":"JTI"', text)
    text = re.sub(r'"iat":\d+', '"iat":IAT', text)
    if "exp" in claims:
        text = re.sub(r'"exp":\d+', f'"exp":IAT+{claims["exp"] - iat}', text)
    return text


# ---------------------------------------------------------------------------- the captured pool
@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Path:
    """The captured pool's LOCAL_DIR at a temporary path, with a POOL key and a cwd of jobs."""
    pool = tmp_path_factory.mktemp("srv") / "pool"
    for d in ("log", "spool", "execute", "lock", "run", "jobs", "passwords.d", "tokens.d", "home"):
        (pool / d).mkdir(parents=True)
    text = (CLI / "pool-condor_config").read_text().replace("/srv/pool", str(pool))
    (pool / "condor_config").write_text(text)
    tokens.ensure_pool_signing_key(str(pool / "passwords.d" / "POOL"))
    for f in (CLI / "input-files").iterdir():
        shutil.copy(f, pool / "jobs" / f.name)
    return pool


def token_env(srv: Path, user_dir: Path | None = None) -> dict:
    return {"_CONDOR_SEC_TOKEN_DIRECTORY": str(user_dir or srv / "user-tokens")}


def cap(tool: str, case: str) -> dict:
    return capture(CLI / tool / f"{case}.txt")


def test_token_create_usage_is_the_real_one(srv):
    c = cap("condor_token_create", "noargs")
    r = run("condor_token_create", c["argv"], srv / "condor_config", cwd=srv / "jobs")
    assert (r.returncode, r.stdout, r.stderr) == (c["rc"], c["stdout"], c["stderr"])


@pytest.mark.parametrize("case", ["identity-alice", "bad-identity-no-domain",
                                  "identity-alice-lifetime-authz"])
def test_token_create_prints_the_token_the_real_one_prints(srv, case):
    c = cap("condor_token_create", case)
    r = run("condor_token_create", c["argv"], srv / "condor_config", cwd=srv / "jobs")
    assert (r.returncode, r.stderr) == (c["rc"], c["stderr"])
    head, pay, sig = r.stdout.strip().split(".")
    want_head, want_pay, masked = c["stdout"].strip().split(".")
    assert head == want_head and masked == "MASKED-SIGNATURE" and len(sig) == 43
    assert len(pay) == len(want_pay)                    # same claims, same lengths
    assert masked_payload(unb64(pay)) == masked_payload(unb64(want_pay))
    raw = tokens.load_signing_key(srv / "passwords.d" / "POOL")
    claims = tokens.validate(r.stdout.strip(), lambda kid: raw if kid == "POOL" else None)
    assert claims["iss"] == "localdomain"


def test_token_create_missing_key_is_the_real_error(srv):
    c = cap("condor_token_create", "identity-alice-key-missing")
    r = run("condor_token_create", c["argv"], srv / "condor_config", cwd=srv / "jobs")
    assert (r.returncode, r.stdout) == (c["rc"], c["stdout"])
    assert r.stderr == c["stderr"].replace("/srv/pool", str(srv))


def test_token_create_file_and_token_dir_then_list_them(srv, tmp_path):
    user_dir = tmp_path / "tokens.d"
    env = token_env(srv, user_dir)
    c = cap("condor_token_create", "file-out")
    argv = [a.replace("/srv/pool", str(srv)) for a in c["argv"]]
    r = run("condor_token_create", argv, srv / "condor_config", cwd=srv / "jobs", env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    bob = srv / "jobs" / "bob.token"
    assert stat.S_IMODE(bob.stat().st_mode) == 0o600 and bob.read_text().count("\n") == 1

    c = cap("condor_token_create", "token-file-to-tokens.d")
    r = run("condor_token_create", c["argv"], srv / "condor_config", cwd=srv / "jobs", env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert (user_dir / "clicap-alice").exists()
    assert stat.S_IMODE(user_dir.stat().st_mode) == 0o700

    c = cap("condor_token_list", "with-user-token")
    r = run("condor_token_list", c["argv"], srv / "condor_config", cwd=srv / "jobs", env=env)
    want = c["stdout"].replace("/home/htcpool/.condor/tokens.d", str(user_dir))
    mask = lambda text: re.sub(r'"(jti|iat)":("[0-9a-f]+"|\d+)', "X", text)   # noqa: E731
    assert (r.returncode, mask(r.stdout)) == (0, mask(want))
    bob.unlink()


@pytest.mark.parametrize("case", ["file-bob", "dir-jobs"])
def test_token_list_prints_what_the_real_one_printed(srv, tmp_path, case):
    """bob.token rebuilt from the header and payload the capture shows; listed byte for byte."""
    line = cap("condor_token_list", "dir-jobs")["stdout"]
    m = re.match(r"Header: (\S+) Payload: (\S+) File: ", line)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "bob.token").write_text(f"{b64(m.group(1))}.{b64(m.group(2))}.c2ln\n")
    c = cap("condor_token_list", case)
    argv = [a.replace("/srv/pool/jobs", str(jobs)) for a in c["argv"]]
    r = run("condor_token_list", argv, srv / "condor_config", cwd=jobs, env=token_env(srv))
    assert (r.returncode, r.stderr) == (c["rc"], c["stderr"])
    assert r.stdout == c["stdout"].replace("/srv/pool/jobs", str(jobs))


@pytest.mark.parametrize("case", ["help", "dir-missing", "noargs-empty"])
def test_token_list_help_and_nothing_to_list(srv, tmp_path, case):
    c = cap("condor_token_list", case)
    argv = [a.replace("/srv/pool", str(srv)) for a in c["argv"]]
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("condor_token_list", argv, srv / "condor_config", cwd=srv / "jobs",
            env=token_env(srv, empty))
    assert (r.returncode, r.stdout, r.stderr) == (c["rc"], c["stdout"], c["stderr"])


def test_token_list_skips_comments_junk_and_excluded_files(srv, tmp_path):
    raw = tokens.load_signing_key(srv / "passwords.d" / "POOL")
    tok = tokens.mint(raw, "carol@localdomain", "localdomain", now=1795896255)
    (tmp_path / "t").write_text(f"# a comment\n\nnot-a-jwt\n  {tok}  \n")
    (tmp_path / "t~").write_text(tok + "\n")                 # LOCAL_CONFIG_DIR_EXCLUDE_REGEXP
    (tmp_path / "sub").mkdir()
    r = run("condor_token_list", ["-dir", str(tmp_path)], srv / "condor_config")
    head, pay = tokens.decode_raw(tok)
    assert r.stdout == f"Header: {head} Payload: {pay} File: {tmp_path / 't'}\n"
    assert head == '{"alg":"HS256","kid":"POOL"}'


def test_token_dir_follows_the_real_order(monkeypatch):
    monkeypatch.setattr(T, "_param", lambda n: {"SEC_TOKEN_DIRECTORY": "/cfg/tokens.d",
                                                "SEC_TOKEN_SYSTEM_DIRECTORY": "/etc/t"}.get(n, ""))
    assert T.token_directory() == "/cfg/tokens.d"
    monkeypatch.setattr(T, "_param", lambda n: {"SEC_TOKEN_SYSTEM_DIRECTORY": "/etc/t"}.get(n, ""))
    monkeypatch.setattr(T, "_passwd_home", lambda: "/home/u")
    monkeypatch.setattr(T.os, "geteuid", lambda: 1000)
    assert T.token_directory() == "/home/u/.condor/tokens.d"
    monkeypatch.setattr(T.os, "geteuid", lambda: 0)
    assert T.token_directory() == "/etc/t"
    assert T.parse_lifetime(" 10abc") == 10 and T.parse_lifetime("x") is None


def test_token_create_option_errors():
    from condor_sim.tools import condor_token_create as TC
    from condor_sim.tools.common import ToolError
    with pytest.raises(ToolError, match="Invalid argument for -lifetime: soon."):
        TC.parse_args(["-identity", "a@b", "-lifetime", "soon"])
    with pytest.raises(ToolError, match="-identity requires a condor identity"):
        TC.parse_args(["-lifetime", "5", "-identity"])
    with pytest.raises(ToolError, match="Invalid command line argument: -bogus") as e:
        TC.parse_args(["-identity", "a@b", "-bogus"])
    assert e.value.rc == 1 and "Usage: condor_token_create" in e.value.stderr
    o = TC.parse_args(["-id", "a@b", "-a", "READ", "-a", "WRITE", "-l", "-1", "-tok", "n"])
    assert (o.identity, o.authz, o.lifetime, o.token_name, o.use_tokens_dir) == \
        ("a@b", ["READ", "WRITE"], -1, "n", True)


# ---------------------------------------------------------------------------- condor_advertise
@pytest.mark.parametrize("case", ["noargs", "bogus-command", "update_ad_generic-bad-ad",
                                  "update_ad_generic-missing-file"])
def test_advertise_errors_are_the_real_ones(srv, case):
    c = cap("condor_advertise", case)
    r = run("condor_advertise", c["argv"], srv / "condor_config", cwd=srv / "jobs", stdin=c["stdin"])
    assert (r.returncode, r.stdout, r.stderr) == (c["rc"], c["stdout"], c["stderr"])


def test_advertise_parses_like_the_real_one():
    text = (CLI / "input-files" / "generic-multi.ad").read_text()
    assert [a["Name"] for a in ADV.parse_ads(text, True)] == ["clicap-generic-2", "clicap-generic-3"]
    one = ADV.parse_ads(text, False)                # without -multiple: one ad, the last value wins
    assert len(one) == 1 and one[0]["Number"] == 3
    assert ADV.parse_ads("# only a comment\n\n", True) == []
    assert ADV.parse_ads((CLI / "input-files" / "generic-bad.ad").read_text(), False) is None
    assert ADV.guess_command(ADV.parse_ads('MyType = "Generic"\n', False)[0]) == "UPDATE_AD_GENERIC"
    assert ADV.guess_command(ADV.parse_ads('MyType = "Scheduler"\n', False)[0]) == "UPDATE_AD_GENERIC"
    assert ADV.guess_command(ADV.parse_ads('MyType = "Master"\n', False)[0]) == "UPDATE_MASTER_AD"
    assert ADV.usage("condor_advertise", "all") == cap("condor_advertise", "bogus-command")[
        "stderr"].split("\n\n", 1)[1]


# ---------------------------------------------------------------------------- a running pool
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("tok") / "p") as p:
        yield p


def sent_line(out: str) -> str:
    return re.sub(r"to 127\.0\.0\.1:\d+\.", "to 127.0.0.1:29731.", out)


ADVERTISED = """
import htcondor2
ads = htcondor2.Collector().query(htcondor2.AdTypes.Generic,
                                  constraint='regexp("^clicap-", Name)', projection=["Name", "Number"])
return sorted([a["Name"], a.get("Number")] for a in ads)
"""


def test_advertise_then_query_then_invalidate(pool):
    cwd = pool.directory / "jobs"
    cwd.mkdir(exist_ok=True)
    for f in (CLI / "input-files").iterdir():
        shutil.copy(f, cwd / f.name)
    for case in ("update_ad_generic", "update_ad_generic-multiple", "update_ad_generic-stdin", "udp"):
        c = cap("condor_advertise", case)
        r = run("condor_advertise", c["argv"], pool.config_file, cwd=cwd, stdin=c["stdin"])
        assert (r.returncode, sent_line(r.stdout), r.stderr) == (c["rc"], c["stdout"], c["stderr"]), case
    assert client(pool, ADVERTISED) == [["clicap-generic-1", 42], ["clicap-generic-2", 2],
                                        ["clicap-generic-3", 3], ["clicap-generic-stdin", None]]
    c = cap("condor_advertise", "invalidate-generic")
    r = run("condor_advertise", c["argv"], pool.config_file, cwd=cwd, stdin=c["stdin"])
    assert (r.returncode, sent_line(r.stdout), r.stderr) == (c["rc"], c["stdout"], c["stderr"])
    # the same three the real pool kept (after-invalidate-query)
    assert client(pool, ADVERTISED) == [["clicap-generic-1", 42], ["clicap-generic-3", 3],
                                        ["clicap-generic-stdin", None]]
    got = client(pool, """
import htcondor2
ad = htcondor2.Collector().query(htcondor2.AdTypes.Generic, constraint='Name == "clicap-generic-1"')[0]
return [ad["MyAddress"], ad["Foo"], ad["Machine"]]
""")
    assert re.fullmatch(r"<[\d.]+:0>", got[0]) and got[1:] == ["bar", "vm"]


PING = """
import htcondor2
loc = htcondor2.Collector().locate(htcondor2.DaemonType.Schedd)
r = htcondor2.ping(loc, "WRITE")
return [r["MyRemoteUserName"], r["AuthMethods"], r.get("AuthTokenSubject"), r.get("AuthTokenScopes")]
"""


def test_fetched_and_created_tokens_authenticate_the_real_client(pool, tmp_path):
    """condor_token_fetch asks the schedd for a token as us (FS); condor_token_create mints
    one for the same identity from the pool key; the real client pings with each (IDTOKENS
    only), and condor_token_list shows both."""
    tdir = tmp_path / "tokens.d"
    env = {"_CONDOR_SEC_TOKEN_DIRECTORY": str(tdir)}
    r = run("condor_token_fetch", ["-token", "fetched"], pool.config_file, env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    fetched = (tdir / "fetched").read_text().strip()
    raw = tokens.load_signing_key(pool.directory / "passwords.d" / "POOL")
    claims = tokens.validate(fetched, lambda kid: raw if kid == "POOL" else None)
    who = claims["sub"]
    knobs = {"SEC_CLIENT_AUTHENTICATION_METHODS": "IDTOKENS", "SEC_TOKEN_DIRECTORY": tdir}
    r1 = run_client(PING, pool.config_file, knobs=knobs)
    assert r1["ok"] and r1["result"] == [who, "IDTOKENS", who, None], r1

    (tdir / "fetched").unlink()
    r = run("condor_token_create", ["-identity", who, "-authz", "READ", "-authz", "WRITE",
                                    "-lifetime", "600", "-token", "created"], pool.config_file, env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r2 = run_client(PING, pool.config_file, knobs=knobs)
    assert r2["ok"] and r2["result"] == [who, "IDTOKENS", who, "condor:/READ condor:/WRITE"], r2

    r = run("condor_token_list", [], pool.config_file, env=env)
    head, pay = tokens.decode_raw((tdir / "created").read_text().strip())
    assert r.stdout == f"Header: {head} Payload: {pay} File: {tdir / 'created'}\n"
    assert json.loads(pay)["exp"] - json.loads(pay)["iat"] == 600


def test_token_fetch_limits_and_refusals(pool):
    r = run("condor_token_fetch", ["-authz", "READ", "-lifetime", "60", "-type", "master"],
            pool.config_file)
    assert r.returncode == 0, r.stderr
    claims = json.loads(tokens.decode_raw(r.stdout.strip())[1])
    assert claims["scope"] == "condor:/READ" and claims["exp"] - claims["iat"] == 60
    r = run("condor_token_fetch", ["-key", "OTHER"], pool.config_file)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "Failed to request a session token: DAEMON:3:Server will not sign with requested key.\n"
    r = run("condor_token_fetch", ["-name", "nosuch@nowhere"], pool.config_file)
    assert (r.returncode, r.stderr) == (1, "ERROR: couldn't locate daemon nosuch@nowhere!\n")


def test_condor_sim_token_create_takes_both_spellings(srv, tmp_path):
    """``condor-sim token create`` keeps its own options and also takes the real tool's."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("_CONDOR_")}
    e.update(CONDOR_CONFIG=str(srv / "condor_config"), PYTHONPATH=str(REPO))
    real = subprocess.run([sys.executable, "-m", "condor_sim.cli", "token", "create", "-identity",
                           "alice@localdomain", "-authz", "READ"], capture_output=True, text=True,
                          env=e, timeout=60)
    own = subprocess.run([sys.executable, "-m", "condor_sim.cli", "token", "create", "--dir", str(srv),
                          "--identity", "alice@localdomain", "--authz", "READ"],
                         capture_output=True, text=True, env=e, timeout=60)
    assert real.returncode == own.returncode == 0, real.stderr + own.stderr
    raw = tokens.load_signing_key(srv / "passwords.d" / "POOL")
    for r in (real, own):
        claims = tokens.validate(r.stdout.strip(), lambda kid: raw if kid == "POOL" else None)
        assert (claims["sub"], claims["scope"], claims["iss"]) == \
            ("alice@localdomain", "condor:/READ", "localdomain")
