"""Running our ``condor_submit`` as a whole program, for the submit tool's tests: with a
pool's config, or with an empty one (no pool at all)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_tool(cwd: Path, env: dict, *args: str, stdin: str = "") -> tuple[str, str, int]:
    """``condor_submit ARGS`` in ``cwd``: stdout, stderr and the exit code (never a
    Python traceback)."""
    env = {**env, "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_submit", *args], cwd=cwd,
                       env=env, input=stdin, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in p.stderr, p.stderr
    return p.stdout, p.stderr, p.returncode


def no_pool_env(tmp_path: Path) -> dict:
    """The environment of a machine with no pool: an empty config file, no _CONDOR_ knobs."""
    cfg = tmp_path / "empty_config"
    cfg.write_text("")
    return {k: v for k, v in os.environ.items() if not k.startswith("_CONDOR_")} | \
        {"CONDOR_CONFIG": str(cfg)}


def queue_state(pool) -> list:
    """Every job in the pool's queue, as sorted (cluster, proc) pairs."""
    from support.pools import client
    return client(pool, """
        import htcondor2
        ads = htcondor2.Schedd().query("true", ["ClusterId", "ProcId"])
        return sorted((a["ClusterId"], a["ProcId"]) for a in ads)
    """)
