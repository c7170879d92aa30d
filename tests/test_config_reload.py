"""Reconfiguration reads the config as the real daemons do, and a bad config never takes
a running pool down (the daemon keeps its old config and logs the error)."""
from __future__ import annotations

import os
import signal
import time

from clients import run_client
from test_lifecycle import assert_nothing_left, running_pool, wait_log

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
