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


def _world_usable(path: str) -> bool:
    """Can any user run this file (every directory on the way searchable by others)?"""
    real = Path(os.path.realpath(path))
    for d in list(real.parents):
        if not os.stat(d).st_mode & 0o001:
            return False
    return bool(os.stat(real).st_mode & 0o001)


def python_for_other_users() -> tuple[str, dict]:
    """An interpreter another uid can run, with this environment's packages on its path.

    A venv whose base Python lives under /root (as on the CI machines) is unusable by
    other users; the system Python of the same version can import the same packages.
    """
    if _world_usable(sys.executable):
        return sys.executable, {}
    import site
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    for cand in (f"/usr/bin/python{ver}", f"/usr/local/bin/python{ver}"):
        if os.path.exists(cand) and _world_usable(cand):
            paths = [str(ROOT)] + site.getsitepackages()
            return cand, {"PYTHONPATH": os.pathsep.join(paths)}
    pytest.skip(f"no Python {ver} that other users can run")


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
