"""Reconfiguration reads the config as the real daemons do, and a bad config never takes
a running pool down (the daemon keeps its old config and logs the error)."""
from __future__ import annotations

import os
import signal
import time

from support.clients import run_client
from support.pools import assert_nothing_left, running_pool, wait_log

MASTER_PARAM = """
import htcondor2
rp = htcondor2.RemoteParam(htcondor2.Collector().locate(htcondor2.DaemonType.{daemon}))
return {{k: rp.get(k) for k in {keys!r}}}
"""
RECONFIG = """
import htcondor2
htcondor2.send_command(htcondor2.Collector().locate(htcondor2.DaemonType.Master), htcondor2.DaemonCommand.Reconfig)
"""


def client_config(pool):
    """The pool's config without its drop-ins: once config.d holds a broken file the
    client must not read it (the library would exit, as any HTCondor tool does)."""
    path = pool.local_dir / "client_config"
    if not path.exists():
        text = pool.config_file.read_text()
        path.write_text("\n".join("LOCAL_CONFIG_DIR =" if l.startswith("LOCAL_CONFIG_DIR ") else l
                                  for l in text.splitlines()) + "\n")
    return path


def remote(pool, daemon, *keys):
    r = run_client(MASTER_PARAM.format(daemon=daemon, keys=list(keys)), client_config(pool))
    assert r["ok"], r
    return r["result"]


def wait_remote(pool, daemon, key, want, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        got = remote(pool, daemon, key)[key]
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_reconfig_features_and_a_bad_config_keeps_the_pool_up(tmp_path):
    with running_pool(tmp_path / "pool") as pool:
        dropin = pool.local_dir / "config.d" / "50-test"
        dropin.write_text(
            "LOCALFOO = base\n"
            "SCHEDD.LOCALFOO = schedd-$(LOCALFOO_SUFFIX)\n"
            "LOCALFOO_SUFFIX = only\n"
            "if $(IsSchedd)\n  BRANCH = schedd-branch\nelse\n  BRANCH = other-branch\nendif\n"
            "include ifexist : $(LOCAL_DIR)/extra.conf\n")
        (pool.local_dir / "extra.conf").write_text("FROM_INCLUDE = yes\n")
        assert run_client(RECONFIG, pool.config_file)["ok"]
        assert wait_remote(pool, "Schedd", "FROM_INCLUDE", "yes") == "yes"
        assert remote(pool, "Schedd", "LOCALFOO", "BRANCH") == {"LOCALFOO": "schedd-only", "BRANCH": "schedd-branch"}
        assert remote(pool, "Collector", "LOCALFOO", "BRANCH") == {"LOCALFOO": "base", "BRANCH": "other-branch"}

        pids = {p.pid for p in pool.processes()}
        dropin.write_text("LOCALFOO = broken\nif $(X) > 3\nendif\n")     # a fatal syntax error
        assert run_client(RECONFIG, client_config(pool))["ok"]
        wait_log(pool, "reconfig failed, keeping the previous configuration", name="MasterLog")
        schedd = next(p for p in pool.processes() if "condor_schedd" in " ".join(p.cmdline()))
        os.kill(schedd.pid, signal.SIGHUP)                                 # a child reconfigures too
        wait_log(pool, "reconfig failed, keeping the previous configuration", name="SchedLog")
        assert {p.pid for p in pool.processes()} == pids                  # nobody died or restarted
        assert remote(pool, "Schedd", "LOCALFOO")["LOCALFOO"] == "schedd-only"   # old config kept
    assert_nothing_left(pool)


def test_daemon_config_draws_random_macros_once_per_config(tmp_path):
    """DaemonConfig (in a child: the library's config is process-global) keeps what it
    read until the next reload; ``fresh`` (CONFIG_VAL's lookup) draws again."""
    import json
    import subprocess
    import sys
    from condor_sim.poolconfig import create_pool_dir
    cfg = create_pool_dir(tmp_path / "pool", "secure", {"DRAWN": "$RANDOM_INTEGER(1, 1000000000)"})
    code = """
import json
from condor_sim.config import DaemonConfig
c = DaemonConfig("SCHEDD")
a = [c.get("DRAWN") for _ in range(3)]
f = [c.get("DRAWN", fresh=True) for _ in range(3)]
after_fresh = c.get("DRAWN")
assert c.reload() is None
print(json.dumps({"a": a, "f": f, "after_fresh": after_fresh, "reloaded": c.get("DRAWN")}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("_CONDOR_")}
    env["CONDOR_CONFIG"] = str(cfg)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(set(r["a"])) == 1 and r["after_fresh"] == r["a"][0]
    assert len(set(r["f"]) | {r["a"][0]}) > 1
    assert r["reloaded"] != r["a"][0]


def test_a_forked_check_that_dies_oddly_falls_back_to_a_fresh_interpreter(tmp_path):
    """Only the library's own exit on a bad config counts as a verdict: a child killed
    by a signal, or failing in Python, is asked again of a fresh interpreter."""
    import subprocess
    import sys
    from condor_sim.poolconfig import create_pool_dir
    cfg = create_pool_dir(tmp_path / "pool", "secure", {})
    code = """
import os, signal, htcondor2
from condor_sim.config import DaemonConfig
c = DaemonConfig("SCHEDD")
parent, real = os.getpid(), htcondor2.reload_config
def odd(how):
    def f():
        if os.getpid() != parent:
            if how == "signal":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("boom")
        real()
    return f
out = []
for how in ("signal", "python"):
    htcondor2.reload_config = odd(how)
    out.append(c.reload())
htcondor2.reload_config = real
with open(os.environ["CONDOR_CONFIG"], "a") as f:
    f.write("if\\n")                       # now really broken: the verdict stands
out.append(c.reload() is not None)
print(out)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("_CONDOR_")}
    env["CONDOR_CONFIG"] = str(cfg)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[None, None, True]"
