"""The tutorial "Interacting With Daemons" runs verbatim against a pool from `condor-sim up`.

Each example runs in its own interpreter, as a learner would run it: v2 with this
environment's htcondor2 (25.x), v1 with htcondor 24.0.x.  Its output, with addresses,
pids, times and the pool's path masked, must equal ``examples/expected/<name>.txt`` line
by line.  The last step (`os.system("condor_master")`) brings the pool back; the test
then checks the pool is whole, shuts it down with `condor-sim down` and that no process
is left.
"""
from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.clients import require_v1
from condor_sim.pool import Pool
from support.pools import assert_nothing_left, daemon_pids, run_cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent

_MASKS = (
    (re.compile(r"<127\.0\.0\.1:\d+\?[^>]*>"), "<ADDRESS>"),
    (re.compile(r"\b\d\d/\d\d/\d\d \d\d:\d\d:\d\d\b"), "<TIME>"),
    (re.compile(r"\bpid \d+"), "pid <PID>"),
)


def mask(text: str, pool_dir: Path) -> list[str]:
    """What may differ between runs becomes a placeholder: the pool's path, sinful
    strings, log timestamps and pids."""
    text = text.replace(str(pool_dir), "<POOL>")
    for rx, repl in _MASKS:
        text = rx.sub(repl, text)
    return text.splitlines()


def test_mask_replaces_only_what_varies(tmp_path):
    line = (f"{tmp_path}/log/SchedLog <127.0.0.1:4321?addrs=127.0.0.1-4321&alias=vm&noUDP> "
            "'11/24/26 02:30:07 Sent SIGHUP to SCHEDD (pid 15186)\\n' 5 '5'")
    assert mask(line, tmp_path) == [
        "<POOL>/log/SchedLog <ADDRESS> '<TIME> Sent SIGHUP to SCHEDD (pid <PID>)\\n' 5 '5'"]


@pytest.mark.parametrize("name", ["interacting_with_daemons", "interacting_with_daemons_v1"])
def test_tutorial_example_output(tmp_path, name):
    python = require_v1() if name.endswith("_v1") else sys.executable
    pool_dir = tmp_path / "pool"
    up = run_cli("up", "--dir", str(pool_dir))
    assert up.returncode == 0, up.stderr
    pool = Pool(pool_dir)
    try:
        before = daemon_pids(pool)
        env = {k: v for k, v in os.environ.items() if not k.startswith("_CONDOR_")}
        env["CONDOR_CONFIG"] = str(pool.config_file)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"   # condor_master, as after `./dev up`
        run = subprocess.run([python, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=120)
        assert run.returncode == 0, run.stderr[-3000:]

        got = mask(run.stdout, pool_dir)
        want = (EXAMPLES / "expected" / f"{name}.txt").read_text().splitlines()
        assert got == want, "output differs from the expected (- expected, + got):\n" + "\n".join(
            difflib.unified_diff(want, got, lineterm="", n=1))

        # the pool the last step started is whole, with a new master
        pool.wait_ready(20)
        after = daemon_pids(pool)
        assert set(after) == {"MASTER", "COLLECTOR", "NEGOTIATOR", "SCHEDD", "STARTD"}
        assert after["MASTER"] != before["MASTER"]
    finally:
        down = run_cli("down", "--dir", str(pool_dir))
        assert down.returncode == 0, down.stderr
        assert_nothing_left(pool)


@pytest.mark.parametrize("name", ["interacting_with_daemons", "interacting_with_daemons_v1"])
def test_the_tutorial_runs_behind_the_shared_port(tmp_path, name):
    """The same tutorial on a pool with HTCondor's default USE_SHARED_PORT: every daemon
    reached through the one port; the output differs only where addresses and the
    daemon list show (the shared port's ``sock=`` and its own log lines)."""
    python = require_v1() if name.endswith("_v1") else sys.executable
    pool_dir = tmp_path / "pool"
    up = run_cli("up", "--dir", str(pool_dir), "--config", "USE_SHARED_PORT=True",
                 "--config", "AUTO_INCLUDE_SHARED_PORT_IN_DAEMON_LIST=True")
    assert up.returncode == 0, up.stderr
    pool = Pool(pool_dir)
    try:
        assert "SHARED_PORT" in daemon_pids(pool)
        env = {k: v for k, v in os.environ.items() if not k.startswith("_CONDOR_")}
        env["CONDOR_CONFIG"] = str(pool.config_file)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        run = subprocess.run([python, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=120)
        assert run.returncode == 0, run.stderr[-3000:]
        got = mask(run.stdout, pool_dir)
        want = (EXAMPLES / "expected" / f"{name}.txt").read_text().splitlines()
        assert len(got) == len(want)
        assert "sock=" in run.stdout                          # addresses behind the shared port
        same = [g for g, w in zip(got, want) if g == w]
        assert len(same) >= len(want) - 3, "\n".join(difflib.unified_diff(want, got, lineterm=""))
        pool.wait_ready(20)
    finally:
        down = run_cli("down", "--dir", str(pool_dir))
        assert down.returncode == 0, down.stderr
        assert_nothing_left(pool)
