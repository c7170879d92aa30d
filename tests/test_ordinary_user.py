"""A pool started by an ordinary (non-root) user works for that user.

The test machine runs as root, so FS authentication there identifies ``root``; here the
pool and its client run as ``nobody`` instead, as they would on a user's laptop.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psutil
import pytest

from support.clients import python_for_other_users, run_client

USER = "nobody"


def as_user(args: list[str], **kw) -> subprocess.CompletedProcess:
    """``condor-sim ARGS`` run as USER."""
    pw = pwd.getpwnam(USER)
    python, extra = python_for_other_users()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("_CONDOR_")}
    env.update(HOME=pw.pw_dir, USER=USER, LOGNAME=USER, **extra)
    cmd = [python, "-c", "import sys; from condor_sim.cli import main; sys.exit(main())", *args]
    return subprocess.run(cmd, env=env, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                          capture_output=True, text=True, timeout=60, cwd="/", **kw)


@pytest.fixture
def user_pool():
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to another uid")
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        pytest.skip(f"no {USER} account")
    # pytest's own tmp dirs are private to root: use a directory the user can reach
    base = Path(tempfile.mkdtemp(prefix="condor-sim-user-"))
    os.chmod(base, 0o755)
    pool = base / "pool"
    pool.mkdir()
    shutil.chown(pool, pw.pw_uid, pw.pw_gid)
    up = as_user(["up", "--dir", str(pool)])
    assert up.returncode == 0, up.stdout + up.stderr
    yield pool
    as_user(["down", "--dir", str(pool)])
    left = [p for p in psutil.process_iter(["cmdline", "environ"])
            if str(pool) in " ".join(p.info["cmdline"] or [])
            or str(pool) in str((p.info["environ"] or {}).get("CONDOR_CONFIG", ""))]
    shutil.rmtree(base, ignore_errors=True)
    assert not left, left


def test_pool_of_an_ordinary_user(user_pool):
    cfg = user_pool / "condor_config"
    pids = [p for p in psutil.process_iter(["username", "cmdline"])
            if str(user_pool) in " ".join(p.info["cmdline"] or [])]
    assert pids and all(p.info["username"] == USER for p in pids)
    body = """
import htcondor2
c = htcondor2.Collector()
types = sorted(a["MyType"] for a in c.query(htcondor2.AdTypes.Any, projection=["MyType"]))
ping = htcondor2.ping(c.locate(htcondor2.DaemonType.Master), "ADMINISTRATOR")
return [types, ping["MyRemoteUserName"], ping["AuthMethods"], ping["Encryption"]]
"""
    r = run_client(body, cfg, user=USER)
    assert r["ok"], r
    types, who, method, enc = r["result"]
    assert {"Collector", "DaemonMaster", "Negotiator", "Scheduler", "StartD"} <= set(types), types
    assert who.startswith(f"{USER}@") and method == "FS" and enc == "YES"


def test_root_client_maps_to_the_pool_owner(user_pool):
    """FS_ROOT_TO_CONDOR: root is the daemons' "condor" user, which is the pool's owner."""
    body = """
