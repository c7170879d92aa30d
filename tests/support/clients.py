"""Run the *real* htcondor client in a child process and get back what it returned.

The client library's configuration is process-global, so every call runs in its own
interpreter with its own ``CONDOR_CONFIG`` and ``_CONDOR_*`` knobs.  ``api="v2"`` uses
this environment's ``htcondor2`` (25.x); ``api="v1"`` uses the interpreter named by
``CONDOR_SIM_V1_PYTHON`` (a venv with ``htcondor==24.0.*``, created by ``.ci/run``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]          # the repository

PRELUDE = """
import json, sys, traceback
def _plain(v):
    try:
        import classad2
        if isinstance(v, classad2.ClassAd):
            return {k: _plain(v[k]) for k in v.keys()}
    except ImportError:
        pass
    if hasattr(v, "keys") and hasattr(v, "__getitem__"):
        return {k: _plain(v[k]) for k in v.keys()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)
try:
    result = main()
    out = {"ok": True, "result": _plain(result)}
except BaseException as e:
    out = {"ok": False, "error": type(e).__name__, "message": str(e)}
sys.stdout.write("\\n@@RESULT@@" + json.dumps(out) + "\\n")
"""


def v1_python() -> str | None:
    p = os.environ.get("CONDOR_SIM_V1_PYTHON")
    if p and Path(p).exists():
        return p
    cand = ROOT / ".venv24" / "bin" / "python"
    return str(cand) if cand.exists() else None


def require_v1() -> str:
    p = v1_python()
    if not p:
        if os.environ.get("CI"):
            pytest.fail("CI must provide the htcondor 24.0.x venv (CONDOR_SIM_V1_PYTHON)")
        pytest.skip("no htcondor 24.0.x interpreter (set CONDOR_SIM_V1_PYTHON)")
    return p


def python_for_other_users() -> tuple[str, dict]:
    """An interpreter another uid can run, with this environment's packages on its path
    (see :func:`condor_sim.procs.python_for_others`); skips the test without one."""
    from condor_sim.procs import python_for_others
    found = python_for_others()
    if found is None:
        pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} that other users can run")
    return found


def run_client(body: str, config: str | os.PathLike, *, api: str = "v2", knobs: dict | None = None,
               timeout: float = 60, user: str | None = None, debug: bool = False) -> dict:
    """Run ``def main(): <body>`` with the real client; returns {"ok", "result"|"error","message"}."""
    python = sys.executable if api == "v2" else require_v1()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("_CONDOR_")}
    env["CONDOR_CONFIG"] = str(config)
    for k, v in (knobs or {}).items():
        env[f"_CONDOR_{k}"] = str(v)
    if debug:
        env["_CONDOR_TOOL_DEBUG"] = "D_SECURITY:2 D_NETWORK"
    body = textwrap.dedent(body).strip("\n")
    if debug:
        body = ("import htcondor2 as _h; _h.enable_debug()\n" if api == "v2"
                else "import htcondor as _h; _h.enable_debug()\n") + body
    code = "def main():\n" + textwrap.indent(body, "    ") + "\n" + PRELUDE
    cmd = [python, "-c", code]
    kwargs = {}
    if user is not None:
        import pwd
        pw = pwd.getpwnam(user)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        env["HOME"] = pw.pw_dir
        if api == "v2":
            cmd[0], extra = python_for_other_users()
            env.update(extra)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd="/", **kwargs)
    marker = proc.stdout.rfind("@@RESULT@@")
    if marker < 0:
        raise AssertionError(f"client crashed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    out = json.loads(proc.stdout[marker + len("@@RESULT@@"):].strip())
    out["stderr"] = proc.stderr
    out["stdout"] = proc.stdout[:marker]
    return out
