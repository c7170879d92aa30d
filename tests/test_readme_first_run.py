"""The README's set-up, as a new user runs it on a fresh clone: `./dev up` installs (and
says so), starts a pool and prints its export line; the real client in that environment
queries it; `./dev up` again gives the line again; `condor-sim down` stops it all.

A clone holds what is committed: CI runs from one, so there this is the whole truth. Set
CONDOR_SIM_SKIP_RELEASE_CHECK to skip it (it installs into a new venv: half a minute).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from condor_sim.pool import Pool
from support.pools import assert_nothing_left

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(bool(os.environ.get("CONDOR_SIM_SKIP_RELEASE_CHECK")),
                                reason="CONDOR_SIM_SKIP_RELEASE_CHECK is set")


def test_readme_set_up_on_a_fresh_clone(tmp_path):
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("_CONDOR_") and k not in ("CONDOR_CONFIG", "VIRTUAL_ENV", "PYTHONPATH")}
    env["PYTHON"] = getattr(sys, "_base_executable", sys.executable)
    pool_dir = tmp_path / "pool"
    up = subprocess.run(["./dev", "up", "--dir", str(pool_dir)], cwd=clone, env=env,
                        capture_output=True, text=True, timeout=600)
    pool = Pool(pool_dir)
    try:
        assert up.returncode == 0, up.stderr
        export = f"export CONDOR_CONFIG={pool_dir}/condor_config"
        assert up.stdout.strip().splitlines()[-1] == export
        assert "dev: installing condor-sim" in up.stderr and "dev: installed in" in up.stderr
        assert f"source {clone}/.venv/bin/activate" in up.stderr
        query = subprocess.run(
            [str(clone / ".venv" / "bin" / "python"), "-c",
             "import htcondor2; print([a['Name'] for a in "
             "htcondor2.Collector().query(htcondor2.AdTypes.Schedd, projection=['Name'])])"],
            env={**env, "CONDOR_CONFIG": f"{pool_dir}/condor_config"}, cwd="/",
            capture_output=True, text=True, timeout=60)
        assert query.returncode == 0, query.stderr
        assert query.stdout.startswith("['") and query.stdout.count("'") == 2
        again = subprocess.run(["./dev", "up", "--dir", str(pool_dir)], cwd=clone, env=env,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and again.stdout.strip() == export
        assert "dev: installing" not in again.stderr           # installed once
        down = subprocess.run([str(clone / ".venv" / "bin" / "condor-sim"), "down", "--dir", str(pool_dir)],
                              env=env, capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr
    finally:
        if pool.processes():
            pool.stop(fast=True)
        assert_nothing_left(pool)