import htcondor2
return htcondor2.ping(htcondor2.Collector().locate(htcondor2.DaemonType.Master), "WRITE")["MyRemoteUserName"]
"""
    r = run_client(body, user_pool / "condor_config")
    assert r["ok"] and r["result"].startswith(f"{USER}@"), r


SUBMIT = """
import htcondor2
s = htcondor2.Schedd()
c = s.submit(htcondor2.Submit({"executable": "/bin/true", "hold": "true"}), count=2).cluster()
return [[a["Owner"], a["User"].split("@")[0], a["JobStatus"]] for a in s.query(f"ClusterId == {c}")]
"""


def test_an_ordinary_users_pool_takes_their_jobs_and_never_roots(user_pool):
    """Jobs belong to the pool's owner; a root client is that owner here (see above), so
    no job of this pool is ever owned by root (the real schedd refuses root's jobs)."""
    r = run_client(SUBMIT, user_pool / "condor_config", user=USER)
    assert r["ok"], r
    assert r["result"] == [[USER, USER, 5]] * 2          # held: they stay in the queue
    r = run_client(SUBMIT, user_pool / "condor_config")
    assert r["ok"], r
    assert r["result"] == [[USER, USER, 5]] * 2
    assert (user_pool / "spool" / "job_queue.log").stat().st_uid == pwd.getpwnam(USER).pw_uid


RUN_AND_WAIT = """
import htcondor2, time
schedd = htcondor2.Schedd()
c = schedd.submit(htcondor2.Submit({{"executable": "/usr/bin/id", "arguments": "-un",
                                     "output": {out!r}, "log": {log!r}}})).cluster()
deadline = time.time() + 60
while time.time() < deadline and schedd.query(f"ClusterId == {{c}}", ["ProcId"]):
    time.sleep(0.1)
return [dict(a) for a in schedd.history(f"ClusterId == {{c}}", ["ExitCode", "Owner", "JobStatus"], match=1)]
"""


def test_a_job_runs_in_an_ordinary_users_pool(user_pool):
    """The user's job runs as the user (a pool not run by root runs every job as its
    owner, as HTCondor's personal pools do) and its output belongs to the user."""
    work = user_pool.parent / "work"
    work.mkdir()
    pw = pwd.getpwnam(USER)
    shutil.chown(work, pw.pw_uid, pw.pw_gid)
    out = work / "id.out"
    r = run_client(RUN_AND_WAIT.format(out=str(out), log=str(work / "id.log")),
                   user_pool / "condor_config", user=USER)
    assert r["ok"], r
    [ad] = r["result"]
    assert ad["ExitCode"] == 0 and ad["Owner"] == USER and ad["JobStatus"] == 4
    assert out.read_text().strip() == USER
    assert out.stat().st_uid == pw.pw_uid


def test_a_root_pool_runs_a_users_job_as_that_user(tmp_path):
    """A pool run by root runs a job as its owner where that user exists."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    from support.pools import FIVE_DAEMONS, running_pool
    base = Path(tempfile.mkdtemp(prefix="condor-sim-rootpool-"))
    os.chmod(base, 0o755)
    work = base / "work"
    work.mkdir()
    pw = pwd.getpwnam(USER)
    shutil.chown(work, pw.pw_uid, pw.pw_gid)
    try:
        with running_pool(base / "pool", DAEMON_LIST=FIVE_DAEMONS, ALLOW_WRITE="*", ALLOW_READ="*",
                          SEC_DEFAULT_AUTHENTICATION_METHODS="FS, IDTOKENS, CLAIMTOBE") as pool:
            os.chmod(pool.directory, 0o755)
            out = work / "id.out"
            r = run_client(RUN_AND_WAIT.format(out=str(out), log=str(work / "id.log")),
                           pool.config_file, user=USER)
            assert r["ok"], r
            [ad] = r["result"]
            assert ad["Owner"] == USER and ad["ExitCode"] == 0
            assert out.read_text().strip() == USER
    finally:
        shutil.rmtree(base, ignore_errors=True)


FACTORY = """
import htcondor2, time
schedd = htcondor2.Schedd()
c = schedd.submit(htcondor2.Submit({{"executable": "/usr/bin/id", "arguments": "-un",
                                     "output": {out!r} + ".$(Process)", "max_materialize": "1"}}),
                  count=2).cluster()
deadline = time.time() + 60
while time.time() < deadline and (schedd.query(f"ClusterId == {{c}}", ["ProcId"])
                                  or len(schedd.history(f"ClusterId == {{c}}", ["ProcId"])) < 2):
    time.sleep(0.1)
return sorted([a["ProcId"], a["Owner"], a["ExitCode"]]
              for a in schedd.history(f"ClusterId == {{c}}", ["ProcId", "Owner", "ExitCode"]))
"""


def test_a_root_pool_learns_a_users_factory_as_that_user(tmp_path):
    """A late-materialization submit by a user of a root pool: the schedd learns the
    digest's jobs in a process of that user (never root), and both jobs run as the user."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    from condor_sim.daemons.schedd.materializing import learner_identity
    from support.pools import FIVE_DAEMONS, running_pool
    pw = pwd.getpwnam(USER)
    who = learner_identity(USER, euid=0)
    assert (who["user"], who["group"], who["env"]["USER"], who["env"]["LOGNAME"]) == \
        (pw.pw_uid, pw.pw_gid, USER, USER)
    assert who["python"] == python_for_other_users()[0]
    assert learner_identity(USER, euid=1000) == {} and learner_identity("root", euid=0) == {}
    with pytest.raises(LookupError):
        learner_identity("no-such-user-here", euid=0)
    base = Path(tempfile.mkdtemp(prefix="condor-sim-rootpool-"))
    os.chmod(base, 0o755)
    work = base / "work"
    work.mkdir()
    shutil.chown(work, pw.pw_uid, pw.pw_gid)
    try:
        with running_pool(base / "pool", DAEMON_LIST=FIVE_DAEMONS, ALLOW_WRITE="*", ALLOW_READ="*",
                          SEC_DEFAULT_AUTHENTICATION_METHODS="FS, IDTOKENS, CLAIMTOBE") as pool:
            os.chmod(pool.directory, 0o755)
            r = run_client(FACTORY.format(out=str(work / "id.out")), pool.config_file, user=USER)
            assert r["ok"], r
            assert r["result"] == [[0, USER, 0], [1, USER, 0]]
            assert [(work / f"id.out.{p}").read_text().strip() for p in (0, 1)] == [USER, USER]
    finally:
        shutil.rmtree(base, ignore_errors=True)
